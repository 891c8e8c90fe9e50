"""Retention (purge with a simulated clock), "delete my conversation" (forget), and clean log lines.

The tracker is written by Rasa's own SQLTrackerStore, so the purge is tested against the real table.
After the retention periods, every text column of every table (app database and tracker) is searched
for the planted name, e-mail address and phone number.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot import models, privacy
from bot.db import make_engine, session_scope
from bot.settings import get_settings, load_settings

T0 = datetime(2026, 3, 2, 10, 0, 0)  # the conversation; naive UTC like every stored timestamp
SENDER = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
OTHER = "ffffeeeeddddccccbbbbaaaa99998888"
NAME = "Zoë Testpersoon"
EMAIL = "zoe.testpersoon@example.org"
PHONE = "06-12345678"
PLANTED = [NAME, EMAIL, PHONE, "0612345678", "Testpersoon", SENDER]


def _ts(moment: datetime) -> float:
    return privacy._unix(moment)


def write_tracker(url: str, sender: str, at: datetime, texts: list[str], slots: dict) -> None:
    """A conversation in Rasa's SQL tracker store, all events at `at`."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    path = url.removeprefix("sqlite:///")
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=path)
    events = [ActionExecuted("action_session_start", timestamp=_ts(at))]
    for i, text in enumerate(texts):
        t = _ts(at) + i
        events += [
            UserUttered(text, {"name": "inform", "confidence": 1.0}, timestamp=t,
                        metadata={"gemeente": "utrecht"}),
            BotUttered(f"Dank u. U zei: {text}", timestamp=t + 0.5),
        ]
    events += [SlotSet(k, v, timestamp=_ts(at) + len(texts)) for k, v in slots.items()]
    asyncio.run(store.save(DialogueStateTracker.from_events(sender, events)))
    store.engine.dispose()


def tracker_senders(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        table = privacy._events_table(engine)
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(select(table.c.sender_id).distinct())}
    finally:
        engine.dispose()


@pytest.fixture
def tracker_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


@pytest.fixture
def settings(loaded, monkeypatch, tracker_url):
    monkeypatch.setenv("LOKET_TRACKER_DB_URL", tracker_url)
    monkeypatch.setenv("LOKET_CONVERSATION_RETENTION_DAYS", "28")
    monkeypatch.setenv("LOKET_CONTACT_RETENTION_DAYS", "90")
    get_settings.cache_clear()  # the CLI reads the cached copy
    return load_settings()


def plant(engine, tracker_url: str) -> dict:
    """Everything one entrepreneur leaves behind: tracker, handoff (+notes, delivery), knelpunt,
    unanswered questions. Returns the ids."""
    write_tracker(tracker_url, SENDER, T0,
                  [f"Ik ben {NAME}", f"mail mij op {EMAIL}", f"of bel {PHONE}"],
                  {"contact_name": NAME, "contact_email": EMAIL, "contact_phone": PHONE})
    with session_scope(engine) as s:
        user = models.User(username="m1", password_hash="x", role="makelaar", team_id="utrecht")
        s.add(user)
        s.flush()
        h = models.Handoff(
            reference="LKT-2026-000001", sender_id=SENDER, team_id="utrecht", gemeente_id="utrecht",
            topic="ask_energy", description=f"Vraag van {NAME}: bel mij op 0612345678 a.u.b.",
            contact_name=NAME, contact_email=EMAIL, contact_phone=PHONE, consent_at=T0,
            transcript=[{"from": "user", "text": f"Ik ben {NAME}, mail {EMAIL}"}],
            status="afgesloten", closed_at=T0 + timedelta(days=2), created_at=T0,
            outcome=f"Gebeld met {NAME}.",
        )
        s.add(h)
        s.flush()
        s.add(models.HandoffNote(handoff_id=h.id, user_id=user.id, text=f"Mail gestuurd naar {EMAIL}",
                                 created_at=T0))
        s.add(models.OutboxMessage(handoff_id=h.id, delivery_key="handoff-LKT-2026-000001-utrecht",
                                   channel="email", target="team@example.nl", status="delivered",
                                   created_at=T0, last_error=f"550 rejected for {EMAIL}"))
        k = models.Knelpunt(
            reference="KNP-2026-000001", description=f"De vergunning duurt te lang. Groet, {NAME}",
            category="vergunningen", track=1, organisations=["gemeente"], gemeente_id="utrecht",
            consequence=f"Bel {PHONE} voor uitleg", contact_consent=True, contact_name=NAME,
            contact_email=EMAIL, contact_phone=PHONE, sender_id=SENDER, created_at=T0,
        )
        s.add(k)
        s.flush()
        s.add(models.KnelpuntHistory(knelpunt_id=k.id, field="status", old_value="nieuw",
                                     new_value=f"doorgestuurd, contact {EMAIL}", changed_at=T0))
        s.add(models.UnansweredQuestion(sender_id=SENDER, text=f"kan {NAME} een subsidie krijgen?",
                                        reason="fallback", created_at=T0))
        return {"handoff": h.id, "knelpunt": k.id}


def leftovers(engine, tracker_url: str) -> list:
    tracker = make_engine(tracker_url)
    try:
        return privacy.find_values(engine, PLANTED) + privacy.find_values(tracker, PLANTED)
    finally:
        tracker.dispose()


# --- redaction ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"mail {EMAIL} nu", "bel 06-12345678", "bel +31 6 1234 5678", "tel. 020 123 4567",
    "a.b-c+d@sub.example.nl", "0031612345678",
])
def test_redact_removes_email_addresses_and_phone_numbers(text):
    clean = privacy.redact(text)
    assert "@" not in clean and not any(ch.isdigit() for ch in clean.replace("[", ""))


@pytest.mark.parametrize("text", [
    "LKT-2026-000001 opgeslagen", "2026-03-02 10:00:00 start", "port 127.0.0.1:54321",
    "kvk-nummer 12345678", "3 regelingen gevonden",
])
def test_redact_keeps_reference_numbers_times_and_counts(text):
    assert privacy.redact(text) == text


def test_redact_replaces_known_values_case_insensitively():
    assert privacy.redact(f"groet, {NAME.upper()}", [NAME]) == "groet, [verwijderd]"


# --- log lines --------------------------------------------------------------------------------


@pytest.fixture
def captured_log():
    """Every log line of the process at DEBUG, with the redacting record factory installed."""
    original = logging.getLogRecordFactory()
    privacy.install_log_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)
    logging.setLogRecordFactory(original)


def test_log_lines_never_contain_email_addresses_or_phone_numbers(captured_log):
    log = logging.getLogger("loket.test")
    log.info("contact %s / %s", EMAIL, PHONE)
    log.warning(f"an f-string with {EMAIL}")
    try:
        raise ValueError(f"bad value {EMAIL} {PHONE}")
    except ValueError:
        log.exception("it failed")
    logging.getLogger("rasa.core.processor").error("user said: bel me op +31612345678")
    text = captured_log.getvalue()
    assert "contact" in text and "it failed" in text and "ValueError" in text
    for needle in (EMAIL, PHONE, "+31612345678"):
        assert needle not in text


def test_install_log_redaction_is_idempotent():
    original = logging.getLogRecordFactory()
    try:
        privacy.install_log_redaction()
        first = logging.getLogRecordFactory()
        privacy.install_log_redaction()
        assert logging.getLogRecordFactory() is first
    finally:
        logging.setLogRecordFactory(original)


# --- purge with a simulated clock -------------------------------------------------------------


def test_before_the_retention_period_nothing_is_removed(settings, loaded, tracker_url):
    plant(loaded, tracker_url)
    report = privacy.purge(loaded, tracker_url, now=T0 + timedelta(days=27), settings=settings)
    assert report.conversations == 0 and report.handoff_contacts == 0
    assert {t for t, _, _ in leftovers(loaded, tracker_url)} >= {
        "events", "handoffs", "handoff_notes", "knelpunten", "unanswered_questions"}


def test_after_28_days_conversations_go_but_contact_details_of_handoffs_stay(
        settings, loaded, tracker_url):
    ids = plant(loaded, tracker_url)
    write_tracker(tracker_url, OTHER, T0 + timedelta(days=20), ["nog een vraag"], {})
    report = privacy.purge(loaded, tracker_url, now=T0 + timedelta(days=29), settings=settings)
    assert report.conversations == 1 and report.tracker_events > 0
    assert tracker_senders(tracker_url) == {OTHER}  # its last event is only 9 days old
    with session_scope(loaded) as s:
        h = s.get(models.Handoff, ids["handoff"])
        assert h.transcript == [] and h.sender_id == ""
        assert h.contact_email == EMAIL and h.contact_purged_at is None  # closed only 27 days ago
        u = s.execute(select(models.UnansweredQuestion)).scalar_one()
        assert u.sender_id is None and NAME not in u.text
        assert s.get(models.Knelpunt, ids["knelpunt"]).contact_email == EMAIL


def test_after_the_retention_periods_no_name_email_or_phone_remains_anywhere(
        settings, loaded, tracker_url):
    ids = plant(loaded, tracker_url)
    assert leftovers(loaded, tracker_url)  # the search does find what is there
    now = T0 + timedelta(days=2 + 91)  # the handoff was closed on day 2
    report = privacy.purge(loaded, tracker_url, now=now, settings=settings)
    assert report.handoff_contacts == 1 and report.knelpunt_contacts == 1
    assert leftovers(loaded, tracker_url) == []
    with session_scope(loaded) as s:  # the records stay for the team and the coordination
        h = s.get(models.Handoff, ids["handoff"])
        assert h.reference == "LKT-2026-000001" and h.contact_purged_at == now
        assert "bel mij op" in h.description and "[" in h.description
        k = s.get(models.Knelpunt, ids["knelpunt"])
        assert k.contact_purged_at == now and "vergunning duurt te lang" in k.description
        assert s.execute(select(func.count()).select_from(models.HandoffNote)).scalar() == 1
    again = privacy.purge(loaded, tracker_url, now=now, settings=settings)  # idempotent
    assert again.as_dict() == privacy.PrivacyReport().as_dict()


def test_open_handoffs_keep_their_contact_details(settings, loaded, tracker_url):
    with session_scope(loaded) as s:
        s.add(models.Handoff(reference="LKT-2026-000009", sender_id=OTHER, team_id="utrecht",
                             description="vraag", contact_email="open@example.org", consent_at=T0,
                             status="opgepakt", created_at=T0))
    privacy.purge(loaded, tracker_url, now=T0 + timedelta(days=200), settings=settings)
    with session_scope(loaded) as s:
        h = s.execute(select(models.Handoff)).scalar_one()
        assert h.contact_email == "open@example.org" and h.transcript == []


def test_purge_without_a_tracker_database_does_not_create_one(settings, loaded, tmp_path):
    url = f"sqlite:///{tmp_path / 'nothing-here.db'}"
    report = privacy.purge(loaded, url, now=T0, settings=settings)
    assert report.conversations == 0
    assert not (tmp_path / "nothing-here.db").exists()


# --- forget -----------------------------------------------------------------------------------


def test_forget_removes_one_senders_conversation_and_personal_data(settings, loaded, tracker_url):
    ids = plant(loaded, tracker_url)
    write_tracker(tracker_url, OTHER, T0, ["iets anders"], {})
    report = privacy.forget(loaded, tracker_url, SENDER)
    assert report.tracker_events > 0 and report.handoff_contacts == 1 and report.unanswered == 1
    assert tracker_senders(tracker_url) == {OTHER}
    assert leftovers(loaded, tracker_url) == []
    with session_scope(loaded) as s:
        h = s.get(models.Handoff, ids["handoff"])
        assert h.contact_purged_at is not None and h.contact_email is None and h.transcript == []
        assert s.execute(select(func.count()).select_from(models.UnansweredQuestion)).scalar() == 0


def test_forget_rejects_an_invalid_sender_id(loaded, tracker_url):
    with pytest.raises(ValueError):
        privacy.forget(loaded, tracker_url, "' OR 1=1 --")


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_purge_with_a_simulated_clock(settings, loaded, tracker_url, capsys):
    from bot import cli

    plant(loaded, tracker_url)
    assert cli.main(["purge", "--now", (T0 + timedelta(days=100)).isoformat()]) == 0
    assert "Opgeschoond" in capsys.readouterr().out
    assert leftovers(loaded, tracker_url) == []


def test_cli_forget(settings, loaded, tracker_url, capsys):
    from bot import cli

    plant(loaded, tracker_url)
    assert cli.main(["forget", SENDER]) == 0
    assert "Verwijderd" in capsys.readouterr().out
    assert tracker_senders(tracker_url) == set()
    assert cli.main(["forget", "niet geldig!"]) == 2


def test_cli_purge_rejects_a_bad_date(settings):
    from bot import cli

    with pytest.raises(SystemExit):
        cli.main(["purge", "--now", "gisteren"])


# --- the web app: POST /api/forget and the scheduled purge ----------------------------------


@pytest.fixture
def web_app(settings, loaded):
    from bot.web.app import create_app

    return create_app(dataclasses.replace(settings, purge_interval_s=0), loaded)


async def test_api_forget_deletes_the_conversation(web_app, aiohttp_client, loaded, tracker_url,
                                                   captured_log):
    await asyncio.to_thread(plant, loaded, tracker_url)  # Rasa's store runs its own loop
    log_start = len(captured_log.getvalue())  # Rasa logs the planted tracker at DEBUG
    client = await aiohttp_client(web_app)
    resp = await client.post("/api/forget", json={"sender_id": SENDER},
                             headers={"Origin": "https://www.example.nl"})
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "verwijderd" and body["tracker_events"] > 0
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert leftovers(loaded, tracker_url) == []
    app_log = captured_log.getvalue()[log_start:]
    assert "privacy forget" in app_log and SENDER not in app_log  # counts, never the id


async def test_api_forget_preflight_and_bad_input(web_app, aiohttp_client):
    client = await aiohttp_client(web_app)
    pre = await client.options("/api/forget", headers={"Origin": "https://www.example.nl",
                                                       "Access-Control-Request-Method": "POST"})
    assert pre.status == 204 and "POST" in pre.headers["Access-Control-Allow-Methods"]
    for body in (b"niet json", b'{"sender_id": 5}', b'{"sender_id": "<script>"}', b"[]"):
        resp = await client.post("/api/forget", data=body,
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400, body
        assert "error" in await resp.json()
    resp = await client.post("/api/forget", data=b"x" * 10_000)
    assert resp.status == 413


async def test_api_forget_is_rate_limited(web_app, aiohttp_client):
    client = await aiohttp_client(web_app)
    statuses = [(await client.post("/api/forget", json={"sender_id": f"s{i}"})).status
                for i in range(15)]
    assert statuses.count(200) == 10 and statuses[-1] == 429


async def test_the_web_app_purges_on_a_schedule(settings, loaded, tracker_url, monkeypatch,
                                                aiohttp_client):
    from bot.web import maintenance
    from bot.web.app import create_app

    old = models.utcnow() - timedelta(days=400)
    with session_scope(loaded) as s:
        s.add(models.UnansweredQuestion(sender_id=SENDER, text=f"ik ben {NAME}", reason="fallback",
                                        created_at=old))
    monkeypatch.setattr(maintenance, "FIRST_PURGE_DELAY_S", 0.05)
    app = create_app(dataclasses.replace(settings, purge_interval_s=0.2), loaded)
    await aiohttp_client(app)  # runs on_startup
    for _ in range(100):
        await asyncio.sleep(0.05)
        if app["last_purge"] is not None:
            break
    assert app["last_purge"] is not None and app["last_purge"].unanswered == 1
    assert privacy.find_values(loaded, [NAME, SENDER]) == []
