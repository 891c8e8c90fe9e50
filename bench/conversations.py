"""Loket's conversations for load tests, and a driver that completes whichever form the bot has.

The forms (handoff_form, knelpunt_form) are built by other capabilities and may change; the driver reads
the form's requested slot from Rasa's tracker API and answers it by the slot's name, so it keeps working
when questions are reworded or added. Every answer is demo data (example.nl, no real person).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.handoffs.references import REFERENCE_RE
from bot.settings import PROJECT_ROOT

# Which form to use, in order of preference, and a message that starts it.
FORM_TRIGGERS: dict[str, str] = {
    "handoff_form": "Ik wil graag met een makelaar praten over mijn plan.",
    "knelpunt_form": "Ik wil een knelpunt melden.",
}

DESCRIPTION = ("Wij zoeken een bedrijfsruimte voor een kringloopwinkel met leerwerkplekken, "
               "maar het bestemmingsplan staat alleen kantoren toe.")

# Slot-name fragments and the demo answer for them; the first match wins. BUTTON: pick a button.
BUTTON = "<button>"
SLOT_ANSWERS: list[tuple[tuple[str, ...], str]] = [
    (("consent", "toestemming", "akkoord", "_ok", "confirm", "bevestig", "agree"), "ja"),
    (("postcode",), "3511 AB"),
    (("gemeente", "woonplaats", "plaats", "city"), "Utrecht"),
    (("email", "e_mail", "mail"), "demo.ondernemer@example.nl"),
    (("telefoon", "phone"), "0612345678"),
    (("naam", "name"), "Demo Ondernemer"),
    (("contact",), "demo.ondernemer@example.nl"),
    (("descr", "beschrijving", "omschrijving", "consequence", "gevolg", "toelichting", "vraag",
      "question", "probleem"), "DESCRIPTION"),
    (("organisati", "instantie"), "de gemeente en het UWV"),
    (("categor", "onderwerp", "topic", "thema", "soort", "type"), BUTTON),
]

# Load-test mix: knowledge questions, gemeente routing; a form conversation is added when one exists.
KNOWLEDGE_CONVERSATIONS: list[list[str]] = [
    ["Hallo", "Welke subsidies zijn er voor energie besparen?",
     "Hoe werkt loonkostensubsidie?", "Dank je wel"],
    ["Moet ik mijn bedrijf inschrijven bij de KVK?", "Welke rechtsvorm past bij een sociale onderneming?",
     "Waar kan ik een microkrediet krijgen?", "bedankt, doei"],
    ["Hoe krijg ik opdrachten van de gemeente?", "Wat is social return?",
     "Ben je een robot?", "Tot ziens"],
]
ROUTING_CONVERSATIONS: list[list[str]] = [
    ["Welke gemeenten doen mee aan de City Deal?", "Doet Zwolle mee?",
     "Ik zit in Utrecht, wie kan mij helpen?", "bedankt"],
]


def domain_forms(domain_dir: Path | None = None) -> dict[str, list[str]]:
    """Forms and their required slots, read from the domain folder (Rasa merges the same files)."""
    forms: dict[str, list[str]] = {}
    for path in sorted((domain_dir or PROJECT_ROOT / "domain").glob("*.yml")):
        data = yaml.safe_load(path.read_text()) or {}
        for name, spec in (data.get("forms") or {}).items():
            forms[name] = list((spec or {}).get("required_slots") or [])
    return forms


def choose_form(domain_dir: Path | None = None) -> str | None:
    present = domain_forms(domain_dir)
    return next((name for name in FORM_TRIGGERS if name in present), None)


def answer_for(slot: str | None, messages: list[dict]) -> str:
    """The demo answer for `slot` (by its name); a button of the last reply when the name says nothing."""
    name = (slot or "").lower()
    answer = next((a for fragments, a in SLOT_ANSWERS if any(f in name for f in fragments)), BUTTON)
    if answer == "DESCRIPTION":
        return DESCRIPTION
    if answer != BUTTON:
        return answer
    buttons = [b for m in messages for b in m.get("buttons") or []]
    if not buttons:
        return DESCRIPTION if slot else "ja"
    yes = next((b for b in buttons if str(b.get("title", "")).lower().startswith("ja")), buttons[0])
    return str(yes.get("payload") or yes.get("title"))


def find_reference(messages: list[dict]) -> str | None:
    for m in messages:
        found = REFERENCE_RE.search(m.get("text") or "")
        if found:
            return found.group(0)
    return None


@dataclass
class FormRun:
    form: str
    turns: list[str] = field(default_factory=list)
    replies: list[list[dict]] = field(default_factory=list)
    reference: str | None = None


def drive_form(form: str, say: Callable[[int, str], list[dict]],
               tracker: Callable[[int], dict], max_turns: int = 16) -> FormRun:
    """Start `form` and answer until a reference number comes back.

    `say(turn_index, text)` sends one message (the caller picks the Rasa instance per turn) and
    `tracker(turn_index)` reads the tracker after that turn.
    """
    run = FormRun(form=form)
    text = FORM_TRIGGERS[form]
    for turn in range(max_turns):
        replies = say(turn, text)
        run.turns.append(text)
        run.replies.append(replies)
        run.reference = find_reference(replies)
        if run.reference:
            return run
        slot = (tracker(turn).get("slots") or {}).get("requested_slot")
        # No requested slot (e.g. a confirmation after the form): its "Ja" button, else "ja".
        text = answer_for(slot, replies)
    return run
