"""Browser fixtures: Debian's Chromium driven by Playwright, and the full stack from tests/stack.py.

No browser is ever downloaded: Playwright starts /usr/bin/chromium. Without it the tests skip, unless
LOKET_REQUIRE_BROWSER=1 (CI), then they fail. Without a trained model in models/ they skip, unless
LOKET_REQUIRE_MODEL=1, then they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, new_page
from tests.support.stack import Stack, make_stack

AXE_JS = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


def _missing(what: str, env: str, hint: str) -> None:
    if os.environ.get(env) == "1":
        pytest.fail(f"{what} ({env}=1): {hint}")
    pytest.skip(f"{what}: {hint}")


# Module scope, not session: the sync Playwright API keeps an event loop running in the main thread
# while it is open, and the async (aiohttp, pytest-asyncio) tests that run later need it closed.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _missing("Debian's Chromium is missing", "LOKET_REQUIRE_BROWSER",
                 "install it with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def stack(bot_stack, browser) -> Stack:
    """The session's action server, Rasa with the trained model and web app (tests/conftest.py)."""
    return bot_stack


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory, browser) -> Iterator[Stack]:
    """Only the web app (no model needed): for tests that fake Rasa's answers with page.route."""
    st = make_stack(tmp_path_factory.mktemp("browser-web"))
    try:
        st.start("web")
        yield st
    finally:
        st.stop_all()


@pytest.fixture
def context(browser):
    """A fresh browser context per test: its own sessionStorage, Dutch locale."""
    ctx = browser.new_context(viewport=DESKTOP, locale="nl-NL")
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()




@pytest.fixture
def page(context):
    return new_page(context)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.exists():
        _missing("axe-core is not installed", "LOKET_REQUIRE_BROWSER",
                 "run `make browser-deps` (npm ci --prefix tests/browser)")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
