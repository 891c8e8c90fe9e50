"""One aiohttp load generator for every bot under test: conversations over Rasa's REST channel.

N workers run at the same time; each runs whole conversations (a list of turns) one after the other,
with a fresh sender id per conversation, and waits for each answer before it sends the next turn (as a
person does). A run stops after a fixed number of messages or a fixed duration, whichever comes first.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

Turn = str
Conversation = Sequence[Turn]


@dataclass
class LevelResult:
    name: str
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    empty: int = 0
    conversations: int = 0
    duration_s: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0  # CPU time the servers used during the level (all their processes)

    @property
    def messages(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.messages / self.duration_s if self.duration_s else 0.0

    @property
    def cpu_ms_per_message(self) -> float:
        return 1000 * self.cpu_s / self.messages if self.messages else math.nan

    def pct(self, p: float) -> float:
        return percentile(self.latencies_ms, p)

    def summary(self) -> dict:
        return {
            "name": self.name, "concurrency": self.concurrency, "messages": self.messages,
            "errors": self.errors, "empty": self.empty, "conversations": self.conversations,
            "duration_s": round(self.duration_s, 2), "msg_per_s": round(self.throughput, 2),
            "p50_ms": round(self.pct(50), 1), "p95_ms": round(self.pct(95), 1),
            "p99_ms": round(self.pct(99), 1), "peak_rss_mb": round(self.peak_rss_mb, 1),
            "cpu_ms_per_msg": round(self.cpu_ms_per_message, 1),
        }


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation): the value below which p % of samples fall."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


async def send(session: aiohttp.ClientSession, url: str, sender: str, text: str,
               timeout_s: float = 120) -> list[dict]:
    async with session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                            timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
        resp.raise_for_status()
        return await resp.json()


async def run_level(url: str, conversations: Sequence[Conversation], concurrency: int, *,
                    max_messages: int, max_duration_s: float, name: str = "",
                    sender_prefix: str = "bench",
                    on_reply: Callable[[str, list[dict]], None] | None = None) -> LevelResult:
    """Drive `concurrency` simultaneous conversations until the message budget or time is used up."""
    result = LevelResult(name=name, concurrency=concurrency)
    budget = itertools.count()
    conv_ids = itertools.count()
    deadline = time.monotonic() + max_duration_s
    connector = aiohttp.TCPConnector(limit=0)  # one connection per worker, no client-side queue

    async def worker(index: int, session: aiohttp.ClientSession) -> None:
        scripts = itertools.cycle(conversations[index % len(conversations):]
                                  + conversations[:index % len(conversations)])
        while True:
            script = next(scripts)
            sender = f"{sender_prefix}-{concurrency}-{next(conv_ids)}"
            for text in script:
                if next(budget) >= max_messages or time.monotonic() >= deadline:
                    return
                start = time.perf_counter()
                try:
                    reply = await send(session, url, sender, text)
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    result.errors += 1
                    break  # the conversation is broken; start a new one
                result.latencies_ms.append((time.perf_counter() - start) * 1000)
                if not reply:
                    result.empty += 1
                if on_reply:
                    on_reply(text, reply)
            else:
                result.conversations += 1

    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.monotonic()
        await asyncio.gather(*(worker(i, session) for i in range(concurrency)))
        result.duration_s = time.monotonic() - began
    return result


async def warm_up(url: str, conversations: Sequence[Conversation], sender_prefix: str = "warm") -> None:
    """Every turn once, so lazy loading and TensorFlow's first-call tracing are not measured."""
    async with aiohttp.ClientSession() as session:
        for n, script in enumerate(conversations):
            for text in script:
                await send(session, url, f"{sender_prefix}-{n}", text)
