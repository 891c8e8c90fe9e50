"""Start the real servers (action server, Rasa, web app) on free ports for end-to-end and browser tests.

Each stack gets its own data folder and SQLite databases, so tests never touch var/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bot.settings import PROJECT_ROOT

SHARED_STACK_TOKEN = "shared-stack-token"  # Rasa's HTTP API on the shared stack (tests/conftest.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, procs: list[subprocess.Popen], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"process exited early ({p.returncode}): {' '.join(p.args[:4])}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise TimeoutError(url)


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.05):
    """Poll until `predicate()` is truthy and return that value; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval_s)


def port_is_listening(port: int) -> bool:
    import psutil  # not in .venv-web, which imports this module for the web tests

    return any(c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
               for c in psutil.net_connections("tcp"))


def ignore_sigint() -> None:
    """preexec_fn: start a child as a shell starts `cmd &`, with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    action_port: int
    rasa_port: int
    web_port: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def database_url(self) -> str:
        return self.env["LOKET_DATABASE_URL"]

    def command(self, name: str) -> list[str]:
        from bot.cli.run import action_server_command, rasa_command
        from bot.settings import load_settings

        old = dict(os.environ)
        os.environ.update(self.env)
        try:
            settings = load_settings()
            if name == "actions":
                return action_server_command(settings)
            if name == "rasa":
                return rasa_command(settings)
            return [sys.executable, "-m", "bot.web"]
        finally:
            os.environ.clear()
            os.environ.update(old)

    def health_url(self, name: str) -> str:
        return {"actions": f"http://127.0.0.1:{self.action_port}/health",
                "rasa": f"{self.rasa_url}/",
                "web": f"{self.web_url}/health"}[name]

    def env_for(self, name: str) -> dict[str, str]:
        """The environment `loket run` gives this server (Rasa: Sanic's request size limits)."""
        from bot.cli.process import RASA_ENV

        return {**RASA_ENV, **self.env} if name == "rasa" else self.env

    def spawn(self, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(self.command(name), cwd=PROJECT_ROOT, env=self.env_for(name),
                                            stdout=log, stderr=subprocess.STDOUT)
        return self.procs[name]

    def start(self, name: str) -> None:
        wait_http(self.health_url(name), [self.spawn(name)])

    def stop(self, name: str, kill: bool = False) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        proc.kill() if kill else proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def say(self, sender: str, text: str, metadata: dict | None = None) -> list[dict]:
        body = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        resp = requests.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
        resp.raise_for_status()
        return resp.json()

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def make_stack(tmp: Path, extra_env: dict[str, str] | None = None, knowledge_dir: Path | None = None) -> Stack:
    """Prepare (migrate, load knowledge) but do not start anything yet."""
    from bot import db
    from bot.knowledge.loader import load

    tmp.mkdir(parents=True, exist_ok=True)
    ports = {"action": free_port(), "rasa": free_port(), "web": free_port()}
    env = dict(os.environ)
    env.update({
        "LOKET_DATA_DIR": str(tmp),
        "LOKET_DATABASE_URL": f"sqlite:///{tmp / 'loket.db'}",
        "LOKET_TRACKER_DB_URL": f"sqlite:///{tmp / 'tracker.db'}",
        "LOKET_ACTION_PORT": str(ports["action"]),
        "LOKET_RASA_PORT": str(ports["rasa"]),
        "LOKET_WEB_PORT": str(ports["web"]),
        "LOKET_PUBLIC_URL": f"http://127.0.0.1:{ports['web']}",
        "LOKET_SECRET_KEY": "test-secret-key-" + "x" * 32,
        "SANIC_HOST": "127.0.0.1",
        "LOKET_WEBHOOK_ALLOW_LOOPBACK": "true",  # test receivers listen on 127.0.0.1 over http
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    })
    env.update(extra_env or {})
    db.upgrade(env["LOKET_DATABASE_URL"])
    engine = db.make_engine(env["LOKET_DATABASE_URL"])
    load(engine, knowledge_dir or PROJECT_ROOT / "knowledge")
    engine.dispose()
    return Stack(tmp=tmp, env=env, action_port=ports["action"], rasa_port=ports["rasa"],
                 web_port=ports["web"])
