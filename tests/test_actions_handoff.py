"""The handoff form's actions with real trackers and the production knowledge, without Rasa running."""

from __future__ import annotations

import dataclasses

import pytest
from aiosmtpd.controller import Controller
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.context import ActionExtractGemeente, ActionGemeenteNoted
from actions.handoff import (
    PERSONAL_SLOTS,
    ActionAskHandoffConsent,
    ActionAskHandoffDescription,
    ActionAskHandoffGemeente,
    ActionCancelHandoff,
    ActionHandoffIntro,
    ActionSubmitHandoff,
    ValidateHandoffForm,
    parse_contact,
)
from bot import models
from bot.db import session_scope
from bot.handoffs import outbox
from bot.settings import load_settings
from tests.support.domain import load_domain
from tests.support.fakes import Inbox
from tests.support.knowledge import default_engine_with_knowledge
from tests.support.stack import free_port
from tests.support.trackers import FORM, run_action, slot_events, tracker, user_event

DOMAIN = load_domain()


@pytest.fixture(scope="module")
def kb_module(tmp_path_factory):
    """One database with the production knowledge for this module (loading it per test is slow)."""
    yield from default_engine_with_knowledge(tmp_path_factory.mktemp("handoff-actions"))


@pytest.fixture
def kb(kb_module):
    yield kb_module
    with session_scope(kb_module) as s:  # every test starts without handoffs
        for model in (models.DeliveryAttempt, models.OutboxMessage, models.HandoffNote, models.Handoff,
                      models.ReferenceCounter):
            s.execute(model.__table__.delete())


async def validate(t: Tracker) -> tuple[dict, list[str], list]:
    return await run_action(ValidateHandoffForm(), t)


# --- gemeente ---------------------------------------------------------------------------------


async def test_typed_gemeente_with_a_typo_is_resolved_in_the_form(kb):
    slots, _, _ = await validate(tracker("zwole", requested="gemeente"))
    assert slots["gemeente"] == "zwolle"


async def test_ambiguous_gemeente_is_asked_again_with_buttons(kb):
    slots, texts, _ = await validate(tracker("Bergen", requested="gemeente"))
    assert slots["gemeente"] is None
    assert slots["handoff_gemeente_choices"] == ["Bergen (L.)", "Bergen (NH.)"]
    dispatcher = CollectingDispatcher()
    await ActionAskHandoffGemeente().run(dispatcher, tracker(slots=slots, requested="gemeente"), DOMAIN)
    buttons = dispatcher.messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == ["Bergen (L.)", "Bergen (NH.)"]
    # Pressing a button sends the name, which resolves to exactly one gemeente.
    slots, _, _ = await validate(tracker("Bergen (NH.)", slots=slots, requested="gemeente"))
    assert slots["gemeente"] == "bergen-nh" and slots["handoff_gemeente_choices"] is None


@pytest.mark.parametrize(("text", "message"), [
    ("Atlantis", "Ik kan daar geen gemeente in vinden."),
    ("5038 AB", "Bij postcode 5038 AB kan ik geen gemeente vinden."),
])
async def test_unknown_gemeente_gets_a_clear_message_and_the_question_again(kb, text, message):
    slots, texts, _ = await validate(tracker(text, requested="gemeente"))
    assert slots["gemeente"] is None and texts == [message]
    dispatcher = CollectingDispatcher()
    await ActionAskHandoffGemeente().run(dispatcher, tracker(requested="gemeente"), DOMAIN)
    assert "In welke gemeente" in dispatcher.messages[0]["text"]


async def test_gemeente_without_team_ends_the_form_and_submit_gives_alternatives(kb):
    slots, _, _ = await validate(tracker("Tilburg", requested="gemeente"))
    assert slots["gemeente"] == "tilburg" and slots["requested_slot"] is None  # form is done
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitHandoff().run(
        dispatcher, tracker("Tilburg", slots={"gemeente": "tilburg"}, active=False), DOMAIN)
    text = dispatcher.messages[0]["text"]
    assert "(nog) geen makelaarsteam" in text and "BOM" in text and "Ondernemersplein" in text
    assert slot_events(events) == {name: None for name in PERSONAL_SLOTS}
    with session_scope(kb) as s:
        assert s.execute(select(func.count()).select_from(models.Handoff)).scalar_one() == 0


async def test_known_gemeente_without_team_skips_the_intro(kb):
    dispatcher = CollectingDispatcher()
    await ActionHandoffIntro().run(dispatcher, tracker(slots={"gemeente": "tilburg"}, active=False), DOMAIN)
    assert dispatcher.messages == []
    await ActionHandoffIntro().run(dispatcher, tracker(slots={"gemeente": "zwolle"}, active=False), DOMAIN)
    assert "Makelaarsteam Impact Ondernemen Zwolle" in dispatcher.messages[0]["text"]


# --- the slot `gemeente` for the whole conversation ------------------------------------------------


async def extract(t: Tracker) -> dict:
    return slot_events(await ActionExtractGemeente().run(CollectingDispatcher(), t, DOMAIN))


@pytest.mark.parametrize(("entity", "value", "expected"), [
    ("gemeente", "'s-Gravenhage", "den-haag"),
    ("gemeente", "Sittard", "sittard-geleen"),
    ("woonplaats", "De Meern", "utrecht"),
    ("postcode", "8011 AB", "zwolle"),
])
async def test_entities_set_the_gemeente_id(kb, entity, value, expected):
    t = tracker("...", "ask_btw", entities=[{"entity": entity, "value": value}], active=False)
    assert await extract(t) == {"gemeente": expected}


async def noted(t: Tracker) -> tuple[dict, str]:
    dispatcher = CollectingDispatcher()
    events = await ActionGemeenteNoted().run(dispatcher, t, DOMAIN)
    return slot_events(events), "\n".join(m.get("text") or "" for m in dispatcher.messages)


async def test_a_named_gemeente_outside_a_form_is_confirmed_with_its_team(kb):
    place = [{"entity": "gemeente", "value": "Zwolle"}]
    slots, text = await noted(tracker("ik zit in Zwolle", "inform", entities=place, active=False,
                                      slots={"gemeente": "zwolle"}))
    assert slots == {}  # the slot mapping set it already
    assert "gemeente Zwolle" in text and "Makelaarsteam Impact Ondernemen Zwolle" in text


async def test_a_gemeente_without_team_is_confirmed_honestly(kb):
    slots, text = await noted(tracker("Urk", "inform", active=False))
    assert slots == {"gemeente": "urk"}  # no entity: the typed text is resolved here
    assert "gemeente Urk" in text and "geen makelaarsteam" in text


async def test_an_ambiguous_or_unknown_place_is_explained_in_dutch(kb):
    _, text = await noted(tracker("Bergen", "inform", entities=[{"entity": "gemeente", "value": "Bergen"}],
                                  active=False))
    assert "meer gemeenten met die naam" in text and "postcode" in text
    slots, text = await noted(tracker("ik zit in Atlantis", "inform", active=False))
    assert slots == {} and "ken ik niet" in text
    slots, text = await noted(tracker("9999 ZZ", "inform", entities=[{"entity": "postcode", "value": "9999 ZZ"}],
                                      active=False))
    assert slots == {} and "postcode 9999 ZZ kan ik de gemeente niet vinden" in text


async def test_metadata_fills_an_empty_gemeente_only(kb):
    assert await extract(tracker("hoi", "greet", active=False, metadata={"gemeente": "utrecht"})) == \
        {"gemeente": "utrecht"}
    t = tracker("hoi", "greet", active=False, metadata={"gemeente": "utrecht"}, slots={"gemeente": "zwolle"})
    assert await extract(t) == {}
    # What the user says beats the page they are on.
    t = tracker("ik zit in Zwolle", "inform", entities=[{"entity": "gemeente", "value": "Zwolle"}],
                active=False, metadata={"gemeente": "utrecht"}, slots={"gemeente": "utrecht"})
    assert await extract(t) == {"gemeente": "zwolle"}


async def test_extraction_leaves_the_gemeente_alone_when_it_should(kb):
    same = tracker("Zwolle", entities=[{"entity": "gemeente", "value": "Zwolle"}], active=False,
                   slots={"gemeente": "zwolle"})
    assert await extract(same) == {}  # no change, no event (an event would count as a form answer)
    asking = tracker("doet Tilburg mee?", "ask_deal_gemeenten",
                     entities=[{"entity": "gemeente", "value": "Tilburg"}], active=False)
    assert await extract(asking) == {}
    mid_form = tracker("Sam Amsterdam", entities=[{"entity": "gemeente", "value": "Amsterdam"}],
                       requested="handoff_name", slots={"gemeente": "zwolle"})
    assert await extract(mid_form) == {}
    assert await extract(tracker("stop", "stop", requested="gemeente")) == {}
    assert await extract(tracker("we zitten in Scheveningen", requested="gemeente")) == {"gemeente": "den-haag"}


# --- description -------------------------------------------------------------------------------------


HISTORY = [user_event("Kan ik loonkostensubsidie krijgen voor een medewerker met een beperking?",
                      "ask_loonkostensubsidie"),
           {"event": "bot", "text": "Loonkostensubsidie ...", "timestamp": 1_780_000_001.0},
           user_event("ik wil iemand van de gemeente spreken", "request_human"),
           {"event": "active_loop", "name": FORM}]


async def test_description_is_proposed_from_the_last_question_and_confirmed(kb):
    dispatcher = CollectingDispatcher()
    t = tracker(slots={"gemeente": "zwolle"}, requested="handoff_description", history=HISTORY)
    events = await ActionAskHandoffDescription().run(dispatcher, t, DOMAIN)
    draft = "Kan ik loonkostensubsidie krijgen voor een medewerker met een beperking?"
    assert slot_events(events) == {"handoff_description_draft": draft}
    assert draft in dispatcher.messages[0]["text"]
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/affirm", "/deny"]
    slots, _, _ = await validate(tracker("ja", "affirm", requested="handoff_description",
                                         slots={"handoff_description_draft": draft},
                                         candidates={"handoff_description": "ja"}))
    assert slots["handoff_description"] == draft and slots["handoff_description_draft"] is None


async def test_denied_description_is_asked_as_free_text(kb):
    draft = "Kan ik loonkostensubsidie krijgen?"
    slots, _, _ = await validate(tracker("nee", "deny", requested="handoff_description",
                                         slots={"handoff_description_draft": draft},
                                         candidates={"handoff_description": "nee"}))
    assert slots["handoff_description"] is None and slots["handoff_description_draft"] == ""
    dispatcher = CollectingDispatcher()
    events = await ActionAskHandoffDescription().run(
        dispatcher, tracker(slots=slots, requested="handoff_description", history=HISTORY), DOMAIN)
    assert events == [] and "Waar gaat uw vraag over?" in dispatcher.messages[0]["text"]
    text = "Ik zoek een pand voor mijn kringloopwinkel met werkplekken"
    slots, _, _ = await validate(tracker(text, requested="handoff_description",
                                         slots={"handoff_description_draft": ""},
                                         candidates={"handoff_description": text}))
    assert slots["handoff_description"] == text


async def test_no_earlier_question_means_no_proposal(kb):
    dispatcher = CollectingDispatcher()
    events = await ActionAskHandoffDescription().run(
        dispatcher, tracker(requested="handoff_description", history=HISTORY[2:]), DOMAIN)
    assert slot_events(events) == {"handoff_description_draft": ""}
    assert "buttons" not in dispatcher.messages[0] or not dispatcher.messages[0]["buttons"]


async def test_too_short_description_is_asked_again(kb):
    slots, texts, _ = await validate(tracker("subsidie", requested="handoff_description",
                                             candidates={"handoff_description": "subsidie"}))
    assert slots["handoff_description"] is None and "iets meer" in texts[0]


async def test_a_topic_question_at_the_description_step_is_the_description(kb):
    text = "Hoe werkt de no-riskpolis als mijn medewerker ziek wordt?"
    slots, texts, _ = await validate(tracker(text, "ask_no_riskpolis", requested="handoff_description",
                                             candidates={"handoff_description": text}))
    assert slots["handoff_description"] == text and texts == []


# --- interruptions, stop and "I want a human" in the middle --------------------------------------


async def test_a_question_at_the_name_step_is_answered_and_the_form_asks_again(kb):
    slots, texts, messages = await validate(tracker("ben jij een robot?", "bot_challenge",
                                                    requested="handoff_name",
                                                    candidates={"handoff_name": "ben jij een robot?"}))
    assert slots == {"handoff_name": None, "requested_slot": "handoff_name"}
    assert [m.get("response") for m in messages] == ["utter_iamabot", "utter_back_to_form"]


async def test_a_question_at_the_consent_step_keeps_the_form_going(kb):
    # Nothing is extracted from a question at a yes/no step; the validator still returns an event,
    # otherwise Rasa would reject the form and answer the question a second time.
    slots, _, messages = await validate(tracker("ben jij een robot?", "bot_challenge",
                                                requested="handoff_consent"))
    assert slots == {"handoff_consent": None, "requested_slot": "handoff_consent"}
    assert messages[0]["response"] == "utter_iamabot"


async def test_stop_returns_nothing_so_the_stop_rule_can_cancel(kb):
    for requested in ("gemeente", "handoff_name", "handoff_consent"):
        slots, texts, _ = await validate(tracker("stop", "stop", requested=requested))
        assert slots == {} and texts == []


async def test_asking_for_a_human_inside_the_form(kb):
    slots, texts, _ = await validate(tracker("ik wil een mens", "request_human", requested="handoff_name",
                                             slots={"gemeente": "zwolle"},
                                             candidates={"handoff_name": "ik wil een mens"}))
    assert slots == {"handoff_name": None, "requested_slot": "handoff_name"}
    assert texts == ["Dat doe ik: ik zet uw vraag door naar Makelaarsteam Impact Ondernemen Zwolle. Daarvoor "
                     "heb ik nog een paar antwoorden nodig. Wilt u stoppen? Typ dan 'stop'."]


# --- name, contact, consent ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "intent", "ok"), [
    ("Sam de Vries", "inform", True), ("Fatma Yılmaz-Bakker", "inform", True),
    ("sam@example.nl", "inform", False), ("06 12345678", "inform", False), ("x", "inform", False),
    ("nee", "deny", False),
])
async def test_name(kb, text, intent, ok):
    slots, texts, _ = await validate(tracker(text, intent, requested="handoff_name",
                                             candidates={"handoff_name": text}))
    assert (slots["handoff_name"] == text) is ok and (texts == []) is ok


@pytest.mark.parametrize(("text", "email", "phone"), [
    ("sam@example.nl", "sam@example.nl", None),
    ("Sam.de.Vries@Example.NL.", "Sam.de.Vries@example.nl", None),
    ("06 12345678", None, "+31 6 12345678"),
    ("0612345678", None, "+31 6 12345678"),
    ("038-1234567", None, "+31 38 123 4567"),
    ("+32 470 12 34 56", None, "+32 470 12 34 56"),
    ("mail sam@example.nl of bel 06-12345678", "sam@example.nl", "+31 6 12345678"),
])
def test_parse_contact_valid(text, email, phone):
    assert parse_contact(text) == (email, phone, None)


@pytest.mark.parametrize(("text", "problem"), [
    ("sam@example", "e-mailadres 'sam@example' klopt niet"),
    ("sam@@example.nl", "klopt niet"),
    ("06 1234", "telefoonnummer klopt niet"),
    ("bel me maar", "geen e-mailadres of telefoonnummer"),
    ("", "geen e-mailadres of telefoonnummer"),
])
def test_parse_contact_invalid(text, problem):
    email, phone, message = parse_contact(text)
    assert email is None and phone is None and problem in message


async def test_contact_step_splits_email_and_phone(kb):
    text = "sam@example.nl en 06 12345678"
    slots, _, _ = await validate(tracker(text, requested="handoff_contact", candidates={"handoff_contact": text}))
    assert slots["handoff_email"] == "sam@example.nl" and slots["handoff_phone"] == "+31 6 12345678"
    assert slots["handoff_contact"] == "e-mail sam@example.nl en telefoon +31 6 12345678"
    slots, texts, _ = await validate(tracker("06 1234", requested="handoff_contact",
                                             candidates={"handoff_contact": "06 1234"}))
    assert slots["handoff_contact"] is None and "klopt niet" in texts[0]


async def test_consent_needs_a_clear_yes_or_no(kb):
    slots, texts, _ = await validate(tracker("misschien", "inform", requested="handoff_consent"))
    assert slots == {"handoff_consent": None} and "ja of nee" in texts[0]
    slots, texts, _ = await validate(tracker("ja", "affirm", requested="handoff_consent",
                                             candidates={"handoff_consent": True}))
    assert slots["handoff_consent"] is True and texts == []


async def test_consent_question_shows_what_will_be_shared(kb):
    dispatcher = CollectingDispatcher()
    t = tracker(requested="handoff_consent", slots={
        "gemeente": "zwolle", "handoff_description": "Vraag over inkoop", "handoff_name": "Sam de Vries",
        "handoff_contact": "e-mail sam@example.nl"})
    await ActionAskHandoffConsent().run(dispatcher, t, DOMAIN)
    msg = dispatcher.messages[0]
    for part in ("Makelaarsteam Impact Ondernemen Zwolle", "Vraag over inkoop", "Sam de Vries", "sam@example.nl"):
        assert part in msg["text"]
    assert [b["title"] for b in msg["buttons"]] == ["Ja, ik geef toestemming", "Nee"]


# --- submit and cancel ---------------------------------------------------------------------------------


FILLED = {"gemeente": "zwolle", "handoff_description": "Kan ik loonkostensubsidie krijgen?",
          "handoff_name": "Sam de Vries", "handoff_contact": "e-mail sam@example.nl",
          "handoff_email": "sam@example.nl", "handoff_phone": None}


def count_handoffs(engine) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(models.Handoff)).scalar_one()


async def test_no_consent_stores_nothing_and_clears_the_personal_slots(kb):
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitHandoff().run(
        dispatcher, tracker("nee", "deny", slots={**FILLED, "handoff_consent": False}, active=False), DOMAIN)
    assert "niet opgeslagen" in dispatcher.messages[0]["text"]
    assert slot_events(events) == {name: None for name in PERSONAL_SLOTS}
    assert count_handoffs(kb) == 0


async def test_cancel_clears_the_personal_slots(kb):
    dispatcher = CollectingDispatcher()
    events = await ActionCancelHandoff().run(dispatcher, tracker("stop", "stop", slots=FILLED), DOMAIN)
    assert "niets opgeslagen" in dispatcher.messages[0]["text"]
    assert slot_events(events) == {name: None for name in PERSONAL_SLOTS}
    assert count_handoffs(kb) == 0


async def test_whole_conversation_ends_with_a_reference_and_one_mail_to_zwolle(kb):
    """request_human -> Zwolle -> description -> name -> e-mail -> consent: the actions in the order the
    form runs them, with the events each returns applied, then the outbox against a real SMTP server."""
    state: dict = {name: None for name in DOMAIN["slots"]}
    history: list[dict] = [user_event("Kan ik loonkostensubsidie krijgen voor een nieuwe medewerker?",
                                      "ask_loonkostensubsidie"),
                           {"event": "bot", "text": "Ja, via de gemeente ...", "timestamp": 1_780_000_001.0},
                           user_event("ik wil iemand van de gemeente spreken", "request_human"),
                           {"event": "active_loop", "name": FORM}]

    async def answer(text, intent, requested, candidates=None, entities=()):
        t = tracker(text, intent, slots=state, requested=requested, candidates=candidates or {},
                    history=history, entities=entities)
        slots, texts, _ = await validate(t)
        state.update(slots)
        history.append(user_event(text, intent, entities=entities))
        return texts

    state.update(await extract(tracker("Zwolle", entities=[{"entity": "gemeente", "value": "Zwolle"}],
                                       requested="gemeente", history=history)))
    await answer("Zwolle", "inform", "gemeente", candidates={"gemeente": state["gemeente"]})
    assert state["gemeente"] == "zwolle"
    dispatcher = CollectingDispatcher()
    events = await ActionAskHandoffDescription().run(
        dispatcher, tracker(slots=state, requested="handoff_description", history=history), DOMAIN)
    state.update(slot_events(events))
    await answer("ja", "affirm", "handoff_description", candidates={"handoff_description": "ja"})
    await answer("Sam de Vries", "inform", "handoff_name", candidates={"handoff_name": "Sam de Vries"})
    await answer("sam@example.nl", "inform", "handoff_contact", candidates={"handoff_contact": "sam@example.nl"})
    await answer("/affirm", "affirm", "handoff_consent", candidates={"handoff_consent": True})
    assert state["handoff_consent"] is True

    dispatcher = CollectingDispatcher()
    events = await ActionSubmitHandoff().run(
        dispatcher, tracker("/affirm", "affirm", slots=state, history=history, active=False), DOMAIN)
    text = dispatcher.messages[0]["text"]
    assert "Makelaarsteam Impact Ondernemen Zwolle" in text and "binnen 2 werkdagen" in text
    reference = next(word.strip(".") for word in text.split() if word.startswith("LKT-"))
    assert slot_events(events)["handoff_email"] is None

    with session_scope(kb) as s:
        h = s.execute(select(models.Handoff)).scalar_one()
        assert (h.reference, h.team_id, h.topic) == (reference, "zwolle", "loonkostensubsidie")
        assert h.description == "Kan ik loonkostensubsidie krijgen voor een nieuwe medewerker?"
        assert (h.contact_name, h.contact_email) == ("Sam de Vries", "sam@example.nl")
        assert [t["text"] for t in h.transcript][-1] == "ik wil iemand van de gemeente spreken"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = dataclasses.replace(load_settings(), smtp_host="127.0.0.1", smtp_port=controller.port)
        await outbox.deliver_due(kb, settings=settings)
        await outbox.deliver_due(kb, settings=settings)
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    rcpts, msg = inbox.messages[0]
    assert rcpts == ["makelaarsteam-zwolle@example.nl"] and reference in msg.get_content()
