from rasa_sdk import Tracker

from actions.forms import is_interruption


def _tracker(text: str, intent: str, confidence: float = 0.9) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence}}
    return Tracker("s", {}, latest, [], False, None, {"name": "handoff_form"}, "action_listen")


def test_a_topic_question_mid_form_is_an_interruption():
    assert is_interruption(_tracker("wat is de wbso precies?", "ask_innovation")) == "ask_innovation"
    assert is_interruption(_tracker("ben je eigenlijk een robot of een mens", "bot_challenge")) == "bot_challenge"


def test_a_short_answer_is_never_an_interruption_even_if_classified_as_a_question():
    # Names and places answer the form's question; reading them as FAQ made the form loop.
    assert is_interruption(_tracker("Demo Ondernemer", "faq")) is None
    assert is_interruption(_tracker("Sam de Vries", "ask_networks")) is None


def test_low_confidence_and_form_intents_are_not_interruptions():
    assert is_interruption(_tracker("hoe zit het met subsidie voor ons?", "ask_subsidies_general", 0.4)) is None
    assert is_interruption(_tracker("ja dat klopt helemaal zo", "affirm")) is None
