"""The coordination dashboard in Debian's Chromium: log in, filter, change a status, export.

Only the web app runs (no Rasa model needed). Without /usr/bin/chromium the tests skip with a clear
message, or fail when LOKET_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot import knelpunten as kp
from bot import models
from bot.conversation import unanswered
from bot.db import make_engine, session_scope
from bot.web.auth import create_user
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    desktop_page,
    log_in,
    serious_axe_problems,
    serve_web,
)
from tests.support.stack import Stack, make_stack

pytestmark = pytest.mark.browser

PASSWORD = "browser-wachtwoord-123"


@pytest.fixture(scope="module")
def browser():
    """Chromium for this module only. Sync Playwright keeps an event loop running while it is open;
    closing it with the module keeps that loop away from the async tests that run later."""
    if not CHROMIUM.exists():
        message = "Debian's Chromium (/usr/bin/chromium) is missing: apt-get install -y chromium"
        if os.environ.get("LOKET_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{message} (LOKET_REQUIRE_BROWSER=1)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def web(tmp_path_factory, browser) -> Iterator[Stack]:
    """The web app alone, with a coordination user and a few knelpunten."""
    st = make_stack(tmp_path_factory.mktemp("dashboard-web"), extra_env={"LOKET_PURGE_INTERVAL_S": "0"})
    engine = make_engine(st.database_url)
    try:
        with session_scope(engine) as s:
            create_user(s, "coord", PASSWORD, "coordinatie", display_name="Coördinatie Test")
            start = datetime(2026, 1, 5, 9, 0)
            for i, (category, gemeente) in enumerate([
                    ("inkoop_aanbesteding", "zwolle"), ("financiering", "utrecht"),
                    ("financiering", "emmen"), ("vastgoed_ruimte", "zwolle"), ("anders", None)]):
                kp.create_knelpunt(s, kp.KnelpuntInput(
                    description=f"Knelpunt {i + 1} over {kp.CATEGORIES[category]} <script>x</script>",
                    category=category, organisations=["gemeente"], gemeente=gemeente,
                    consequence="Minder omzet"), now=start + timedelta(days=10 * i))
            for i, (text, reason) in enumerate([("Wat is een BVm?", "fallback"), ("wat is een bvm", "unhelpful"),
                                                ("Mag ik op zondag open?", "thumbs_down")]):
                # recent: the web app's privacy purge blanks questions older than the retention period
                unanswered.record(s, text, reason, now=models.utcnow() - timedelta(minutes=10 - i))
    finally:
        engine.dispose()
    yield from serve_web(st)


def table_rows(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#knelpunten-tabel tbody tr",
        "rows => rows.map(r => Array.from(r.querySelectorAll('td')).map(td => td.textContent))")


def test_login_filter_change_status_and_export(web, browser, artifacts, tmp_path):
    with desktop_page(browser, accept_downloads=True) as page:
        log_in(page, web.web_url, "coord", PASSWORD, "/coordinatie")
        assert page.get_by_role("heading", name="Knelpunten", exact=True).is_visible()
        assert len(table_rows(page)) == 5

        # filter
        page.get_by_label("Categorie", exact=True).select_option("financiering")
        page.get_by_role("button", name="Filteren").click()
        page.wait_for_url("**categorie=financiering**")
        rows = table_rows(page)
        assert [r[2] for r in rows] == ["financiering", "financiering"]
        assert page.locator("#aantal").inner_text().startswith("2 knelpunten gevonden")
        assert "<script>x</script>" in rows[0][8]  # shown as text, not run
        page.screenshot(path=str(artifacts / "dashboard-list.png"), full_page=True)

        # export the filtered list
        with page.expect_download() as info:
            page.locator("#export-xlsx").click()
        download = info.value
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        assert target.suffix == ".xlsx"
        sheet = [["" if v is None else str(v) for v in row]
                 for row in load_workbook(target, read_only=True).active.iter_rows(values_only=True)]
        assert sheet[0] == kp.TABLE_HEADER
        assert sheet[1:] == rows

        # change a status
        reference = rows[0][0]
        page.get_by_role("link", name=reference).click()
        page.get_by_label("Nieuwe status").select_option("in_behandeling")
        page.get_by_role("button", name="Status opslaan").click()
        page.get_by_text("De status is gewijzigd.").wait_for()
        assert page.locator("#status-waarde").inner_text() == "in behandeling"
        history = page.eval_on_selector_all(
            "#geschiedenis tbody tr",
            "rows => rows.map(r => Array.from(r.querySelectorAll('td')).map(td => td.textContent))")
        assert history[-1][1:] == ["Coördinatie Test", "Status", "nieuw", "in behandeling"]
        page.screenshot(path=str(artifacts / "dashboard-detail.png"), full_page=True)

        page.goto(f"{web.web_url}/coordinatie?status=in_behandeling")
        assert [r[0] for r in table_rows(page)] == [reference]
        assert page.js_errors == []

    engine = make_engine(web.database_url)
    try:
        with session_scope(engine) as s:
            stored = kp.get_knelpunt(s, reference)
            assert stored.status == "in_behandeling"
            assert s.execute(select(func.count()).select_from(models.KnelpuntHistory)
                             .where(models.KnelpuntHistory.knelpunt_id == stored.id)).scalar_one() == 2
    finally:
        engine.dispose()


def test_dashboard_has_no_serious_accessibility_problems(web, browser, axe_source, artifacts):
    with desktop_page(browser) as page:
        log_in(page, web.web_url, "coord", PASSWORD, "/coordinatie")
        problems = {}
        for path in ("/coordinatie", "/coordinatie/knelpunten/1", "/coordinatie/vragen"):
            page.goto(f"{web.web_url}{path}")
            result = serious_axe_problems(page, axe_source)
            if result:
                problems[path] = result
            if path.endswith("vragen"):
                assert page.locator("#vragen-tabel tbody tr").count() == 2  # the BVm questions together
                page.screenshot(path=str(artifacts / "dashboard-vragen.png"), full_page=True)
        assert problems == {}
