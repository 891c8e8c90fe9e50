"""Security findings of issue 18 in the web app: redirects after login, login throttling, sessions
that end server-side, cache headers and the demo page's script tag."""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot import models
from bot.db import session_scope
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.auth import create_user

ZWOLLE = ("makelaar.zwolle", "wachtwoord-zwolle")
COORDINATOR = ("coordinator", "wachtwoord-coordinatie")


@pytest.fixture
async def client(aiohttp_client, loaded):
    with session_scope(loaded) as s:
        create_user(s, *ZWOLLE, "makelaar", team_id="zwolle")
        create_user(s, *COORDINATOR, "coordinatie")
    settings = dataclasses.replace(load_settings(), outbox_interval_s=0, purge_interval_s=0)
    return await aiohttp_client(create_app(settings, loaded))


async def _login(client, username, password, **extra):
    return await client.post("/inloggen", data={"username": username, "password": password, **extra},
                             allow_redirects=False)


# --- #3 open redirect after login -------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "/\t/evil.example",  # the review's finding: the tab vanished and left //evil.example
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/%09/evil.example",  # percent-encoded control characters
    "/%0a/evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%5cevil.example",
    "/%2f/evil.example",
    "https://evil.example/portaal",
    "javascript:alert(1)",
    "portaal",
    " /portaal",
    "/portaal\u2028",
])
async def test_next_parameter_accepts_only_a_same_site_path(client, target):
    resp = await _login(client, *COORDINATOR, next=target)
    assert resp.status == 302
    assert resp.headers["Location"] == "/coordinatie"


async def test_next_parameter_from_the_query_string_cannot_leave_the_site(client):
    """The exact request of the review: the login form carries `next` from the query string."""
    page = await (await client.get("/inloggen?next=/%09/evil.example")).text()
    carried = re.search(r'name="next" value="([^"]*)"', page).group(1)
    resp = await _login(client, *COORDINATOR, next=carried.replace("&#9;", "\t"))
    assert resp.headers["Location"] == "/coordinatie"


@pytest.mark.parametrize("target", ["/coordinatie/vragen", "/portaal?status=nieuw&team=zwolle",
                                    "/coordinatie/knelpunten/3#geschiedenis"])
async def test_next_parameter_keeps_a_local_path(client, target):
    resp = await _login(client, *COORDINATOR, next=target)
    assert resp.headers["Location"] == target


# --- #6 sessions end on the server: logout, password change, disabled account -------------------


def _session_cookie(resp) -> str:
    return resp.cookies["loket_session"].value


async def _with_cookie(client, path: str, cookie: str):
    """A request with exactly this session cookie (an old copy someone kept), not the client's jar."""
    client.session.cookie_jar.clear()
    return await client.get(path, headers={"Cookie": f"loket_session={cookie}"}, allow_redirects=False)


async def _csrf(client) -> str:
    page = await (await client.get("/")).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def test_logout_ends_the_session_on_the_server(client):
    cookie = _session_cookie(await _login(client, *ZWOLLE))
    assert (await _with_cookie(client, "/api/v1/handoffs", cookie)).status == 200
    client.session.cookie_jar.update_cookies({"loket_session": cookie})
    resp = await client.post("/uitloggen", data={"csrf_token": await _csrf(client)}, allow_redirects=False)
    assert resp.status == 302
    # The cookie was deleted in the browser; a copy of it must not work either.
    assert (await _with_cookie(client, "/api/v1/handoffs", cookie)).status == 401
    page = await _with_cookie(client, "/portaal", cookie)
    assert page.status == 302 and page.headers["Location"].startswith("/inloggen")


async def test_logging_in_again_after_logout_works(client):
    cookie = _session_cookie(await _login(client, *ZWOLLE))
    client.session.cookie_jar.update_cookies({"loket_session": cookie})
    await client.post("/uitloggen", data={"csrf_token": await _csrf(client)})
    client.session.cookie_jar.clear()
    fresh = _session_cookie(await _login(client, *ZWOLLE))
    assert (await _with_cookie(client, "/api/v1/handoffs", fresh)).status == 200


async def test_a_password_change_ends_every_session_of_that_user(client, loaded):
    from bot.web.auth import set_password

    zwolle = _session_cookie(await _login(client, *ZWOLLE))
    client.session.cookie_jar.clear()
    coordinator = _session_cookie(await _login(client, *COORDINATOR))
    with session_scope(loaded) as s:
        user = s.query(models.User).filter_by(username=ZWOLLE[0]).one()
        set_password(s, user, "een-nieuw-wachtwoord")
    assert (await _with_cookie(client, "/api/v1/handoffs", zwolle)).status == 401
    assert (await _with_cookie(client, "/api/v1/knelpunten", coordinator)).status == 200  # others stay
    client.session.cookie_jar.clear()
    assert (await _login(client, *ZWOLLE)).status == 401
    assert (await _login(client, ZWOLLE[0], "een-nieuw-wachtwoord")).status == 302


def test_a_session_version_is_stored_per_user(loaded):
    with session_scope(loaded) as s:
        user = create_user(s, "nieuw", "lang-genoeg-ww", "coordinatie")
        assert user.session_version == 0
