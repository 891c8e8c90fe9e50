"""The broker portal in Debian's Chromium: log in, see the team's handoffs, claim, close.

Only the web app runs (no Rasa model needed), with its outbox worker delivering to a local SMTP server.
The `browser` fixture (tests/browser/conftest.py) skips with a clear message when /usr/bin/chromium is
missing, or fails when LOKET_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot import handoffs, models
from bot.db import make_engine, session_scope
from bot.web.auth import create_user
from tests.support.browser import desktop_page, log_in
from tests.support.fakes import Inbox
from tests.support.stack import Stack, free_port, make_stack

pytestmark = pytest.mark.browser

PASSWORD = "browser-wachtwoord-123"


@pytest.fixture(scope="module")
def portal(tmp_path_factory, browser) -> Iterator[tuple[Stack, dict, Inbox]]:
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    st = make_stack(tmp_path_factory.mktemp("portal-web"), extra_env={
        "LOKET_SMTP_HOST": "127.0.0.1", "LOKET_SMTP_PORT": str(smtp.port),
        "LOKET_OUTBOX_INTERVAL_S": "0.2"})
    engine = make_engine(st.database_url)
    refs = {}
    try:
        with session_scope(engine) as s:
            create_user(s, "makelaar.zwolle", PASSWORD, "makelaar", team_id="zwolle",
                        display_name="Makelaar Zwolle")
            create_user(s, "makelaar.utrecht", PASSWORD, "makelaar", team_id="utrecht")
            for gemeente, text in (("zwolle", "Waar vind ik een werkplek voor mijn leerwerkbedrijf?"),
                                   ("utrecht", "Hoe kom ik in aanmerking voor social return?")):
                refs[gemeente] = handoffs.create_handoff(
                    s, sender_id=f"browser-{gemeente}", gemeente_id=gemeente, description=text,
                    contact_name="Sam de Vries", contact_email="sam@example.nl",
                    contact_phone="+31 6 12345678", consent=True,
                    transcript=[{"speaker": "ondernemer", "text": text, "at": None}]).reference
    finally:
        engine.dispose()
    try:
        st.start("web")
        yield st, refs, inbox
    except Exception:
        print(f"--- web log ---\n{st.log('web')[-4000:]}")
        raise
    finally:
        st.stop_all()
        smtp.stop()


def test_log_in_claim_and_close(portal, browser, artifacts):
    st, refs, inbox = portal
    with desktop_page(browser) as page:
        log_in(page, st.web_url, "makelaar.zwolle", PASSWORD, "/portaal")
        assert page.get_by_role("heading", name="Vragen van ondernemers").is_visible()
        table = page.locator("table").inner_text()
        assert refs["zwolle"] in table and refs["utrecht"] not in table

        page.get_by_role("link", name=refs["zwolle"]).click()
        page.wait_for_url(f"**/portaal/overdrachten/{refs['zwolle']}")
        assert page.get_by_role("heading", name=f"Vraag {refs['zwolle']}").is_visible()
        assert "sam@example.nl" in page.content()

        # The worker in the web app process delivered it to the team's mailbox.
        for _ in range(50):
            if inbox.messages:
                break
            page.wait_for_timeout(200)
        assert [rcpt for rcpt, _ in inbox.messages] == [["makelaarsteam-zwolle@example.nl"]]
        page.reload()
        assert "smtp: aangenomen" in page.locator("table").last.inner_text()

        page.get_by_role("button", name="Vraag oppakken").click()
        page.wait_for_url("**gedaan=opgepakt")
        assert page.get_by_role("status").filter(has_text="U heeft deze vraag opgepakt.").is_visible()
        assert page.locator("#status").inner_text() == "opgepakt"

        page.get_by_label("Uitkomst (verplicht om af te sluiten)").fill("Doorverwezen naar een leerwerkbedrijf.")
        page.get_by_role("button", name="Afsluiten").click()
        page.wait_for_url("**gedaan=afgesloten")
        assert page.locator("#status").inner_text() == "afgesloten"
        assert "Doorverwezen naar een leerwerkbedrijf." in page.content()
        page.screenshot(path=str(artifacts / "portal-afgesloten.png"), full_page=True)

        page.goto(f"{st.web_url}/portaal?status=afgesloten")
        assert refs["zwolle"] in page.locator("table").inner_text()
        assert page.js_errors == []

    engine = make_engine(st.database_url)
    try:
        with session_scope(engine) as s:
            h = s.execute(select(models.Handoff).where(models.Handoff.reference == refs["zwolle"])).scalar_one()
            assert h.status == "afgesloten" and h.outcome == "Doorverwezen naar een leerwerkbedrijf."
    finally:
        engine.dispose()


def test_another_team_gets_404_in_the_browser(portal, browser):
    st, refs, _ = portal
    with desktop_page(browser) as page:
        log_in(page, st.web_url, "makelaar.utrecht", PASSWORD, "/portaal")
        assert refs["zwolle"] not in page.locator("table").inner_text()
        response = page.goto(f"{st.web_url}/portaal/overdrachten/{refs['zwolle']}")
        assert response.status == 404


def test_portal_pages_pass_axe(portal, browser, axe_source):
    st, refs, _ = portal
    with desktop_page(browser) as page:
        log_in(page, st.web_url, "makelaar.utrecht", PASSWORD, "/portaal")
        for url in ("/portaal?status=alle", f"/portaal/overdrachten/{refs['utrecht']}"):
            page.goto(f"{st.web_url}{url}")
            page.evaluate(axe_source)  # DevTools evaluation: not blocked by the page's CSP
            result = page.evaluate(
                "() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})")
            problems = [(v["id"], v["help"]) for v in result["violations"]]
            assert problems == [], f"{url}: {problems}"
