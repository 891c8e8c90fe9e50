"""The supervisor of `loket run` (bot/cli/supervisor.py) with small fake servers: restarts with
backoff, giving up on a server that keeps stopping, stopping on SIGTERM/SIGINT without leaving a
process or a port behind. The same with the real servers: tests/test_loket_run.py (needs a model)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from bot.cli.supervisor import Server, Supervisor, Timing, exit_text, http_probe
from bot.settings import PROJECT_ROOT
from tests.support.stack import free_port, ignore_sigint, port_is_listening, wait_for

# A fake server: answers HTTP on its port. With "child" it serves from a forked child while the
# parent waits (like a server with workers); with "stubborn" it ignores SIGTERM; when the file named
# in FAIL_FILE exists it exits with code 3 at once.
FAKE = textwrap.dedent('''
    import http.server, os, signal, sys, time
    port, mode = int(sys.argv[1]), sys.argv[2]
    if os.path.exists(os.environ.get("FAIL_FILE", "/nonexistent")):
        sys.exit(3)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.end_headers(); self.wfile.write(str(os.getpid()).encode())
        def log_message(self, *args):
            pass
    if mode == "child" and os.fork() != 0:
        os.wait()
        sys.exit(0)
    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
''')

FAST = Timing(restart_first_s=0.2, restart_max_s=0.8, stable_after_s=60, crash_limit=5,
              crash_window_s=120, stop_timeout_s=3)


def server_pids(port: int) -> list[int]:
    """Processes that answer on the port (the fake returns its pid)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:  # noqa: S310
        return [int(resp.read())]


class Fakes:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.script = tmp / "fake_server.py"
        self.script.write_text(FAKE)
        self.fail_file = tmp / "fail"
        self.env = {**os.environ, "FAIL_FILE": str(self.fail_file)}

    def server(self, name: str, mode: str = "plain") -> tuple[Server, int]:
        port = free_port()
        cmd = [sys.executable, str(self.script), str(port), mode]
        return Server(name, cmd, http_probe(f"http://127.0.0.1:{port}/")), port

    def supervisor(self, servers: list[Server], timing: Timing = FAST) -> tuple[Supervisor, io.StringIO]:
        out = io.StringIO()
        return Supervisor(servers, log_dir=self.tmp / "logs", cwd=self.tmp, env=self.env, out=out,
                          err=out, timing=timing), out


@pytest.fixture
def fakes(tmp_path) -> Fakes:
    return Fakes(tmp_path)


def _watch_in_thread(sup: Supervisor) -> tuple[threading.Thread, list[int]]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(sup.watch()), daemon=True)
    thread.start()
    return thread, result


def test_exit_text_names_the_exit_code_or_the_signal():
    assert exit_text(3) == "gestopt met exitcode 3"
    assert exit_text(-9) == "gestopt door signaal SIGKILL"


def test_a_server_that_is_killed_is_restarted_with_a_growing_delay(fakes):
    server, port = fakes.server("actieserver")
    sup, out = fakes.supervisor([server])
    assert sup.start_all(timeout_s=30)
    thread, result = _watch_in_thread(sup)
    try:
        for n, delay in enumerate(("0.2", "0.4", "0.8", "0.8"), start=1):
            before = server_pids(port)[0]
            os.kill(before, signal.SIGKILL)
            wait_for(lambda n=n: out.getvalue().count("actieserver draait weer.") == n, 15, "the restart")
            assert _answering_pid(port) not in (None, before)
            assert f"actieserver is gestopt door signaal SIGKILL. Over {delay} s" in out.getvalue()
        assert thread.is_alive()  # four stops in two minutes: not yet a reason to give up
    finally:
        sup.stop_signal = signal.SIGTERM
        thread.join(10)
        sup.stop_all()
    assert result == [0]
    assert not port_is_listening(port)
    assert "=== loket run: actieserver start" in (fakes.tmp / "logs" / "actieserver.log").read_text()


def _answering_pid(port: int) -> int | None:
    try:
        return server_pids(port)[0]
    except OSError:
        return None


def test_a_server_that_keeps_stopping_ends_the_run_with_the_reason(fakes):
    server, port = fakes.server("rasa")
    other, other_port = fakes.server("webapp")
    sup, out = fakes.supervisor([server, other])
    assert sup.start_all(timeout_s=30)
    fakes.fail_file.write_text("x")  # from now on every start exits with code 3
    thread, result = _watch_in_thread(sup)
    os.kill(server_pids(port)[0], signal.SIGKILL)
    thread.join(30)
    try:
        assert result == [1]
        text = out.getvalue()
        assert "rasa is gestopt met exitcode 3" in text
        assert "rasa is 6 keer gestopt in 2 minuten (de laatste keer gestopt met exitcode 3)" in text
        assert "Loket stopt" in text and str(fakes.tmp / "logs" / "rasa.log") in text
    finally:
        sup.stop_all()
    assert not port_is_listening(other_port)


def test_a_worker_left_behind_by_a_killed_server_is_cleaned_up_so_the_restart_gets_the_port(fakes):
    server, port = fakes.server("actieserver", mode="child")
    sup, out = fakes.supervisor([server])
    assert sup.start_all(timeout_s=30)
    worker = server_pids(port)[0]
    assert worker != server.proc.pid
    thread, _ = _watch_in_thread(sup)
    try:
        os.kill(server.proc.pid, signal.SIGKILL)  # the parent only; its worker keeps the port
        wait_for(lambda: _answering_pid(port) not in (None, worker), 15, "a new worker")
        assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE
    finally:
        sup.stop_signal = signal.SIGTERM
        thread.join(10)
        sup.stop_all()
    assert not port_is_listening(port)


def test_stopping_kills_a_server_that_ignores_sigterm_after_the_timeout(fakes):
    stubborn, port = fakes.server("webapp", mode="stubborn")
    polite, polite_port = fakes.server("rasa")
    sup, out = fakes.supervisor([polite, stubborn], Timing(stop_timeout_s=1))
    assert sup.start_all(timeout_s=30)
    started = time.monotonic()
    sup.stop_all()
    assert time.monotonic() - started < 5
    assert stubborn.proc.returncode == -signal.SIGKILL and polite.proc.returncode == -signal.SIGTERM
    assert "webapp stopt niet binnen 1 s" in out.getvalue()
    assert not port_is_listening(port) and not port_is_listening(polite_port)


def test_a_server_that_cannot_start_is_reported_and_not_restarted(fakes):
    fakes.fail_file.write_text("x")
    server, _ = fakes.server("mail")
    sup, out = fakes.supervisor([server])
    assert not sup.start_all(timeout_s=30)
    assert "mail start niet (gestopt met exitcode 3)" in out.getvalue()
    assert server.proc.poll() == 3


# --- signals, in a real process started like a background job -----------------------------------

DRIVER = textwrap.dedent('''
    import sys
    from bot.cli.supervisor import Server, Supervisor, http_probe
    from pathlib import Path
    tmp, script = Path(sys.argv[1]), sys.argv[2]
    servers = [Server(f"s{i}", [sys.executable, script, port, mode], http_probe(f"http://127.0.0.1:{port}/"))
               for i, (port, mode) in enumerate(zip(sys.argv[3::2], sys.argv[4::2]))]
    sup = Supervisor(servers, log_dir=tmp / "logs", cwd=tmp, env=None)
    sup.install_signal_handlers()
    ok = sup.start_all(30)
    print("gestart" if ok else "niet gestart", flush=True)
    code = sup.watch() if ok else 1
    sup.stop_all()
    print("gestopt", flush=True)
    sys.exit(code)
''')


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_stop_every_server_even_when_started_in_the_background(fakes, signum):
    ports = [free_port(), free_port()]
    driver = fakes.tmp / "driver.py"
    driver.write_text(DRIVER)

    proc = subprocess.Popen(
        [sys.executable, str(driver), str(fakes.tmp), str(fakes.script), str(ports[0]), "child",
         str(ports[1]), "plain"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
        preexec_fn=ignore_sigint, env={**fakes.env, "PYTHONPATH": str(PROJECT_ROOT)})
    try:
        assert proc.stdout.readline().strip() == "gestart"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3  # two servers and the worker of the first
        started = time.monotonic()
        proc.send_signal(signum)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert proc.stdout.read().strip() == "gestopt"
    finally:
        if proc.poll() is None:
            proc.kill()
    gone, alive = psutil.wait_procs(children, timeout=2)
    assert not alive, alive
    assert not any(port_is_listening(p) for p in ports)


def test_servers_stop_when_the_supervisor_itself_is_killed(fakes):
    """kill -9 of `loket run` cannot be handled; the kernel then sends each server SIGTERM
    (PR_SET_PDEATHSIG), so no orphan keeps a port and the next start works."""
    ports = [free_port(), free_port()]
    driver = fakes.tmp / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(fakes.tmp), str(fakes.script), str(ports[0]), "plain",
         str(ports[1]), "plain"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
        env={**fakes.env, "PYTHONPATH": str(PROJECT_ROOT)})
    try:
        assert proc.stdout.readline().strip() == "gestart"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) == 2
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, alive
    assert not any(port_is_listening(p) for p in ports)
