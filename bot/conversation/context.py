"""When the gemeente slot mapping (action_extract_gemeente) has anything to do.

Rasa calls a custom slot mapping after every user message. Most messages name no place, so the Rasa
process asks this predicate first and skips the call to the action server (bot/rasa_ext/channels.py and bot/edge/); the
action uses the same predicate, so both sides agree on when a gemeente can change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SLOT = "gemeente"
ENTITIES = ("postcode", "gemeente", "woonplaats")  # most precise first
# Asking about a gemeente ("doet Tilburg mee?") does not say where the user's business is.
IGNORE_ENTITIES_FOR = frozenset({"ask_deal_gemeenten"})
NO_EXTRACTION_INTENTS = frozenset({"stop"})


def metadata_gemeente(metadata: Any) -> str | None:
    value = metadata.get(SLOT) if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) and 0 < len(value) <= 100 else None


def needs_gemeente_extraction(*, intent: str, entity_names: Iterable[str], active_form: str | None,
                              requested_slot: str | None, current: Any, metadata: Any) -> bool:
    """False when the mapping cannot set the slot for this message, whatever the database holds."""
    if intent in NO_EXTRACTION_INTENTS:
        return False
    if active_form:
        # A form asking something else leaves the gemeente alone (a name is not a place).
        return requested_slot == SLOT
    if intent not in IGNORE_ENTITIES_FOR and any(name in ENTITIES for name in entity_names):
        return True
    return current is None and metadata_gemeente(metadata) is not None
