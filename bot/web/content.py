"""The coordination team's content page: review status of every regeling and loket (being built)."""

from __future__ import annotations

from aiohttp import web

from bot.web.auth import require_role

ROLE = "coordinatie"


@require_role(ROLE)
async def content_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotImplemented(text="Deze pagina is nog in aanbouw.")


def setup(app: web.Application) -> None:
    app.router.add_get("/coordinatie/inhoud", content_page, name="content")
