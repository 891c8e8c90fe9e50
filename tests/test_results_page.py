"""/coordinatie/resultaten with the aiohttp test client: numbers counted from seeded trackers, checked
exactly, per week, month and gemeente; roles; CSV; and the figures outlive the retention purge."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    select,
)

from bot import models
from bot.conversation import stats
from bot.conversation.stats import count_then_purge
from bot.db import session_scope
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.auth import create_user
from bot.web.results import COLUMNS
from tests.support.web import PASSWORD, login, parse_table

NOW = datetime(2026, 12, 10, 12, 0)


def _ts(day: str, minute: int = 0) -> float:
    at = datetime.fromisoformat(day) + timedelta(hours=10, minutes=minute)
    return at.replace(tzinfo=timezone.utc).timestamp()


def user(text: str, intent: str) -> dict:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}


def action(name: str) -> dict:
    return {"event": "action", "name": name}


def bot(text: str) -> dict:
    return {"event": "bot", "text": text}


def slot(name: str, value) -> dict:
    return {"event": "slot", "name": name, "value": value}


def loop(name: str | None) -> dict:
    return {"event": "active_loop", "name": name}


ANSWER = [action("action_answer_topic"), bot("Dit heb ik voor u gevonden:")]
# Seven conversations written for this test; the expected figures are worked out by hand below.
CONVERSATIONS = {
    "a": ("2026-12-01", [slot("gemeente", "zwolle"), user("wat is de wbso", "ask_innovation"), *ANSWER]),
    "b": ("2026-12-01", [slot("gemeente", "zwolle"), user("hmm ja die ene", "nlu_fallback"),
                         action("action_handle_fallback"),
                         bot("Ik weet niet zeker wat u bedoelt. Bedoelt u een van deze onderwerpen?"),
                         user("/ask_btw", "ask_btw"), *ANSWER]),
    "c": ("2026-12-02", [slot("gemeente", "utrecht"), user("zxcv", "nlu_fallback"),
                         action("action_handle_fallback"), bot("Sorry, dat begrijp ik niet. Ik help u met")]),
    "d": ("2026-12-08", [slot("gemeente", "zwolle"), user("praat met een mens", "request_human"),
                         action("action_handoff_intro"), action("handoff_form"), loop("handoff_form"),
                         user("Sam de Vries", "inform"), action("handoff_form"),
                         user("/affirm", "affirm"), action("handoff_form"), loop(None),
                         action("action_submit_handoff"),
                         bot("Dank u wel. Uw referentienummer is LKT-2026-000001. Bewaar dit nummer.")]),
    "e": ("2026-12-08", [user("knelpunt melden", "report_knelpunt"), action("knelpunt_form"),
                         loop("knelpunt_form"), user("nee", "deny"), action("knelpunt_form"), loop(None),
                         action("action_submit_knelpunt"),
                         bot("Dank u wel. Uw knelpunt is opgeslagen met nummer KNP-2026-000001.")]),
    "g": ("2026-12-09", [slot("gemeente", "zwolle"), user("hallo", "greet"), action("utter_greet"),
                         bot("Hallo!")]),
    # older than the retention period: never counted again
    "old": ("2026-11-01", [user("wat is de wbso", "ask_innovation"), *ANSWER]),
}
HEADER = [h for _, h in COLUMNS]


def seed_tracker(url: str) -> None:
    engine = create_engine(url)
    events = Table("events", MetaData(), Column("id", Integer, primary_key=True),
                   Column("sender_id", String(255), nullable=False), Column("type_name", String(255)),
                   Column("timestamp", Float), Column("intent_name", String(255)),
                   Column("action_name", String(255)), Column("data", Text))
    events.metadata.create_all(engine)
    with engine.begin() as conn:
        for sender, (day, items) in CONVERSATIONS.items():
            for i, event in enumerate(items):
                event = {**event, "timestamp": _ts(day, i)}
                conn.execute(events.insert().values(
                    sender_id=f"s-{sender}", type_name=event["event"], timestamp=event["timestamp"],
                    data=json.dumps(event)))
    engine.dispose()


@pytest.fixture
def counted(loaded, tmp_path, monkeypatch):
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("LOKET_TRACKER_DB_URL", tracker_url)
    monkeypatch.setenv("LOKET_PURGE_INTERVAL_S", "0")
    seed_tracker(tracker_url)
    with session_scope(loaded) as s:
        create_user(s, "coord", PASSWORD, "coordinatie")
        create_user(s, "makelaar", PASSWORD, "makelaar", team_id="zwolle")
        for reason, day, gemeente in (("thumbs_up", "2026-12-01", "zwolle"),
                                      ("thumbs_down", "2026-12-02", "utrecht")):
            s.add(models.UnansweredQuestion(text="[verwijderd]", reason=reason, gemeente_id=gemeente,
                                            created_at=datetime.fromisoformat(day) + timedelta(hours=11)))
    written = stats.aggregate(loaded, tracker_url, NOW, 28)
    assert written == 5  # (day, gemeente) pairs: 12-01 zwolle, 12-02 utrecht, 12-08 zwolle and -, 12-09 zwolle
    return loaded


@pytest.fixture
async def client(counted, aiohttp_client):
    return await aiohttp_client(create_app(load_settings(), counted))


async def table(client, query: str, table_id: str = "resultaten-tabel") -> list[list[str]]:
    resp = await client.get(f"/coordinatie/resultaten{query}")
    assert resp.status == 200
    header, rows = parse_table(await resp.text(), table_id)
    return [header, *rows]


async def test_weekly_figures_counted_from_the_trackers(client):
    await login(client, "coord")
    header, *rows = await table(client, "?periode=week")
    assert header == HEADER
    assert rows == [
        # period, conversations, with a question, direct, %, after follow-up, %, not, %, handed off,
        # knelpunten, fallback messages, thumbs up, thumbs down
        ["2026-W49", "3", "3", "1", "33,3", "1", "33,3", "1", "33,3", "0", "0", "2", "1", "1"],
        ["2026-W50", "3", "2", "2", "100,0", "0", "0,0", "0", "0,0", "1", "1", "0", "0", "0"],
        ["Totaal", "6", "5", "3", "60,0", "1", "20,0", "1", "20,0", "1", "1", "2", "1", "1"],
    ]


async def test_monthly_and_per_gemeente_figures(client):
    await login(client, "coord")
    _, *rows = await table(client, "?periode=maand")
    assert rows[0] == ["2026-12", "6", "5", "3", "60,0", "1", "20,0", "1", "20,0", "1", "1", "2", "1", "1"]
    _, *rows = await table(client, "?periode=maand&gemeente=zwolle")
    assert rows[0] == ["2026-12", "4", "3", "2", "66,7", "1", "33,3", "0", "0,0", "1", "0", "1", "1", "0"]
    _, *rows = await table(client, "?periode=week", "gemeenten-tabel")
    assert [r[:3] for r in rows] == [["Zwolle", "4", "3"], ["Utrecht", "1", "1"], ["gemeente onbekend", "1", "1"]]


async def test_the_page_shows_charts_with_tables_and_no_personal_data(client):
    await login(client, "coord")
    resp = await client.get("/coordinatie/resultaten?periode=week")
    html = await resp.text()
    assert html.count("<svg") == 3 and html.count("Toon als tabel") == 3
    assert "Gem: direct" in html and "60%" in html
    for private in ("Sam de Vries", "s-a", "wat is de wbso", "LKT-2026-000001"):
        assert private not in html


async def test_csv_export_has_the_same_rows(client):
    await login(client, "coord")
    resp = await client.get("/coordinatie/resultaten.csv?periode=week")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == HEADER
    assert rows[1][:4] == ["2026-W49", "3", "3", "1"] and rows[-1][:4] == ["totaal", "6", "5", "3"]


async def test_only_coordination_and_admin_see_the_results(client):
    resp = await client.get("/coordinatie/resultaten", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/inloggen")
    await login(client, "makelaar")
    assert (await client.get("/coordinatie/resultaten")).status == 403
    assert (await client.get("/coordinatie/resultaten.csv")).status == 403


async def test_bad_parameters_are_refused(client):
    await login(client, "coord")
    assert (await client.get("/coordinatie/resultaten?periode=jaar")).status == 400
    assert (await client.get("/coordinatie/resultaten?gemeente=%3Cscript%3E")).status == 400


def test_figures_outlive_the_purge_of_the_conversations(counted, tmp_path):
    settings = load_settings()
    later = NOW + timedelta(days=60)  # every seeded conversation is past the retention period now
    report = count_then_purge(counted, settings, now=later)
    assert report.conversations == len(CONVERSATIONS)
    with session_scope(counted) as s:
        assert s.execute(select(func.sum(models.ConversationStat.conversations))).scalar_one() == 6
        week = stats.total(stats.periods(s, "week"))
    assert week.counts["answered_direct"] == 3 and week.counts["handed_off"] == 1
    # Counting again changes nothing: the days outside the retention period are left as they were.
    count_then_purge(counted, settings, now=later)
    with session_scope(counted) as s:
        assert s.execute(select(func.count()).select_from(models.ConversationStat)).scalar_one() == 5


def test_loket_purge_counts_the_results_before_it_purges(loaded, tmp_path, monkeypatch):
    """A deployment that purges by cron (`loket purge`) keeps the figures as the web app's job does."""
    from bot.cli import main

    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    monkeypatch.setenv("LOKET_TRACKER_DB_URL", tracker_url)
    seed_tracker(tracker_url)
    from bot import settings as settings_module

    settings_module.get_settings.cache_clear()
    assert main(["purge", "--now", NOW.isoformat(timespec="seconds")]) == 0
    with session_scope(loaded) as s:
        assert s.execute(select(func.sum(models.ConversationStat.conversations))).scalar_one() == 6
