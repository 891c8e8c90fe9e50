"""`loket purge` and `loket forget SENDER`: the retention job and "delete my conversation" by hand."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from bot.settings import Settings


def _parse_now(value: str | None) -> datetime | None:
    """ISO date-time; with a time zone it is converted to naive UTC like every stored timestamp."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"geen geldige datum en tijd: {value!r} (voorbeeld: 2026-03-01T12:00:00)") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def cmd_purge(args, settings: Settings) -> int:
    from bot.conversation.stats import count_then_purge
    from bot.db import get_engine, upgrade
    from bot.privacy import install_log_redaction

    install_log_redaction()
    upgrade(settings.database_url)
    # the results page's figures are counted before the conversations they come from are purged
    report = count_then_purge(get_engine(settings.database_url), settings, now=args.now)
    print(f"Opgeschoond: {report.summary_nl()}.")
    return 0


def cmd_forget(args, settings: Settings) -> int:
    from bot.db import get_engine, upgrade
    from bot.privacy import SENDER_RE, forget, install_log_redaction

    install_log_redaction()
    if not SENDER_RE.match(args.sender):
        print("Dit is geen geldige gespreks-id.", file=sys.stderr)
        return 2
    upgrade(settings.database_url)
    report = forget(get_engine(settings.database_url), settings.tracker_db_url, args.sender)
    print(f"Verwijderd: {report.summary_nl()}.")
    return 0


def register(subparsers) -> None:
    purge = subparsers.add_parser(
        "purge", help="persoonsgegevens verwijderen die ouder zijn dan de bewaartermijn")
    purge.add_argument("--now", type=_parse_now, default=None,
                       help="doen alsof het nu dit moment is (ISO, UTC), om te testen")
    purge.set_defaults(func=cmd_purge)

    forget = subparsers.add_parser("forget", help="één gesprek en de persoonsgegevens erbij wissen")
    forget.add_argument("sender", help="de gespreks-id (sender id) van de gebruiker")
    forget.set_defaults(func=cmd_forget)
