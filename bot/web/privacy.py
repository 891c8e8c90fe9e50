"""The privacy statement at /privacy. Retention periods come from settings, so the page tells the truth."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.settings import Settings


@aiohttp_jinja2.template("privacy.html")
async def privacy_page(request: web.Request) -> dict:
    settings: Settings = request.app["settings"]
    return {
        "conversation_days": settings.conversation_retention_days,
        "contact_days": settings.contact_retention_days,
        "max_chars": settings.max_message_chars,
    }


def setup(app: web.Application) -> None:
    app.router.add_get("/privacy", privacy_page, name="privacy")
