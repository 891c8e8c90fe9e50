"""The content review page in Debian's Chromium: log in, filter, read the text, press "Gecontroleerd",
and an axe-core check. Only the web app runs, on the small fixture knowledge (never knowledge/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot import models
from bot.db import make_engine, session_scope
from bot.web.auth import create_user
from tests.support import FIXTURE_KNOWLEDGE
from tests.support.browser import desktop_page, log_in, serious_axe_problems, serve_web
from tests.support.stack import Stack, make_stack

pytestmark = pytest.mark.browser

PASSWORD = "browser-wachtwoord-123"


@pytest.fixture(scope="module")
def web(tmp_path_factory, browser) -> Iterator[Stack]:
    st = make_stack(tmp_path_factory.mktemp("content-web"), knowledge_dir=FIXTURE_KNOWLEDGE,
                    extra_env={"LOKET_PURGE_INTERVAL_S": "0", "LOKET_OUTBOX_INTERVAL_S": "0"})
    engine = make_engine(st.database_url)
    try:
        with session_scope(engine) as s:
            create_user(s, "redactie", PASSWORD, "coordinatie", display_name="Redactie Test")
    finally:
        engine.dispose()
    yield from serve_web(st)


def log_in_as_editor(page, web: Stack) -> None:
    log_in(page, web.web_url, "redactie", PASSWORD, "/coordinatie")


def statuses(page) -> dict[str, str]:
    """Row id -> the status shown."""
    rows = page.eval_on_selector_all(
        "#inhoud-tabel tbody tr", "rows => rows.map(r => [r.id, r.querySelector('.status').textContent])")
    return dict(rows)


def test_filter_read_and_mark_as_checked(web, browser, artifacts):
    with desktop_page(browser) as page:
        log_in_as_editor(page, web)
        page.get_by_role("link", name="Inhoud", exact=True).click()
        page.wait_for_url("**/coordinatie/inhoud")
        assert page.get_by_role("heading", name="Inhoud controleren").is_visible()
        assert statuses(page) == {"rij-regeling-wbso": "Te controleren",
                                  "rij-regeling-kvk-inschrijven": "Te controleren",
                                  "rij-loket-kvk": "Te controleren"}

        # filter: what still needs a check about innovation
        page.get_by_label("Status").select_option("te_controleren")
        page.get_by_label("Thema").select_option("innovation")
        page.get_by_role("button", name="Tonen").click()
        page.wait_for_url("**thema=innovation**")
        assert list(statuses(page)) == ["rij-regeling-wbso"]

        # read the text, follow the source, then mark it as checked
        row = page.locator("#rij-regeling-wbso")
        row.get_by_text("Tekst bekijken").click()
        assert row.get_by_text("U betaalt minder loonheffing over uren voor R&D.").is_visible()
        source = row.get_by_role("link", name="https://www.rvo.nl/subsidies-financiering/wbso")
        assert source.get_attribute("href") == "https://www.rvo.nl/subsidies-financiering/wbso"
        page.screenshot(path=str(artifacts / "content-before.png"), full_page=True)
        row.get_by_role("button", name="Gecontroleerd: WBSO").click()
        page.get_by_text("Opgeslagen: u heeft 'WBSO' gecontroleerd.").wait_for()
        assert "status=te_controleren" in page.url and "thema=innovation" in page.url
        assert statuses(page) == {}  # checked: no longer in the to-check list
        assert page.get_by_text("Geen regelingen of loketten bij deze filters.").is_visible()

        page.get_by_role("link", name="Filters wissen").click()
        page.wait_for_url("**/coordinatie/inhoud")
        assert statuses(page) == {"rij-regeling-wbso": "Gecontroleerd",
                                  "rij-regeling-kvk-inschrijven": "Te controleren",
                                  "rij-loket-kvk": "Te controleren"}
        assert "Redactie Test" in page.locator("#rij-regeling-wbso").inner_text()
        page.screenshot(path=str(artifacts / "content-after.png"), full_page=True)
        assert page.js_errors == []

    engine = make_engine(web.database_url)
    try:
        with session_scope(engine) as s:
            stamps = s.execute(select(models.ReviewStamp)).scalars().all()
            assert [(st.kind, st.item_id, st.reviewer) for st in stamps] == [("regeling", "wbso", "Redactie Test")]
    finally:
        engine.dispose()


def test_content_page_has_no_serious_accessibility_problems(web, browser, axe_source):
    with desktop_page(browser) as page:
        log_in_as_editor(page, web)
        problems = {}
        for path in ("/coordinatie/inhoud", "/coordinatie/inhoud?status=klaar",
                     "/coordinatie/inhoud?status=gewijzigd"):
            page.goto(f"{web.web_url}{path}")
            summaries = page.get_by_text("Tekst bekijken").all()
            if path == "/coordinatie/inhoud":
                assert summaries  # every item is listed there
            for summary in summaries:
                summary.click()  # the opened texts are checked too
            result = serious_axe_problems(page, axe_source)
            if result:
                problems[path] = result
        assert problems == {}
