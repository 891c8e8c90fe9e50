"""`loket db upgrade` and `loket knowledge check|load|links|review`."""

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


def cmd_knowledge_links(args, settings: Settings) -> int:
    """Check every address in knowledge/ on the internet; exit 1 when one is broken."""
    import asyncio

    from bot.knowledge import links
    from bot.knowledge.loader import KnowledgeError

    directory = Path(args.dir) if args.dir else settings.knowledge_dir
    try:
        used_in = links.collect_links(directory)
    except KnowledgeError as exc:
        print(f"De kennisbank heeft {len(exc.problems)} fout(en); los die eerst op "
              "(loket knowledge check).", file=sys.stderr)
        return 2
    parallel = max(1, min(args.parallel, 8))  # be polite to the sites we link to
    print(f"{len(used_in)} links controleren, {parallel} tegelijk, wachttijd {args.timeout:g} seconden...",
          flush=True)
    results = asyncio.run(links.check_links(sorted(used_in), parallel=parallel, timeout_s=args.timeout))
    for line in links.report(results, used_in):
        print(line)
    return 1 if any(r.broken for r in results) else 0


def cmd_knowledge_review(args, settings: Settings) -> int:
    """The review status of every regeling and loket (with --stale: only those that need a check)."""
    from bot.db import get_engine, session_scope, upgrade
    from bot.knowledge import review

    upgrade(settings.database_url)
    max_age = settings.review_max_age_days
    with session_scope(get_engine(settings.database_url)) as session:
        entries = review.overview(session, max_age_days=max_age)
    if not entries:
        print("Er is geen inhoud geladen. Laad eerst de kennisbank: loket knowledge load.")
        return 0
    counts = review.counts(entries)
    shown = [e for e in entries if e.status != review.CHECKED] if args.stale else entries
    print(f"Controle van de inhoud (een controle geldt {max_age} dagen):")
    for e in shown:
        last = (f"laatste controle {e.stamp.reviewed_at:%d-%m-%Y} door {e.stamp.reviewer}"
                if e.stamp else "nooit gecontroleerd")
        print(f"  {review.STATUS_LABELS[e.status]:<25} {e.kind:<8} {e.id:<40} {last}")
        print(f"  {'':<25} {'':<8} {e.source_url}")
    if args.stale and not shown:
        print("  Alles is gecontroleerd.")
    summary = ", ".join(f"{counts[s]} {review.STATUS_LABELS[s].lower()}" for s in review.STATUS_ORDER)
    print(f"Totaal {len(entries)}: {summary}.")
    print("Controleren doet u op de pagina /coordinatie/inhoud.")
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

    p = kn.add_parser("links", help="alle links in de kennisbank controleren (internet nodig)")
    p.add_argument("--dir", help="map met de kennisbank (standaard knowledge/)")
    p.add_argument("--parallel", type=int, default=4, help="zoveel verzoeken tegelijk (1-8, standaard 4)")
    p.add_argument("--timeout", type=float, default=15.0, help="seconden wachten per link (standaard 15)")
    p.set_defaults(func=cmd_knowledge_links)

    p = kn.add_parser("review", help="controle-status van de regelingen en loketten")
    p.add_argument("--stale", action="store_true",
                   help="alleen wat (opnieuw) gecontroleerd moet worden: te controleren, gewijzigd, verouderd")
    p.set_defaults(func=cmd_knowledge_review)
