"""Answers from the knowledge base: topic questions, "Meer hierover" and "Andere regelingen".

Thin adapter: the search and the lookups are in bot.knowledge; this module maps the intent and slots to a
search and writes the results as chat messages in B1 Dutch.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from bot.conversation.gemeenten import first_found
from bot.db import run_in_session
from bot.knowledge import queries, review
from bot.knowledge.schema import THEMES
from bot.knowledge.search import SearchResult, search
from bot.settings import get_settings

logger = logging.getLogger(__name__)

LAST_QUERY_SLOT = "kennis_zoekvraag"
PAGE_SIZE = 3

# ask_<theme> -> theme; a few intents use another theme id.
INTENT_THEMES: dict[str, str] = {f"ask_{theme}": theme for theme in THEMES}
INTENT_THEMES["ask_maatschappelijke_bv"] = "legal_form"

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
          "oktober", "november", "december")

HUMAN_BUTTON = {"title": "Praat met een makelaar", "payload": "/request_human"}
OTHER_BUTTON = {"title": "Andere regelingen", "payload": "/other_results"}


def dutch_date(value: date) -> str:
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


# Said when no person checked this exact text recently (bot.knowledge.review).
UNCHECKED_NOTE = "De voorwaarden kunnen veranderen: op de website van de bron staat altijd de nieuwste informatie."

Reviewed = dict[tuple[str, str], date]  # (kind, id) -> the day a person checked the current text


def source_line(url: str, checked: date | None) -> str:
    """'gecontroleerd op' only for text with a valid review stamp; otherwise say it can change."""
    if checked:
        return f"Bron: {url} (gecontroleerd op {dutch_date(checked)})"
    return f"Bron: {url}\n{UNCHECKED_NOTE}"


def reviewed_dates(session: Session, items: list[tuple[str, str, str]]) -> Reviewed:
    """(kind, id, content hash) of what is shown -> review dates, with one query for the answer."""
    found = review.valid_review_dates(session, items, get_settings().review_max_age_days)
    return {key: when.date() for key, when in found.items()}


def more_info_payload(result: SearchResult) -> str:
    key = "regeling_id" if result.kind == "regeling" else "loket_id"
    return "/more_info" + json.dumps({key: result.id}, separators=(",", ":"))


def _entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value).strip() if value not in (None, "") else None


# --- the query ---------------------------------------------------------------------------------


def build_query(tracker: Tracker, intent: str) -> dict[str, Any]:
    """What to search for: the user's words, the topic of the intent, gemeente and organisatie."""
    message = tracker.latest_message or {}
    words = [message.get("text") or ""]
    # Entity values are normalised by the NLU synonyms ("lks" -> "loonkostensubsidie").
    words += [str(v) for v in tracker.get_latest_entity_values("onderwerp")]
    theme = INTENT_THEMES.get(intent)
    return {
        "text": " ".join(w for w in words if w).strip(),
        "themes": [theme] if theme else [],
        "gemeente": tracker.get_slot("gemeente") or _entity(tracker, "gemeente"),
        "woonplaats": tracker.get_slot("woonplaats") or _entity(tracker, "woonplaats"),
        "organisatie": _entity(tracker, "organisatie") or tracker.get_slot("organisatie"),
        "offset": 0,
    }


def _run_search(query: dict[str, Any], offset: int):
    def work(session):
        found = first_found(session, (query.get("gemeente"), query.get("woonplaats")))
        gemeente = found.gemeente if found else None
        results = search(session, query.get("text") or "", themes=query.get("themes") or [],
                         gemeente_id=gemeente.id if gemeente else None,
                         organisatie=query.get("organisatie"), limit=PAGE_SIZE, offset=offset)
        reviewed = reviewed_dates(session, [(r.kind, r.id, r.content_hash) for r in results])
        return results, (gemeente.name if gemeente else None), reviewed

    return run_in_session(work)


# --- messages ----------------------------------------------------------------------------------


def result_text(result: SearchResult, checked: date | None = None) -> str:
    label = f"{result.name} ({result.provider})" if result.provider else result.name
    return "\n".join([label, result.summary, source_line(result.source_url, checked)])


def utter_results(dispatcher: CollectingDispatcher, results: list[SearchResult], intro: str,
                  reviewed: Reviewed | None = None) -> None:
    dispatcher.utter_message(text=intro)
    for result in results:
        checked = (reviewed or {}).get((result.kind, result.id))
        dispatcher.utter_message(text=result_text(result, checked),
                                 buttons=[{"title": "Meer hierover",
                                           "payload": more_info_payload(result)}])
    dispatcher.utter_message(
        text="Wilt u meer weten? Kies 'Meer hierover'. U kunt ook andere regelingen bekijken, "
             "of uw vraag voorleggen aan een makelaar van de gemeente.",
        buttons=[OTHER_BUTTON, HUMAN_BUTTON],
    )


def utter_nothing_found(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text="Ik heb hier helaas geen regeling of loket voor gevonden. Misschien staat het nog niet "
             "in mijn kennisbank, of begrijp ik uw vraag niet goed. U kunt het met andere woorden "
             "proberen. Of leg uw vraag voor aan een makelaar van de gemeente: die zoekt het graag "
             "met u uit.",
        buttons=[HUMAN_BUTTON],
    )


def _intro(gemeente_name: str | None) -> str:
    if gemeente_name:
        return f"Dit heb ik voor u gevonden. Ik heb ook gekeken naar wat er in {gemeente_name} is:"
    return "Dit heb ik voor u gevonden:"


async def _answer(dispatcher: CollectingDispatcher, tracker: Tracker, intent: str) -> dict[str, Any]:
    query = build_query(tracker, intent)
    results, gemeente_name, reviewed = await _run_search(query, 0)
    logger.info("knowledge answer intent=%s results=%d", intent, len(results))
    if not results:
        utter_nothing_found(dispatcher)
    else:
        utter_results(dispatcher, results, _intro(gemeente_name), reviewed)
    query["offset"] = len(results)
    query["shown"] = [[r.kind, r.id] for r in results]
    return query


async def answer_question(dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: dict[str, Any], intent: str) -> None:
    """Answer a topic question (also used by forms for a question in the middle of a form)."""
    await _answer(dispatcher, tracker, intent)


class ActionAnswerTopic(Action):
    def name(self) -> str:
        return "action_answer_topic"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""
        query = await _answer(dispatcher, tracker, intent)
        return [SlotSet(LAST_QUERY_SLOT, query)]


# --- "Andere regelingen" -------------------------------------------------------------------------


class ActionOtherResults(Action):
    def name(self) -> str:
        return "action_other_results"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        query = tracker.get_slot(LAST_QUERY_SLOT)
        if not isinstance(query, dict) or not (query.get("text") or query.get("themes")):
            dispatcher.utter_message(
                text="Waar wilt u andere regelingen voor zien? Stel uw vraag, bijvoorbeeld: "
                     "'Welke subsidie is er voor energie besparen?'",
                buttons=[HUMAN_BUTTON],
            )
            return []
        offset = int(query.get("offset") or 0)
        results, _, reviewed = await _run_search(query, offset)
        if not results:
            dispatcher.utter_message(
                text="Ik heb geen andere regelingen meer gevonden voor uw vraag. Een makelaar van "
                     "de gemeente kent vaak nog meer mogelijkheden. Wilt u uw vraag aan een "
                     "makelaar voorleggen? Of stel een nieuwe vraag.",
                buttons=[HUMAN_BUTTON],
            )
            return []
        utter_results(dispatcher, results, "Dit zijn andere regelingen en loketten die passen:", reviewed)
        query = {**query, "offset": offset + len(results),
                 "shown": [[r.kind, r.id] for r in results]}
        return [SlotSet(LAST_QUERY_SLOT, query)]


# --- "Meer hierover" -------------------------------------------------------------------------------


def regeling_details(r, checked: date | None = None) -> str:
    lines = [f"{r.name} ({r.provider})", f"Voor wie: {r.audience}", f"Wat levert het op: {r.benefit}"]
    if r.conditions:
        lines.append("Belangrijkste voorwaarden:")
        lines += [f"- {c}" for c in r.conditions]
    lines.append(source_line(r.source_url, checked))
    return "\n".join(lines)


def loket_details(lk, checked: date | None = None) -> str:
    from bot.knowledge.search import LOKET_KINDS

    lines = [f"{lk.name} ({LOKET_KINDS.get(lk.kind, lk.kind)})", lk.description,
             f"Website: {lk.url}" + (f" (gecontroleerd op {dutch_date(checked)})" if checked else "")]
    if not checked:
        lines.append(UNCHECKED_NOTE)
    return "\n".join(lines)


class ActionMoreInfo(Action):
    def name(self) -> str:
        return "action_more_info"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[EventType]:
        kind, item_id = "regeling", _entity(tracker, "regeling_id")
        if item_id is None and _entity(tracker, "loket_id"):
            kind, item_id = "loket", _entity(tracker, "loket_id")
        if item_id is None:  # typed "vertel meer": the first result shown last
            shown = (tracker.get_slot(LAST_QUERY_SLOT) or {}).get("shown") or []
            if shown:
                kind, item_id = shown[0]
        if item_id is None:
            dispatcher.utter_message(
                text="Waarover wilt u meer weten? Stel uw vraag, dan zoek ik de regelingen voor u op.",
                buttons=[HUMAN_BUTTON],
            )
            return []

        def work(session):
            if kind == "loket":
                found = queries.loket_by_id(session, item_id)
                if found is None:
                    return None
                checked = reviewed_dates(session, [(kind, item_id, review.loket_hash(found))])
                return loket_details(found, checked.get((kind, item_id)))
            found = queries.regeling_by_id(session, item_id)
            if found is None:
                return None
            checked = reviewed_dates(session, [(kind, item_id, review.regeling_hash(found))])
            return regeling_details(found, checked.get((kind, item_id)))

        details = await run_in_session(work)
        if details is None:
            dispatcher.utter_message(
                text="Die regeling kan ik niet (meer) vinden. Misschien is de informatie net "
                     "aangepast. Stel uw vraag gerust opnieuw. Of leg uw vraag voor aan een "
                     "makelaar van de gemeente.",
                buttons=[HUMAN_BUTTON],
            )
            return []
        dispatcher.utter_message(text=details)
        first = ("Wilt u contact opnemen? Kijk dan op de website." if kind == "loket"
                 else "Wilt u dit aanvragen? Kijk dan op de website bij 'Bron'.")
        dispatcher.utter_message(
            text=f"{first} Heeft u nog vragen? Dan helpt een makelaar van de gemeente u graag verder.",
            buttons=[OTHER_BUTTON, HUMAN_BUTTON],
        )
        return []
