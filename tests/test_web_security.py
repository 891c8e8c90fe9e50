"""Security findings of issue 18 in the web app: redirects after login, login throttling, sessions
that end server-side, cache headers and the demo page's script tag."""

from __future__ import annotations

import dataclasses
import re

import pytest

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
