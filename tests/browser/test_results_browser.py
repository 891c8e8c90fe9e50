"""The results page in Debian's Chromium: log in, switch to months and to one gemeente, open a chart's
table, and axe-core finds no serious or critical accessibility problems. Only the web app runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from bot import models
from bot.db import make_engine, session_scope
from bot.web.auth import create_user
from tests.support.browser import desktop_page, log_in, serious_axe_problems, serve_web
from tests.support.stack import Stack, make_stack

pytestmark = pytest.mark.browser

PASSWORD = "browser-wachtwoord-456"


@pytest.fixture(scope="module")
def web(tmp_path_factory, browser) -> Iterator[Stack]:
    """The web app with a coordination user and counted results for two weeks and two gemeenten."""
    st = make_stack(tmp_path_factory.mktemp("results-web"), extra_env={"LOKET_PURGE_INTERVAL_S": "0"})
    engine = make_engine(st.database_url)
    try:
        with session_scope(engine) as s:
            create_user(s, "coord", PASSWORD, "coordinatie", display_name="Coördinatie Test")
            for day, gemeente, conversations, direct, after, missed in (
                    (date(2026, 11, 30), "zwolle", 10, 6, 3, 1), (date(2026, 12, 7), "zwolle", 8, 5, 2, 1),
                    (date(2026, 12, 8), "utrecht", 4, 2, 1, 1)):
                s.add(models.ConversationStat(
                    day=day, gemeente_id=gemeente, conversations=conversations,
                    questions=direct + after + missed, answered_direct=direct, answered_after_followup=after,
                    unanswered=missed, handed_off=1, knelpunten=1, fallback_messages=missed + after,
                    thumbs_up=2, thumbs_down=1))
    finally:
        engine.dispose()
    yield from serve_web(st)


def _rows(page, table_id: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        "rows => rows.map(r => Array.from(r.querySelectorAll('th, td')).map(c => c.textContent.trim()))")


def test_results_page_filters_and_accessibility(web, browser, axe_source, artifacts):
    with desktop_page(browser) as page:
        log_in(page, web.web_url, "coord", PASSWORD, "/coordinatie/resultaten")
        assert page.get_by_role("heading", name="Resultaten van de chat").is_visible()
        assert [r[:2] for r in _rows(page, "resultaten-tabel")] == [["2026-W49", "10"], ["2026-W50", "12"]]

        page.get_by_label("Per", exact=True).select_option("maand")
        page.get_by_label("Gemeente", exact=True).select_option("utrecht")
        page.get_by_role("button", name="Tonen").click()
        page.wait_for_url("**periode=maand**")
        assert [r[:4] for r in _rows(page, "resultaten-tabel")] == [["2026-12", "4", "4", "2"]]
        page.get_by_text("Toon als tabel").first.click()
        assert page.locator("table.chart-table").first.is_visible()
        page.screenshot(path=str(artifacts / "resultaten.png"), full_page=True)

        problems = {}
        for path in ("/coordinatie/resultaten", "/coordinatie/resultaten?periode=maand&gemeente=zwolle"):
            page.goto(f"{web.web_url}{path}")
            result = serious_axe_problems(page, axe_source)
            if result:
                problems[path] = result
        assert problems == {}
        assert page.js_errors == []
