"""`loket run` as a user runs it (issue 18): the embedded default with its mail sink delivers a handoff
that the portal shows as "bezorgd"; `kill -9` of the action server or of Rasa is repaired by the
supervisor, a conversation answers normally within 15 s and a half-done handoff form completes with a
reference; SIGTERM and SIGINT (also to a background start, where SIGINT is ignored) stop every server
and leave no process and no port behind.

Runs `loket run --no-train` with its own data folder and free ports, on the trained model in
LOKET_MODELS_DIR (models/). Needs a trained model: marked rasa.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil
import pytest
import requests
from sqlalchemy import select

from bench.conversations import choose_form
from bench.soak import ChatClient, drive_form, is_error_reply, team_channels
from bot import models
from bot.db import make_engine
from bot.settings import PROJECT_ROOT
from tests.support.model import require_model
from tests.support.stack import free_port, port_is_listening, wait_for
from tests.support.stack import ignore_sigint as ignore_sigint_in_child
from tests.support.web import PASSWORD

pytestmark = pytest.mark.rasa

TOKEN = "loket-run-test-token"
RECOVERY_S = 15  # issue 18: within 15 s after a kill -9 a conversation answers normally
# Needs the action server (the answer comes from the knowledge in the database).
ACTION_QUESTION = "Welke gemeenten doen mee aan de City Deal?"


@dataclass
class Run:
    """One `loket run` process and what it was given."""

    proc: subprocess.Popen
    tmp: Path
    env: dict[str, str]
    ports: dict[str, int]

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['rasa']}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.tmp / 'loket.db'}"

    def output(self) -> str:
        return (self.tmp / "loket-run.out").read_text(errors="replace")

    def server(self, marker: str) -> psutil.Process:
        """The child of `loket run` whose command line contains `marker`."""
        found = [p for p in psutil.Process(self.proc.pid).children()
                 if marker in " ".join(p.cmdline())]
        assert len(found) == 1, [p.cmdline() for p in psutil.Process(self.proc.pid).children()]
        return found[0]

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)


def start_run(tmp: Path, ignore_sigint: bool = False) -> Run:
    models_dir = require_model()
    tmp.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("rasa", "action", "web", "smtp")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOKET_", "SANIC_"))}
    env.update({
        "LOKET_DATA_DIR": str(tmp),
        "LOKET_MODELS_DIR": str(models_dir),
        "LOKET_RASA_PORT": str(ports["rasa"]),
        "LOKET_ACTION_PORT": str(ports["action"]),
        "LOKET_WEB_PORT": str(ports["web"]),
        "LOKET_SMTP_PORT": str(ports["smtp"]),  # LOKET_SMTP_HOST unset: the embedded default, the sink
        "LOKET_RASA_TOKEN": TOKEN,  # to read the form's requested slot
        "LOKET_OUTBOX_INTERVAL_S": "0.5",
        # the tests are one client address: lift the address limit, keep the per-sender one
        "LOKET_RATE_IP_BURST": "1000000", "LOKET_RATE_IP_PER_MINUTE": "1000000",
    })

    out = open(tmp / "loket-run.out", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--no-train"], cwd=PROJECT_ROOT,
                            env=env, stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=ignore_sigint_in_child if ignore_sigint else None)
    run = Run(proc, tmp, env, ports)
    deadline = time.monotonic() + 600
    while "Loket draait:" not in run.output():
        if proc.poll() is not None or time.monotonic() > deadline:
            logs = "".join(f"\n--- {p.name} ---\n{p.read_text(errors='replace')[-3000:]}"
                           for p in sorted((tmp / "logs").glob("*.log")))
            stop_run(run)
            raise AssertionError(f"loket run did not start:\n{run.output()}{logs}")
        time.sleep(0.5)
    return run


def stop_run(run: Run, signum: int = signal.SIGTERM) -> float:
    """Signal `loket run`; the seconds it took to exit."""
    if run.proc.poll() is not None:
        return 0.0
    started = time.monotonic()
    run.proc.send_signal(signum)
    try:
        run.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        for child in run.descendants():
            child.kill()
        run.proc.kill()
        run.proc.wait()
    return time.monotonic() - started


def assert_all_gone(run: Run, children: list[psutil.Process]) -> None:
    assert len(children) >= 4  # mail sink, action server, Rasa, web app
    _, alive = psutil.wait_procs(children, timeout=2)
    assert not alive, [p.cmdline() for p in alive]
    assert [name for name, port in run.ports.items() if port_is_listening(port)] == []


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = start_run(tmp_path_factory.mktemp("loket-run"))
    yield run
    stop_run(run)


@pytest.fixture(scope="module")
def email_gemeente() -> str:
    form = choose_form()
    if form != "handoff_form":
        pytest.skip("the domain has no handoff_form")
    channels = team_channels(PROJECT_ROOT / "knowledge")
    return sorted(g for g, c in channels.items() if c == "email")[0]


def chat(run: Run, fn):
    async def go():
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            return await fn(ChatClient(http, run.rasa_url, TOKEN))

    return asyncio.run(go())


def outbox_status(run: Run, reference: str) -> str | None:
    engine = make_engine(run.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(models.OutboxMessage.status)
                .join(models.Handoff, models.Handoff.id == models.OutboxMessage.handoff_id)
                .where(models.Handoff.reference == reference)).scalar_one_or_none()
    finally:
        engine.dispose()


def add_user(run: Run, username: str, role: str, team: str | None = None) -> None:
    cmd = [sys.executable, "-m", "bot.cli", "users", "add", "--username", username, "--role", role]
    if team:
        cmd += ["--team", team]
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env={**run.env, "LOKET_NEW_PASSWORD": PASSWORD},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def logged_in(run: Run, username: str) -> requests.Session:
    session = requests.Session()
    resp = session.post(f"{run.web_url}/inloggen", data={"username": username, "password": PASSWORD},
                        allow_redirects=False, timeout=30)
    assert resp.status_code == 302, resp.text
    return session


def team_of(gemeente: str) -> str:
    import yaml

    doc = yaml.safe_load((PROJECT_ROOT / "knowledge" / "makelaarsteams.yml").read_text(encoding="utf-8"))
    return next(t["id"] for t in doc["makelaarsteams"] if gemeente in (t.get("gemeenten") or []))


# --- mail in the embedded default ---------------------------------------------------------------


def test_a_handoff_is_delivered_to_the_mail_sink_and_the_portal_says_bezorgd(run, email_gemeente):
    meta = {"gemeente": email_gemeente}
    done = chat(run, lambda c: drive_form(c, "handoff_form", "run-mail", meta))
    assert done.reference, done
    wait_for(lambda: outbox_status(run, done.reference) == "delivered", 30, "the mail to be delivered", 0.5)
    mails = [p for p in (run.tmp / "mail").glob("*.eml") if done.reference in p.read_text(errors="replace")]
    assert len(mails) == 1

    add_user(run, "makelaar-run", "makelaar", team_of(email_gemeente))
    page = logged_in(run, "makelaar-run").get(f"{run.web_url}/portaal/overdrachten/{done.reference}",
                                              timeout=30).text
    assert '<span class="badge">bezorgd</span>' in page and "nog niet bezorgd" not in page

    add_user(run, "beheer-run", "admin")
    admin = logged_in(run, "beheer-run")
    listing = admin.get(f"{run.web_url}/beheer/mail", timeout=30).text
    assert done.reference in listing and mails[0].name in listing


# --- kill -9 under the supervisor ---------------------------------------------------------------


def _midway(run: Run, sender: str, meta: dict):
    """Two answers into the handoff form."""
    start = chat(run, lambda c: drive_form(c, "handoff_form", sender, meta, max_turns=2, retries=1))
    assert start.reference is None and start.turns == 2
    tracker = chat(run, lambda c: c.tracker(sender))
    assert tracker["active_loop"].get("name") == "handoff_form"
    return start


def _answers_normally_within(run: Run, seconds: float, since: float) -> float:
    """Ask a question that needs the action server, from a new conversation, until the answer is a
    normal one; the seconds since `since`."""
    n = 0
    while True:
        n += 1
        status, replies = chat(run, lambda c, n=n: c.say(f"recover-{time.monotonic_ns()}-{n}", ACTION_QUESTION))
        elapsed = time.monotonic() - since
        if not is_error_reply(status, replies) and "Zwolle" in " ".join(m.get("text") or "" for m in replies):
            return elapsed
        assert elapsed < seconds, f"no normal answer {elapsed:.1f} s after the kill: {status} {replies}"
        time.sleep(0.25)


@pytest.mark.parametrize("marker, name", [("rasa_sdk", "actieserver"), ("bot.rasa_ext.launcher run", "rasa")],
                         ids=["action-server", "rasa"])
def test_kill_9_is_repaired_and_a_half_done_form_completes(run, email_gemeente, marker, name):
    meta = {"gemeente": email_gemeente}
    sender = f"run-kill-{name}"
    start = _midway(run, sender, meta)
    victim = run.server(marker)
    killed_at = time.monotonic()
    victim.kill()  # kill -9
    took = _answers_normally_within(run, RECOVERY_S, killed_at)
    print(f"{name}: a normal answer {took:.1f} s after kill -9")
    assert re.search(rf"{name} is gestopt door signaal SIGKILL\. Over 1 s start Loket {name} opnieuw",
                     run.output())
    assert run.server(marker).pid != victim.pid
    done = chat(run, lambda c: drive_form(c, "handoff_form", sender, meta, first_text=start.next_answer()))
    assert done.reference, done
    assert outbox_status(run, done.reference) is not None  # stored with its outbox row


# --- stopping -----------------------------------------------------------------------------------


def test_sigterm_stops_every_server_within_10_s_and_frees_every_port(run):
    children = run.descendants()
    took = stop_run(run, signal.SIGTERM)
    assert run.proc.returncode == 0
    assert took < 10, f"{took:.1f} s"
    assert "Alle servers zijn gestopt." in run.output()
    assert_all_gone(run, children)


def test_sigint_stops_a_background_loket_run_too(tmp_path):
    run = start_run(tmp_path / "bg", ignore_sigint=True)
    try:
        children = run.descendants()
        took = stop_run(run, signal.SIGINT)
        assert run.proc.returncode == 0
        assert took < 10, f"{took:.1f} s"
    finally:
        stop_run(run, signal.SIGKILL)
    assert_all_gone(run, children)
