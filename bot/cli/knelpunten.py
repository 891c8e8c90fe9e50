"""`loket export knelpunten --format csv|xlsx --out FILE`: the dashboard's table as a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings

FILTER_OPTIONS = (
    ("--categorie", "categorie", "categorie, bijvoorbeeld inkoop_aanbesteding"),
    ("--spoor", "spoor", "City Deal-spoor: 1, 2 of 3"),
    ("--gemeente", "gemeente", "gemeente-id, bijvoorbeeld zwolle"),
    ("--organisatie", "organisatie", "organisatie (deel van de naam)"),
    ("--status", "status", "status, bijvoorbeeld in_behandeling"),
    ("--van", "van", "gemeld vanaf (jjjj-mm-dd)"),
    ("--tot", "tot", "gemeld tot en met (jjjj-mm-dd)"),
    ("--zoek", "zoek", "zoekwoorden in beschrijving en gevolg"),
)


def cmd_export_knelpunten(args: argparse.Namespace, settings: Settings) -> int:
    from bot import knelpunten as kp
    from bot.db import get_engine, session_scope

    query = {param: value for _, param, _ in FILTER_OPTIONS
             if (value := getattr(args, param, None)) not in (None, "")}
    if args.samengevoegd:
        query["samengevoegd"] = "1"
    f, errors = kp.KnelpuntFilter.from_query(query)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        return 2
    with session_scope(get_engine(settings.database_url)) as session:
        rows = kp.table_rows(session, kp.iter_knelpunten(session, f))
    body = kp.export_csv(rows) if args.format == "csv" else kp.export_xlsx(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    print(f"{len(rows)} knelpunt(en) geschreven naar {out}.")
    return 0


def register(subparsers) -> None:
    export = subparsers.add_parser("export", help="gegevens exporteren")
    sub = export.add_subparsers(dest="export_command", required=True)
    p = sub.add_parser("knelpunten", help="knelpunten als CSV of Excel (dezelfde kolommen als het dashboard)")
    p.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="bestandsformaat")
    p.add_argument("--out", required=True, help="bestand om te schrijven")
    for flag, dest, text in FILTER_OPTIONS:
        p.add_argument(flag, dest=dest, help=text)
    p.add_argument("--samengevoegd", action="store_true", help="ook samengevoegde knelpunten")
    p.set_defaults(func=cmd_export_knelpunten)
