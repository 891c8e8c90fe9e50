"""`make bench-nlu`: 5-fold cross-validation on data/nlu and the held-out test set in tests/nlu.

Writes a per-intent table with precision/recall/F1 and the main confusions into docs/BENCHMARKS.md
(between the nlu markers). Nothing here is timed in tests.

The cross-validation is Rasa's own recipe (stratified folds on the full intent, `train_nlu` on the rest,
`get_eval_data` on the fold, fallback predictions undone; without the English routing, which is a
rule), with two differences from
`rasa test nlu --cross-validation`: the folds come from a fixed seed, so two runs on the same data and
config compare, and the folds train in parallel, one TensorFlow thread each (one process per core beat
one process with two threads on 2 cores).
"""

from __future__ import annotations

import argparse
import multiprocessing
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


FOLD_SEED = 2026
WORKER_ENV = {"TF_INTRA_OP_PARALLELISM_THREADS": "1", "TF_INTER_OP_PARALLELISM_THREADS": "1"}


def split_folds(nlu_dir: Path, folds: int, out: Path) -> list[tuple[Path, Path]]:
    """Write train/test YAML per fold, stratified on the full intent (faq/... counts per sub-intent)."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    data = load_data(str(nlu_dir))
    examples = data.intent_examples
    labels = [e.get_full_intent() for e in examples]
    shared = dict(entity_synonyms=data.entity_synonyms, regex_features=data.regex_features,
                  lookup_tables=data.lookup_tables, responses=data.responses)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=FOLD_SEED)
    paths = []
    for i, (train_idx, test_idx) in enumerate(skf.split(examples, labels)):
        pair = (out / f"fold{i}-train.yml", out / f"fold{i}-test.yml")
        for path, idx in zip(pair, (train_idx, test_idx), strict=True):
            RasaYAMLWriter().dump(path, TrainingData(training_examples=[examples[j] for j in idx],
                                                     **shared))
        paths.append(pair)
    return paths


def run_fold(job: tuple[str, str, str, str]) -> list[dict]:
    """Train on one fold's rest and predict its test part; runs in a fresh process."""
    config, train_file, test_file, out = job
    os.environ.update(ENV)
    os.environ.update(WORKER_ENV)
    # Rasa's training cache is one SQLite file per directory; parallel folds must not share it
    os.environ["RASA_CACHE_DIRECTORY"] = str(Path(out) / "cache")
    import asyncio

    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu
    from rasa.nlu.test import get_eval_data
    from rasa.shared.nlu.training_data.loading import load_data

    model = train_nlu(config, train_file, out)
    processor = Agent.load(model).processor
    intent_results, _, _ = asyncio.run(get_eval_data(processor, load_data(test_file)))
    return [{"text": r.message, "intent": r.intent_target,
             "intent_prediction": {"name": r.intent_prediction, "confidence": r.confidence}}
            for r in intent_results]


ENTITY_TYPES = ("gemeente", "woonplaats", "postcode", "onderwerp", "organisatie", "rechtsvorm")
MATCH_MODES = ("exact", "overlap")


def _same(mode: str, a: tuple, b: tuple) -> bool:
    if a[0] != b[0]:
        return False
    return a[1:] == b[1:] if mode == "exact" else a[1] < b[2] and b[1] < a[2]


def entity_report(pairs: list[tuple[list[dict], list[dict]]]) -> dict[str, dict]:
    """Precision, recall and F1 per entity type over (annotated, predicted) entity lists.

    A prediction counts when type, start and end equal an annotation ("exact"), or when the type
    matches and the spans overlap ("overlap"). The predictions of all extractors together are what the
    bot uses, so a span two extractors both found counts once.
    """
    counts: dict[tuple[str, str], Counter] = {}
    for gold, predicted in pairs:
        g = {(e["entity"], e["start"], e["end"]) for e in gold}
        p = {(e["entity"], e["start"], e["end"]) for e in predicted}
        for mode in MATCH_MODES:
            for e in g:
                c = counts.setdefault((e[0], mode), Counter())
                c["support"] += 1
                c["found"] += any(_same(mode, e, o) for o in p)
            for e in p:
                c = counts.setdefault((e[0], mode), Counter())
                c["predicted"] += 1
                c["right"] += any(_same(mode, e, o) for o in g)
    report: dict[str, dict] = {}
    for (kind, mode), c in sorted(counts.items()):
        precision = c["right"] / c["predicted"] if c["predicted"] else 0.0
        recall = c["found"] / c["support"] if c["support"] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report.setdefault(kind, {})[mode] = {"precision": precision, "recall": recall, "f1": f1,
                                             "support": c["support"], "predicted": c["predicted"]}
    return report


def undo_language_routing(result: dict) -> dict:
    """The parse result as the classifier made it, before EnglishDetector put `english` on top."""
    intent = result.get("intent") or {}
    if intent.get("name") != "english":
        return result
    ranking = [r for r in result.get("intent_ranking") or [] if r.get("name") != "english"]
    if not ranking:
        return result
    return {**result, "intent": ranking[0], "intent_ranking": ranking}


def heldout(model: Path, test_dir: Path = PROJECT_ROOT / "tests" / "nlu") -> dict:
    """Intent, FAQ-answer and entity figures of one model on the held-out set, in this process.

    Intents as `rasa test nlu` counts them: a fallback prediction is undone, so the intent the
    classifier chose is scored. The same for the English routing (EnglishDetector): the held-out set
    labels English questions with their topic, and the classifier's topic is what is measured here.
    """
    import asyncio

    from rasa.core.agent import Agent
    from rasa.core.channels import UserMessage
    from rasa.nlu.classifiers import fallback_classifier
    from rasa.shared.nlu.training_data.loading import load_data

    processor = Agent.load(str(model)).processor
    examples = load_data(str(test_dir)).intent_examples

    async def parse_all() -> list[dict]:
        return [await processor.parse_message(UserMessage(e.get("text"))) for e in examples]

    parsed = asyncio.run(parse_all())
    results, pairs, faq = [], [], []
    for example, result in zip(examples, parsed, strict=True):
        result = undo_language_routing(result)
        if fallback_classifier.is_fallback_classifier_prediction(result):
            result = fallback_classifier.undo_fallback_prediction(result)
        intent = result.get("intent") or {}
        results.append({"text": example.get("text"), "intent": example.get("intent"),
                        "intent_prediction": {"name": intent.get("name"),
                                              "confidence": intent.get("confidence")}})
        pairs.append((example.get("entities") or [], result.get("entities") or []))
        if example.get("intent_response_key"):
            chosen = ((result.get("response_selector") or {}).get(example.get("intent")) or {})
            faq.append(chosen.get("response", {}).get("intent_response_key")
                       == example.get("intent_response_key"))
    report, errors = report_from_results(results)
    return {"intent_report": report, "intent_errors": errors, "entities": entity_report(pairs),
            "faq_accuracy": sum(faq) / len(faq) if faq else None, "faq_examples": len(faq)}


# A rule, not a learned component: it would put `english` over the topic the data gives an English
# example (about 190 of 3,768 predictions); tests/test_conversation_quality.py tests it, the folds measure
# the classifier.
ROUTING_COMPONENTS = ("bot.rasa_ext.nlp.EnglishDetector",)


def classifier_config(config: Path, out: Path) -> Path:
    """`config` without the language routing, written to `out`; the folds train from it."""
    import yaml

    data = yaml.safe_load(config.read_text())
    data["pipeline"] = [c for c in data.get("pipeline") or [] if c.get("name") not in ROUTING_COMPONENTS]
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def cross_validate(folds: int, jobs: int, tmp: Path, nlu_dir: Path = PROJECT_ROOT / "data" / "nlu",
                   config: Path = PROJECT_ROOT / "config.yml") -> tuple[dict, list]:
    pairs = split_folds(nlu_dir, folds, tmp)
    config = classifier_config(config, tmp / "config-classifier.yml")
    work = [(str(config), str(tr), str(te), str(tmp / f"model{i}")) for i, (tr, te) in enumerate(pairs)]
    # spawn: each fold gets its own TensorFlow, built with the worker's thread settings
    with multiprocessing.get_context("spawn").Pool(jobs, maxtasksperchild=1) as pool:
        results = [r for fold in pool.map(run_fold, work, chunksize=1) for r in fold]
    return report_from_results(results)


def report_from_results(results: list[dict]) -> tuple[dict, list]:
    """The intent_report.json / intent_errors.json pair Rasa writes, from pooled fold predictions."""
    from sklearn.metrics import accuracy_score, classification_report

    truth = [r["intent"] for r in results]
    predicted = [r["intent_prediction"]["name"] for r in results]
    report = classification_report(truth, predicted, output_dict=True, zero_division=0)
    report["accuracy"] = accuracy_score(truth, predicted)
    errors = [r for r in results if r["intent"] != r["intent_prediction"]["name"]]
    return report, errors


def newest_model(folder: Path) -> Path:
    return max(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)


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


def entity_table(held: dict) -> str:
    lines = ["### Entities on the held-out set", "",
             "Per type; a prediction is right when type, start and end equal the annotation (exact), or "
             "when the type matches and the spans overlap (overlap)."
             + (f" FAQ answers chosen right: {held['faq_accuracy']:.0%} of {held['faq_examples']}."
                if held["faq_accuracy"] is not None else ""), "",
             "| entity | precision | recall | F1 exact | F1 overlap | annotated |", "|---|---:|---:|---:|---:|---:|"]
    for kind, v in held["entities"].items():
        e, o = v["exact"], v["overlap"]
        lines.append(f"| {kind} | {e['precision']:.3f} | {e['recall']:.3f} | {e['f1']:.3f} | {o['f1']:.3f} "
                     f"| {e['support']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--skip-cv", action="store_true", help="only the held-out test set")
    parser.add_argument("--model", help="an existing model for the held-out test (else train one)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="folds trained at the same time (default: one per core)")
    parser.add_argument("--config", default="config.yml", help="pipeline to measure (default: config.yml)")
    args = parser.parse_args(argv)
    config = (PROJECT_ROOT / args.config).resolve()

    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.model:
            model, train_s = Path(args.model), None
        else:
            train_s = run([RASA, "train", "nlu", "--nlu", "data/nlu", "--config", str(config),
                           "--domain", "domain", "--out", str(tmp_path / "models")])
            model = newest_model(tmp_path / "models")
        held = heldout(model)
        held_report = held["intent_report"]
        sections.append(table("Held-out test set (tests/nlu, never used in training)",
                              held_report, held["intent_errors"]))
        sections.append(entity_table(held))
        cv_s = None
        if not args.skip_cv:
            start = time.monotonic()
            cv_report, cv_errors = cross_validate(args.folds, args.jobs, tmp_path, config=config)
            cv_s = time.monotonic() - start
            sections.append(table(f"{args.folds}-fold cross-validation on data/nlu", cv_report,
                                  cv_errors))

    head = [f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores "
            f"(`make bench-nlu`)."]
    if args.config != "config.yml":
        head.append(f"Pipeline: {args.config}.")
    if train_s:
        head.append(f"NLU training time: {train_s:.0f} s.")
    if cv_s:
        head.append(f"Cross-validation time: {cv_s:.0f} s ({args.jobs} folds at a time, "
                    f"fold seed {FOLD_SEED}).")
    body = "## NLU quality\n\n" + " ".join(head) + "\n\n" + "\n\n".join(sections) + "\n"
    replace_section(PROJECT_ROOT / "docs" / "BENCHMARKS.md", "nlu", body)
    held_macro = held_report["macro avg"]["f1-score"]
    print(f"held-out macro F1 {held_macro:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
