"""/beheer/mail: the mail the local mail sink kept (bot/handoffs/mailsink.py), for admins.

In the embedded setup handoff e-mail goes to var/mail/ instead of a real mail server; this page lets an
admin read it. The messages hold contact details: admins only, never cached (Cache-Control: no-store is
set for every logged-in page), shown as text (Jinja2 escapes it).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from bot.settings import Settings
from bot.web.auth import require_role

ROLE = "admin"
MAX_LISTED = 200
NAME_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,120}\.eml")


@dataclass(frozen=True)
class Mail:
    name: str
    date: str
    sender: str
    to: str
    subject: str


def when(msg: EmailMessage) -> str:
    """The Date header as the portal shows times: 06-12-2026 06:30 (UTC)."""
    try:
        moment = parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError):
        return str(msg.get("Date", "")) or "-"
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%d-%m-%Y %H:%M") + " (UTC)"


def _message(path: Path, headers_only: bool = False) -> EmailMessage:
    with path.open("rb") as f:
        return BytesParser(policy=policy.default).parse(f, headersonly=headers_only)


def list_mail(mail_dir: Path, limit: int = MAX_LISTED) -> list[Mail]:
    """The newest messages first (the file names start with the time they arrived)."""
    if not mail_dir.is_dir():
        return []
    found = []
    for path in sorted(mail_dir.glob("*.eml"), reverse=True)[:limit]:
        try:
            msg = _message(path, headers_only=True)
        except OSError:  # pruned meanwhile
            continue
        found.append(Mail(path.name, when(msg), str(msg.get("From", "")),
                          str(msg.get("To", "")), str(msg.get("Subject", ""))))
    return found


def body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset: show what can be read
        return part.get_payload(decode=True).decode("utf-8", errors="replace")


def _mail_dir(request: web.Request) -> Path:
    settings: Settings = request.app["settings"]
    return settings.mail_dir


@require_role(ROLE)
@aiohttp_jinja2.template("mail_list.html")
async def mail_list(request: web.Request) -> dict:
    mail_dir = _mail_dir(request)
    return {"mails": await asyncio.to_thread(list_mail, mail_dir), "mail_dir": str(mail_dir),
            "limit": MAX_LISTED}


@require_role(ROLE)
@aiohttp_jinja2.template("mail_detail.html")
async def mail_detail(request: web.Request) -> dict:
    name = request.match_info["name"]
    mail_dir = _mail_dir(request)
    # Only a plain file name from the sink: no path, so nothing outside var/mail/ can be read.
    if not NAME_RE.fullmatch(name) or not (mail_dir / name).is_file():
        raise web.HTTPNotFound(text="Dit bericht bestaat niet (meer).")
    raw = await asyncio.to_thread((mail_dir / name).read_bytes)
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    headers = [("Van", str(msg.get("From", "-"))), ("Aan", str(msg.get("To", "-"))),
               ("Onderwerp", str(msg.get("Subject", "-"))), ("Verstuurd", when(msg))]
    return {"name": name, "headers": headers, "body": body_text(msg),
            "raw": raw.decode("utf-8", errors="replace")}


def setup(app: web.Application) -> None:
    app.router.add_get("/beheer/mail", mail_list, name="mail_list")
    app.router.add_get("/beheer/mail/{name}", mail_detail, name="mail_detail")
