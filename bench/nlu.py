"""`make bench-nlu`: 5-fold cross-validation on data/nlu and the held-out test set in tests/nlu.

Writes a per-intent table with precision/recall/F1 and the main confusions into docs/BENCHMARKS.md
(between the nlu markers). Training happens inside Rasa's own commands; nothing here is timed in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.report import replace_section
from bot.settings import PROJECT_ROOT

RASA = str(Path(sys.executable).with_name("rasa"))
ENV = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
           SQLALCHEMY_SILENCE_UBER_WARNING="1", PYTHONWARNINGS="ignore")


def run(cmd: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(cmd, cwd=PROJECT_ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def newest_model(folder: Path) -> Path:
    return max(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)


def read_report(results: Path) -> tuple[dict, list]:
    report = json.loads((results / "intent_report.json").read_text())
    errors_file = results / "intent_errors.json"
    errors = json.loads(errors_file.read_text()) if errors_file.exists() else []
    return report, errors


def per_intent(report: dict) -> dict[str, dict]:
    skip = {"accuracy", "macro avg", "weighted avg", "micro avg"}
    return {k: v for k, v in report.items() if k not in skip and isinstance(v, dict)}


def confusions(errors: list, top: int = 8) -> list[tuple[str, str, int]]:
    pairs = Counter((e["intent"], e["intent_prediction"]["name"]) for e in errors)
    return [(a, b, n) for (a, b), n in pairs.most_common(top)]


def table(title: str, report: dict, errors: list) -> str:
    intents = per_intent(report)
    macro = report["macro avg"]
    lines = [f"### {title}", "",
             f"Macro F1 **{macro['f1-score']:.3f}** (precision {macro['precision']:.3f}, "
             f"recall {macro['recall']:.3f}), accuracy {report.get('accuracy', 0):.3f}, "
             f"{sum(v['support'] for v in intents.values())} examples.", "",
             "| intent | precision | recall | F1 | examples |", "|---|---:|---:|---:|---:|"]
    for name, v in sorted(intents.items(), key=lambda kv: kv[1]["f1-score"]):
        lines.append(f"| {name} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1-score']:.2f} "
                     f"| {v['support']} |")
    hot = confusions(errors)
    if hot:
        lines += ["", "Most frequent confusions (true → predicted, count):", ""]
        lines += [f"- {a} → {b}: {n}" for a, b, n in hot]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--skip-cv", action="store_true", help="only the held-out test set")
    parser.add_argument("--model", help="an existing model for the held-out test (else train one)")
    args = parser.parse_args(argv)

    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.model:
            model, train_s = Path(args.model), None
        else:
            train_s = run([RASA, "train", "nlu", "--nlu", "data/nlu", "--config", "config.yml",
                           "--domain", "domain", "--out", str(tmp_path / "models")])
            model = newest_model(tmp_path / "models")
        run([RASA, "test", "nlu", "--nlu", "tests/nlu", "--model", str(model),
             "--out", str(tmp_path / "heldout"), "--no-plot"])
        held_report, held_errors = read_report(tmp_path / "heldout")
        sections.append(table("Held-out test set (tests/nlu, never used in training)",
                              held_report, held_errors))
        cv_s = None
        if not args.skip_cv:
            cv_s = run([RASA, "test", "nlu", "--nlu", "data/nlu", "--config", "config.yml",
                        "--cross-validation", "--folds", str(args.folds),
                        "--out", str(tmp_path / "cv"), "--no-plot"])
            cv_report, cv_errors = read_report(tmp_path / "cv")
            sections.append(table(f"{args.folds}-fold cross-validation on data/nlu", cv_report,
                                  cv_errors))

    head = [f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores "
            f"(`make bench-nlu`)."]
    if train_s:
        head.append(f"NLU training time: {train_s:.0f} s.")
    if cv_s:
        head.append(f"Cross-validation time: {cv_s:.0f} s.")
    body = "## NLU quality\n\n" + " ".join(head) + "\n\n" + "\n\n".join(sections) + "\n"
    replace_section(PROJECT_ROOT / "docs" / "BENCHMARKS.md", "nlu", body)
    held_macro = held_report["macro avg"]["f1-score"]
    print(f"held-out macro F1 {held_macro:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
