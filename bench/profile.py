"""Profile Loket under load: py-spy samples the Rasa server and the action server while the load
generator runs, and the samples are summed by the stage of a turn and by library.

    python -m bench.profile [--model models] [--users 10] [--seconds 40] [--write]

Raw samples (collapsed stacks, for flamegraph tools) go to results/bench/profile-*.txt; with --write the
summary replaces the bench-profile part of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.loadgen import run_level, warm_up
from bench.report import replace_section
from bench.run_all import BENCH_MD, RESULTS, loket_mix, loket_server_env, start_loket
from bench.servers import Managed
from bot.settings import PROJECT_ROOT

PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))

# Stage of a turn: the outermost matching function on the stack (checked from the root down).
STAGES: list[tuple[str, str]] = [
    ("parse_message", "NLU pipeline (entities, tf-idf intent and FAQ, fallback, language)"),
    ("_run_prediction_loop", "dialogue: policies and actions"),
    ("_predict_next_with_tracker", "dialogue: policy prediction (TED, rules, memoization)"),
    ("fetch_tracker_with_initial_session", "tracker store: load"),
    ("fetch_full_tracker_with_initial_session", "tracker store: load"),
    ("get_tracker", "tracker store: load"),
    ("save_tracker", "tracker store: save"),
    ("lock", "lock store"),
]
# Finer: inside the dialogue stage, what kind of work (checked from the leaf up).
LIBRARIES: list[tuple[str, str]] = [
    ("tensorflow/", "TensorFlow"),
    ("keras/", "TensorFlow"),
    ("/spacy/", "spaCy"),
    ("sklearn/", "scikit-learn"),
    ("scipy/", "SciPy/NumPy"),
    ("numpy/", "SciPy/NumPy"),
    ("sqlalchemy/", "SQLAlchemy + database driver"),
    ("psycopg2", "SQLAlchemy + database driver"),
    ("sqlite3", "SQLAlchemy + database driver"),
    ("redis/", "Redis client"),
    ("aiohttp/", "aiohttp (HTTP client/server)"),
    ("sanic", "Sanic (HTTP server)"),
    ("jsonschema/", "jsonschema (Rasa checks action replies)"),
    ("json", "JSON"),
    ("rasa/core/actions/action.py", "Rasa: action call"),
    ("rasa/nlu/", "Rasa NLU (Python part)"),
    ("rasa/core/policies/", "Rasa policies (Python part)"),
    ("rasa/core/featurizers/", "Rasa dialogue featurizers"),
    ("rasa/shared/", "Rasa tracker/domain/events"),
    ("rasa/engine/", "Rasa graph runner"),
    ("rasa/", "Rasa other"),
    ("rasa_sdk/", "rasa_sdk"),
    ("/actions/", "Loket actions"),
    ("/bot/", "Loket bot/ services"),
    ("asyncio/", "asyncio"),
    ("threading.py", "threads (waiting)"),
    ("concurrent/", "threads (waiting)"),
]


# Leaf frames of a thread that waits (py-spy in non-blocking mode cannot tell idle threads apart).
IDLE_LEAVES = ("serve (sanic/server/runners.py", "_worker (concurrent/futures/thread.py",
               "select (selectors.py", "wait (threading.py", "_wait_for_tstate_lock (threading.py",
               "run_forever (asyncio/base_events.py")


def is_idle(leaf: str) -> bool:
    return any(leaf.startswith(p.split(" (")[0] + " (") and p.split(" (")[1] in leaf for p in IDLE_LEAVES)


def parse_collapsed(path: Path) -> list[tuple[list[str], int]]:
    """Busy samples only: (frames root→leaf, count)."""
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = stack.split(";")
            if not is_idle(frames[-1]):
                samples.append((frames, int(count)))
    return samples


def summarise(samples: list[tuple[list[str], int]]) -> dict[str, Counter]:
    stages: Counter = Counter()
    libraries: Counter = Counter()
    functions: Counter = Counter()
    for frames, count in samples:
        stage = next((label for f in frames for key, label in STAGES if f.startswith(key + " ")), "other")
        stages[stage] += count
        lib = next((label for f in reversed(frames) for key, label in LIBRARIES if key in f), "other")
        libraries[lib] += count
        functions[frames[-1].split(" (")[0] + " (" + _short(frames[-1]) + ")"] += count
    return {"stages": stages, "libraries": libraries, "functions": functions}


def _short(frame: str) -> str:
    where = frame.split(" (", 1)[-1].rstrip(")")
    for marker in ("site-packages/", "/work/main/", "lib/python3.10/"):
        if marker in where:
            return where.split(marker, 1)[1]
    return where


def table(title: str, counter: Counter, total: int, top: int) -> list[str]:
    lines = [f"**{title}**", "", "| | share |", "|---|---:|"]
    for name, n in counter.most_common(top):
        lines.append(f"| {name} | {100 * n / total:.0f} % |")
    return lines + [""]


def record(pid: int, out: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([PY_SPY, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                             "--rate", "100", "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(PROJECT_ROOT / "models"))
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--write", action="store_true", help="write the summary into docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    summaries = {}
    with tempfile.TemporaryDirectory(prefix="loket-profile-") as tmp:
        managed = Managed(RESULTS / "logs")
        try:
            started = start_loket(managed, Path(tmp), Path(args.model), web=False)
            url = started["RASA_URL"]
            mix, mix_note = loket_mix(url)
            asyncio.run(warm_up(url, mix))
            outs = {name: RESULTS / f"profile-{name}.txt" for name in ("rasa", "actions")}
            spies = [record(managed.procs[f"loket-{name}"].pid, out, args.seconds)
                     for name, out in outs.items()]
            time.sleep(1)
            result = asyncio.run(run_level(url, mix, args.users, max_messages=10**6,
                                           max_duration_s=args.seconds - 2, name="profile"))
            for spy in spies:
                spy.wait(timeout=args.seconds + 60)
            for name, out in outs.items():
                summaries[name] = summarise(parse_collapsed(out)) if out.exists() else None
        finally:
            managed.stop_all()

    s = result.summary()
    lines = ["### Where the time goes (profile)", "",
             f"py-spy, 100 samples/s, on the Rasa server and the action server while {args.users} users "
             f"talk to Loket for {args.seconds:.0f} s (mix: {mix_note}); {s['messages']} turns, "
             f"{s['msg_per_s']:.1f} msg/s, p50 {s['p50_ms']:.0f} ms. Settings: "
             + (", ".join(f"`{k}={v}`" for k, v in loket_server_env().items()) or "defaults")
             + f". Measured {time.strftime('%Y-%m-%d %H:%M')} (`python -m bench.profile`).", ""]
    for name, summ in summaries.items():
        if not summ:
            lines += [f"No samples from the {name} process (py-spy needs ptrace rights).", ""]
            continue
        total = sum(summ["stages"].values())
        title = "Rasa server" if name == "rasa" else "Action server"
        busy = total / (100 * (args.seconds))
        lines += [f"#### {title}: {total} samples (≈ {100 * busy:.0f} % of one core busy)", ""]
        if name == "rasa":
            lines += table("By stage of a turn", summ["stages"], total, 8)
        lines += table("By library (innermost frame)", summ["libraries"], total, 10)
        lines += table("Hottest functions (self time)", summ["functions"], total, 8)
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section(BENCH_MD, "bench-profile", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
