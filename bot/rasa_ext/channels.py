"""Rasa's REST and socket.io channels behind the edge gate (bot/edge/gate.py).

Registered in credentials.yml by module path. The classes keep Rasa's channel names, so the URLs stay
/webhooks/rest/webhook and /socket.io. Every message goes through one EdgeGate first.

When the action server fails or is too slow, the user gets REPLY_ERROR instead of silence; the
conversation (and an active form) stays as it was, so the next message continues it.

Part of bot/rasa_ext, the only package that imports Rasa. Its settings come from bot/settings.py
(LOKET_RATE_*, LOKET_PROXY_COUNT, LOKET_ACTION_TIMEOUT_S; see docs/RELIABILITY.md).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
    decode_bearer_token,
)
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.edge.gate import (
    HUMAN_BUTTON,
    REPLY_ERROR,
    REPLY_INVALID,
    REPLY_TOO_LONG,
    EdgeConfig,
    EdgeGate,
    client_ip,
    get_gate,
)
from bot.privacy import install_log_redaction
from bot.rasa_ext import speedups

log = logging.getLogger(__name__)


def configure_rasa_process(config: EdgeConfig | None = None) -> None:
    """Settings Rasa 3.6 has no option for; called when Rasa creates the channels."""
    import rasa.core.actions.action as rasa_action

    config = config or get_gate().config
    install_log_redaction()
    # RemoteAction passes this timeout to every action server call (default 300 s). A timeout is
    # caught by Rasa's processor like any action failure, which the channel then reports.
    rasa_action.DEFAULT_REQUEST_TIMEOUT = config.action_timeout_s
    _install_failure_watch()
    speedups.install()


# --- failed turns -----------------------------------------------------------------------------


@dataclass
class _Turn:
    failed: bool = False


_current_turn: contextvars.ContextVar[_Turn | None] = contextvars.ContextVar("loket_turn",
                                                                               default=None)


class _FailureWatch(logging.Handler):
    """Rasa's processor catches an action failure (server down, timeout, error) and only logs it,
    "Bot will continue, but the actions events are lost". This marks the current turn as failed."""

    def emit(self, record: logging.LogRecord) -> None:
        turn = _current_turn.get()
        if turn is not None:
            turn.failed = True


_WATCHED_LOGGERS = ("rasa.core.processor",)


def _install_failure_watch() -> None:
    for name in _WATCHED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(h, _FailureWatch) for h in logger.handlers):
            logger.addHandler(_FailureWatch(level=logging.ERROR))


async def run_turn(on_new_message: Callable[[UserMessage], Awaitable[Any]],
                   message: UserMessage) -> bool:
    """Process one message; True when something went wrong on the way (the user must be told)."""
    turn = _Turn()
    token = _current_turn.set(turn)
    try:
        await on_new_message(message)
    except Exception as exc:
        log.error("turn failed: %s", type(exc).__name__)
        turn.failed = True
    finally:
        _current_turn.reset(token)
    return turn.failed


async def send_error(output: OutputChannel, recipient_id: str) -> None:
    await output.send_text_with_buttons(recipient_id, REPLY_ERROR, [HUMAN_BUTTON])


def request_ip(request: Request | None, proxy_count: int) -> str:
    if request is None:
        return "unknown"
    return client_ip(request.ip, request.headers.get("X-Forwarded-For"), proxy_count)


# --- REST -------------------------------------------------------------------------------------


def _bot_message(recipient_id: str, text: str) -> dict[str, Any]:
    return {"recipient_id": recipient_id, "text": text}


async def payload_too_large(request: Request, exc: Exception) -> HTTPResponse:
    limit = get_gate().config.max_message_chars
    return response.json([_bot_message("", REPLY_TOO_LONG.format(limit=limit))], status=413)


class LoketRestInput(RestInput):
    """Rasa's REST channel (name "rest": /webhooks/rest/webhook) behind the EdgeGate."""

    def __init__(self, gate: EdgeGate | None = None) -> None:
        self._gate = gate

    @property
    def gate(self) -> EdgeGate:
        return self._gate or get_gate()

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        configure_rasa_process()
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.listener("before_server_start")
        async def dutch_payload_too_large(app: Any, _loop: Any) -> None:
            # Sanic refuses a body over REQUEST_MAX_SIZE before any route runs; answer it the way
            # the channel answers a message that is too long, in Dutch, as a list of bot messages.
            app.error_handler.add(PayloadTooLarge, payload_too_large)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            gate = self.gate
            try:
                body = request.json
            except Exception:  # not JSON
                body = None
            if not isinstance(body, dict) or not gate.valid_sender(body.get("sender")):
                return response.json([_bot_message("", REPLY_INVALID)], status=400)
            sender_id = body["sender"]
            verdict = await gate.check(sender_id, request_ip(request, gate.config.proxy_count),
                                       body.get("message"))
            if not verdict.ok:
                headers = {"Retry-After": "60"} if verdict.status == 429 else None
                return response.json([_bot_message(sender_id, verdict.reply or "")],
                                     status=verdict.status, headers=headers)
            metadata = gate.clean_metadata(body.get("metadata"))
            collector = CollectingOutputChannel()
            message = UserMessage(verdict.text, collector, sender_id, input_channel=self.name(),
                                  metadata=metadata)
            failed = await run_turn(on_new_message, message)
            if failed or not collector.messages:
                await send_error(collector, sender_id)
            return response.json(collector.messages)

        return webhook


# --- socket.io --------------------------------------------------------------------------------


class _CountingSocketIOOutput(SocketIOOutput):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent = 0

    async def _send_message(self, socket_id: str, response: Any) -> None:
        self.sent += 1
        await super()._send_message(socket_id, response)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any],
                               **kwargs: Any) -> None:
        self.sent += 1
        await super().send_custom_json(recipient_id, json_message, **kwargs)


class LoketSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (path /socket.io) behind the same EdgeGate as REST.

    The blueprint follows Rasa 3.6's SocketIOInput.blueprint, with the gate in handle_message and
    checks on the event data a browser can send.
    """

    _gate: EdgeGate | None = None

    @property
    def gate(self) -> EdgeGate:
        return self._gate or get_gate()

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        configure_rasa_process()
        return super().from_credentials(credentials)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        from socketio import AsyncServer

        # Same as Rasa: CORS for the socket is handled by Sanic-CORS (`rasa run --cors`).
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        namespace = self.namespace

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, auth: dict | None) -> bool:
            if self.jwt_key:
                token = auth.get("token") if isinstance(auth, dict) else None
                payload = decode_bearer_token(token, self.jwt_key, self.jwt_algorithm) if token else None
                return bool(payload)
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: str) -> None:
            return None

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if self.gate.valid_sender(requested) else os.urandom(16).hex()
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                return
            output = _CountingSocketIOOutput(sio, self.bot_message_evt)
            if self.session_persistence:
                sender_id = data.get("session_id")
                if not self.gate.valid_sender(sender_id):
                    return  # like Rasa: no valid session, no message
            else:
                sender_id = sid
            environ = sio.get_environ(sid, namespace=namespace) or {}
            ip = request_ip(environ.get("sanic.request"), self.gate.config.proxy_count)
            verdict = await self.gate.check(sender_id, ip, data.get("message"))
            if not verdict.ok:
                await output.send_text_message(sender_id, verdict.reply or "")
                return
            metadata = data.get(self.metadata_key, {})
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            message = UserMessage(verdict.text, output, sender_id, input_channel=self.name(),
                                  metadata=self.gate.clean_metadata(metadata))
            failed = await run_turn(on_new_message, message)
            if failed or not output.sent:
                await send_error(output, sender_id)

        return socketio_webhook
