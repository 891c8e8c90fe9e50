"""The knelpunt form's actions against a database, driven the way Rasa drives a form.

FormRun plays Rasa's part: after each user message it fills the requested slot from the text (the
from_text mappings in domain/knelpunt.yml, `stop` excluded), runs the validator, works out the next
slot to ask and runs its action_ask_* action. The acceptance conversation ends in the dashboard.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import knelpunt as ka
from actions.unanswered import ActionDefaultFallback, ActionFeedbackUnhelpful, previous_exchange
from bot import models
from bot.conversation.gemeenten import resolve_gemeente
from bot.db import session_scope

DOMAIN_FILE = Path(__file__).resolve().parent.parent / "domain" / "knelpunt.yml"
DOMAIN = yaml.safe_load(DOMAIN_FILE.read_text())
DOMAIN.setdefault("slots", {})["gemeente"] = {"type": "text", "mappings": [{"type": "custom"}]}
FROM_TEXT = {name for name, slot in DOMAIN["slots"].items()
             if any(m.get("type") == "from_text" for m in slot.get("mappings", []))}
ASK = {cls().name(): cls() for cls in (
    ka.ActionAskKnelpuntDescription, ka.ActionAskKnelpuntDescriptionOk, ka.ActionAskKnelpuntCategory,
    ka.ActionAskKnelpuntOrganisations, ka.ActionAskKnelpuntConsequence,
    ka.ActionAskKnelpuntContactConsent, ka.ActionAskKnelpuntContactName,
    ka.ActionAskKnelpuntContactEmail)}
ASK["action_ask_gemeente"] = ka.ActionAskKnelpuntGemeente()
REFERENCE = re.compile(r"KNP-\d{4}-\d{6}")


def test_domain_lists_every_form_action_and_slot():
    names = {a if isinstance(a, str) else next(iter(a)) for a in DOMAIN["actions"]}  # or {name: {send_domain}}
    assert {a.name() for a in ASK.values()} <= names
    assert set(DOMAIN["forms"]["knelpunt_form"]["required_slots"]) - {"gemeente"} <= set(DOMAIN["slots"])
    assert set(ka.FORM_SLOTS) <= set(DOMAIN["slots"])


class FormRun:
    """A conversation with the knelpunt form, with Rasa's form loop played in Python."""

    def __init__(self, engine, sender: str = "chat-1", slots: dict[str, Any] | None = None):
        self.engine = engine
        self.sender = sender
        self.slots: dict[str, Any] = {name: None for name in DOMAIN["slots"]}
        self.slots.update({"requested_slot": None, **(slots or {})})
        self.active = False
        self.events: list[dict[str, Any]] = []
        self.latest: dict[str, Any] = {}
        self.bot: list[dict[str, Any]] = []  # messages of the latest turn

    def tracker(self, extra_events: list[dict[str, Any]] | None = None) -> Tracker:
        loop = {"name": ka.FORM} if self.active else {}
        return Tracker(self.sender, dict(self.slots), self.latest, self.events + (extra_events or []),
                       False, None, loop, "action_listen")

    def apply(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            if e.get("event") == "slot":
                self.slots[e["name"]] = e["value"]
        self.events += events

    async def run(self, action) -> list[dict[str, Any]]:
        dispatcher = CollectingDispatcher()
        events = await action.run(dispatcher, self.tracker(), DOMAIN)
        self.apply(events)
        self.bot += dispatcher.messages
        return events

    def user(self, text: str, intent: str, confidence: float = 0.95) -> None:
        self.bot = []
        self.latest = {"text": text, "intent": {"name": intent, "confidence": confidence},
                       "entities": []}
        self.events.append({"event": "user", "text": text, "parse_data": self.latest})

    async def say(self, text: str, intent: str = "inform", confidence: float = 0.95) -> str:
        """A message while the form is active; returns 'asked', 'done' or 'rejected'."""
        self.user(text, intent, confidence)
        requested = self.slots["requested_slot"]
        candidates = []
        if intent != "stop" and requested in FROM_TEXT:
            candidates.append({"event": "slot", "name": requested, "value": text})
        if requested == "gemeente":  # action_extract_gemeente, the slot's custom mapping
            res = await _resolve(self.engine, text)
            if res:
                candidates.append({"event": "slot", "name": "gemeente", "value": res})
        return await self._validate(candidates)

    async def start(self) -> str:
        """The form is activated: prefilled slots are validated, then the first question is asked."""
        self.active = True
        prefilled = [{"event": "slot", "name": n, "value": v} for n, v in self.slots.items()
                     if v is not None and n in DOMAIN["forms"]["knelpunt_form"]["required_slots"]]
        return await self._validate(prefilled, activation=True)

    async def _validate(self, candidates: list[dict[str, Any]], activation: bool = False) -> str:
        dispatcher = CollectingDispatcher()
        tracker = self.tracker([{"event": "action", "name": ka.FORM}] + candidates)
        events = await ka.ValidateKnelpuntForm().run(dispatcher, tracker, DOMAIN)
        self.bot += dispatcher.messages
        if not activation and not candidates and not any(
                e["event"] == "slot" and e["name"] != "requested_slot" for e in events):
            return "rejected"  # Rasa rejects the form; rules or policies take over
        self.apply(events)
        requested = next((e["value"] for e in reversed(events)
                          if e["event"] == "slot" and e["name"] == "requested_slot"), "unset")
        if requested == "unset":  # the validator left it to Rasa: first empty slot of the domain list
            requested = next((s for s in DOMAIN["forms"]["knelpunt_form"]["required_slots"]
                              if self.slots.get(s) is None), None)
        self.slots["requested_slot"] = requested
        if requested is None:
            self.active = False
            return "done"
        ask = ASK.get(f"action_ask_{requested}")
        await self.run(ask)
        return "asked"

    def texts(self) -> str:
        return "\n".join(m.get("text") or m.get("response") or "" for m in self.bot)

    def buttons(self) -> list[str]:
        return [b["title"] for m in self.bot for b in (m.get("buttons") or [])]


async def _resolve(engine, text: str) -> str | None:
    from bot.db import run_in_session

    res = await run_in_session(lambda s: resolve_gemeente(s, text), engine)
    return res.gemeente_id if res.status == "found" else None


def _stored(engine) -> list[models.Knelpunt]:
    with session_scope(engine) as s:
        return list(s.execute(select(models.Knelpunt).order_by(models.Knelpunt.id)).scalars())


ACCEPTANCE = "de gemeente vraagt bij elke kleine opdracht drie referenties"


async def _described_and_accepted(run: FormRun) -> None:
    run.user(ACCEPTANCE, "describe_knelpunt")
    await run.run(ka.ActionOfferKnelpunt())
    assert run.texts() == "Wilt u dit melden als knelpunt? Dan geven wij het door aan de overheid."
    assert run.buttons() == ["Ja, meld het", "Nee"]
    run.user("ja", "affirm")
    await run.run(ka.ActionKnelpuntPrefill())
    assert await run.start() == "asked"
    assert run.slots["requested_slot"] == "knelpunt_description_ok"
    assert f'"{ACCEPTANCE}"' in run.texts()


async def test_acceptance_conversation_ends_with_reference_and_shows_in_dashboard(
        loaded, aiohttp_client):
    run = FormRun(loaded)
    await _described_and_accepted(run)
    assert await run.say("ja", "affirm") == "asked"
    assert run.slots["requested_slot"] == "knelpunt_category"
    assert "Inkoop/aanbesteding" in run.buttons()
    # The button text is classified as a procurement question, but it answers the form's question.
    assert await run.say("inkoop/aanbesteding", "ask_procurement", 0.93) == "asked"
    assert run.slots["knelpunt_category"] == "inkoop_aanbesteding"
    assert await run.say("de gemeente", "inform") == "asked"
    assert run.slots["requested_slot"] == "gemeente"
    assert await run.say("Zwolle", "inform") == "asked"
    assert run.slots["gemeente"] == "zwolle"
    assert await run.say("We doen niet meer mee aan kleine opdrachten.", "describe_knelpunt") == "asked"
    assert run.slots["requested_slot"] == "knelpunt_contact_consent"
    assert await run.say("nee", "deny") == "done"

    await run.run(ka.ActionSubmitKnelpunt())
    reference = REFERENCE.search(run.texts()).group(0)
    assert "Het coördinatieteam bekijkt uw melding" in run.texts()
    assert "hoort u niet persoonlijk" in run.texts()
    assert all(run.slots[name] is None for name in ka.FORM_SLOTS)  # the form's slots are cleared
    assert run.slots["gemeente"] == "zwolle"  # the conversation keeps the gemeente

    [k] = _stored(loaded)
    assert (k.reference, k.category, k.track, k.gemeente_id) == (reference, "inkoop_aanbesteding", 1,
                                                                  "zwolle")
    assert k.description == ACCEPTANCE and k.organisations == ["gemeente"]
    assert (k.contact_name, k.contact_email, k.sender_id) == (None, None, None)

    # ... and the coordination team sees it under inkoop/aanbesteding, track 1.
    from bot.settings import load_settings
    from bot.web.app import create_app
    from bot.web.auth import create_user
    from tests.support.web import PASSWORD, login, parse_table

    with session_scope(loaded) as s:
        create_user(s, "coord", PASSWORD, "coordinatie")
    client = await aiohttp_client(create_app(load_settings(), loaded))
    await login(client, "coord")
    html = await (await client.get("/coordinatie?categorie=inkoop_aanbesteding&spoor=1")).text()
    _, rows = parse_table(html)
    assert [(r[0], r[2], r[3], r[4], r[8]) for r in rows] == [
        (reference, "inkoop/aanbesteding", "1", "Zwolle", ACCEPTANCE)]


async def test_explicit_report_with_contact_consent_keeps_name_and_email(loaded):
    run = FormRun(loaded, sender="chat-consent", slots={"gemeente": "utrecht"})
    run.user("ik wil een knelpunt melden", "report_knelpunt")
    assert await run.start() == "asked"
    assert run.slots["requested_slot"] == "knelpunt_description"
    assert "Wat is er gebeurd?" in run.texts()
    assert await run.say("kort", "inform") == "asked"  # too short: asked again
    assert run.slots["requested_slot"] == "knelpunt_description"
    assert await run.say("De bank wil geen lening geven aan onze stichting.", "describe_knelpunt") == "asked"
    assert run.slots["knelpunt_description_ok"] == "ja"  # typed in the form: nothing to confirm
    assert run.slots["requested_slot"] == "knelpunt_category"
    assert await run.say("bananen", "inform") == "asked"
    assert "Dat onderwerp ken ik niet" in run.texts()
    assert await run.say("financiering", "ask_impact_financing", 0.9) == "asked"
    assert await run.say("Rabobank en een fonds", "inform") == "asked"
    assert run.slots["requested_slot"] == "knelpunt_consequence"  # gemeente known: skipped
    assert await run.say("We kunnen niet groeien", "inform") == "asked"
    assert await run.say("ja", "affirm") == "asked"
    assert run.slots["requested_slot"] == "knelpunt_contact_name"
    assert await run.say("Iemand van Example", "inform") == "asked"
    assert await run.say("iemand@", "inform") == "asked"
    assert "e-mailadres klopt niet" in run.texts()
    assert await run.say("mijn adres is iemand@example.org", "inform") == "done"
    await run.run(ka.ActionSubmitKnelpunt())
    assert "mailen zij u op iemand@example.org" in run.texts()
    [k] = _stored(loaded)
    assert (k.category, k.track, k.gemeente_id) == ("financiering", 3, "utrecht")
    assert (k.contact_consent, k.contact_name, k.contact_email, k.sender_id) == (
        True, "Iemand van Example", "iemand@example.org", "chat-consent")
    assert k.organisations == ["Rabobank", "fonds"]


async def test_the_prefilled_description_can_be_corrected(loaded):
    run = FormRun(loaded, slots={"gemeente": "zwolle"})
    await _described_and_accepted(run)
    assert await run.say("nee", "deny") == "asked"
    assert run.slots["requested_slot"] == "knelpunt_description"
    assert "Hoe wilt u het knelpunt dan beschrijven?" in run.texts()
    assert await run.say("Voor elke opdracht onder 10.000 euro vraagt de gemeente drie referenties.",
                         "describe_knelpunt") == "asked"
    assert run.slots["requested_slot"] == "knelpunt_category"
    assert run.slots["knelpunt_description"].startswith("Voor elke opdracht onder 10.000 euro")

    # A new wording instead of ja/nee is taken as the correction.
    other = FormRun(loaded, slots={"gemeente": "zwolle"})
    await _described_and_accepted(other)
    assert await other.say("het gaat om referenties bij kleine inkoop", "describe_knelpunt") == "asked"
    assert other.slots["knelpunt_description"] == "het gaat om referenties bij kleine inkoop"
    assert "Ik heb de beschrijving aangepast." in other.texts()


async def test_a_question_in_the_middle_is_answered_and_the_same_question_comes_back(loaded):
    run = FormRun(loaded)
    run.user("knelpunt melden", "report_knelpunt")
    await run.start()
    await run.say("De vergunning duurt al een half jaar.", "describe_knelpunt")
    await run.say("wet- en regelgeving", "inform")
    await run.say("weet ik niet", "deny")
    assert run.slots["knelpunt_organisations"] == "onbekend"
    assert run.slots["requested_slot"] == "gemeente"
    # A question where no free text is mapped (the gemeente): answered, then the gemeente again.
    assert await run.say("ben je een bot?", "bot_challenge") == "asked"
    assert [m.get("response") for m in run.bot[:2]] == ["utter_iamabot", "utter_back_to_form"]
    assert run.slots["requested_slot"] == "gemeente"
    assert "In welke gemeente" in run.texts()
    assert await run.say("weet ik niet", "deny") == "asked"  # skipped, not asked again
    assert run.slots["knelpunt_gemeente_unknown"] is True
    assert run.slots["requested_slot"] == "knelpunt_consequence"
    # A question at a free-text step: the text is not taken as the answer.
    assert await run.say("wat kun je allemaal?", "what_can_you_do") == "asked"
    assert run.bot[0].get("response") == "utter_what_can_you_do"
    assert run.slots["knelpunt_consequence"] is None
    assert run.slots["requested_slot"] == "knelpunt_consequence"
    # A plain statement is an answer even if the classifier is unsure what it is.
    assert await run.say("Wij verliezen klanten", "ask_permits", 0.7) == "asked"
    assert run.slots["knelpunt_consequence"] == "Wij verliezen klanten"
    assert await run.say("nee", "deny") == "done"
    await run.run(ka.ActionSubmitKnelpunt())
    [k] = _stored(loaded)
    assert (k.gemeente_id, k.organisations, k.track) == (None, [], 1)


async def test_stop_cancels_and_stores_nothing(loaded):
    run = FormRun(loaded)
    await _described_and_accepted(run)
    assert await run.say("stop", "stop") == "rejected"  # the stop rule takes over
    await run.run(ka.ActionCancelKnelpunt())
    assert "Ik heb niets opgeslagen" in run.texts()
    assert all(run.slots[name] is None for name in ka.FORM_SLOTS)
    assert _stored(loaded) == []


async def test_a_long_answer_classified_as_stop_is_still_an_answer(loaded):
    run = FormRun(loaded, slots={"gemeente": "zwolle"})
    run.user("knelpunt melden", "report_knelpunt")
    await run.start()
    await run.say("De gemeente betaalt facturen pas na negentig dagen.", "describe_knelpunt")
    await run.say("uitvoering/loket", "inform")
    await run.say("de gemeente", "inform")
    assert run.slots["requested_slot"] == "knelpunt_consequence"
    assert await run.say("Misschien moeten we stoppen met het bedrijf", "stop", 0.7) == "asked"
    assert run.slots["knelpunt_consequence"] == "Misschien moeten we stoppen met het bedrijf"
    assert run.slots["requested_slot"] == "knelpunt_contact_consent"
    assert await run.say("stop", "stop") == "rejected"


async def test_declined_offer_forgets_the_complaint(loaded):
    run = FormRun(loaded)
    run.user(ACCEPTANCE, "describe_knelpunt")
    await run.run(ka.ActionOfferKnelpunt())
    assert run.slots["knelpunt_candidate"] == ACCEPTANCE
    run.user("nee", "deny")
    await run.run(ka.ActionKnelpuntDeclined())
    assert run.slots["knelpunt_candidate"] is None
    assert _stored(loaded) == []


@pytest.mark.parametrize(("text", "intent", "requested", "expected"), [
    ("Financiering", "ask_impact_financing", "knelpunt_category", True),
    ("wat is social return?", "ask_social_return", "knelpunt_consequence", False),
    ("ja", "affirm", "knelpunt_contact_consent", True),
    ("iemand@example.org", "inform", "knelpunt_contact_email", True),
    ("ben je een bot", "bot_challenge", "knelpunt_organisations", False),
    ("Wij missen opdrachten", "ask_assignments", "knelpunt_consequence", True),
])
def test_direct_answers_are_told_apart_from_questions(text, intent, requested, expected):
    tracker = Tracker("s", {"requested_slot": requested},
                      {"text": text, "intent": {"name": intent, "confidence": 0.9}}, [], False, None,
                      {"name": ka.FORM}, "action_listen")
    assert ka.is_direct_answer(tracker) is expected


# --- unanswered questions ------------------------------------------------------------------------


async def test_default_fallback_records_the_message_and_reverts_it(loaded):
    tracker = Tracker("chat-9", {"gemeente": "zwolle"},
                      {"text": "hoe zit het met de hondenbelasting voor mijn kantoorhond",
                       "intent": {"name": "nlu_fallback", "confidence": 0.31}}, [], False, None, {},
                      "action_listen")
    dispatcher = CollectingDispatcher()
    events = await ActionDefaultFallback().run(dispatcher, tracker, {})
    assert events == [{"event": "rewind", "timestamp": None}]
    assert dispatcher.messages[0]["response"] == "utter_default"
    with session_scope(loaded) as s:
        [row] = s.execute(select(models.UnansweredQuestion)).scalars().all()
        assert (row.text, row.reason, row.confidence, row.gemeente_id, row.sender_id) == (
            "hoe zit het met de hondenbelasting voor mijn kantoorhond", "fallback", 31, "zwolle", "chat-9")


async def test_unhelpful_feedback_records_question_and_answer_and_offers_a_makelaar(loaded):
    events = [
        {"event": "user", "text": "Wat is de BVm?", "parse_data": {"intent": {"name": "ask_maatschappelijke_bv"}}},
        {"event": "bot", "text": "De BVm bestaat nog niet."},
        {"event": "bot", "text": "Kan ik u nog helpen?"},
        {"event": "user", "text": "dit helpt me niet"},
    ]
    assert previous_exchange(events) == ("Wat is de BVm?", "De BVm bestaat nog niet.\nKan ik u nog helpen?")
    tracker = Tracker("chat-5", {}, {"text": "dit helpt me niet",
                                     "intent": {"name": "feedback_unhelpful", "confidence": 0.9}},
                      events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    await ActionFeedbackUnhelpful().run(dispatcher, tracker, {})
    assert "Wilt u met een makelaar" in dispatcher.messages[0]["text"]
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/request_human", "/deny"]
    with session_scope(loaded) as s:
        [row] = s.execute(select(models.UnansweredQuestion)).scalars().all()
        assert (row.text, row.reason, row.intent) == ("Wat is de BVm?", "unhelpful", "ask_maatschappelijke_bv")
        assert row.bot_answer.startswith("De BVm bestaat nog niet.")
