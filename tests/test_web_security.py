"""Security findings of issue 18 in the web app: redirects after login, login throttling, sessions
that end server-side, cache headers and the demo page's script tag."""

from __future__ import annotations

import dataclasses
import logging
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


# --- #4 login throttling per username and per address, with backoff ----------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(client) -> Clock:
    fake = Clock()
    throttle = client.app.get("login_throttle")
    if throttle is not None:
        throttle.clock = fake
    return fake


async def test_five_wrong_passwords_then_429_with_retry_after_in_dutch(client, clock):
    for _ in range(5):
        assert (await _login(client, ZWOLLE[0], "fout-wachtwoord")).status == 401
    resp = await _login(client, *ZWOLLE)  # even the right password has to wait
    assert resp.status == 429
    wait = int(resp.headers["Retry-After"])
    assert 0 < wait <= 60
    text = await resp.text()
    assert "te vaak" in text and "Probeer het" in text
    assert "loket_session" not in resp.cookies
    clock.now += wait
    assert (await _login(client, *ZWOLLE)).status == 302


async def test_the_wait_doubles_with_every_further_failure(client, clock):
    waits = []
    for _ in range(5):
        await _login(client, ZWOLLE[0], "fout-wachtwoord")
    for _ in range(3):
        resp = await _login(client, ZWOLLE[0], "fout-wachtwoord")
        assert resp.status == 429
        waits.append(int(resp.headers["Retry-After"]))
        clock.now += waits[-1]
        assert (await _login(client, ZWOLLE[0], "fout-wachtwoord")).status == 401  # one more try
    assert waits[1] == 2 * waits[0] and waits[2] == 2 * waits[1]


async def test_one_address_trying_many_usernames_is_throttled(client, clock):
    statuses = [(await _login(client, f"gebruiker{i}", "fout-wachtwoord")).status for i in range(40)]
    assert 429 in statuses
    first = statuses.index(429)
    assert 5 < first <= 30  # more room than for one username (an office shares an address) ...
    assert (await _login(client, *COORDINATOR)).status == 429  # ... but then the address waits


async def test_a_good_login_clears_the_count_for_that_username(client, clock):
    for _ in range(4):
        await _login(client, ZWOLLE[0], "fout-wachtwoord")
    assert (await _login(client, *ZWOLLE)).status == 302
    client.session.cookie_jar.clear()
    for _ in range(4):
        assert (await _login(client, ZWOLLE[0], "fout-wachtwoord")).status == 401


async def test_failed_logins_are_logged_without_the_password(client, clock, caplog):
    caplog.set_level(logging.INFO)
    await _login(client, ZWOLLE[0], "geheim-wachtwoord-123")
    await _login(client, "geheim-als-naam-456", "nog-een-geheim-789")  # a password typed as username
    text = caplog.text
    assert "login failed" in text and ZWOLLE[0] in text
    for secret in ("geheim-wachtwoord-123", "geheim-als-naam-456", "nog-een-geheim-789"):
        assert secret not in text


def test_throttle_forgets_old_failures_and_caps_the_wait():
    from bot.web.throttle import LoginThrottle

    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.failure("sam", "192.0.2.1")
    clock.now += throttle.window_s + 1  # an hour later: the earlier typos no longer count
    assert throttle.failure("sam", "192.0.2.1") == 0
    for _ in range(30):
        clock.now += throttle.retry_after("sam", "192.0.2.1")
        throttle.failure("sam", "192.0.2.1")
    assert throttle.retry_after("sam", "192.0.2.1") <= throttle.max_delay_s


# --- #14 the demo page's script tag and caching of authenticated pages ------------------------


async def test_demo_script_tag_comes_from_the_public_url_not_the_host_header(client):
    public = client.app["settings"].public_url
    resp = await client.get("/demo", headers={"Host": "evil.example"})
    html = await resp.text()
    assert "evil.example" not in html
    assert f'src="{public}/widget.js"' in html
    csp = resp.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)
    assert "'self'" in script_src and public in script_src and "evil.example" not in csp


@pytest.mark.parametrize("path", ["/portaal", "/api/v1/handoffs", "/"])
async def test_authenticated_pages_are_not_stored_by_browsers_or_proxies(client, path):
    await _login(client, *ZWOLLE)
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store"


async def test_login_answers_are_not_stored_either(client):
    resp = await _login(client, ZWOLLE[0], "fout-wachtwoord")
    assert resp.headers["Cache-Control"] == "no-store"


async def test_public_assets_keep_their_cache_header(client):
    resp = await client.get("/widget.css")
    assert resp.headers["Cache-Control"].startswith("public")
