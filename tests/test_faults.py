"""Faults injected for real: the action server killed or frozen mid-form, Rasa restarted mid-form, the
SMTP server and the webhook receiver down and back. Real processes (tests/stack.py).

The form is found at runtime (handoff_form, else knelpunt_form) and driven by its requested slot, so
these tests keep working when questions change. Needs a trained model (LOKET_MODELS_DIR or models/).
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bench.soak import (
    RASA_TOKEN,
    REPLY_ERROR,
    ChatClient,
    LocalSmtp,
    WebhookReceiver,
    drive_form,
    local_knowledge,
    stored,
    team_channels,
)
from tests.support.model import require_model
from tests.support.stack import free_port, make_stack, wait_for

pytestmark = pytest.mark.rasa
ACTION_TIMEOUT_S = 4




@pytest.fixture(scope="module")
def env(tmp_path_factory):
    models = require_model()
    from bench.conversations import choose_form

    form = choose_form()
    if form is None:
        pytest.skip("the domain has no handoff_form or knelpunt_form yet")
    tmp: Path = tmp_path_factory.mktemp("faults")
    smtp, hook = LocalSmtp(free_port()), WebhookReceiver(free_port())
    knowledge, extra = local_knowledge(tmp / "knowledge", hook.port)
    extra.update({
        "LOKET_MODELS_DIR": str(models),
        "LOKET_RASA_TOKEN": RASA_TOKEN,
        "LOKET_SMTP_HOST": "127.0.0.1", "LOKET_SMTP_PORT": str(smtp.port),
        "LOKET_OUTBOX_INTERVAL_S": "0.5",
        "LOKET_ACTION_TIMEOUT_S": str(ACTION_TIMEOUT_S),
    })
    stack = make_stack(tmp / "stack", extra_env=extra, knowledge_dir=knowledge)
    smtp.start()
    hook.start()
    try:
        for name in ("actions", "rasa", "web"):
            stack.start(name)
        yield {"stack": stack, "form": form, "smtp": smtp, "hook": hook,
               "channels": team_channels(knowledge)}
    finally:
        stack.stop_all()
        smtp.stop()
        hook.stop()


async def _client_run(stack, fn):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        return await fn(ChatClient(http, stack.rasa_url))


def _text(replies: list) -> str:
    return "\n".join(m.get("text") or "" for m in replies)


def _gemeente(env, channel: str) -> str:
    return sorted(g for g, c in env["channels"].items() if c == channel)[0]


async def _midway(client: ChatClient, env, sender: str, metadata: dict):
    """Two answers into the form; returns the outcome and the tracker there."""
    start = await drive_form(client, env["form"], sender, metadata, max_turns=2, retries=1)
    assert start.reference is None and start.turns == 2
    tracker = await client.tracker(sender)
    assert tracker["active_loop"].get("name") == env["form"], tracker["active_loop"]
    return start, tracker


async def _finish(client: ChatClient, env, sender: str, metadata: dict, first_text: str):
    done = await drive_form(client, env["form"], sender, metadata, first_text=first_text)
    assert done.reference, f"no reference after {done.turns} turns: {done.requested}"
    return done


def test_action_server_killed_mid_form_then_the_form_continues(env):
    stack = env["stack"]
    meta = {"gemeente": _gemeente(env, "email")}

    async def scenario(client: ChatClient):
        sender = "fault-kill-actions"
        start, before = await _midway(client, env, sender, meta)
        stack.stop("actions", kill=True)
        status, replies = await client.say(sender, start.next_answer(), meta)
        assert status == 200 and REPLY_ERROR in _text(replies)  # not silence
        after = await client.tracker(sender)
        assert after["active_loop"].get("name") == env["form"]  # the form state survived
        assert after["slots"]["requested_slot"] == before["slots"]["requested_slot"]
        stack.start("actions")
        return await _finish(client, env, sender, meta, start.next_answer())

    done = asyncio.run(_client_run(stack, scenario))
    table = "handoffs" if env["form"] == "handoff_form" else "knelpunten"
    assert done.reference in stored(stack.database_url)[table]


def test_a_frozen_action_server_times_out_with_the_dutch_answer(env):
    stack = env["stack"]
    meta = {"gemeente": _gemeente(env, "email")}

    async def scenario(client: ChatClient):
        sender = "fault-slow-actions"
        start, _ = await _midway(client, env, sender, meta)
        proc = stack.procs["actions"]
        proc.send_signal(signal.SIGSTOP)  # alive but not answering: the slowest possible server
        try:
            t0 = time.monotonic()
            status, replies = await client.say(sender, start.next_answer(), meta)
            waited = time.monotonic() - t0
        finally:
            proc.send_signal(signal.SIGCONT)
        assert status == 200 and REPLY_ERROR in _text(replies)
        assert waited < ACTION_TIMEOUT_S * 4, f"waited {waited:.1f} s"
        assert (await client.tracker(sender))["active_loop"].get("name") == env["form"]
        return await _finish(client, env, sender, meta, start.next_answer())

    asyncio.run(_client_run(stack, scenario))


def test_rasa_restarted_mid_form_continues_where_it_was(env):
    stack = env["stack"]
    meta = {"gemeente": _gemeente(env, "email")}
    sender = "fault-restart-rasa"

    async def first_half(client: ChatClient):
        return await _midway(client, env, sender, meta)

    start, before = asyncio.run(_client_run(stack, first_half))
    stack.stop("rasa")
    stack.start("rasa")

    async def second_half(client: ChatClient):
        after = await client.tracker(sender)
        assert after["active_loop"].get("name") == env["form"]
        assert after["slots"] == before["slots"]  # every answer so far, from the SQL tracker store
        return await _finish(client, env, sender, meta, start.next_answer())

    asyncio.run(_client_run(stack, second_half))


def _outbox(stack, reference: str):
    from bot import models
    from bot.db import make_engine

    engine = make_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(models.OutboxMessage.status, models.OutboxMessage.attempts,
                       models.OutboxMessage.last_error)
                .join(models.Handoff, models.Handoff.id == models.OutboxMessage.handoff_id)
                .where(models.Handoff.reference == reference)).one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("channel", ["email", "webhook"])
def test_a_team_inbox_down_then_back_gets_the_handoff_exactly_once(env, channel):
    if env["form"] != "handoff_form":
        pytest.skip("only handoffs are delivered to a team")
    stack = env["stack"]
    inbox = env["smtp"] if channel == "email" else env["hook"]
    meta = {"gemeente": _gemeente(env, channel)}
    inbox.stop()
    try:
        done = asyncio.run(_client_run(stack, lambda c: drive_form(
            c, env["form"], f"fault-inbox-{channel}", meta)))
        assert done.reference  # confirmed to the user although the team's inbox is down
        failed = wait_for(lambda: (row := _outbox(stack, done.reference)).attempts >= 1 and row,
                          30, "a failed delivery attempt", interval_s=0.5)
        assert failed.status == "pending" and failed.last_error
    finally:
        inbox.start()
    # the outbox retries with backoff (first retry after 30 s)
    wait_for(lambda: _outbox(stack, done.reference).status == "delivered", 150, "the retry", interval_s=0.5)
    time.sleep(2)  # a duplicate would arrive now
    assert inbox.references()[done.reference] == 1
    assert _outbox(stack, done.reference).attempts >= 2
