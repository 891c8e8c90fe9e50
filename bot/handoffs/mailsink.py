"""The local mail sink of the embedded setup: an SMTP server on 127.0.0.1 that keeps every message.

    python -m bot.handoffs.mailsink

`loket run` starts it when no SMTP server is configured (LOKET_SMTP_HOST unset; LOKET_MAIL_SINK), so
the outbox delivers handoffs and the portal shows them as "bezorgd". Each message becomes one .eml
file in LOKET_DATA_DIR/mail (var/mail/), readable by this user only; admins read them at /beheer/mail.
The messages hold contact details, so files older than the contact retention period are deleted.
Never for production: nothing leaves this machine (production mode refuses LOKET_MAIL_SINK).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from bot.settings import Settings, UnsafeSettingsError, ensure_private_dir, get_settings

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024  # a handoff mail is a few KiB
PRUNE_EVERY_S = 3600.0


def message_path(mail_dir: Path) -> Path:
    """A new, unique name that sorts by arrival: 20261206-063015-<random>.eml (UTC)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return mail_dir / f"{stamp}-{secrets.token_hex(4)}.eml"


def store(mail_dir: Path, content: bytes) -> Path:
    """Write one message, 0600, under a temporary name first: the web app never reads half a file."""
    ensure_private_dir(mail_dir)
    path = message_path(mail_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    os.replace(tmp, path)
    return path


def prune(mail_dir: Path, max_age_days: int, now: float | None = None) -> int:
    """Delete messages older than `max_age_days`; returns how many."""
    if not mail_dir.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - max_age_days * 86400
    removed = 0
    for path in mail_dir.glob("*.eml"):
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


class SinkHandler:
    """aiosmtpd handler: every accepted message is stored as it arrived."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        path = await asyncio.to_thread(store, self.mail_dir, envelope.original_content or envelope.content)
        log.info("mail stored as %s", path.name)  # not the recipients: personal data
        return "250 OK"


async def serve(settings: Settings, host: str = "127.0.0.1", port: int | None = None,
                ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
    """Run the sink until `stop` is set (or forever)."""
    from aiosmtpd.smtp import SMTP

    handler = SinkHandler(settings.mail_dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=MAX_MESSAGE_BYTES, hostname="loket.localhost"),
        host=host, port=port or settings.smtp_port)
    log.info("mail sink on %s:%s, messages in %s", host, port or settings.smtp_port, settings.mail_dir)
    if ready is not None:
        ready.set()
    stop = stop or asyncio.Event()
    try:
        while not stop.is_set():
            await asyncio.to_thread(prune, settings.mail_dir, settings.contact_retention_days)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), PRUNE_EVERY_S)
    finally:
        server.close()
        await server.wait_closed()


def main() -> int:
    try:
        settings = get_settings()
    except UnsafeSettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ensure_private_dir(settings.mail_dir)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # Local only, whatever LOKET_SMTP_HOST says: the messages hold personal data.
        await serve(settings, host="127.0.0.1", stop=stop)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
