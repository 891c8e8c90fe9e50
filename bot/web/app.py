"""Application factory: the features register their routes (explicitly, below); the app runs the
outbox worker that delivers handoffs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.db import get_engine
from bot.handoffs.outbox import run_worker
from bot.settings import Settings, get_settings
from bot.web import auth, content, dashboard, mail, maintenance, portal, privacy, results, widget

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

# Each feature module adds its routes with setup(app).
FEATURES = (widget, portal, dashboard, content, results, privacy, maintenance, mail)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Added on every response, errors included (on_response_prepare)."""
    settings: Settings = request.app["settings"]
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    # The public URL is this site too; the demo page loads the widget from there (not from Host).
    public = public_origin(settings)
    h.setdefault(
        "Content-Security-Policy",
        f"default-src 'self'; img-src 'self' data:; style-src 'self' {public}; "
        f"script-src 'self' {public}; "
        f"connect-src 'self' {public} {settings.rasa_url} {settings.rasa_url.replace('http', 'ws', 1)}; "
        f"frame-ancestors {settings.frame_ancestors}; base-uri 'none'; form-action 'self'",
    )
    if request.get("user") is not None or request.path == "/inloggen":
        # Portal and dashboard pages hold personal data: no copy in a browser or proxy cache.
        h["Cache-Control"] = "no-store"
    if settings.secure_cookies:  # only behind TLS
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def public_origin(settings: Settings) -> str:
    """scheme://host[:port] of LOKET_PUBLIC_URL, for the CSP."""
    parts = urlsplit(settings.public_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@aiohttp_jinja2.template("index.html")
async def index(request: web.Request) -> dict:
    return {}


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> web.Application:
    settings = settings or get_settings()
    app = web.Application(middlewares=[auth.auth_middleware],
                          client_max_size=1024 * 1024)
    app.on_response_prepare.append(security_headers)
    app["settings"] = settings
    app["engine"] = engine or get_engine(settings.database_url)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html", "xml"], default=True),
        context_processors=[aiohttp_jinja2.request_processor],
    )
    env.globals["csrf_token"] = auth.csrf_token
    app.router.add_get("/", index, name="index")
    app.router.add_get("/health", health)
    app.router.add_static("/static/", HERE / "static", name="static")
    auth.setup_routes(app)
    for feature in FEATURES:
        feature.setup(app)
    app.on_startup.append(start_outbox_worker)
    app.on_cleanup.append(stop_outbox_worker)
    return app


async def start_outbox_worker(app: web.Application) -> None:
    """The delivery worker lives in the web app process; LOKET_OUTBOX_INTERVAL_S=0 turns it off."""
    settings = app["settings"]
    if settings.outbox_interval_s > 0:
        app["outbox_worker"] = asyncio.create_task(run_worker(app["engine"], settings))


async def stop_outbox_worker(app: web.Application) -> None:
    task = app.get("outbox_worker")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
