"""Issue 18 in Chromium: button URLs with unsafe schemes are not links (#12), and answers around contact
details get no rating buttons (#5). Rasa's answers are faked (REST; socket.io blocked): no model needed."""

from __future__ import annotations

import json

import pytest

from bot.conversation.personal_prompts import HANDOFF_CONSENT
from tests.support.browser import BOT, ask, new_page, open_demo

pytestmark = pytest.mark.browser


def _fake_rasa(context, answers_for: dict[str, list[dict]]) -> None:
    def answer(route):
        text = json.loads(route.request.post_data)["message"]
        route.fulfill(status=200, content_type="application/json",
                      body=json.dumps(answers_for.get(text, [{"recipient_id": "x", "text": "Goed."}])),
                      headers={"Access-Control-Allow-Origin": "*"})

    context.add_init_script("window.WebSocket = undefined;")
    context.route("**/socket.io/**", lambda route: route.abort())
    context.route("**/webhooks/rest/webhook", answer)


def test_button_urls_with_unsafe_schemes_do_not_become_links(context, web_stack):
    _fake_rasa(context, {"links": [{
        "recipient_id": "x", "text": "Kies:",
        "buttons": [
            {"title": "Script", "payload": "/x", "url": "javascript:window.hacked=1"},
            {"title": "Hoofdletters", "payload": "/x", "url": " JaVaScRiPt:window.hacked=2"},
            {"title": "Data", "payload": "/x", "url": "data:text/html,<script>parent.hacked=3</script>"},
            {"title": "Bellen", "payload": "/x", "url": "tel:+31201234567"},
            {"title": "Mailen", "payload": "/x", "url": "mailto:team@example.nl"},
            {"title": "RVO", "payload": "/x", "url": "https://www.rvo.nl/"},
        ]}]})
    page = new_page(context)
    open_demo(page, web_stack)
    ask(page, "links")
    answer = page.locator(BOT).last
    hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["tel:+31201234567", "mailto:team@example.nl", "https://www.rvo.nl/"]
    for title in ("Script", "Hoofdletters", "Data"):  # still a choice, but it only sends text
        assert answer.get_by_role("button", name=title).count() == 1
    answer.get_by_role("button", name="Script").click()
    page.wait_for_timeout(300)
    assert page.evaluate("window.hacked") is None
    assert page.js_errors == []


def test_no_rating_under_the_consent_summary_but_under_an_ordinary_answer(context, web_stack):
    summary = ("Ik stuur dit naar Makelaarsteam Impact Ondernemen Utrecht:\n"
               "- Vraag: Ik zoek een bedrijfsruimte.\n- Naam: Sam de Vries\n"
               "- Contact: e-mail sam@example.org\n"
               f"{HANDOFF_CONSENT} Het team gebruikt ze alleen om u te helpen met deze vraag.")
    _fake_rasa(context, {
        "sam@example.org": [{"recipient_id": "x", "text": summary,
                             "buttons": [{"title": "Ja, ik geef toestemming", "payload": "/affirm"}]}],
        "subsidie": [{"recipient_id": "x", "text": "Loonkostensubsidie krijgt u via de gemeente."}],
    })
    page = new_page(context)
    open_demo(page, web_stack)
    ask(page, "sam@example.org")
    assert page.locator(BOT).last.locator(".loket-rating").count() == 0
    ask(page, "subsidie")
    assert page.locator(BOT).last.locator(".loket-rating").count() == 1
    page.reload()  # also when the history is drawn again from sessionStorage
    page.get_by_role("button", name="Chat met Loket").click()
    assert page.locator(BOT).filter(has_text="Sam de Vries").locator(".loket-rating").count() == 0
    assert page.js_errors == []
