"""Hostile input: at least 10,000 generated messages through the REST channel of a running Rasa.

Asserts no 5xx, every reply a JSON list, both servers healthy afterwards, no slot set to a value
injected through a typed payload or metadata, and no handoff or knelpunt created by it. The wall time
is printed (run with -s) and reported in docs/RELIABILITY.md.

Needs a trained model (LOKET_MODELS_DIR or models/); skipped without one unless LOKET_REQUIRE_MODEL=1.
LOKET_HOSTILE_COUNT changes the number of messages (default 10,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time

import aiohttp
import pytest
import requests
import yaml
from sqlalchemy import func, select

from bot.settings import PROJECT_ROOT
from tests.support.stack import SHARED_STACK_TOKEN

pytestmark = pytest.mark.rasa

MARK = "PAYLOADINJ"  # only ever inside JSON entity values and metadata: never typed as text
COUNT = int(os.environ.get("LOKET_HOSTILE_COUNT", "10000"))
CONCURRENCY = 24
TOKEN = SHARED_STACK_TOKEN




def domain_names() -> tuple[list[str], list[str]]:
    """(intents, slot and entity names) from domain/, so new slots are attacked too."""
    intents, names = [], set()
    for path in sorted((PROJECT_ROOT / "domain").glob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        intents += [i if isinstance(i, str) else next(iter(i)) for i in doc.get("intents") or []]
        names |= set(doc.get("slots") or {})
        names |= {e if isinstance(e, str) else next(iter(e)) for e in doc.get("entities") or []}
    return intents, sorted(names | {"requested_slot", "session_started_metadata"})


# --- the corpus -----------------------------------------------------------------------------

HTML = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<a href='javascript:x'>hoi</a>",
        "</textarea><svg onload=alert(1)>", "{{7*7}} ${7*7} <%= 7*7 %>", "<iframe src=//example.org>"]
SQL = ["'; DROP TABLE events; --", "\" OR 1=1 --", "1; SELECT * FROM users", "admin'--",
       "' UNION SELECT password_hash FROM users --", "%' AND 1=0 UNION SELECT sqlite_version() --"]
EMOJI = ["😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇳🇱", "\u200d", "\ufe0f", "🤖🤖🤖"]
RTL = ["مرحبا، أريد دعمًا لشركتي", "שלום, אני צריך עזרה", "\u202everkeerd om\u202c", "\u2067x\u2069"]
CONTROL = ["\x00", "\x01\x02\x03", "\x1b[2J", "\x7f", "\x85", "\r\n", "\t", "\ud800", "\ufffe"]
WORDS = ["subsidie", "hallo", "praat met een mens", "knelpunt", "ja", "nee", "stop", "WBSO",
         "gemeente utrecht", "loonkostensubsidie", "wat kun je", "%s %d {0} {name}", "../../etc/passwd",
         "null", "undefined", "NaN", "0", "-1", "1e309", "true", "[]", "{}"]


def odd_payload(rng: random.Random, intents: list[str], names: list[str]) -> str:
    """A typed `/intent{...}` with odd JSON. The marker appears only inside a balanced {...}."""
    intent = rng.choice(intents + ["restart", "session_start", "nlu_fallback", "bestaat_niet",
                                   "back", "INFORM", "inform x", ""])
    key = rng.choice(names)
    value = rng.choice([f"{MARK}-{rng.randrange(10**6)}", f"{MARK}@example.org", f"{MARK} 0612345678"])
    variants = [
        f'/{intent}{{"{key}": "{value}"}}',
        f'/{intent}{{"{key}": ["{value}", "{value}"]}}',
        f'/{intent}{{"{key}": {{"nested": "{value}"}}}}',
        f'/{intent}@0.99{{"{key}": "{value}"}}',
        f'/{intent}@2{{"{key}": "{value}"}}',
        f' \t/{intent}{{"{key}":"{value}"}}',
        f'/{intent} {{"{key}": "{value}"}}',
        f'/{intent}{{"{key}": "{value}"}}}}',
        f'/{intent}{{"{key}": "{value}", "{rng.choice(names)}": "{value}"}}',
        f'/{intent}{{"{key}": "{value}"}} en nog wat tekst',
        f"/{intent}{{'{key}': '{value}'}}",
        f'/{intent}{{"{key}": "{value}",}}',
        f'\x00/{intent}{{"{key}": "{value}"}}',
        f'//{intent}{{"{key}": "{value}"}}',
        f'/{intent}{{"{key}": "{value}"}}\n/{rng.choice(intents)}',
        f'/{intent}{{"{key}": {rng.choice(["true", "1", "null", "1e999", "-0"])}}}',
        f'/{intent}{{"{key}": "{value}" {{"{key}": "{value}"}}}}',
        f'/{intent}{{"{key}": "{"x" * rng.randrange(1, 5000)}{value}"}}',
        f'/{intent}',
        f'/{intent}{{',  # unbalanced: no marker
        f'/{intent}{{"{key}": "waarde"',
        "/" * rng.randrange(1, 20),
    ]
    return rng.choice(variants)


def free_text(rng: random.Random) -> str:
    kind = rng.randrange(12)
    if kind == 0:
        return ""
    if kind == 1:
        return rng.choice([" ", "\n\n\n", "\t \t", "\u00a0\u2003", "\u200b\u200b"]) * rng.randrange(1, 50)
    if kind == 2:
        return rng.choice(WORDS) * (100_000 // 8)  # about 100 KB
    if kind == 3:
        return rng.choice(HTML) + " " + rng.choice(WORDS)
    if kind == 4:
        return rng.choice(WORDS) + " " + rng.choice(SQL)
    if kind == 5:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randrange(1, 200)))
    if kind == 6:
        return rng.choice(RTL) + " " + rng.choice(WORDS)
    if kind == 7:
        return rng.choice(WORDS).join(rng.choice(CONTROL) for _ in range(rng.randrange(1, 20)))
    if kind == 8:
        return "".join(chr(rng.randrange(0x20, 0x2FFFF)) for _ in range(rng.randrange(1, 300)))
    if kind == 9:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 40)))
    if kind == 10:
        return "x" * rng.choice([999, 1000, 1001, 4000, 4001])
    return json.dumps({"message": rng.choice(WORDS), "sender": "someone-else"})


def odd_metadata(rng: random.Random, names: list[str]):
    return rng.choice([
        None, {}, {"gemeente": "utrecht"}, {"gemeente": f"{MARK}-gemeente"},
        {rng.choice(names): MARK}, {"gemeente": {"nested": MARK}}, [MARK], f'{{"gemeente": "{MARK}"}}',
        {"x": MARK * 1000}, 12,
    ])


def odd_body(rng: random.Random, sender: str, message):
    """Mostly well-formed bodies; sometimes a broken one (must be a 4xx, never a 5xx)."""
    roll = rng.random()
    if roll < 0.02:
        return rng.choice([b"", b"not json", b"[1,2,3]", b'{"sender": null}', b"\xff\xfe",
                           b'{"sender": "a", "message": ' + b"[" * 5000 + b"]" * 5000 + b"}"])
    if roll < 0.04:
        return {"sender": rng.choice([None, 5, "", "a b", "x" * 300, "../x", "<script>", ["a"]]),
                "message": message}
    if roll < 0.06:
        return {"sender": sender, "message": rng.choice([None, 5, 1.5, ["lijst"], {"a": 1}, True])}
    return {"sender": sender, "message": message}


def build_corpus(count: int, seed: int = 2026) -> list[tuple[str, list]]:
    """[(sender, [bodies...])]: most senders send one message, some a conversation (into a form)."""
    rng = random.Random(seed)
    intents, names = domain_names()
    conversations: list[tuple[str, list]] = []
    total = 0
    n = 0
    while total < count:
        n += 1
        sender = f"hostile-{seed}-{n}"
        if rng.random() < 0.15:  # into a form first, then hostile answers
            opener = rng.choice(["ik wil een mens spreken", "ik wil een knelpunt melden"])
            steps = [{"sender": sender, "message": opener}]
            for _ in range(rng.randrange(3, 8)):
                msg = odd_payload(rng, intents, names) if rng.random() < 0.6 else free_text(rng)
                steps.append(odd_body(rng, sender, msg))
        else:
            msg = odd_payload(rng, intents, names) if rng.random() < 0.5 else free_text(rng)
            steps = [odd_body(rng, sender, msg)]
        for body in steps:
            if isinstance(body, dict) and rng.random() < 0.3:
                body["metadata"] = odd_metadata(rng, names)
        conversations.append((sender, steps))
        total += len(steps)
    return conversations


def test_the_corpus_is_hostile_enough():
    corpus = build_corpus(COUNT)
    bodies = [b for _, steps in corpus for b in steps]
    assert len(bodies) >= COUNT
    texts = [b.get("message") for b in bodies if isinstance(b, dict)]
    strs = [t for t in texts if isinstance(t, str)]
    assert sum(t.lstrip(" \t\x00").startswith("/") for t in strs) > COUNT // 4
    assert sum(len(t) >= 100_000 for t in strs) > COUNT // 200
    assert sum(MARK in t for t in strs) > COUNT // 5
    assert any(t == "" for t in strs) and any("\x00" in t for t in strs)


# --- the run --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(bot_stack):
    return bot_stack


async def _send_all(url: str, corpus: list[tuple[str, list]]) -> dict:
    stats: dict = {"status": {}, "not_list": [], "server_errors": [], "sent": 0}
    queue: asyncio.Queue = asyncio.Queue()
    for item in corpus:
        queue.put_nowait(item)
    timeout = aiohttp.ClientTimeout(total=120)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            _, steps = queue.get_nowait()
            for body in steps:  # one conversation in order
                kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
                async with session.post(url, **kwargs) as resp:
                    raw = await resp.read()
                stats["sent"] += 1
                stats["status"][resp.status] = stats["status"].get(resp.status, 0) + 1
                if resp.status >= 500:
                    stats["server_errors"].append((body if not isinstance(body, bytes)
                                                   else body[:80], resp.status))
                    continue
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    parsed = None
                if not isinstance(parsed, list):
                    stats["not_list"].append((resp.status, raw[:100]))

    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
    return stats


def _slot_events(stack) -> list[tuple[str, str, object]]:
    from bot.db import make_engine
    from bot.privacy import _events_table

    engine = make_engine(stack.env["LOKET_TRACKER_DB_URL"])
    try:
        events = _events_table(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(events.c.sender_id, events.c.data)
                                .where(events.c.type_name == "slot")).all()
    finally:
        engine.dispose()
    out = []
    for sender, data in rows:
        event = json.loads(data)
        out.append((sender, event.get("name"), event.get("value")))
    return out


def _submitted(stack) -> tuple[int, int]:
    """Handoffs and knelpunten in the stack's database (the stack is shared with other tests)."""
    from bot import models
    from bot.db import make_engine

    engine = make_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            return (conn.execute(select(func.count()).select_from(models.Handoff)).scalar(),
                    conn.execute(select(func.count()).select_from(models.Knelpunt)).scalar())
    finally:
        engine.dispose()


def test_ten_thousand_hostile_messages(stack):
    corpus = build_corpus(COUNT)
    before = _submitted(stack)
    started = time.monotonic()
    stats = asyncio.run(_send_all(f"{stack.rasa_url}/webhooks/rest/webhook", corpus))
    wall = time.monotonic() - started
    print(f"\nhostile input: {stats['sent']} messages in {wall:.0f} s "
          f"({stats['sent'] / wall:.1f}/s), status codes {sorted(stats['status'].items())}")
    assert stats["sent"] >= COUNT
    assert stats["server_errors"] == []
    assert stats["not_list"] == []

    # the servers are still healthy and still answer normally
    assert requests.get(f"{stack.rasa_url}/", timeout=10).status_code == 200
    assert requests.get(stack.health_url("actions"), timeout=10).status_code == 200
    reply = stack.say("after-the-storm", "Hallo")
    assert "digitale assistent" in " ".join(m.get("text", "") for m in reply)

    # no slot of the hostile conversations holds anything injected through a payload or metadata
    senders = {sender for sender, _ in corpus}
    slots = [(s, name, value) for s, name, value in _slot_events(stack) if s in senders]
    assert slots, "the trackers were not stored"
    injected = [(s, name, value) for s, name, value in slots if MARK.lower() in str(value).lower()]
    assert injected == []
    assert not [(s, n) for s, n, v in slots if n in ("handoff_consent", "knelpunt_contact_consent")
                and v is True]

    # and no form was submitted by it
    assert _submitted(stack) == before


def test_the_http_api_needs_the_token(stack):
    url = f"{stack.rasa_url}/conversations/after-the-storm/tracker"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, params={"token": "wrong"}, timeout=10).status_code == 401
    ok = requests.get(url, params={"token": TOKEN}, timeout=10)
    assert ok.status_code == 200 and ok.json()["sender_id"] == "after-the-storm"


def test_socketio_path_answers_through_the_same_gate(stack):
    """The widget's transport: /socket.io with session persistence, on the real Rasa."""
    import socketio

    async def run() -> list:
        client = socketio.AsyncClient(reconnection=False)
        events: list = []
        client.on("bot_uttered", lambda data: events.append(data))
        client.on("session_confirm", lambda data: events.append(("confirm", data)))
        await client.connect(stack.rasa_url, socketio_path="/socket.io", transports=["polling"])
        try:
            await client.emit("session_request", {"session_id": "sio0123456789abcdef"})
            await client.emit("user_uttered", {"session_id": "sio0123456789abcdef",
                                               "message": "Hallo\x00",
                                               "metadata": {"gemeente": "utrecht"}})
            await client.emit("user_uttered", {"session_id": "sio0123456789abcdef", "message": " "})
            for _ in range(600):
                if sum(isinstance(e, dict) for e in events) >= 2:
                    break
                await asyncio.sleep(0.1)
        finally:
            await client.eio.disconnect(abort=True)
        return events

    events = asyncio.run(run())
    assert events[0] == ("confirm", "sio0123456789abcdef")
    texts = " ".join(e.get("text", "") for e in events if isinstance(e, dict))
    assert "digitale assistent" in texts and "nog niets getypt" in texts
