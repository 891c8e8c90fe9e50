"""The handoff form: thin Rasa adapters around bot.conversation.routing and bot.handoffs.

Steps: gemeente (skipped when known) -> short description (proposed from the conversation, confirm with
ja/nee) -> name -> e-mail and/or phone -> explicit consent. `stop` cancels at any step (a rule);
nothing is stored without consent.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import latest_intent, route_for
from actions.forms import InterruptibleFormValidation, form_active_before_message
from bot import handoffs
from bot.conversation import answers, corrections
from bot.conversation import (
    personal_prompts as pp,  # texts around contact details get no rating buttons
)
from bot.conversation.contact import contact_summary, parse_contact
from bot.conversation.gemeenten import choose_gemeente, gemeente_labels, resolve_gemeente
from bot.conversation.language import english_place
from bot.conversation.routing import no_team_text, response_time_text, route
from bot.db import run_in_session
from bot.text import normalize

log = logging.getLogger(__name__)

FORM = "handoff_form"
# Personal and per-request slots: cleared after submit or cancel, so nothing lingers in the tracker.
PERSONAL_SLOTS = ("handoff_description", "handoff_description_draft", "handoff_name", "handoff_contact",
                  "handoff_email", "handoff_phone", "handoff_consent", "handoff_gemeente_choices")
NOT_DESCRIPTION_INTENTS = {"ask_privacy", "ask_deal_gemeenten", "ask_team_details"}
MIN_CONFIDENCE = 0.6
FREE_TEXT_SLOTS = {"handoff_description", "handoff_name", "handoff_contact"}
# The form's steps as the correction reader names them.
STEPS = {"gemeente": "gemeente", "handoff_name": "name", "handoff_contact": "contact",
         "handoff_description": "description", "handoff_consent": "consent"}
# "nee, het gaat over iets anders": a no without a new question in it.
VAGUE_REST = ("iets anders", "wat anders", "andere vraag", "ander onderwerp", "niet over")
MIN_DESCRIPTION_WORDS_AFTER_NO = 6

# Everything the form says (Dutch, B1, "u").
TEXTS = {
    "ask_name": "Wat is uw naam?",
    "ask_contact": (f"{pp.HANDOFF_ASK_CONTACT} Typ uw e-mailadres of uw telefoonnummer, of allebei. "
                    "Bijvoorbeeld: naam@voorbeeld.nl of 06 12345678."),
    "cancelled": ("Goed, ik zet uw vraag niet door. Ik heb niets opgeslagen. Heeft u nog een andere "
                  "vraag? Stel die gerust."),
    "not_stored": ("Dat is goed. Ik heb uw gegevens niet opgeslagen en niets doorgestuurd. U kunt ook zelf "
                   "contact opnemen met uw gemeente via de website van de gemeente. Heeft u nog een "
                   "andere vraag?"),
    "already": ("Dat doe ik: ik zet uw vraag door naar {team}. Daarvoor heb ik nog een paar antwoorden "
                "nodig. Wilt u stoppen? Typ dan 'stop'."),
    "gemeente_changed": "Ik heb de gemeente aangepast naar {name}.",
    "team_changed": "Ik heb de gemeente aangepast naar {name}. Uw vraag gaat nu naar {team}.",
    "name_changed": pp.NAME_CHANGED + " {name}.",
    "contact_changed": pp.CONTACT_CHANGED + " {contact}.",
    "english_intro": ("I will pass your question on to the makelaarsteam. My questions are in Dutch; "
                      "you may answer in English."),
    "failed": ("Sorry, er ging iets mis bij het opslaan. Uw vraag is nog niet doorgezet. Probeer het over "
               "een paar minuten opnieuw met 'praat met een mens'."),
}


# Words of a request to be handed over; what is left over says what the question is about.
REQUEST_WORDS = frozenset("""zet zetten door doorzetten doorsturen stuur sturen vraag vragen makelaar makelaars
makelaarsteam team mens iemand spreken praten bellen graag maar dan wel even oke ok ja prima mijn
gemeente medewerker contact""".split())
MIN_CONTENT_WORDS = 3


def describes_question(text: str) -> bool:
    """Whether a message sent at the description step says what the question is about, beyond
    asking to be handed over ("zet mijn vraag maar door" says nothing)."""
    words = [w for w in normalize(text).split() if len(w) > 2 and w not in REQUEST_WORDS]
    return len(words) >= MIN_CONTENT_WORDS


def clear_events() -> list[EventType]:
    return [SlotSet(name, None) for name in PERSONAL_SLOTS]


def _confidence(tracker: Tracker) -> float:
    return float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)


# --- the form validator ------------------------------------------------------------------------


class ValidateHandoffForm(InterruptibleFormValidation):
    def name(self) -> str:
        return "validate_handoff_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        # Mid-form: the form was running before this message (on activation it validates the
        # message that started it, which answers nothing yet).
        active = tracker.active_loop.get("name") == FORM and form_active_before_message(tracker, FORM)
        intent = latest_intent(tracker)
        requested = tracker.get_slot("requested_slot")
        text = tracker.latest_message.get("text") or ""
        if active and (intent == "stop" or (intent == "goodbye" and answers.is_farewell(text))):
            return []  # nothing extracted: Rasa rejects the form and the stop/goodbye rule cancels it
        if active and intent == "goodbye" and requested in FREE_TEXT_SLOTS:
            # Read as goodbye without saying goodbye: the mappings skipped it, so take it as the answer.
            tracker.add_slots([SlotSet(requested, text)])
        if active and requested:
            events = await self.correction(dispatcher, tracker, domain)
            if events is not None:
                return events
        if (active and intent == "request_human" and _confidence(tracker) >= MIN_CONFIDENCE
                and not (requested == "handoff_description" and describes_question(text))):
            # "zet mijn vraag maar door" in the middle: yes, that is what happens; same question again.
            r = await route_for(tracker.get_slot("gemeente"))
            team = r.team.name if r is not None and r.team else "het makelaarsteam van uw gemeente"
            dispatcher.utter_message(text=TEXTS["already"].format(team=team))
            return self.ask_again(tracker, domain)
        if (active and requested == "handoff_description" and intent.startswith("ask_")
                and intent not in NOT_DESCRIPTION_INTENTS):
            # Asked "what is your question?", a topic question IS the answer, not an interruption.
            return await FormValidationAction.run(self, dispatcher, tracker, domain)
        return await super().run(dispatcher, tracker, domain)

    async def correction(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict[str, Any]) -> list[EventType] | None:
        """An earlier answer corrected at a later step: change it, say so, ask this step again."""
        current = tracker.get_slot("gemeente")
        known = {"gemeente": current, "name": tracker.get_slot("handoff_name"),
                 "email": tracker.get_slot("handoff_email"), "phone": tracker.get_slot("handoff_phone")}
        text = tracker.latest_message.get("text") or ""
        step = STEPS.get(tracker.get_slot("requested_slot") or "", "other")

        def work(session):
            labels = gemeente_labels(session, current)

            def resolve(rest: str) -> str | None:
                res = resolve_gemeente(session, rest)
                return res.gemeente_id if res.status == "found" else None

            found = corrections.detect(text, step=step, known=known, gemeente_labels=labels,
                                       resolve_gemeente=resolve, kinds=("contact", "name", "gemeente"))
            if found is None or found.kind != "gemeente":
                return found, None
            return found, route(session, found.value)

        found, new_route = await run_in_session(work)
        if found is None:
            return None
        changes: dict[str, Any] = {}
        if found.kind == "gemeente" and new_route is not None:
            changes = {"gemeente": found.value, "handoff_gemeente_choices": None}
            if new_route.has_team:
                dispatcher.utter_message(text=TEXTS["team_changed"].format(
                    name=new_route.gemeente.name, team=new_route.team.name))
            else:  # the form ends now: the submit action says there is no team and what to do instead
                dispatcher.utter_message(text=TEXTS["gemeente_changed"].format(name=new_route.gemeente.name))
                requested = tracker.get_slot("requested_slot")
                return [*(SlotSet(k, v) for k, v in changes.items()), SlotSet(requested, None),
                        SlotSet("requested_slot", None)]
        elif found.kind == "name":
            changes = {"handoff_name": found.value}
            dispatcher.utter_message(text=TEXTS["name_changed"].format(name=found.value))
        elif found.kind == "contact":
            # A new address replaces the address and keeps the number (and the other way round).
            email = found.email or known["email"]
            phone = found.phone or known["phone"]
            summary = contact_summary(email, phone)
            changes = {"handoff_email": email, "handoff_phone": phone, "handoff_contact": summary}
            dispatcher.utter_message(text=TEXTS["contact_changed"].format(contact=summary))
        if not changes:
            return None
        return self.ask_again(tracker, domain, changes)

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> list[str]:
        r = await route_for(tracker.get_slot("gemeente"))
        if r is not None and not r.has_team:
            return ["gemeente"]  # no team to hand over to: end here, the submit action explains
        return domain_slots

    # gemeente ------------------------------------------------------------------------------

    async def extract_gemeente(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        # The typed answer, when action_extract_gemeente found nothing in it: validate_gemeente
        # below says what was wrong with it (extra slots set here would be dropped by the SDK).
        if tracker.get_slot("requested_slot") != "gemeente" or "gemeente" in tracker.slots_to_validate():
            return {}
        text = (tracker.latest_message.get("text") or "").strip()
        return {"gemeente": text[:200]} if text else {}

    async def validate_gemeente(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: dict[str, Any]) -> dict[str, Any]:
        if not value:
            return {"gemeente": None}
        text = str(value)
        choices = tracker.get_slot("handoff_gemeente_choices") or []

        def work(session):
            if choices:  # "die in Noord-Holland" after "Bergen (L.) or Bergen (NH.)?"
                chosen = choose_gemeente(session, choices, text)
                if chosen:
                    return resolve_gemeente(session, chosen)
            return resolve_gemeente(session, english_place(text) or text)

        res = await run_in_session(work)
        if res.status == "found":
            return {"gemeente": res.gemeente_id, "handoff_gemeente_choices": None}
        if res.status == "ambiguous":
            return {"gemeente": None, "handoff_gemeente_choices": [g.name for g in res.candidates[:6]]}
        if res.postcode:
            dispatcher.utter_message(text=f"Bij postcode {res.postcode} kan ik geen gemeente vinden.")
        else:
            dispatcher.utter_message(text="Ik kan daar geen gemeente in vinden.")
        return {"gemeente": None, "handoff_gemeente_choices": None}

    # description ------------------------------------------------------------------------------

    async def validate_handoff_description(self, value: Any, dispatcher: CollectingDispatcher,
                                           tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        draft = tracker.get_slot("handoff_description_draft")
        intent = latest_intent(tracker)
        text = " ".join(str(value or "").split())
        if draft:
            said, rest = answers.leading_yes_no(text)
            if said is None and intent in ("affirm", "deny") and len(text.split()) <= 4:
                said, rest = intent == "affirm", ""
            if said is True:
                return {"handoff_description": draft, "handoff_description_draft": None}
            if said is False:
                # "nee, het gaat over een pand voor mijn werkplaats" brings the new question along.
                if (len(rest.split()) >= MIN_DESCRIPTION_WORDS_AFTER_NO
                        and not any(v in rest.lower() for v in VAGUE_REST)):
                    return {"handoff_description": rest[:handoffs.MAX_DESCRIPTION],
                            "handoff_description_draft": None}
                return {"handoff_description": None, "handoff_description_draft": ""}
        if len(text) < 12 or len(text.split()) < 3:
            dispatcher.utter_message(text="Kunt u iets meer vertellen over uw vraag? Eén of twee zinnen "
                                          "is genoeg.")
            return {"handoff_description": None}
        return {"handoff_description": text[:handoffs.MAX_DESCRIPTION], "handoff_description_draft": None}

    # name and contact ----------------------------------------------------------------------------

    async def validate_handoff_name(self, value: Any, dispatcher: CollectingDispatcher,
                                    tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        name = " ".join(str(value or "").split())
        if latest_intent(tracker) == "deny" and answers.is_yes_no(name):
            dispatcher.utter_message(text="Het team heeft uw naam nodig om contact met u op te nemen. "
                                          "Wilt u dat liever niet? Typ dan 'stop'.")
            return {"handoff_name": None}
        problem = answers.name_problem(name)
        if problem == "not_a_name":
            dispatcher.utter_message(text=f"{pp.BAD_NAME} Typ uw voornaam en achternaam, "
                                          "bijvoorbeeld: Sam de Vries.")
            return {"handoff_name": None}
        if problem:
            dispatcher.utter_message(text=answers.NAME_PROBLEMS[problem])
            return {"handoff_name": None}
        return {"handoff_name": name}

    async def validate_handoff_contact(self, value: Any, dispatcher: CollectingDispatcher,
                                       tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        email, phone, problem = parse_contact(str(value or ""))
        if problem:
            dispatcher.utter_message(text=problem)
            return {"handoff_contact": None, "handoff_email": None, "handoff_phone": None}
        return {"handoff_contact": contact_summary(email, phone), "handoff_email": email,
                "handoff_phone": phone}

    # consent --------------------------------------------------------------------------------------

    async def extract_handoff_consent(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: dict[str, Any]) -> dict[str, Any]:
        if (tracker.get_slot("requested_slot") != "handoff_consent"
                or "handoff_consent" in tracker.slots_to_validate()
                or latest_intent(tracker) in ("stop", "affirm", "deny")):
            return {}
        dispatcher.utter_message(text="Ik heb een duidelijk ja of nee nodig.")
        return {"handoff_consent": None}

    async def validate_handoff_consent(self, value: Any, dispatcher: CollectingDispatcher,
                                       tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        return {"handoff_consent": value if isinstance(value, bool) else None}


# --- questions the form asks -------------------------------------------------------------------


class ActionAskHandoffGemeente(Action):
    def name(self) -> str:
        return "action_ask_handoff_form_gemeente"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        choices = tracker.get_slot("handoff_gemeente_choices") or []
        if choices:
            dispatcher.utter_message(
                text="Er zijn meer gemeenten met die naam. Welke bedoelt u?",
                buttons=[{"title": name, "payload": name} for name in choices])
            return []
        dispatcher.utter_message(text="In welke gemeente is uw bedrijf gevestigd? U mag ook uw "
                                      "woonplaats of postcode typen.")
        return []


class ActionAskHandoffName(Action):
    def name(self) -> str:
        return "action_ask_handoff_name"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=TEXTS["ask_name"])
        return []


class ActionAskHandoffContact(Action):
    def name(self) -> str:
        return "action_ask_handoff_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=TEXTS["ask_contact"])
        return []


class ActionAskHandoffDescription(Action):
    def name(self) -> str:
        return "action_ask_handoff_description"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        draft = tracker.get_slot("handoff_description_draft")
        events: list[EventType] = []
        if draft is None:  # first time: propose the user's last question from this conversation
            # Answers typed into an earlier (cancelled) form are no question to propose.
            draft = handoffs.last_question(events_outside_forms(tracker.events)) or ""
            events.append(SlotSet("handoff_description_draft", draft))
        if draft:
            dispatcher.utter_message(
                text=f"Gaat uw vraag hierover?\n\"{draft}\"",
                buttons=[{"title": "Ja", "payload": "/affirm"}, {"title": "Nee", "payload": "/deny"}])
        else:
            dispatcher.utter_message(text="Waar gaat uw vraag over? Beschrijf het in één of twee zinnen. "
                                          "Dan weet het team wie u het beste kan helpen.")
        return events


class ActionAskHandoffConsent(Action):
    def name(self) -> str:
        return "action_ask_handoff_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        r = await route_for(tracker.get_slot("gemeente"))
        team = r.team.name if r and r.team else "het makelaarsteam van uw gemeente"
        lines = [
            f"Ik stuur dit naar {team}:",
            f"- Vraag: {tracker.get_slot('handoff_description')}",
            f"- Naam: {tracker.get_slot('handoff_name')}",
            f"- Contact: {tracker.get_slot('handoff_contact')}",
            f"{pp.HANDOFF_CONSENT} Het team gebruikt ze alleen om u te "
            "helpen met deze vraag. Zonder uw toestemming sla ik niets op.",
        ]
        dispatcher.utter_message(
            text="\n".join(lines),
            buttons=[{"title": "Ja, ik geef toestemming", "payload": "/affirm"},
                     {"title": "Nee", "payload": "/deny"}])
        return []


def events_outside_forms(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events without the user's messages sent while a form was running."""
    out: list[dict[str, Any]] = []
    active = None
    for event in events:
        kind = event.get("event")
        if kind == "active_loop":
            active = event.get("name")
        if kind == "user" and active:
            continue
        out.append(event)
    return out


# --- around the form ------------------------------------------------------------------------------


class ActionHandoffIntro(Action):
    def name(self) -> str:
        return "action_handoff_intro"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        r = await route_for(tracker.get_slot("gemeente"))
        if r is not None and not r.has_team:
            return []  # the form ends at once; the submit action gives the alternatives
        who = r.team.name if r is not None else "het makelaarsteam van uw gemeente"
        text = (f"Ik zet uw vraag door naar {who}. Dat zijn mensen van de gemeente. Eerst stel ik u een "
                "paar korte vragen. Wilt u stoppen? Typ dan 'stop'.")
        if tracker.get_slot("language") == "en":  # the questions stay Dutch, with one English line
            text = f"{TEXTS['english_intro']}\n{text}"
        dispatcher.utter_message(text=text)
        return []


class ActionSubmitHandoff(Action):
    def name(self) -> str:
        return "action_submit_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        gemeente_id = tracker.get_slot("gemeente")
        topic = handoffs.topic_from_events(tracker.events)
        r = await route_for(gemeente_id, topic)
        if r is not None and not r.has_team:
            dispatcher.utter_message(text=no_team_text(r))
            return clear_events()
        if tracker.get_slot("handoff_consent") is not True or r is None:
            dispatcher.utter_message(text=TEXTS["not_stored"])
            return clear_events()

        def store(session):
            return handoffs.create_handoff(
                session, sender_id=tracker.sender_id, gemeente_id=gemeente_id,
                description=tracker.get_slot("handoff_description") or "",
                contact_name=tracker.get_slot("handoff_name"),
                contact_email=tracker.get_slot("handoff_email"),
                contact_phone=tracker.get_slot("handoff_phone"),
                consent=True, topic=topic, transcript=handoffs.transcript_from_events(tracker.events))

        try:
            created = await run_in_session(store)
        except handoffs.HandoffError as exc:
            dispatcher.utter_message(text=f"{exc} Ik heb niets doorgestuurd.")
            return clear_events()
        except Exception as exc:  # database trouble: say so, keep the answers so a retry is quick
            # Only the type: database errors can carry the row values (personal data) in their text.
            log.error("handoff could not be stored (%s)", type(exc).__name__)
            dispatcher.utter_message(text=TEXTS["failed"])
            return [SlotSet("handoff_consent", None)]
        log.info("handoff %s stored for team %s", created.reference, created.team_id)
        dispatcher.utter_message(text=(
            f"Dank u wel. Uw vraag is doorgezet naar {created.team_name}. "
            f"Uw referentienummer is {created.reference}. Bewaar dit nummer. "
            f"Het team neemt {response_time_text(created.response_days)} contact met u op. "
            "Kan ik u nog ergens anders mee helpen?"))
        return clear_events()


class ActionCancelHandoff(Action):
    def name(self) -> str:
        return "action_cancel_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=TEXTS["cancelled"])
        return clear_events()
