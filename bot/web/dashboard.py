"""The coordination team's dashboard: knelpunten (list, detail, workflow, merge, charts, export),
the JSON API for them, and the review of questions the bot could not answer.

Role "coordinatie" (and admin). Free text is rendered by Jinja with autoescape, never marked safe.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import distinct, select
from sqlalchemy.orm import Session

from bot import knelpunten as kp
from bot import models
from bot.conversation import unanswered
from bot.db import run_in_session
from bot.web.auth import require_role

log = logging.getLogger(__name__)

ROLE = "coordinatie"
PER_PAGE_CHOICES = (25, 50, 100, 250, 500)
DEFAULT_PER_PAGE = 50


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


async def _db(request: web.Request, fn):
    return await run_in_session(fn, request.app["engine"])


def _query_string(f: kp.KnelpuntFilter, **extra: Any) -> str:
    params = f.to_query()
    params.update({k: str(v) for k, v in extra.items() if v not in (None, "")})
    return urlencode(params)


# --- charts: inline SVG bars with a data table (no scripts, no inline styles: CSP) ----------


def bar_chart(title: str, items: list[tuple[str, int]], chart_id: str) -> dict[str, Any]:
    """Geometry for a horizontal bar chart, rendered by the template as SVG plus a table."""
    label_w, bar_w, row_h = 190, 260, 22
    biggest = max((n for _, n in items), default=0) or 1
    bars = []
    for i, (label, n) in enumerate(items):
        bars.append({"label": label, "value": n, "y": i * row_h,
                     "width": round(bar_w * n / biggest, 1), "text_x": label_w + round(bar_w * n / biggest, 1) + 6})
    return {"id": chart_id, "title": title, "bars": bars, "label_w": label_w,
            "width": label_w + bar_w + 50, "height": max(row_h, len(items) * row_h), "row_h": row_h,
            "summary": ", ".join(f"{label}: {n}" for label, n in items) or "geen gegevens"}


# --- pages ---------------------------------------------------------------------------------


def _filter_options(session: Session) -> dict[str, Any]:
    used = [g for (g,) in session.execute(
        select(distinct(models.Knelpunt.gemeente_id)).where(models.Knelpunt.gemeente_id.is_not(None)))]
    names = kp.gemeente_names(session, used)
    gemeenten = sorted(((gid, names.get(gid, gid)) for gid in used), key=lambda item: item[1].lower())
    return {"categories": kp.CATEGORIES, "tracks": kp.TRACKS, "statuses": kp.STATUSES,
            "gemeenten": gemeenten}


@require_role(ROLE)
async def knelpunten_page(request: web.Request) -> web.StreamResponse:
    f, errors = kp.KnelpuntFilter.from_query(request.query)
    page_no = _int(request.query.get("pagina"), 1)
    per_page = _int(request.query.get("per_pagina"), DEFAULT_PER_PAGE)
    if per_page not in PER_PAGE_CHOICES:
        per_page = DEFAULT_PER_PAGE

    def work(session: Session) -> dict[str, Any]:
        page = kp.list_knelpunten(session, f, page_no, per_page)
        stats = kp.stats(session, f)
        return {"page": page, "rows": list(zip(page.items, kp.table_rows(session, page.items), strict=True)),
                "stats": stats, **_filter_options(session)}

    data = await _db(request, work)
    stats: kp.Stats = data.pop("stats")
    page: kp.Page = data["page"]
    context = {
        **data,
        "f": f,
        "errors": errors,
        "header": kp.TABLE_HEADER,
        "per_page": per_page,
        "per_page_choices": PER_PAGE_CHOICES,
        "query": _query_string(f),
        "query_pp": _query_string(f, per_pagina=per_page if per_page != DEFAULT_PER_PAGE else None),
        "charts": [
            bar_chart("Knelpunten per categorie", stats.by_category, "grafiek-categorie"),
            bar_chart("Knelpunten per gemeente", stats.by_gemeente, "grafiek-gemeente"),
            bar_chart("Knelpunten per maand", stats.by_month, "grafiek-maand"),
        ],
        "first": (page.page - 1) * page.per_page + 1 if page.total else 0,
        "last": min(page.page * page.per_page, page.total),
    }
    return aiohttp_jinja2.render_template("dashboard_list.html", request, context)


def _detail_context(session: Session, knelpunt_id: int) -> dict[str, Any] | None:
    knelpunt = session.get(models.Knelpunt, knelpunt_id)
    if knelpunt is None:
        return None
    names = kp.gemeente_names(session, [knelpunt.gemeente_id])
    target = session.get(models.Knelpunt, knelpunt.duplicate_of) if knelpunt.duplicate_of else None
    return {
        "k": knelpunt,
        "row": dict(zip(kp.TABLE_HEADER, kp.table_row(knelpunt, names), strict=True)),
        "gemeente": names.get(knelpunt.gemeente_id or "", knelpunt.gemeente_id),
        "history": kp.history(session, knelpunt.id),
        "duplicates": kp.duplicates_of(session, knelpunt.id),
        "merged_into": target,
        "next_statuses": [(s, kp.STATUSES[s]) for s in kp.allowed_statuses(knelpunt.status)],
        "field_labels": kp.FIELD_LABELS,
        "status_labels": kp.STATUSES,
        "category_label": kp.category_label(knelpunt.category),
        "track_label": kp.TRACKS.get(knelpunt.track, str(knelpunt.track)),
    }


async def _render_detail(request: web.Request, knelpunt_id: int, error: str | None = None,
                         status: int = 200) -> web.StreamResponse:
    context = await _db(request, lambda s: _detail_context(s, knelpunt_id))
    if context is None:
        raise web.HTTPNotFound(text="Dit knelpunt bestaat niet.")
    context.update({"error": error, "notice": _NOTICES.get(request.query.get("melding", ""))})
    response = aiohttp_jinja2.render_template("dashboard_detail.html", request, context)
    response.set_status(status)
    return response


_NOTICES = {"status": "De status is gewijzigd.", "samengevoegd": "De knelpunten zijn samengevoegd."}


@require_role(ROLE)
async def knelpunt_page(request: web.Request) -> web.StreamResponse:
    return await _render_detail(request, int(request.match_info["id"]))


@require_role(ROLE)
async def status_submit(request: web.Request) -> web.StreamResponse:
    knelpunt_id = int(request.match_info["id"])
    form = await request.post()
    user_id = request["user"].id
    try:
        await _db(request, lambda s: kp.change_status(
            s, knelpunt_id, str(form.get("status", "")), user_id, str(form.get("doorgezet_naar", ""))))
    except kp.KnelpuntError as exc:
        return await _render_detail(request, knelpunt_id, str(exc), status=400)
    log.info("knelpunt %s status changed by user %s", knelpunt_id, user_id)
    raise web.HTTPSeeOther(f"/coordinatie/knelpunten/{knelpunt_id}?melding=status")


def _split_keys(raw: str) -> list[str]:
    return [part for part in (p.strip() for p in raw.replace(";", ",").replace("\n", ",").split(","))
            if part]


@require_role(ROLE)
async def merge_submit(request: web.Request) -> web.StreamResponse:
    knelpunt_id = int(request.match_info["id"])
    form = await request.post()
    keys = _split_keys(str(form.get("dubbele", "")))
    user_id = request["user"].id
    try:
        await _db(request, lambda s: kp.merge(s, knelpunt_id, keys, user_id))
    except kp.KnelpuntError as exc:
        return await _render_detail(request, knelpunt_id, str(exc), status=400)
    log.info("knelpunt %s: %d duplicates merged by user %s", knelpunt_id, len(keys), user_id)
    raise web.HTTPSeeOther(f"/coordinatie/knelpunten/{knelpunt_id}?melding=samengevoegd")


async def _export_rows(request: web.Request) -> list[list[str | int]]:
    f, errors = kp.KnelpuntFilter.from_query(request.query)
    if errors:
        raise web.HTTPBadRequest(text=" ".join(errors))
    return await _db(request, lambda s: kp.table_rows(s, kp.iter_knelpunten(s, f)))


def download(body: bytes, content_type: str, extension: str, prefix: str = "knelpunten") -> web.Response:
    """An attachment named after `prefix` and the time, never cached."""
    name = f"{prefix}-{datetime.now().strftime('%Y%m%d-%H%M')}.{extension}"
    return web.Response(body=body, content_type=content_type,
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})


@require_role(ROLE)
async def export_csv(request: web.Request) -> web.StreamResponse:
    rows = await _export_rows(request)
    response = download(kp.export_csv(rows), "text/csv", "csv")
    response.charset = "utf-8"
    return response


@require_role(ROLE)
async def export_xlsx(request: web.Request) -> web.StreamResponse:
    import asyncio

    rows = await _export_rows(request)
    body = await asyncio.to_thread(kp.export_xlsx, rows)  # CPU work; keep the loop free
    return download(body, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")


# --- unanswered questions ------------------------------------------------------------------


@require_role(ROLE)
async def questions_page(request: web.Request) -> web.StreamResponse:
    include_reviewed = request.query.get("behandeld") in ("1", "on", "ja")

    def work(session: Session) -> dict[str, Any]:
        return {"groups": unanswered.grouped(session, include_reviewed=include_reviewed),
                "counts": unanswered.counts(session)}

    data = await _db(request, work)
    notice = "De vragen zijn als behandeld gemarkeerd." if request.query.get("melding") == "behandeld" else None
    return aiohttp_jinja2.render_template("dashboard_vragen.html", request, {
        **data, "include_reviewed": include_reviewed, "reason_labels": unanswered.REASON_LABELS,
        "notice": notice})


@require_role(ROLE)
async def questions_reviewed(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ids = [int(v) for v in form.getall("id", []) if str(v).isdigit()]
    reviewed = str(form.get("actie", "behandeld")) != "heropenen"
    changed = await _db(request, lambda s: unanswered.mark_reviewed(s, ids, reviewed))
    log.info("%d unanswered questions marked reviewed=%s", changed, reviewed)
    suffix = "&behandeld=1" if form.get("behandeld") == "1" else ""
    raise web.HTTPSeeOther(f"/coordinatie/vragen?melding=behandeld{suffix}")


# --- JSON API ------------------------------------------------------------------------------


def _json_error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type="application/json")


@require_role(ROLE, api=True)
async def api_list(request: web.Request) -> web.StreamResponse:
    f, errors = kp.KnelpuntFilter.from_query(request.query)
    if errors:
        raise _json_error(web.HTTPBadRequest, " ".join(errors))
    page_no = _int(request.query.get("pagina"), 1)
    per_page = max(1, min(_int(request.query.get("per_pagina"), DEFAULT_PER_PAGE), 500))

    def work(session: Session) -> dict[str, Any]:
        page = kp.list_knelpunten(session, f, page_no, per_page)
        names = kp.gemeente_names(session, (k.gemeente_id for k in page.items))
        return {"items": [kp.to_dict(k, names) for k in page.items], "total": page.total,
                "page": page.page, "per_page": page.per_page, "pages": page.pages,
                "filter": f.to_query()}

    return web.json_response(await _db(request, work))


def _api_detail(session: Session, knelpunt_id: int) -> dict[str, Any] | None:
    knelpunt = session.get(models.Knelpunt, knelpunt_id)
    if knelpunt is None:
        return None
    data = kp.to_dict(knelpunt, kp.gemeente_names(session, [knelpunt.gemeente_id]))
    data["history"] = [{"changed_at": h.changed_at.isoformat(timespec="seconds"), "by": h.who,
                        "field": h.field, "old": h.old_value, "new": h.new_value}
                       for h in kp.history(session, knelpunt.id)]
    data["duplicates"] = [d.reference for d in kp.duplicates_of(session, knelpunt.id)]
    data["next_statuses"] = list(kp.allowed_statuses(knelpunt.status))
    return data


@require_role(ROLE, api=True)
async def api_detail(request: web.Request) -> web.StreamResponse:
    data = await _db(request, lambda s: _api_detail(s, int(request.match_info["id"])))
    if data is None:
        raise _json_error(web.HTTPNotFound, "dit knelpunt bestaat niet")
    return web.json_response(data)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _json_error(web.HTTPBadRequest, "de inhoud is geen geldige JSON") from None
    if not isinstance(body, dict):
        raise _json_error(web.HTTPBadRequest, "verwacht een JSON-object")
    return body


@require_role(ROLE, api=True)
async def api_patch(request: web.Request) -> web.StreamResponse:
    knelpunt_id = int(request.match_info["id"])
    body = await _json_body(request)
    if "status" not in body:
        raise _json_error(web.HTTPBadRequest, "geef een status")
    user_id = request["user"].id

    def work(session: Session) -> dict[str, Any] | None:
        if session.get(models.Knelpunt, knelpunt_id) is None:
            return None
        kp.change_status(session, knelpunt_id, str(body["status"]), user_id,
                         str(body.get("forwarded_to") or ""))
        return _api_detail(session, knelpunt_id)

    try:
        data = await _db(request, work)
    except kp.KnelpuntError as exc:
        raise _json_error(web.HTTPConflict, str(exc)) from None
    if data is None:
        raise _json_error(web.HTTPNotFound, "dit knelpunt bestaat niet")
    return web.json_response(data)


@require_role(ROLE, api=True)
async def api_merge(request: web.Request) -> web.StreamResponse:
    knelpunt_id = int(request.match_info["id"])
    body = await _json_body(request)
    duplicates = body.get("duplicates")
    if not isinstance(duplicates, list) or not duplicates:
        raise _json_error(web.HTTPBadRequest, "geef 'duplicates': een lijst met id's of referenties")
    user_id = request["user"].id

    def work(session: Session) -> dict[str, Any] | None:
        if session.get(models.Knelpunt, knelpunt_id) is None:
            return None
        kp.merge(session, knelpunt_id, [d if isinstance(d, int) else str(d) for d in duplicates],
                 user_id)
        return _api_detail(session, knelpunt_id)

    try:
        data = await _db(request, work)
    except kp.KnelpuntError as exc:
        raise _json_error(web.HTTPConflict, str(exc)) from None
    if data is None:
        raise _json_error(web.HTTPNotFound, "dit knelpunt bestaat niet")
    return web.json_response(data)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/coordinatie", knelpunten_page, name="dashboard")
    r.add_get("/coordinatie/knelpunten/{id:\\d+}", knelpunt_page, name="dashboard_knelpunt")
    r.add_post("/coordinatie/knelpunten/{id:\\d+}/status", status_submit)
    r.add_post("/coordinatie/knelpunten/{id:\\d+}/samenvoegen", merge_submit)
    r.add_get("/coordinatie/export.csv", export_csv, name="dashboard_export_csv")
    r.add_get("/coordinatie/export.xlsx", export_xlsx, name="dashboard_export_xlsx")
    r.add_get("/coordinatie/vragen", questions_page, name="dashboard_vragen")
    r.add_post("/coordinatie/vragen/behandeld", questions_reviewed)
    r.add_get("/api/v1/knelpunten", api_list)
    r.add_get("/api/v1/knelpunten/{id:\\d+}", api_detail)
    r.add_patch("/api/v1/knelpunten/{id:\\d+}", api_patch)
    r.add_post("/api/v1/knelpunten/{id:\\d+}/samenvoegen", api_merge)
