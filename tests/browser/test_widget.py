"""The chat widget in Debian's Chromium against the full stack (Rasa + action server + web app).

Answers come from the trained model; the tests use questions whose answers live in the core domain
(greeting, "wat kun je?"), so they do not depend on topic content.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import create_engine, select, text

from bot import models
from tests.support.browser import (
    BOT,
    DESKTOP,
    INPUT,
    MOBILE,
    ask,
    bot_count,
    new_page,
    open_demo,
    wait_for_answer,
)

# All tests here run in Chromium; those with the full stack (a trained model) are also marked `rasa`.
pytestmark = pytest.mark.browser

USER = ".loket-msg-user"
GREET_ANSWER = "Ik ben de digitale assistent van Loket"


# --- helpers ---------------------------------------------------------------------------------










def user_events(stack, sender_id: str) -> list[dict]:
    """The user messages Rasa stored for this sender (the tracker store's events table)."""
    engine = create_engine(stack.env["LOKET_TRACKER_DB_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
                {"s": sender_id}).scalars().all()
    finally:
        engine.dispose()
    return [json.loads(r) for r in rows]


def feedback_rows(stack, sender_id: str, timeout: float = 15) -> list[models.UnansweredQuestion]:
    engine = create_engine(stack.database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                rows = conn.execute(select(models.UnansweredQuestion.__table__).where(
                    models.UnansweredQuestion.sender_id == sender_id)).all()
            if rows or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)
    finally:
        engine.dispose()


def active(page) -> dict:
    return page.evaluate("""() => {
        const el = document.activeElement;
        const cs = getComputedStyle(el);
        return {id: el.id, cls: el.className && el.className.baseVal === undefined ? el.className : '',
                text: (el.innerText || el.getAttribute('aria-label') || '').trim(), tag: el.tagName,
                label: el.getAttribute('aria-label') || '',
                outline: cs.outlineStyle, outlineWidth: parseFloat(cs.outlineWidth)};
    }""")


def press_until(page, key: str, predicate, limit: int = 40) -> dict:
    for _ in range(limit):
        page.keyboard.press(key)
        state = active(page)
        if predicate(state):
            return state
    raise AssertionError(f"{key} never reached the element; last focus: {active(page)}")


def axe_violations(page, axe_source: str) -> list[dict]:
    page.evaluate(axe_source)  # DevTools evaluation: not blocked by the page's CSP
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return result["violations"]


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return (box is not None and box["x"] >= 0 and box["y"] >= 0
            and box["x"] + box["width"] <= size["width"] + 0.5
            and box["y"] + box["height"] <= size["height"] + 0.5)


@contextmanager
def host_page(html: str) -> Iterator[str]:
    """Serve `html` from another origin (a free port on 127.0.0.1), like a gemeente's own website."""
    body = html.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ondernemen"
    finally:
        server.shutdown()
        server.server_close()


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.rasa
def test_open_ask_and_get_an_answer_over_socketio_with_gemeente_metadata(page, stack):
    open_demo(page, stack)
    assert page.evaluate("document.activeElement.id") == "loket-input"  # focus moves into the input
    log = page.get_by_role("log")
    assert log.get_attribute("aria-live") == "polite"
    greeting = page.locator(BOT).first.inner_text()
    assert "digitale assistent" in greeting and "geen mens" in greeting
    assert "Welkom bij Gemeente Voorbeeld" in greeting  # data-greeting
    privacy = page.locator(BOT).first.get_by_role("link", name="privacyverklaring")
    assert privacy.get_attribute("href") == f"{stack.web_url}/privacy"
    assert privacy.get_attribute("rel") == "noopener noreferrer"
    for title in ("Welke subsidies zijn er?", "Werken met mensen met een beperking", "Een knelpunt melden"):
        assert page.get_by_role("button", name=title).is_visible()
    page.wait_for_function("() => window.Loket.transport() === 'socket.io'")

    answer = ask(page, "Hallo")
    assert GREET_ANSWER in answer
    assert page.locator(USER).last.inner_text().endswith("Hallo")
    sender = page.evaluate("Loket.senderId()")
    [event] = user_events(stack, sender)
    assert event["text"] == "Hallo"
    assert event["metadata"]["gemeente"] == "utrecht"
    assert event["input_channel"] == "socketio"
    assert page.js_errors == []


@pytest.mark.rasa
def test_clicking_a_button_sends_the_payload_and_shows_the_title(page, stack):
    open_demo(page, stack)
    ask(page, "Hallo")
    last = page.locator(BOT).last
    before = bot_count(page)
    last.get_by_role("button", name="Werken met mensen met een beperking").click()
    assert page.locator(USER).last.inner_text().endswith("Werken met mensen met een beperking")
    wait_for_answer(page, before)
    assert page.evaluate("document.activeElement.id") == "loket-input"
    sender = page.evaluate("Loket.senderId()")
    texts = [e["text"] for e in user_events(stack, sender)]
    assert texts == ["Hallo", "Ik wil iemand met een arbeidsbeperking aannemen"]  # the payload
    # Used buttons disappear, so an old choice cannot be sent twice by accident (the answer may
    # bring new button groups of its own).
    assert page.get_by_role("button", name="Werken met mensen met een beperking").count() == 0
    assert page.js_errors == []


@pytest.mark.rasa
def test_the_conversation_survives_a_reload(page, stack):
    open_demo(page, stack)
    ask(page, "Hallo")
    sender = page.evaluate("Loket.senderId()")
    page.reload()
    page.get_by_role("button", name="Chat met Loket").click()
    log_text = page.get_by_role("log").inner_text()
    assert "Hallo" in log_text and GREET_ANSWER in log_text
    assert page.evaluate("Loket.senderId()") == sender
    answer = ask(page, "wat kun je allemaal?")
    assert "Ik kan u helpen met" in answer
    assert [e["text"] for e in user_events(stack, sender)] == ["Hallo", "wat kun je allemaal?"]


@pytest.mark.rasa
def test_keyboard_only(page, stack):
    page.goto(f"{stack.web_url}/demo")
    page.locator("body").click(position={"x": 5, "y": 300})  # start from the page, not the URL bar
    state = press_until(page, "Tab", lambda s: "loket-launcher" in s["cls"])
    assert state["outline"] != "none" and state["outlineWidth"] >= 2  # visible focus
    page.keyboard.press("Enter")
    assert active(page)["id"] == "loket-input"

    before = bot_count(page)
    page.keyboard.type("Hallo")
    page.keyboard.press("Enter")
    wait_for_answer(page, before)

    # Back from the input into the answer: thumbs, then the quick replies.
    state = press_until(page, "Shift+Tab", lambda s: s["label"] == "Dit antwoord helpt mij niet", limit=5)
    assert state["outline"] != "none"
    page.keyboard.press("Space")
    assert page.locator(BOT).last.get_by_role("button", name="Dit antwoord helpt mij niet") \
        .get_attribute("aria-pressed") == "true"
    press_until(page, "Shift+Tab", lambda s: s["text"] == "Praat met een mens" and s["tag"] == "BUTTON",
                limit=6)
    before = bot_count(page)
    page.keyboard.press("Enter")
    assert page.locator(USER).last.inner_text().endswith("Praat met een mens")
    wait_for_answer(page, before)
    assert active(page)["id"] == "loket-input"

    # The "Praat met een mens" button in the footer is reachable with Tab, after the input.
    press_until(page, "Tab", lambda s: s["text"] == "Praat met een mens", limit=3)

    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").count() == 0 or not page.get_by_role("dialog").is_visible()
    assert "loket-launcher" in active(page)["cls"]  # focus returns to the launcher
    assert page.locator(".loket-launcher").get_attribute("aria-expanded") == "false"
    page.keyboard.press("Space")
    assert active(page)["id"] == "loket-input"
    sender = page.evaluate("Loket.senderId()")
    assert [e["text"] for e in user_events(stack, sender)] == ["Hallo", "/request_human"]
    assert page.js_errors == []


@pytest.mark.rasa
def test_thumbs_down_is_stored_in_the_database(page, stack):
    open_demo(page, stack)
    answer = ask(page, "Hallo")
    page.locator(BOT).last.get_by_role("button", name="Dit antwoord helpt mij niet").click()
    page.get_by_text("Wij gebruiken dit om de antwoorden te verbeteren").wait_for()
    sender = page.evaluate("Loket.senderId()")
    [row] = feedback_rows(stack, sender)
    assert row.reason == "thumbs_down"
    assert row.text == "Hallo"
    assert GREET_ANSWER in row.bot_answer
    assert row.bot_answer.split("\n")[0] in answer
    assert row.gemeente_id == "utrecht"
    # One vote per answer: a second click stores nothing more.
    page.locator(BOT).last.get_by_role("button", name="Dit antwoord helpt mij", exact=True).click()
    page.wait_for_timeout(500)
    assert len(feedback_rows(stack, sender, timeout=0)) == 1


@pytest.mark.rasa
def test_empty_and_too_long_input_are_not_sent(page, stack):
    open_demo(page, stack)
    page.locator(INPUT).press("Enter")
    assert page.get_by_role("alert").inner_text() == "Typ eerst uw vraag."
    page.locator(INPUT).fill("x" * 1001)
    assert "1001 van maximaal 1000 tekens" in page.locator("#loket-counter").inner_text()
    page.get_by_role("button", name="Verstuur").click()
    notice = page.get_by_role("alert").inner_text()
    assert "te lang" in notice and "1001" in notice and "1000" in notice
    assert page.locator(INPUT).get_attribute("aria-invalid") == "true"
    assert page.locator(USER).count() == 0
    assert page.locator(INPUT).input_value() == "x" * 1001  # kept, so the user can shorten it
    assert user_events(stack, page.evaluate("Loket.senderId()")) == []


@pytest.mark.rasa
def test_rest_is_the_fallback_when_socketio_fails(context, stack):
    context.add_init_script("window.WebSocket = undefined;")
    context.route("**/socket.io/**", lambda route: route.abort())
    page = new_page(context)
    open_demo(page, stack)
    answer = ask(page, "Hallo")
    assert GREET_ANSWER in answer
    assert page.evaluate("Loket.transport()") == "rest"
    # REST answers are rendered the same way: the greeting's buttons are there.
    assert page.locator(BOT).last.get_by_role("button", name="Welke subsidies zijn er?").is_visible()
    [event] = user_events(stack, page.evaluate("Loket.senderId()"))
    assert event["input_channel"] == "rest" and event["metadata"]["gemeente"] == "utrecht"
    assert page.js_errors == []


@pytest.mark.rasa
def test_delete_conversation_clears_the_history_and_starts_a_new_sender(page, stack):
    open_demo(page, stack)
    ask(page, "Hallo")
    old_sender = page.evaluate("Loket.senderId()")
    page.get_by_role("button", name="Gesprek verwijderen").click()
    assert active(page)["text"] == "Ja, verwijderen"
    page.keyboard.press("Enter")
    assert page.locator(USER).count() == 0
    assert page.locator(BOT).count() == 1  # only the local greeting
    assert "Uw gesprek is verwijderd." in page.locator("#loket-notice").inner_text()
    new_sender = page.evaluate("Loket.senderId()")
    assert new_sender != old_sender
    assert page.evaluate("sessionStorage.getItem('loket:history')") == "[]"
    page.reload()
    page.get_by_role("button", name="Chat met Loket").click()
    assert page.locator(USER).count() == 0
    assert page.js_errors == []


@pytest.mark.rasa
def test_embedded_on_another_site_with_a_low_contrast_colour(page, stack):
    """A gemeente's own site: another origin, its own `io` global and a colour that fails contrast."""
    html = f"""<!doctype html><html lang="nl"><head><title>Gemeente Test</title></head><body>
      <h1>Gemeente Test</h1><script>window.io = "van de gemeente";</script>
      <script src="{stack.web_url}/widget.js" data-gemeente="zwolle" data-color="#ffdd00" defer></script>
      </body></html>"""
    with host_page(html) as url:
        page.goto(url)
        page.get_by_role("button", name="Chat met Loket").click()
        assert page.evaluate("window.io") == "van de gemeente"  # the widget keeps its own client
        accent = page.evaluate(
            "getComputedStyle(document.querySelector('.loket-root')).getPropertyValue('--loket-accent')")
        assert accent.strip() == "#0b5394"  # yellow fails AA with white text: the safe colour is used
        answer = ask(page, "Hallo")
        assert GREET_ANSWER in answer
        sender = page.evaluate("Loket.senderId()")
        assert user_events(stack, sender)[0]["metadata"]["gemeente"] == "zwolle"
        page.locator(BOT).last.get_by_role("button", name="Dit antwoord helpt mij", exact=True).click()
        [row] = feedback_rows(stack, sender)  # cross-origin POST with a CORS preflight
        assert row.reason == "thumbs_up" and row.gemeente_id == "zwolle"


@pytest.mark.rasa
def test_demo_colour_with_enough_contrast_is_kept(page, stack):
    open_demo(page, stack)
    accent = page.evaluate(
        "getComputedStyle(document.querySelector('.loket-root')).getPropertyValue('--loket-accent')")
    assert accent.strip() == "#00689e"


@pytest.mark.rasa
def test_axe_no_serious_or_critical_violations_and_screenshots(page, stack, axe_source, artifacts):
    open_demo(page, stack)
    ask(page, "Hallo")
    ask(page, "wat kun je allemaal?")
    assert page.js_errors == []
    page.screenshot(path=str(artifacts / "widget-desktop-1280x800.png"))
    problems = []
    for size in (DESKTOP, MOBILE):
        page.set_viewport_size(size)
        for v in axe_violations(page, axe_source):
            if v["impact"] in ("serious", "critical"):
                nodes = "; ".join(n["target"][0] for n in v["nodes"][:5])
                problems.append(f"{size['width']}px {v['id']} ({v['impact']}): {v['help']} -> {nodes}")
    assert problems == []


@pytest.mark.rasa
def test_layout_at_320px_and_at_200_percent_zoom(page, stack, artifacts):
    page.set_viewport_size(MOBILE)
    open_demo(page, stack)
    ask(page, "Hallo")
    page.screenshot(path=str(artifacts / "widget-mobile-320x640.png"))
    # 1280x800 at 200 % zoom has the same CSS viewport as 640x400.
    for size in (MOBILE, {"width": 640, "height": 400}):
        page.set_viewport_size(size)
        page.wait_for_timeout(100)
        assert no_horizontal_scroll(page), size
        for selector in (".loket-panel", INPUT, ".loket-send", ".loket-human", ".loket-close"):
            assert page.locator(selector).is_visible(), (size, selector)
            assert in_viewport(page, selector), (size, selector)
        log_box = page.locator(".loket-log").bounding_box()
        assert log_box["height"] >= 72, size  # room to read the answers
    page.screenshot(path=str(artifacts / "widget-zoom-200-640x400.png"))


def test_bot_text_is_escaped_and_links_are_safe(context, web_stack):
    """Rasa's answers are faked here (REST, socket.io blocked): HTML in a bot message stays text."""
    answers = [
        {"recipient_id": "x", "text": "<img src=x onerror=\"window.hacked=1\"> Kijk op https://www.rvo.nl/subsidies. "
                                      "Of [de KVK](https://www.kvk.nl/starten/)."},
        {"recipient_id": "x", "text": "U kunt kiezen uit:\n- WBSO\n- MIT\nWelke past?",
         "buttons": [{"title": "WBSO", "payload": "/ask_innovation"},
                     {"title": "Naar RVO", "payload": "https://www.rvo.nl/"}]},
    ]
    sent: list[dict] = []

    def fake_rasa(route):
        sent.append(json.loads(route.request.post_data))
        route.fulfill(status=200, content_type="application/json", body=json.dumps(answers),
                      headers={"Access-Control-Allow-Origin": "*"})

    context.add_init_script("window.WebSocket = undefined;")
    context.route("**/socket.io/**", lambda route: route.abort())
    context.route("**/webhooks/rest/webhook", fake_rasa)
    page = new_page(context)
    open_demo(page, web_stack)
    ask(page, "<b>vet</b>")
    assert page.locator(USER).last.inner_text().endswith("<b>vet</b>")  # the user's text, as text
    assert page.locator(".loket-log b").count() == 0
    first, second = page.locator(BOT).nth(-2), page.locator(BOT).last
    assert first.locator("img").count() == 0 and page.evaluate("window.hacked") is None
    assert "<img src=x" in first.inner_text()
    link = first.get_by_role("link", name="https://www.rvo.nl/subsidies")
    assert link.get_attribute("href") == "https://www.rvo.nl/subsidies"  # the full stop stays out
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert first.get_by_role("link", name="de KVK").get_attribute("href") == "https://www.kvk.nl/starten/"
    assert second.locator("li").all_inner_texts() == ["WBSO", "MIT"]
    assert second.get_by_role("link", name="Naar RVO").get_attribute("href") == "https://www.rvo.nl/"
    assert sent[0] == {"sender": page.evaluate("Loket.senderId()"), "message": "<b>vet</b>",
                       "metadata": {"gemeente": "utrecht"}}
    before = bot_count(page)
    second.get_by_role("button", name="WBSO").click()
    wait_for_answer(page, before)
    assert sent[-1]["message"] == "/ask_innovation"
    assert page.js_errors == []
