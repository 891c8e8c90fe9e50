"""Delivery of handoffs from the outbox: e-mail (SMTP) or a signed JSON webhook, with retries.

The outbox row is written in the same transaction as the handoff, so nothing is lost when a team's
server is down. `deliver_due` sends what is due, logs one DeliveryAttempt per try and schedules the
next try with exponential backoff. A row is leased before sending, so two workers never send it at
the same time; webhooks get an Idempotency-Key so a receiver can ignore a repeat after a crash.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate

import aiohttp
import aiosmtplib
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import models
from bot.conversation.routing import response_time_text
from bot.db import get_engine, run_in_session
from bot.handoffs.webhook_guard import WebhookRefused, check_url, resolver_for
from bot.settings import Settings, get_settings

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=30)
FAST_ATTEMPTS = 8  # after this many failures the row is "failed": still retried, but hourly
SLOW_RETRY = timedelta(hours=1)
LEASE = timedelta(minutes=2)  # a worker that dies mid-send frees the row after this
SEND_TIMEOUT_S = 15.0
SIGNATURE_HEADER = "X-Loket-Signature"


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after `attempts` failed tries: 30 s, 1 min, 2 min ... capped."""
    if attempts >= FAST_ATTEMPTS:
        return SLOW_RETRY
    return min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts - 1)))


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """For receivers (and tests): constant-time check of the X-Loket-Signature header."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header)


@dataclass
class Job:
    outbox_id: int
    delivery_key: str
    channel: str
    target: str
    secret_env: str | None
    payload: dict


@dataclass
class Report:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    keys: list[str] = field(default_factory=list)  # delivery keys that were delivered


# --- database steps (each its own short transaction) -------------------------------------------


def _due_ids(session: Session, now: datetime, limit: int) -> list[int]:
    return list(session.execute(
        select(models.OutboxMessage.id)
        .where(models.OutboxMessage.status != "delivered",
               models.OutboxMessage.next_attempt_at <= now)
        .order_by(models.OutboxMessage.next_attempt_at, models.OutboxMessage.id)
        .limit(limit)
    ).scalars())


def _payload(session: Session, h: models.Handoff, settings: Settings) -> dict:
    team = session.get(models.Makelaarsteam, h.team_id)
    gemeente = session.get(models.Gemeente, h.gemeente_id) if h.gemeente_id else None
    return {
        "type": "loket.handoff",
        "reference": h.reference,
        "team": {"id": h.team_id, "name": team.name if team else h.team_id},
        "gemeente": {"id": h.gemeente_id, "name": gemeente.name if gemeente else h.gemeente_id},
        "topic": h.topic,
        "description": h.description,
        "contact": {"name": h.contact_name, "email": h.contact_email, "phone": h.contact_phone},
        "consent_at": h.consent_at.isoformat(timespec="seconds") if h.consent_at else None,
        "created_at": h.created_at.isoformat(timespec="seconds") if h.created_at else None,
        "response_days": team.response_days if team else None,
        "transcript": h.transcript or [],
        "portal_url": f"{settings.public_url.rstrip('/')}/portaal/overdrachten/{h.reference}",
    }


def _lease(session: Session, outbox_id: int, now: datetime, settings: Settings) -> Job | None:
    """Take the row for this worker; None when another worker has it or it is no longer due."""
    result = session.execute(
        update(models.OutboxMessage)
        .where(models.OutboxMessage.id == outbox_id,
               models.OutboxMessage.status != "delivered",
               models.OutboxMessage.next_attempt_at <= now)
        .values(status="sending", next_attempt_at=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    row = session.get(models.OutboxMessage, outbox_id)
    handoff = session.get(models.Handoff, row.handoff_id)
    team = session.get(models.Makelaarsteam, handoff.team_id)
    return Job(outbox_id=row.id, delivery_key=row.delivery_key, channel=row.channel,
               target=row.target, secret_env=team.webhook_secret_env if team else None,
               payload=_payload(session, handoff, settings))


def _record(session: Session, outbox_id: int, ok: bool, detail: str, now: datetime) -> models.OutboxMessage:
    row = session.get(models.OutboxMessage, outbox_id)
    row.attempts += 1
    session.add(models.DeliveryAttempt(outbox_id=row.id, attempted_at=now, ok=ok, detail=detail[:500]))
    if ok:
        row.status, row.delivered_at, row.last_error = "delivered", now, None
    else:
        row.last_error = detail[:500]
        row.status = "failed" if row.attempts >= FAST_ATTEMPTS else "pending"
        row.next_attempt_at = now + backoff(row.attempts)
    session.flush()
    return row


# --- sending ----------------------------------------------------------------------------------


def email_text(p: dict) -> str:
    contact = p["contact"]
    lines = [
        f"Een ondernemer vraagt via Loket Impact Ondernemen om contact met {p['team']['name']}.",
        "",
        f"Referentienummer: {p['reference']}",
        f"Gemeente: {p['gemeente']['name']}",
    ]
    if p.get("topic"):
        lines.append(f"Onderwerp: {p['topic']}")
    lines += [
        "",
        "Vraag:",
        p["description"],
        "",
        "Contactgegevens (de ondernemer gaf toestemming om deze met u te delen):",
        f"  Naam: {contact.get('name') or '-'}",
        f"  E-mail: {contact.get('email') or '-'}",
        f"  Telefoon: {contact.get('phone') or '-'}",
    ]
    if p.get("response_days") is not None:
        lines += ["", f"De ondernemer verwacht {response_time_text(p['response_days'])} een reactie."]
    if p.get("transcript"):
        lines += ["", "Laatste berichten uit het gesprek:"]
        for turn in p["transcript"]:
            lines.append(f"  {turn.get('speaker', '?')}: {turn.get('text', '')}")
    lines += ["", f"Open de vraag in het portaal om hem op te pakken: {p['portal_url']}", "",
              "Dit bericht is automatisch verstuurd door Loket Impact Ondernemen."]
    return "\n".join(lines)


def smtp_options(settings: Settings) -> dict:
    """aiosmtplib's connection options from settings: STARTTLS (when offered, required or never)
    and a login only when a username is set."""
    options: dict = {"hostname": settings.smtp_host, "port": settings.smtp_port,
                     "timeout": SEND_TIMEOUT_S, "start_tls": settings.smtp_starttls}
    if settings.smtp_username:
        options.update(username=settings.smtp_username, password=settings.smtp_password)
    return options


async def send_email(job: Job, settings: Settings) -> tuple[bool, str]:
    msg = EmailMessage()
    msg["From"] = settings.smtp_sender
    msg["To"] = job.target
    msg["Subject"] = f"Nieuwe vraag via Loket Impact Ondernemen: {job.payload['reference']}"
    msg["Date"] = formatdate(localtime=False)
    domain = settings.smtp_sender.rpartition("@")[2] or "loket.invalid"
    # Stable Message-ID: a mail system that sees the same delivery twice can drop the copy.
    msg["Message-ID"] = f"<{job.delivery_key}@{domain}>"
    msg["X-Loket-Delivery-Key"] = job.delivery_key
    msg.set_content(email_text(job.payload))
    try:
        await aiosmtplib.send(msg, **smtp_options(settings))
    except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
        return False, f"smtp: {type(exc).__name__}: {exc}"[:500]
    return True, "smtp: aangenomen"


# What makelaars see in the portal when a webhook fails: plain Dutch, no addresses or socket errors
# (those would map the team's or our network). The details go to the admin log (log.warning).
WEBHOOK_ERRORS = {
    "config": "webhook: niet verstuurd, de instellingen van dit team zijn niet compleet. "
              "De beheerder kan dit oplossen.",
    "refused": "webhook: niet verstuurd, het adres van het team is niet toegestaan. "
               "De beheerder kan dit oplossen.",
    "unreachable": "webhook: het systeem van het team is niet bereikbaar. Loket probeert het later opnieuw.",
    "timeout": "webhook: het systeem van het team antwoordde niet op tijd. Loket probeert het later opnieuw.",
}


def _webhook_failed(job: Job, kind: str, detail: str) -> tuple[bool, str]:
    log.warning("outbox %s (webhook, team %s): %s", job.outbox_id, job.payload["team"]["id"], detail)
    return False, WEBHOOK_ERRORS[kind]


async def send_webhook(job: Job, settings: Settings) -> tuple[bool, str]:
    secret = os.environ.get(job.secret_env or "", "")
    if not secret:
        return _webhook_failed(job, "config", f"environment variable {job.secret_env or '(no name)'} "
                                              "is not set")
    allow_loopback = settings.webhook_allow_loopback and not settings.production
    try:
        check_url(job.target, allow_loopback)
    except WebhookRefused as exc:
        return _webhook_failed(job, "refused", f"{job.target}: {exc}")
    body = json.dumps(job.payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign(secret, body),
        "Idempotency-Key": job.delivery_key,
        "User-Agent": "Loket-Impact-Ondernemen/1",
    }
    timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT_S)
    # The resolver refuses private addresses when connecting; no DNS cache, no proxy from the
    # environment, no redirects (a redirect could point anywhere, the check would not see it).
    connector = aiohttp.TCPConnector(resolver=resolver_for(job.target, allow_loopback),
                                     use_dns_cache=False)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False) as http:
            async with http.post(job.target, data=body, headers=headers, allow_redirects=False) as resp:
                if 200 <= resp.status < 300:
                    return True, f"webhook: HTTP {resp.status}"
                if 300 <= resp.status < 400:
                    log.warning("outbox %s (webhook): HTTP %s to %s not followed", job.outbox_id,
                                resp.status, resp.headers.get("Location", "?")[:200])
                    return False, (f"webhook: HTTP {resp.status}, een doorverwijzing. Loket volgt die "
                                   "niet. De beheerder kan het adres aanpassen.")
                return False, f"webhook: HTTP {resp.status}"
    except WebhookRefused as exc:
        return _webhook_failed(job, "refused", f"{job.target}: {exc}")
    except asyncio.TimeoutError:
        return _webhook_failed(job, "timeout", f"{job.target}: no answer in {SEND_TIMEOUT_S:.0f} s")
    except (aiohttp.ClientError, OSError) as exc:
        return _webhook_failed(job, "unreachable", f"{job.target}: {type(exc).__name__}: {exc}"[:500])


async def _send(job: Job, settings: Settings) -> tuple[bool, str]:
    if job.channel == "email":
        return await send_email(job, settings)
    if job.channel == "webhook":
        return await send_webhook(job, settings)
    return False, f"onbekend kanaal {job.channel!r}"


async def deliver_due(engine: Engine | None = None, now: datetime | None = None,
                      settings: Settings | None = None, limit: int = 50) -> Report:
    """Send every outbox row that is due at `now` (default: the current time) once."""
    settings = settings or get_settings()
    engine = engine or get_engine(settings.database_url)
    now = now or models.utcnow()
    report = Report()
    for outbox_id in await run_in_session(lambda s: _due_ids(s, now, limit), engine):
        job = await run_in_session(lambda s, i=outbox_id: _lease(s, i, now, settings), engine)
        if job is None:
            continue
        report.attempted += 1
        try:
            ok, detail = await _send(job, settings)
        except Exception as exc:  # a bug in sending must not stop the other deliveries
            log.error("outbox %s: unexpected %s while sending", job.outbox_id, type(exc).__name__)
            ok, detail = False, f"fout: {type(exc).__name__}"
        row = await run_in_session(lambda s, j=job, o=ok, d=detail: _record(s, j.outbox_id, o, d, now),
                                   engine)
        if ok:
            report.delivered += 1
            report.keys.append(job.delivery_key)
        else:
            report.failed += 1
        # Ids and status only: the payload holds personal data.
        log.info("outbox %s (%s, %s): %s after %d attempt(s)", job.outbox_id, job.channel,
                 job.payload["team"]["id"], row.status, row.attempts)
    return report


def undelivered_count(session: Session, team_id: str | None = None) -> int:
    stmt = (select(func.count(models.OutboxMessage.id)).join(models.Handoff)
            .where(models.OutboxMessage.status != "delivered"))
    if team_id is not None:
        stmt = stmt.where(models.Handoff.team_id == team_id)
    return int(session.execute(stmt).scalar_one())


# --- the worker in the web app process -----------------------------------------------------


async def run_worker(engine: Engine, settings: Settings) -> None:
    """Deliver due rows every `outbox_interval_s` seconds until cancelled."""
    log.info("outbox worker started (every %.1f s)", settings.outbox_interval_s)
    while True:
        try:
            await deliver_due(engine, settings=settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be briefly unavailable; try again next round
            # Only the type: database errors can carry row values (personal data) in their text.
            log.error("outbox worker: delivery round failed (%s)", type(exc).__name__)
        await asyncio.sleep(settings.outbox_interval_s)
