"""The embeddable chat widget: /widget.js, /widget.css, the demo page /demo and POST /api/feedback.

/widget.js is one file for the gemeente's single script tag: a small config from settings (Rasa URL,
message limit), the vendored socket.io client (kept off the page's global `io`) and static/widget.js.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import aiohttp_jinja2
from aiohttp import web

from bot.conversation import feedback
from bot.conversation.personal_prompts import MARKERS
from bot.db import run_in_session
from bot.edge.ratelimit import MemoryBuckets
from bot.settings import Settings
from bot.web.auth import web_client_ip

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
SOCKETIO_JS = STATIC / "vendor" / "socket.io-client" / "socket.io.min.js"

MAX_FEEDBACK_BYTES = 16 * 1024
FEEDBACK_PER_MINUTE = 30  # per client address; a person clicks a few thumbs, a script many
ASSET_MAX_AGE = 300  # seconds: short, so a fix reaches every gemeente's page quickly

# The widget lives on other sites: answer their preflight, without cookies (credentials: "omit").
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


def build_widget_js(settings: Settings) -> str:
    """The script a gemeente embeds: config, the socket.io client and the widget, in one scope."""
    config = {
        "rasaUrl": settings.rasa_url,
        "baseUrl": settings.public_url,
        "maxChars": settings.max_message_chars,
        "noRating": list(MARKERS),  # no thumbs under messages around contact details
    }
    vendor = SOCKETIO_JS.read_text(encoding="utf-8")
    vendor = "\n".join(line for line in vendor.splitlines() if not line.startswith("//# sourceMappingURL"))
    widget = (STATIC / "widget.js").read_text(encoding="utf-8")
    # `</` cannot end a script element if someone inlines this file; JSON stays valid.
    config_js = json.dumps(config).replace("</", "<\\/")
    return (
        "/* Loket chat widget. Includes socket.io-client 4.8.4 (MIT, (c) Guillermo Rauch and\n"
        "   contributors; see /static/vendor/socket.io-client/LICENSE). */\n"
        "(function () {\n"
        f"var LOKET_SERVER_CONFIG = {config_js};\n"
        # Shadow AMD/CommonJS so the UMD build sets window.io, then restore the page's own io.
        "var loketIo = (function () {\n"
        "var define, module, exports; var had = 'io' in window, previous = window.io;\n"
        f"{vendor}\n"
        ";var own = window.io; if (had) { window.io = previous; } else { try { delete window.io; }"
        " catch (e) { window.io = undefined; } } return own;\n"
        "})();\n"
        f"{widget}\n"
        "})();\n"
    )


def _asset_response(request: web.Request, body: str, content_type: str) -> web.Response:
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": f"public, max-age={ASSET_MAX_AGE}",
        "ETag": etag,
        "Cross-Origin-Resource-Policy": "cross-origin",  # gemeente pages load it from our origin
        "Access-Control-Allow-Origin": "*",
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    response = web.Response(text=body, content_type=content_type, charset="utf-8", headers=headers)
    response.enable_compression()  # when the browser accepts it: 74 kB -> about 23 kB for widget.js
    return response


async def widget_js(request: web.Request) -> web.Response:
    return _asset_response(request, request.app["widget_js"], "application/javascript")


async def widget_css(request: web.Request) -> web.Response:
    return _asset_response(request, request.app["widget_css"], "text/css")


@aiohttp_jinja2.template("demo.html")
async def demo(request: web.Request) -> dict:
    # From the configured public URL, never from the Host header (which the client chooses).
    settings: Settings = request.app["settings"]
    return {"widget_src": f"{settings.public_url.rstrip('/')}/widget.js"}


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=CORS_HEADERS)


async def _read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` (also without a Content-Length)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


async def feedback_preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=CORS_HEADERS)


async def post_feedback(request: web.Request) -> web.Response:
    # Only application/json: a cross-site form cannot send it without a CORS preflight.
    if request.content_type != "application/json":
        return _json_error(415, "Stuur de reactie als JSON (Content-Type: application/json).")
    if request.content_length is not None and request.content_length > MAX_FEEDBACK_BYTES:
        return _json_error(413, "De reactie is te groot.")
    if not request.app["feedback_limiter"].take_sync(web_client_ip(request)):
        return _json_error(429, "U stuurt te veel reacties achter elkaar. Probeer het over een minuut opnieuw.")
    raw = await _read_limited(request, MAX_FEEDBACK_BYTES)
    if raw is None:
        return _json_error(413, "De reactie is te groot.")
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _json_error(400, "De reactie is geen geldige JSON.")
    settings: Settings = request.app["settings"]
    try:
        item = feedback.parse_feedback(payload, max_question_chars=settings.max_message_chars)
    except feedback.FeedbackError as exc:
        return _json_error(400, str(exc))
    row = await run_in_session(lambda s: feedback.record_feedback(s, item), request.app["engine"])
    if row is None:  # a message around contact details: nothing stored (the widget hides its thumbs)
        log.info("feedback not stored: vote=%s on a message with personal data", item.vote)
        return web.json_response({"status": "niet opgeslagen"}, status=200, headers=CORS_HEADERS)
    log.info("feedback stored: vote=%s id=%s", item.vote, row.id)  # no text or sender id in logs
    return web.json_response({"status": "opgeslagen", "id": row.id}, status=201, headers=CORS_HEADERS)


def setup(app: web.Application) -> None:
    settings: Settings = app["settings"]
    app["widget_js"] = build_widget_js(settings)
    app["widget_css"] = (STATIC / "widget.css").read_text(encoding="utf-8")
    app["feedback_limiter"] = MemoryBuckets(FEEDBACK_PER_MINUTE, FEEDBACK_PER_MINUTE)
    app.router.add_get("/widget.js", widget_js, name="widget_js")
    app.router.add_get("/widget.css", widget_css, name="widget_css")
    app.router.add_get("/demo", demo, name="demo")
    app.router.add_post("/api/feedback", post_feedback, name="feedback")
    app.router.add_route("OPTIONS", "/api/feedback", feedback_preflight)
