"""Debian's Chromium for the browser tests, and the demo page's chat."""

from __future__ import annotations

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
