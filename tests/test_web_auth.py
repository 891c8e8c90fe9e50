import re

import pytest

from bot.db import session_scope
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.auth import create_user, decode_session, encode_session


@pytest.fixture
async def client(aiohttp_client, loaded):
    with session_scope(loaded) as s:
        create_user(s, "makelaar.zwolle", "wachtwoord-zwolle", "makelaar", team_id="zwolle")
        create_user(s, "coordinator", "wachtwoord-coordinatie", "coordinatie")
    return await aiohttp_client(create_app(load_settings(), loaded))


async def _login(client, username, password):
    return await client.post("/inloggen", data={"username": username, "password": password},
                             allow_redirects=False)


async def test_health_and_security_headers(client):
    resp = await client.get("/health")
    assert resp.status == 200 and (await resp.json()) == {"status": "ok"}
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in resp.headers  # only behind TLS


async def test_security_headers_also_on_errors(client):
    resp = await client.get("/bestaat-niet")
    assert resp.status == 404
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_wrong_password_is_refused_in_dutch(client):
    resp = await _login(client, "makelaar.zwolle", "fout")
    assert resp.status == 401
    assert "klopt niet" in await resp.text()
    assert "loket_session" not in resp.cookies


async def test_login_sets_a_signed_httponly_cookie_and_redirects_home(client):
    resp = await _login(client, "makelaar.zwolle", "wachtwoord-zwolle")
    assert resp.status == 302 and resp.headers["Location"] == "/portaal"
    morsel = resp.cookies["loket_session"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict"
    client.session.cookie_jar.clear()
    resp = await _login(client, "coordinator", "wachtwoord-coordinatie")
    assert resp.headers["Location"] == "/coordinatie"


async def test_next_parameter_cannot_redirect_off_site(client):
    resp = await client.post("/inloggen", allow_redirects=False, data={
        "username": "coordinator", "password": "wachtwoord-coordinatie", "next": "//evil.example"})
    assert resp.headers["Location"] == "/coordinatie"


async def test_post_without_csrf_token_is_refused_once_logged_in(client):
    await _login(client, "coordinator", "wachtwoord-coordinatie")
    resp = await client.post("/uitloggen", data={}, allow_redirects=False)
    assert resp.status == 403
    page = await (await client.get("/")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = await client.post("/uitloggen", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/inloggen"


def test_tampered_or_expired_session_is_rejected():
    token = encode_session("secret", {"uid": 1, "exp": 9999999999, "csrf": "x"})
    assert decode_session("secret", token)["uid"] == 1
    assert decode_session("other-secret", token) is None
    payload, mac = token.rsplit(".", 1)
    forged = encode_session("secret", {"uid": 2, "exp": 9999999999}).split(".")[0] + "." + mac
    assert decode_session("secret", forged) is None
    assert decode_session("secret", encode_session("secret", {"uid": 1, "exp": 1})) is None


def test_user_rules(loaded):
    with session_scope(loaded) as s:
        with pytest.raises(ValueError, match="hoort bij een team"):
            create_user(s, "a", "lang-genoeg-ww", "makelaar")
        with pytest.raises(ValueError, match="onbekend team"):
            create_user(s, "b", "lang-genoeg-ww", "makelaar", team_id="atlantis")
        with pytest.raises(ValueError, match="minstens 10"):
            create_user(s, "c", "kort", "coordinatie")
        with pytest.raises(ValueError, match="onbekende rol"):
            create_user(s, "d", "lang-genoeg-ww", "baas")
