"""The knelpunten table: the same columns on the page, in CSV and in XLSX, and the API's JSON."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot import models
from bot.conversation.gemeenten import gemeente_names
from bot.knelpunten.taxonomy import category_label, status_label

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


def export_csv(rows: Iterable[list[str | int]], header: list[str] = TABLE_HEADER) -> bytes:
    """Semicolon-separated with a BOM, so Dutch Excel opens it in columns.

    A cell that starts like a formula gets a leading apostrophe (CSV injection); XLSX needs no such
    change because its cells are typed as text.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
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
