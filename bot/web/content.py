"""The coordination team's content page: every regeling and loket with its review status, filters, the
link to the source, and the "Gecontroleerd" action that stamps the current text for the signed-in person.

Roles coordinatie and admin. The logic is in bot.knowledge.review; this module only maps requests to it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy.orm import Session

from bot.db import run_in_session
from bot.knowledge import review
from bot.web.auth import require_role

log = logging.getLogger(__name__)

ROLE = "coordinatie"
PATH = "/coordinatie/inhoud"
# query parameter -> EntryFilter field
FILTER_PARAMS = {"status": "status", "organisatie": "organisation", "thema": "theme", "soort": "kind"}


def _filter(params) -> tuple[review.EntryFilter, list[str]]:
    values = {field: str(params.get(param, "")).strip() for param, field in FILTER_PARAMS.items()}
    errors = []
    checks = (("status", review.STATUS_LABELS, "status"), ("theme", review.THEME_LABELS, "thema"),
              ("kind", review.KIND_LABELS, "soort"))
    for field, known, label in checks:
        if values[field] and values[field] not in known:
            errors.append(f"Onbekende {label} '{values[field]}': dit filter is niet gebruikt.")
            values[field] = ""
    return review.EntryFilter(**values), errors


def _query(f: review.EntryFilter) -> str:
    return urlencode({param: getattr(f, field) for param, field in FILTER_PARAMS.items()
                      if getattr(f, field)})


def _context(session: Session, f: review.EntryFilter, max_age_days: int) -> dict[str, Any]:
    entries = review.overview(session, max_age_days=max_age_days)
    regeling_orgs = sorted({e.organisation for e in entries if e.kind == "regeling"}, key=str.lower)
    loket_orgs = sorted({e.organisation for e in entries if e.kind == "loket"}, key=str.lower)
    themes = sorted({t for e in entries for t in e.themes}, key=lambda t: review.theme_label(t).lower())
    shown = [e for e in entries if f.matches(e)]
    return {"entries": shown, "total": len(entries), "counts": review.counts(entries),
            "shown_counts": review.counts(shown), "regeling_orgs": regeling_orgs,
            "loket_orgs": loket_orgs, "themes": [(t, review.theme_label(t)) for t in themes],
            "names": {(e.kind, e.id): e.name for e in entries}}


async def _render(request: web.Request, f: review.EntryFilter, errors: list[str],
                  stamped: str = "", status: int = 200) -> web.StreamResponse:
    max_age = request.app["settings"].review_max_age_days
    data = await run_in_session(lambda s: _context(s, f, max_age), request.app["engine"])
    kind, _, item_id = stamped.partition(":")
    name = data.pop("names").get((kind, item_id))
    notice = (f"Opgeslagen: u heeft '{name}' gecontroleerd. De chat noemt nu de datum van uw controle."
              if name else None)
    context = {
        **data, "f": f, "errors": errors, "notice": notice, "query": _query(f), "max_age_days": max_age,
        "status_labels": review.STATUS_LABELS, "status_order": review.STATUS_ORDER,
        "kind_labels": review.KIND_LABELS, "max_age_delta": timedelta(days=max_age),
    }
    response = aiohttp_jinja2.render_template("content_list.html", request, context)
    response.set_status(status)
    return response


@require_role(ROLE)
async def content_page(request: web.Request) -> web.StreamResponse:
    f, errors = _filter(request.query)
    return await _render(request, f, errors, stamped=request.query.get("gecontroleerd", ""))


@require_role(ROLE)
async def stamp_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    kind, item_id = str(form.get("item_soort", "")), str(form.get("item_id", ""))
    shown_hash = str(form.get("tekst", ""))
    f, _ = _filter(form)  # back to the same filtered list
    user = request["user"]
    try:
        await run_in_session(lambda s: review.stamp(s, kind, item_id, user, expected_hash=shown_hash),
                             request.app["engine"])
    except review.ReviewError as exc:
        return await _render(request, f, [str(exc)], status=409)
    log.info("content %s %s stamped as reviewed by user %s", kind, item_id, user.id)
    query = urlencode({**dict(parse_qsl(_query(f))), "gecontroleerd": f"{kind}:{item_id}"})
    target = f"{PATH}?{query}#rij-{quote(kind)}-{quote(item_id)}"
    raise web.HTTPSeeOther(target)


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, content_page, name="content")
    app.router.add_post(PATH + "/gecontroleerd", stamp_submit)
