"""Nobody in where they don't belong: every route of the web app, for every role.

Routes are enumerated from app.router, so a new route is covered automatically. A route is either on
PUBLIC (anyone may call it) or belongs to an AREA by its path prefix; a protected route that fits no
area fails the test until someone decides who may use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot import models
from bot.db import session_scope
from bot.web import auth

PUBLIC = {
    ("GET", "/"), ("GET", "/health"), ("GET", "/inloggen"), ("POST", "/inloggen"),
    ("POST", "/uitloggen"), ("GET", "/widget.js"), ("GET", "/widget.css"), ("GET", "/demo"),
    ("GET", "/privacy"), ("POST", "/api/feedback"), ("POST", "/api/forget"),
}
PUBLIC_PREFIXES = ("/static/",)
# path prefix -> the role that may use it (admins may use everything)
AREAS = {
    "/portaal": "makelaar",
    "/api/v1/handoffs": "makelaar",
    "/coordinatie": "coordinatie",
    "/api/v1/knelpunten": "coordinatie",
    "/beheer": "admin",
}
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # as registered, e.g. /portaal/overdrachten/{reference}
    area: str | None  # role, or None for public

    @property
    def api(self) -> bool:
        return self.pattern.startswith("/api/")

    def url(self, params: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: params[m.group(1)], self.pattern)


def _pattern(resource) -> str:
    info = resource.get_info()
    if "path" in info:
        return info["path"]
    if "formatter" in info:
        return resource.canonical  # keeps the {name:regex} parts; url() fills them in
    return info.get("prefix", resource.canonical)


def enumerate_routes(app) -> list[Route]:
    routes = []
    for route in app.router.routes():
        method = route.method
        if method in ("HEAD", "OPTIONS", "*"):
            continue
        pattern = _pattern(route.resource)
        if (method, pattern) in PUBLIC or (pattern + "/").startswith(PUBLIC_PREFIXES):
            routes.append(Route(method, pattern, None))
            continue
        area = next((role for prefix, role in AREAS.items()
                     if pattern == prefix or pattern.startswith(prefix + "/")
                     or pattern.startswith(prefix + ".")), None)
        assert area is not None, (
            f"{method} {pattern} is neither public nor in an area: add it to PUBLIC or AREAS "
            "in tests/test_cross_role.py")
        routes.append(Route(method, pattern, area))
    return routes


@pytest.fixture
def world(loaded):
    """Two teams' handoffs, a knelpunt, and one user per role."""
    with session_scope(loaded) as s:
        for name, role, team in (("makelaar-zwolle", "makelaar", "zwolle"),
                                 ("makelaar-utrecht", "makelaar", "utrecht"),
                                 ("coordinator", "coordinatie", None), ("beheer", "admin", None)):
            auth.create_user(s, name, PASSWORD, role, team_id=team)
        for ref, team in (("LKT-2026-000001", "zwolle"), ("LKT-2026-000002", "utrecht")):
            s.add(models.Handoff(reference=ref, sender_id="s-" + team, team_id=team,
                                 gemeente_id=team, description="vraag", contact_email="x@example.org",
                                 consent_at=models.utcnow(), status="nieuw"))
        k = models.Knelpunt(reference="KNP-2026-000001", description="regel", category="overig",
                            track=1, organisations=[], gemeente_id="utrecht")
        s.add(k)
        s.flush()
        knelpunt_id = k.id
    return {"own": "LKT-2026-000001", "other": "LKT-2026-000002", "id": str(knelpunt_id)}


@pytest.fixture
def app(world, loaded, monkeypatch):
    from bot.settings import get_settings
    from bot.web.app import create_app

    monkeypatch.setenv("LOKET_OUTBOX_INTERVAL_S", "0")
    monkeypatch.setenv("LOKET_PURGE_INTERVAL_S", "0")
    get_settings.cache_clear()
    return create_app(get_settings(), loaded)


async def _login(aiohttp_client, app, username: str):
    client = await aiohttp_client(app)
    resp = await client.post("/inloggen", data={"username": username, "password": PASSWORD},
                             allow_redirects=False)
    assert resp.status == 302, await resp.text()
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[auth.COOKIE].value
    csrf = auth.decode_session(app["settings"].secret_key, cookie)["csrf"]
    return client, csrf


async def _call(client, route: Route, params: dict, csrf: str | None):
    url = route.url(params)
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    if route.method == "GET":
        return await client.get(url, allow_redirects=False)
    if route.api:
        return await client.request(route.method, url, json={"status": "nieuw", "text": "x"},
                                    headers=headers, allow_redirects=False)
    data = {"csrf_token": csrf or "", "text": "x", "outcome": "x", "status": "nieuw"}
    return await client.request(route.method, url, data=data, allow_redirects=False)


def _params(world: dict, reference: str) -> dict:
    return {"reference": reference, "id": world["id"], "name": "20260101-000000-abcd1234.eml"}


def test_every_protected_route_is_in_an_area(app):
    routes = enumerate_routes(app)
    protected = [r for r in routes if r.area]
    assert {r.area for r in protected} == {"makelaar", "coordinatie", "admin"}
    assert len(protected) >= 10  # the portal and the dashboard with their APIs


async def test_anonymous_gets_the_login_page_or_401(app, aiohttp_client, world):
    client = await aiohttp_client(app)
    for route in (r for r in enumerate_routes(app) if r.area):
        resp = await _call(client, route, _params(world, world["other"]), None)
        if route.api:
            assert resp.status == 401, (route, resp.status)
            assert (await resp.json())["error"]
        else:
            assert resp.status == 302, (route, resp.status)
            assert resp.headers["Location"].startswith("/inloggen?next=")


async def test_a_makelaar_cannot_reach_the_coordination_dashboard(app, aiohttp_client, world):
    client, csrf = await _login(aiohttp_client, app, "makelaar-zwolle")
    assert (await client.get("/portaal", allow_redirects=False)).status == 200  # positive control
    for route in (r for r in enumerate_routes(app) if r.area == "coordinatie"):
        resp = await _call(client, route, _params(world, world["own"]), csrf)
        assert resp.status == 403, (route, resp.status)
        assert "regel" not in await resp.text()


async def test_the_coordination_team_cannot_reach_the_portal(app, aiohttp_client, world):
    client, csrf = await _login(aiohttp_client, app, "coordinator")
    assert (await client.get("/coordinatie", allow_redirects=False)).status == 200
    for route in (r for r in enumerate_routes(app) if r.area == "makelaar"):
        resp = await _call(client, route, _params(world, world["own"]), csrf)
        assert resp.status == 403, (route, resp.status)
        assert "x@example.org" not in await resp.text()


async def test_only_admins_reach_the_admin_pages(app, aiohttp_client, world):
    admin_routes = [r for r in enumerate_routes(app) if r.area == "admin"]
    assert admin_routes
    for username in ("makelaar-zwolle", "coordinator"):
        client, csrf = await _login(aiohttp_client, app, username)
        for route in admin_routes:
            resp = await _call(client, route, _params(world, world["own"]), csrf)
            assert resp.status == 403, (username, route, resp.status)
    client, _ = await _login(aiohttp_client, app, "beheer")
    assert (await client.get("/beheer/mail", allow_redirects=False)).status == 200


async def test_team_a_cannot_see_or_change_team_bs_handoff(app, aiohttp_client, world, loaded):
    client, csrf = await _login(aiohttp_client, app, "makelaar-zwolle")
    own_detail = await client.get(f"/api/v1/handoffs/{world['own']}")
    assert own_detail.status == 200  # positive control: the own team's handoff is there
    with_ref = [r for r in enumerate_routes(app) if r.area == "makelaar" and "{reference" in r.pattern]
    assert with_ref
    for route in with_ref:
        resp = await _call(client, route, _params(world, world["other"]), csrf)
        body = await resp.text()
        # exactly like a reference that does not exist: nothing to learn, nothing changed
        missing = await _call(client, route, _params(world, "LKT-2099-999999"), csrf)
        assert resp.status >= 400 and resp.status != 500, (route, resp.status)
        assert (resp.status, body) == (missing.status, await missing.text()), route
        assert "x@example.org" not in body
    listing = await (await client.get("/api/v1/handoffs")).text()
    assert world["own"] in listing and world["other"] not in listing
    with session_scope(loaded) as s:
        other = s.execute(select(models.Handoff).where(
            models.Handoff.reference == world["other"])).scalar_one()
        assert other.status == "nieuw" and other.claimed_by is None
        assert s.execute(select(func.count()).select_from(models.HandoffNote)).scalar() == 0


async def test_posts_without_the_csrf_token_are_refused(app, aiohttp_client, world, loaded):
    for username, area in (("makelaar-zwolle", "makelaar"), ("coordinator", "coordinatie")):
        client, _ = await _login(aiohttp_client, app, username)
        for route in (r for r in enumerate_routes(app) if r.area == area and r.method != "GET"):
            resp = await _call(client, route, _params(world, world["own"]), None)
            assert resp.status == 403, (route, resp.status)
    with session_scope(loaded) as s:
        own = s.execute(select(models.Handoff).where(
            models.Handoff.reference == world["own"])).scalar_one()
        assert own.status == "nieuw"


async def test_a_deactivated_account_is_anonymous_at_once(app, aiohttp_client, world, loaded):
    client, _ = await _login(aiohttp_client, app, "makelaar-zwolle")
    with session_scope(loaded) as s:
        s.execute(select(models.User).where(models.User.username == "makelaar-zwolle")
                  ).scalar_one().active = False
    assert (await client.get("/api/v1/handoffs")).status == 401
