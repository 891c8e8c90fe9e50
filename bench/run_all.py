"""`make bench`: Loket next to Rasa's starter bot, measured in one run on one machine.

1. trains the `rasa init --no-prompt` bot in a temporary folder (the reference) and serves it;
2. trains Loket from scratch (`rasa train --force`, timed) and starts the full stack as `make run` does
   (action server, Rasa, web app) on free ports with its own SQLite databases;
3. drives both through the REST channel with the same load generator (bench/loadgen.py) at 1, 10 and 50
   concurrent conversations, then Loket scaled out: two Rasa instances (each with its action server)
   behind scripts/balancer.py, on PostgreSQL and the Redis lock store;
4. writes latency percentiles, throughput, peak memory and the Loket/reference ratios, training time and
   NLU figures, with date, commit and machine, into docs/BENCHMARKS.md (between the bench markers).

Raw numbers also go to results/bench/bench.json. Not part of `make test`.
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
from contextlib import ExitStack, contextmanager
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
RESULTS = PROJECT_ROOT / "results" / "bench"
TRAIN_LOCK = Path("/tmp/loket-train.lock")
API_TOKEN = "bench-token"  # the HTTP API on the benchmark's private ports, to read the domain

# The edge rate limits (bot/channels.py) still run, but one simulated user sends a whole form quickly.
BENCH_LIMITS = {"LOKET_RATE_SENDER_BURST": "1000", "LOKET_RATE_SENDER_PER_MINUTE": "100000"}

LEVELS = (1, 10, 50)
# Messages per level: enough for stable percentiles, small enough for a run of about half an hour.
MESSAGES = {1: 120, 10: 500, 50: 1200}


# The bench section of docs/BENCHMARKS.md: generated results, the profile, and prose kept by hand.
SKELETON = """<!-- bench-results:start -->
<!-- bench-results:end -->

<!-- bench-profile:start -->
<!-- bench-profile:end -->
"""


@dataclass
class Target:
    name: str
    url: str
    pids: list[int]
    conversations: list[list[str]]
    results: list[LevelResult] = field(default_factory=list)


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


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + (" + uncommitted changes" if git("status", "--porcelain") else "")


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
    """The process settings `loket run` uses for its servers (bot/cli.py), so the bench measures them."""
    from bot import cli

    return {k: os.environ.get(k, v) for k, v in getattr(cli, "SERVER_ENV", {}).items()}


def train_loket(out: Path) -> float:
    with train_lock():
        start = time.monotonic()
        subprocess.run([RASA, "train", "--force", "--domain", "domain", "--data", "data",
                        "--config", "config.yml", "--out", str(out)],
                       cwd=PROJECT_ROOT, env={**os.environ, **QUIET_ENV, **loket_server_env()},
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - start


def nlu_figures(model: Path, tmp: Path) -> dict:
    """Macro-F1 on the held-out set tests/nlu (the full per-intent table is `make bench-nlu`)."""
    out = tmp / "nlu-results"
    subprocess.run([RASA, "test", "nlu", "--nlu", "tests/nlu", "--model", str(model), "--out", str(out),
                    "--no-plot"], cwd=PROJECT_ROOT, env={**os.environ, **QUIET_ENV}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.loads((out / "intent_report.json").read_text())
    macro = report["macro avg"]
    return {"macro_f1": macro["f1-score"], "precision": macro["precision"], "recall": macro["recall"],
            "accuracy": report.get("accuracy"), "examples": macro["support"]}


def _commands(env: dict[str, str]) -> dict[str, list[str]]:
    from bot.cli import action_server_command, rasa_command
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
    from tests.stack import make_stack

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


# --- PostgreSQL + Redis for the scale-out ----------------------------------------------------


@contextmanager
def postgres_databases(*prefixes: str):
    from tests.test_migrations_postgres import pg_url, temporary_database

    with ExitStack() as stack:
        yield [pg_url(stack.enter_context(temporary_database(p))) for p in prefixes]


def start_scale_out(managed: Managed, tmp: Path, models_dir: Path, instances: int,
                    app_url: str, tracker_url: str, redis_url: str) -> tuple[str, list[int]]:
    """N x (action server + Rasa) on shared PostgreSQL and Redis, behind scripts/balancer.py."""
    from tests.stack import free_port

    backends = []
    for i in range(instances):
        env = {"LOKET_DATABASE_URL": app_url, "LOKET_TRACKER_DB_URL": tracker_url,
               "LOKET_REDIS_URL": redis_url}
        started = start_loket(managed, tmp / f"instance{i}", models_dir, env, web=(i == 0), suffix=f"-{i}")
        backends.append(started["RASA_URL"])
    port = free_port()
    cmd = [sys.executable, str(PROJECT_ROOT / "scripts" / "balancer.py"), "--port", str(port)]
    for url in backends:
        cmd += ["--backend", url]
    url = f"http://127.0.0.1:{port}"
    managed.start("balancer", cmd, {**os.environ, **QUIET_ENV}, f"{url}/_balancer")
    return url, managed.pids()


# --- measuring -----------------------------------------------------------------------------


def measure(target: Target, levels: tuple[int, ...], messages: dict[int, int], max_s: float) -> None:
    slug = target.name.lower().replace(" ", "-")  # sender ids allow no spaces (bot/privacy.py)
    asyncio.run(warm_up(target.url, target.conversations, sender_prefix=f"warm-{slug}"))
    for level in levels:
        cpu_before = tree_cpu_seconds(target.pids)
        with PeakMemory(target.pids) as mem:
            result = asyncio.run(run_level(target.url, target.conversations, level,
                                           max_messages=messages[level], max_duration_s=max_s,
                                           name=target.name, sender_prefix=f"{slug}-{time.time_ns()}"))
        result.peak_rss_mb = mem.peak_mb
        result.cpu_s = tree_cpu_seconds(target.pids) - cpu_before
        target.results.append(result)
        s = result.summary()
        print(f"  {target.name:<10} {level:>3} conc: {s['msg_per_s']:7.1f} msg/s  p50 {s['p50_ms']:7.1f}  "
              f"p95 {s['p95_ms']:7.1f}  p99 {s['p99_ms']:7.1f} ms  {s['peak_rss_mb']:7.0f} MB  "
              f"CPU {s['cpu_ms_per_msg']:6.1f} ms/msg  "
              f"errors {s['errors']}", flush=True)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def render(facts: dict, targets: dict[str, Target]) -> str:
    ref, lok = targets["reference"], targets["loket"]
    scale = targets.get("scale-out")
    m = facts["machine"]
    la0, la1 = facts["load_before"], facts["load_after"]
    lines = [
        "## Performance: Loket next to Rasa's starter bot (`make bench`)",
        "",
        f"Run {facts['date']}, commit `{facts['commit']}`, {facts['duration_min']:.0f} minutes. "
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, Python {m['python']}. "
        f"Load average (1 min) {la0[0]:.2f} before and {la1[0]:.2f} after the run.",
    ]
    if facts.get("busy_note"):
        lines += ["", facts["busy_note"]]
    lines += [
        "",
        "Both bots get the same load generator (bench/loadgen.py) over the REST channel: N simulated "
        "users at once, each sends a turn, waits for the answer, sends the next, and starts a new "
        "conversation at the end of one. Latency is the time for one turn (request to complete answer). "
        "Peak memory is the summed RSS of all server processes of that bot (psutil, sampled 4× a second); "
        "CPU ms/msg is the CPU time those processes used during the level divided by the turns (less "
        "sensitive to other work on the machine than latency).",
        "",
        f"- **reference**: `rasa init --no-prompt` (Rasa's default pipeline and policies, in-memory "
        f"tracker store, no action server); its own greet/mood conversations "
        f"({len(ref.conversations)} scripts).",
        f"- **Loket**: the full stack as `make run` starts it (Rasa with SQL tracker store on SQLite, "
        f"action server, web app); mix: {facts['loket_mix']}.",
    ]
    if scale:
        lines.append(f"- **Loket scale-out**: {facts['instances']} × (Rasa + action server) behind "
                     "scripts/balancer.py, application database and tracker store on PostgreSQL, Redis "
                     "lock store; same mix.")
    lines += ["", "| bot | users | messages | msg/s | p50 ms | p95 ms | p99 ms | peak RSS MB | CPU ms/msg "
              "| errors |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for target in (ref, lok, scale):
        if not target:
            continue
        for r in target.results:
            s = r.summary()
            lines.append(f"| {target.name} | {s['concurrency']} | {s['messages']} | {s['msg_per_s']:.1f} "
                         f"| {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['p99_ms']:.0f} "
                         f"| {s['peak_rss_mb']:.0f} | {s['cpu_ms_per_msg']:.0f} | {s['errors'] + s['empty']} |")
    lines += ["", "Ratios Loket / reference (latency and memory: lower is better; throughput: higher "
              "is better):", "",
              "| users | compared | p50 | p95 | p99 | msg/s | peak RSS |", "|---:|---|---:|---:|---:|---:|---:|"]
    ref_by = {r.concurrency: r for r in ref.results}
    for target in (lok, scale):
        if not target:
            continue
        for r in target.results:
            b = ref_by.get(r.concurrency)
            if not b:
                continue
            lines.append(f"| {r.concurrency} | {target.name} | {_ratio(r.pct(50), b.pct(50))} "
                         f"| {_ratio(r.pct(95), b.pct(95))} | {_ratio(r.pct(99), b.pct(99))} "
                         f"| {_ratio(r.throughput, b.throughput)} | {_ratio(r.peak_rss_mb, b.peak_rss_mb)} |")
    lines += ["", "Goals on this machine:", ""]
    lines += [f"- {g}" for g in goals(ref, lok, scale)]
    lines += ["", "Training and NLU:", ""]
    tr = facts.get("training", {})
    if tr.get("earlier"):
        lines.append("- (training times from an earlier `make bench` run on the same machine and day; "
                     "this run reused its trained models)")
    if tr.get("reference_s") is not None:
        lines.append(f"- reference: `rasa init --no-prompt` including training: {tr['reference_s']:.0f} s")
    if tr.get("loket_s") is not None:
        lines.append(f"- Loket: full `rasa train --force` (NLU and dialogue): {tr['loket_s']:.0f} s "
                     f"({tr['loket_s'] / 60:.1f} min)")
    nlu = facts.get("nlu")
    if nlu:
        lines.append(f"- Loket NLU on the held-out set tests/nlu: macro-F1 {nlu['macro_f1']:.3f} "
                     f"(precision {nlu['precision']:.3f}, recall {nlu['recall']:.3f}, accuracy "
                     f"{nlu['accuracy']:.3f}, {nlu['examples']} examples); per intent: the NLU section")
    elif facts.get("nlu_note"):
        lines.append(f"- {facts['nlu_note']}")
    lines += ["", "Server settings measured (from bot/cli.py `SERVER_ENV`): "
              + (", ".join(f"`{k}={v}`" for k, v in facts["server_env"].items()) or "Rasa's defaults")
              + "."]
    return "\n".join(lines) + "\n"


def goals(ref: Target, lok: Target, scale: Target | None) -> list[str]:
    out = []
    one = next((r for r in lok.results if r.concurrency == 1), None)
    if one:
        out.append(f"p50 ≤ 60 ms for one conversation: {one.pct(50):.0f} ms — "
                   f"{'met' if one.pct(50) <= 60 else 'not met'}")
    ref50 = next((r for r in ref.results if r.concurrency == 50), None)
    for target in (lok, scale):
        r50 = next((r for r in target.results if r.concurrency == 50), None) if target else None
        if not (r50 and ref50):
            continue
        out.append(f"{target.name}, p95 at 50 users no worse than the reference: {r50.pct(95):.0f} vs "
                   f"{ref50.pct(95):.0f} ms — {'met' if r50.pct(95) <= ref50.pct(95) else 'not met'}")
        ratio = r50.throughput / ref50.throughput if ref50.throughput else 0
        out.append(f"{target.name}, throughput ≥ 2× the reference at 50 users: {ratio:.2f}× — "
                   f"{'met' if ratio >= 2 else 'not met'}")
    return out


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent conversations")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the messages per level")
    parser.add_argument("--max-seconds", type=float, default=240, help="cap per level")
    parser.add_argument("--model", help="use this Loket model folder; skips the timed training")
    parser.add_argument("--reference-dir", help="reuse a trained `rasa init` folder; skips its training")
    parser.add_argument("--earlier-training", metavar="REF_S,LOKET_S",
                        help="training times measured in an earlier run (with --model/--reference-dir)")
    parser.add_argument("--instances", type=int, default=2, help="Rasa instances in the scale-out")
    parser.add_argument("--scale-levels", default="50", help="levels for the scale-out variant")
    parser.add_argument("--no-scale-out", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/BENCHMARKS.md")
    parser.add_argument("--only", choices=["reference", "loket", "scale-out"], action="append",
                        help="measure only these (repeatable); for debugging")
    args = parser.parse_args(argv)
    levels = tuple(int(x) for x in args.levels.split(","))
    scale_levels = tuple(int(x) for x in args.scale_levels.split(","))
    messages = {lv: max(10, int(MESSAGES.get(lv, 20 * lv) * args.scale)) for lv in set(levels + scale_levels)}
    only = set(args.only or ["reference", "loket", "scale-out"])
    if args.no_scale_out:
        only.discard("scale-out")

    began = time.monotonic()
    facts: dict = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit(),
                   "machine": machine(), "load_before": load_average(), "training": {},
                   "server_env": loket_server_env(), "instances": args.instances}
    targets: dict[str, Target] = {}
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.earlier_training:
        ref_s, loket_s = (float(x) for x in args.earlier_training.split(","))
        facts["training"] = {"reference_s": ref_s, "loket_s": loket_s, "earlier": True}

    with tempfile.TemporaryDirectory(prefix="loket-bench-") as tmp_name:
        tmp = Path(tmp_name)
        managed = Managed(RESULTS / "logs")
        try:
            if "reference" in only:
                ref_dir = Path(args.reference_dir) if args.reference_dir else tmp / "reference"
                if not args.reference_dir:
                    print("Reference: rasa init --no-prompt (trains) ...", flush=True)
                    with train_lock():
                        facts["training"]["reference_s"] = reference_bot.init_and_train(ref_dir)
                from tests.stack import free_port

                url = reference_bot.start(managed, ref_dir, free_port())
                targets["reference"] = Target("reference", url, managed.pids(["reference"]),
                                              reference_bot.CONVERSATIONS)
                measure(targets["reference"], levels, messages, args.max_seconds)
                managed.stop("reference")

            if only & {"loket", "scale-out"}:
                if args.model:
                    models_dir = Path(args.model)
                else:
                    print("Loket: rasa train --force (timed) ...", flush=True)
                    # Kept under results/ (git ignores it), so a later step can be rerun with --model.
                    models_dir = RESULTS / "loket-models"
                    shutil.rmtree(models_dir, ignore_errors=True)
                    facts["training"]["loket_s"] = train_loket(models_dir)
                    print(f"  trained in {facts['training']['loket_s']:.0f} s", flush=True)

            if "loket" in only:
                print("Loket: starting action server, Rasa and web app ...", flush=True)
                started = start_loket(managed, tmp / "loket", models_dir)
                mix, facts["loket_mix"] = loket_mix(started["RASA_URL"])
                targets["loket"] = Target("Loket", started["RASA_URL"], managed.pids(), mix)
                measure(targets["loket"], levels, messages, args.max_seconds)
                managed.stop_all()

            if "scale-out" in only:
                print(f"Loket scale-out: {args.instances} instances on PostgreSQL + Redis ...", flush=True)
                with postgres_databases("loket_bench", "loket_bench_trk") as (app_url, tracker_url):
                    url, pids = start_scale_out(managed, tmp / "scale", models_dir, args.instances,
                                                app_url, tracker_url,
                                                os.environ.get("LOKET_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
                    mix, mix_note = loket_mix(url)
                    facts.setdefault("loket_mix", mix_note)
                    targets["scale-out"] = Target("Loket scale-out", url, pids, mix)
                    measure(targets["scale-out"], scale_levels, messages, args.max_seconds)
                    managed.stop_all()

            if "loket" in only:
                model = max(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
                print("Loket: rasa test nlu on tests/nlu ...", flush=True)
                facts["nlu"] = nlu_figures(model, tmp)
        finally:
            managed.stop_all()

    facts["load_after"] = load_average()
    facts["duration_min"] = (time.monotonic() - began) / 60
    if max(facts["load_before"][0], facts["load_after"][0]) > 1.5:
        facts["busy_note"] = ("Note: other work was running on this machine during the run (see the load "
                              "averages), so absolute numbers are noisy; both bots were measured under "
                              "the same conditions, one after the other.")
    raw = {"facts": facts, "results": {k: [r.summary() for r in t.results] for k, t in targets.items()}}
    (RESULTS / "bench.json").write_text(json.dumps(raw, indent=2))
    print(f"Raw results: {RESULTS / 'bench.json'}")
    if not args.no_write and {"reference", "loket"} <= set(targets):
        if "<!-- bench-results:start -->" not in (BENCH_MD.read_text() if BENCH_MD.exists() else ""):
            replace_section(BENCH_MD, "bench", SKELETON)
        replace_section(BENCH_MD, "bench-results", render(facts, targets))
        print(f"Written: {BENCH_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
