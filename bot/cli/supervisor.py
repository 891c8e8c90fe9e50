"""Keeps the servers of `loket run` running.

Each server runs in its own process group (its own session), so a stop reaches the processes it
started too. A server that exits is started again after a delay that starts at 1 s and doubles to
30 s (back to 1 s once it ran a minute). `loket run` gives up only when one server stops more than
5 times within 2 minutes: then a restart does not help, and the log says why. SIGINT and SIGTERM stop
every server: SIGTERM to each group, SIGKILL to what is left after 10 s (Timing holds the numbers).

What the user reads is Dutch; it goes to stdout (problems to stderr) with the time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

POLL_S = 0.2
LEFTOVER_WAIT_S = 2.0
HEALTH_EVERY_S = 0.5


@dataclass(frozen=True)
class Timing:
    restart_first_s: float = 1.0
    restart_max_s: float = 30.0
    stable_after_s: float = 60.0  # a server that ran this long starts again at the first delay
    crash_limit: int = 5  # more exits than this ...
    crash_window_s: float = 120.0  # ... within this many seconds: give up
    stop_timeout_s: float = 10.0  # SIGTERM, then SIGKILL after this long

Probe = Callable[[], bool]


def http_probe(url: str) -> Probe:
    """Ready when `url` answers with a status below 500."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - local URL
                return resp.status < 500
        except urllib.error.HTTPError as exc:
            return exc.code < 500
        except (urllib.error.URLError, OSError):
            return False

    return probe


def tcp_probe(host: str, port: int) -> Probe:
    """Ready when something accepts connections on host:port (the mail sink speaks SMTP, not HTTP)."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False

    return probe


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} minuten" if seconds >= 120 else f"{seconds:g} seconden"


def exit_text(returncode: int) -> str:
    """Dutch: how a process ended (exit code, or the signal that ended it)."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"gestopt door signaal {name}"
    return f"gestopt met exitcode {returncode}"


def _find_prctl():
    """Linux's prctl, looked up now: the child may not import anything between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _find_prctl()
_PR_SET_PDEATHSIG = 1


def _child_setup() -> None:
    """Runs in the child before exec: default signal handling (a background shell starts us with
    SIGINT ignored, and children inherit that), and SIGTERM when `loket run` itself dies."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def _group_running(pgid: int) -> bool:
    """Whether a process of this group still runs (zombies hold no ports); Linux's /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid pgrp ...: comm may contain spaces, so split after its ")"
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@dataclass
class Server:
    name: str  # also the log file's name: <log_dir>/<name>.log
    cmd: list[str]
    ready: Probe
    env: dict[str, str] | None = None  # None: the supervisor's env
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    healthy: bool = False
    next_probe: float = 0.0
    restart_at: float | None = None
    delay: float = 1.0
    exits: deque[float] = field(default_factory=deque)


class Supervisor:
    def __init__(self, servers: list[Server], log_dir: Path, cwd: Path, env: dict[str, str],
                 out: TextIO | None = None, err: TextIO | None = None,
                 timing: Timing | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.servers = servers
        self.timing = timing or Timing()
        for server in servers:
            server.delay = self.timing.restart_first_s
        self.log_dir = log_dir
        self.cwd = cwd
        self.env = env
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.clock = clock
        self.stop_signal: int | None = None

    # --- output ---------------------------------------------------------------------------

    def say(self, text: str, problem: bool = False) -> None:
        stream = self.err if problem else self.out
        print(f"{time.strftime('%H:%M:%S')} {text}", file=stream, flush=True)

    def log_path(self, server: Server) -> Path:
        return self.log_dir / f"{server.name}.log"

    # --- signals --------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        """Explicit handlers: in the background SIGINT may be ignored, and SIGTERM would kill us
        without stopping the servers."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum

    # --- processes ------------------------------------------------------------------------

    def spawn(self, server: Server) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path(server), "ab") as log:
            log.write(f"\n=== loket run: {server.name} start {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n"
                      .encode())
            log.flush()
            server.proc = subprocess.Popen(
                server.cmd, cwd=self.cwd, env=server.env or self.env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_child_setup)  # noqa: PLW1509 - only signal and prctl calls
        server.started_at = self.clock()
        server.healthy = False
        server.next_probe = 0.0
        server.restart_at = None

    @staticmethod
    def _signal_group(server: Server, signum: int) -> None:
        if server.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.proc.pid, signum)

    def _reap(self, server: Server) -> int:
        """The exit code of a process that ended; what it started in its group is killed too
        (a worker left behind would keep the port)."""
        assert server.proc is not None
        code = server.proc.wait()
        self._signal_group(server, signal.SIGKILL)
        return code

    # --- start, watch, stop ---------------------------------------------------------------

    def start_all(self, timeout_s: float = 300) -> bool:
        """Start the servers one after the other, each until it answers. A server that cannot
        start (an error in its setup) is not restarted: the user has to look first."""
        for server in self.servers:
            self.spawn(server)
            deadline = self.clock() + timeout_s
            while not server.ready():
                if self.stop_signal is not None:
                    return False
                code = server.proc.poll() if server.proc else None
                if code is not None:
                    self._reap(server)
                    self.say(f"{server.name} start niet ({exit_text(code)}). "
                             f"Kijk in {self.log_path(server)} wat er misging.", problem=True)
                    return False
                if self.clock() > deadline:
                    self.say(f"{server.name} antwoordt na {timeout_s:.0f} s nog niet. "
                             f"Kijk in {self.log_path(server)}.", problem=True)
                    return False
                time.sleep(POLL_S)
            server.healthy = True
        return True

    def watch(self) -> int:
        """Restart servers that stop, until a signal (0) or a server that keeps stopping (1)."""
        while self.stop_signal is None:
            now = self.clock()
            for server in self.servers:
                if server.restart_at is not None:
                    if now >= server.restart_at:
                        self._restart(server)
                    continue
                code = server.proc.poll() if server.proc else None
                if code is not None:
                    if not self._exited(server, code, now):
                        return 1
                elif not server.healthy and now >= server.next_probe:
                    server.next_probe = now + HEALTH_EVERY_S
                    if server.ready():
                        server.healthy = True
                        self.say(f"{server.name} draait weer.")
            time.sleep(POLL_S)
        return 0

    def _exited(self, server: Server, code: int, now: float) -> bool:
        """Schedule a restart; False when the server stopped too often and we give up."""
        self._reap(server)
        t = self.timing
        server.exits.append(now)
        while server.exits and now - server.exits[0] > t.crash_window_s:
            server.exits.popleft()
        if len(server.exits) > t.crash_limit:
            self.say(f"{server.name} is {len(server.exits)} keer gestopt in "
                     f"{_duration(t.crash_window_s)} (de laatste keer {exit_text(code)}). "
                     f"Opnieuw starten helpt niet: Loket stopt. "
                     f"Kijk in {self.log_path(server)} wat er misging.", problem=True)
            return False
        if now - server.started_at >= t.stable_after_s:
            server.delay = t.restart_first_s
        self.say(f"{server.name} is {exit_text(code)}. Over {server.delay:g} s start Loket "
                 f"{server.name} opnieuw.", problem=True)
        self._schedule_restart(server, now)
        return True

    def _schedule_restart(self, server: Server, now: float) -> None:
        """Start it again after its delay; the next delay doubles, up to the maximum."""
        server.restart_at = now + server.delay
        server.delay = min(self.timing.restart_max_s, server.delay * 2)

    def _restart(self, server: Server) -> None:
        try:
            self.spawn(server)
        except OSError as exc:  # the program is gone: count it as a stop, try again later
            server.proc = None
            now = self.clock()
            server.exits.append(now)
            self._schedule_restart(server, now)
            self.say(f"{server.name} start niet ({exc.strerror or exc}).", problem=True)
            return
        self.say(f"{server.name} opnieuw gestart.")

    def stop_all(self) -> None:
        """SIGTERM to every server's group; SIGKILL to what still runs after the stop timeout."""
        timeout_s = self.timing.stop_timeout_s
        # A second Ctrl-C while stopping must not interrupt the stopping.
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not in the main thread (tests)
                signal.signal(signum, signal.SIG_IGN)
        running = [s for s in self.servers if s.proc is not None and s.proc.poll() is None]
        for server in running:
            self._signal_group(server, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for server in running:
            try:
                server.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{server.name} stopt niet binnen {timeout_s:.0f} s; "
                         "Loket stopt hem geforceerd.", problem=True)
                self._signal_group(server, signal.SIGKILL)
                server.proc.wait()
        for server in self.servers:  # leftovers in each group, also of servers that had stopped
            if server.proc is not None:
                self._signal_group(server, signal.SIGKILL)
        # SIGKILL is delivered asynchronously: return only when the groups are gone, so their ports
        # are free for the next start (bounded: a member that will not die is reported by the OS)
        deadline = time.monotonic() + LEFTOVER_WAIT_S
        groups = {server.proc.pid for server in self.servers if server.proc is not None}
        while groups and time.monotonic() < deadline:
            groups = {pgid for pgid in groups if _group_running(pgid)}
            if groups:
                time.sleep(0.02)
