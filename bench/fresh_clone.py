"""Time what a new user and CI go through, each on a fresh clone of this repository's HEAD.

1. `make run` on a fresh clone, until the bot answers "Hallo" over the REST channel (it installs the
   venv, trains and starts everything); then the servers are stopped with Ctrl-C (SIGINT);
2. `bash .ci/run` on another fresh clone (installs from scratch, starts services, runs `make test`).

Only committed work is measured (a clone has no uncommitted changes). The result goes to
results/bench/fresh.json, which `make bench` puts into docs/benchmarks.json.

    .venv/bin/python -m bench.fresh_clone            # both
    .venv/bin/python -m bench.fresh_clone --skip-ci  # only the first `make run`
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from bot.settings import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "results" / "bench"
OUT = RESULTS / "fresh.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(PROJECT_ROOT), str(dest)], check=True)
    return dest


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without what points into this checkout (its venv, its Rasa cache, its code)."""
    # PYTHONPATH too: with it the clone's `loket` would import this checkout's bot/ and train here
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "RASA_CACHE_DIRECTORY", "PYTHONPATH") and not k.startswith("LOKET_")}
    return {**env, **extra}


def bot_answers(url: str) -> bool:
    try:
        resp = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": "fresh-clone", "message": "Hallo"},
                             timeout=10)
        return resp.status_code == 200 and bool(resp.json())
    except (requests.RequestException, ValueError):
        return False


def time_make_run(clone: Path, log: Path, timeout_s: float = 3600) -> float:
    """Seconds from `make run` to the first answer; the stack is stopped afterwards."""
    ports = {"LOKET_RASA_PORT": free_port(), "LOKET_ACTION_PORT": free_port(), "LOKET_WEB_PORT": free_port()}
    env = clean_env(**{k: str(v) for k, v in ports.items()})
    url = f"http://127.0.0.1:{ports['LOKET_RASA_PORT']}"
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            while not bot_answers(url):
                if proc.poll() is not None:
                    raise RuntimeError(f"`make run` stopped with {proc.returncode}; see {log}")
                if time.monotonic() - start > timeout_s:
                    raise TimeoutError(f"no answer after {timeout_s} s; see {log}")
                time.sleep(1)
            return time.monotonic() - start
        finally:
            _stop(proc, clone)


def _stop(proc: subprocess.Popen, clone: Path) -> None:
    """Ctrl-C to `make run`; then make sure nothing started from the clone keeps running."""
    import psutil

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    left = [p for p in psutil.process_iter(["cmdline"]) if str(clone) in " ".join(p.info["cmdline"] or [])]
    for p in left:
        p.kill()
    if left:
        print(f"{len(left)} process(es) of the clone were still running after Ctrl-C; killed", flush=True)


def time_ci(clone: Path, log: Path) -> tuple[float, int]:
    env = clean_env(CI="true")
    start = time.monotonic()
    with open(log, "wb") as out:
        code = subprocess.call(["bash", ".ci/run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT)
    return time.monotonic() - start, code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-ci", action="store_true")
    parser.add_argument("--skip-run", action="store_true")
    args = parser.parse_args(argv)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                          text=True).stdout.strip()
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = json.loads(OUT.read_text()) if OUT.exists() else {}
    result.update({"measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "commit": head})
    with tempfile.TemporaryDirectory(prefix="loket-fresh-") as tmp:
        if not args.skip_run:
            clone = fresh_clone(Path(tmp) / "run")
            result["first_make_run_s"] = time_make_run(clone, RESULTS / "fresh-make-run.log")
            print(f"first `make run` until the bot answers: {result['first_make_run_s']:.0f} s", flush=True)
        if not args.skip_ci:
            clone = fresh_clone(Path(tmp) / "ci")
            seconds, code = time_ci(clone, RESULTS / "fresh-ci.log")
            result["ci_clean_clone_s"], result["ci_exit_code"] = seconds, code
            print(f"clean-clone CI (bash .ci/run): {seconds:.0f} s, exit code {code}", flush=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Written: {OUT}")
    return 0 if result.get("ci_exit_code", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
