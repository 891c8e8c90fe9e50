"""Unanswered questions: recording and the grouped weekly review."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot import models
from bot.conversation import unanswered
from bot.db import session_scope

T0 = datetime(2026, 3, 2, 9, 0)


def _record(engine, text, reason="fallback", minutes=0, **kw):
    with session_scope(engine) as s:
        return unanswered.record(s, text, reason, now=T0 + timedelta(minutes=minutes), **kw).id


def test_record_accepts_every_reason_and_stores_confidence_in_percent(engine):
    for i, reason in enumerate(unanswered.REASONS):
        _record(engine, f"vraag {i}", reason, minutes=i, confidence=0.314, sender_id="s1")
    with session_scope(engine) as s:
        rows = s.execute(select(models.UnansweredQuestion).order_by(models.UnansweredQuestion.id)).scalars().all()
    assert [r.reason for r in rows] == list(unanswered.REASONS)
    assert {r.confidence for r in rows} == {31}
    with session_scope(engine) as s, pytest.raises(ValueError):
        unanswered.record(s, "x", "boos")


def test_near_identical_questions_are_grouped_with_counts_and_reasons(engine):
    _record(engine, "Hoe vraag ik een vergunning aan voor een foodtruck?", "fallback", 0)
    _record(engine, "hoe vraag ik een vergunning aan voor een foodtruck", "fallback", 5)
    _record(engine, "Hoe vraag ik een VERGUNNING aan voor mijn foodtruck?!", "unhelpful", 10,
            bot_answer="Voor vergunningen kijkt u op het Omgevingsloket.")
    _record(engine, "Hoe vraag ik een vergunning aan voor een foodtruck?", "thumbs_down", 20)
    _record(engine, "Wat kost een marktkraam in Zwolle?", "fallback", 30)
    _record(engine, "subsidie", "fallback", 40)
    _record(engine, "subsidie voor een bedrijfspand in de binnenstad van Zwolle", "fallback", 50)
    _record(engine, "Bedankt, dit hielp!", "thumbs_up", 60)  # not a problem: not in the review
    with session_scope(engine) as s:
        groups = unanswered.grouped(s)
    by_text = {g.text: g for g in groups}
    foodtruck = groups[0]
    assert foodtruck.count == 4
    assert foodtruck.text == "Hoe vraag ik een vergunning aan voor een foodtruck?"
    assert dict(foodtruck.reasons) == {"fallback": 2, "unhelpful": 1, "thumbs_down": 1}
    assert foodtruck.last_seen == T0 + timedelta(minutes=20)
    assert foodtruck.bot_answers.most_common(1)[0][0].startswith("Voor vergunningen")
    # a short question is not swallowed by a longer one that merely contains its words
    assert "subsidie" in by_text and by_text["subsidie"].count == 1
    assert "Wat kost een marktkraam in Zwolle?" in by_text
    assert all("Bedankt" not in g.text for g in groups)
    assert sum(g.count for g in groups) == 7


def test_mark_reviewed_hides_a_group_and_can_reopen(engine):
    ids = [_record(engine, "Wat is een BVm?", minutes=i) for i in range(3)]
    other = _record(engine, "Waar vind ik een jobcoach?", minutes=9)
    with session_scope(engine) as s:
        group = next(g for g in unanswered.grouped(s) if g.text == "Wat is een BVm?")
        assert group.ids == ids
        assert unanswered.mark_reviewed(s, group.ids) == 3
    with session_scope(engine) as s:
        assert [g.ids for g in unanswered.grouped(s)] == [[other]]
        everything = unanswered.grouped(s, include_reviewed=True)
        assert {g.text: g.reviewed for g in everything} == {"Wat is een BVm?": True,
                                                            "Waar vind ik een jobcoach?": False}
        assert unanswered.mark_reviewed(s, ids, reviewed=False) == 3
    with session_scope(engine) as s:
        assert len(unanswered.grouped(s)) == 2
        assert unanswered.counts(s) == {"fallback": 4}
