"""Knelpunten: bottlenecks entrepreneurs report in the chat. Create, list, aggregate, change, export.

City Deal track per category (the category decides the track; it is stored with the knelpunt):

    track 1  overheidsorganisatie / "licence to break":  wet- en regelgeving, inkoop/aanbesteding,
                                                           vastgoed/ruimte
    track 2  loket en netwerk / "connecting the dots":   uitvoering/loket, anders
    track 3  financieel / "roadmap":                      financiering

Privacy: without contact consent no personal data (name, e-mail, phone, sender id) is stored with a
knelpunt. Free text is stored verbatim; the web layer escapes it when rendering.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from bot import models
from bot.references import next_reference

REFERENCE_PREFIX = "KNP"

# Stored key -> label shown to people (chat buttons, dashboard, export).
CATEGORIES: dict[str, str] = {
    "wet_regelgeving": "wet- en regelgeving",
    "uitvoering_loket": "uitvoering/loket",
    "financiering": "financiering",
    "inkoop_aanbesteding": "inkoop/aanbesteding",
    "vastgoed_ruimte": "vastgoed/ruimte",
    "anders": "anders",
}

TRACK_BY_CATEGORY: dict[str, int] = {
    "wet_regelgeving": 1,
    "inkoop_aanbesteding": 1,
    "vastgoed_ruimte": 1,
    "uitvoering_loket": 2,
    "anders": 2,
    "financiering": 3,
}

TRACKS: dict[int, str] = {
    1: "1 – overheidsorganisatie (licence to break)",
    2: "2 – loket en netwerk",
    3: "3 – financieel",
}

STATUSES: dict[str, str] = {
    "nieuw": "nieuw",
    "in_behandeling": "in behandeling",
    "doorgezet": "doorgezet",
    "opgelost": "opgelost",
    "niet_oplosbaar": "niet oplosbaar",
}

# The workflow: nieuw -> in behandeling -> doorgezet naar [organisatie] -> opgelost / niet oplosbaar.
# Closed ones can be reopened, and a forwarded one can come back when the organisation returns it.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "nieuw": ("in_behandeling", "niet_oplosbaar"),
    "in_behandeling": ("doorgezet", "opgelost", "niet_oplosbaar"),
    "doorgezet": ("opgelost", "niet_oplosbaar", "in_behandeling"),
    "opgelost": ("in_behandeling",),
    "niet_oplosbaar": ("in_behandeling",),
}

UNKNOWN_ANSWERS = {
    "weet ik niet", "ik weet het niet", "weet niet", "geen idee", "onbekend", "geen", "niemand",
    "zeg ik liever niet", "liever niet", "dat weet ik niet", "weet ik het niet", "nvt", "n.v.t.",
    "-", "?",
}

_CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "wet_regelgeving": ("wet", "wetten", "wetgeving", "regel", "regels", "regelgeving", "wettelijk",
                        "rechtsvorm", "belasting", "fiscaal", "vergunning"),
    "uitvoering_loket": ("uitvoering", "loket", "kastje", "muur", "afdeling", "ambtenaar",
                         "aanspreekpunt", "procedure", "wachttijd", "bureaucratie", "formulier"),
    "financiering": ("financiering", "geld", "subsidie", "subsidies", "lening", "bank", "krediet",
                     "fonds", "investering", "investeerder", "financier"),
    "inkoop_aanbesteding": ("inkoop", "aanbesteding", "aanbestedingen", "aanbesteden", "tender",
                            "opdracht", "opdrachten", "inschrijving", "referenties", "social return"),
    "vastgoed_ruimte": ("vastgoed", "ruimte", "pand", "panden", "huisvesting", "bedrijfsruimte",
                        "locatie", "gebouw", "huur", "werkplaats"),
    "anders": ("anders", "iets anders", "overig", "overige"),
}

MAX_TEXT = 4000
MAX_ORGANISATIONS = 10


class KnelpuntError(ValueError):
    """A request the workflow does not allow; the message is Dutch and shown to the user."""


# --- small helpers -------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lowercase, accents removed, punctuation to spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w@.+-]+", " ", text).split())


def is_unknown_answer(text: str | None) -> bool:
    return _fold(text or "").strip(" .!") in {_fold(a) for a in UNKNOWN_ANSWERS}


def category_label(key: str | None) -> str:
    return CATEGORIES.get(key or "", key or "")


def track_for(category: str) -> int:
    """The City Deal track of a category (see the table at the top of this module)."""
    try:
        return TRACK_BY_CATEGORY[category]
    except KeyError:
        raise KnelpuntError(f"Onbekende categorie: {category!r}.") from None


def status_label(status: str, forwarded_to: str | None = None) -> str:
    if status == "doorgezet":
        return f"doorgezet naar {forwarded_to}" if forwarded_to else "doorgezet"
    return STATUSES.get(status, status)


def normalise_category(text: str | None) -> str | None:
    """Map a button payload or a typed answer ("inkoop", "regels", "financiring") to a category key."""
    folded = _fold(text or "")
    if not folded:
        return None
    for key, label in CATEGORIES.items():
        if folded in (_fold(key.replace("_", " ")), _fold(label), key):
            return key
    if folded.isdigit() and 1 <= int(folded) <= len(CATEGORIES):  # "3" for the third button
        return list(CATEGORIES)[int(folded) - 1]
    words = set(folded.split())
    hits = [key for key, keywords in _CATEGORY_KEYWORDS.items()
            if any((kw in folded) if " " in kw else (kw in words) for kw in keywords)]
    if len(hits) == 1:
        return hits[0]
    if not hits:  # typos: compare word by word with the keywords
        vocabulary = {kw: key for key, kws in _CATEGORY_KEYWORDS.items() for kw in kws if len(kw) > 4}
        scores: Counter[str] = Counter()
        for word in words:
            if len(word) < 5:
                continue
            match = process.extractOne(word, list(vocabulary), scorer=fuzz.ratio, score_cutoff=85)
            if match:
                scores[vocabulary[match[0]]] += 1
        if len(scores) == 1:
            return next(iter(scores))
    return None


def parse_organisations(text: str | None) -> list[str]:
    """"de gemeente en het UWV" -> ["gemeente", "UWV"]; "weet ik niet" -> []."""
    if not text or is_unknown_answer(text):
        return []
    parts = re.split(r"\s*(?:[,;/\n]|\ben\b|\boch\b|&|\+)\s*", text.strip())
    result: list[str] = []
    seen: set[str] = set()
    for part in parts:
        part = re.sub(r"^(?:de|het|een|bij|van|door)\s+", "", part.strip(" .!"), flags=re.I).strip()
        if not part or is_unknown_answer(part):
            continue
        key = part.lower()
        if key not in seen:
            seen.add(key)
            result.append(part[:120])
    return result[:MAX_ORGANISATIONS]


def resolve_gemeente(session: Session, value: str | None) -> str | None:
    """A gemeente id from an id, name, alias, woonplaats or postcode; None when not exactly one."""
    from bot.routing import resolve_gemeente as resolve

    result = resolve(session, value)
    return result.gemeente_id if result.status == "found" else None


def gemeente_names(session: Session, ids: Iterable[str | None] | None = None) -> dict[str, str]:
    stmt = select(models.Gemeente.id, models.Gemeente.name)
    wanted = {i for i in ids or () if i}
    if ids is not None:
        if not wanted:
            return {}
        stmt = stmt.where(models.Gemeente.id.in_(wanted))
    return dict(session.execute(stmt).all())


# --- creating ------------------------------------------------------------------------------


@dataclass
class KnelpuntInput:
    description: str
    category: str
    organisations: list[str] = field(default_factory=list)
    gemeente: str | None = None  # id, name or woonplaats; resolved on create
    consequence: str = ""
    contact_consent: bool = False
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    sender_id: str | None = None


def create_knelpunt(session: Session, data: KnelpuntInput, now: datetime | None = None) -> models.Knelpunt:
    """Store one knelpunt with a new reference, inside the caller's transaction."""
    description = (data.description or "").strip()
    if not description:
        raise KnelpuntError("Een knelpunt heeft een beschrijving nodig.")
    if data.category not in CATEGORIES:
        raise KnelpuntError(f"Onbekende categorie: {data.category!r}.")
    now = now or models.utcnow()
    gemeente_id = resolve_gemeente(session, data.gemeente) if data.gemeente else None
    if data.gemeente and gemeente_id is None and not is_unknown_answer(data.gemeente):
        gemeente_id = data.gemeente.strip()[:80]  # keep what the bot knew, even if not in the list
    consent = bool(data.contact_consent)

    def personal(value: str | None, limit: int) -> str | None:
        # Without consent nothing that identifies the person is kept, not even the chat's sender id.
        return ((value or "").strip()[:limit] or None) if consent else None

    knelpunt = models.Knelpunt(
        reference=next_reference(session, REFERENCE_PREFIX, now),
        description=description[:MAX_TEXT],
        category=data.category,
        track=track_for(data.category),
        organisations=[o for o in (data.organisations or []) if o][:MAX_ORGANISATIONS],
        gemeente_id=gemeente_id,
        consequence=(data.consequence or "").strip()[:MAX_TEXT],
        status="nieuw",
        duplicate_count=1,
        contact_consent=consent,
        contact_name=personal(data.contact_name, 200),
        contact_email=personal(data.contact_email, 200),
        contact_phone=personal(data.contact_phone, 50),
        sender_id=personal(data.sender_id, 200),
        created_at=now,
    )
    session.add(knelpunt)
    session.flush()
    session.add(models.KnelpuntHistory(knelpunt_id=knelpunt.id, user_id=None, field="status",
                                       old_value=None, new_value="nieuw", changed_at=now))
    return knelpunt


# --- filtering and listing -----------------------------------------------------------------


def _parse_date(raw: str) -> date:
    return date.fromisoformat(raw.strip())


def _like(term: str) -> str:
    """A LIKE pattern that matches `term` literally ('!' is the escape character)."""
    escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


@dataclass
class KnelpuntFilter:
    """The filters of the dashboard list, its export and the API (same query parameters)."""

    category: str | None = None
    track: int | None = None
    gemeente: str | None = None
    organisation: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    include_merged: bool = False

    PARAMS = ("categorie", "spoor", "gemeente", "organisatie", "status", "van", "tot", "zoek",
              "samengevoegd")

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> tuple[KnelpuntFilter, list[str]]:
        """Parse query parameters; unusable values are dropped and reported (in Dutch)."""
        f, errors = cls(), []

        def text(name: str, limit: int = 200) -> str | None:
            value = (query.get(name) or "").strip()
            return value[:limit] or None

        if (cat := text("categorie")) is not None:
            if cat in CATEGORIES:
                f.category = cat
            else:
                errors.append(f"Onbekende categorie: {cat}.")
        if (track := text("spoor")) is not None:
            if track.isdigit() and int(track) in TRACKS:
                f.track = int(track)
            else:
                errors.append(f"Onbekend spoor: {track}.")
        f.gemeente = text("gemeente", 80)
        f.organisation = text("organisatie", 120)
        if (status := text("status")) is not None:
            if status in STATUSES:
                f.status = status
            else:
                errors.append(f"Onbekende status: {status}.")
        for name, attr in (("van", "date_from"), ("tot", "date_to")):
            if (raw := text(name, 20)) is not None:
                try:
                    setattr(f, attr, _parse_date(raw))
                except ValueError:
                    errors.append(f"De datum '{raw}' klopt niet. Gebruik jjjj-mm-dd.")
        f.q = text("zoek", 200)
        f.include_merged = (query.get("samengevoegd") or "") in ("1", "on", "ja", "true")
        return f, errors

    def to_query(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in (("categorie", self.category), ("spoor", self.track),
                            ("gemeente", self.gemeente), ("organisatie", self.organisation),
                            ("status", self.status), ("van", self.date_from), ("tot", self.date_to),
                            ("zoek", self.q)):
            if value not in (None, ""):
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        if self.include_merged:
            out["samengevoegd"] = "1"
        return out

    def conditions(self) -> list[Any]:
        k = models.Knelpunt
        conds: list[Any] = []
        if not self.include_merged:
            conds.append(k.duplicate_of.is_(None))
        if self.category:
            conds.append(k.category == self.category)
        if self.track:
            conds.append(k.track == self.track)
        if self.gemeente:
            conds.append(k.gemeente_id == self.gemeente)
        if self.status:
            conds.append(k.status == self.status)
        if self.organisation:
            orgs = cast(k.organisations, String)
            # JSON text escapes non-ASCII characters, so match both spellings.
            escaped = _json_escaped(self.organisation)
            conds.append(or_(orgs.ilike(_like(self.organisation), escape="!"),
                             orgs.ilike(_like(escaped), escape="!"),
                             k.forwarded_to.ilike(_like(self.organisation), escape="!")))
        if self.date_from:
            conds.append(k.created_at >= datetime.combine(self.date_from, datetime.min.time()))
        if self.date_to:
            conds.append(k.created_at < datetime.combine(self.date_to + timedelta(days=1),
                                                         datetime.min.time()))
        if self.q:
            for word in self.q.split()[:8]:  # every word must occur somewhere
                pattern = _like(word)
                conds.append(or_(k.description.ilike(pattern, escape="!"),
                                 k.consequence.ilike(pattern, escape="!"),
                                 k.reference.ilike(pattern, escape="!")))
        return conds


def _json_escaped(text: str) -> str:
    import json

    return json.dumps(text)[1:-1]


@dataclass
class Page:
    items: list[models.Knelpunt]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _ordered(f: KnelpuntFilter):
    return (select(models.Knelpunt).where(and_(*f.conditions()))
            .order_by(models.Knelpunt.created_at.desc(), models.Knelpunt.id.desc()))


def list_knelpunten(session: Session, f: KnelpuntFilter, page: int = 1, per_page: int = 50) -> Page:
    per_page = max(1, min(per_page, 1000))
    total = session.execute(
        select(func.count()).select_from(models.Knelpunt).where(and_(*f.conditions()))
    ).scalar_one()
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    items = session.execute(_ordered(f).limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(list(items), total, page, per_page)


def iter_knelpunten(session: Session, f: KnelpuntFilter) -> Iterator[models.Knelpunt]:
    """Every knelpunt of the filter in the list's order (for export)."""
    yield from session.execute(_ordered(f).execution_options(yield_per=500)).scalars()


# --- the table: the same columns on the page, in CSV and in XLSX ---------------------------

TABLE_HEADER = ["Referentie", "Datum", "Categorie", "Spoor", "Gemeente", "Organisaties", "Status",
                "Meldingen", "Omschrijving", "Gevolg"]


def table_row(k: models.Knelpunt, names: Mapping[str, str]) -> list[str | int]:
    return [
        k.reference,
        k.created_at.strftime("%Y-%m-%d"),
        category_label(k.category),
        k.track,
        names.get(k.gemeente_id or "", k.gemeente_id or ""),
        "; ".join(k.organisations or []),
        "samengevoegd" if k.duplicate_of else status_label(k.status, k.forwarded_to),
        k.duplicate_count,
        k.description,
        k.consequence,
    ]


def table_rows(session: Session, items: Iterable[models.Knelpunt]) -> list[list[str | int]]:
    items = list(items)
    names = gemeente_names(session, (k.gemeente_id for k in items))
    return [table_row(k, names) for k in items]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_csv(rows: Iterable[list[str | int]]) -> bytes:
    """Semicolon-separated with a BOM, so Dutch Excel opens it in columns.

    A cell that starts like a formula gets a leading apostrophe (CSV injection); XLSX needs no such
    change because its cells are typed as text.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(TABLE_HEADER)
    for row in rows:
        writer.writerow([f"'{v}" if isinstance(v, str) and v.startswith(_FORMULA_START) else v
                         for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_xlsx(rows: Iterable[list[str | int]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Knelpunten")
    widths = [18, 12, 22, 7, 20, 30, 28, 11, 60, 40]
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    ws.freeze_panes = "A2"
    header = []
    for title in TABLE_HEADER:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(ws, value=_xlsx_safe(value))
                cell.data_type = "s"  # text, never a formula: "=..." stays visible text
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_safe(text: str) -> str:
    # XML 1.0 cannot hold most control characters; openpyxl would refuse the whole file.
    return _ILLEGAL_XLSX.sub("", text)


# --- aggregates for the charts -------------------------------------------------------------


@dataclass
class Stats:
    by_category: list[tuple[str, int]]
    by_gemeente: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    total: int


def stats(session: Session, f: KnelpuntFilter, top_gemeenten: int = 10, months: int = 24) -> Stats:
    k = models.Knelpunt
    where = and_(*f.conditions())
    cat_counts = dict(session.execute(
        select(k.category, func.count()).where(where).group_by(k.category)).all())
    by_category = [(label, cat_counts.get(key, 0)) for key, label in CATEGORIES.items()]
    gem_counts = session.execute(
        select(k.gemeente_id, func.count()).where(where).group_by(k.gemeente_id)).all()
    names = gemeente_names(session, (g for g, _ in gem_counts))
    ranked = sorted(((names.get(g or "", g) if g else "onbekend", n) for g, n in gem_counts),
                    key=lambda item: (-item[1], item[0]))
    by_gemeente = ranked[:top_gemeenten]
    if len(ranked) > top_gemeenten:
        by_gemeente.append(("overige gemeenten", sum(n for _, n in ranked[top_gemeenten:])))
    # Months in Python: strftime/to_char differ between SQLite and PostgreSQL.
    month_counts: Counter[str] = Counter(
        created.strftime("%Y-%m")
        for created in session.execute(select(k.created_at).where(where)).scalars())
    by_month = sorted(month_counts.items())[-months:]
    return Stats(by_category, by_gemeente, _fill_months(by_month), sum(cat_counts.values()))


def _fill_months(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Add the empty months between the first and the last, so the chart shows gaps honestly."""
    if not items:
        return []
    counts = dict(items)
    year, month = map(int, items[0][0].split("-"))
    last = items[-1][0]
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append((key, counts.get(key, 0)))
        if key >= last:
            return out
        month += 1
        if month > 12:
            year, month = year + 1, 1


# --- one knelpunt: detail, status workflow, merging ----------------------------------------


def get_knelpunt(session: Session, key: int | str) -> models.Knelpunt | None:
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return session.get(models.Knelpunt, int(key))
    return session.execute(
        select(models.Knelpunt).where(models.Knelpunt.reference == key.strip().upper())
    ).scalar_one_or_none()


@dataclass
class HistoryEntry:
    changed_at: datetime
    who: str
    field: str
    old_value: str | None
    new_value: str | None


FIELD_LABELS = {"status": "Status", "forwarded_to": "Doorgezet naar", "duplicate_of": "Samengevoegd met",
                "duplicate_count": "Aantal meldingen", "merged": "Samengevoegd"}


def history(session: Session, knelpunt_id: int) -> list[HistoryEntry]:
    h, u = models.KnelpuntHistory, models.User
    rows = session.execute(
        select(h, u.display_name, u.username).outerjoin(u, u.id == h.user_id)
        .where(h.knelpunt_id == knelpunt_id).order_by(h.changed_at, h.id)
    ).all()
    return [HistoryEntry(row.changed_at, (display or username) if row.user_id else "chat (melder)",
                         row.field, row.old_value, row.new_value)
            for row, display, username in rows]


def duplicates_of(session: Session, knelpunt_id: int) -> list[models.Knelpunt]:
    return list(session.execute(
        select(models.Knelpunt).where(models.Knelpunt.duplicate_of == knelpunt_id)
        .order_by(models.Knelpunt.id)).scalars())


def allowed_statuses(current: str) -> tuple[str, ...]:
    return TRANSITIONS.get(current, ())


def change_status(session: Session, knelpunt_id: int, new_status: str, user_id: int | None,
                  forwarded_to: str | None = None, now: datetime | None = None) -> models.Knelpunt:
    """Move a knelpunt along the workflow; every change is written to its history."""
    knelpunt = session.get(models.Knelpunt, knelpunt_id, with_for_update=True)
    if knelpunt is None:
        raise KnelpuntError("Dit knelpunt bestaat niet.")
    if knelpunt.duplicate_of is not None:
        raise KnelpuntError("Dit knelpunt is samengevoegd met een ander knelpunt. "
                            "Wijzig de status van dat knelpunt.")
    if new_status not in STATUSES:
        raise KnelpuntError(f"Onbekende status: {new_status}.")
    forwarded_to = (forwarded_to or "").strip()[:120] or None
    if new_status not in allowed_statuses(knelpunt.status):
        raise KnelpuntError(
            f"Van '{status_label(knelpunt.status)}' kan de status niet naar "
            f"'{status_label(new_status)}'.")
    if new_status == "doorgezet" and not forwarded_to:
        raise KnelpuntError("Vul in naar welke organisatie het knelpunt is doorgezet.")
    now = now or models.utcnow()

    def log(field_name: str, old: str | None, new: str | None) -> None:
        session.add(models.KnelpuntHistory(knelpunt_id=knelpunt.id, user_id=user_id, field=field_name,
                                           old_value=old, new_value=new, changed_at=now))

    log("status", knelpunt.status, new_status)
    knelpunt.status = new_status
    if new_status == "doorgezet" and forwarded_to != knelpunt.forwarded_to:
        log("forwarded_to", knelpunt.forwarded_to, forwarded_to)
        knelpunt.forwarded_to = forwarded_to
    session.flush()
    return knelpunt


def merge(session: Session, target_key: int | str, duplicate_keys: Iterable[int | str],
          user_id: int | None, now: datetime | None = None) -> models.Knelpunt:
    """Merge duplicates into one knelpunt: they point to it and its count adds theirs up.

    Knelpunten that were merged into a duplicate move along to the target, so there are no chains.
    """
    target = get_knelpunt(session, target_key)
    if target is None:
        raise KnelpuntError("Het knelpunt om in samen te voegen bestaat niet.")
    if target.duplicate_of is not None:
        raise KnelpuntError(f"{target.reference} is zelf al samengevoegd; kies het hoofdknelpunt.")
    duplicates: list[models.Knelpunt] = []
    for key in duplicate_keys:
        dup = get_knelpunt(session, key)
        if dup is None:
            raise KnelpuntError(f"Knelpunt {key} bestaat niet.")
        if dup.id == target.id:
            raise KnelpuntError("Een knelpunt kan niet met zichzelf worden samengevoegd.")
        if dup.duplicate_of is not None:
            raise KnelpuntError(f"{dup.reference} is al samengevoegd.")
        if dup not in duplicates:
            duplicates.append(dup)
    if not duplicates:
        raise KnelpuntError("Kies minstens één ander knelpunt om samen te voegen.")
    now = now or models.utcnow()
    old_count = target.duplicate_count
    for dup in duplicates:
        for child in duplicates_of(session, dup.id):
            child.duplicate_of = target.id
            session.add(models.KnelpuntHistory(knelpunt_id=child.id, user_id=user_id,
                                               field="duplicate_of", old_value=dup.reference,
                                               new_value=target.reference, changed_at=now))
        dup.duplicate_of = target.id
        target.duplicate_count += dup.duplicate_count
        session.add(models.KnelpuntHistory(knelpunt_id=dup.id, user_id=user_id, field="duplicate_of",
                                           old_value=None, new_value=target.reference, changed_at=now))
        session.add(models.KnelpuntHistory(knelpunt_id=target.id, user_id=user_id, field="merged",
                                           old_value=None, new_value=dup.reference, changed_at=now))
    session.add(models.KnelpuntHistory(knelpunt_id=target.id, user_id=user_id, field="duplicate_count",
                                       old_value=str(old_count), new_value=str(target.duplicate_count),
                                       changed_at=now))
    session.flush()
    return target


def to_dict(k: models.Knelpunt, names: Mapping[str, str], with_contact: bool = True) -> dict[str, Any]:
    """The API's representation of one knelpunt."""
    data: dict[str, Any] = {
        "id": k.id,
        "reference": k.reference,
        "created_at": k.created_at.isoformat(timespec="seconds"),
        "category": k.category,
        "category_label": category_label(k.category),
        "track": k.track,
        "gemeente_id": k.gemeente_id,
        "gemeente": names.get(k.gemeente_id or "", k.gemeente_id),
        "organisations": list(k.organisations or []),
        "status": k.status,
        "status_label": status_label(k.status, k.forwarded_to),
        "forwarded_to": k.forwarded_to,
        "duplicate_of": k.duplicate_of,
        "duplicate_count": k.duplicate_count,
        "description": k.description,
        "consequence": k.consequence,
        "contact_consent": k.contact_consent,
    }
    if with_contact and k.contact_consent:
        data["contact"] = {"name": k.contact_name, "email": k.contact_email, "phone": k.contact_phone}
    return data
