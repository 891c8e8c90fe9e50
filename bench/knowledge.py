"""Knowledge search latency on a generated corpus (`make bench-knowledge`).

Generates N synthetic regelingen (default 10,000) from the words of the shipped content, loads them
with the real loader (validation, upsert, index rebuild) into a temporary SQLite database, runs varied
queries through bot.knowledge.search.search (one session per query, as the action server does) and
writes p50/p95/p99 into docs/BENCHMARKS.md between the knowledge markers. Goal: p95 <= 20 ms on SQLite.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

from bench.report import replace_section
from bot import db
from bot.knowledge.loader import load, read_knowledge
from bot.knowledge.schema import THEMES
from bot.knowledge.search import search
from bot.settings import PROJECT_ROOT

SEED = 2026
PREFIXES = ["Regeling", "Subsidie", "Fonds", "Lening", "Voucher", "Bijdrage", "Stimuleringsregeling",
            "Garantie", "Programma", "Investeringsfonds"]
# Questions as users type them; the generator adds typos and random word mixes on top.
QUESTIONS = [
    "subsidie voor innovatie", "loon kosten subsidie", "wbos aanvragen", "energie besparen",
    "hoe schrijf ik me in bij de kamer van koophandel", "lening voor starters",
    "werknemer met een beperking wordt ziek", "crowdfunding voor mijn product", "bedrijfsruimte zoeken",
    "social return bij aanbestedingen", "netwerk van sociale ondernemers", "jobcoach aanvragen",
    "europees sociaal fonds", "circulair ondernemen", "proefplaatsing met behoud van uitkering",
    "btw als kleine ondernemer", "stichting of bv", "impact meten", "vergunning voor verbouwing",
    "geld lenen als de bank nee zegt", "erkend leerbedrijf worden", "zonnepanelen op het dak",
]


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def generate(knowledge_dir: Path, target: Path, n: int, rng: random.Random) -> None:
    """Copy the shipped knowledge and add n synthetic regelingen built from its texts."""
    shutil.copytree(knowledge_dir, target)
    kn = read_knowledge(knowledge_dir)
    regs = [r for _, r in kn.regelingen]
    gemeenten = [g for g in kn.gemeenten]
    provincies = sorted({g.provincie for g in gemeenten})
    keywords = sorted({k for r in regs for k in r.keywords})
    topics = sorted({k for k in keywords if len(k) > 6 and " " not in k})
    entries = []
    for i in range(n):
        base, other = rng.choice(regs), rng.choice(regs)
        roll = rng.random()
        if roll < 0.7:
            region = {"level": "national"}
        elif roll < 0.85:
            region = {"level": "provincie", "provincie": rng.choice(provincies)}
        else:
            region = {"level": "gemeente",
                      "gemeenten": sorted({g.id for g in rng.sample(gemeenten, rng.randint(1, 3))})}
        entries.append({
            "id": f"synthetisch-{i:05d}",
            "name": f"{rng.choice(PREFIXES)} {rng.choice(topics)} {i}",
            "provider": rng.choice([base.provider, other.provider]),
            "audience": base.audience,
            "benefit": other.benefit,
            "summary": rng.choice([base.summary, other.summary]),
            "conditions": rng.sample(base.conditions + other.conditions,
                                     min(3, len(base.conditions + other.conditions))),
            "themes": sorted(set(rng.sample(THEMES, rng.randint(1, 2)))),
            "keywords": rng.sample(keywords, 5),
            "region": region,
            "source_url": f"https://www.example.org/regeling/{i}",
        })
    (target / "regelingen" / "synthetisch.yml").write_text(
        yaml.safe_dump({"regelingen": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")


def make_queries(vocab: list[str], gemeente_ids: list[str], count: int, rng: random.Random) -> list[dict]:
    queries = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            text = rng.choice(QUESTIONS)
        elif kind == 1:
            text = " ".join(rng.sample(vocab, rng.randint(1, 4)))
        else:
            text = " ".join(_typo(w, rng) for w in rng.choice(QUESTIONS).split())
        queries.append({
            "text": text,
            "themes": [rng.choice(THEMES)] if rng.random() < 0.6 else None,
            "gemeente_id": rng.choice(gemeente_ids) if rng.random() < 0.7 else None,
        })
    return queries


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run(n: int, count: int, write: bool) -> dict:
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="bench-knowledge-") as tmp:
        tmpdir = Path(tmp)
        generate(PROJECT_ROOT / "knowledge", tmpdir / "knowledge", n, rng)
        url = f"sqlite:///{tmpdir / 'loket.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        started = time.perf_counter()
        kn = load(engine, tmpdir / "knowledge", progress=True)
        load_s = time.perf_counter() - started

        with db.session_scope(engine) as s:
            from bot.knowledge.search import vocabulary

            started = time.perf_counter()
            vocab = vocabulary(s)
            vocab_ms = (time.perf_counter() - started) * 1000
        words = [w for w in vocab.choices if len(w) > 3]
        queries = make_queries(words, [g.id for g in kn.gemeenten], count, rng)

        for q in queries[:20]:  # warm up SQLite's page cache
            with db.session_scope(engine) as s:
                search(s, q["text"], themes=q["themes"], gemeente_id=q["gemeente_id"])
        latencies, cpu, hits = [], [], 0
        load_before = os.getloadavg()[0]
        for q in queries:
            started, cpu_started = time.perf_counter(), time.thread_time()
            with db.session_scope(engine) as s:
                results = search(s, q["text"], themes=q["themes"], gemeente_id=q["gemeente_id"])
            latencies.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - cpu_started) * 1000)
            hits += bool(results)
        load_after = os.getloadavg()[0]
        engine.dispose()

    stats = {
        "regelingen": kn.counts()["regelingen"], "loketten": kn.counts()["loketten"],
        "queries": len(queries), "with_results": hits, "load_s": load_s, "vocab_ms": vocab_ms,
        "vocab_words": len(vocab.choices),
        "p50": percentile(latencies, 0.50), "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99), "mean": statistics.fmean(latencies),
        "max": max(latencies),
        "cpu_p50": percentile(cpu, 0.50), "cpu_p95": percentile(cpu, 0.95),
        "cpu_p99": percentile(cpu, 0.99),
        "loadavg": (load_before + load_after) / 2, "cores": os.cpu_count() or 1,
    }
    if write:
        replace_section(PROJECT_ROOT / "docs" / "BENCHMARKS.md", "knowledge", report(stats))
    return stats


def report(s: dict) -> str:
    verdict = "met" if s["p95"] <= 20 else "NOT met"
    return "\n".join([
        "## Knowledge search (`make bench-knowledge`)",
        "",
        f"Measured {date.today().isoformat()} on {platform.machine()} "
        f"({platform.python_implementation()} {platform.python_version()}), SQLite FTS5.",
        f"Corpus: {s['regelingen']:,} regelingen (the shipped ones plus generated ones) and "
        f"{s['loketten']} loketten; {s['vocab_words']:,} indexed words.",
        f"{s['queries']} queries: user questions, random word mixes and questions with typos; 60 % "
        f"with a topic, 70 % with a gemeente. {s['with_results']} returned results.",
        "Each query runs in its own session, as in the action server (version check, typo "
        "correction, FTS query, region filter).",
        "",
        f"Machine load during the run: load average {s['loadavg']:.1f} on {s['cores']} cores. Wall "
        "time includes waiting for a CPU on a busy machine; CPU time is the search's own work.",
        "",
        "| measure | wall time | CPU time |",
        "|---|---|---|",
        f"| search p50 | {s['p50']:.1f} ms | {s['cpu_p50']:.1f} ms |",
        f"| search p95 | {s['p95']:.1f} ms (goal <= 20 ms: {verdict}) | {s['cpu_p95']:.1f} ms |",
        f"| search p99 | {s['p99']:.1f} ms | {s['cpu_p99']:.1f} ms |",
        f"| search mean / max | {s['mean']:.1f} / {s['max']:.1f} ms | |",
        "",
        "| other measure | value |",
        "|---|---|",
        f"| load with index rebuild (validate, upsert, index) | {s['load_s']:.1f} s |",
        f"| first search after a load (builds the typo word list) | {s['vocab_ms']:.0f} ms extra |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regelingen", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/BENCHMARKS.md")
    args = parser.parse_args()
    stats = run(args.regelingen, args.queries, write=not args.no_write)
    print(report(stats))


if __name__ == "__main__":
    main()
