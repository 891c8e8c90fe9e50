"""`loket db upgrade` and `loket knowledge check|load`."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.settings import Settings


def cmd_db_upgrade(args, settings: Settings) -> int:
    from bot.db import upgrade

    upgrade(settings.database_url)
    print("Database is bijgewerkt.")
    return 0


def _checked_knowledge(directory: Path):
    """The knowledge in `directory`, or None after printing each problem."""
    from bot.knowledge.loader import KnowledgeError, check

    try:
        return check(directory)
    except KnowledgeError as exc:
        print(f"De kennisbank in {directory} heeft {len(exc.problems)} fout(en):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def cmd_knowledge_check(args, settings: Settings) -> int:
    directory = Path(args.dir) if args.dir else settings.knowledge_dir
    kn = _checked_knowledge(directory)
    if kn is None:
        return 1
    counts = ", ".join(f"{v} {k}" for k, v in kn.counts().items())
    print(f"De kennisbank is in orde: {counts}.")
    return 0


def cmd_knowledge_load(args, settings: Settings) -> int:
    from bot.db import get_engine, upgrade
    from bot.knowledge.loader import KnowledgeError, load

    directory = Path(args.dir) if args.dir else settings.knowledge_dir
    upgrade(settings.database_url)
    try:
        kn = load(get_engine(settings.database_url), directory, progress=sys.stderr.isatty())
    except KnowledgeError as exc:
        print(f"Niet geladen: de kennisbank heeft {len(exc.problems)} fout(en):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{v} {k}" for k, v in kn.counts().items())
    print(f"Kennisbank geladen: {counts}.")
    return 0


def register(sub) -> None:
    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="schema bijwerken (Alembic)").set_defaults(func=cmd_db_upgrade)

    kn = sub.add_parser("knowledge", help="kennisbank").add_subparsers(dest="kn_command", required=True)
    for name, func, text in (("check", cmd_knowledge_check, "controleren"),
                             ("load", cmd_knowledge_load, "controleren en laden")):
        p = kn.add_parser(name, help=text)
        p.add_argument("--dir", help="map met de kennisbank (standaard knowledge/)")
        p.set_defaults(func=func)
