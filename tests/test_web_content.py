"""The content review page /coordinatie/inhoud with the aiohttp test client: roles, CSRF, the
"Gecontroleerd" action, statuses after a knowledge load, filters. Fixture knowledge only."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import models
from bot.db import session_scope
from bot.knowledge import review
from bot.knowledge.loader import load
from bot.models import utcnow
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.auth import create_user
from tests.support import FIXTURE_KNOWLEDGE
from tests.support.web import PASSWORD, login, parse_table

PAGE = "/coordinatie/inhoud"
ACTION = "/coordinatie/inhoud/gecontroleerd"


@pytest.fixture
def users(loaded):
    with session_scope(loaded) as s:
        create_user(s, "coord", PASSWORD, "coordinatie", display_name="Coördinatie Een")
        create_user(s, "makelaar", PASSWORD, "makelaar", team_id="zwolle")
        create_user(s, "beheer", PASSWORD, "admin", display_name="Beheerder")
    return loaded


@pytest.fixture
async def client(users, aiohttp_client, monkeypatch):
    monkeypatch.setenv("LOKET_PURGE_INTERVAL_S", "0")
    monkeypatch.setenv("LOKET_OUTBOX_INTERVAL_S", "0")
    return await aiohttp_client(create_app(load_settings(), users))


def stamp_count(engine) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(models.ReviewStamp)).scalar_one()


def rows_by_name(html: str) -> dict[str, list[str]]:
    header, rows = parse_table(html, "inhoud-tabel")
    assert header == ["Naam", "Organisatie", "Status", "Bron", "Actie"]
    cells = [[" ".join(cell.split()) for cell in row] for row in rows]
    return {row[0].split(" (")[0]: row for row in cells}


def stamp_form(html: str, kind: str, item_id: str) -> dict[str, str]:
    """The hidden fields of the 'Gecontroleerd' form in one row, as the browser would send them."""
    row = re.search(rf'<tr id="rij-{kind}-{item_id}">(.*?)</tr>', html, re.S)
    assert row, (kind, item_id)
    form = re.search(r'<form method="post" action="/coordinatie/inhoud/gecontroleerd">(.*?)</form>',
                     row.group(1), re.S)
    assert form
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(1)))


async def test_anonymous_goes_to_the_login_and_a_makelaar_gets_403(client, users):
    resp = await client.get(PAGE, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/inloggen?next=")
    data = {"item_soort": "regeling", "item_id": "wbso"}
    assert (await client.post(ACTION, data=data, allow_redirects=False)).status == 302
    await login(client, "makelaar")
    assert (await client.get(PAGE, allow_redirects=False)).status == 403
    home = await (await client.get("/portaal")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    assert (await client.post(ACTION, data={**data, "csrf_token": token})).status == 403
    assert stamp_count(users) == 0


async def test_coordinatie_and_admin_see_every_entry_as_te_controleren(client, users):
    for who in ("coord", "beheer"):
        await login(client, who)
        resp = await client.get(PAGE)
        assert resp.status == 200, who
        html = await resp.text()
        rows = rows_by_name(html)
        assert set(rows) == {"WBSO", "Inschrijven bij de KVK", "KVK"}
        assert {row[2] for row in rows.values()} == {"Te controleren"}
        assert rows["WBSO"][1] == "RVO"
        assert 'href="https://www.rvo.nl/subsidies-financiering/wbso"' in html
        assert 'href="/coordinatie/inhoud"' in html  # the menu links the page


async def test_the_action_needs_the_csrf_token(client, users):
    await login(client, "coord")
    form = stamp_form(await (await client.get(PAGE)).text(), "regeling", "wbso")
    form.pop("csrf_token")
    assert (await client.post(ACTION, data=form)).status == 403
    assert stamp_count(users) == 0


async def test_gecontroleerd_stamps_the_current_text_for_the_signed_in_person(client, users):
    await login(client, "coord")
    form = stamp_form(await (await client.get(PAGE)).text(), "regeling", "wbso")
    resp = await client.post(ACTION, data=form, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"].endswith("#rij-regeling-wbso")
    html = await (await client.get(resp.headers["Location"].split("#")[0])).text()
    assert "Opgeslagen: u heeft &#39;WBSO&#39; gecontroleerd." in html
    rows = rows_by_name(html)
    assert rows["WBSO"][2].startswith("Gecontroleerd")
    assert f"Coördinatie Een, {utcnow():%d-%m-%Y}" in rows["WBSO"][2]
    assert rows["KVK"][2] == "Te controleren"
    with session_scope(users) as s:
        stamp = s.execute(select(models.ReviewStamp)).scalar_one()
        coord = s.execute(select(models.User).where(models.User.username == "coord")).scalar_one()
        assert (stamp.kind, stamp.item_id, stamp.user_id) == ("regeling", "wbso", coord.id)
        assert stamp.source_url == "https://www.rvo.nl/subsidies-financiering/wbso"
        assert stamp.content_hash == form["tekst"]


async def test_a_changed_text_shows_gewijzigd_and_cannot_be_stamped_unseen(client, users, tmp_path):
    await login(client, "coord")
    html = await (await client.get(PAGE)).text()
    await client.post(ACTION, data=stamp_form(html, "regeling", "wbso"))
    old_form = stamp_form(html, "loket", "kvk")

    directory = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KNOWLEDGE, directory)
    for path in (directory / "regelingen" / "rvo.yml", directory / "loketten.yml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("U betaalt minder loonheffing over uren voor R&D.",
                                     "U betaalt minder loonheffing.")
                            .replace("krijgt u advies over starten.", "krijgt u advies."), encoding="utf-8")
    load(users, directory)

    rows = rows_by_name(await (await client.get(PAGE)).text())
    assert rows["WBSO"][2].startswith("Gewijzigd sinds controle")
    # The loket page was opened before the load: its button would stamp a text nobody read.
    resp = await client.post(ACTION, data=old_form)
    assert resp.status == 409
    assert "De tekst is intussen veranderd" in await resp.text()
    assert stamp_count(users) == 1


async def test_an_old_stamp_shows_verouderd(users, aiohttp_client, monkeypatch):
    monkeypatch.setenv("LOKET_REVIEW_MAX_AGE_DAYS", "30")
    monkeypatch.setenv("LOKET_OUTBOX_INTERVAL_S", "0")
    with session_scope(users) as s:
        coord = s.execute(select(models.User).where(models.User.username == "coord")).scalar_one()
        review.stamp(s, "loket", "kvk", coord, now=utcnow() - timedelta(days=31))
        review.stamp(s, "regeling", "wbso", coord, now=utcnow() - timedelta(days=29))
    client = await aiohttp_client(create_app(load_settings(), users))
    await login(client, "coord")
    rows = rows_by_name(await (await client.get(PAGE)).text())
    assert rows["KVK"][2].startswith("Verouderd")
    assert rows["WBSO"][2].startswith("Gecontroleerd")


async def test_filters_by_status_organisation_theme_and_kind(client, users):
    await login(client, "coord")
    await client.post(ACTION, data=stamp_form(await (await client.get(PAGE)).text(), "regeling", "wbso"))
    cases = [
        ("status=gecontroleerd", {"WBSO"}),
        ("status=te_controleren", {"Inschrijven bij de KVK", "KVK"}),
        ("status=gewijzigd", set()),
        ("organisatie=RVO", {"WBSO"}),
        ("organisatie=Loket", {"KVK"}),
        ("thema=kvk_registration", {"Inschrijven bij de KVK", "KVK"}),
        ("thema=innovation", {"WBSO"}),
        ("soort=loket", {"KVK"}),
        ("soort=regeling&status=te_controleren", {"Inschrijven bij de KVK"}),
        ("", {"WBSO", "Inschrijven bij de KVK", "KVK"}),
    ]
    for query, expected in cases:
        html = await (await client.get(f"{PAGE}?{query}")).text()
        found = set(rows_by_name(html)) if expected else set()
        assert found == expected, query
        if not expected:
            assert "Geen regelingen of loketten bij deze filters." in html
    html = await (await client.get(f"{PAGE}?status=klaar")).text()
    assert "Onbekende status &#39;klaar&#39;" in html
    assert len(rows_by_name(html)) == 3


async def test_the_action_returns_to_the_same_filtered_list(client, users):
    await login(client, "coord")
    html = await (await client.get(f"{PAGE}?status=te_controleren&thema=kvk_registration")).text()
    form = stamp_form(html, "loket", "kvk")
    assert (form["status"], form["thema"]) == ("te_controleren", "kvk_registration")
    resp = await client.post(ACTION, data=form, allow_redirects=False)
    location = resp.headers["Location"]
    assert location.startswith(f"{PAGE}?status=te_controleren&thema=kvk_registration&gecontroleerd=loket")
    html = await (await client.get(location.split("#")[0])).text()
    assert set(rows_by_name(html)) == {"Inschrijven bij de KVK"}  # the stamped loket left this list
    assert "Opgeslagen: u heeft &#39;KVK&#39; gecontroleerd." in html
