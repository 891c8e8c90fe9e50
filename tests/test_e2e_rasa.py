"""The whole stack as a user meets it: action server + Rasa with the trained model, over REST.

Needs a trained model in models/ (`make test` trains before pytest). CI sets LOKET_REQUIRE_MODEL=1 so a
missing model fails instead of skipping.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from bot.cli import action_server_command, rasa_command
from bot.settings import PROJECT_ROOT, load_settings

pytestmark = pytest.mark.rasa


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, procs, timeout=240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"process exited early: {p.args[:3]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not any((PROJECT_ROOT / "models").glob("*.tar.gz")):
        if os.environ.get("LOKET_REQUIRE_MODEL"):
            pytest.fail("no trained model in models/: run `make train`")
        pytest.skip("no trained model in models/ (run `make train`)")
    from bot import db
    from bot.knowledge.loader import load

    tmp = tmp_path_factory.mktemp("stack")
    action_port, rasa_port = _free_port(), _free_port()
    env = dict(os.environ, LOKET_DATA_DIR=str(tmp), LOKET_DATABASE_URL=f"sqlite:///{tmp / 'loket.db'}",
               LOKET_ACTION_PORT=str(action_port), LOKET_RASA_PORT=str(rasa_port),
               SANIC_HOST="127.0.0.1", RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    db.upgrade(env["LOKET_DATABASE_URL"])
    load(db.make_engine(env["LOKET_DATABASE_URL"]), PROJECT_ROOT / "knowledge")
    old = dict(os.environ)
    os.environ.update(env)
    try:
        settings = load_settings()
        procs = []
        for name, cmd in (("actions", action_server_command(settings)), ("rasa", rasa_command(settings))):
            log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115
            procs.append(subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=log,
                                          stderr=subprocess.STDOUT))
    finally:
        os.environ.clear()
        os.environ.update(old)
    try:
        _wait(f"http://127.0.0.1:{action_port}/health", procs)
        _wait(f"http://127.0.0.1:{rasa_port}/", procs)
        yield {"rasa": f"http://127.0.0.1:{rasa_port}", "tmp": Path(tmp), "action_port": action_port}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def say(stack, sender: str, text: str) -> list[dict]:
    resp = requests.post(f"{stack['rasa']}/webhooks/rest/webhook",
                         json={"sender": sender, "message": text}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


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
    assert requests.get(f"{stack['rasa']}/conversations/x/tracker", timeout=10).status_code in (401, 403, 404)


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
    assert _listen_addresses(stack["action_port"]) == {"127.0.0.1"}
