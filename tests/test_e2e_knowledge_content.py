"""The content added after the review of the knowledge base, asked in conversation with the running bot:
the City Deal's tracks, the makelaar met mandaat, an ended scheme, BMKB-Groen, a former gemeente and a
village postcode. The questions are written here, not copied from data/nlu."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.rasa


def ask(stack, sender: str, *texts: str) -> str:
    replies = []
    for text in texts:
        replies += stack.say(sender, text)
    return "\n".join(m.get("text", "") for m in replies)


def test_the_city_deal_tracks_are_answered_and_the_deal_reads_as_ended(bot_stack):
    reply = ask(bot_stack, "kc-tracks", "Welke sporen had de City Deal Impact Ondernemen?")
    assert "licence to break" in reply.lower() or "spoor" in reply.lower()
    assert "afgelopen" in reply.lower()


def test_a_makelaar_met_mandaat_is_explained(bot_stack):
    reply = ask(bot_stack, "kc-mandaat", "Wat betekent een makelaar met mandaat voor mij als ondernemer?")
    assert "mandaat" in reply.lower()


def test_an_ended_scheme_is_said_to_have_ended(bot_stack):
    reply = ask(bot_stack, "kc-tvl", "Kan ik nog TVL aanvragen voor mijn vaste lasten?")
    assert "TVL" in reply
    assert "gestopt" in reply.lower()


def test_bmkb_groen_is_answered_with_its_source(bot_stack):
    reply = ask(bot_stack, "kc-bmkb", "Hoe werkt de BMKB-Groen borgstelling?")
    assert "BMKB-Groen" in reply
    assert "rvo.nl" in reply


def test_a_former_gemeente_is_routed_to_the_current_one(bot_stack):
    reply = ask(bot_stack, "kc-former", "Ons bedrijf zit in Heerhugowaard")
    assert "Dijk en Waard" in reply


def test_a_village_postcode_is_routed_to_its_gemeente(bot_stack):
    reply = ask(bot_stack, "kc-village", "onze postcode is 3888 AB")
    assert "Apeldoorn" in reply
