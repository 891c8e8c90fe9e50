"""Issue 20's conversation set: drive a running bot over its REST channel and check what the user sees.

The set lives in tests/conversations/<class>.yml and is never part of training. Each conversation gets a
fresh sender id; each turn sends a user text (`user:`), a button payload (`button:`) or clicks a button of
the previous reply by its title (`click:`), then runs the turn's checks (`expect:`) on the bot's reply.
A conversation passes when every check of every turn passes.

    .venv/bin/python -m bench.dialogues --url http://127.0.0.1:5005
    .venv/bin/python -m bench.dialogues --stack          # start actions + Rasa on free ports
    .venv/bin/python -m bench.dialogues --stack --model models/<name>.tar.gz
    .venv/bin/python -m bench.dialogues --class english --id en-03 --out /tmp/d.json

Against `make run`, the edge's rate limits (LOKET_RATE_*) slow a full run down: the client waits and
retries on 429. --stack raises them for its own servers.

Check kinds (text checks read every message's text and button titles, case-insensitively):
  contains_any: [..]        at least one substring appears
  contains_all: [..]        every substring appears
  not_contains: [..]        none appears
  source_url_contains: str  a link in the reply contains it ("" = any link)
  handoff_reference: bool   a reference like LKT-2026-000123 appears (true) or not (false)
  language: en|nl           light heuristic on function words
  buttons_any: [..]         a button title contains one of them
  max_messages: int         the reply has at most this many messages
  max_chars: int            the reply's text is at most this long
  not_fallback: true        none of the fallback / "nothing found" answers
  not_repeat: true          the reply differs from the bot's previous reply
  any_of: [check, ..]       at least one of the nested checks passes
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
import yaml

from bot.handoffs.references import REFERENCE_RE
from bot.settings import PROJECT_ROOT

SET_DIR = PROJECT_ROOT / "tests" / "conversations"
DEFAULT_OUT = PROJECT_ROOT / "results" / "dialogues.json"
MIN_CONVERSATIONS = 70
# The eight classes of issue 20 (at least MIN_PER_MAIN_CLASS each) and the extra ones.
MAIN_CLASSES = ("form_start", "form_correction", "complaint_question", "typed_choice", "english",
                "unseen_phrasing", "validation", "team_details")
EXTRA_CLASSES = ("place", "cancel", "followup")
CLASSES = MAIN_CLASSES + EXTRA_CLASSES
MIN_PER_MAIN_CLASS = 8
SINGLE_TURN_CLASSES = {"english", "unseen_phrasing"}

# Links: with a scheme, or a bare domain such as business.gov.nl (not the domain of an e-mail address).
URL_RE = re.compile(r"https?://[^\s)\]>\"']+"
                    r"|(?<![@\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:nl|com|org|eu|net)\b(?:/[^\s)\]>\"']*)?",
                    re.IGNORECASE)
# What the bot says when it did not understand or found nothing: a miss for a known topic.
FALLBACK_MARKERS = (
    "begrijp uw vraag niet",
    "weet niet zeker wat u bedoelt",
    "kan u hier niet goed mee helpen",
    "daar kan ik u niet mee helpen",
    "geen regeling of loket voor gevonden",
    "er ging iets mis",
)
# Function words for the language heuristic; words both languages use ("is", "in") are left out.
EN_WORDS = frozenset("""the a an and you your to of for with are can we our this that what how
where which there here be not please if it on from about business help information english
would will could should i'm you're don't please""".split())
NL_WORDS = frozenset("""de het een en u uw je jij ik wij we van voor met zijn kan kunt niet
dat die wat hoe waar welke er hier bij ook naar om als of heeft hebt wilt wil dan nog maar
geen mijn onze over deze dit graag typ""".split())
NL_WORDS = NL_WORDS - {"we"}  # "we" is both

CHECK_KINDS = {
    "contains_any", "contains_all", "not_contains", "source_url_contains", "handoff_reference",
    "language", "buttons_any", "max_messages", "max_chars", "not_fallback", "not_repeat", "any_of",
}


class SetError(ValueError):
    """The conversation set is malformed."""


# --- the set ---------------------------------------------------------------------------------


@dataclass
class Turn:
    kind: str  # user | button | click
    value: str
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Conversation:
    id: str
    cls: str
    description: str
    turns: list[Turn]
    metadata: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def user_turns(self) -> int:
        return len(self.turns)


def validate_check(check: Any, where: str) -> None:
    if not isinstance(check, dict) or len(check) != 1:
        raise SetError(f"{where}: a check is a mapping with one key, got {check!r}")
    kind, arg = next(iter(check.items()))
    if kind not in CHECK_KINDS:
        raise SetError(f"{where}: unknown check kind {kind!r}")
    if kind in ("contains_any", "contains_all", "not_contains", "buttons_any"):
        if not isinstance(arg, list) or not arg or not all(isinstance(s, str) and s for s in arg):
            raise SetError(f"{where}: {kind} needs a non-empty list of strings")
    elif kind == "source_url_contains":
        if not isinstance(arg, str):
            raise SetError(f"{where}: source_url_contains needs a string")
    elif kind == "handoff_reference":
        if not isinstance(arg, bool):
            raise SetError(f"{where}: handoff_reference needs true or false")
    elif kind == "language":
        if arg not in ("en", "nl"):
            raise SetError(f"{where}: language is en or nl")
    elif kind in ("max_messages", "max_chars"):
        if not isinstance(arg, int) or isinstance(arg, bool) or arg < 1:
            raise SetError(f"{where}: {kind} needs a positive integer")
    elif kind in ("not_fallback", "not_repeat"):
        if arg is not True:
            raise SetError(f"{where}: {kind} takes only true")
    elif kind == "any_of":
        if not isinstance(arg, list) or len(arg) < 2:
            raise SetError(f"{where}: any_of needs a list of at least two checks")
        for i, sub in enumerate(arg):
            validate_check(sub, f"{where} any_of[{i}]")


def _parse_turn(raw: Any, where: str) -> Turn:
    if not isinstance(raw, dict):
        raise SetError(f"{where}: a turn is a mapping")
    kinds = [k for k in ("user", "button", "click") if k in raw]
    if len(kinds) != 1:
        raise SetError(f"{where}: a turn has exactly one of user, button, click")
    value = raw[kinds[0]]
    if not isinstance(value, str) or not value.strip():
        raise SetError(f"{where}: {kinds[0]} must be a non-empty string")
    unknown = set(raw) - {"user", "button", "click", "expect"}
    if unknown:
        raise SetError(f"{where}: unknown keys {sorted(unknown)}")
    checks = raw.get("expect") or []
    if not isinstance(checks, list):
        raise SetError(f"{where}: expect is a list of checks")
    for i, check in enumerate(checks):
        validate_check(check, f"{where} check {i}")
    return Turn(kinds[0], value, checks)


def parse_conversation(raw: Any, source: str) -> Conversation:
    if not isinstance(raw, dict):
        raise SetError(f"{source}: a conversation is a mapping")
    cid = raw.get("id")
    where = f"{source}: {cid}"
    if not isinstance(cid, str) or not cid:
        raise SetError(f"{source}: a conversation without an id")
    unknown = set(raw) - {"id", "class", "description", "metadata", "turns"}
    if unknown:
        raise SetError(f"{where}: unknown keys {sorted(unknown)}")
    cls = raw.get("class")
    if cls not in CLASSES:
        raise SetError(f"{where}: unknown class {cls!r}")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise SetError(f"{where}: a description is needed")
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SetError(f"{where}: metadata is a mapping of strings")
    turns_raw = raw.get("turns")
    if not isinstance(turns_raw, list) or not turns_raw:
        raise SetError(f"{where}: no turns")
    turns = [_parse_turn(t, f"{where} turn {i + 1}") for i, t in enumerate(turns_raw)]
    if cls not in SINGLE_TURN_CLASSES and len(turns) < 2:
        raise SetError(f"{where}: class {cls} needs at least two user turns")
    if not any(t.checks for t in turns):
        raise SetError(f"{where}: no checks at all")
    if turns[0].kind == "click":
        raise SetError(f"{where}: the first turn cannot click (no reply yet)")
    return Conversation(cid, cls, description.strip(), turns, dict(metadata), source)


def load_set(folder: Path = SET_DIR) -> list[Conversation]:
    """Every conversation in folder/*.yml; each file holds one class, named after it."""
    files = sorted(folder.glob("*.yml"))
    if not files:
        raise SetError(f"no conversation files in {folder}")
    conversations: list[Conversation] = []
    seen: set[str] = set()
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SetError(f"{path.name}: not valid YAML: {exc}") from exc
        items = doc.get("conversations") if isinstance(doc, dict) else None
        if not isinstance(items, list) or not items:
            raise SetError(f"{path.name}: expected a non-empty 'conversations' list")
        for raw in items:
            conv = parse_conversation(raw, path.name)
            if conv.cls != path.stem:
                raise SetError(f"{path.name}: {conv.id} has class {conv.cls}, the file holds {path.stem}")
            if conv.id in seen:
                raise SetError(f"{path.name}: duplicate id {conv.id}")
            seen.add(conv.id)
            conversations.append(conv)
    return conversations


def coverage_problems(conversations: list[Conversation]) -> list[str]:
    """What the whole set lacks: size, classes, conversations per main class."""
    problems = []
    if len(conversations) < MIN_CONVERSATIONS:
        problems.append(f"{len(conversations)} conversations, at least {MIN_CONVERSATIONS} needed")
    counts = {c: 0 for c in CLASSES}
    for conv in conversations:
        counts[conv.cls] += 1
    for cls in CLASSES:
        need = MIN_PER_MAIN_CLASS if cls in MAIN_CLASSES else 1
        if counts[cls] < need:
            problems.append(f"class {cls}: {counts[cls]} conversations, at least {need} needed")
    return problems


# --- the bot's reply and the checks ----------------------------------------------------------


@dataclass
class Reply:
    messages: list[dict[str, Any]]

    @property
    def texts(self) -> list[str]:
        return [str(m.get("text") or "") for m in self.messages if m.get("text")]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [b for m in self.messages for b in (m.get("buttons") or []) if isinstance(b, dict)]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def visible(self) -> str:
        """What the user sees: the texts and the button titles."""
        titles = [str(b.get("title") or "") for b in self.buttons]
        return "\n".join(self.texts + [t for t in titles if t])

    @property
    def urls(self) -> list[str]:
        return [u.rstrip(".,;:!?") for u in URL_RE.findall(self.text)]


def language_of(text: str) -> str | None:
    """'en', 'nl' or None (no function words either way), from function-word counts."""
    text = URL_RE.sub(" ", text.lower())
    words = re.findall(r"[a-z']+", text)
    en = sum(w in EN_WORDS for w in words)
    nl = sum(w in NL_WORDS for w in words)
    if en == nl:
        return None
    return "en" if en > nl else "nl"


def _short(text: str, limit: int = 300) -> str:
    text = " | ".join(text.split("\n"))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def run_check(check: dict[str, Any], reply: Reply, previous: Reply | None) -> tuple[bool, str]:
    """(passed, what was expected): one check against one reply."""
    kind, arg = next(iter(check.items()))
    seen = reply.visible.lower()
    if kind == "contains_any":
        return any(s.lower() in seen for s in arg), f"contains any of {arg}"
    if kind == "contains_all":
        missing = [s for s in arg if s.lower() not in seen]
        return not missing, f"contains all of {arg} (missing {missing})"
    if kind == "not_contains":
        found = [s for s in arg if s.lower() in seen]
        return not found, f"contains none of {arg} (found {found})"
    if kind == "source_url_contains":
        ok = any(arg.lower() in u.lower() for u in reply.urls)
        return ok, f"a source link containing {arg!r}" if arg else "a source link"
    if kind == "handoff_reference":
        has = bool(REFERENCE_RE.search(reply.text))
        return has == arg, "a reference number" if arg else "no reference number"
    if kind == "language":
        found = language_of(reply.text)
        return found == arg, f"language {arg} (heuristic says {found})"
    if kind == "buttons_any":
        titles = [str(b.get("title") or "").lower() for b in reply.buttons]
        return (any(s.lower() in t for s in arg for t in titles),
                f"a button like {arg} (buttons {[b.get('title') for b in reply.buttons]})")
    if kind == "max_messages":
        return len(reply.messages) <= arg, f"at most {arg} messages (got {len(reply.messages)})"
    if kind == "max_chars":
        return len(reply.text) <= arg, f"at most {arg} characters (got {len(reply.text)})"
    if kind == "not_fallback":
        found = [m for m in FALLBACK_MARKERS if m in seen]
        return not found, f"no fallback answer (found {found})"
    if kind == "not_repeat":
        same = previous is not None and bool(reply.text) and reply.text.strip() == previous.text.strip()
        return not same, "not the same reply as before"
    if kind == "any_of":
        results = [run_check(sub, reply, previous) for sub in arg]
        return any(ok for ok, _ in results), "any of: " + "; ".join(d for _, d in results)
    raise SetError(f"unknown check kind {kind!r}")


# --- running ---------------------------------------------------------------------------------


Send = Callable[[str, str, dict[str, str]], list[dict[str, Any]]]


class TurnError(RuntimeError):
    """The turn could not be sent (HTTP error, no such button)."""


@dataclass
class TurnResult:
    index: int
    sent: str
    reply: list[str]
    buttons: list[str]
    failures: list[str] = field(default_factory=list)


@dataclass
class ConversationResult:
    id: str
    cls: str
    description: str
    sender: str
    passed: bool
    turns: list[TurnResult]
    error: str | None = None

    @property
    def failures(self) -> list[tuple[TurnResult, str]]:
        return [(t, f) for t in self.turns for f in t.failures]


def _click(title: str, previous: Reply | None) -> str:
    for button in previous.buttons if previous else []:
        if title.lower() in str(button.get("title") or "").lower():
            return str(button.get("payload") or button.get("title"))
    offered = [b.get("title") for b in previous.buttons] if previous else []
    raise TurnError(f"no button {title!r} to click (offered {offered})")


def run_conversation(conv: Conversation, send: Send, sender: str | None = None) -> ConversationResult:
    sender = sender or f"dlg-{conv.id}-{uuid.uuid4().hex[:10]}"
    previous: Reply | None = None
    results: list[TurnResult] = []
    error = None
    for i, turn in enumerate(conv.turns, start=1):
        try:
            message = _click(turn.value, previous) if turn.kind == "click" else turn.value
            reply = Reply(send(sender, message, conv.metadata))
        except (TurnError, requests.RequestException, ValueError) as exc:
            error = f"turn {i}: {exc}"
            results.append(TurnResult(i, turn.value, [], [], [f"could not send: {exc}"]))
            break
        failures = []
        for check in turn.checks:
            ok, expected = run_check(check, reply, previous)
            if not ok:
                failures.append(expected)
        results.append(TurnResult(i, message, reply.texts,
                                  [str(b.get("title")) for b in reply.buttons], failures))
        previous = reply
    passed = error is None and not any(t.failures for t in results)
    return ConversationResult(conv.id, conv.cls, conv.description, sender, passed, results, error)


class RestClient:
    """Rasa's REST channel; waits and retries when the edge's rate limit answers 429."""

    def __init__(self, url: str, timeout: float = 60, retries: int = 5,
                 post: Callable[..., Any] = requests.post, sleep: Callable[[float], None] = time.sleep):
        self.endpoint = url.rstrip("/") + "/webhooks/rest/webhook"
        self.timeout, self.retries, self.post, self.sleep = timeout, retries, post, sleep

    def __call__(self, sender: str, text: str, metadata: dict[str, str]) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata:
            body["metadata"] = metadata
        for attempt in range(self.retries + 1):
            resp = self.post(self.endpoint, json=body, timeout=self.timeout)
            if resp.status_code == 429 and attempt < self.retries:
                wait = resp.headers.get("Retry-After", "5")
                self.sleep(min(float(wait) if str(wait).replace(".", "", 1).isdigit() else 5.0, 60.0))
                continue
            resp.raise_for_status()
            data = resp.json()
            if not isinstance(data, list):
                raise ValueError(f"unexpected reply {data!r}")
            return data
        raise TurnError("rate limited")  # not reached: the last attempt raises or returns


def run_all(conversations: list[Conversation], send: Send, workers: int = 1,
            progress: Callable[[ConversationResult], None] | None = None) -> list[ConversationResult]:
    def one(conv: Conversation) -> ConversationResult:
        result = run_conversation(conv, send)
        if progress:
            progress(result)
        return result

    if workers <= 1:
        return [one(c) for c in conversations]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, conversations))


# --- reporting -------------------------------------------------------------------------------


def summarise(results: list[ConversationResult]) -> dict[str, dict[str, Any]]:
    """Per class and overall: conversations, passed, rate (0..1)."""
    summary: dict[str, dict[str, Any]] = {}
    order = [c for c in CLASSES if any(r.cls == c for r in results)]
    for cls in order + ["overall"]:
        chosen = results if cls == "overall" else [r for r in results if r.cls == cls]
        passed = sum(r.passed for r in chosen)
        summary[cls] = {"conversations": len(chosen), "passed": passed,
                        "rate": round(passed / len(chosen), 4) if chosen else 0.0}
    return summary


def format_table(summary: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'class':<20} {'conversations':>13} {'passed':>7} {'rate':>7}", "-" * 50]
    for cls, row in summary.items():
        if cls == "overall":
            lines.append("-" * 50)
        lines.append(f"{cls:<20} {row['conversations']:>13} {row['passed']:>7} "
                     f"{row['rate'] * 100:>6.1f}%")
    return "\n".join(lines)


def format_failures(results: list[ConversationResult]) -> str:
    out = []
    for r in results:
        if r.passed:
            continue
        out.append(f"FAIL {r.id} [{r.cls}] {r.description}")
        for turn in r.turns:
            for failure in turn.failures:
                out.append(f"  turn {turn.index}: sent {turn.sent!r}")
                out.append(f"    expected: {failure}")
                out.append(f"    bot said: {_short(chr(10).join(turn.reply)) or '(nothing)'}")
    return "\n".join(out)


def _as_json(result: ConversationResult) -> dict[str, Any]:
    row = asdict(result)
    row["class"] = row.pop("cls")
    return row


def write_json(path: Path, results: list[ConversationResult], run: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"run": run, "summary": summarise(results),
           "conversations": [_as_json(r) for r in results]}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def compare_section(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Markdown for docs/BENCHMARKS.md: per class, the pass rate before and after (two result JSONs)."""
    b, a = before["summary"], after["summary"]
    lines = ["## Conversation set of issue 20 (`python -m bench.dialogues --stack`)", "",
             f"{a['overall']['conversations']} conversations in {len(a) - 1} classes (tests/conversations/), "
             "written without looking at the training data and never part of it. The runner drives the "
             "REST channel and checks what the user sees.", "",
             f"Before: {before['run'].get('started', '?')}, model `{before['run'].get('model', '?')}`.  ",
             f"After: {after['run'].get('started', '?')}, model `{after['run'].get('model', '?')}`.", "",
             "| class | conversations | before | after |", "|---|---:|---:|---:|"]
    for cls in [c for c in CLASSES if c in a] + ["overall"]:
        row_b, row_a = b.get(cls, {}), a[cls]
        before_txt = (f"{row_b['passed']}/{row_b['conversations']} ({row_b['rate'] * 100:.1f} %)"
                      if row_b else "–")
        after_txt = f"{row_a['passed']}/{row_a['conversations']} ({row_a['rate'] * 100:.1f} %)"
        name = f"**{cls}**" if cls == "overall" else cls
        lines.append(f"| {name} | {row_a['conversations']} | {before_txt} | {after_txt} |")
    failed = [c for c in after.get("conversations", []) if not c.get("passed")]
    if failed:
        lines += ["", "Still failing after: " + ", ".join(f"{c['id']} ({c['class']})" for c in failed) + "."]
    return "\n".join(lines)


# --- the stack -------------------------------------------------------------------------------


def latest_model(models_dir: Path = PROJECT_ROOT / "models") -> Path | None:
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


# Generous rate limits: the runner sends every turn from one address, faster than people type.
STACK_ENV = {
    "LOKET_RATE_SENDER_BURST": "1000",
    "LOKET_RATE_SENDER_PER_MINUTE": "6000",
    "LOKET_RATE_IP_BURST": "100000",
    "LOKET_RATE_IP_PER_MINUTE": "600000",
}


def start_stack(tmp: Path, model: Path):
    """Actions and Rasa on free ports with their own databases and exactly this model."""
    from tests.support.stack import (
        make_stack,  # the one import from tests/ (moves to tests/support/ later)
    )

    models_dir = tmp / "models"  # a copy: a model trained meanwhile cannot replace it
    models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(model, models_dir / model.name)
    stack = make_stack(tmp, extra_env={**STACK_ENV, "LOKET_MODELS_DIR": str(models_dir)})
    try:
        stack.start("actions")
        stack.start("rasa")
    except BaseException:
        stack.stop_all()
        raise
    return stack


# --- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dialogues", description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", default="http://127.0.0.1:5005", help="a running Rasa server")
    where.add_argument("--stack", action="store_true", help="start actions + Rasa (needs models/)")
    parser.add_argument("--model", type=Path, help="with --stack: this model (default: newest in models/)")
    parser.add_argument("--set", type=Path, default=SET_DIR, help="folder with <class>.yml files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument("--class", dest="classes", action="append", choices=CLASSES,
                        help="only this class (repeatable)")
    parser.add_argument("--id", dest="ids", action="append", help="only this conversation (repeatable)")
    parser.add_argument("--workers", type=int, default=1, help="conversations in parallel")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per turn")
    parser.add_argument("--quiet", action="store_true", help="no progress dots")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"),
                        help="write the before/after table of two result files into docs/BENCHMARKS.md")
    args = parser.parse_args(argv)

    if args.compare:
        from bench.report import replace_section

        before, after = (json.loads(p.read_text(encoding="utf-8")) for p in args.compare)
        section = compare_section(before, after)
        replace_section(PROJECT_ROOT / "docs" / "BENCHMARKS.md", "dialogues", section)
        print(section)
        return 0

    try:
        conversations = load_set(args.set)
    except SetError as exc:
        print(f"conversation set: {exc}", file=sys.stderr)
        return 2
    for problem in coverage_problems(conversations):
        print(f"warning: {problem}", file=sys.stderr)
    if args.classes:
        conversations = [c for c in conversations if c.cls in args.classes]
    if args.ids:
        conversations = [c for c in conversations if c.id in args.ids]
    if not conversations:
        print("no conversations selected", file=sys.stderr)
        return 2

    def progress(result: ConversationResult) -> None:
        if not args.quiet:
            print("." if result.passed else "F", end="", flush=True, file=sys.stderr)

    model = args.model or latest_model()
    run: dict[str, Any] = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "set": str(args.set), "conversations": len(conversations)}
    started = time.monotonic()
    if args.stack:
        if model is None or not model.is_file():
            print("no model (models/*.tar.gz or --model): train one first", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="loket-dialogues-") as tmp:
            stack = start_stack(Path(tmp), model)
            try:
                run.update(url=stack.rasa_url, model=model.name)
                results = run_all(conversations, RestClient(stack.rasa_url, args.timeout),
                                  args.workers, progress)
            finally:
                stack.stop_all()
    else:
        # The server may run another model; this is only the newest one in models/.
        run.update(url=args.url, newest_local_model=model.name if model else None)
        results = run_all(conversations, RestClient(args.url, args.timeout), args.workers, progress)
    run["seconds"] = round(time.monotonic() - started, 1)
    if not args.quiet:
        print(file=sys.stderr)

    failures = format_failures(results)
    if failures:
        print(failures)
        print()
    print(format_table(summarise(results)))
    write_json(args.out, results, run)
    print(f"\nresults: {args.out}")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
