"""`make bench`: Loket next to Rasa's starter bot, measured in one run on one machine.

1. `rasa init --no-prompt` in a temporary folder (the reference; its training is timed) and serves it;
2. trains Loket from scratch (`rasa train --force`, empty cache, timed), notes the archive size, and
   starts the stack as `make run` does (action server, Rasa, web app) with its own SQLite databases;
3. drives both through the REST channel with the same load generator (bench/loadgen.py) at 1, 10 and
   50 concurrent users, a new conversation for every message (as the issue that set the targets
   measured it), sampling the memory of every server process and the CPU they use;
4. measures NLU quality: intents and entities on the held-out set tests/nlu, and the seeded 5-fold
   cross-validation of `make bench-nlu`;
5. writes the tables to docs/BENCHMARKS.md and the figures to docs/benchmarks.json, with the time of
   the first `make run` and of a clean-clone CI run from `python -m bench.fresh_clone` (its last result
   in results/bench/fresh.json).

Optional: `--scale-out` adds two Rasa instances on PostgreSQL + Redis. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psutil
import requests

from bench import reference_bot
from bench.conversations import (
    FORM_TRIGGERS,
    KNOWLEDGE_CONVERSATIONS,
    ROUTING_CONVERSATIONS,
    drive_form,
)
from bench.loadgen import LevelResult, run_level, warm_up
from bench.report import replace_section
from bench.servers import QUIET_ENV, Managed, PeakMemory, tree_cpu_seconds
from bot.settings import PROJECT_ROOT

RASA = str(Path(sys.executable).with_name("rasa"))
BENCH_MD = PROJECT_ROOT / "docs" / "BENCHMARKS.md"
BENCH_JSON = PROJECT_ROOT / "docs" / "benchmarks.json"
RESULTS = PROJECT_ROOT / "results" / "bench"
FRESH_JSON = RESULTS / "fresh.json"
TRAIN_LOCK = Path("/tmp/loket-train.lock")
API_TOKEN = "bench-token"  # the HTTP API on the benchmark's private ports, to read the domain

# The edge rate limits (bot/rasa_ext/channels.py and bot/edge/) still run, but the load generator is one client.
BENCH_LIMITS = {"LOKET_RATE_SENDER_BURST": "1000", "LOKET_RATE_SENDER_PER_MINUTE": "100000",
                "LOKET_RATE_IP_BURST": "100000", "LOKET_RATE_IP_PER_MINUTE": "1000000"}

LEVELS = (1, 10, 50)
# Messages per level: enough for stable percentiles, small enough for a run of about a quarter hour.
MESSAGES = {1: 150, 10: 600, 50: 1500}

# Targets of the light-models issue (this 2-core machine); reported, never asserted in tests.
TARGETS = {"train_s": 180, "model_mb": 30, "throughput_1": 1.5, "throughput_50": 2.0, "p50_1_ms": 30,
           "first_make_run_s": 300, "ci_clean_clone_s": 900}



# The bench section of docs/BENCHMARKS.md: generated results, the profile, and prose kept by hand.
SKELETON = """<!-- bench-results:start -->
<!-- bench-results:end -->

<!-- bench-profile:start -->
<!-- bench-profile:end -->
"""


# --- machine and run facts -----------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "os": platform.platform(terse=True)}


def machine_text() -> str:
    m = machine()
    return f"{m['cores']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, Python {m['python']}"


def commit() -> tuple[str, bool]:
    """(short hash of HEAD, whether the work tree has uncommitted changes besides this run's output)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()

    outputs = {str(p.relative_to(PROJECT_ROOT)) for p in (BENCH_MD, BENCH_JSON)}
    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line[3:] not in outputs]
    return git("rev-parse", "--short", "HEAD") or "unknown", bool(changed)


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


@contextmanager
def train_lock():
    """Training is serialized on this machine (other work trains too); the wait is not timed."""
    TRAIN_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(TRAIN_LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- Loket ---------------------------------------------------------------------------------


def loket_server_env() -> dict[str, str]:
    """The process settings `loket run` uses for its servers, so the bench measures them."""
    from bot.cli.process import SERVER_ENV

    return {k: os.environ.get(k, v) for k, v in SERVER_ENV.items()}


def nlu_figures(model: Path, tmp: Path, cv: bool = True) -> dict:
    """Held-out intent macro-F1, FAQ answers and entity F1 per type; the seeded cross-validation."""
    from bench import nlu

    held = nlu.heldout(model)
    out = {"heldout_macro_f1": held["intent_report"]["macro avg"]["f1-score"],
           "faq_accuracy": held["faq_accuracy"],
           "entity_f1": {kind: v["exact"]["f1"] for kind, v in held["entities"].items()}}
    if cv:
        (tmp / "cv").mkdir()
        report, _ = nlu.cross_validate(5, os.cpu_count() or 1, tmp / "cv")
        out["cv_macro_f1"] = report["macro avg"]["f1-score"]
    return out


def _commands(env: dict[str, str]) -> dict[str, list[str]]:
    from bot.cli.run import action_server_command, rasa_command
    from bot.settings import load_settings

    old = dict(os.environ)
    os.environ.update(env)
    try:
        settings = load_settings()
        return {"actions": action_server_command(settings), "rasa": rasa_command(settings),
                "web": [sys.executable, "-m", "bot.web"]}
    finally:
        os.environ.clear()
        os.environ.update(old)


def start_loket(managed: Managed, tmp: Path, models_dir: Path, extra_env: dict[str, str] | None = None,
                web: bool = True, suffix: str = "") -> dict[str, str]:
    """Migrate, load knowledge and start action server, Rasa (and the web app) like `make run`."""
    from tests.support.stack import make_stack

    env = {**QUIET_ENV, **loket_server_env(), "LOKET_MODELS_DIR": str(models_dir),
           "LOKET_RASA_TOKEN": API_TOKEN, **BENCH_LIMITS, **(extra_env or {})}
    stack = make_stack(tmp, extra_env=env)
    cmds = _commands(stack.env)
    managed.start(f"loket-actions{suffix}", cmds["actions"], stack.env,
                  f"http://127.0.0.1:{stack.action_port}/health", cwd=PROJECT_ROOT)
    managed.start(f"loket-rasa{suffix}", cmds["rasa"], stack.env, f"{stack.rasa_url}/", cwd=PROJECT_ROOT)
    if web:
        managed.start(f"loket-web{suffix}", cmds["web"], stack.env, f"{stack.web_url}/health",
                      cwd=PROJECT_ROOT)
    return stack.env | {"RASA_URL": stack.rasa_url}


def form_conversation(rasa_url: str) -> list[str] | None:
    """Find the form of the running model and record one complete pass through it."""
    domain = requests.get(f"{rasa_url}/domain", params={"token": API_TOKEN},
                          headers={"Accept": "application/json"}, timeout=30).json()
    form = next((f for f in FORM_TRIGGERS if f in (domain.get("forms") or {})), None)
    if form is None:
        return None
    sender = f"bench-discover-{form}"

    def say(_i: int, text: str) -> list[dict]:
        resp = requests.post(f"{rasa_url}/webhooks/rest/webhook",
                             json={"sender": sender, "message": text}, timeout=120)
        resp.raise_for_status()
        return resp.json()

    def tracker(_i: int) -> dict:
        return requests.get(f"{rasa_url}/conversations/{sender}/tracker",
                            params={"token": API_TOKEN}, timeout=30).json()

    try:
        run = drive_form(form, say, tracker)
    except requests.RequestException as exc:
        print(f"  {form}: {exc}; form left out of the mix", flush=True)
        return None
    if not run.reference:
        print(f"  {form}: no reference number after {len(run.turns)} turns; form left out of the mix",
              flush=True)
        return None
    print(f"  {form}: {len(run.turns)} turns, reference {run.reference}", flush=True)
    return run.turns


def loket_mix(rasa_url: str) -> tuple[list[list[str]], str]:
    form = form_conversation(rasa_url)
    mix = [*KNOWLEDGE_CONVERSATIONS, *ROUTING_CONVERSATIONS]
    if form:
        mix.append(form)
        return mix, f"{len(KNOWLEDGE_CONVERSATIONS)} knowledge, {len(ROUTING_CONVERSATIONS)} routing, 1 form"
    return mix, f"{len(KNOWLEDGE_CONVERSATIONS)} knowledge, {len(ROUTING_CONVERSATIONS)} routing, no form"


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    groups: dict[str, list[int]]  # server name -> pids, for memory per process
    conversations: list[list[str]]
    results: list[LevelResult] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def pids(self) -> list[int]:
        return [pid for pids in self.groups.values() for pid in pids]

    def at(self, level: int) -> LevelResult | None:
        return next((r for r in self.results if r.concurrency == level), None)


def one_message_each(conversations: list[list[str]]) -> list[list[str]]:
    """Every turn as a conversation of its own: a new conversation for every message."""
    return [[turn] for conversation in conversations for turn in conversation]


def train_from_scratch(out: Path, cache: Path) -> float:
    """`rasa train --force` with an empty cache, timed (the wait for the machine's train lock is not)."""
    with train_lock():
        start = time.monotonic()
        subprocess.run([RASA, "train", "--force", "--domain", "domain", "--data", "data",
                        "--config", "config.yml", "--out", str(out)],
                       cwd=PROJECT_ROOT, env={**os.environ, **QUIET_ENV, **loket_server_env(),
                                              "RASA_CACHE_DIRECTORY": str(cache)},
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - start


def measure(target: Target, levels: tuple[int, ...], messages: dict[int, int], max_s: float) -> None:
    slug = target.name.lower().replace(" ", "-")  # sender ids allow no spaces (bot/privacy.py)
    asyncio.run(warm_up(target.url, target.conversations, sender_prefix=f"warm-{slug}"))
    with PeakMemory(target.groups) as memory:
        for level in levels:
            cpu_before = tree_cpu_seconds(target.pids)
            with PeakMemory(target.groups) as level_memory:
                result = asyncio.run(run_level(target.url, target.conversations, level,
                                               max_messages=messages[level], max_duration_s=max_s,
                                               name=target.name, sender_prefix=f"{slug}-{time.time_ns()}"))
            result.peak_rss_mb = level_memory.peak_mb
            result.cpu_s = tree_cpu_seconds(target.pids) - cpu_before
            target.results.append(result)
            s = result.summary()
            print(f"  {target.name:<10} {level:>3} users: {s['msg_per_s']:7.1f} msg/s  p50 {s['p50_ms']:7.1f}  "
                  f"p95 {s['p95_ms']:7.1f}  p99 {s['p99_ms']:7.1f} ms  {s['peak_rss_mb']:7.0f} MB  "
                  f"CPU {s['cpu_ms_per_msg']:6.1f} ms/msg  errors {s['errors']}  empty {s['empty']}", flush=True)
    target.rss_mb = memory.peaks_mb


# --- the figures ---------------------------------------------------------------------------


def _by_level(target: Target, key: str) -> dict[str, float]:
    return {str(r.concurrency): round(r.summary()[key], 1) for r in target.results}


def figures(facts: dict, targets: dict[str, Target]) -> dict:
    """docs/benchmarks.json: numbers are numbers; what was not measured is null."""
    ref, lok = targets["reference"], targets["loket"]
    fresh = facts.get("fresh") or {}
    out = {
        "measured_at": facts["measured_at"], "commit": facts["commit"], "dirty": facts["dirty"],
        "machine": facts["machine_text"], "load_avg": round(facts["load_before"][0], 2),
        "train_s": _round(facts.get("train_s")), "model_mb": _round(facts.get("model_mb"), 1),
        "reference_train_s": _round(facts.get("reference_train_s")),
        "first_make_run_s": _round(fresh.get("first_make_run_s")),
        "ci_clean_clone_s": _round(fresh.get("ci_clean_clone_s")),
        "fresh_clone_measured": {"at": fresh.get("measured_at"), "commit": fresh.get("commit")} if fresh else None,
        "rss_mb": {**{f"loket_{k}": round(v) for k, v in lok.rss_mb.items()},
                   "reference": round(sum(ref.rss_mb.values()))},
        "throughput_ratio": {str(r.concurrency): round(r.throughput / b.throughput, 2)
                             for r in lok.results if (b := ref.at(r.concurrency)) and b.throughput},
    }
    for key, field_name in (("msgs_per_s", "msg_per_s"), ("p50_ms", "p50_ms"), ("p95_ms", "p95_ms"),
                            ("p99_ms", "p99_ms"), ("cpu_ms_per_msg", "cpu_ms_per_msg")):
        out[key] = {"loket": _by_level(lok, field_name), "reference": _by_level(ref, field_name)}
    # an empty answer is not a failure: the starter bot says nothing to a lone "perfect" or "yes"
    out["errors"] = {"loket": sum(r.errors for r in lok.results), "reference": sum(r.errors for r in ref.results)}
    out["empty_answers"] = {"loket": sum(r.empty for r in lok.results),
                            "reference": sum(r.empty for r in ref.results)}
    nlu = facts.get("nlu") or {}
    out["nlu"] = {"heldout_macro_f1": _round(nlu.get("heldout_macro_f1"), 3),
                  "cv_macro_f1": _round(nlu.get("cv_macro_f1"), 3),
                  "faq_accuracy": _round(nlu.get("faq_accuracy"), 3),
                  "entity_f1": {k: round(v, 3) for k, v in (nlu.get("entity_f1") or {}).items()}}
    return out


def _round(value, digits: int = 0):
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)


def _ok(met: bool) -> str:
    return "met" if met else "**not met**"


def render(facts: dict, targets: dict[str, Target], fig: dict) -> str:
    ref, lok = targets["reference"], targets["loket"]
    la0, la1 = facts["load_before"], facts["load_after"]
    lines = [
        "## Performance: Loket next to Rasa's starter bot (`make bench`)",
        "",
        f"Run {facts['date']}, commit `{facts['commit']}{' + uncommitted changes' if facts['dirty'] else ''}`, "
        f"{facts['duration_min']:.0f} minutes. Machine: {facts['machine_text']}. Load average (1 min) "
        f"{la0[0]:.2f} before and {la1[0]:.2f} after the run.",
    ]
    if facts.get("busy_note"):
        lines += ["", facts["busy_note"]]
    lines += [
        "",
        "Both bots get the same load generator (bench/loadgen.py) over the REST channel: N simulated "
        "users at once, each sends a message in a new conversation, waits for the answer, and sends the "
        "next. Latency is the time for one message (request to complete answer). Memory is the peak "
        "RSS of each server process (psutil, sampled 4× a second); CPU ms/msg is the CPU time all server "
        "processes of that bot used during the level divided by its messages.",
        "",
        f"- **reference**: `rasa init --no-prompt` (Rasa's default pipeline and policies, in-memory "
        f"tracker store, no action server), its own {len(ref.conversations)} starter messages, each in a new "
        "conversation; it answers about one in fifteen of them with nothing: the empty answers.",
        f"- **Loket**: the stack as `make run` starts it (Rasa with the SQL tracker store on SQLite, "
        f"action server, web app), {len(lok.conversations)} messages: knowledge questions, routing, "
        "greetings.",
        "",
        "| bot | users | messages | msg/s | p50 ms | p95 ms | p99 ms | CPU ms/msg | errors | empty answers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in (ref, lok):
        for r in target.results:
            s = r.summary()
            lines.append(f"| {target.name} | {s['concurrency']} | {s['messages']} | {s['msg_per_s']:.1f} "
                         f"| {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['p99_ms']:.0f} "
                         f"| {s['cpu_ms_per_msg']:.1f} | {s['errors']} | {s['empty']} |")
    lines += ["", "| process | peak RSS MB |", "|---|---:|"]
    lines += [f"| {name} | {mb:.0f} |" for name, mb in fig["rss_mb"].items()]
    t = TARGETS
    one, fifty = fig["throughput_ratio"].get("1"), fig["throughput_ratio"].get("50")
    p50 = fig["p50_ms"]["loket"].get("1")
    rasa_rss, ref_rss = fig["rss_mb"].get("loket_rasa"), fig["rss_mb"]["reference"]
    lines += ["", "Targets (the light-models issue; this machine):", "",
              "| measure | target | this run | |", "|---|---|---|---|"]
    rows = [
        ("full training from scratch", f"≤ {t['train_s']} s", fig["train_s"], "s", fig["train_s"], t["train_s"]),
        ("model archive", f"≤ {t['model_mb']} MB", fig["model_mb"], "MB", fig["model_mb"], t["model_mb"]),
        ("Rasa server RSS", f"≤ the reference ({ref_rss} MB)", rasa_rss, "MB", rasa_rss, ref_rss),
        ("throughput vs reference, 1 user", f"≥ {t['throughput_1']}×", one, "×", t["throughput_1"], one),
        ("throughput vs reference, 50 users", f"≥ {t['throughput_50']}×", fifty, "×", t["throughput_50"], fifty),
        ("p50, 1 user", f"≤ {t['p50_1_ms']} ms", p50, "ms", p50, t["p50_1_ms"]),
        ("first `make run` on a fresh clone", f"≤ {t['first_make_run_s']} s", fig["first_make_run_s"], "s",
         fig["first_make_run_s"], t["first_make_run_s"]),
        ("clean-clone CI", f"≤ {t['ci_clean_clone_s']} s", fig["ci_clean_clone_s"], "s",
         fig["ci_clean_clone_s"], t["ci_clean_clone_s"]),
    ]
    for name, goal, value, unit, low, high in rows:
        shown = "not measured" if value is None else f"{value} {unit}"
        verdict = "" if value is None or low is None or high is None else _ok(low <= high)
        lines.append(f"| {name} | {goal} | {shown} | {verdict} |")
    if fig.get("fresh_clone_measured"):
        fc = fig["fresh_clone_measured"]
        lines += ["", f"The fresh-clone times come from `python -m bench.fresh_clone` ({fc['at']}, commit "
                  f"`{fc['commit']}`)."]
    nlu = fig["nlu"]
    lines += ["", "NLU quality (held-out set tests/nlu; entity F1 per type, exact span and type):", ""]
    if nlu["heldout_macro_f1"] is not None:
        lines.append(f"- intents: held-out macro-F1 {nlu['heldout_macro_f1']:.3f}"
                     + (f", 5-fold cross-validation macro-F1 {nlu['cv_macro_f1']:.3f}"
                        if nlu["cv_macro_f1"] is not None else "")
                     + (f"; FAQ answers chosen right {nlu['faq_accuracy']:.0%}" if nlu["faq_accuracy"] is not None
                        else ""))
        lines.append("- entities: " + ", ".join(f"{k} {v:.3f}" for k, v in nlu["entity_f1"].items()))
    lines += ["", f"Reference training (`rasa init --no-prompt`, which trains): {fig['reference_train_s']} s. "
              "Server settings measured (bot/cli/process.py `SERVER_ENV`): "
              + (", ".join(f"`{k}={v}`" for k, v in facts["server_env"].items()) or "Rasa's defaults") + "."]
    return "\n".join(lines) + "\n"


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent users")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the messages per level")
    parser.add_argument("--max-seconds", type=float, default=180, help="cap per level")
    parser.add_argument("--model", help="use this Loket model folder; skips the timed training")
    parser.add_argument("--reference-dir", help="reuse a trained `rasa init` folder; skips its training")
    parser.add_argument("--skip-cv", action="store_true", help="no cross-validation")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args(argv)
    levels = tuple(int(x) for x in args.levels.split(","))
    messages = {lv: max(10, int(MESSAGES.get(lv, 30 * lv) * args.scale)) for lv in levels}

    began = time.monotonic()
    head, dirty = commit()
    facts: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "commit": head, "dirty": dirty, "machine_text": machine_text(),
                   "load_before": load_average(), "server_env": loket_server_env()}
    targets: dict[str, Target] = {}
    RESULTS.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="loket-bench-") as tmp_name:
        tmp = Path(tmp_name)
        managed = Managed(RESULTS / "logs")
        try:
            ref_dir = Path(args.reference_dir) if args.reference_dir else tmp / "reference"
            if not args.reference_dir:
                print("Reference: rasa init --no-prompt (trains) ...", flush=True)
                with train_lock():
                    facts["reference_train_s"] = reference_bot.init_and_train(ref_dir)
            from tests.support.stack import free_port

            url = reference_bot.start(managed, ref_dir, free_port())
            targets["reference"] = Target("reference", url, {"reference": managed.pids(["reference"])},
                                          one_message_each(reference_bot.CONVERSATIONS))
            measure(targets["reference"], levels, messages, args.max_seconds)
            managed.stop("reference")

            if args.model:
                models_dir = Path(args.model)
            else:
                print("Loket: rasa train --force, empty cache (timed) ...", flush=True)
                # Kept under results/ (git ignores it), so a later step can be rerun with --model.
                models_dir = RESULTS / "loket-models"
                shutil.rmtree(models_dir, ignore_errors=True)
                facts["train_s"] = train_from_scratch(models_dir, tmp / "rasa-cache")
                print(f"  trained in {facts['train_s']:.0f} s", flush=True)
            model = max(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
            facts["model_mb"] = model.stat().st_size / 2**20

            print("Loket: starting action server, Rasa and web app ...", flush=True)
            started = start_loket(managed, tmp / "loket", models_dir)
            groups = {name.removeprefix("loket-"): managed.pids([name])
                      for name in ("loket-rasa", "loket-actions", "loket-web")}
            turns = one_message_each([*KNOWLEDGE_CONVERSATIONS, *ROUTING_CONVERSATIONS])
            targets["loket"] = Target("Loket", started["RASA_URL"], groups, turns)
            measure(targets["loket"], levels, messages, args.max_seconds)
            managed.stop_all()
        finally:
            managed.stop_all()

        print("Loket NLU: held-out set and cross-validation ...", flush=True)
        facts["nlu"] = nlu_figures(model, tmp, cv=not args.skip_cv)

    facts["fresh"] = json.loads(FRESH_JSON.read_text()) if FRESH_JSON.exists() else None
    facts["load_after"] = load_average()
    facts["duration_min"] = (time.monotonic() - began) / 60
    # only the load before counts: the run's own two-fold cross-validation raises the one after
    if facts["load_before"][0] > 1.0:
        facts["busy_note"] = ("Note: other work was running on this machine when the run began (see the load "
                              "averages), so absolute numbers are noisy; both bots were measured under "
                              "the same conditions, one after the other.")
    fig = figures(facts, targets)
    raw = {"facts": facts, "results": {k: [r.summary() for r in t.results] for k, t in targets.items()}}
    (RESULTS / "bench.json").write_text(json.dumps(raw, indent=2, default=str))
    print(json.dumps(fig, indent=1))
    if not args.no_write:
        BENCH_JSON.write_text(json.dumps(fig, indent=2) + "\n")
        if "<!-- bench-results:start -->" not in (BENCH_MD.read_text() if BENCH_MD.exists() else ""):
            replace_section(BENCH_MD, "bench", SKELETON)
        replace_section(BENCH_MD, "bench-results", render(facts, targets, fig))
        print(f"Written: {BENCH_JSON} and {BENCH_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
