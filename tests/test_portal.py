"""The broker portal and its JSON API with the aiohttp test client: rights, CSRF, claim/note/close."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot import handoffs, models
from bot.db import session_scope
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.auth import create_user
from tests.support.fakes import Inbox
from tests.support.stack import free_port

PASSWORDS = {"m.zwolle": "wachtwoord-zwolle", "m.utrecht": "wachtwoord-utrecht",
             "coordinator": "wachtwoord-coordinatie", "beheer": "wachtwoord-beheer"}


def _handoff(s, gemeente_id: str, sender: str, description: str) -> str:
    return handoffs.create_handoff(
        s, sender_id=sender, gemeente_id=gemeente_id, description=description,
        contact_name="Sam de Vries", contact_email="sam@example.nl", contact_phone=None, consent=True,
        transcript=[{"speaker": "ondernemer", "text": "<script>alert(1)</script> hoe zit het met btw?",
                     "at": None}]).reference


@pytest.fixture
def data(loaded):
    with session_scope(loaded) as s:
        create_user(s, "m.zwolle", PASSWORDS["m.zwolle"], "makelaar", team_id="zwolle",
                    display_name="Makelaar Zwolle")
        create_user(s, "m.utrecht", PASSWORDS["m.utrecht"], "makelaar", team_id="utrecht")
        create_user(s, "coordinator", PASSWORDS["coordinator"], "coordinatie")
        create_user(s, "beheer", PASSWORDS["beheer"], "admin")
        zwolle = _handoff(s, "zwolle", "a", "Vraag over social return bij een aanbesteding in Zwolle")
        utrecht = _handoff(s, "utrecht", "b", "Vraag over een jobcoach voor een medewerker in Utrecht")
    return {"zwolle": zwolle, "utrecht": utrecht}


@pytest.fixture
async def client(aiohttp_client, loaded, data):
    settings = dataclasses.replace(load_settings(), outbox_interval_s=0)  # worker off here
    return await aiohttp_client(create_app(settings, loaded))


async def login(client, username: str) -> str:
    resp = await client.post("/inloggen", data={"username": username, "password": PASSWORDS[username]},
                             allow_redirects=False)
    assert resp.status == 302
    page = await (await client.get("/")).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def test_list_shows_only_the_own_team(client, data):
    await login(client, "m.zwolle")
    resp = await client.get("/portaal")
    assert resp.status == 200
    page = await resp.text()
    assert data["zwolle"] in page and "social return" in page
    assert data["utrecht"] not in page and "jobcoach" not in page
    assert "nog niet bij uw team bezorgd" in page  # the outbox row is still pending


async def test_tabs_and_search(client, data):
    await login(client, "m.zwolle")
    assert data["zwolle"] in await (await client.get("/portaal?status=nieuw")).text()
    assert data["zwolle"] not in await (await client.get("/portaal?status=afgesloten")).text()
    assert data["zwolle"] in await (await client.get("/portaal?status=alle&q=SOCIAL")).text()
    assert data["zwolle"] not in await (await client.get("/portaal?status=alle&q=pizza")).text()
    assert data["zwolle"] in await (await client.get(f"/portaal?status=alle&q={data['zwolle'][-6:]}")).text()


async def test_detail_escapes_free_text_and_shows_contact_and_attempts(client, data):
    await login(client, "m.zwolle")
    page = await (await client.get(f"/portaal/overdrachten/{data['zwolle']}")).text()
    assert "sam@example.nl" in page and "Sam de Vries" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "Nog geen pogingen." in page and "Vraag oppakken" in page


async def test_claim_note_close_through_the_pages(client, data):
    token = await login(client, "m.zwolle")
    url = f"/portaal/overdrachten/{data['zwolle']}"
    resp = await client.post(f"{url}/oppakken", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith(url)
    resp = await client.post(f"{url}/notitie", data={"csrf_token": token, "text": "Gebeld, <b>terugbellen</b>"})
    assert resp.status == 200
    page = await resp.text()
    assert "Uw notitie is opgeslagen." in page and "Gebeld, &lt;b&gt;terugbellen&lt;/b&gt;" in page
    resp = await client.post(f"{url}/afsluiten", data={"csrf_token": token, "outcome": ""})
    assert resp.status == 409 and "Schrijf kort op" in await resp.text()
    resp = await client.post(f"{url}/afsluiten", data={"csrf_token": token, "outcome": "Doorverwezen naar PSO"})
    page = await resp.text()
    assert "De vraag is afgesloten." in page and "Doorverwezen naar PSO" in page
    with session_scope(client.server.app["engine"]) as s:
        h = s.execute(select(models.Handoff).where(models.Handoff.reference == data["zwolle"])).scalar_one()
        assert h.status == "afgesloten" and h.outcome == "Doorverwezen naar PSO"
        assert [n.text for n in h.notes] == ["Gebeld, <b>terugbellen</b>"]


async def test_posts_without_csrf_token_are_refused(client, data):
    await login(client, "m.zwolle")
    url = f"/portaal/overdrachten/{data['zwolle']}/oppakken"
    assert (await client.post(url, data={})).status == 403
    assert (await client.post(url, data={"csrf_token": "fout"})).status == 403
    api = f"/api/v1/handoffs/{data['zwolle']}/claim"
    assert (await client.post(api, json={})).status == 403
    with session_scope(client.server.app["engine"]) as s:
        assert handoffs.get_handoff(s, data["zwolle"], "zwolle").status == "nieuw"


async def test_utrecht_cannot_see_claim_or_fetch_a_zwolle_handoff(client, data):
    token = await login(client, "m.utrecht")
    ref = data["zwolle"]
    # UI
    assert ref not in await (await client.get("/portaal?status=alle")).text()
    assert (await client.get(f"/portaal/overdrachten/{ref}")).status == 404
    for action, form in (("oppakken", {}), ("notitie", {"text": "x"}), ("afsluiten", {"outcome": "x"})):
        resp = await client.post(f"/portaal/overdrachten/{ref}/{action}", data={"csrf_token": token, **form})
        assert resp.status == 404
    # API, with a valid CSRF token: still 404, the same as a reference that does not exist
    headers = {"X-CSRF-Token": token}
    listing = await (await client.get("/api/v1/handoffs")).json()
    assert [h["reference"] for h in listing["handoffs"]] == [data["utrecht"]]
    assert (await client.get(f"/api/v1/handoffs/{ref}")).status == 404
    missing = ref[:-6] + "999999"
    assert (await client.get(f"/api/v1/handoffs/{missing}")).status == 404
    for path, body in (("claim", {}), ("notes", {"text": "x"}), ("close", {"outcome": "x"})):
        resp = await client.post(f"/api/v1/handoffs/{ref}/{path}", json=body, headers=headers)
        assert resp.status == 404
    with session_scope(client.server.app["engine"]) as s:
        h = handoffs.get_handoff(s, ref, "zwolle")
        assert h.status == "nieuw" and h.claimed_by is None and list(h.notes) == [] and h.outcome is None


async def test_api_claim_note_close(client, data):
    token = await login(client, "m.zwolle")
    headers = {"X-CSRF-Token": token}
    base = f"/api/v1/handoffs/{data['zwolle']}"
    detail = await (await client.get(base)).json()
    assert detail["contact"]["email"] == "sam@example.nl" and detail["delivery"] == "wacht"
    assert detail["transcript"][0]["speaker"] == "ondernemer"
    assert (await (await client.post(f"{base}/claim", headers=headers)).json())["status"] == "opgepakt"
    body = await (await client.post(f"{base}/notes", json={"text": "Mail gestuurd"}, headers=headers)).json()
    assert [n["text"] for n in body["notes"]] == ["Mail gestuurd"]
    resp = await client.post(f"{base}/close", json={"outcome": ""}, headers=headers)
    assert resp.status == 409 and "error" in await resp.json()
    body = await (await client.post(f"{base}/close", json={"outcome": "Opgelost"}, headers=headers)).json()
    assert body["status"] == "afgesloten" and body["outcome"] == "Opgelost"
    resp = await client.post(f"{base}/close", data="geen json", headers={**headers, "Content-Type": "application/json"})
    assert resp.status == 400
    listing = await (await client.get("/api/v1/handoffs?status=afgesloten")).json()
    assert [h["reference"] for h in listing["handoffs"]] == [data["zwolle"]]


async def test_roles(client, data):
    # not logged in: pages go to the login, the API says 401
    resp = await client.get("/portaal", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/inloggen")
    assert (await client.get("/api/v1/handoffs")).status == 401
    assert (await client.get(f"/api/v1/handoffs/{data['zwolle']}")).status == 401
    # the coordination team has no access to the portal
    await login(client, "coordinator")
    assert (await client.get("/portaal")).status == 403
    assert (await client.get(f"/portaal/overdrachten/{data['zwolle']}")).status == 403
    assert (await client.get("/api/v1/handoffs")).status == 403
    client.session.cookie_jar.clear()
    # an admin without a team sees every team
    await login(client, "beheer")
    page = await (await client.get("/portaal?status=alle")).text()
    assert data["zwolle"] in page and data["utrecht"] in page


async def test_the_delivery_worker_runs_in_the_web_app(aiohttp_client, loaded, data):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = dataclasses.replace(load_settings(), outbox_interval_s=0.1, smtp_host="127.0.0.1",
                                       smtp_port=controller.port)
        client = await aiohttp_client(create_app(settings, loaded))
        assert not client.server.app["outbox_worker"].done()
        for _ in range(100):
            if inbox.messages:
                break
            await asyncio.sleep(0.05)
        assert [rcpt for rcpt, _ in inbox.messages] == [["makelaarsteam-zwolle@example.nl"]]
        await login(client, "m.zwolle")
        page = await (await client.get(f"/portaal/overdrachten/{data['zwolle']}")).text()
        assert '<span class="badge">bezorgd</span>' in page and "smtp: aangenomen" in page
        assert "nog niet bezorgd" not in page
        await client.close()
        assert client.server.app["outbox_worker"].cancelled()
    finally:
        controller.stop()


# --- `loket users` -------------------------------------------------------------------------------


def test_cli_users_add_and_list(loaded, monkeypatch, capsys):
    from bot.cli import main
    from bot.web.auth import verify_password

    monkeypatch.setenv("LOKET_NEW_PASSWORD", "een-lang-wachtwoord")
    assert main(["users", "add", "--username", "makelaar.zwolle", "--role", "makelaar", "--team", "zwolle",
                 "--display-name", "Sam"]) == 0
    assert "makelaar.zwolle aangemaakt (rol makelaar, team zwolle)" in capsys.readouterr().out
    with session_scope(loaded) as s:
        user = s.execute(select(models.User).where(models.User.username == "makelaar.zwolle")).scalar_one()
        assert (user.role, user.team_id, user.display_name) == ("makelaar", "zwolle", "Sam")
        assert user.password_hash.startswith("$argon2") and verify_password(user.password_hash, "een-lang-wachtwoord")
    # refused: makelaar without team, unknown team, existing name, short password
    assert main(["users", "add", "--username", "x", "--role", "makelaar"]) == 1
    assert main(["users", "add", "--username", "y", "--role", "makelaar", "--team", "atlantis"]) == 1
    assert main(["users", "add", "--username", "makelaar.zwolle", "--role", "admin"]) == 1
    monkeypatch.setenv("LOKET_NEW_PASSWORD", "kort")
    assert main(["users", "add", "--username", "z", "--role", "coordinatie"]) == 1
    err = capsys.readouterr().err
    assert "hoort bij een team" in err and "onbekend team" in err and "bestaat al" in err and "minstens 10" in err
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "makelaar.zwolle" in out and "zwolle" in out and "x " not in out


def test_cli_users_add_without_password_source_fails(loaded, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.delenv("LOKET_NEW_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["users", "add", "--username", "a", "--role", "admin"]) == 1
    assert "LOKET_NEW_PASSWORD" in capsys.readouterr().err
