"""Issue 18 #9: Rasa refuses request bodies over 64 KiB (Sanic's REQUEST_MAX_SIZE, set by `loket run`
and deploy/serve.py through SANIC_REQUEST_MAX_SIZE) before reading them; normal messages still work.
Against the running stack (the shared bot_stack, started with the same environment as `loket run`)."""

from __future__ import annotations

import json

import pytest
import requests

pytestmark = pytest.mark.rasa

LIMIT = 64 * 1024


def _texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def test_a_100_kib_body_is_refused_with_413_and_a_normal_message_works(bot_stack):
    body = json.dumps({"sender": "size-big", "message": "a" * 100 * 1024}).encode()
    resp = requests.post(f"{bot_stack.rasa_url}/webhooks/rest/webhook", data=body,
                         headers={"Content-Type": "application/json"}, timeout=60)
    assert resp.status_code == 413
    # the same Dutch answer as for a message that is too long, in the channel's shape
    assert "Uw bericht is te lang" in _texts(resp.json())
    assert "digitale assistent" in _texts(bot_stack.say("size-normal", "Hallo"))


def test_a_chunked_body_over_the_limit_is_refused_too(bot_stack):
    """Without a Content-Length Sanic counts while reading and stops at the limit."""

    def chunks():
        yield b'{"sender": "size-chunked", "message": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    try:
        resp = requests.post(f"{bot_stack.rasa_url}/webhooks/rest/webhook", data=chunks(),
                             headers={"Content-Type": "application/json"}, timeout=60)
    except requests.ConnectionError:
        return  # the server closed the connection before the client finished sending: refused
    assert resp.status_code == 413


def test_a_body_under_the_limit_reaches_the_edge_check(bot_stack):
    """60 KiB passes Sanic; the edge gate then answers that the message is too long (not a 413)."""
    body = json.dumps({"sender": "size-60k", "message": "a" * 60 * 1024}).encode()
    assert len(body) < LIMIT
    resp = requests.post(f"{bot_stack.rasa_url}/webhooks/rest/webhook", data=body,
                         headers={"Content-Type": "application/json"}, timeout=60)
    assert resp.status_code == 200
    assert "te lang" in _texts(resp.json())
