"""The edge checks of bot/rasa_ext/channels.py and bot/edge/: unit tests, and the real channel blueprints in a Sanic server
with a stand-in agent (no trained model needed). The whole stack is tested in test_hostile_input.py
and test_faults.py."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import aiohttp
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.edge import gate, ratelimit
from bot.edge import payloads as payload_policy
from bot.edge.gate import REPLY_EMPTY, REPLY_ERROR, REPLY_INVALID, REPLY_RATE, EdgeConfig, EdgeGate
from bot.edge.hygiene import clean_text
from bot.edge.payloads import PayloadPolicy
from bot.edge.ratelimit import MemoryBuckets, RateLimiter
from bot.rasa_ext import channels
from bot.rasa_ext.channels import LoketRestInput, LoketSocketIOInput
from bot.settings import PROJECT_ROOT
from tests.support.stack import free_port

# --- text hygiene -----------------------------------------------------------------------------


def test_control_characters_are_removed_and_tabs_become_spaces():
    assert clean_text("hal\x00lo\x1b[31m\tdaar\x7f\x85 ") == "hallo[31m daar"


def test_bidi_overrides_go_but_rtl_text_and_emoji_stay():
    arabic, family = "مرحبا بالعالم", "👨‍👩‍👧"
    assert clean_text(f"\u202e{arabic}\u202c {family}") == f"{arabic} {family}"


def test_text_is_nfc_normalised_and_lone_surrogates_removed():
    assert clean_text("cafe\u0301 \ud800x") == "café x"


def test_newlines_inside_a_message_stay():
    assert clean_text("  regel 1\r\nregel 2  ") == "regel 1 \nregel 2"


# --- payload policy on the real project ----------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> PayloadPolicy:
    return PayloadPolicy.from_project()


def _domain_button_payloads() -> list[str]:
    found = []
    for path in sorted((PROJECT_ROOT / "domain").glob("*.yml")):
        doc = yaml.safe_load(path.read_text()) or {}
        found += list(payload_policy._button_payloads(doc.get("responses") or {}))
    return [p for p in found if p.startswith("/")]


def test_every_button_payload_in_the_domain_passes(policy):
    payloads = _domain_button_payloads()
    assert "/request_human" in payloads
    for payload in payloads:
        decision = policy.decide(payload)
        assert decision.kind == "payload", payload
        assert payload_policy._parse_payload(decision.text) == payload_policy._parse_payload(payload)


def test_fallback_suggestions_and_widget_buttons_pass(policy):
    # actions/fallback.py offers "/<intent>" for known intents; the widget sends these two.
    for payload in ("/out_of_scope", "/request_human", "/report_knelpunt", "/affirm", "/deny"):
        assert policy.decide(payload) == payload_policy.PayloadDecision(payload, "payload")


@pytest.mark.parametrize("payload", ["/restart", "/session_start", "/nlu_fallback", "/back",
                                     "/bestaat_niet", "/REQUEST_HUMAN"])
def test_rasa_internal_and_unknown_intents_become_text(policy, payload):
    decision = policy.decide(payload)
    assert decision.kind == "text" and not decision.text.startswith("/")


def test_entities_that_no_button_sends_never_reach_rasa(policy):
    slots = set()
    for path in (PROJECT_ROOT / "domain").glob("*.yml"):
        doc = yaml.safe_load(path.read_text()) or {}
        slots |= set(doc.get("slots") or {})
        slots |= {e if isinstance(e, str) else next(iter(e)) for e in doc.get("entities") or []}
    assert "gemeente" in slots
    for name in sorted(slots):
        for intent in ("inform", "request_human", "affirm"):
            decision = policy.decide(f'/{intent}{{"{name}": "INJECTED-9f3"}}')
            assert decision.kind == "text" and "INJECTED" not in decision.text, (intent, name)


@pytest.fixture(scope="module")
def rasa_domain():
    from rasa.shared.core.domain import Domain

    return Domain.load(str(PROJECT_ROOT / "domain"))


def _rasa_parse(text: str, domain) -> tuple[str | None, list]:
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.nlu.training_data.message import Message

    parsed = YAMLStoryReader.unpack_regex_message(Message(data={"text": text}), domain)
    intent = (parsed.get("intent") or {}).get("name")
    return intent, [(e["entity"], e["value"]) for e in parsed.get("entities") or []]


_slashy = st.one_of(
    st.text(max_size=60).map(lambda s: "/" + s),
    st.builds(lambda i, j, c: f"{c}/{i}{j}", st.sampled_from(
        ["inform", "affirm", "request_human", "restart", "ask_energy", "x y", ""]),
        st.one_of(st.just(""), st.dictionaries(st.sampled_from(["gemeente", "onderwerp", "x"]),
                                               st.one_of(st.text(max_size=8), st.integers(),
                                                         st.lists(st.text(max_size=3))),
                                               max_size=3).map(json.dumps),
                  st.text(alphabet="{}@0.1\"': ", max_size=12)),
        st.sampled_from(["", " ", "\n", "//"])),
)


@given(text=_slashy)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_rasas_own_parser_only_sees_payloads_we_allowed(policy, rasa_domain, text):
    decision = policy.decide(clean_text(text))
    intent, entities = _rasa_parse(decision.text, rasa_domain)
    if decision.kind == "payload":
        assert intent in policy.plain_intents | set(policy.button_values) | set(policy.pattern_values)
    else:  # plain text: Rasa does not read an intent or entities from it
        assert intent is None and entities == [], (text, decision)


def _project(tmp_path: Path, buttons: list[str]) -> Path:
    (tmp_path / "domain").mkdir()
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "domain" / "d.yml").write_text(yaml.safe_dump({
        "intents": ["inform", "choose", "more_info", "request_human", "confirm_submit"],
        "entities": ["gemeente", "regeling_id", "consent"],
        "responses": {"utter_x": [{"text": "x", "buttons": [
            {"title": b, "payload": b} for b in buttons]}]},
    }))
    (tmp_path / "data" / "nlu" / "n.yml").write_text(yaml.safe_dump({"nlu": [
        {"intent": "request_human", "examples": "- mens\n"},
        {"intent": "inform", "examples": "- ja\n"}]}))
    return tmp_path


def test_entity_payloads_are_allowed_only_as_buttons_send_them(tmp_path):
    p = PayloadPolicy.from_project(_project(tmp_path, ['/choose{"gemeente": "utrecht"}',
                                                       "/confirm_submit"]))
    ok = p.decide('/choose{"gemeente":"utrecht"}')
    assert ok.kind == "payload" and ok.text == '/choose{"gemeente": "utrecht"}'
    assert p.decide("/confirm_submit").kind == "payload"  # a button sends it
    assert p.decide("/inform").kind == "payload"  # typing "ja" reaches it anyway
    for bad in ('/choose{"gemeente":"amsterdam"}', '/choose{"gemeente":["utrecht"]}',
                '/choose{"gemeente":"utrecht","consent":"ja"}', '/inform{"consent":true}',
                '/choose', '/choose{"gemeente":"utrecht"}x', "/more_info"):
        assert p.decide(bad).kind == "text", bad


def test_action_made_buttons_are_checked_against_a_value_pattern(tmp_path):
    p = PayloadPolicy.from_project(_project(tmp_path, []))
    assert p.decide('/more_info{"regeling_id": "wbso-2026"}').kind == "payload"
    for bad in ('/more_info{"regeling_id": "WBSO"}', '/more_info{"regeling_id": "a b"}',
                '/more_info{"regeling_id": "' + "a" * 81 + '"}', '/more_info{"gemeente": "x"}'):
        assert p.decide(bad).kind == "text", bad


@pytest.mark.parametrize(("text", "expected"), [
    ('/inform{"gemeente": "x"}', "inform"),
    ("/request_human@0.3", "request human"),
    ("//{}/restart", "restart"),
    ("/ik heb een vraag", "ik heb een vraag"),
    ("/", ""),
])
def test_rejected_payloads_become_their_words(text, expected):
    assert payload_policy.as_plain_text(text) == expected


# --- rate limits ------------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_refills_over_time():
    b = MemoryBuckets(capacity=3, per_minute=60)
    assert [b.take_sync("s", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert b.take_sync("s", now=0.5) is False
    assert b.take_sync("s", now=1.0) is True  # one token per second
    assert b.take_sync("other", now=1.0) is True


def test_token_bucket_forgets_the_least_recently_used_keys():
    b = MemoryBuckets(capacity=1, per_minute=1, max_keys=2)
    for key in ("a", "b", "c"):
        b.take_sync(key, now=0.0)
    assert set(b._state) == {"b", "c"}


def _redis_ok() -> bool:
    import redis

    try:
        return bool(redis.Redis(socket_connect_timeout=0.5).ping())
    except Exception:
        return False


@pytest.mark.postgres
async def test_redis_buckets_are_shared_and_fall_back_to_memory():
    if not _redis_ok():
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"loket:test:{uuid.uuid4().hex}"
    a = ratelimit.RedisBuckets("redis://127.0.0.1:6379/0", prefix, 2, 1)
    b = ratelimit.RedisBuckets("redis://127.0.0.1:6379/0", prefix, 2, 1)  # another Rasa process
    assert [await a.take("s"), await b.take("s"), await a.take("s")] == [True, True, False]
    dead = ratelimit.RedisBuckets(f"redis://127.0.0.1:{free_port()}/0", prefix, 1, 1)
    assert [await dead.take("s"), await dead.take("s")] == [True, False]


# --- the gate ---------------------------------------------------------------------------------


def _gate(**overrides) -> EdgeGate:
    config = EdgeConfig(**{"max_message_chars": 50, **overrides})
    return EdgeGate(config, PayloadPolicy.from_project())


async def test_gate_verdicts():
    gate = _gate()
    assert (await gate.check("s1", "1.1.1.1", "  hallo\x00 ")).text == "hallo"
    for empty in ("", "   \n\t", None, "\x00\x01", "/"):
        v = await gate.check("s2", "1.1.1.1", empty)
        assert v.reason == "empty" and v.reply == REPLY_EMPTY
    too_long = await gate.check("s3", "1.1.1.1", "x" * 51)
    assert too_long.reason == "too_long" and "50 tekens" in too_long.reply
    huge = await gate.check("s3", "1.1.1.1", "x" * 100_000)
    assert huge.reason == "too_long"
    assert (await gate.check("s4", "1.1.1.1", ["lijst"])).status == 400


async def test_gate_limits_per_sender_and_per_address():
    gate = _gate(sender_burst=2, sender_per_minute=1, ip_burst=5, ip_per_minute=1)
    sender = [(await gate.check("same", "10.0.0.1", "hoi")).reason for _ in range(3)]
    assert sender == ["ok", "ok", "rate_limited"]
    # new sender ids from one address: the address limit stops them
    spread = [(await gate.check(f"s{i}", "10.0.0.2", "hoi")).reason for i in range(6)]
    assert spread.count("ok") == 5 and spread[-1] == "rate_limited"
    v = await gate.check("fresh", "10.0.0.2", "hoi")
    assert v.status == 429 and v.reply == REPLY_RATE
    keys = " ".join(gate.limiter.per_ip._state) + " ".join(gate.limiter.per_sender._state)
    assert "10.0.0" not in keys and "same" not in keys  # only HMACs are kept
    # loopback is a local proxy or a test: only the per-sender limit applies
    local = [(await gate.check(f"l{i}", "127.0.0.1", "hoi")).reason for i in range(8)]
    assert local == ["ok"] * 8


def test_metadata_keeps_only_what_the_widget_sends():
    gate = _gate()
    assert gate.clean_metadata({"gemeente": "utrecht", "x": "y"}) == {"gemeente": "utrecht"}
    for bad in ({"gemeente": "Utrecht<script>"}, {"gemeente": "y" * 81}, {"gemeente": ["utrecht"]},
                {"gemeente": {"nested": "utrecht"}}, {"requested_slot": "handoff_consent"}, "nee",
                None, ["gemeente"]):
        assert gate.clean_metadata(bad) == {}, bad


# --- the channels in a real Sanic server ----------------------------------------------------


class FakeAgent:
    """Stands in for Rasa's agent: echoes, or fails the way Rasa does."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict]] = []

    async def handle_message(self, message) -> None:
        self.seen.append((message.sender_id, message.text, message.metadata))
        if message.text == "boom":
            raise RuntimeError("tracker store down")
        if message.text == "stil":
            return
        if message.text == "actie kapot":
            await message.output_channel.send_text_message(message.sender_id, "Een moment.")
            # what Rasa's processor logs when an action call fails or times out
            logging.getLogger("rasa.core.processor").error(
                "Encountered an exception while running action 'validate_handoff_form'.")
            return
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


@pytest.fixture
async def server():
    from rasa.core.channels.channel import register
    from sanic import Sanic

    channels._install_failure_watch()
    Sanic.test_mode = True  # several apps in one process (Sanic's touch-up runs once per method)
    gate = _gate(sender_burst=5, sender_per_minute=1, ip_burst=1000, ip_per_minute=1000)
    rest = LoketRestInput(gate)
    sio = LoketSocketIOInput(session_persistence=True)
    sio._gate = gate
    app = Sanic(f"loket_test_{uuid.uuid4().hex[:8]}")
    app.ctx.agent = FakeAgent()
    register([rest, sio], app, route="/webhooks/")  # the way `rasa run` builds the URLs
    port = free_port()
    srv = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await srv.startup()
    task = asyncio.ensure_future(srv.serve_forever())
    yield f"http://127.0.0.1:{port}", app.ctx.agent
    srv.close()
    task.cancel()


async def _post(url: str, body) -> tuple[int, object, dict]:
    async with aiohttp.ClientSession() as s:
        kwargs = {"data": body} if isinstance(body, (bytes, str)) else {"json": body}
        async with s.post(f"{url}/webhooks/rest/webhook", **kwargs) as r:
            return r.status, await r.json(), dict(r.headers)


async def test_rest_keeps_rasas_url_and_answers(server):
    url, agent = server
    async with aiohttp.ClientSession() as s, s.get(f"{url}/webhooks/rest/") as r:
        assert r.status == 200
    status, body, _ = await _post(url, {"sender": "u1", "message": "hallo\x07",
                                        "metadata": {"gemeente": "utrecht"}})
    assert status == 200 and body == [{"recipient_id": "u1", "text": "echo: hallo"}]
    assert agent.seen == [("u1", "hallo", {"gemeente": "utrecht"})]


async def test_rest_refuses_without_bothering_rasa(server):
    url, agent = server
    for message, reply in (("   ", REPLY_EMPTY), ("x" * 60, "te lang")):
        status, body, _ = await _post(url, {"sender": "u2", "message": message})
        assert status == 200 and reply in body[0]["text"]
    for bad in (b"geen json", {"message": "hoi"}, {"sender": "a b", "message": "hoi"},
                {"sender": 5, "message": "hoi"}, {"sender": "u3", "message": {"x": 1}}, [1, 2]):
        status, body, _ = await _post(url, bad)
        assert status == 400 and isinstance(body, list) and body[0]["text"] == REPLY_INVALID
    assert agent.seen == []


async def test_rest_rate_limit_answers_429_in_dutch(server):
    url, agent = server
    results = [await _post(url, {"sender": "flood", "message": f"hoi {i}"}) for i in range(7)]
    assert [r[0] for r in results] == [200] * 5 + [429] * 2
    status, body, headers = results[-1]
    assert body == [{"recipient_id": "flood", "text": REPLY_RATE}] and headers["Retry-After"]
    assert len(agent.seen) == 5


async def test_typed_payloads_reach_rasa_only_as_allowed(server):
    url, agent = server
    await _post(url, {"sender": "p1", "message": '/inform{"gemeente": "INJ"}'})
    await _post(url, {"sender": "p1", "message": " /request_human@0.2 "})
    assert [text for _, text, _ in agent.seen] == ["inform", "/request_human"]


@pytest.mark.parametrize("text", ["boom", "stil", "actie kapot"])
async def test_failures_become_the_dutch_error_answer(server, text):
    url, _ = server
    status, body, _ = await _post(url, {"sender": "f1", "message": text})
    assert status == 200 and body[-1]["text"] == REPLY_ERROR
    assert body[-1]["buttons"] == [{"title": "Praat met een mens", "payload": "/request_human"}]
    if text == "actie kapot":
        assert body[0]["text"] == "Een moment."  # what was said before the failure stays
    status, body, _ = await _post(url, {"sender": "f1", "message": "weer goed"})
    assert body == [{"recipient_id": "f1", "text": "echo: weer goed"}]  # the failure did not stick


async def _socket_session(url: str, session_id):
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    events: list = []
    client.on("bot_uttered", lambda data: events.append(data))
    client.on("session_confirm", lambda data: events.append(("confirm", data)))
    # polling: python-engineio's websocket client needs a newer aiohttp than Rasa allows
    await client.connect(url, socketio_path="/socket.io", transports=["polling"])
    await client.emit("session_request", {"session_id": session_id})
    await _wait_for(events, 1)
    return client, events


async def _close(client) -> None:
    # A polite disconnect waits for the open long-poll (up to socket.io's 25 s ping interval).
    await client.eio.disconnect(abort=True)


async def _wait_for(events: list, n: int, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if len(events) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {n} events, got {events}")


async def test_socketio_runs_the_same_checks(server):
    url, agent = server
    client, events = await _socket_session(url, "abc123")
    try:
        assert events[0] == ("confirm", "abc123")
        await client.emit("user_uttered", {"session_id": "abc123", "message": "hoi\x00",
                                           "metadata": {"gemeente": "zwolle"}})
        await client.emit("user_uttered", {"session_id": "abc123", "message": "  "})
        await client.emit("user_uttered", {"session_id": "abc123", "message": "boom"})
        await client.emit("user_uttered", {"session_id": "niet geldig!", "message": "hoi"})
        await client.emit("user_uttered", "geen dict")
        await _wait_for(events, 4)
        texts = [e["text"] for e in events[1:]]
        assert texts[0] == "echo: hoi" and REPLY_EMPTY in texts and REPLY_ERROR in texts
        assert events[-1]["quick_replies"][0]["payload"] == "/request_human"
        assert [(s, t) for s, t, _ in agent.seen] == [("abc123", "hoi"), ("abc123", "boom")]
        assert agent.seen[0][2] == {"gemeente": "zwolle"}
        for i in range(5):
            await client.emit("user_uttered", {"session_id": "abc123", "message": f"nog {i}"})
        await _wait_for(events, 9)  # burst 5: hoi, "  ", boom, nog 0, nog 1; then refused
        assert events[-1]["text"] == REPLY_RATE
    finally:
        await _close(client)


async def test_socketio_replaces_an_invalid_session_id(server):
    url, _ = server
    client, events = await _socket_session(url, "<script>")
    try:
        kind, session_id = events[0]
        assert kind == "confirm" and len(session_id) == 32 and session_id.isalnum()
    finally:
        await _close(client)


# --- configuration --------------------------------------------------------------------------


def test_credentials_register_loket_channels_under_rasas_names(monkeypatch):
    import rasa.core.actions.action as rasa_action
    from rasa.core.run import create_http_input_channels

    monkeypatch.setenv("LOKET_ACTION_TIMEOUT_S", "7")
    monkeypatch.setattr(rasa_action, "DEFAULT_REQUEST_TIMEOUT", rasa_action.DEFAULT_REQUEST_TIMEOUT)
    gate.get_gate.cache_clear()
    try:
        made = create_http_input_channels(None, str(PROJECT_ROOT / "credentials.yml"))
        assert [type(c) for c in made] == [LoketRestInput, LoketSocketIOInput]
        assert [c.url_prefix() for c in made] == ["rest", "socketio"]
        sio = made[1]
        assert sio.session_persistence is True and sio.socketio_path == "/socket.io"
        assert (sio.user_message_evt, sio.bot_message_evt) == ("user_uttered", "bot_uttered")
        assert rasa_action.DEFAULT_REQUEST_TIMEOUT == 7.0
    finally:
        gate.get_gate.cache_clear()


def test_rate_limiter_uses_redis_only_when_configured():
    assert isinstance(RateLimiter.from_config(EdgeConfig()).per_sender, MemoryBuckets)
    redis_limiter = RateLimiter.from_config(EdgeConfig(redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(redis_limiter.per_ip, ratelimit.RedisBuckets)
