"""Fakes of the outside world: an SMTP inbox, a webhook receiver, a handoff to deliver."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

from aiohttp import web

from bot import handoffs
from bot.db import session_scope
from bot.handoffs import outbox
from tests.support.stack import free_port

SECRET_ENV = "LOKET_WEBHOOK_SECRET_UTRECHT"


SECRET = "test-geheim-voor-de-webhook"


class Inbox:
    """aiosmtpd handler that keeps every accepted message."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


def make_handoff(engine, gemeente_id: str = "zwolle", sender: str = "s1") -> str:
    with session_scope(engine) as s:
        return handoffs.create_handoff(
            s, sender_id=sender, gemeente_id=gemeente_id,
            description="Hoe vind ik een betaalbare bedrijfsruimte voor mijn kringloopwinkel?",
            contact_name="Sam de Vries", contact_email="sam@example.nl", contact_phone="+31 6 12345678",
            consent=True, topic="premises",
            transcript=[{"speaker": "ondernemer", "text": "Ik zoek een bedrijfsruimte", "at": None}],
        ).reference


class Receiver:
    """A team's webhook endpoint: checks the signature and honours Idempotency-Key."""

    def __init__(self, secret: str, fail_after_processing: int = 0) -> None:
        self.secret = secret
        self.processed: list[dict] = []  # what the team's system actually handled
        self.seen_keys: set[str] = set()
        self.calls = 0
        self.fail_after_processing = fail_after_processing  # simulate a crash before answering
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        body = await request.read()
        if not outbox.verify_signature(self.secret, body, request.headers.get(outbox.SIGNATURE_HEADER)):
            return web.json_response({"error": "bad signature"}, status=401)
        key = request.headers.get("Idempotency-Key")
        if not key:
            return web.json_response({"error": "no key"}, status=400)
        if key not in self.seen_keys:
            self.seen_keys.add(key)
            self.processed.append(json.loads(body))
            if self.fail_after_processing > 0:
                self.fail_after_processing -= 1
                return web.json_response({"error": "crashed"}, status=503)
        return web.json_response({"ok": True})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/loket"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/loket", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
