"""The whole stack as a user meets it: action server + Rasa with the trained model, over REST.

Needs a trained model in models/ (`make test` trains before pytest). CI sets LOKET_REQUIRE_MODEL=1 so a
missing model fails instead of skipping.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def stack(bot_stack):
    return bot_stack


def say(stack, sender: str, text: str) -> list[dict]:
    return stack.say(sender, text)


def texts(messages: list[dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def test_hallo_gets_a_dutch_greeting_that_says_it_is_a_digital_assistant(stack):
    reply = texts(say(stack, "e2e-greet", "Hallo"))
    assert "digitale assistent" in reply


def test_database_backed_question_returns_content_from_the_database(stack):
    reply = texts(say(stack, "e2e-deal", "welke gemeenten doen mee aan de city deal?"))
    # Names come from knowledge/gemeenten.yml via the database, not from the domain.
    for name in ("Amersfoort", "Sittard-Geleen", "Zwolle"):
        assert name in reply
    assert "13 gemeenten" in reply


def test_the_http_api_is_not_exposed_without_a_token(stack):
    assert requests.get(f"{stack.rasa_url}/conversations/x/tracker", timeout=10).status_code in (401, 403, 404)


def _listen_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(addr_hex)[::-1]))
    return found


def test_action_server_listens_on_localhost_only(stack):
    assert _listen_addresses(stack.action_port) == {"127.0.0.1"}


def test_faq_questions_get_the_selected_answer(stack):
    """The ResponseSelector runs only for messages classified as faq (bot/rasa_ext/nlp/faq_selector.py)."""
    assert "geen huizenmakelaar" in texts(say(stack, "e2e-faq-1", "wat doet een makelaarsteam eigenlijk?"))
    assert "2021 tot 1 april 2024" in texts(say(stack, "e2e-faq-2", "wat is de city deal impact ondernemen"))


def test_a_place_named_mid_conversation_is_kept_for_the_handoff(stack):
    """The gemeente slot mapping is skipped for messages without a place; one with a place still sets
    it, and the handoff form then does not ask for the gemeente again."""
    say(stack, "e2e-place", "hoi")
    say(stack, "e2e-place", "wij zitten in Zwolle")
    say(stack, "e2e-place", "wat is btw verlegd?")  # no place: the gemeente stays
    reply = texts(say(stack, "e2e-place", "ik wil graag met een makelaar praten"))
    assert "Makelaarsteam Impact Ondernemen Zwolle" in reply
    assert "In welke gemeente" not in reply


# Written for this test, not copied from data/nlu: weather, food, sport and other daily life.
OFF_TOPIC = [
    "wordt het morgen droog in Drenthe?",
    "kan iemand een broodje kaas bij me thuis bezorgen",
    "hoe is PSV gisteren gespeeld",
    "welke film draait er vanavond in de bioscoop",
    "hoe bak ik pannenkoeken zonder eieren",
]


@pytest.mark.parametrize("text", OFF_TOPIC)
def test_off_topic_questions_get_the_out_of_scope_answer_not_a_regeling(stack, text):
    reply = texts(say(stack, f"e2e-oos-{OFF_TOPIC.index(text)}", text))
    assert "daar kan ik u niet mee helpen" in reply
    assert "Bron:" not in reply and "http" not in reply


UNSEEN_PLACES = ["Winterswijk", "Zundert", "Dinkelland"]


def test_no_training_example_names_the_unseen_places():
    """The premise of the next test."""
    nlu = Path(__file__).resolve().parent.parent / "data" / "nlu"
    files = sorted(nlu.glob("*.yml"))
    assert files
    for path in files:
        text = path.read_text(encoding="utf-8").lower()
        assert not [p for p in UNSEEN_PLACES if p.lower() in text], path.name


@pytest.mark.parametrize("place", UNSEEN_PLACES)
def test_a_bare_place_name_the_training_data_never_saw_is_taken_as_the_gemeente(stack, place):
    """Places come from the loaded knowledge at run time (bot/rasa_ext/nlp/entities.py); the place marker makes a
    lone gemeente name read as inform."""
    reply = texts(say(stack, f"e2e-bare-{place}", place))
    assert f"Uw bedrijf zit in de gemeente {place}" in reply


def test_a_new_alias_loaded_into_the_running_bot_is_recognised_without_training(stack, tmp_path):
    """Content editors add an alias to gemeenten.yml and run `loket knowledge load`; no retraining."""
    import shutil
    import subprocess
    import sys
    import time

    import yaml

    from bot.settings import PROJECT_ROOT

    alias = "Peperbusstad"  # a nickname of Zwolle no file names
    before = texts(say(stack, "e2e-alias-before", alias))
    assert "gemeente Zwolle" not in before
    copy = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", copy)
    path = copy / "gemeenten.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    zwolle = next(g for g in data["gemeenten"] if g["id"] == "zwolle")
    zwolle["aliases"] = [*(zwolle.get("aliases") or []), alias]
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    loket = str(Path(sys.executable).with_name("loket"))
    done = subprocess.run([loket, "knowledge", "load", "--dir", str(copy)], env=stack.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 15  # the Rasa server looks for a new knowledge version every 2 s
    reply = ""
    while time.monotonic() < deadline:
        reply = texts(say(stack, f"e2e-alias-after-{time.monotonic_ns()}", f"wij zitten in {alias}"))
        if "gemeente Zwolle" in reply:
            break
        time.sleep(1)
    assert "Uw bedrijf zit in de gemeente Zwolle" in reply
