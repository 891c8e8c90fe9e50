"""Broker portal (/portaal) and its JSON API (/api/v1/handoffs).

A makelaar sees only the handoffs of their own team: every query is filtered on the team id, so a
reference of another team answers 404, exactly like one that does not exist. Admins without a team
see all teams; the coordination team has no access.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from bot import handoffs, models
from bot.db import run_in_session
from bot.handoffs.outbox import undelivered_count
from bot.web.auth import require_role

log = logging.getLogger(__name__)

REFERENCE = r"{reference:[A-Z]{2,5}-[0-9]{4}-[0-9]{6}}"
TABS = (("nieuw", "Nieuw"), ("opgepakt", "Opgepakt"), ("afgesloten", "Afgesloten"), ("alle", "Alle"))
DONE_MESSAGES = {
    "opgepakt": "U heeft deze vraag opgepakt.",
    "notitie": "Uw notitie is opgeslagen.",
    "afgesloten": "De vraag is afgesloten.",
}


def team_scope(user: models.User) -> str | None:
    """The team whose handoffs this user may see; None means all teams (admin without a team)."""
    if user.role == "admin":
        return user.team_id
    if user.role == "makelaar" and user.team_id:
        return user.team_id
    raise web.HTTPForbidden(text="Uw account hoort niet bij een makelaarsteam.")


def _json_error(exc_class: type[web.HTTPException], message: str) -> web.HTTPException:
    return exc_class(text=json.dumps({"error": message}), content_type="application/json")


# --- pages ------------------------------------------------------------------------------------


@require_role("makelaar")
async def list_page(request: web.Request) -> web.StreamResponse:
    user = request["user"]
    team_id = team_scope(user)
    status = request.query.get("status", "nieuw")
    if status not in dict(TABS):
        status = "nieuw"
    q = request.query.get("q", "").strip()[:100]

    def work(s):
        team = s.get(models.Makelaarsteam, team_id) if team_id else None
        return (handoffs.list_handoffs(s, team_id, None if status == "alle" else status, q),
                handoffs.counts(s, team_id), undelivered_count(s, team_id), team)

    rows, counts, undelivered, team = await run_in_session(work, request.app["engine"])
    counts = dict(counts, alle=sum(counts.values()))
    return aiohttp_jinja2.render_template("portal_list.html", request, {
        "rows": rows, "counts": counts, "status": status, "q": q, "tabs": TABS,
        "undelivered": undelivered, "team_name": team.name if team else "alle teams",
        "tab_url": lambda key: "/portaal?" + urlencode({"status": key, **({"q": q} if q else {})}),
    })


async def _detail_context(request: web.Request, reference: str) -> dict:
    team_id = team_scope(request["user"])
    try:
        d = await run_in_session(lambda s: handoffs.detail(s, reference, team_id), request.app["engine"])
    except handoffs.NotFound as exc:
        raise web.HTTPNotFound(text="Deze vraag bestaat niet of hoort niet bij uw team.") from exc
    return {"d": d, "h": d.handoff, "done": DONE_MESSAGES.get(request.query.get("gedaan", "")),
            "error": None}


@require_role("makelaar")
async def detail_page(request: web.Request) -> web.StreamResponse:
    ctx = await _detail_context(request, request.match_info["reference"])
    return aiohttp_jinja2.render_template("portal_detail.html", request, ctx)


async def _page_action(request: web.Request, action, done: str) -> web.StreamResponse:
    reference = request.match_info["reference"]
    user = request["user"]
    team_id = team_scope(user)
    form = await request.post()
    try:
        await run_in_session(lambda s: action(s, reference, team_id, user, form), request.app["engine"])
    except handoffs.NotFound as exc:
        raise web.HTTPNotFound(text="Deze vraag bestaat niet of hoort niet bij uw team.") from exc
    except handoffs.HandoffError as exc:
        ctx = await _detail_context(request, reference)
        ctx["error"] = str(exc)
        response = aiohttp_jinja2.render_template("portal_detail.html", request, ctx)
        response.set_status(409)
        return response
    raise web.HTTPSeeOther(f"/portaal/overdrachten/{reference}?gedaan={done}")


@require_role("makelaar")
async def claim_post(request: web.Request) -> web.StreamResponse:
    return await _page_action(
        request, lambda s, ref, team, user, form: handoffs.claim(s, ref, team, user), "opgepakt")


@require_role("makelaar")
async def note_post(request: web.Request) -> web.StreamResponse:
    return await _page_action(
        request, lambda s, ref, team, user, form: handoffs.add_note(s, ref, team, user,
                                                                    str(form.get("text", ""))),
        "notitie")


@require_role("makelaar")
async def close_post(request: web.Request) -> web.StreamResponse:
    return await _page_action(
        request, lambda s, ref, team, user, form: handoffs.close(s, ref, team, user,
                                                                 str(form.get("outcome", ""))),
        "afgesloten")


# --- JSON API ---------------------------------------------------------------------------------


def _api_team(request: web.Request) -> str | None:
    try:
        return team_scope(request["user"])
    except web.HTTPForbidden as exc:
        raise _json_error(web.HTTPForbidden, "geen makelaarsteam") from exc


@require_role("makelaar", api=True)
async def api_list(request: web.Request) -> web.StreamResponse:
    team_id = _api_team(request)
    status = request.query.get("status")
    q = request.query.get("q", "")[:100]
    rows = await run_in_session(lambda s: [handoffs.as_dict(r.handoff, r.delivery)
                                           for r in handoffs.list_handoffs(s, team_id, status, q)],
                                request.app["engine"])
    return web.json_response({"handoffs": rows})


@require_role("makelaar", api=True)
async def api_detail(request: web.Request) -> web.StreamResponse:
    team_id = _api_team(request)
    reference = request.match_info["reference"]

    def work(s):
        d = handoffs.detail(s, reference, team_id)
        data = handoffs.as_dict(d.handoff, d.delivery, full=True)
        data["attempts"] = [{"at": a.attempted_at.isoformat(timespec="seconds"), "ok": a.ok,
                             "detail": a.detail} for a in d.attempts]
        return data

    try:
        return web.json_response(await run_in_session(work, request.app["engine"]))
    except handoffs.NotFound as exc:
        raise _json_error(web.HTTPNotFound, "niet gevonden") from exc


async def _api_action(request: web.Request, action) -> web.StreamResponse:
    team_id = _api_team(request)
    reference = request.match_info["reference"]
    user = request["user"]
    body: dict = {}
    if request.can_read_body:
        try:
            body = await request.json()
        except (json.JSONDecodeError, ValueError) as exc:
            raise _json_error(web.HTTPBadRequest, "geen geldige JSON") from exc
        if not isinstance(body, dict):
            raise _json_error(web.HTTPBadRequest, "verwacht een JSON-object")

    def work(s):
        action(s, reference, team_id, user, body)
        d = handoffs.detail(s, reference, team_id)
        return handoffs.as_dict(d.handoff, d.delivery, full=True)

    try:
        return web.json_response(await run_in_session(work, request.app["engine"]))
    except handoffs.NotFound as exc:
        raise _json_error(web.HTTPNotFound, "niet gevonden") from exc
    except handoffs.HandoffError as exc:
        raise _json_error(web.HTTPConflict, str(exc)) from exc


@require_role("makelaar", api=True)
async def api_claim(request: web.Request) -> web.StreamResponse:
    return await _api_action(request, lambda s, ref, team, user, body: handoffs.claim(s, ref, team, user))


@require_role("makelaar", api=True)
async def api_note(request: web.Request) -> web.StreamResponse:
    return await _api_action(request, lambda s, ref, team, user, body: handoffs.add_note(
        s, ref, team, user, str(body.get("text", ""))))


@require_role("makelaar", api=True)
async def api_close(request: web.Request) -> web.StreamResponse:
    return await _api_action(request, lambda s, ref, team, user, body: handoffs.close(
        s, ref, team, user, str(body.get("outcome", ""))))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/portaal", list_page, name="portal")
    r.add_get(f"/portaal/overdrachten/{REFERENCE}", detail_page, name="portal_detail")
    r.add_post(f"/portaal/overdrachten/{REFERENCE}/oppakken", claim_post)
    r.add_post(f"/portaal/overdrachten/{REFERENCE}/notitie", note_post)
    r.add_post(f"/portaal/overdrachten/{REFERENCE}/afsluiten", close_post)
    r.add_get("/api/v1/handoffs", api_list)
    r.add_get(f"/api/v1/handoffs/{REFERENCE}", api_detail)
    r.add_post(f"/api/v1/handoffs/{REFERENCE}/claim", api_claim)
    r.add_post(f"/api/v1/handoffs/{REFERENCE}/notes", api_note)
    r.add_post(f"/api/v1/handoffs/{REFERENCE}/close", api_close)
