"""The gate every chat message passes (REST and socket.io), without Rasa.

1. rate limit per sender id and per client address (token buckets; in memory, or in Redis when
   LOKET_REDIS_URL is set, so several Rasa processes share them) -> "u stuurt te veel berichten", 429;
2. control characters, lone surrogates and bidi overrides removed, Unicode normalised (NFC);
3. empty or only whitespace -> a friendly prompt; longer than settings.max_message_chars -> a clear
   answer; neither is passed to Rasa;
4. text starting with "/" (Rasa reads it as `/intent{"entity": "value"}`) goes through PayloadPolicy:
   an allowed payload is passed on in a canonical form we build ourselves, anything else becomes plain
   text (without the slash and without the {...} part), so it cannot set slots or trigger button-only
   intents.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.edge.hygiene import clean_text
from bot.edge.payloads import METADATA_KEYS, PayloadPolicy
from bot.edge.ratelimit import RateLimiter
from bot.privacy import SENDER_RE
from bot.settings import (
    DEFAULT_ACTION_TIMEOUT_S,
    DEFAULT_MAX_MESSAGE_CHARS,
    DEFAULT_PROXY_COUNT,
    DEFAULT_RATE_IP_BURST,
    DEFAULT_RATE_IP_PER_MINUTE,
    DEFAULT_RATE_SENDER_BURST,
    DEFAULT_RATE_SENDER_PER_MINUTE,
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


def client_ip(peer: str | None, forwarded_for: str | None, proxy_count: int) -> str:
    """The client's address: with `proxy_count` trusted proxies in front (LOKET_PROXY_COUNT), the
    entry they added to X-Forwarded-For; else the direct peer. Used by the chat and the web app."""
    if proxy_count > 0:
        hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
        if len(hops) >= proxy_count:
            return hops[-proxy_count]
    return peer or "unknown"
