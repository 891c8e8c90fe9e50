"""The handoff service: one transaction for handoff + outbox, reference numbers, team scoping."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import handoffs, models
from bot.db import session_scope
from bot.web.auth import create_user

YEAR = models.utcnow().year


def _create(session, **overrides) -> handoffs.Created:
    data = dict(sender_id="sender-1", gemeente_id="zwolle",
                description="Kan ik loonkostensubsidie krijgen voor een nieuwe medewerker?",
                contact_name="Sam de Vries", contact_email="sam@example.nl", contact_phone=None,
                consent=True, topic="loonkostensubsidie",
                transcript=[{"speaker": "ondernemer", "text": "hallo", "at": None}])
    data.update(overrides)
    return handoffs.create_handoff(session, **data)


def _count(engine, model) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def test_create_writes_handoff_and_outbox_row_together(loaded):
    with session_scope(loaded) as s:
        created = _create(s)
    assert created.new and created.team_id == "zwolle" and created.response_days == 3
    assert created.reference == f"LKT-{YEAR}-000001"
    with session_scope(loaded) as s:
        h = s.execute(select(models.Handoff)).scalar_one()
        assert (h.reference, h.team_id, h.gemeente_id, h.status) == (created.reference, "zwolle", "zwolle", "nieuw")
        assert h.contact_email == "sam@example.nl" and h.consent_at is not None
        assert h.transcript == [{"speaker": "ondernemer", "text": "hallo", "at": None}]
        box = s.execute(select(models.OutboxMessage)).scalar_one()
        assert box.handoff_id == h.id and box.status == "pending" and box.attempts == 0
        assert (box.channel, box.target) == ("email", "makelaarsteam-zwolle@example.nl")
        assert box.delivery_key == f"handoff-{created.reference}-zwolle"


def test_webhook_team_gets_a_webhook_outbox_row(loaded):
    with session_scope(loaded) as s:
        _create(s, gemeente_id="utrecht")
        box = s.execute(select(models.OutboxMessage)).scalar_one()
        assert (box.channel, box.target) == ("webhook", "https://example.org/hooks/utrecht")


def test_reference_numbers_count_up_without_gaps(loaded):
    refs = []
    for i in range(3):
        with session_scope(loaded) as s:
            refs.append(_create(s, sender_id=f"s{i}").reference)
    assert refs == [f"LKT-{YEAR}-{n:06d}" for n in (1, 2, 3)]
    assert all(re.fullmatch(r"LKT-\d{4}-\d{6}", r) for r in refs)


def test_handoff_and_outbox_are_stored_both_or_neither(loaded):
    with session_scope(loaded) as s:
        first = _create(s, sender_id="a")
    # Make the outbox insert of the next handoff fail: its delivery key is already taken.
    next_ref = f"LKT-{YEAR}-000002"
    with session_scope(loaded) as s:
        h1 = s.execute(select(models.Handoff)).scalar_one()
        s.add(models.OutboxMessage(handoff_id=h1.id, delivery_key=handoffs.delivery_key(next_ref, "zwolle"),
                                   channel="email", target="x@example.nl"))
    with pytest.raises(IntegrityError):
        with session_scope(loaded) as s:
            _create(s, sender_id="b", description="Een andere vraag over een subsidie voor energie")
    with session_scope(loaded) as s:
        assert [h.reference for h in s.execute(select(models.Handoff)).scalars()] == [first.reference]
        counter = s.get(models.ReferenceCounter, ("LKT", YEAR))
        assert counter.value == 1  # the reservation was rolled back with the rest
    # And the next successful handoff takes the number that was not used.
    with session_scope(loaded) as s:
        s.execute(models.OutboxMessage.__table__.delete().where(
            models.OutboxMessage.delivery_key == handoffs.delivery_key(next_ref, "zwolle")))
    with session_scope(loaded) as s:
        assert _create(s, sender_id="c").reference == next_ref


@pytest.mark.parametrize(("overrides", "message"), [
    ({"consent": False}, "toestemming"),
    ({"description": "  "}, "geen vraag"),
    ({"contact_email": None, "contact_phone": None}, "e-mailadres of telefoonnummer"),
    ({"gemeente_id": "den-haag"}, "geen makelaarsteam"),  # no team in the fixture knowledge
    ({"gemeente_id": "tilburg"}, "geen makelaarsteam"),
    ({"gemeente_id": "atlantis"}, "ken ik niet"),
])
def test_nothing_is_stored_when_a_handoff_is_not_allowed(loaded, overrides, message):
    with pytest.raises(handoffs.HandoffError, match=message):
        with session_scope(loaded) as s:
            _create(s, **overrides)
    assert _count(loaded, models.Handoff) == 0
    assert _count(loaded, models.OutboxMessage) == 0


def test_the_same_request_twice_is_stored_once(loaded):
    with session_scope(loaded) as s:
        first = _create(s)
    with session_scope(loaded) as s:
        again = _create(s)
    assert again.reference == first.reference and not again.new
    assert _count(loaded, models.Handoff) == 1 and _count(loaded, models.OutboxMessage) == 1
    later = models.utcnow() + handoffs.DEDUPE_WINDOW + timedelta(minutes=1)
    with session_scope(loaded) as s:
        assert _create(s, now=later).reference != first.reference


# --- reading the conversation -------------------------------------------------------------------


def _user(text, intent, ts=1_780_000_000.0):
    return {"event": "user", "text": text, "timestamp": ts,
            "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}


def _bot(text, ts=1_780_000_001.0):
    return {"event": "bot", "text": text, "timestamp": ts}


EVENTS = [
    _user("hallo", "greet"), _bot("Hallo! Ik ben de digitale assistent."),
    _user("Hoe werkt de no-riskpolis als mijn medewerker ziek wordt?", "ask_no_riskpolis"),
    _bot("De no-riskpolis ..."),
    _user("dank je", "thank"), _bot("Graag gedaan!"),
    _user("/request_human", "request_human"),
    _user("ik wil iemand van de gemeente spreken", "request_human"),
    {"event": "action", "name": "handoff_form"},
    {"event": "active_loop", "name": "handoff_form"},
    _bot("In welke gemeente is uw bedrijf gevestigd?"),
    _user("Zwolle", "inform"), _bot("Wat is uw naam?"), _user("Sam de Vries", "inform"),
]


def test_last_question_is_taken_from_before_the_form():
    assert handoffs.last_question(EVENTS) == "Hoe werkt de no-riskpolis als mijn medewerker ziek wordt?"
    assert handoffs.last_question(EVENTS[:2]) is None


def test_topic_comes_from_the_latest_topic_intent():
    assert handoffs.topic_from_events(EVENTS) == "no_riskpolis"
    assert handoffs.topic_from_events([_user("welke gemeenten doen mee", "ask_deal_gemeenten")]) is None


def test_transcript_holds_the_turns_before_the_form_and_no_form_answers():
    transcript = handoffs.transcript_from_events(EVENTS)
    texts = [t["text"] for t in transcript]
    assert texts[0] == "hallo" and texts[-1] == "ik wil iemand van de gemeente spreken"
    assert "Sam de Vries" not in texts and "/request_human" not in texts
    assert transcript[0]["speaker"] == "ondernemer" and transcript[1]["speaker"] == "assistent"
    assert transcript[0]["at"] == datetime.utcfromtimestamp(1_780_000_000).isoformat()
    long = [_user(f"vraag {i}", "ask_btw") for i in range(30)]
    assert len(handoffs.transcript_from_events(long)) == handoffs.TRANSCRIPT_TURNS


# --- portal operations, always scoped to a team ------------------------------------------------


@pytest.fixture
def two_teams(loaded):
    with session_scope(loaded) as s:
        zwolle = _create(s).reference
        utrecht = _create(s, gemeente_id="utrecht", sender_id="u").reference
        z = create_user(s, "m.zwolle", "wachtwoord-zwolle", "makelaar", team_id="zwolle")
        u = create_user(s, "m.utrecht", "wachtwoord-utrecht", "makelaar", team_id="utrecht")
        z2 = create_user(s, "m2.zwolle", "wachtwoord-zwolle2", "makelaar", team_id="zwolle")
    return loaded, zwolle, utrecht, z, u, z2


def test_each_team_lists_only_its_own_handoffs(two_teams):
    engine, zwolle, utrecht, *_ = two_teams
    with session_scope(engine) as s:
        assert [r.handoff.reference for r in handoffs.list_handoffs(s, "zwolle")] == [zwolle]
        assert [r.handoff.reference for r in handoffs.list_handoffs(s, "utrecht")] == [utrecht]
        assert len(handoffs.list_handoffs(s, None)) == 2  # admin without a team
        assert handoffs.counts(s, "zwolle") == {"nieuw": 1, "opgepakt": 0, "afgesloten": 0}


def test_another_teams_handoff_cannot_be_read_or_changed(two_teams):
    engine, zwolle, utrecht, z, u, _ = two_teams
    with session_scope(engine) as s:
        for call in (lambda: handoffs.get_handoff(s, zwolle, "utrecht"),
                     lambda: handoffs.claim(s, zwolle, "utrecht", u),
                     lambda: handoffs.add_note(s, zwolle, "utrecht", u, "gezien"),
                     lambda: handoffs.close(s, zwolle, "utrecht", u, "klaar")):
            with pytest.raises(handoffs.NotFound):
                call()
    with session_scope(engine) as s:
        h = handoffs.get_handoff(s, zwolle, "zwolle")
        assert h.status == "nieuw" and h.claimed_by is None and list(h.notes) == []


def test_claim_note_close(two_teams):
    engine, zwolle, _, z, _, z2 = two_teams
    with session_scope(engine) as s:
        h = handoffs.claim(s, zwolle, "zwolle", z)
        assert (h.status, h.claimed_by) == ("opgepakt", z.id)
    with session_scope(engine) as s:
        with pytest.raises(handoffs.HandoffError, match="collega"):
            handoffs.claim(s, zwolle, "zwolle", z2)
        handoffs.claim(s, zwolle, "zwolle", z)  # claiming your own again is fine
        handoffs.add_note(s, zwolle, "zwolle", z2, "Ik heb gebeld, voicemail ingesproken.")
        with pytest.raises(handoffs.HandoffError, match="leeg"):
            handoffs.add_note(s, zwolle, "zwolle", z2, "   ")
        with pytest.raises(handoffs.HandoffError, match="afgehandeld"):
            handoffs.close(s, zwolle, "zwolle", z, "")
        handoffs.close(s, zwolle, "zwolle", z, "Doorverwezen naar het werkgeversservicepunt.")
    with session_scope(engine) as s:
        d = handoffs.detail(s, zwolle, "zwolle")
        assert d.handoff.status == "afgesloten" and d.handoff.closed_at is not None
        assert [(n.text, name) for n, name in d.notes] == [("Ik heb gebeld, voicemail ingesproken.", "m2.zwolle")]
        assert d.claimed_by_name == "m.zwolle" and d.delivery == "wacht"
        with pytest.raises(handoffs.HandoffError, match="al afgesloten"):
            handoffs.close(s, zwolle, "zwolle", z, "nog eens")


def test_search_in_reference_and_description(two_teams):
    engine, zwolle, *_ = two_teams
    with session_scope(engine) as s:
        assert [r.handoff.reference for r in handoffs.list_handoffs(s, "zwolle", q="LOONKOSTEN")] == [zwolle]
        assert [r.handoff.reference for r in handoffs.list_handoffs(s, "zwolle", q=zwolle[-6:])] == [zwolle]
        assert handoffs.list_handoffs(s, "zwolle", q="pizza") == []
        assert handoffs.list_handoffs(s, "zwolle", status="afgesloten") == []


# --- end to end: Rasa + action server with the trained model, then the outbox ---------------------


@pytest.fixture(scope="module")
def rasa_stack(tmp_path_factory):
    """Action server and Rasa on free ports; team Utrecht's webhook points at a local port."""

    from bot.db import make_engine
    from tests.support.model import require_model
    from tests.support.stack import free_port, make_stack

    require_model()
    hook_port = free_port()
    st = make_stack(tmp_path_factory.mktemp("handoff-e2e"),
                    extra_env={"LOKET_WEBHOOK_SECRET_UTRECHT": "e2e-geheim"})
    engine = make_engine(st.database_url)
    with session_scope(engine) as s:
        s.get(models.Makelaarsteam, "utrecht").webhook_url = f"http://127.0.0.1:{hook_port}/hooks/loket"
    try:
        st.start("actions")
        st.start("rasa")
        yield st, engine, hook_port
    except Exception:
        for name in ("actions", "rasa"):
            print(f"--- {name} log ---\n{st.log(name)[-4000:]}")
        raise
    finally:
        st.stop_all()
        engine.dispose()


def _texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


@pytest.mark.rasa
async def test_conversation_to_zwolle_ends_with_a_reference_and_one_mail(rasa_stack):
    import asyncio
    import dataclasses

    from aiosmtpd.controller import Controller

    from bot.handoffs import outbox
    from bot.settings import load_settings
    from tests.support.fakes import Inbox
    from tests.support.stack import free_port

    st, engine, _ = rasa_stack
    sender = "e2e-zwolle"

    def say(text):
        return _texts(st.say(sender, text))

    assert "In welke gemeente" in await asyncio.to_thread(say, "ik wil iemand van de gemeente spreken")
    assert "Waar gaat uw vraag over" in await asyncio.to_thread(say, "Zwolle")
    assert "naam" in await asyncio.to_thread(
        say, "Ik zoek een betaalbare bedrijfsruimte voor mijn kringloopwinkel in de binnenstad")
    assert "e-mailadres" in await asyncio.to_thread(say, "Sam de Vries")
    consent = await asyncio.to_thread(say, "sam@example.nl")
    assert "Makelaarsteam Impact Ondernemen Zwolle" in consent and "toestemming" in consent
    done = await asyncio.to_thread(say, "/affirm")
    reference = re.search(r"LKT-\d{4}-\d{6}", done).group(0)
    assert "Makelaarsteam Impact Ondernemen Zwolle" in done and "binnen 2 werkdagen" in done

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = dataclasses.replace(load_settings(), database_url=st.database_url,
                                       smtp_host="127.0.0.1", smtp_port=controller.port)
        await outbox.deliver_due(engine, settings=settings)
        await outbox.deliver_due(engine, now=models.utcnow() + timedelta(hours=2), settings=settings)
    finally:
        controller.stop()
    mails = [(rcpt, msg) for rcpt, msg in inbox.messages if reference in msg["Subject"]]
    assert len(mails) == 1 and mails[0][0] == ["makelaarsteam-zwolle@example.nl"]
    assert "bedrijfsruimte voor mijn kringloopwinkel" in mails[0][1].get_content()


@pytest.mark.rasa
async def test_widget_gemeente_and_webhook_down_for_the_whole_conversation(rasa_stack, monkeypatch):
    import asyncio
    import dataclasses

    from bot.handoffs import outbox
    from bot.settings import load_settings
    from tests.support.fakes import Receiver

    st, engine, hook_port = rasa_stack
    sender = "e2e-utrecht"
    meta = {"gemeente": "utrecht"}  # the widget on utrecht.nl sends this with every message

    def say(text):
        return _texts(st.say(sender, text, meta))

    intro = await asyncio.to_thread(say, "ik wil met een mens praten")
    assert "Makelaarsteam Impact Ondernemen Utrecht" in intro and "In welke gemeente" not in intro
    await asyncio.to_thread(say, "Ik wil weten of ik een jobcoach kan krijgen voor mijn nieuwe medewerker")
    await asyncio.to_thread(say, "Sam de Vries")
    await asyncio.to_thread(say, "06 12345678")
    done = await asyncio.to_thread(say, "/affirm")
    reference = re.search(r"LKT-\d{4}-\d{6}", done).group(0)

    monkeypatch.setenv("LOKET_WEBHOOK_SECRET_UTRECHT", "e2e-geheim")
    settings = dataclasses.replace(load_settings(), database_url=st.database_url,
                                   webhook_allow_loopback=True)  # the receiver is on 127.0.0.1
    now = models.utcnow()
    assert (await outbox.deliver_due(engine, now=now, settings=settings)).failed == 1  # receiver down
    receiver = Receiver("e2e-geheim")
    receiver.port = hook_port
    await receiver.start()
    try:
        later = now + timedelta(minutes=1)
        assert (await outbox.deliver_due(engine, now=later, settings=settings)).delivered == 1
        await outbox.deliver_due(engine, now=later + timedelta(hours=2), settings=settings)
    finally:
        await receiver.stop()
    assert [p["reference"] for p in receiver.processed] == [reference] and receiver.calls == 1
    assert receiver.processed[0]["contact"]["phone"] == "+31 6 12345678"
