"""POST /api/forget for the widget's "verwijder mijn gesprek", and the scheduled retention purge.

Before each purge the job counts the results of the conversations (bot/conversation/stats.py) into an
anonymous table, so /coordinatie/resultaten keeps its figures after the conversations are deleted.

The purge runs in the web app every LOKET_PURGE_INTERVAL_S seconds (default one hour; 0 switches it
off, e.g. when a cron job runs `loket purge` instead). It is idempotent, so several web processes
may run it at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import web

from bot import privacy
from bot.conversation import stats
from bot.edge.ratelimit import MemoryBuckets
from bot.settings import Settings
from bot.web.auth import web_client_ip

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4096
FORGET_PER_MINUTE = 10  # per client address: a person deletes a conversation now and then
FIRST_PURGE_DELAY_S = 5.0  # let the app start first

# The widget posts from the gemeente's site without cookies (credentials: "omit").
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=CORS_HEADERS)


async def forget_preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=CORS_HEADERS)


async def post_forget(request: web.Request) -> web.Response:
    if not request.app["forget_limiter"].take_sync(web_client_ip(request)):
        return _error(429, "U heeft dit te vaak geprobeerd. Wacht een minuut.")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, "Het verzoek is te groot.")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _error(400, "Het verzoek is geen geldige JSON.")
    sender_id = body.get("sender_id") if isinstance(body, dict) else None
    if not isinstance(sender_id, str) or not privacy.SENDER_RE.match(sender_id):
        return _error(400, "Dit is geen geldige gespreks-id.")
    settings: Settings = request.app["settings"]
    engine = request.app["engine"]
    report = await asyncio.to_thread(privacy.forget, engine, settings.tracker_db_url, sender_id)
    return web.json_response(
        {"status": "verwijderd", "message": "Uw gesprek is verwijderd.", **report.as_dict()},
        headers=CORS_HEADERS,
    )


async def _purge_loop(app: web.Application, interval_s: float) -> None:
    settings: Settings = app["settings"]
    await asyncio.sleep(min(FIRST_PURGE_DELAY_S, interval_s))
    while True:
        try:
            report = await asyncio.to_thread(stats.count_then_purge, app["engine"], settings)
            app["last_purge"] = report
        except Exception:  # keep the schedule; the next run tries again
            log.exception("scheduled privacy purge failed")
        await asyncio.sleep(interval_s)


async def _start_purge(app: web.Application) -> None:
    interval = app["settings"].purge_interval_s
    if interval > 0:
        app["purge_task"] = asyncio.create_task(_purge_loop(app, interval))


async def _stop_purge(app: web.Application) -> None:
    task = app.get("purge_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup(app: web.Application) -> None:
    privacy.install_log_redaction()
    app["forget_limiter"] = MemoryBuckets(FORGET_PER_MINUTE, FORGET_PER_MINUTE)
    app["last_purge"] = None
    app.router.add_post("/api/forget", post_forget, name="forget")
    app.router.add_route("OPTIONS", "/api/forget", forget_preflight)
    app.on_startup.append(_start_purge)
    app.on_cleanup.append(_stop_purge)
