"""The one rate limiter: token buckets per key, in memory or in Redis (shared by several processes).

The chat channels limit per sender id and per client address (RateLimiter); the web app limits its
public endpoints per client address with the same buckets.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.edge.gate import EdgeConfig

log = logging.getLogger(__name__)



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
