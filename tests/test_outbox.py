"""Outbox delivery against a real local SMTP server (aiosmtpd) and a real local webhook receiver."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot import handoffs, models
from bot.db import session_scope
from bot.handoffs import outbox
from bot.settings import load_settings
from tests.support.fakes import SECRET, SECRET_ENV, Inbox, Receiver, make_handoff
from tests.support.stack import free_port


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def settings_for(smtp_port: int):
    # The webhook receiver here listens on 127.0.0.1 over http: the development-only allowance.
    return dataclasses.replace(load_settings(), smtp_host="127.0.0.1", smtp_port=smtp_port,
                               public_url="https://loket.example.nl", webhook_allow_loopback=True)




def outbox_row(engine) -> models.OutboxMessage:
    with session_scope(engine) as s:
        return s.execute(select(models.OutboxMessage)).scalar_one()


def attempts(engine) -> list[models.DeliveryAttempt]:
    with session_scope(engine) as s:
        return list(s.execute(select(models.DeliveryAttempt).order_by(models.DeliveryAttempt.id)).scalars())


# --- e-mail -------------------------------------------------------------------------------------


async def test_email_is_delivered_once_with_the_handoff(loaded, smtp):
    controller, inbox = smtp
    reference = make_handoff(loaded)
    settings = settings_for(controller.port)
    report = await outbox.deliver_due(loaded, settings=settings)
    assert (report.attempted, report.delivered) == (1, 1)
    assert len(inbox.messages) == 1
    rcpts, msg = inbox.messages[0]
    assert rcpts == ["makelaarsteam-zwolle@example.nl"]
    assert reference in msg["Subject"]
    body = msg.get_content()
    for expected in (reference, "Zwolle", "betaalbare bedrijfsruimte", "Sam de Vries", "sam@example.nl",
                     "+31 6 12345678", "binnen 3 werkdagen", "Ik zoek een bedrijfsruimte",
                     f"https://loket.example.nl/portaal/overdrachten/{reference}"):
        assert expected in body
    row = outbox_row(loaded)
    assert (row.status, row.attempts) == ("delivered", 1) and row.delivered_at is not None
    assert [a.ok for a in attempts(loaded)] == [True]
    # Delivered is final: later rounds send nothing.
    later = models.utcnow() + timedelta(days=1)
    assert (await outbox.deliver_due(loaded, now=later, settings=settings)).attempted == 0
    assert len(inbox.messages) == 1


async def test_smtp_down_then_back_delivers_exactly_once(loaded, smtp):
    controller, inbox = smtp
    make_handoff(loaded)
    t0 = models.utcnow()
    down = settings_for(free_port())  # nothing listens there
    report = await outbox.deliver_due(loaded, now=t0, settings=down)
    assert (report.attempted, report.failed) == (1, 1)
    row = outbox_row(loaded)
    assert row.status == "pending" and row.attempts == 1 and "smtp" in row.last_error
    assert row.next_attempt_at == t0 + outbox.BASE_DELAY
    # Not due yet: nothing is tried before the backoff has passed.
    assert (await outbox.deliver_due(loaded, now=t0 + timedelta(seconds=10), settings=down)).attempted == 0
    up = settings_for(controller.port)
    report = await outbox.deliver_due(loaded, now=t0 + timedelta(seconds=31), settings=up)
    assert report.delivered == 1 and len(inbox.messages) == 1
    assert [a.ok for a in attempts(loaded)] == [False, True]


async def test_two_workers_at_once_send_one_mail(loaded, smtp):
    controller, inbox = smtp
    make_handoff(loaded)
    settings = settings_for(controller.port)
    reports = await asyncio.gather(*(outbox.deliver_due(loaded, settings=settings) for _ in range(3)))
    assert sum(r.delivered for r in reports) == 1
    assert len(inbox.messages) == 1 and len(attempts(loaded)) == 1


# --- webhook ------------------------------------------------------------------------------------




@pytest.fixture
async def receiver(loaded, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    rec = Receiver(SECRET)
    with session_scope(loaded) as s:  # point team Utrecht at the local receiver
        s.get(models.Makelaarsteam, "utrecht").webhook_url = rec.url
    yield rec
    await rec.stop()


async def test_webhook_is_signed_and_delivered(loaded, receiver):
    await receiver.start()
    reference = make_handoff(loaded, "utrecht")
    report = await outbox.deliver_due(loaded, settings=settings_for(free_port()))
    assert report.delivered == 1 and receiver.calls == 1
    payload = receiver.processed[0]
    assert payload["reference"] == reference and payload["type"] == "loket.handoff"
    assert payload["team"] == {"id": "utrecht", "name": "Makelaarsteam Impact Ondernemen Utrecht"}
    assert payload["contact"]["email"] == "sam@example.nl"
    assert receiver.seen_keys == {handoffs.delivery_key(reference, "utrecht")}


async def test_receiver_down_for_a_while_then_back_gets_it_exactly_once(loaded, receiver):
    reference = make_handoff(loaded, "utrecht")
    settings = settings_for(free_port())
    now = models.utcnow()
    for _ in range(4):  # down: every due try fails and is logged, with growing delays
        report = await outbox.deliver_due(loaded, now=now, settings=settings)
        assert report.failed == 1
        now = outbox_row(loaded).next_attempt_at
    delays = [b.attempted_at - a.attempted_at for a, b in zip(attempts(loaded), attempts(loaded)[1:], strict=False)]
    assert delays == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert outbox_row(loaded).status == "pending"
    await receiver.start()
    report = await outbox.deliver_due(loaded, now=now, settings=settings)
    assert report.delivered == 1
    assert [p["reference"] for p in receiver.processed] == [reference]
    later = now + timedelta(days=2)
    assert (await outbox.deliver_due(loaded, now=later, settings=settings)).attempted == 0
    assert receiver.calls == 1 and [a.ok for a in attempts(loaded)] == [False] * 4 + [True]


async def test_a_retry_after_a_lost_answer_is_not_processed_twice(loaded, receiver):
    receiver.fail_after_processing = 1  # handled it, then crashed before saying so
    await receiver.start()
    make_handoff(loaded, "utrecht")
    settings = settings_for(free_port())
    now = models.utcnow()
    assert (await outbox.deliver_due(loaded, now=now, settings=settings)).failed == 1
    assert (await outbox.deliver_due(loaded, now=now + timedelta(minutes=1), settings=settings)).delivered == 1
    assert receiver.calls == 2 and len(receiver.processed) == 1


async def test_wrong_secret_is_refused_and_retried(loaded, receiver, monkeypatch):
    await receiver.start()
    monkeypatch.setenv(SECRET_ENV, "een-ander-geheim")
    make_handoff(loaded, "utrecht")
    report = await outbox.deliver_due(loaded, settings=settings_for(free_port()))
    assert report.failed == 1 and receiver.processed == []
    assert outbox_row(loaded).last_error == "webhook: HTTP 401"


async def test_missing_secret_is_a_logged_failure(loaded, receiver, monkeypatch, caplog):
    await receiver.start()
    monkeypatch.delenv(SECRET_ENV)
    make_handoff(loaded, "utrecht")
    report = await outbox.deliver_due(loaded, settings=settings_for(free_port()))
    assert report.failed == 1 and receiver.calls == 0
    assert outbox_row(loaded).last_error == outbox.WEBHOOK_ERRORS["config"]  # what makelaars see
    assert SECRET_ENV in caplog.text  # what the admin log says


def test_backoff_grows_and_is_capped():
    delays = [outbox.backoff(n) for n in range(1, outbox.FAST_ATTEMPTS + 2)]
    assert delays[:3] == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert all(a <= b for a, b in zip(delays[:-2], delays[1:-2], strict=False))
    assert max(delays[:outbox.FAST_ATTEMPTS - 1]) <= outbox.MAX_DELAY
    assert delays[-1] == outbox.SLOW_RETRY


async def test_after_many_failures_failed_but_still_retried(loaded, smtp):
    controller, inbox = smtp
    make_handoff(loaded)
    down = settings_for(free_port())
    now = models.utcnow()
    for _ in range(outbox.FAST_ATTEMPTS):
        await outbox.deliver_due(loaded, now=now, settings=down)
        now = outbox_row(loaded).next_attempt_at
    row = outbox_row(loaded)
    assert row.status == "failed" and row.attempts == outbox.FAST_ATTEMPTS
    with session_scope(loaded) as s:
        assert outbox.undelivered_count(s) == 1 and outbox.undelivered_count(s, "utrecht") == 0
    report = await outbox.deliver_due(loaded, now=now, settings=settings_for(controller.port))
    assert report.delivered == 1 and len(inbox.messages) == 1
    assert outbox_row(loaded).status == "delivered"


def test_signature_helpers():
    body = b'{"a":1}'
    header = outbox.sign("k", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert outbox.verify_signature("k", body, header)
    assert not outbox.verify_signature("k", body + b" ", header)
    assert not outbox.verify_signature("other", body, header)
    assert not outbox.verify_signature("k", body, None)
