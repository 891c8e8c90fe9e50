"""Review stamps (bot.knowledge.review): status per entry, what the hash covers, and stamps that survive
`loket knowledge load`. Stamps here are made on the small fixture knowledge, never on knowledge/."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

import pytest
import yaml
from sqlalchemy import event, func, select

from bot import models
from bot.db import session_scope
from bot.knowledge import review
from bot.knowledge.loader import load
from bot.models import utcnow
from tests.support import FIXTURE_KNOWLEDGE

NOW = datetime(2026, 12, 6, 12, 0)


def _statuses(engine, now=NOW, max_age_days=183) -> dict[tuple[str, str], str]:
    with session_scope(engine) as s:
        entries = review.overview(s, max_age_days=max_age_days, now=now)
    assert entries
    return {(e.kind, e.id): e.status for e in entries}


def _stamp(engine, editor, kind, item_id, now=NOW, expected_hash=None) -> review.Stamp:
    with session_scope(engine) as s:
        return review.stamp(s, kind, item_id, editor, expected_hash=expected_hash, now=now)


def _copy_knowledge(tmp_path):
    target = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KNOWLEDGE, target)
    return target


def _edit_regeling(directory, regeling_id, **changes) -> None:
    path = directory / "regelingen" / "rvo.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    (entry,) = [r for r in data["regelingen"] if r["id"] == regeling_id]
    entry.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


# --- status rules ----------------------------------------------------------------------------------


def test_status_rules():
    stamp = review.Stamp("A", NOW - timedelta(days=10), "https://x.nl", "h1")
    assert review.status_of("h1", None, NOW) == review.TO_CHECK
    assert review.status_of("h1", stamp, NOW) == review.CHECKED
    assert review.status_of("h2", stamp, NOW) == review.CHANGED
    assert review.status_of("h1", stamp, NOW, max_age_days=9) == review.STALE
    assert review.status_of("h1", stamp, NOW, max_age_days=10) == review.CHECKED  # on the day: valid
    old = review.Stamp("A", NOW - timedelta(days=400), "https://x.nl", "h1")
    # Changed and old: the new text was never checked, that is what the editor must know.
    assert review.status_of("h2", old, NOW) == review.CHANGED


def test_everything_starts_as_te_controleren(loaded):
    statuses = _statuses(loaded)
    assert ("regeling", "wbso") in statuses and ("loket", "kvk") in statuses
    assert set(statuses.values()) == {review.TO_CHECK}


def test_stamp_records_who_when_and_the_source(loaded, editor):
    stamp = _stamp(loaded, editor, "regeling", "wbso")
    assert stamp.reviewer == "Redacteur Een"
    assert stamp.source_url == "https://www.rvo.nl/subsidies-financiering/wbso"
    statuses = _statuses(loaded)
    assert statuses[("regeling", "wbso")] == review.CHECKED
    assert statuses[("regeling", "kvk-inschrijven")] == review.TO_CHECK
    with session_scope(loaded) as s:
        row = s.execute(select(models.ReviewStamp)).scalar_one()
        assert (row.kind, row.item_id, row.user_id, row.reviewed_at) == ("regeling", "wbso", editor.id, NOW)
        (entry,) = [e for e in review.overview(s, now=NOW) if e.id == "wbso"]
        assert row.content_hash == entry.content_hash


def test_a_stamp_gets_stale_after_the_configured_period(loaded, editor):
    _stamp(loaded, editor, "loket", "kvk", now=NOW - timedelta(days=184))
    assert _statuses(loaded)[("loket", "kvk")] == review.STALE
    assert _statuses(loaded, max_age_days=365)[("loket", "kvk")] == review.CHECKED


def test_the_newest_stamp_counts(loaded, editor):
    _stamp(loaded, editor, "loket", "kvk", now=NOW - timedelta(days=300))
    _stamp(loaded, editor, "loket", "kvk", now=NOW - timedelta(days=1))
    assert _statuses(loaded)[("loket", "kvk")] == review.CHECKED
    with session_scope(loaded) as s:
        assert s.execute(select(func.count()).select_from(models.ReviewStamp)).scalar_one() == 2


def test_stamp_refuses_a_text_the_person_did_not_see(loaded, editor):
    with pytest.raises(review.ReviewError, match="intussen veranderd"):
        _stamp(loaded, editor, "regeling", "wbso", expected_hash="0" * 64)
    with pytest.raises(review.ReviewError, match="bestaat niet"):
        _stamp(loaded, editor, "regeling", "bestaat-niet")
    with pytest.raises(review.ReviewError):
        _stamp(loaded, editor, "makelaarsteam", "zwolle")
    assert _statuses(loaded)[("regeling", "wbso")] == review.TO_CHECK


# --- what the hash covers ---------------------------------------------------------------------------


def test_hash_covers_what_a_reader_sees_and_nothing_else():
    base = models.Regeling(id="x", name="X", provider="RVO", audience="Iedereen", benefit="Geld",
                           summary="Een regeling.", conditions=["a"], themes=["innovation"],
                           keywords=["k"], source_url="https://www.rvo.nl/x")
    h = review.regeling_hash(base)
    base.keywords, base.themes = ["ander"], ["energy"]  # search data, not text a reader sees
    assert review.regeling_hash(base) == h
    for field, value in (("summary", "Een andere regeling."), ("conditions", ["b"]),
                         ("benefit", "Meer geld"), ("source_url", "https://www.rvo.nl/y")):
        changed = models.Regeling(**{**review.regeling_text(base), "id": "x", field: value})
        assert review.regeling_hash(changed) != h, field
    lk = models.Loket(id="kvk", name="KVK", kind="loket", description="Inschrijven.", url="https://www.kvk.nl/")
    h = review.loket_hash(lk)
    lk.description = "Inschrijven en advies."
    assert review.loket_hash(lk) != h


# --- stamps and the loader ----------------------------------------------------------------------------


def test_stamps_survive_a_knowledge_load(loaded, editor, tmp_path):
    _stamp(loaded, editor, "regeling", "wbso")
    _stamp(loaded, editor, "loket", "kvk")
    load(loaded, FIXTURE_KNOWLEDGE)  # the same content again
    statuses = _statuses(loaded)
    assert statuses[("regeling", "wbso")] == statuses[("loket", "kvk")] == review.CHECKED

    # A changed text is "gewijzigd" after the load; the untouched entry stays checked.
    directory = _copy_knowledge(tmp_path)
    _edit_regeling(directory, "wbso", summary="Belastingvoordeel voor onderzoek en ontwikkeling, nieuw.")
    load(loaded, directory)
    statuses = _statuses(loaded)
    assert statuses[("regeling", "wbso")] == review.CHANGED
    assert statuses[("loket", "kvk")] == review.CHECKED

    # Back to the text the person checked: checked again.
    load(loaded, FIXTURE_KNOWLEDGE)
    assert _statuses(loaded)[("regeling", "wbso")] == review.CHECKED

    # An entry that leaves the files (its content row is deleted) keeps its stamp for when it returns.
    path = directory / "regelingen" / "rvo.yml"
    data = yaml.safe_load((FIXTURE_KNOWLEDGE / "regelingen" / "rvo.yml").read_text(encoding="utf-8"))
    data["regelingen"] = [r for r in data["regelingen"] if r["id"] != "wbso"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load(loaded, directory)
    assert ("regeling", "wbso") not in _statuses(loaded)
    load(loaded, FIXTURE_KNOWLEDGE)
    assert _statuses(loaded)[("regeling", "wbso")] == review.CHECKED
    with session_scope(loaded) as s:
        assert s.execute(select(func.count()).select_from(models.ReviewStamp)).scalar_one() == 2


def test_search_index_carries_the_same_hash_as_the_overview(loaded):
    with session_scope(loaded) as s:
        KS = models.KnowledgeSearch
        indexed = {(kind, item_id): h for kind, item_id, h
                   in s.execute(select(KS.kind, KS.item_id, KS.content_hash))}
        entries = review.overview(s, now=NOW)
    assert entries and indexed
    assert {(e.kind, e.id): e.content_hash for e in entries} == indexed


def test_valid_review_dates_uses_one_query_for_all_entries(loaded, editor):
    _stamp(loaded, editor, "regeling", "wbso")
    _stamp(loaded, editor, "regeling", "kvk-inschrijven", now=NOW - timedelta(days=400))
    with session_scope(loaded) as s:
        hashes = {(e.kind, e.id): e.content_hash for e in review.overview(s, now=NOW)}
    items = [(kind, item_id, h) for (kind, item_id), h in hashes.items()]
    assert len(items) == 3
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(loaded, "before_cursor_execute", count)
    try:
        with session_scope(loaded) as s:
            dates = review.valid_review_dates(s, items, max_age_days=183, now=NOW)
    finally:
        event.remove(loaded, "before_cursor_execute", count)
    assert dates == {("regeling", "wbso"): NOW}  # the stale one does not count
    assert len([st for st in statements if "review_stamps" in st]) == 1


# --- `loket knowledge review [--stale]` ---------------------------------------------------------------


def test_review_command_lists_every_entry_with_its_status(loaded, editor, capsys):
    from bot.cli import main

    _stamp(loaded, editor, "regeling", "wbso", now=utcnow() - timedelta(days=1))
    _stamp(loaded, editor, "loket", "kvk", now=utcnow() - timedelta(days=400))
    assert main(["knowledge", "review"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if line.startswith("  ") and line.split()]
    by_id = {words[words.index(kind) + 1]: " ".join(words[:words.index(kind)])
             for words in lines for kind in ("regeling", "loket") if kind in words[:4]}
    assert by_id == {"wbso": "Gecontroleerd", "kvk-inschrijven": "Te controleren", "kvk": "Verouderd"}
    assert "door Redacteur Een" in out and "nooit gecontroleerd" in out
    assert "Totaal 3: 0 gewijzigd sinds controle, 1 verouderd, 1 te controleren, 1 gecontroleerd." in out

    assert main(["knowledge", "review", "--stale"]) == 0
    stale = capsys.readouterr().out
    assert "kvk-inschrijven" in stale and " kvk " in stale
    assert "wbso" not in stale  # checked and valid: nothing to do


def test_review_command_on_an_empty_database_says_what_to_do(engine, capsys):
    from bot.cli import main

    assert main(["knowledge", "review", "--stale"]) == 0
    assert "Laad eerst de kennisbank: loket knowledge load." in capsys.readouterr().out
