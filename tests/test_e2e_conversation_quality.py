"""Issue 20 end to end: action server + Rasa with the trained model, over REST, one test per class.

Sentences are written for these tests; the held-out conversation set (tests/conversations/) is run
by bench/dialogues.py and is not repeated here.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.rasa

REFERENCE = re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{6}\b")


@pytest.fixture(scope="module")
def stack(bot_stack):
    return bot_stack


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def chat(stack, sender: str, *turns: str, metadata: dict | None = None) -> list[str]:
    return [texts(stack.say(sender, turn, metadata)) for turn in turns]


def test_the_handoff_form_starts_with_one_introduction_and_the_first_question(stack):
    messages = stack.say("e2e-q-start", "ik zou graag iemand van het makelaarsteam willen spreken")
    reply = texts(messages)
    assert len(messages) == 2
    assert "al mee bezig" not in reply and "In welke gemeente" in reply


def test_a_gemeente_correction_in_the_handoff_form_reroutes(stack):
    replies = chat(stack, "e2e-q-corr-handoff", "praat met een mens", "Zwolle",
                   "oeps, ik vergiste me, het is Apeldoorn",
                   "Wij willen een fietsenmakerij beginnen met statushouders en zoeken een pand",
                   "Fleur Jansen", "fleur@example.nl")
    assert "Makelaarsteam Impact Ondernemen Apeldoorn" in replies[2] and "uw naam" not in replies[2]
    assert "Wat is uw naam?" in replies[3]
    assert "Ik stuur dit naar Makelaarsteam Impact Ondernemen Apeldoorn" in replies[5]


def test_a_correction_at_the_consent_step_changes_the_address_and_asks_again(stack):
    replies = chat(stack, "e2e-q-consent", "praat met een mens",
                   "Wij zoeken een betaalbare werkplaats voor onze fietsenmakerij", "Fleur Jansen",
                   "fleur@exampel.nl", "foutje, het moet fleur@example.nl zijn", "ja",
                   metadata={"gemeente": "delft"})
    assert "e-mail fleur@example.nl" in replies[4] and "Mag ik deze gegevens delen" in replies[4]
    assert "duidelijk ja of nee" not in replies[4]
    assert REFERENCE.search(replies[5]) and "Delft" in replies[5]


def test_a_correction_in_the_knelpunt_form_and_a_typed_category(stack):
    replies = chat(stack, "e2e-q-corr-knelpunt", "ik wil een knelpunt melden",
                   "Voor elke kleine opdracht moeten we drie referenties laten zien en die hebben we niet",
                   "het gaat over de inkoper van de gemeente",
                   "sorry, het gaat eigenlijk over geld en niet over inkoop")
    assert "Bij welke organisatie" in replies[2]  # the typed category was understood
    assert "onderwerp aangepast naar financiering" in replies[3] and "Bij welke organisatie" in replies[3]


def test_an_unusable_name_gets_one_sentence_and_the_same_question(stack):
    replies = chat(stack, "e2e-q-name", "praat met een mens",
                   "Wij zoeken een betaalbare werkplaats voor onze fietsenmakerij", "ja hoor", "Fleur Jansen",
                   metadata={"gemeente": "zwolle"})
    assert "Ik heb uw naam nodig" in replies[2] and "Wat is uw naam?" in replies[2]
    assert "Hoe kan het team u bereiken?" in replies[3]


def test_a_complaint_that_asks_a_question_gets_the_answer_then_the_offer(stack):
    replies = chat(stack, "e2e-q-complaint",
                   "Het UWV en de gemeente sturen mij al weken heen en weer over een jobcoach voor mijn "
                   "werknemer. Wie regelt dat nou?",
                   metadata={"gemeente": "zwolle"})
    assert "jobcoach" in replies[0].lower() and "Zwolle" in replies[0]
    assert replies[0].rstrip().endswith("Dan geven wij het door aan de overheid.")


def test_a_question_about_the_teams_opening_hours(stack):
    reply = chat(stack, "e2e-q-team", "tot hoe laat is het makelaarsteam in Delft bereikbaar?")[0]
    assert "maandag tot en met vrijdag, 9.00 tot 17.00 uur" in reply and "Delft" in reply
    assert "geen huizenmakelaar" not in reply


def test_an_english_message_gets_a_short_english_answer(stack):
    replies = chat(stack, "e2e-q-english", "Hello, could you tell me how I register my company here?",
                   "yes")
    assert "business.gov.nl" in replies[0] and "This assistant works in Dutch" in replies[0]
    assert "Ik zet uw vraag door" in replies[1]
    dutch = chat(stack, "e2e-q-dutch", "Heeft de gemeente funding voor mijn startup?")[0]
    assert "This assistant works in Dutch" not in dutch


def test_nonsense_gets_the_short_menu(stack):
    for i, text in enumerate(("qwrtzxcvbnm", "🤷🤷🤷", "SELECT naam FROM klanten WHERE 1=1")):
        reply = chat(stack, f"e2e-q-nonsense-{i}", text)[0]
        assert "Ik help u met vragen over" in reply and "Bedoelt u een van deze" not in reply
