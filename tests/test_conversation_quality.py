"""Issue 20's Rasa-free pieces: language and nonsense, answers a form cannot use, corrections,
follow-ups, the fallback's plan, typed categories. Sentences here are written for these tests, not
taken from tests/conversations/ (the held-out conversation set)."""

from __future__ import annotations

import pytest

from bot.conversation import answers, corrections, followup
from bot.conversation import fallback as fb
from bot.conversation.language import english_place, is_english, is_nonsense, looks_like_code
from bot.knelpunten.chat import normalise_category
from bot.rasa_ext.nlp.language import decide

# --- language ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Could you tell me which permits I need for a bakery?",
    "I am looking for an adviser who can help me",
    "Is there someone I can call about my company?",
    "hello, do you have information in English",
])
def test_english_messages_are_recognised(text):
    assert is_english(text)


@pytest.mark.parametrize("text", [
    "Wij hebben een startup en zoeken seed funding",
    "Is er een deadline voor de subsidie?",
    "Hoe werkt de business case bij een impactlening?",
    "Kan ik een call inplannen met het team?",
    "yes",
    "ok thanks",
    "hello",
])
def test_dutch_messages_with_english_words_and_bare_greetings_are_not_english(text):
    assert not is_english(text)


@pytest.mark.parametrize("text", ["SELECT name FROM klanten WHERE 1=1", "x'; DROP TABLE users; --",
                                  "<script>alert(1)</script>"])
def test_code_is_neither_english_nor_a_question(text):
    assert looks_like_code(text)
    assert is_nonsense(text)
    assert not is_english(text)


@pytest.mark.parametrize("text", ["🤷🤷", "qwrtzxcvb", "...!!!", "   "])
def test_nonsense(text):
    assert is_nonsense(text)


@pytest.mark.parametrize("text", ["btw", "kvk nummer", "wat is een bv?", "mkb krediet", "rechtsvorm?",
                                  "bestemmingsplan", "3581KP", "Impact030"])
def test_short_abbreviations_are_not_nonsense(text):
    assert not is_nonsense(text)


def test_english_place_names_map_to_the_dutch_gemeente():
    assert english_place("We are based in The Hague") == "Den Haag"
    assert english_place("We are based in Delft") is None


def test_detector_puts_english_on_top_and_keeps_the_classifier_ranking():
    ranking = [{"name": "ask_permits", "confidence": 0.7}, {"name": "english", "confidence": 0.2}]
    intent, new_ranking = decide("Which permit do I need for my shop?", ranking[0], ranking, 0.45)
    assert intent == {"name": "english", "confidence": 1.0}
    assert [r["name"] for r in new_ranking] == ["english", "ask_permits"]


def test_detector_sends_code_and_random_letters_to_the_fallback():
    ranking = [{"name": "ask_assignments", "confidence": 0.9}, {"name": "ask_btw", "confidence": 0.05}]
    intent, new_ranking = decide("SELECT naam FROM klanten WHERE 1=1", ranking[0], ranking, 0.45)
    assert intent == {"name": "nlu_fallback", "confidence": 0.45}
    assert [r["name"] for r in new_ranking] == ["nlu_fallback", "ask_assignments", "ask_btw"]
    intent, _ = decide("/request_human", {"name": "request_human", "confidence": 1.0}, [], 0.45)
    assert intent["name"] == "request_human"  # a button payload is no text to judge


def test_detector_never_leaves_english_on_a_dutch_message():
    ranking = [{"name": "english", "confidence": 0.6}, {"name": "ask_btw", "confidence": 0.3}]
    intent, new_ranking = decide("Moet ik btw rekenen over mijn workshop?", ranking[0], ranking, 0.45)
    assert intent == {"name": "nlu_fallback", "confidence": 0.45}  # the next one is too unsure
    assert [r["name"] for r in new_ranking] == ["nlu_fallback", "ask_btw"]
    ranking = [{"name": "english", "confidence": 0.3}, {"name": "ask_btw", "confidence": 0.6}]
    intent, _ = decide("btw op een training", ranking[0], ranking, 0.45)
    assert intent["name"] == "ask_btw"


# --- answers a form cannot use ----------------------------------------------------------------


@pytest.mark.parametrize("text, problem", [
    ("ja hoor", "yes_no"), ("Oké", "yes_no"), ("nee", "yes_no"),
    ("Goedenavond!", "greeting"), ("hoi", "greeting"), ("bedankt", "greeting"),
    ("waarvoor is dat nodig?", "question"), ("Wat doen jullie daarmee", "question"),
    ("piet@example.nl", "not_a_name"), ("0612345678", "not_a_name"),
])
def test_name_problems(text, problem):
    assert answers.name_problem(text) == problem
    assert answers.NAME_PROBLEMS[problem]


@pytest.mark.parametrize("text", ["Sam de Vries", "Mo", "Anne-Fleur van den Berg", "Ömer Yıldız"])
def test_names_are_accepted(text):
    assert answers.name_problem(text) is None


def test_leading_yes_or_no():
    assert answers.leading_yes_no("nee, het gaat over een lening voor onze werkplaats") == (
        False, "het gaat over een lening voor onze werkplaats")
    assert answers.leading_yes_no("ja graag") == (True, "graag")
    assert answers.leading_yes_no("Wij zoeken een pand") == (None, "Wij zoeken een pand")


def test_farewell():
    assert answers.is_farewell("sorry ik moet weg, doei")
    assert answers.is_farewell("ik heb nu echt geen tijd meer")
    assert not answers.is_farewell("wij werken elke dag met vrijwilligers")


# --- corrections ----------------------------------------------------------------------------

PLACES = {"zwolle": "zwolle", "apeldoorn": "apeldoorn", "7311": "apeldoorn", "heemstede": "heemstede"}


def _resolve(text: str) -> str | None:
    return next((gid for key, gid in PLACES.items() if key in text), None)


KNOWN = {"gemeente": "zwolle", "name": "Fleur Jansen", "email": "fleur@example.nl", "phone": None,
         "category": "financiering"}


def detect(text, step="other", kinds=corrections.KINDS, known=KNOWN):
    return corrections.detect(text, step=step, known=known, gemeente_labels=["Zwolle"],
                              resolve_gemeente=_resolve, kinds=kinds)


def test_a_gemeente_correction_names_the_new_gemeente():
    found = detect("oeps, ik vergiste me: het is Apeldoorn")
    assert (found.kind, found.value) == ("gemeente", "apeldoorn")
    found = detect("we zitten niet in Zwolle maar in Heemstede")
    assert (found.kind, found.value) == ("gemeente", "heemstede")
    found = detect("nee, ons bedrijf zit op 7311 AA")
    assert (found.kind, found.value) == ("gemeente", "apeldoorn")


def test_a_place_without_a_correction_signal_is_no_correction():
    assert detect("Wij willen ook een vestiging in Apeldoorn openen") is None
    assert detect("Zwolle") is None  # the same gemeente again


def test_contact_corrections_need_no_phrase_once_contact_was_given():
    found = detect("fleur.jansen@example.nl", step="consent")
    assert (found.kind, found.email) == ("contact", "fleur.jansen@example.nl")
    found = detect("bel me liever op 06 11122233", step="consent")
    assert found.kind == "contact" and found.phone == "+31 6 11122233"
    assert detect("fleur.jansen@example.nl", step="contact") is None  # the answer itself


def test_name_corrections():
    found = detect("foutje, het moet Floor Jansen zijn", step="contact")
    assert (found.kind, found.value) == ("name", "Floor Jansen")
    found = detect("noteer mijn naam als F. Jansen-de Wit", step="consent")
    assert (found.kind, found.value) == ("name", "F. Jansen-de Wit")
    assert detect("het is een mooie dag", step="contact") is None  # not like the old name


def test_category_corrections_drop_the_negated_word():
    found = detect("sorry, het gaat eigenlijk over inkoop en niet over geld")
    assert (found.kind, found.value) == ("category", "inkoop_aanbesteding")
    assert detect("sorry, het gaat over iets anders") is None


def test_kinds_limit_what_is_corrected():
    assert detect("sorry, het gaat eigenlijk over inkoop", kinds=("gemeente",)) is None


# --- follow-up questions --------------------------------------------------------------------


def test_follow_up_picks_the_item_the_words_point_at():
    candidates = [("regeling:a", "Subsidie voor warmtepompen en zonneboilers"),
                  ("regeling:b", "Investeringsaftrek: belastingvoordeel voor energiezuinige machines")]
    assert followup.best_match("mag ik dat van de belasting aftrekken?", candidates) == "regeling:b"
    assert followup.best_match("hoe vraag ik dat aan?", candidates) == "regeling:a"
    assert followup.best_match("anything", []) is None


# --- the fallback's plan --------------------------------------------------------------------


def _ranking(*pairs):
    return [{"name": "nlu_fallback", "confidence": 0.45}] + [{"name": n, "confidence": c} for n, c in pairs]


def test_plan_menu_for_nonsense_and_for_nothing_above_the_floor():
    assert fb.plan("zxcvbnm", _ranking(("ask_btw", 0.4))).kind == "menu"
    assert fb.plan("hmm tja", _ranking(("ask_btw", 0.1), ("ask_lkv", 0.08))).kind == "menu"


def test_plan_answers_a_clear_topic_and_suggests_otherwise():
    clear = fb.plan("een vraag", _ranking(("ask_permits", 0.42), ("ask_premises", 0.12)))
    assert (clear.kind, clear.intents) == ("answer", ["ask_permits"])
    close = fb.plan("een vraag", _ranking(("ask_permits", 0.30), ("ask_premises", 0.25), ("greet", 0.2)))
    assert (close.kind, close.intents) == ("suggest", ["ask_permits", "ask_premises"])


def test_plan_answers_a_complaint_with_a_topic_first():
    plan = fb.plan("een klacht met een vraag", _ranking(("describe_knelpunt", 0.35), ("ask_jobcoach", 0.3)))
    assert (plan.kind, plan.intents) == ("complaint", ["ask_jobcoach"])


# --- typed categories -----------------------------------------------------------------------


@pytest.mark.parametrize("text, key", [
    ("ons bedrijfspand", "vastgoed_ruimte"), ("de inkoper van de gemeente", "inkoop_aanbesteding"),
    ("we worden niet gefinancierd", "financiering"), ("de ambtenaren", "uitvoering_loket"),
    ("huurverhoging", "vastgoed_ruimte"),
])
def test_category_words_synonyms_and_compounds(text, key):
    assert normalise_category(text) == key


def test_a_compound_of_two_categories_stays_unclear():
    assert normalise_category("aanbestedingsregels") is None
