"""Debian's Chromium for the browser tests, and the demo page's chat."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


DESKTOP = {"width": 1280, "height": 800}


MOBILE = {"width": 320, "height": 640}


def new_page(context):
    """A page that collects uncaught script errors in page.js_errors (the tests expect none)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return page


@contextmanager
def desktop_page(browser, **options) -> Iterator:
    """A page in a fresh Dutch desktop context (30 s timeouts) that collects script errors in
    page.js_errors; the context is closed afterwards."""
    context = browser.new_context(viewport=DESKTOP, locale="nl-NL", **options)
    context.set_default_timeout(30_000)
    try:
        yield new_page(context)
    finally:
        context.close()


def serve_web(stack) -> Iterator:
    """For a fixture (`yield from serve_web(st)`): the stack's web app running; its log is printed if
    it does not start; everything is stopped afterwards."""
    try:
        stack.start("web")
        yield stack
    except Exception:
        print(f"--- web log ---\n{stack.log('web')[-4000:]}")
        raise
    finally:
        stack.stop_all()


AXE_SERIOUS = """async () => {
    const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']});
    return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
                       .map(v => v.id + ': ' + v.nodes.length);
}"""


def serious_axe_problems(page, axe_source: str) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 AA violations on the page as it is now ("id: nodes")."""
    page.evaluate(axe_source)  # DevTools evaluation: not blocked by the page's CSP
    return page.evaluate(AXE_SERIOUS)


def log_in(page, base_url: str, username: str, password: str, target: str) -> None:
    """Open `target`, get sent to the login page, log in and land on `target`."""
    page.goto(f"{base_url}{target}")
    assert "/inloggen" in page.url  # not logged in: to the login page first
    page.get_by_label("Gebruikersnaam").fill(username)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url(f"**{target}")


BOT = ".loket-msg-bot"


def open_demo(page, stack) -> None:
    page.goto(f"{stack.web_url}/demo")
    page.get_by_role("button", name="Chat met Loket").click()
    page.get_by_role("dialog", name="Loket").wait_for()


def ask(page, question: str) -> str:
    before = bot_count(page)
    page.locator(INPUT).fill(question)
    page.locator(INPUT).press("Enter")
    return wait_for_answer(page, before)


INPUT = "#loket-input"


def bot_count(page) -> int:
    return page.locator(BOT).count()


def wait_for_answer(page, before: int) -> str:
    """Wait until a new bot message arrived and the typing indicator is gone; its text."""
    page.wait_for_function("n => document.querySelectorAll('.loket-msg-bot').length > n", arg=before,
                           timeout=60_000)
    page.locator(".loket-typing").wait_for(state="hidden", timeout=60_000)
    return page.locator(BOT).last.inner_text()
