"""The coordination dashboard with the aiohttp test client: roles, filters, workflow, merge, export, API."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select

from bot import knelpunten as kp
from bot import models
from bot.conversation import unanswered
from bot.db import session_scope
from bot.settings import load_settings
from bot.web.app import create_app
from bot.web.auth import create_user
from tests.support.web import PASSWORD, login, parse_table


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def users(loaded):
    with session_scope(loaded) as s:
        create_user(s, "coord", PASSWORD, "coordinatie", display_name="Coördinatie Een")
        create_user(s, "makelaar", PASSWORD, "makelaar", team_id="zwolle")
        create_user(s, "beheer", PASSWORD, "admin")
    return loaded


@pytest.fixture
async def client(users, aiohttp_client, monkeypatch):
    monkeypatch.setenv("LOKET_PURGE_INTERVAL_S", "0")  # no retention purge under these tests' data
    return await aiohttp_client(create_app(load_settings(), users))




def add(engine, n: int = 1, **overrides) -> list[models.Knelpunt]:
    out = []
    with session_scope(engine) as s:
        for _ in range(n):
            data = {"description": "De gemeente vraagt bij elke kleine opdracht drie referenties",
                    "category": "inkoop_aanbesteding", "organisations": ["gemeente"],
                    "gemeente": "zwolle", "consequence": "Wij missen opdrachten."}
            now = overrides.get("now")
            data.update({k: v for k, v in overrides.items() if k != "now"})
            out.append(kp.create_knelpunt(s, kp.KnelpuntInput(**data), now=now))
    return out


async def page_rows(client, query: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    """All rows of the list for a filter, following the pagination."""
    header, rows, page = None, [], 1
    while True:
        resp = await client.get("/coordinatie?" + urlencode({**query, "pagina": page}))
        assert resp.status == 200
        html = await resp.text()
        h, r = parse_table(html)
        header = header or h
        rows += r
        if 'rel="next"' not in html:
            return header, rows
        page += 1


# --- roles -----------------------------------------------------------------------------------

PAGES = ["/coordinatie", "/coordinatie/knelpunten/1", "/coordinatie/export.csv",
         "/coordinatie/export.xlsx", "/coordinatie/vragen"]
API = [("GET", "/api/v1/knelpunten"), ("GET", "/api/v1/knelpunten/1"),
       ("PATCH", "/api/v1/knelpunten/1"), ("POST", "/api/v1/knelpunten/1/samenvoegen")]
POSTS = ["/coordinatie/knelpunten/1/status", "/coordinatie/knelpunten/1/samenvoegen",
         "/coordinatie/vragen/behandeld"]


async def test_anonymous_is_sent_to_the_login_and_api_says_401(client, users):
    add(users)
    for path in PAGES:
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302, path
        assert resp.headers["Location"].startswith("/inloggen?next=")
    for path in POSTS:
        resp = await client.post(path, data={"status": "in_behandeling"}, allow_redirects=False)
        assert resp.status == 302, path
    for method, path in API:
        resp = await client.request(method, path, json={"status": "in_behandeling"})
        assert resp.status == 401, path
    with session_scope(users) as s:
        assert s.get(models.Knelpunt, 1).status == "nieuw"


async def test_a_makelaar_gets_403_on_every_page_and_api_route(client, users):
    add(users)
    await login(client, "makelaar")
    for path in PAGES:
        assert (await client.get(path, allow_redirects=False)).status == 403, path
    for path in POSTS:
        assert (await client.post(path, data={"status": "in_behandeling"})).status == 403, path
    for method, path in API:
        resp = await client.request(method, path, json={"status": "in_behandeling"})
        assert resp.status == 403, path
    with session_scope(users) as s:
        assert s.get(models.Knelpunt, 1).status == "nieuw"


async def test_coordinatie_and_admin_may_open_the_dashboard(client, users):
    add(users)
    for who in ("coord", "beheer"):
        await login(client, who)
        for path in PAGES:
            assert (await client.get(path)).status == 200, (who, path)


# --- the acceptance: a knelpunt from the chat shows under inkoop/aanbesteding, track 1 --------


async def test_reported_knelpunt_shows_under_inkoop_track_1_and_filters_work(client, users):
    add(users, category="financiering", gemeente="utrecht", description="De bank wil niet",
        organisations=["Rabobank"], now=datetime(2026, 1, 10))
    [k] = add(users, now=datetime(2026, 2, 10))
    await login(client, "coord")
    header, rows = await page_rows(client, {"categorie": "inkoop_aanbesteding", "spoor": "1"})
    assert header == kp.TABLE_HEADER
    assert rows == [[k.reference, "2026-02-10", "inkoop/aanbesteding", "1", "Zwolle", "gemeente",
                     "nieuw", "1", "De gemeente vraagt bij elke kleine opdracht drie referenties",
                     "Wij missen opdrachten."]]
    for query, expected in [({"spoor": "3"}, 1), ({"gemeente": "utrecht"}, 1),
                            ({"organisatie": "rabo"}, 1), ({"zoek": "referenties"}, 1),
                            ({"van": "2026-02-01"}, 1), ({"tot": "2026-01-31"}, 1),
                            ({"status": "nieuw"}, 2), ({"status": "opgelost"}, 0), ({}, 2)]:
        assert len((await page_rows(client, query))[1]) == expected, query
    html = await (await client.get("/coordinatie?van=morgen")).text()
    assert "De datum &#39;morgen&#39; klopt niet" in html


async def test_charts_are_in_the_page_with_text_alternatives(client, users):
    add(users, 3, now=datetime(2026, 1, 10))
    add(users, 1, category="financiering", gemeente="utrecht", now=datetime(2026, 3, 1))
    await login(client, "coord")
    html = await (await client.get("/coordinatie")).text()
    assert html.count("<svg role=\"img\"") == 3
    assert "<script" not in html  # server-side charts, no scripts
    assert ("wet- en regelgeving: 0, uitvoering/loket: 0, financiering: 1, inkoop/aanbesteding: 3, "
            "vastgoed/ruimte: 0, anders: 0") in html
    assert "Zwolle: 3, Utrecht: 1" in html
    assert "2026-01: 3, 2026-02: 0, 2026-03: 1" in html
    assert html.count('class="chart-table"') == 3


async def test_free_text_is_stored_verbatim_and_rendered_escaped(client, users):
    evil = '<script>alert("x")</script> & <b>vet</b>'
    [k] = add(users, description=evil, consequence=evil, organisations=["<img src=x onerror=alert(1)>"])
    with session_scope(users) as s:
        assert s.get(models.Knelpunt, k.id).description == evil
    await login(client, "coord")
    for path in ("/coordinatie", f"/coordinatie/knelpunten/{k.id}"):
        html = await (await client.get(path)).text()
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>vet" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;vet&lt;/b&gt;" in html
    _, rows = parse_table(await (await client.get("/coordinatie")).text())
    assert rows[0][8] == evil  # the text itself is intact for the reader


# --- workflow, history, merge -----------------------------------------------------------------


async def test_status_change_from_the_page_is_in_the_history(client, users):
    [k] = add(users)
    await login(client, "coord")
    html = await (await client.get(f"/coordinatie/knelpunten/{k.id}")).text()
    token = csrf(html)
    resp = await client.post(f"/coordinatie/knelpunten/{k.id}/status",
                             data={"status": "in_behandeling", "csrf_token": token}, allow_redirects=False)
    assert resp.status == 303
    resp = await client.post(f"/coordinatie/knelpunten/{k.id}/status",
                             data={"status": "doorgezet", "doorgezet_naar": "", "csrf_token": token})
    assert resp.status == 400
    assert "Vul in naar welke organisatie" in await resp.text()
    resp = await client.post(f"/coordinatie/knelpunten/{k.id}/status",
                             data={"status": "doorgezet", "doorgezet_naar": "ministerie van EZK",
                                   "csrf_token": token})
    html = await resp.text()
    assert "De status is gewijzigd." in html
    assert 'id="status-waarde">doorgezet naar ministerie van EZK<' in html
    _, history = parse_table(html, "geschiedenis")
    assert [row[1:] for row in history] == [
        ["chat (melder)", "Status", "–", "nieuw"],
        ["Coördinatie Een", "Status", "nieuw", "in behandeling"],
        ["Coördinatie Een", "Status", "in behandeling", "doorgezet"],
        ["Coördinatie Een", "Doorgezet naar", "–", "ministerie van EZK"],
    ]
    # without the CSRF token nothing changes
    resp = await client.post(f"/coordinatie/knelpunten/{k.id}/status", data={"status": "opgelost"})
    assert resp.status == 403
    with session_scope(users) as s:
        assert s.get(models.Knelpunt, k.id).status == "doorgezet"


async def test_merge_from_the_page_hides_duplicates_and_adds_the_count(client, users):
    a, b, c = add(users, 3)
    await login(client, "coord")
    token = csrf(await (await client.get(f"/coordinatie/knelpunten/{a.id}")).text())
    resp = await client.post(f"/coordinatie/knelpunten/{a.id}/samenvoegen",
                             data={"dubbele": f"{b.reference}, {c.reference.lower()}", "csrf_token": token})
    html = await resp.text()
    assert resp.status == 200 and "De knelpunten zijn samengevoegd." in html
    _, rows = await page_rows(client, {})
    assert [(r[0], r[7]) for r in rows] == [(a.reference, "3")]
    _, rows = await page_rows(client, {"samengevoegd": "1"})
    assert sorted((r[0], r[6]) for r in rows) == sorted(
        [(a.reference, "nieuw"), (b.reference, "samengevoegd"), (c.reference, "samengevoegd")])
    resp = await client.post(f"/coordinatie/knelpunten/{a.id}/samenvoegen",
                             data={"dubbele": "KNP-2026-999999", "csrf_token": token})
    assert resp.status == 400 and "bestaat niet" in await resp.text()


# --- export: exactly the page's table -------------------------------------------------------


def _bulk(engine, n: int, seed: int = 6) -> None:
    """n varied knelpunten, fast (one INSERT), with references like the service makes."""
    rng = random.Random(seed)
    gemeenten = ["zwolle", "utrecht", "den-haag", "tilburg", None]
    orgs = [["gemeente"], ["UWV", "gemeente"], ["RVO"], [], ["coöperatie De Werf"]]
    start = datetime(2025, 1, 1, 8, 0)
    rows = []
    for i in range(1, n + 1):
        category = rng.choice(list(kp.CATEGORIES))
        status = rng.choice(list(kp.STATUSES))
        rows.append({
            "reference": f"KNP-2025-{i:06d}", "description": f"Knelpunt {i}: {rng.choice(['regels', 'pand', 'geld', 'aanbesteding'])} — ‘quotes’ & <tags>",
            "category": category, "track": kp.TRACK_BY_CATEGORY[category],
            "organisations": rng.choice(orgs), "gemeente_id": rng.choice(gemeenten),
            "consequence": rng.choice(["", "Minder omzet", "Geen personeel; geen groei"]),
            "status": status, "forwarded_to": "ministerie van SZW" if status == "doorgezet" else None,
            "duplicate_count": rng.randint(1, 4), "contact_consent": False,
            "created_at": start + timedelta(hours=7 * i + rng.randint(0, 5)),
        })
    with session_scope(engine) as s:
        s.execute(insert(models.Knelpunt), rows)


async def test_export_of_1000_knelpunten_matches_the_page_table(client, users):
    _bulk(users, 1000)
    await login(client, "coord")
    for query in ({}, {"spoor": "1", "van": "2025-03-01"}):
        header, rows = await page_rows(client, {**query, "per_pagina": "250"})
        if not query:
            assert len(rows) == 1000
        resp = await client.get("/coordinatie/export.xlsx?" + urlencode(query))
        assert resp.status == 200
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        ws = load_workbook(io.BytesIO(await resp.read()), read_only=True).active
        sheet = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
        assert sheet[0] == header == kp.TABLE_HEADER
        assert sheet[1:] == rows, query

        resp = await client.get("/coordinatie/export.csv?" + urlencode(query))
        parsed = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig")), delimiter=";"))
        assert parsed[0] == header
        assert parsed[1:] == rows, query


async def test_export_with_a_bad_filter_is_refused(client, users):
    await login(client, "coord")
    assert (await client.get("/coordinatie/export.csv?spoor=7")).status == 400


# --- JSON API -------------------------------------------------------------------------------


async def test_api_list_detail_and_patch_with_csrf_header(client, users):
    [k] = add(users)
    add(users, category="financiering")
    await login(client, "coord")
    token = csrf(await (await client.get("/coordinatie")).text())
    data = await (await client.get("/api/v1/knelpunten?spoor=1")).json()
    assert data["total"] == 1 and data["items"][0]["reference"] == k.reference
    assert data["items"][0]["category_label"] == "inkoop/aanbesteding"
    assert (await client.get("/api/v1/knelpunten?status=weg")).status == 400

    resp = await client.patch(f"/api/v1/knelpunten/{k.id}", json={"status": "in_behandeling"})
    assert resp.status == 403  # no X-CSRF-Token
    headers = {"X-CSRF-Token": token}
    resp = await client.patch(f"/api/v1/knelpunten/{k.id}", json={"status": "opgelost"}, headers=headers)
    assert resp.status == 409 and "kan de status niet" in (await resp.json())["error"]
    resp = await client.patch(f"/api/v1/knelpunten/{k.id}", json={"status": "in_behandeling"},
                              headers=headers)
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "in_behandeling"
    assert [(h["field"], h["old"], h["new"], h["by"]) for h in body["history"]][-1] == (
        "status", "nieuw", "in_behandeling", "Coördinatie Een")
    detail = await (await client.get(f"/api/v1/knelpunten/{k.id}")).json()
    assert detail["next_statuses"] == ["doorgezet", "opgelost", "niet_oplosbaar"]
    assert (await client.get("/api/v1/knelpunten/999")).status == 404
    assert (await client.patch("/api/v1/knelpunten/999", json={"status": "x"}, headers=headers)).status == 404

    other = add(users)[0]
    resp = await client.post(f"/api/v1/knelpunten/{k.id}/samenvoegen",
                             json={"duplicates": [other.reference]}, headers=headers)
    assert resp.status == 200 and (await resp.json())["duplicate_count"] == 2


async def test_api_hides_contact_unless_consent(client, users):
    [anon] = add(users)
    [named] = add(users, contact_consent=True, contact_name="Iemand", contact_email="iemand@example.org")
    await login(client, "coord")
    assert "contact" not in await (await client.get(f"/api/v1/knelpunten/{anon.id}")).json()
    named_json = await (await client.get(f"/api/v1/knelpunten/{named.id}")).json()
    assert named_json["contact"]["email"] == "iemand@example.org"


# --- unanswered questions -----------------------------------------------------------------------


async def test_questions_page_groups_and_marks_reviewed(client, users):
    with session_scope(users) as s:
        recent = models.utcnow() - timedelta(hours=1)
        for i, reason in enumerate(["fallback", "unhelpful", "thumbs_down"]):
            unanswered.record(s, "Mag ik <b>zaterdag</b> een markt houden?", reason,
                              now=recent + timedelta(minutes=i))
        unanswered.record(s, "Wat is een BVm?", "fallback", now=recent + timedelta(minutes=5))
        unanswered.record(s, "Top antwoord", "thumbs_up", now=recent + timedelta(minutes=6))
    await login(client, "coord")
    html = await (await client.get("/coordinatie/vragen")).text()
    _, rows = parse_table(html, "vragen-tabel")
    assert len(rows) == 2
    assert rows[0][0].strip().startswith("Mag ik <b>zaterdag</b> een markt houden?")
    assert rows[0][1] == "3"
    assert "niet begrepen: 1" in rows[0][3] and "duim omlaag: 1" in rows[0][3]
    assert "&lt;b&gt;zaterdag" in html and "Top antwoord" not in html
    resp = await client.post("/coordinatie/vragen/behandeld",
                             data={"id": ["1", "2", "3"], "csrf_token": csrf(html)})
    html = await resp.text()
    assert "als behandeld gemarkeerd" in html
    _, rows = parse_table(html, "vragen-tabel")
    assert [r[0].strip() for r in rows] == ["Wat is een BVm?"]
    with session_scope(users) as s:
        reviewed = s.execute(select(models.UnansweredQuestion.id)
                             .where(models.UnansweredQuestion.reviewed.is_(True))).scalars().all()
    assert sorted(reviewed) == [1, 2, 3]
