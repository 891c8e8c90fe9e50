"""Knelpunten: bottlenecks entrepreneurs report in the chat. Create, list, aggregate, change, export.

City Deal track per category (the category decides the track; it is stored with the knelpunt):

    track 1  overheidsorganisatie / "licence to break":  wet- en regelgeving, inkoop/aanbesteding,
                                                           vastgoed/ruimte
    track 2  loket en netwerk / "connecting the dots":   uitvoering/loket, anders
    track 3  financieel / "roadmap":                      financiering

Privacy: without contact consent no personal data (name, e-mail, phone, sender id) is stored with a
knelpunt. Free text is stored verbatim; the web layer escapes it when rendering.

Modules: taxonomy (categories, tracks, statuses), chat (reading typed answers), workflow (one
knelpunt), filters (the list), export (table, CSV, XLSX, JSON), stats (charts). This package re-exports
what callers use, so `from bot import knelpunten as kp` reads as one service.
"""

from bot.conversation.gemeenten import gemeente_names
from bot.knelpunten.chat import is_unknown_answer, normalise_category, parse_organisations
from bot.knelpunten.export import (
    TABLE_HEADER,
    export_csv,
    export_xlsx,
    table_row,
    table_rows,
    to_dict,
)
from bot.knelpunten.filters import KnelpuntFilter, Page, iter_knelpunten, list_knelpunten
from bot.knelpunten.stats import Stats, stats
from bot.knelpunten.taxonomy import (
    CATEGORIES,
    MAX_ORGANISATIONS,
    MAX_TEXT,
    REFERENCE_PREFIX,
    STATUSES,
    TRACK_BY_CATEGORY,
    TRACKS,
    TRANSITIONS,
    UNKNOWN_ANSWERS,
    KnelpuntError,
    category_label,
    status_label,
    track_for,
)
from bot.knelpunten.workflow import (
    FIELD_LABELS,
    HistoryEntry,
    KnelpuntInput,
    allowed_statuses,
    change_status,
    create_knelpunt,
    duplicates_of,
    get_knelpunt,
    history,
    merge,
)

__all__ = [
    "CATEGORIES", "FIELD_LABELS", "MAX_ORGANISATIONS", "MAX_TEXT", "REFERENCE_PREFIX", "STATUSES",
    "TABLE_HEADER", "TRACKS", "TRACK_BY_CATEGORY", "TRANSITIONS", "UNKNOWN_ANSWERS", "HistoryEntry",
    "KnelpuntError", "KnelpuntFilter", "KnelpuntInput", "Page", "Stats", "allowed_statuses",
    "category_label", "change_status", "create_knelpunt", "duplicates_of", "export_csv", "export_xlsx",
    "gemeente_names", "get_knelpunt", "history", "is_unknown_answer", "iter_knelpunten",
    "list_knelpunten", "merge", "normalise_category", "parse_organisations", "stats", "status_label",
    "table_row", "table_rows", "to_dict", "track_for",
]
