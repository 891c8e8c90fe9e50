"""Rasa input channels with the checks every message passes at the edge (REST and socket.io).

Registered in credentials.yml by module path. The classes keep Rasa's channel names, so the URLs stay
/webhooks/rest/webhook and /socket.io. Every message goes through one EdgeGate:

1. rate limit per sender id and per client address (token buckets; in memory, or in Redis when
   LOKET_REDIS_URL is set, so several Rasa processes share them) -> "u stuurt te veel berichten", 429;
2. control characters, lone surrogates and bidi overrides removed, Unicode normalised (NFC);
3. empty or only whitespace -> a friendly prompt; longer than settings.max_message_chars -> a clear
   answer; neither is passed to Rasa;
4. text starting with "/" (Rasa reads it as `/intent{"entity": "value"}`) goes through PayloadPolicy:
   an allowed payload is passed on in a canonical form we build ourselves, anything else becomes plain
   text (without the slash and without the {...} part), so it cannot set slots or trigger button-only
   intents.

When the action server fails or is too slow, the user gets REPLY_ERROR instead of silence; the
conversation (and an active form) stays as it was, so the next message continues it.

This module may import Rasa (bot/ otherwise never does). Its settings come from bot/settings.py
(LOKET_RATE_*, LOKET_PROXY_COUNT, LOKET_ACTION_TIMEOUT_S; see docs/RELIABILITY.md).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
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
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import speedups
from bot.privacy import SENDER_RE, install_log_redaction
from bot.settings import (
    DEFAULT_ACTION_TIMEOUT_S,
    DEFAULT_MAX_MESSAGE_CHARS,
    DEFAULT_PROXY_COUNT,
    DEFAULT_RATE_IP_BURST,
    DEFAULT_RATE_IP_PER_MINUTE,
    DEFAULT_RATE_SENDER_BURST,
    DEFAULT_RATE_SENDER_PER_MINUTE,
    PROJECT_ROOT,
    Settings,
    load_settings,
)

log = logging.getLogger(__name__)

REPLY_ERROR = "Er ging iets mis. Probeer het opnieuw of praat met een mens."
REPLY_EMPTY = ("U heeft nog niets getypt. Wat is uw vraag? Bijvoorbeeld: "
               "'Welke subsidies zijn er voor mijn bedrijf?'")
REPLY_TOO_LONG = ("Uw bericht is te lang. Een bericht mag maximaal {limit} tekens hebben. "
                  "Maak uw bericht korter, of stuur het in een paar kortere delen.")
REPLY_RATE = "U stuurt te veel berichten achter elkaar. Wacht een minuut en probeer het dan opnieuw."
REPLY_INVALID = "Dit bericht kan ik niet lezen. Probeer het opnieuw."
HUMAN_BUTTON = {"title": "Praat met een mens", "payload": "/request_human"}


# --- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EdgeConfig:
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    sender_burst: float = DEFAULT_RATE_SENDER_BURST
    sender_per_minute: float = DEFAULT_RATE_SENDER_PER_MINUTE
    ip_burst: float = DEFAULT_RATE_IP_BURST
    ip_per_minute: float = DEFAULT_RATE_IP_PER_MINUTE
    action_timeout_s: float = DEFAULT_ACTION_TIMEOUT_S
    proxy_count: int = DEFAULT_PROXY_COUNT  # >0: trust that many X-Forwarded-For entries
    redis_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeConfig:
        return cls(
            max_message_chars=settings.max_message_chars,
            sender_burst=settings.rate_sender_burst,
            sender_per_minute=settings.rate_sender_per_minute,
            ip_burst=settings.rate_ip_burst,
            ip_per_minute=settings.rate_ip_per_minute,
            action_timeout_s=settings.action_timeout_s,
            proxy_count=settings.proxy_count,
            redis_url=settings.redis_url,
        )


# --- text hygiene -----------------------------------------------------------------------------

# Bidi embedding/override/isolate controls reorder what a reader sees ("Trojan source"); RTL text
# itself (Arabic, Hebrew) does not need them and is kept.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def clean_text(raw: str) -> str:
    """NFC, without control characters (tab and newline become a space / stay), trimmed."""
    text = unicodedata.normalize("NFC", raw)
    out: list[str] = []
    for ch in text:
        if ch == "\n":
            out.append("\n")
        elif ch == "\t" or ch == "\r":
            out.append(" ")
        elif ch in _BIDI_CONTROLS:
            continue
        else:
            category = unicodedata.category(ch)
            if category in ("Cc", "Cs") or (0xFFFE <= ord(ch) & 0xFFFF):  # controls, surrogates,
                continue  # and the non-characters U+xFFFE/U+xFFFF
            out.append(ch)
    return "".join(out).strip()


# --- typed /intent{...} payloads ------------------------------------------------------------

_PAYLOAD_RE = re.compile(r"/(?P<intent>[A-Za-z0-9_]{1,80})(?:@[0-9.]{1,10})?(?P<entities>\{.*\})?",
                         re.DOTALL)
# Rasa intents that only Rasa itself (or an operator) should send.
DENIED_INTENTS = frozenset({"nlu_fallback", "session_start", "restart", "back"})
# Button payloads that actions build at run time (not visible in the domain): intent -> entity ->
# value kind. Add a line here when an action offers a button with entities.
ACTION_BUTTON_ENTITIES: dict[str, dict[str, str]] = {
    "more_info": {"regeling_id": "id", "loket_id": "id"},  # actions/knowledge.py
}
VALUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "id": re.compile(r"[a-z0-9][a-z0-9_-]{0,79}"),
    "name": re.compile(r"[\w][\w .'-]{0,79}"),
}
# Message metadata the widget sends (bot/web/static/widget.js): key -> value pattern. Anything else
# is dropped at the edge, because Rasa copies metadata into the tracker (session_started_metadata)
# and actions read it (actions/context.py).
METADATA_KEYS: dict[str, re.Pattern[str]] = {"gemeente": VALUE_PATTERNS["id"]}


@dataclass(frozen=True)
class PayloadDecision:
    text: str  # what goes to Rasa
    kind: str  # "none" (no payload) | "payload" (allowed, canonical) | "text" (turned into text)


def _button_payloads(responses: dict) -> Iterable[str]:
    for variants in (responses or {}).values():
        for variant in variants or []:
            if not isinstance(variant, dict):
                continue
            for button in variant.get("buttons") or []:
                if isinstance(button, dict) and isinstance(button.get("payload"), str):
                    yield button["payload"]


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yml")) + sorted(folder.rglob("*.yaml"))


@dataclass
class PayloadPolicy:
    """Which `/intent{...}` messages a user may send; everything else starting with "/" is text.

    Built from the project (see from_project): an intent without entities is allowed when it has NLU
    examples (typing such an example reaches it anyway) or when a domain button sends it; an intent
    with entities only with exactly the entity keys a button uses, and values a button uses (domain)
    or that match the value pattern (ACTION_BUTTON_ENTITIES). DENIED_INTENTS never.
    """

    plain_intents: frozenset[str]
    button_values: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    pattern_values: dict[str, dict[str, re.Pattern[str]]] = field(default_factory=dict)

    @classmethod
    def from_project(cls, root: Path = PROJECT_ROOT) -> PayloadPolicy:
        domain_intents: set[str] = set()
        domain_entities: set[str] = set()
        payloads: list[str] = []
        for path in _yaml_files(root / "domain"):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for item in doc.get("intents") or []:
                domain_intents.add(item if isinstance(item, str) else next(iter(item)))
            for item in doc.get("entities") or []:
                domain_entities.add(item if isinstance(item, str) else next(iter(item)))
            payloads.extend(_button_payloads(doc.get("responses") or {}))
        nlu_intents: set[str] = set()
        for path in _yaml_files(root / "data"):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for item in doc.get("nlu") or []:
                if isinstance(item, dict) and isinstance(item.get("intent"), str):
                    nlu_intents.add(item["intent"].split("/", 1)[0])
        plain = set(nlu_intents)
        button_values: dict[str, dict[str, set[str]]] = {}
        for payload in payloads:
            parsed = _parse_payload(payload)
            if parsed is None:
                continue
            intent, entities = parsed
            if entities is None:
                plain.add(intent)
                continue
            for key, value in entities.items():
                if key in domain_entities and isinstance(value, str):
                    button_values.setdefault(intent, {}).setdefault(key, set()).add(value)
        patterns = {
            intent: {key: VALUE_PATTERNS[kind] for key, kind in keys.items()
                     if key in domain_entities}
            for intent, keys in ACTION_BUTTON_ENTITIES.items() if intent in domain_intents
        }
        return cls(
            plain_intents=frozenset((plain & domain_intents) - DENIED_INTENTS),
            button_values={i: {k: frozenset(v) for k, v in keys.items()}
                           for i, keys in button_values.items()
                           if i in domain_intents and i not in DENIED_INTENTS},
            pattern_values={i: keys for i, keys in patterns.items() if keys},
        )

    def _entities_allowed(self, intent: str, entities: dict[str, Any]) -> bool:
        if not entities:
            return False
        fixed = self.button_values.get(intent, {})
        patterns = self.pattern_values.get(intent, {})
        for key, value in entities.items():
            if not isinstance(value, str) or len(value) > 80:
                return False
            if key in fixed and value in fixed[key]:
                continue
            if key in patterns and patterns[key].fullmatch(value):
                continue
            return False
        return True

    def decide(self, text: str) -> PayloadDecision:
        if not text.startswith("/"):
            return PayloadDecision(text, "none")
        parsed = _parse_payload(text)
        if parsed is not None:
            intent, entities = parsed
            if entities is None and intent in self.plain_intents:
                return PayloadDecision(f"/{intent}", "payload")
            if entities is not None and self._entities_allowed(intent, entities):
                canonical = json.dumps(entities, ensure_ascii=False, sort_keys=True)
                return PayloadDecision(f"/{intent}{canonical}", "payload")
        return PayloadDecision(as_plain_text(text), "text")


def _parse_payload(text: str) -> tuple[str, dict[str, Any] | None] | None:
    """(intent, entities or None) for a well-formed payload, else None."""
    match = _PAYLOAD_RE.fullmatch(text.strip())
    if not match:
        return None
    raw = match.group("entities")
    if raw is None:
        return match.group("intent"), None
    try:
        entities = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entities, dict):
        return None
    return match.group("intent"), entities


def as_plain_text(text: str) -> str:
    """A "/..." message that is not an allowed payload, as words Rasa's NLU reads like any text."""
    body = re.sub(r"\{.*\}", " ", text, flags=re.DOTALL)  # the JSON part carries no words
    match = re.match(r"\s*/+([A-Za-z0-9_]+)(@[0-9.]*)?", body)
    if match:  # "/request_human@1" -> "request human"
        body = match.group(1).replace("_", " ") + " " + body[match.end():]
    body = " ".join(body.split())
    while body.startswith("/"):
        body = body[1:].strip()
    return body


# --- rate limits ------------------------------------------------------------------------------


class MemoryBuckets:
    """Token buckets in memory, the least recently used forgotten beyond max_keys."""

    def __init__(self, capacity: float, per_minute: float, max_keys: int = 50_000) -> None:
        self.capacity = max(1.0, capacity)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    async def take(self, key: str, now: float | None = None) -> bool:
        return self.take_sync(key, now)

    def take_sync(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self._state.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._state[key] = (tokens, now)
        while len(self._state) > self.max_keys:
            self._state.popitem(last=False)
        return allowed


_REDIS_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / math.max(rate, 0.001)) + 60)
return allowed
"""


class RedisBuckets:
    """The same token bucket in Redis (one Lua script, atomic), shared by all Rasa processes.

    When Redis does not answer, the in-memory buckets decide, so the chat keeps working.
    """

    def __init__(self, url: str, prefix: str, capacity: float, per_minute: float) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(_REDIS_TAKE)
        self.prefix = prefix
        self.capacity = max(1.0, capacity)
        self.rate = per_minute / 60.0
        self.fallback = MemoryBuckets(capacity, per_minute)
        self._warned_at = 0.0

    async def take(self, key: str, now: float | None = None) -> bool:
        try:
            result = await self._script(keys=[f"{self.prefix}:{key}"],
                                        args=[self.capacity, self.rate, now or time.time()])
            return bool(int(result))
        except Exception as exc:  # Redis down: limit per process instead of failing the chat
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                log.warning("rate limit: Redis unavailable (%s); using in-memory buckets",
                            type(exc).__name__)
            return self.fallback.take_sync(key)


class RateLimiter:
    """Keys are HMACs of the sender id and the address: no IP address is kept, not even in Redis."""

    def __init__(self, per_sender, per_ip, secret: str = "") -> None:
        self.per_sender = per_sender
        self.per_ip = per_ip
        self._secret = (secret or os.urandom(16).hex()).encode()

    def _key(self, kind: str, value: str) -> str:
        return hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    @classmethod
    def from_config(cls, config: EdgeConfig, secret: str = "") -> RateLimiter:
        if config.redis_url:
            return cls(
                RedisBuckets(config.redis_url, "loket:rl:s", config.sender_burst,
                             config.sender_per_minute),
                RedisBuckets(config.redis_url, "loket:rl:ip", config.ip_burst,
                             config.ip_per_minute),
                secret,
            )
        return cls(MemoryBuckets(config.sender_burst, config.sender_per_minute),
                   MemoryBuckets(config.ip_burst, config.ip_per_minute), secret)

    async def allow(self, sender_id: str, ip: str) -> bool:
        # A loopback address is a local reverse proxy (set LOKET_PROXY_COUNT to see the clients
        # behind it) or a test on this machine: one bucket for everybody would block them all.
        if not _is_loopback(ip) and not await self.per_ip.take(self._key("ip", ip)):
            return False
        return await self.per_sender.take(self._key("s", sender_id))


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


# --- the gate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    reason: str  # ok | empty | too_long | rate_limited | invalid
    text: str | None = None  # set when the message goes to Rasa
    reply: str | None = None  # set when it does not: the Dutch answer
    status: int = 200
    payload: str = "none"  # PayloadDecision.kind

    @property
    def ok(self) -> bool:
        return self.text is not None


class EdgeGate:
    def __init__(self, config: EdgeConfig, policy: PayloadPolicy,
                 limiter: RateLimiter | None = None, secret: str = "") -> None:
        self.config = config
        self.policy = policy
        # Processes sharing Redis share the secret (settings.secret_key), so their keys match.
        self.limiter = limiter or RateLimiter.from_config(config, secret)

    def valid_sender(self, sender_id: Any) -> bool:
        return isinstance(sender_id, str) and bool(SENDER_RE.match(sender_id))

    async def check(self, sender_id: str, ip: str, message: Any) -> Verdict:
        if not await self.limiter.allow(sender_id, ip):
            return self._refuse("rate_limited", REPLY_RATE, 429)
        if message is None:
            message = ""
        if not isinstance(message, str):
            return self._refuse("invalid", REPLY_INVALID, 400)
        limit = self.config.max_message_chars
        if len(message) > limit * 4:  # clearly too long: do not even clean it
            return self._refuse("too_long", REPLY_TOO_LONG.format(limit=limit))
        text = clean_text(message)
        if len(text) > limit:
            return self._refuse("too_long", REPLY_TOO_LONG.format(limit=limit))
        decision = self.policy.decide(text)
        if not decision.text.strip():
            return self._refuse("empty", REPLY_EMPTY)
        if decision.kind == "text":
            log.info("edge: a typed payload was passed on as plain text")
        return Verdict("ok", text=decision.text, payload=decision.kind)

    @staticmethod
    def _refuse(reason: str, reply: str, status: int = 200) -> Verdict:
        log.info("edge: message not processed (%s)", reason)
        return Verdict(reason, reply=reply, status=status)

    @staticmethod
    def clean_metadata(metadata: Any) -> dict:
        """Only the allowed keys (METADATA_KEYS), with values of the allowed shape."""
        if not isinstance(metadata, dict):
            return {}
        return {key: value for key, value in metadata.items()
                if key in METADATA_KEYS and isinstance(value, str)
                and METADATA_KEYS[key].fullmatch(value)}


@lru_cache(maxsize=1)
def get_gate() -> EdgeGate:
    """One gate per process, shared by the REST and socket.io channels (so are the limits)."""
    # read now, not the cached copy: Rasa builds its channels once, after its environment is set
    settings = load_settings()
    return EdgeGate(EdgeConfig.from_settings(settings), PayloadPolicy.from_project(),
                    secret=settings.secret_key)


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


def client_ip(request: Request | None, proxy_count: int) -> str:
    if request is None:
        return "unknown"
    if proxy_count > 0:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if len(hops) >= proxy_count:
            return hops[-proxy_count]
    return request.ip or "unknown"


# --- REST -------------------------------------------------------------------------------------


def _bot_message(recipient_id: str, text: str) -> dict[str, Any]:
    return {"recipient_id": recipient_id, "text": text}


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
            verdict = await gate.check(sender_id, client_ip(request, gate.config.proxy_count),
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
            ip = client_ip(environ.get("sanic.request"), self.gate.config.proxy_count)
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
