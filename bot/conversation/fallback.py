"""What to do with a message the intent classifier was unsure about, decided from its ranking only.

- nonsense (emoji, code, random letters) or nothing above the relevance floor: a short menu of what the
  bot can do, never topics that have nothing to do with the message;
- a complaint that also names a topic: the answer first, then the knelpunt offer;
- one topic clearly ahead of the rest: answer it ("Ik denk dat uw vraag hierover gaat");
- otherwise up to three suggestions, each above the floor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.conversation.language import is_nonsense

# Calibrated confidences (about "chance of being right"), measured on the held-out set: below the
# floor a suggestion is more often unrelated than related.
SUGGESTION_FLOOR = 0.15
# A topic this sure and this far ahead of the next is answered without asking.
DIRECT_MIN = 0.30
DIRECT_RATIO = 2.0
COMPLAINT_MIN = 0.12
MAX_SUGGESTIONS = 3

# Intents that make no sense as a suggestion or as a topic to answer.
NOT_SUGGESTED = frozenset({"nlu_fallback", "out_of_scope", "affirm", "deny", "stop", "inform", "greet",
                           "goodbye", "thank", "english", "followup", "more_info", "other_results",
                           "feedback_unhelpful"})
NOT_TOPICS = frozenset({"ask_privacy", "ask_deal_gemeenten", "ask_team_details"})
COMPLAINT = "describe_knelpunt"


def is_topic(intent: str) -> bool:
    return intent.startswith("ask_") and intent not in NOT_TOPICS


# Intents that fit the conversation so far: after the team's details or a handoff, a vague question is
# about the team; after a topic answer, about that answer.
CONTEXT_INTENTS = {"team": ("ask_team_details", "followup"), "knowledge": ("followup", "more_info")}
CONTEXT_MIN = 0.15


@dataclass
class Plan:
    kind: str  # menu | complaint | followup | answer | suggest
    intents: list[str] = field(default_factory=list)


def _ranking(ranking: Iterable[Mapping]) -> list[tuple[str, float]]:
    out = []
    for item in ranking or []:
        name = item.get("name") or ""
        if name and name != "nlu_fallback":
            out.append((name, float(item.get("confidence") or 0.0)))
    return out


TOPIC_RANKS = 4  # a complaint's topic is among the first intents after describe_knelpunt


def topic_from_ranking(ranking: Iterable[Mapping], floor: float = COMPLAINT_MIN,
                       within: int | None = None) -> str | None:
    """The best topic intent at or above `floor` (and among the first `within`), if any."""
    ranked = _ranking(ranking)[:within] if within else _ranking(ranking)
    return next((name for name, conf in ranked if is_topic(name) and conf >= floor), None)


def suggestable(ranking: Iterable[Mapping]) -> list[tuple[str, float]]:
    """(intent, confidence) worth suggesting, best first: a real topic above the relevance floor."""
    return [(n, c) for n, c in _ranking(ranking) if n not in NOT_SUGGESTED and c >= SUGGESTION_FLOOR]


def plan(text: str, ranking: Iterable[Mapping], context: str | None = None) -> Plan:
    """context: "team" or "knowledge" when the previous answer was about the team or a topic."""
    if is_nonsense(text):
        return Plan("menu")
    ranked = _ranking(ranking)
    top3 = ranked[:3]
    fitting = CONTEXT_INTENTS.get(context or "", ())
    if any(name in fitting and conf >= CONTEXT_MIN for name, conf in ranked[:2]):
        return Plan("followup")
    complaint = any(name == COMPLAINT and conf >= COMPLAINT_MIN for name, conf in top3)
    topic = topic_from_ranking(ranking, within=3)
    if complaint and topic:
        return Plan("complaint", [topic])
    useful = suggestable(ranking)
    if not useful:
        return Plan("menu")
    first = useful[0]
    second = useful[1][1] if len(useful) > 1 else 0.0
    if is_topic(first[0]) and first[1] >= DIRECT_MIN and first[1] >= DIRECT_RATIO * second:
        return Plan("answer", [first[0]])
    return Plan("suggest", [n for n, _ in useful[:MAX_SUGGESTIONS]])
