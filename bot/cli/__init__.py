"""The `loket` command: run the whole product, train, load knowledge, manage users, purge, export.

One module per group of subcommands; each adds its own with register(subparsers).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot.cli import knelpunten, knowledge, privacy, run, train, users
from bot.settings import UnsafeSettingsError, get_settings

GROUPS = (run, train, knowledge, users, privacy, knelpunten)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loket", description="Loket Impact Ondernemen")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("LOKET_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except UnsafeSettingsError as exc:  # say why and what to do, without a traceback
        print(exc, file=sys.stderr)
        return 2
    return int(args.func(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
