"""Issue 18 #5: a thumbs vote never copies a name, e-mail address or phone number into
unanswered_questions, and purge and forget clear the stored bot answers."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot import models
from bot.conversation.personal_prompts import repeats_personal_data
from bot.conversation.unanswered import record
from bot.db import session_scope
from bot.privacy import find_values, forget, purge
from bot.settings import load_settings
from bot.web.app import create_app

SENDER = "0123456789abcdef0123456789abcdef"
NAME, EMAIL, PHONE = "Sam de Vries", "sam@example.org", "+31 6 12345678"
PERSONAL = [NAME, EMAIL, "12345678"]


@pytest.fixture
async def client(aiohttp_client, loaded):
    settings = dataclasses.replace(load_settings(), outbox_interval_s=0, purge_interval_s=0)
    return await aiohttp_client(create_app(settings, loaded))


def rows(engine) -> list[models.UnansweredQuestion]:
    with session_scope(engine) as s:
        return list(s.execute(select(models.UnansweredQuestion)).scalars())


async def _vote(client, answer: str, question: str, vote: str = "down"):
    return await client.post("/api/feedback", json={
        "sender_id": SENDER, "message_text": answer, "question": question, "vote": vote,
        "gemeente": "utrecht"})


# --- what the forms say around contact details -------------------------------------------------


async def _handoff_texts() -> dict[str, str]:
    """The handoff form's real messages, from the actions (with a fake tracker)."""
    from actions.handoff import ActionAskHandoffConsent, ActionAskHandoffContact, parse_contact
    from tests.support.trackers import tracker

    out = {}
    slots = {"handoff_description": "Ik zoek een bedrijfsruimte voor mijn kringloopwinkel.",
             "handoff_name": NAME, "handoff_contact": f"e-mail {EMAIL} en telefoon {PHONE}",
             "handoff_email": EMAIL, "handoff_phone": PHONE}
    for key, action in (("consent", ActionAskHandoffConsent()), ("contact", ActionAskHandoffContact())):
        dispatcher = CollectingDispatcher()
        await action.run(dispatcher, tracker("ja", "affirm", slots=slots), {})
        out[key] = dispatcher.messages[0]["text"]
    out["bad_email"] = parse_contact("sam@example")[2]
    out["bad_phone"] = parse_contact("bel 06 1234")[2]
    out["no_contact"] = parse_contact("liever niet")[2]
    return out


def _knelpunt_texts() -> dict[str, str]:
    from actions.knelpunt import TEXTS

    return {"ask_email": TEXTS["ask_email"], "name_invalid": TEXTS["name_invalid"],
            "email_invalid": TEXTS["email_invalid"],
            "saved_contact": TEXTS["saved_contact"].format(email=EMAIL)}


async def test_every_form_message_around_contact_details_is_recognised(loaded):
    texts = {**await _handoff_texts(), **_knelpunt_texts()}
    assert NAME in texts["consent"] and EMAIL in texts["consent"]  # the summary repeats them
    for key, text in texts.items():
        assert repeats_personal_data(text), key


@pytest.mark.parametrize("text", [
    "Loonkostensubsidie krijgt u via de gemeente.",
    "Ik zet uw vraag door naar het makelaarsteam van Utrecht.",
    "Dank u wel. Uw vraag is doorgezet naar Makelaarsteam Utrecht. Uw referentienummer is LKT-2026-000001.",
])
def test_ordinary_answers_can_still_be_rated(text):
    assert not repeats_personal_data(text)


# --- the feedback route --------------------------------------------------------------------------


async def test_a_vote_under_the_consent_summary_stores_no_name_email_or_phone(client, loaded):
    summary = (await _handoff_texts())["consent"]
    resp = await _vote(client, summary, f"{EMAIL} {PHONE}")
    assert resp.status in (200, 201)
    assert find_values(loaded, PERSONAL) == []


async def test_a_vote_after_typing_a_name_stores_no_name(client, loaded):
    ask_contact = (await _handoff_texts())["contact"]
    await _vote(client, ask_contact, NAME)
    assert find_values(loaded, PERSONAL) == []


async def test_contact_details_typed_in_a_question_are_not_stored(client, loaded):
    resp = await _vote(client, "Daar heb ik geen antwoord op.",
                       f"Kunt u mij bellen op {PHONE} of mailen naar {EMAIL}?")
    assert resp.status == 201
    [row] = rows(loaded)
    assert EMAIL not in row.text and "12345678" not in row.text
    assert "[e-mail verwijderd]" in row.text and "[telefoon verwijderd]" in row.text


async def test_an_ordinary_vote_is_still_stored(client, loaded):
    resp = await _vote(client, "Loonkostensubsidie krijgt u via de gemeente.",
                       "Kan ik loonkostensubsidie krijgen?")
    assert resp.status == 201
    [row] = rows(loaded)
    assert row.reason == "thumbs_down" and row.bot_answer.startswith("Loonkostensubsidie")


async def test_widget_gets_the_markers_of_messages_without_rating(client):
    from bot.conversation.personal_prompts import MARKERS

    body = await (await client.get("/widget.js")).text()
    config = json.loads(re.search(r"var LOKET_SERVER_CONFIG = (\{.*?\});", body).group(1))
    assert config["noRating"] == list(MARKERS)


# --- purge and forget clear bot_answer ------------------------------------------------------------


def _old_row(engine, sender: str | None = SENDER, days: int = 60) -> int:
    with session_scope(engine) as s:
        row = record(s, "Wat kost een bedrijfsruimte?", "thumbs_down", sender_id=sender,
                     bot_answer=f"Ik stuur dit door. Naam: {NAME}. Contact: {EMAIL}",
                     now=models.utcnow() - timedelta(days=days))
        return row.id


def test_purge_clears_the_bot_answer_after_the_retention_period(loaded, tmp_path):
    _old_row(loaded)
    purge(loaded, f"sqlite:///{tmp_path / 'tracker.db'}", settings=load_settings())
    [row] = rows(loaded)
    assert row.bot_answer is None and row.sender_id is None
    assert find_values(loaded, PERSONAL) == []


def test_purge_also_clears_answers_left_by_an_earlier_purge(loaded, tmp_path):
    """Rows purged before this fix kept their bot_answer (sender and text already gone)."""
    _old_row(loaded, sender=None)
    with session_scope(loaded) as s:
        s.execute(models.UnansweredQuestion.__table__.update().values(text="[verwijderd]"))
    purge(loaded, f"sqlite:///{tmp_path / 'tracker.db'}", settings=load_settings())
    assert find_values(loaded, PERSONAL) == []


def test_purge_keeps_recent_answers_for_the_review(loaded, tmp_path):
    _old_row(loaded, days=1)
    purge(loaded, f"sqlite:///{tmp_path / 'tracker.db'}", settings=load_settings())
    assert rows(loaded)[0].bot_answer is not None


def test_forget_clears_the_bot_answer(loaded, tmp_path):
    _old_row(loaded, days=1)
    forget(loaded, f"sqlite:///{tmp_path / 'tracker.db'}", SENDER)
    assert find_values(loaded, PERSONAL) == []
