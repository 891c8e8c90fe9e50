"""The widget's web routes with the aiohttp test client: /widget.js, /widget.css, /demo, /privacy and
POST /api/feedback (validation, size limits, rate limit, the stored row)."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from bot import models
from bot.conversation import feedback
from bot.conversation.personal_prompts import MARKERS
from bot.db import session_scope
from bot.settings import load_settings
from bot.web import widget
from bot.web.app import create_app


@pytest.fixture
def settings(engine, monkeypatch):
    monkeypatch.setenv("LOKET_RASA_URL", "http://rasa.example.org:5005")
    return load_settings()


@pytest.fixture
async def client(aiohttp_client, engine, settings):
    return await aiohttp_client(create_app(settings, engine))


def rows(engine) -> list[models.UnansweredQuestion]:
    with session_scope(engine) as s:
        return list(s.execute(select(models.UnansweredQuestion).order_by(models.UnansweredQuestion.id))
                    .scalars())


VALID = {
    "sender_id": "0123456789abcdef0123456789abcdef",
    "message_text": "Loonkostensubsidie krijgt u via de gemeente.",
    "question": "Kan ik loonkostensubsidie krijgen?",
    "vote": "down",
    "gemeente": "utrecht",
}


# --- assets and pages ------------------------------------------------------------------------


async def test_widget_js_carries_the_server_config_and_the_socketio_client(client, settings):
    resp = await client.get("/widget.js")
    assert resp.status == 200
    assert resp.content_type == "application/javascript"
    body = await resp.text()
    config = json.loads(re.search(r"var LOKET_SERVER_CONFIG = (\{.*?\});", body).group(1))
    assert config == {"rasaUrl": "http://rasa.example.org:5005", "baseUrl": settings.public_url,
                      "maxChars": settings.max_message_chars, "noRating": list(MARKERS)}
    assert "Socket.IO v4" in body  # the vendored client is bundled: one script tag is enough
    assert "sourceMappingURL" not in body
    for event in ("session_request", "user_uttered", "bot_uttered", "/webhooks/rest/webhook"):
        assert event in body
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert resp.headers["Content-Encoding"] in ("gzip", "deflate")  # the test client accepts both
    plain = await client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and await plain.text() == body


async def test_widget_js_answers_304_for_a_matching_etag(client):
    first = await client.get("/widget.js")
    etag = first.headers["ETag"]
    again = await client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status == 304
    other = await client.get("/widget.js", headers={"If-None-Match": '"something-else"'})
    assert other.status == 200


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_served_widget_js_is_valid_javascript(tmp_path, engine, settings):
    path = tmp_path / "widget.js"
    path.write_text(widget.build_widget_js(settings))
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


async def test_widget_css_is_served_as_css(client):
    resp = await client.get("/widget.css")
    assert resp.status == 200 and resp.content_type == "text/css"
    assert ".loket-launcher" in await resp.text()


async def test_demo_embeds_the_widget_with_one_script_tag_like_a_gemeente(client, settings):
    resp = await client.get("/demo")
    assert resp.status == 200
    html = await resp.text()
    assert '<html lang="nl">' in html
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 1
    tag = scripts[0]
    assert f'src="{settings.public_url}/widget.js"' in tag  # the public URL, not the Host header
    assert 'data-gemeente="utrecht"' in tag and "defer" in tag
    # No inline script or style: the page's own CSP (script-src/style-src 'self') must allow it all.
    assert re.search(r"<script\b[^>]*>\s*[^<\s]", html) is None
    assert "style=" not in html and "<style" not in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_privacy_statement_shows_the_configured_retention(aiohttp_client, engine, monkeypatch):
    monkeypatch.setenv("LOKET_CONVERSATION_RETENTION_DAYS", "14")
    monkeypatch.setenv("LOKET_CONTACT_RETENTION_DAYS", "60")
    client = await aiohttp_client(create_app(load_settings(), engine))
    resp = await client.get("/privacy")
    assert resp.status == 200
    text = re.sub(r"\s+", " ", await resp.text())
    assert "14 dagen na uw laatste bericht" in text
    assert "60 dagen nadat de makelaar" in text
    assert "28 dagen" not in text and "90 dagen" not in text
    for must in ("computerprogramma, geen mens", "Praat met een mens", "Gesprek verwijderen",
                 "geen profiel", "Autoriteit Persoonsgegevens"):
        assert must in text


async def test_privacy_statement_defaults_are_28_and_90_days(client):
    text = re.sub(r"\s+", " ", await (await client.get("/privacy")).text())
    assert "28 dagen na uw laatste bericht" in text and "90 dagen nadat de makelaar" in text


# --- POST /api/feedback ----------------------------------------------------------------------


async def test_thumbs_down_is_stored_for_the_review(client, engine):
    resp = await client.post("/api/feedback", json=VALID)
    assert resp.status == 201
    body = await resp.json()
    assert body["status"] == "opgeslagen"
    [row] = rows(engine)
    assert row.id == body["id"]
    assert row.reason == "thumbs_down"
    assert row.sender_id == VALID["sender_id"]
    assert row.text == VALID["question"]
    assert row.bot_answer == VALID["message_text"]
    assert row.gemeente_id == "utrecht"
    assert row.reviewed is False


async def test_thumbs_up_is_stored_with_its_own_reason(client, engine):
    resp = await client.post("/api/feedback", json={**VALID, "vote": "up", "gemeente": ""})
    assert resp.status == 201
    [row] = rows(engine)
    assert row.reason == "thumbs_up" and row.gemeente_id is None


async def test_feedback_answers_cors_preflight_without_credentials(client):
    resp = await client.options("/api/feedback", headers={
        "Origin": "https://www.gemeente.example.nl", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers
    assert "Content-Type" in resp.headers["Access-Control-Allow-Headers"]


async def test_feedback_only_accepts_json(client, engine):
    # A cross-site HTML form can send this content type without a preflight: refused.
    resp = await client.post("/api/feedback", data={k: v for k, v in VALID.items()})
    assert resp.status == 415
    resp = await client.post("/api/feedback", data=json.dumps(VALID),
                             headers={"Content-Type": "text/plain"})
    assert resp.status == 415
    assert rows(engine) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"vote": "maybe"}, "vote"),
    ({"vote": None}, "vote"),
    ({"sender_id": ""}, "sender_id"),
    ({"sender_id": "<script>"}, "sender_id"),
    ({"sender_id": "x" * 201}, "sender_id"),
    ({"message_text": "  "}, "message_text"),
    ({"message_text": 42}, "message_text"),
    ({"message_text": "a" * 4001}, "message_text"),
    ({"question": "v" * 1001}, "question"),
    ({"gemeente": "Utrecht; DROP"}, "gemeente"),
])
async def test_invalid_feedback_is_refused_in_dutch(client, engine, change, field):
    resp = await client.post("/api/feedback", json={**VALID, **change})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert field in error
    assert rows(engine) == []


async def test_feedback_must_be_a_json_object(client, engine):
    for body in ("[1, 2]", "niet json", '"tekst"'):
        resp = await client.post("/api/feedback", data=body,
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400
    assert rows(engine) == []


async def test_feedback_body_over_the_limit_is_refused(client, engine):
    big = {**VALID, "padding": "x" * widget.MAX_FEEDBACK_BYTES}
    resp = await client.post("/api/feedback", json=big)
    assert resp.status == 413
    assert rows(engine) == []


async def test_feedback_question_limit_follows_the_message_setting(aiohttp_client, engine, monkeypatch):
    monkeypatch.setenv("LOKET_MAX_MESSAGE_CHARS", "20")
    client = await aiohttp_client(create_app(load_settings(), engine))
    assert (await client.post("/api/feedback", json={**VALID, "question": "k" * 21})).status == 400
    assert (await client.post("/api/feedback", json={**VALID, "question": "k" * 20})).status == 201


async def test_feedback_is_rate_limited_per_client(client, engine):
    statuses = [(await client.post("/api/feedback", json=VALID)).status
                for _ in range(widget.FEEDBACK_PER_MINUTE + 2)]
    assert statuses[:widget.FEEDBACK_PER_MINUTE] == [201] * widget.FEEDBACK_PER_MINUTE
    assert statuses[-2:] == [429, 429]
    assert len(rows(engine)) == widget.FEEDBACK_PER_MINUTE


async def test_feedback_logs_no_text_or_sender(client, caplog):
    caplog.set_level(logging.DEBUG)
    assert (await client.post("/api/feedback", json=VALID)).status == 201
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "feedback stored" in logged
    for secret in (VALID["question"], VALID["message_text"], VALID["sender_id"]):
        assert secret not in logged


async def test_feedback_needs_no_login_and_no_csrf_token(client, engine):
    # The widget is anonymous; the route must not depend on a portal session.
    client.session.cookie_jar.clear()
    assert (await client.post("/api/feedback", json=VALID)).status == 201


# --- bot/conversation/feedback.py without the web layer ---------------------------------------------------


def test_parse_feedback_strips_and_normalises():
    item = feedback.parse_feedback({**VALID, "question": "  vraag  ", "gemeente": "Sittard-Geleen"})
    assert item.question == "vraag"
    assert item.gemeente_id == "sittard-geleen"
    assert item.reason == "thumbs_down"


def test_parse_feedback_allows_a_missing_question():
    payload = {k: v for k, v in VALID.items() if k != "question"}
    assert feedback.parse_feedback(payload).question == ""


def test_record_feedback_writes_one_row(engine):
    item = feedback.parse_feedback({**VALID, "vote": "up"})
    with session_scope(engine) as s:
        row = feedback.record_feedback(s, item)
        assert row.id is not None
    [stored] = rows(engine)
    assert (stored.reason, stored.text, stored.bot_answer) == ("thumbs_up", VALID["question"],
                                                               VALID["message_text"])
