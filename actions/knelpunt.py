"""The knelpunt form: thin Rasa adapters around bot.knelpunten.

Steps: what happened (pre-filled from a described complaint and confirmed with ja/nee, or typed) ->
category (buttons or typed) -> organisation(s) -> gemeente (skipped when known) -> consequence ->
contact consent (ja: name and e-mail). `stop` cancels at any step (one rule); nothing is stored then.
Without consent no personal data goes with the knelpunt. The texts live here, not in the domain:
every one is sent by an action (responses no story names would be "unused" for `rasa data validate`).
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from typing import Any

from email_validator import EmailNotValidError, validate_email
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import route_for
from actions.forms import InterruptibleFormValidation, form_active_before_message, is_interruption
from actions.knowledge import HUMAN_BUTTON
from bot import knelpunten as kp
from bot import models
from bot.conversation import answers, corrections
from bot.conversation import fallback as fallback_plan
from bot.conversation import (
    personal_prompts as pp,  # texts around contact details get no rating buttons
)
from bot.conversation.gemeenten import choose_gemeente, gemeente_labels, resolve_gemeente
from bot.conversation.routing import no_team_text
from bot.db import run_in_session

log = logging.getLogger(__name__)

FORM = "knelpunt_form"
# Cleared after submit and cancel, so no free text or contact detail lingers in the tracker.
FORM_SLOTS = ("knelpunt_candidate", "knelpunt_description", "knelpunt_description_ok",
              "knelpunt_category", "knelpunt_organisations", "knelpunt_consequence",
              "knelpunt_contact_consent", "knelpunt_contact_name", "knelpunt_contact_email",
              "knelpunt_gemeente_unknown", "knelpunt_gemeente_choices", "knelpunt_category_tries",
              "knelpunt_offered")
MIN_DESCRIPTION_CHARS = 10
# A message classified as `stop` with at least this many words at a free-text step is an answer.
STOP_MAX_WORDS = 5
YES = {"ja", "ja graag", "jazeker", "ja hoor", "ja, dat klopt", "klopt", "dat klopt", "goed", "prima",
       "oke", "oké", "ok", "akkoord", "zeker", "correct", "yes", "/affirm", "ja dat klopt", "ja, graag",
       "ja, dat mag", "dat mag", "mag", "ja prima"}
NO = {"nee", "nee dank u", "nee dank je", "nee hoor", "nee, dat klopt niet", "klopt niet", "niet goed",
      "liever niet", "no", "neen", "/deny", "nee bedankt", "nee, liever niet", "niet nodig",
      "nee dat klopt niet"}
QUESTION_WORDS = {"wat", "wie", "waar", "wanneer", "hoe", "welke", "welk", "waarom", "waarvoor",
                  "kan", "kun", "kunt", "mag", "moet", "is", "zijn", "ben", "heb", "heeft", "hebben",
                  "doet", "doen", "wordt", "worden", "bestaat", "klopt", "weet", "geldt"}
FREE_TEXT_SLOTS = {"knelpunt_description", "knelpunt_organisations", "knelpunt_consequence",
                   "knelpunt_contact_name", "gemeente"}
# The form's steps as the correction reader names them.
STEPS = {"knelpunt_category": "category", "gemeente": "gemeente", "knelpunt_contact_name": "name",
         "knelpunt_contact_email": "contact"}
# Unclear answers at the category step before the form takes "anders" and goes on.
CATEGORY_TRIES = 2

CATEGORY_BUTTONS = [{"title": label[:1].upper() + label[1:], "payload": label}
                    for label in kp.CATEGORIES.values()]

# Everything the form says (Dutch, B1, "u").
TEXTS = {
    "offer": "Wilt u dit melden als knelpunt? Dan geven wij het door aan de overheid.",
    "offer_after_answer": ("Loopt u hier echt op vast? Wilt u het ook melden als knelpunt? Dan geven wij "
                           "het door aan de overheid."),
    "routing": ("In de gemeente {gemeente} helpt het {team} u verder als u vastloopt tussen loketten. "
                "Typ 'praat met een mens', dan zet ik uw vraag door."),
    "routing_unknown": ("Het makelaarsteam van uw gemeente helpt u de weg te vinden als u vastloopt "
                        "tussen loketten. Typ 'praat met een mens', dan zet ik uw vraag door."),
    "declined": "Goed, ik meld het niet. Kan ik u ergens anders mee helpen?",
    "ask_description": ("Ik stel u een paar korte vragen over het knelpunt. Wat is er gebeurd? Beschrijf "
                        "in een paar zinnen welke regel of werkwijze u tegenhoudt. Wilt u stoppen? "
                        "Typ dan 'stop'."),
    "ask_description_again": "Hoe wilt u het knelpunt dan beschrijven? Typ het in een paar zinnen.",
    "ask_description_ok": "Ik noteer dit als het knelpunt:\n\"{description}\"\nKlopt dat?",
    "description_short": "Kunt u iets meer vertellen? Beschrijf in een paar woorden wat er gebeurde.",
    "description_changed": "Ik heb de beschrijving aangepast.",
    "yes_no": "Ik heb een duidelijk ja of nee nodig.",
    "ask_category": "Over welk onderwerp gaat het knelpunt? Kies een knop of typ het zelf.",
    "category_unknown": "Dat onderwerp ken ik niet. Kies een van de knoppen, of typ het in een paar woorden.",
    "category_unknown_again": ("Ik kan het onderwerp nog niet bepalen. Past het bij geen van de knoppen? "
                               "Kies dan 'Anders'. Wilt u liever met een mens praten? Typ dan 'stop' "
                               "en daarna 'praat met een mens'."),
    "category_other": "Ik kies het onderwerp 'Anders'. Het coördinatieteam kijkt er later naar.",
    "category_changed": "Ik heb het onderwerp aangepast naar {label}.",
    "gemeente_changed": "Ik heb de gemeente aangepast naar {name}.",
    "name_changed": pp.NAME_CHANGED + " {name}.",
    "email_changed": pp.CONTACT_CHANGED + " {email}.",
    "ask_organisations": ("Bij welke organisatie of organisaties liep u hier tegenaan? Bijvoorbeeld de "
                          "gemeente, UWV of een ministerie. Weet u het niet? Typ dan 'weet ik niet'."),
    "ask_gemeente": ("In welke gemeente is uw bedrijf gevestigd? U mag ook uw woonplaats of postcode "
                     "typen. Zegt u dat liever niet? Typ dan 'weet ik niet'."),
    "gemeente_choices": "Er zijn meer gemeenten met die naam. Welke bedoelt u?",
    "gemeente_unknown": "Ik kan daar geen gemeente in vinden.",
    "ask_consequence": ("Wat is het gevolg voor uw bedrijf? Bijvoorbeeld: u loopt een opdracht mis, het "
                        "kost u geld of tijd, of u kunt minder mensen aannemen."),
    "ask_consent": ("Mag het coördinatieteam contact met u opnemen als zij vragen hebben over dit "
                    "knelpunt? Dan vraag ik uw naam en e-mailadres. Zegt u nee, dan bewaren wij geen "
                    "persoonsgegevens bij dit knelpunt."),
    "ask_name": "Wat is uw naam?",
    "name_invalid": f"{pp.BAD_NAME} Typ uw voornaam en achternaam.",
    "ask_email": f"{pp.KNELPUNT_ASK_EMAIL} Bijvoorbeeld: naam@voorbeeld.nl.",
    "email_invalid": (f"{pp.KNELPUNT_BAD_EMAIL} Controleer het en typ het opnieuw, bijvoorbeeld: "
                      "naam@voorbeeld.nl."),
    "saved": ("Dank u wel. Uw knelpunt is opgeslagen met nummer {reference}. Bewaar dit nummer.\n"
              "Wat gebeurt er nu? Het coördinatieteam bekijkt uw melding. Zij geven het knelpunt door "
              "aan de organisatie die erover gaat, bijvoorbeeld de gemeente of een ministerie."),
    "saved_contact": "Heeft het team vragen, " + pp.KNELPUNT_MAIL_TO + " {email}.",
    "saved_anonymous": ("U heeft geen contactgegevens gegeven. Daarom hoort u niet persoonlijk wat er "
                        "met uw melding gebeurt."),
    "anything_else": "Kan ik u nog ergens anders mee helpen?",
    "failed": ("Sorry, er ging iets mis bij het opslaan. Uw knelpunt is nog niet opgeslagen. Probeer het "
               "over een paar minuten opnieuw met 'knelpunt melden'."),
    "cancelled": ("Goed, ik stop met het melden van het knelpunt. Ik heb niets opgeslagen. Kan ik u "
                  "ergens anders mee helpen?"),
}


def clear_events() -> list[EventType]:
    return [SlotSet(name, None) for name in FORM_SLOTS]


def _intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def _text(tracker: Tracker) -> str:
    return " ".join((tracker.latest_message.get("text") or "").split())


def yes_or_no(tracker: Tracker, value: Any = None) -> bool | None:
    """True for yes, False for no, None when the answer is neither (text first, then the intent)."""
    text = " ".join(str(value if value is not None else _text(tracker)).lower().split()).strip(" .!")
    if text in YES:
        return True
    if text in NO:
        return False
    intent = _intent(tracker)
    confidence = float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0)
    if intent in ("affirm", "deny") and confidence >= 0.6 and len(text.split()) <= 4:
        return intent == "affirm"
    return None


def looks_like_question(text: str) -> bool:
    words = text.lower().split()
    return text.rstrip().endswith("?") or bool(words and words[0].strip(",.") in QUESTION_WORDS)


def is_direct_answer(tracker: Tracker) -> bool:
    """Whether the message answers the question the form asked, so it is not an interruption.

    "Financiering" at the category step can be classified as a financing question; "ja" at a yes/no
    step, an e-mail address, or a plain statement at a free-text step is an answer all the same.
    """
    requested = tracker.get_slot("requested_slot")
    text = _text(tracker)
    if not requested or not text:
        return False
    if requested == "knelpunt_category":
        # Buttons or own words: anything but a real question is an answer (an unclear one gets the
        # buttons again), so a word like "bedrijfspand" is not answered as a topic question.
        return kp.normalise_category(text) is not None or not text.rstrip().endswith("?")
    if requested in ("knelpunt_description_ok", "knelpunt_contact_consent"):
        return yes_or_no(tracker) is not None
    if requested == "knelpunt_contact_email":
        return "@" in text
    if requested in FREE_TEXT_SLOTS:
        return kp.is_unknown_answer(text) or not looks_like_question(text)
    return False


# --- the form validator ------------------------------------------------------------------------


class ValidateKnelpuntForm(InterruptibleFormValidation):
    def name(self) -> str:
        return "validate_knelpunt_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        active = tracker.active_loop.get("name") == FORM
        mid_form = active and form_active_before_message(tracker, FORM)
        requested = tracker.get_slot("requested_slot")
        text = _text(tracker)
        if mid_form and _intent(tracker) == "goodbye":
            if answers.is_farewell(text):
                return []  # nothing extracted: Rasa rejects the form and the goodbye rule cancels it
            if requested in FREE_TEXT_SLOTS | {"knelpunt_description_ok", "knelpunt_category",
                                               "knelpunt_contact_consent", "knelpunt_contact_email"}:
                # Read as goodbye without saying goodbye: the mappings skipped it; it is the answer.
                tracker.add_slots([SlotSet(requested, text)])
        if active and _intent(tracker) == "stop":
            if requested in FREE_TEXT_SLOTS - {"gemeente"} and len(text.split()) >= STOP_MAX_WORDS:
                # "We moeten misschien stoppen met het project" answers the question; the stop
                # mappings skipped it, so validate it here as the requested slot.
                tracker.add_slots([SlotSet(requested, text)])
                return await FormValidationAction.run(self, dispatcher, tracker, domain)
            return []  # nothing extracted: Rasa rejects the form and the stop rule cancels it
        if mid_form and requested:
            events = await self.correction(dispatcher, tracker, domain)
            if events is not None:
                return events
        if active and is_direct_answer(tracker):
            # An answer, even when the classifier calls it a question: skip the interruption check.
            return await FormValidationAction.run(self, dispatcher, tracker, domain)
        # Questions mid-form are answered by the shared base class, which asks the same slot again.
        return await super().run(dispatcher, tracker, domain)

    async def correction(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                         domain: dict[str, Any]) -> list[EventType] | None:
        """An earlier answer corrected at a later step: change it, say so, ask this step again."""
        current = tracker.get_slot("gemeente")
        known = {"gemeente": current, "name": tracker.get_slot("knelpunt_contact_name"),
                 "email": tracker.get_slot("knelpunt_contact_email"),
                 "category": tracker.get_slot("knelpunt_category")}
        step = STEPS.get(tracker.get_slot("requested_slot") or "", "other")
        text = _text(tracker)

        def work(session):
            def resolve(rest: str) -> str | None:
                res = resolve_gemeente(session, rest)
                return res.gemeente_id if res.status == "found" else None

            found = corrections.detect(text, step=step, known=known,
                                       gemeente_labels=gemeente_labels(session, current),
                                       resolve_gemeente=resolve)
            name = None
            if found is not None and found.kind == "gemeente":
                g = session.get(models.Gemeente, found.value)
                name = g.name if g else None
            return found, name

        found, gemeente_name = await run_in_session(work)
        if found is None:
            return None
        if found.kind == "gemeente":
            changes: dict[str, Any] = {"gemeente": found.value, "knelpunt_gemeente_unknown": None,
                                       "knelpunt_gemeente_choices": None}
            message = TEXTS["gemeente_changed"].format(name=gemeente_name or found.value)
        elif found.kind == "category":
            changes = {"knelpunt_category": found.value}
            message = TEXTS["category_changed"].format(label=kp.category_label(found.value))
        elif found.kind == "name":
            changes = {"knelpunt_contact_name": found.value}
            message = TEXTS["name_changed"].format(name=found.value)
        elif found.kind == "contact" and found.email:
            changes = {"knelpunt_contact_email": found.email}
            message = TEXTS["email_changed"].format(email=found.email)
        else:
            return None
        dispatcher.utter_message(text=message)
        return self.ask_again(tracker, domain, changes)

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: dict[str, Any]) -> list[str]:
        slots = ["knelpunt_description", "knelpunt_description_ok", "knelpunt_category",
                 "knelpunt_organisations"]
        if not tracker.get_slot("knelpunt_gemeente_unknown"):
            slots.append("gemeente")  # a known gemeente is filled already, so it is skipped
        slots += ["knelpunt_consequence", "knelpunt_contact_consent"]
        if tracker.get_slot("knelpunt_contact_consent") == "ja":
            slots += ["knelpunt_contact_name", "knelpunt_contact_email"]
        return slots

    # description -----------------------------------------------------------------------------

    async def validate_knelpunt_description(self, value: Any, dispatcher: CollectingDispatcher,
                                            tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if len(text) < MIN_DESCRIPTION_CHARS or len(text.split()) < 2:
            dispatcher.utter_message(text=TEXTS["description_short"])
            return {"knelpunt_description": None}
        result: dict[str, Any] = {"knelpunt_description": text[:kp.MAX_TEXT]}
        if tracker.get_slot("requested_slot") == "knelpunt_description":
            result["knelpunt_description_ok"] = "ja"  # typed in the form: nothing to confirm
        return result

    async def validate_knelpunt_description_ok(self, value: Any, dispatcher: CollectingDispatcher,
                                               tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        answer = yes_or_no(tracker, value)
        if answer is True:
            return {"knelpunt_description_ok": "ja"}
        if answer is False:
            return {"knelpunt_description_ok": "nee", "knelpunt_description": None}
        text = " ".join(str(value or "").split())
        if len(text.split()) >= 4 and len(text) >= MIN_DESCRIPTION_CHARS:
            # Not ja/nee but a new wording: take that as the corrected description.
            dispatcher.utter_message(text=TEXTS["description_changed"])
            return {"knelpunt_description": text[:kp.MAX_TEXT], "knelpunt_description_ok": "ja"}
        dispatcher.utter_message(text=TEXTS["yes_no"])
        return {"knelpunt_description_ok": None}

    # category and organisations --------------------------------------------------------------

    async def validate_knelpunt_category(self, value: Any, dispatcher: CollectingDispatcher,
                                         tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        category = kp.normalise_category(str(value or ""))
        if category is not None:
            return {"knelpunt_category": category, "knelpunt_category_tries": None}
        tries = int(tracker.get_slot("knelpunt_category_tries") or 0) + 1
        if tries > CATEGORY_TRIES:  # no loop without a way out: "anders", the team sorts it later
            dispatcher.utter_message(text=TEXTS["category_other"])
            return {"knelpunt_category": "anders", "knelpunt_category_tries": None}
        dispatcher.utter_message(text=TEXTS["category_unknown" if tries == 1 else "category_unknown_again"])
        return {"knelpunt_category": None, "knelpunt_category_tries": tries}

    async def validate_knelpunt_organisations(self, value: Any, dispatcher: CollectingDispatcher,
                                              tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if not text:
            return {"knelpunt_organisations": None}
        organisations = kp.parse_organisations(text)
        # The slot keeps a readable list; "onbekend" when the user does not know.
        return {"knelpunt_organisations": "; ".join(organisations) if organisations else "onbekend"}

    # gemeente (the conversation's slot; action_extract_gemeente fills it from the typed answer) ---

    async def extract_gemeente(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: dict[str, Any]) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "gemeente" or "gemeente" in tracker.slots_to_validate():
            return {}
        text = _text(tracker)
        if not text or (is_interruption(tracker) and not is_direct_answer(tracker)):
            return {}
        if kp.is_unknown_answer(text):
            return {"gemeente": None}  # validate_gemeente marks it as unknown
        choices = tracker.get_slot("knelpunt_gemeente_choices") or []

        def work(session):
            chosen = choose_gemeente(session, choices, text) if choices else None
            return resolve_gemeente(session, chosen or text)

        res = await run_in_session(work)
        if res.status == "found":
            return {"gemeente": res.gemeente_id}
        if res.status == "ambiguous":
            return {"gemeente": None, "knelpunt_gemeente_choices": [g.name for g in res.candidates[:6]]}
        dispatcher.utter_message(text=TEXTS["gemeente_unknown"])
        return {"gemeente": None, "knelpunt_gemeente_choices": None}

    async def validate_gemeente(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: dict[str, Any]) -> dict[str, Any]:
        if not value:
            if (tracker.get_slot("requested_slot") == "gemeente"
                    and kp.is_unknown_answer(_text(tracker))):
                return {"gemeente": None, "knelpunt_gemeente_unknown": True,
                        "knelpunt_gemeente_choices": None}
            return {"gemeente": None}
        res = await run_in_session(lambda s: resolve_gemeente(s, str(value)))
        if res.status != "found":
            return {"gemeente": None}
        return {"gemeente": res.gemeente_id, "knelpunt_gemeente_choices": None}

    # consequence and contact ------------------------------------------------------------------

    async def validate_knelpunt_consequence(self, value: Any, dispatcher: CollectingDispatcher,
                                            tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        return {"knelpunt_consequence": text[:kp.MAX_TEXT] if len(text) >= 2 else None}

    async def validate_knelpunt_contact_consent(self, value: Any, dispatcher: CollectingDispatcher,
                                                tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        answer = yes_or_no(tracker, value)
        if answer is None:
            dispatcher.utter_message(text=TEXTS["yes_no"])
            return {"knelpunt_contact_consent": None}
        if answer:
            return {"knelpunt_contact_consent": "ja"}
        return {"knelpunt_contact_consent": "nee", "knelpunt_contact_name": None,
                "knelpunt_contact_email": None}

    async def validate_knelpunt_contact_name(self, value: Any, dispatcher: CollectingDispatcher,
                                             tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        name = " ".join(str(value or "").split())
        problem = answers.name_problem(name)
        if problem == "not_a_name":
            dispatcher.utter_message(text=TEXTS["name_invalid"])
            return {"knelpunt_contact_name": None}
        if problem:
            dispatcher.utter_message(text=answers.NAME_PROBLEMS[problem])
            return {"knelpunt_contact_name": None}
        return {"knelpunt_contact_name": name}

    async def validate_knelpunt_contact_email(self, value: Any, dispatcher: CollectingDispatcher,
                                              tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        found = re.search(r"[^\s,;:<>()\[\]\"']+@[^\s,;:<>()\[\]\"']+", str(value or ""))
        try:
            if found is None:
                raise EmailNotValidError("no address")
            email = validate_email(found.group(0).rstrip("."), check_deliverability=False).normalized
        except EmailNotValidError:
            dispatcher.utter_message(text=TEXTS["email_invalid"])
            return {"knelpunt_contact_email": None}
        return {"knelpunt_contact_email": email}


# --- questions the form asks -------------------------------------------------------------------


class _Ask(Action, ABC):
    """Base for the form's questions (abstract, so the action server does not register it)."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    @abstractmethod
    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        """The question's text and buttons."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        text, buttons = self.message(tracker)
        dispatcher.utter_message(text=text, buttons=buttons or None)
        return []


class ActionAskKnelpuntDescription(_Ask):
    slot = "knelpunt_description"

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        again = tracker.get_slot("knelpunt_description_ok") == "nee"
        return TEXTS["ask_description_again" if again else "ask_description"], []


class ActionAskKnelpuntDescriptionOk(_Ask):
    slot = "knelpunt_description_ok"

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        description = tracker.get_slot("knelpunt_description") or ""
        return TEXTS["ask_description_ok"].format(description=description), [
            {"title": "Ja, dat klopt", "payload": "/affirm"},
            {"title": "Nee, ik wil het anders zeggen", "payload": "/deny"}]


class ActionAskKnelpuntCategory(_Ask):
    slot = "knelpunt_category"

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        return TEXTS["ask_category"], CATEGORY_BUTTONS


class ActionAskKnelpuntOrganisations(_Ask):
    slot = "knelpunt_organisations"

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        return TEXTS["ask_organisations"], [{"title": "Weet ik niet", "payload": "weet ik niet"}]


class ActionAskKnelpuntGemeente(_Ask):
    def name(self) -> str:
        return "action_ask_knelpunt_form_gemeente"  # form-specific: the slot is shared

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        choices = tracker.get_slot("knelpunt_gemeente_choices") or []
        if choices:
            return TEXTS["gemeente_choices"], [{"title": n, "payload": n} for n in choices]
        return TEXTS["ask_gemeente"], [{"title": "Weet ik niet", "payload": "weet ik niet"}]


class ActionAskKnelpuntConsequence(_Ask):
    slot = "knelpunt_consequence"

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        return TEXTS["ask_consequence"], []


class ActionAskKnelpuntContactConsent(_Ask):
    slot = "knelpunt_contact_consent"

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        return TEXTS["ask_consent"], [{"title": "Ja, neem contact op", "payload": "/affirm"},
                                      {"title": "Nee, liever niet", "payload": "/deny"}]


class ActionAskKnelpuntContactName(_Ask):
    slot = "knelpunt_contact_name"

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        return TEXTS["ask_name"], []


class ActionAskKnelpuntContactEmail(_Ask):
    slot = "knelpunt_contact_email"

    def message(self, tracker: Tracker) -> tuple[str, list[dict[str, str]]]:
        return TEXTS["ask_email"], []


# --- around the form ------------------------------------------------------------------------------


async def answer_complaint(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any],
                           topic: str | None) -> list[EventType]:
    """Answer first: the regelingen of the topic the complaint asks about, and who in the user's
    gemeente helps when one is stuck between loketten (the knelpunt offer comes after this)."""
    events: list[EventType] = []
    if topic:
        from actions.knowledge import (  # the topic answer, as for a question
            LAST_QUERY_SLOT,
            _answer,
        )

        query = await _answer(dispatcher, tracker, topic)
        events.append(SlotSet(LAST_QUERY_SLOT, query))
    gemeente_id = tracker.get_slot("gemeente")
    r = await route_for(gemeente_id)
    if r is not None and r.has_team:
        dispatcher.utter_message(text=TEXTS["routing"].format(gemeente=r.gemeente.name, team=r.team.name),
                                 buttons=[HUMAN_BUTTON])
    elif r is not None:
        dispatcher.utter_message(text=no_team_text(r))
    elif not topic:
        dispatcher.utter_message(text=TEXTS["routing_unknown"])
    return events


def offer_message(dispatcher: CollectingDispatcher, answered: bool) -> None:
    dispatcher.utter_message(text=TEXTS["offer_after_answer" if answered else "offer"],
                             buttons=[{"title": "Ja, meld het", "payload": "/affirm"},
                                      {"title": "Nee", "payload": "/deny"}])


def candidate_from(tracker: Tracker) -> str | None:
    text = _text(tracker)
    return text[:kp.MAX_TEXT] if text and not text.startswith("/") else None


class ActionOfferKnelpunt(Action):
    """A described complaint: answer what it asks (if anything), then offer to report it; the
    message is remembered as the description."""

    def name(self) -> str:
        return "action_offer_knelpunt"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        events: list[EventType] = []
        asks = answers.is_question(_text(tracker))
        if asks:
            ranking = tracker.latest_message.get("intent_ranking") or []
            # The classifier is sure it is a complaint, so the topic gets little confidence; the
            # best topic right after it is still the subject the question is about.
            topic = fallback_plan.topic_from_ranking(ranking, 0.0, within=fallback_plan.TOPIC_RANKS)
            events += await answer_complaint(dispatcher, tracker, domain, topic)
        offer_message(dispatcher, answered=asks)
        return [*events, SlotSet("knelpunt_candidate", candidate_from(tracker))]


class ActionKnelpuntPrefill(Action):
    """The offer was accepted: the form starts with the complaint as its description, to confirm."""

    def name(self) -> str:
        return "action_knelpunt_prefill"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        candidate = tracker.get_slot("knelpunt_candidate")
        events: list[EventType] = [SlotSet("knelpunt_candidate", None), SlotSet("knelpunt_offered", None)]
        if candidate:
            events += [SlotSet("knelpunt_description", candidate), SlotSet("knelpunt_description_ok", None)]
        return events


class ActionKnelpuntDeclined(Action):
    def name(self) -> str:
        return "action_knelpunt_declined"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=TEXTS["declined"])
        return [SlotSet("knelpunt_candidate", None), SlotSet("knelpunt_offered", None)]


def knelpunt_input(tracker: Tracker) -> kp.KnelpuntInput:
    """The form's answers as service input (contact details only with consent)."""
    consent = tracker.get_slot("knelpunt_contact_consent") == "ja"
    organisations = tracker.get_slot("knelpunt_organisations") or ""
    return kp.KnelpuntInput(
        description=tracker.get_slot("knelpunt_description") or "",
        category=tracker.get_slot("knelpunt_category") or "anders",
        organisations=[] if organisations == "onbekend" else kp.parse_organisations(organisations),
        gemeente=tracker.get_slot("gemeente"),
        consequence=tracker.get_slot("knelpunt_consequence") or "",
        contact_consent=consent,
        contact_name=tracker.get_slot("knelpunt_contact_name") if consent else None,
        contact_email=tracker.get_slot("knelpunt_contact_email") if consent else None,
        sender_id=tracker.sender_id if consent else None,
    )


class ActionSubmitKnelpunt(Action):
    def name(self) -> str:
        return "action_submit_knelpunt"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        data = knelpunt_input(tracker)
        try:
            reference = await run_in_session(lambda s: kp.create_knelpunt(s, data).reference)
        except kp.KnelpuntError as exc:
            dispatcher.utter_message(text=f"{exc} Ik heb niets opgeslagen.")
            return clear_events()
        except Exception:  # database trouble: say so honestly, keep the answers for a retry
            log.exception("knelpunt could not be stored")
            dispatcher.utter_message(text=TEXTS["failed"])
            return []
        log.info("knelpunt %s stored (category %s, consent %s)", reference, data.category,
                 data.contact_consent)
        lines = [TEXTS["saved"].format(reference=reference)]
        if data.contact_consent and data.contact_email:
            lines.append(TEXTS["saved_contact"].format(email=data.contact_email))
        else:
            lines.append(TEXTS["saved_anonymous"])
        lines.append(TEXTS["anything_else"])
        dispatcher.utter_message(text="\n".join(lines))
        return clear_events()


class ActionCancelKnelpunt(Action):
    def name(self) -> str:
        return "action_cancel_knelpunt"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(text=TEXTS["cancelled"])
        return clear_events()
