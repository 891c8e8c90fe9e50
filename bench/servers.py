"""Processes under test: start, wait for health, sample memory of whole process trees, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.support.stack import wait_http  # the same readiness check the tests use

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONWARNINGS": "ignore",
    "RASA_TELEMETRY_ENABLED": "false",
}


@dataclass
class Managed:
    """A group of named server processes started by the benchmark (and only those are stopped)."""

    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, cmd: list[str], env: dict[str, str], health: str | None,
              cwd: Path | None = None, timeout_s: float = 300) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        if health:
            wait_http(health, [proc], timeout_s)
        return proc

    def pids(self, names: Iterable[str] | None = None) -> list[int]:
        chosen = self.procs if names is None else {n: self.procs[n] for n in names}
        return [p.pid for p in chosen.values() if p.poll() is None]

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        # Each server runs in its own session; signal that group so Sanic workers stop too.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)


def tree_rss_bytes(pids: Iterable[int]) -> int:
    """Resident memory of the processes and all their descendants, counted once each."""
    seen: dict[int, int] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                if proc.pid not in seen:
                    seen[proc.pid] = proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return sum(seen.values())


def tree_cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time used so far by the processes and their descendants."""
    total = 0.0
    seen: set[int] = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                if proc.pid not in seen:
                    seen.add(proc.pid)
                    t = proc.cpu_times()
                    total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


class PeakMemory:
    """Samples the RSS of groups of process trees in a thread: the peak of each group and of their sum.

    `groups` maps a name (one server) to its root pids; a bare list is one group called "all".
    """

    def __init__(self, groups: dict[str, list[int]] | Iterable[int], interval_s: float = 0.25) -> None:
        self.groups = dict(groups) if isinstance(groups, dict) else {"all": list(groups)}
        self.interval_s = interval_s
        self.peak = 0
        self.peaks: dict[str, int] = dict.fromkeys(self.groups, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        sizes = {name: tree_rss_bytes(pids) for name, pids in self.groups.items()}
        for name, size in sizes.items():
            self.peaks[name] = max(self.peaks[name], size)
        self.peak = max(self.peak, sum(sizes.values()))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def peaks_mb(self) -> dict[str, float]:
        return {name: size / 2**20 for name, size in self.peaks.items()}
