"""Issue 20 in the actions, with SDK trackers and the production knowledge, without Rasa running:
corrections inside both forms (also at the consent step), one clear form start, answers that are not
what was asked, typed categories, the team's details, English, follow-ups, the fallback's menu.
Sentences are written for these tests, not taken from tests/conversations/."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker

from actions.conversation import ActionAnswerEnglish, ActionAnswerFollowup, ActionTeamDetails
from actions.fallback import MENU, ActionHandleFallback
from actions.handoff import ValidateHandoffForm
from actions.knelpunt import ActionOfferKnelpunt, ValidateKnelpuntForm
from tests.support.domain import load_domain
from tests.support.knowledge import default_engine_with_knowledge
from tests.support.trackers import run_action, tracker, user_event

DOMAIN = load_domain()


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    """One database with the production knowledge for this module."""
    yield from default_engine_with_knowledge(tmp_path_factory.mktemp("conversation-actions"))


def knelpunt(text, intent="inform", **kw) -> Tracker:
    t = tracker(text, intent, **kw)
    t.active_loop = {"name": "knelpunt_form"}
    return t


HANDOFF_FILLED = {"gemeente": "zwolle", "handoff_description": "Wij zoeken een pand voor een werkplaats",
                  "handoff_name": "Fleur Jansen", "handoff_contact": "e-mail fleur@example.nl",
                  "handoff_email": "fleur@example.nl"}


# --- one clear form start -----------------------------------------------------------------------


async def test_the_message_that_starts_the_handoff_gets_no_already_busy_reply(kb):
    start = user_event("ik wil graag iemand van de gemeente spreken", "request_human")
    activation = tracker("ik wil graag iemand van de gemeente spreken", "request_human",
                         history=[{"event": "action", "name": "action_listen"}])
    activation.events.append({"event": "active_loop", "name": "handoff_form"})
    _, texts, _ = await run_action(ValidateHandoffForm(), activation)
    assert not any("ik zet uw vraag door" in t for t in texts)
    # Asked again in the middle of the form, it is said once.
    mid = tracker("ik wil graag iemand van de gemeente spreken", "request_human", requested="handoff_name",
                  history=[start, {"event": "active_loop", "name": "handoff_form"}])
    _, texts, _ = await run_action(ValidateHandoffForm(), mid)
    assert len(texts) == 1 and texts[0].startswith("Dat doe ik: ik zet uw vraag door")


# --- corrections in the handoff form ------------------------------------------------------------


async def test_a_gemeente_correction_at_the_description_step_reroutes_and_asks_the_same_step(kb):
    text = "oeps, ik vergiste me, ons bedrijf zit in Apeldoorn"
    t = tracker(text, slots={"gemeente": "zwolle"}, candidates={"handoff_description": text},
                requested="handoff_description")
    slots, texts, _ = await run_action(ValidateHandoffForm(), t)
    assert slots["gemeente"] == "apeldoorn"
    assert slots["handoff_description"] is None and slots["requested_slot"] == "handoff_description"
    assert texts == ["Ik heb de gemeente aangepast naar Apeldoorn. Uw vraag gaat nu naar "
                     "Makelaarsteam Impact Ondernemen Apeldoorn."]


async def test_an_email_correction_at_the_consent_step_changes_it_and_asks_consent_again(kb):
    t = tracker("nee sorry, het moet fleur.jansen@example.nl zijn", "deny", slots=HANDOFF_FILLED,
                candidates={"handoff_consent": False}, requested="handoff_consent")
    slots, texts, _ = await run_action(ValidateHandoffForm(), t)
    assert slots["handoff_email"] == "fleur.jansen@example.nl"
    assert slots["handoff_contact"] == "e-mail fleur.jansen@example.nl"
    assert slots["handoff_consent"] is None and slots["requested_slot"] == "handoff_consent"
    assert texts == ["Ik heb uw contactgegevens aangepast: e-mail fleur.jansen@example.nl."]


async def test_a_name_correction_at_the_contact_step(kb):
    text = "foutje, het moet Floor Jansen zijn"
    slots_before = {k: v for k, v in HANDOFF_FILLED.items() if not k.startswith("handoff_contact")}
    slots_before.pop("handoff_email")
    t = tracker(text, slots=slots_before, candidates={"handoff_contact": text}, requested="handoff_contact")
    slots, texts, _ = await run_action(ValidateHandoffForm(), t)
    assert slots["handoff_name"] == "Floor Jansen" and slots["handoff_contact"] is None
    assert slots["requested_slot"] == "handoff_contact"
    assert texts == ["Ik heb uw naam aangepast: Floor Jansen."]


# --- answers that are not what was asked -------------------------------------------------------


@pytest.mark.parametrize("text, intent, expected", [
    ("ja", "affirm", "Ik heb uw naam nodig, niet ja of nee."),
    ("Goedenavond", "greet", "Hallo! Ik heb nog uw naam nodig."),
    ("waarvoor hebben jullie mijn naam nodig?", "inform",
     "Het team gebruikt uw naam alleen om u persoonlijk te helpen met deze vraag."),
])
async def test_an_unusable_name_is_not_stored_and_gets_one_sentence(kb, text, intent, expected):
    t = tracker(text, intent, confidence=0.5, slots={"gemeente": "zwolle"},
                candidates={"handoff_name": text}, requested="handoff_name")
    slots, texts, _ = await run_action(ValidateHandoffForm(), t)
    assert slots["handoff_name"] is None
    assert len(texts) == 1 and texts[0].startswith(expected)


async def test_a_declined_draft_with_a_new_question_takes_the_new_question(kb):
    text = "nee, het gaat over een lening voor de inrichting van onze nieuwe werkplaats"
    t = tracker(text, slots={"gemeente": "zwolle", "handoff_description_draft": "Wat is de WBSO?"},
                candidates={"handoff_description": text}, requested="handoff_description")
    slots, _, _ = await run_action(ValidateHandoffForm(), t)
    assert slots["handoff_description"] == "het gaat over een lening voor de inrichting van onze nieuwe werkplaats"
    t = tracker("nee, iets anders", slots={"gemeente": "zwolle", "handoff_description_draft": "Wat is de WBSO?"},
                candidates={"handoff_description": "nee, iets anders"}, requested="handoff_description")
    slots, _, _ = await run_action(ValidateHandoffForm(), t)
    assert slots["handoff_description"] is None and slots["handoff_description_draft"] == ""


async def test_a_choice_between_gemeenten_typed_as_the_provincie(kb):
    t = tracker("de gemeente in Limburg", slots={"handoff_gemeente_choices": ["Bergen (L.)", "Bergen (NH.)"]},
                candidates={"gemeente": "de gemeente in Limburg"}, requested="gemeente")
    slots, _, _ = await run_action(ValidateHandoffForm(), t)
    assert slots["gemeente"] == "bergen-l"


# --- the knelpunt form ----------------------------------------------------------------------------


KNELPUNT_FILLED = {"knelpunt_description": "De gemeente betaalt pas na 90 dagen", "knelpunt_description_ok": "ja",
                   "knelpunt_category": "inkoop_aanbesteding"}


async def test_a_category_correction_at_the_organisations_step(kb):
    text = "sorry, het gaat eigenlijk over geld en niet over inkoop"
    t = knelpunt(text, slots=KNELPUNT_FILLED, candidates={"knelpunt_organisations": text},
                 requested="knelpunt_organisations")
    slots, texts, _ = await run_action(ValidateKnelpuntForm(), t)
    assert slots["knelpunt_category"] == "financiering" and slots["knelpunt_organisations"] is None
    assert slots["requested_slot"] == "knelpunt_organisations"
    assert texts == ["Ik heb het onderwerp aangepast naar financiering."]


async def test_a_gemeente_correction_at_the_contact_consent_step(kb):
    text = "wacht even, we zitten niet in Zwolle maar in Heemstede"
    filled = {**KNELPUNT_FILLED, "knelpunt_organisations": "gemeente", "gemeente": "zwolle",
              "knelpunt_consequence": "We verliezen klanten"}
    t = knelpunt(text, slots=filled, candidates={"knelpunt_contact_consent": text},
                 requested="knelpunt_contact_consent")
    slots, texts, _ = await run_action(ValidateKnelpuntForm(), t)
    assert slots["gemeente"] == "heemstede" and slots["knelpunt_contact_consent"] is None
    assert slots["requested_slot"] == "knelpunt_contact_consent"
    assert texts == ["Ik heb de gemeente aangepast naar Heemstede."]


async def test_a_typed_category_and_unclear_answers_with_a_way_out(kb):
    filled = {k: v for k, v in KNELPUNT_FILLED.items() if k != "knelpunt_category"}
    t = knelpunt("het gaat om ons bedrijfspand", "ask_premises", slots=filled,
                 candidates={"knelpunt_category": "het gaat om ons bedrijfspand"}, requested="knelpunt_category")
    slots, _, _ = await run_action(ValidateKnelpuntForm(), t)
    assert slots["knelpunt_category"] == "vastgoed_ruimte"
    replies = []
    tries = None
    for text in ("tja", "ik zou het echt niet weten", "geen flauw idee"):
        t = knelpunt(text, slots={**filled, "knelpunt_category_tries": tries},
                     candidates={"knelpunt_category": text}, requested="knelpunt_category")
        slots, texts, _ = await run_action(ValidateKnelpuntForm(), t)
        tries = slots.get("knelpunt_category_tries")
        replies.append((slots["knelpunt_category"], texts))
    assert replies[0][0] is None and "Kies een van de knoppen" in replies[0][1][0]
    assert replies[1][0] is None and "Kies dan 'Anders'" in replies[1][1][0]
    assert replies[1][1] != replies[0][1]  # never the same reply twice
    assert replies[2] == ("anders", ["Ik kies het onderwerp 'Anders'. Het coördinatieteam kijkt er later naar."])


async def test_ok_is_not_a_contact_name(kb):
    filled = {**KNELPUNT_FILLED, "knelpunt_contact_consent": "ja"}
    t = knelpunt("ok", "affirm", slots=filled, candidates={"knelpunt_contact_name": "ok"},
                 requested="knelpunt_contact_name")
    slots, texts, _ = await run_action(ValidateKnelpuntForm(), t)
    assert slots["knelpunt_contact_name"] is None and texts == ["Ik heb uw naam nodig, niet ja of nee."]


# --- answer first, then the offer -----------------------------------------------------------------


async def test_a_complaint_with_a_question_gets_the_answer_and_the_team_before_the_offer(kb):
    latest_ranking = [{"name": "describe_knelpunt", "confidence": 0.6},
                      {"name": "ask_jobcoach", "confidence": 0.25}]
    t = tracker("UWV en gemeente wijzen naar elkaar voor de jobcoach van mijn werknemer. Wie regelt dat?",
                "describe_knelpunt", slots={"gemeente": "zwolle"}, active=False)
    t.latest_message["intent_ranking"] = latest_ranking
    slots, texts, messages = await run_action(ActionOfferKnelpunt(), t)
    joined = "\n".join(texts)
    assert "Jobcoach" in joined or "jobcoach" in joined
    assert "Makelaarsteam Impact Ondernemen Zwolle" in joined
    assert texts[-1].startswith("Loopt u hier echt op vast? Wilt u het ook melden als knelpunt?")
    assert slots["knelpunt_candidate"].startswith("UWV en gemeente")
    # Without a question: only the offer.
    t = tracker("Het UWV en de gemeente wijzen steeds naar elkaar", "describe_knelpunt", active=False)
    _, texts, _ = await run_action(ActionOfferKnelpunt(), t)
    assert texts == ["Wilt u dit melden als knelpunt? Dan geven wij het door aan de overheid."]


# --- the team's own details ------------------------------------------------------------------


async def test_team_details_come_from_the_makelaarsteams_knowledge(kb):
    _, texts, _ = await run_action(ActionTeamDetails(), tracker("wat zijn de openingstijden", "ask_team_details",
                                                         slots={"gemeente": "delft"}, active=False))
    text = texts[0]
    assert "Makelaarsteam Impact Ondernemen Delft" in text
    assert "maandag tot en met vrijdag, 9.00 tot 17.00 uur" in text
    assert "binnen 2 werkdagen" in text and "makelaarsteam-delft@example.nl" in text
    _, texts, _ = await run_action(ActionTeamDetails(), tracker("wat zijn de openingstijden", "ask_team_details",
                                                         slots={"gemeente": "rotterdam"}, active=False))
    assert "via deze chat" in texts[0] and "@" not in texts[0]  # a webhook team: no address to show
    _, texts, _ = await run_action(ActionTeamDetails(), tracker("wat zijn de openingstijden", "ask_team_details",
                                                         active=False))
    assert texts[0].startswith("Over het makelaarsteam van welke gemeente")
    _, texts, _ = await run_action(ActionTeamDetails(), tracker("openingstijden", "ask_team_details",
                                                         slots={"gemeente": "tilburg"}, active=False))
    assert "(nog) geen makelaarsteam" in texts[0] and "Ondernemersplein" in texts[0]


# --- English ---------------------------------------------------------------------------------


async def test_an_english_message_gets_a_short_english_answer_with_the_gemeente_resolved(kb):
    slots, texts, messages = await run_action(ActionAnswerEnglish(), tracker(
        "Hi, we are based in The Hague and need some help", "english", active=False))
    assert slots == {"language": "en", "gemeente": "den-haag"}
    assert "business.gov.nl" in texts[0] and "Den Haag" in texts[0]
    assert texts[0].endswith("Shall I pass your question on to the makelaarsteam?")
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


# --- follow-ups and the fallback ----------------------------------------------------------


async def test_a_follow_up_shows_the_details_of_the_item_it_points_at(kb):
    query = {"text": "subsidie energie", "themes": ["energy"], "shown": [["regeling", "isde"],
                                                                         ["regeling", "eia"]]}
    t = tracker("kan ik dat van de belasting aftrekken?", "followup", slots={"kennis_zoekvraag": query},
                active=False)
    _, texts, _ = await run_action(ActionAnswerFollowup(), t)
    assert texts and texts[0].startswith("Energie-investeringsaftrek")


async def test_nonsense_gets_the_menu_not_unrelated_topics(kb):
    t = tracker("zxcvbnmqwrt", "nlu_fallback", confidence=0.45, active=False)
    t.latest_message["intent_ranking"] = [{"name": "nlu_fallback", "confidence": 0.45},
                                          {"name": "ask_btw", "confidence": 0.2}]
    _, texts, messages = await run_action(ActionHandleFallback(), t)
    assert texts == [MENU]
    assert [b["title"] for b in messages[0]["buttons"]] == [
        "Welke subsidies zijn er?", "Een knelpunt melden", "Praat met een mens"]
