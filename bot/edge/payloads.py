"""Typed `/intent{...}` payloads: which a user may send, and the rest as plain text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.settings import PROJECT_ROOT

_PAYLOAD_RE = re.compile(r"/(?P<intent>[A-Za-z0-9_]{1,80})(?:@[0-9.]{1,10})?(?P<entities>\{.*\})?",
                         re.DOTALL)
# Rasa intents that only Rasa itself (or an operator) should send.
DENIED_INTENTS = frozenset({"nlu_fallback", "session_start", "restart", "back"})
# Button payloads that actions build at run time (not visible in the domain): intent -> entity ->
# value kind. Add a line here when an action offers a button with entities.
ACTION_BUTTON_ENTITIES: dict[str, dict[str, str]] = {
    "more_info": {"regeling_id": "id", "loket_id": "id"},  # actions/knowledge.py
}
VALUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "id": re.compile(r"[a-z0-9][a-z0-9_-]{0,79}"),
    "name": re.compile(r"[\w][\w .'-]{0,79}"),
}
# Message metadata the widget sends (bot/web/static/widget.js): key -> value pattern. Anything else
# is dropped at the edge, because Rasa copies metadata into the tracker (session_started_metadata)
# and actions read it (actions/context.py).
METADATA_KEYS: dict[str, re.Pattern[str]] = {"gemeente": VALUE_PATTERNS["id"]}


@dataclass(frozen=True)
class PayloadDecision:
    text: str  # what goes to Rasa
    kind: str  # "none" (no payload) | "payload" (allowed, canonical) | "text" (turned into text)


def _button_payloads(responses: dict) -> Iterable[str]:
    for variants in (responses or {}).values():
        for variant in variants or []:
            if not isinstance(variant, dict):
                continue
            for button in variant.get("buttons") or []:
                if isinstance(button, dict) and isinstance(button.get("payload"), str):
                    yield button["payload"]


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yml")) + sorted(folder.rglob("*.yaml"))


@dataclass
class PayloadPolicy:
    """Which `/intent{...}` messages a user may send; everything else starting with "/" is text.

    Built from the project (see from_project): an intent without entities is allowed when it has NLU
    examples (typing such an example reaches it anyway) or when a domain button sends it; an intent
    with entities only with exactly the entity keys a button uses, and values a button uses (domain)
    or that match the value pattern (ACTION_BUTTON_ENTITIES). DENIED_INTENTS never.
    """

    plain_intents: frozenset[str]
    button_values: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    pattern_values: dict[str, dict[str, re.Pattern[str]]] = field(default_factory=dict)

    @classmethod
    def from_project(cls, root: Path = PROJECT_ROOT) -> PayloadPolicy:
        domain_intents: set[str] = set()
        domain_entities: set[str] = set()
        payloads: list[str] = []
        for path in _yaml_files(root / "domain"):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for item in doc.get("intents") or []:
                domain_intents.add(item if isinstance(item, str) else next(iter(item)))
            for item in doc.get("entities") or []:
                domain_entities.add(item if isinstance(item, str) else next(iter(item)))
            payloads.extend(_button_payloads(doc.get("responses") or {}))
        nlu_intents: set[str] = set()
        for path in _yaml_files(root / "data"):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for item in doc.get("nlu") or []:
                if isinstance(item, dict) and isinstance(item.get("intent"), str):
                    nlu_intents.add(item["intent"].split("/", 1)[0])
        plain = set(nlu_intents)
        button_values: dict[str, dict[str, set[str]]] = {}
        for payload in payloads:
            parsed = _parse_payload(payload)
            if parsed is None:
                continue
            intent, entities = parsed
            if entities is None:
                plain.add(intent)
                continue
            for key, value in entities.items():
                if key in domain_entities and isinstance(value, str):
                    button_values.setdefault(intent, {}).setdefault(key, set()).add(value)
        patterns = {
            intent: {key: VALUE_PATTERNS[kind] for key, kind in keys.items()
                     if key in domain_entities}
            for intent, keys in ACTION_BUTTON_ENTITIES.items() if intent in domain_intents
        }
        return cls(
            plain_intents=frozenset((plain & domain_intents) - DENIED_INTENTS),
            button_values={i: {k: frozenset(v) for k, v in keys.items()}
                           for i, keys in button_values.items()
                           if i in domain_intents and i not in DENIED_INTENTS},
            pattern_values={i: keys for i, keys in patterns.items() if keys},
        )

    def _entities_allowed(self, intent: str, entities: dict[str, Any]) -> bool:
        if not entities:
            return False
        fixed = self.button_values.get(intent, {})
        patterns = self.pattern_values.get(intent, {})
        for key, value in entities.items():
            if not isinstance(value, str) or len(value) > 80:
                return False
            if key in fixed and value in fixed[key]:
                continue
            if key in patterns and patterns[key].fullmatch(value):
                continue
            return False
        return True

    def decide(self, text: str) -> PayloadDecision:
        if not text.startswith("/"):
            return PayloadDecision(text, "none")
        parsed = _parse_payload(text)
        if parsed is not None:
            intent, entities = parsed
            if entities is None and intent in self.plain_intents:
                return PayloadDecision(f"/{intent}", "payload")
            if entities is not None and self._entities_allowed(intent, entities):
                canonical = json.dumps(entities, ensure_ascii=False, sort_keys=True)
                return PayloadDecision(f"/{intent}{canonical}", "payload")
        return PayloadDecision(as_plain_text(text), "text")


def _parse_payload(text: str) -> tuple[str, dict[str, Any] | None] | None:
    """(intent, entities or None) for a well-formed payload, else None."""
    match = _PAYLOAD_RE.fullmatch(text.strip())
    if not match:
        return None
    raw = match.group("entities")
    if raw is None:
        return match.group("intent"), None
    try:
        entities = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entities, dict):
        return None
    return match.group("intent"), entities


def as_plain_text(text: str) -> str:
    """A "/..." message that is not an allowed payload, as words Rasa's NLU reads like any text."""
    body = re.sub(r"\{.*\}", " ", text, flags=re.DOTALL)  # the JSON part carries no words
    match = re.match(r"\s*/+([A-Za-z0-9_]+)(@[0-9.]*)?", body)
    if match:  # "/request_human@1" -> "request human"
        body = match.group(1).replace("_", " ") + " " + body[match.end():]
    body = " ".join(body.split())
    while body.startswith("/"):
        body = body[1:].strip()
    return body
