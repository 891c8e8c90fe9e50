"""`loket run` without Rasa: which servers it starts and how, the umask, ports already taken, and
unsafe production settings reported without a traceback. The running stack: tests/test_loket_run.py."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys

import pytest

from bot.cli import run as run_cli
from bot.cli.process import RASA_ENV, web_python
from bot.settings import PROJECT_ROOT, load_settings
from tests.support.stack import free_port


@pytest.fixture
def settings(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    for name in ("LOKET_SMTP_HOST", "LOKET_MAIL_SINK", "LOKET_ENV", "LOKET_SECURE_COOKIES",
                 "SANIC_REQUEST_MAX_SIZE", "SANIC_WEBSOCKET_MAX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return load_settings()


def test_the_embedded_default_starts_the_mail_sink_first(settings):
    servers = run_cli.servers(settings)
    assert [s.name for s in servers] == ["mail", "actieserver", "rasa", "webapp"]
    assert servers[0].cmd[1:] == ["-m", "bot.handoffs.mailsink"]


def test_with_an_smtp_server_configured_there_is_no_sink(monkeypatch, tmp_path):
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOKET_SMTP_HOST", "smtp.example.nl")
    assert [s.name for s in run_cli.servers(load_settings())] == ["actieserver", "rasa", "webapp"]


def test_only_rasa_gets_the_64_kib_request_limit(settings):
    by_name = {s.name: s for s in run_cli.servers(settings)}
    assert by_name["rasa"].env["SANIC_REQUEST_MAX_SIZE"] == str(64 * 1024)
    assert by_name["rasa"].env["SANIC_WEBSOCKET_MAX_SIZE"] == str(64 * 1024)
    assert set(RASA_ENV) == {"SANIC_REQUEST_MAX_SIZE", "SANIC_WEBSOCKET_MAX_SIZE"}
    # Rasa sends the action server the whole tracker: no 64 KiB limit there.
    assert "SANIC_REQUEST_MAX_SIZE" not in by_name["actieserver"].env
    assert by_name["actieserver"].env["SANIC_HOST"] == "127.0.0.1"


def test_the_web_app_runs_from_venv_web_when_it_exists(settings):
    web = next(s for s in run_cli.servers(settings) if s.name == "webapp")
    assert web.cmd == [web_python(), "-m", "bot.web"]
    venv_web = PROJECT_ROOT / ".venv-web" / "bin" / "python"
    assert web_python() == (str(venv_web) if venv_web.exists() else sys.executable)


def test_run_sets_a_private_umask_and_handles_sigterm(monkeypatch, settings):
    seen = {}

    def fake_run(*args):
        seen["umask"] = os.umask(0o022)
        os.umask(seen["umask"])
        os.kill(os.getpid(), signal.SIGTERM)  # SIGTERM before the servers run: stops like Ctrl-C
        seen["after"] = True
        return 0

    old = os.umask(0o022)
    monkeypatch.setattr(run_cli, "_run", fake_run)
    try:
        assert run_cli.cmd_run(argparse.Namespace(no_train=True), settings) == 0
    finally:
        os.umask(old)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert seen["umask"] == 0o077
    assert "after" not in seen


def test_ports_in_use_are_named_before_anything_starts(settings, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("LOKET_RASA_PORT", str(port))
        monkeypatch.setenv("LOKET_ACTION_PORT", str(free_port()))
        monkeypatch.setenv("LOKET_WEB_PORT", str(free_port()))
        monkeypatch.setenv("LOKET_SMTP_PORT", str(free_port()))
        assert run_cli._ports_in_use(load_settings()) == [
            f"Poort {port} is al in gebruik (instelling LOKET_RASA_PORT)."]


def test_unsafe_production_settings_give_a_dutch_message_without_a_traceback(tmp_path):
    env = {**os.environ, "LOKET_DATA_DIR": str(tmp_path), "LOKET_ENV": "production",
           "LOKET_SECRET_KEY": "change-me-to-64-random-characters", "LOKET_SMTP_HOST": "smtp.example.nl"}
    done = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "python"), "-m", "bot.cli", "users", "list"],
                          env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Loket start niet" in done.stderr and "LOKET_SECRET_KEY" in done.stderr
    assert "Traceback" not in done.stderr
