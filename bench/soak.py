"""`make soak`: 50 simulated users for several minutes, with faults on a schedule. Nothing may get lost.

The full stack runs on free ports (tests/stack.py), with a local SMTP server (aiosmtpd) and a local
webhook receiver as the makelaarsteams' inboxes. Users ask knowledge questions, hand a question over to
a makelaarsteam (handoff_form) or report a knelpunt (knelpunt_form). Meanwhile the action server is
killed and restarted, and the SMTP server and the webhook receiver go down and come back.

At the end it prints how many handoffs and knelpunten were started, confirmed (a reference number
shown to the user), stored and delivered, and checks: every confirmed one stored (0 lost) and every
stored handoff delivered exactly once. Exit code 1 when a check fails.

    LOKET_SOAK_SECONDS   how long users keep starting conversations (default 300)
    LOKET_SOAK_USERS     simultaneous users (default 50)
    LOKET_SOAK_DRAIN_S   how long to wait for the outbox afterwards (default 420: backoff is 30 s, 1, 2, 4 min)
    LOKET_MODELS_DIR     the trained model (default models/)

The helpers (local SMTP and webhook inboxes, knowledge pointed at them, an async form driver) are also
used by tests/test_faults.py.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import yaml
from sqlalchemy import select

from bot.settings import PROJECT_ROOT
from tests.support.model import models_dir

REPLY_ERROR = "Er ging iets mis. Probeer het opnieuw of praat met een mens."
# Answers that take precedence over bench.conversations.answer_for: "Demo Ondernemer" is read as a
# question about impact ondernemen (faq) at the name step, and the form then asks again.
ANSWER_OVERRIDES: dict[str, str] = {"name": "Sam de Vries", "naam": "Sam de Vries"}


def answer(slot: str | None, replies: list) -> str:
    from bench.conversations import answer_for

    name = (slot or "").lower()
    for fragment, text in ANSWER_OVERRIDES.items():
        if name.endswith(fragment):
            return text
    return answer_for(slot, replies)
WEBHOOK_SECRET = "soak-webhook-secret-" + "x" * 16
RASA_TOKEN = "soak-rasa-token"


# --- the makelaarsteams' inboxes --------------------------------------------------------------


class LocalSmtp:
    """aiosmtpd on a fixed port that can go down and come back; keeps every message it accepted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[email.message.Message] = []
        self._controller = None
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd handler hook
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    @property
    def up(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def references(self) -> Counter:
        found: Counter = Counter()
        with self._lock:
            for msg in self.messages:
                text = str(msg.get("Subject", "")) + " " + _body_text(msg)
                found.update(set(_references(text)))
        return found


def _body_text(msg: email.message.Message) -> str:
    parts = msg.walk() if msg.is_multipart() else [msg]
    out = []
    for part in parts:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(out)


def _references(text: str) -> list[str]:
    from bot.handoffs.references import REFERENCE_RE

    return REFERENCE_RE.findall(text)


class WebhookReceiver:
    """A team's webhook endpoint on a fixed port that can go down and come back."""

    def __init__(self, port: int, secret: str = WEBHOOK_SECRET) -> None:
        self.port = port
        self.secret = secret
        self.deliveries: list[dict] = []
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                from bot.handoffs.outbox import SIGNATURE_HEADER, verify_signature

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    reference = json.loads(body).get("reference")
                except ValueError:
                    reference = None
                with receiver._lock:
                    receiver.deliveries.append({
                        "key": self.headers.get("Idempotency-Key"), "reference": reference,
                        "signed": verify_signature(receiver.secret, body,
                                                   self.headers.get(SIGNATURE_HEADER)),
                    })
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def references(self) -> Counter:
        with self._lock:
            return Counter(d["reference"] for d in self.deliveries if d["signed"])


def local_knowledge(dest: Path, webhook_port: int) -> tuple[Path, dict[str, str]]:
    """A copy of knowledge/ whose teams deliver to the local inboxes; returns (dir, env)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(PROJECT_ROOT / "knowledge", dest)
    path = dest / "makelaarsteams.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    env: dict[str, str] = {}
    for team in doc["makelaarsteams"]:
        delivery = team.get("delivery") or {}
        if delivery.get("channel") == "webhook":
            delivery["url"] = f"http://127.0.0.1:{webhook_port}/hooks/{team['id']}"
            secret_env = delivery.get("secret_env") or f"LOKET_WEBHOOK_SECRET_{team['id'].upper()}"
            delivery["secret_env"] = secret_env
            env[secret_env] = WEBHOOK_SECRET
        elif delivery.get("channel") == "email":
            delivery["email"] = f"team-{team['id']}@example.nl"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest, env


def team_channels(knowledge_dir: Path) -> dict[str, str]:
    """gemeente id -> "email" | "webhook" for the gemeenten with a team."""
    doc = yaml.safe_load((knowledge_dir / "makelaarsteams.yml").read_text(encoding="utf-8"))
    out = {}
    for team in doc["makelaarsteams"]:
        for gemeente in team.get("gemeenten") or []:
            out[gemeente] = (team.get("delivery") or {}).get("channel")
    return out


# --- talking to the bot -----------------------------------------------------------------------


class ChatClient:
    """Rasa's REST channel and (with the token) its tracker API."""

    def __init__(self, session: aiohttp.ClientSession, rasa_url: str, token: str = RASA_TOKEN):
        self.session = session
        self.rasa_url = rasa_url
        self.token = token

    async def say(self, sender: str, text: str, metadata: dict | None = None) -> tuple[int, list]:
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        try:
            async with self.session.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body) as r:
                data = await r.json(content_type=None)
                return r.status, data if isinstance(data, list) else []
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return 0, []

    async def tracker(self, sender: str) -> dict:
        try:
            async with self.session.get(f"{self.rasa_url}/conversations/{sender}/tracker",
                                        params={"token": self.token}) as r:
                return await r.json() if r.status == 200 else {}
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return {}


def is_error_reply(status: int, messages: list) -> bool:
    return status != 200 or not messages or any(REPLY_ERROR in (m.get("text") or "")
                                                for m in messages)


@dataclass
class FormOutcome:
    form: str
    sender: str
    reference: str | None = None
    turns: int = 0
    error_replies: int = 0
    requested: list[str | None] = field(default_factory=list)
    last_replies: list = field(default_factory=list)

    def next_answer(self) -> str:
        return answer(self.requested[-1] if self.requested else None, self.last_replies)


async def drive_form(client: ChatClient, form: str, sender: str, metadata: dict | None = None,
                     max_turns: int = 20, retries: int = 30, retry_wait_s: float = 2.0,
                     first_text: str | None = None) -> FormOutcome:
    """Start `form` (or continue it with `first_text`) and answer the requested slot until a
    reference number comes back, or `max_turns` answers were accepted.

    An error answer (action server down, too slow) is retried with the same text after a pause, as
    a person would.
    """
    from bench.conversations import FORM_TRIGGERS, find_reference

    outcome = FormOutcome(form, sender)
    text = first_text or FORM_TRIGGERS[form]
    while outcome.turns < max_turns:
        for _ in range(retries):
            status, replies = await client.say(sender, text, metadata)
            if not is_error_reply(status, replies):
                break
            outcome.error_replies += 1
            await asyncio.sleep(retry_wait_s)
        else:
            return outcome  # gave up: never confirmed
        outcome.turns += 1
        outcome.reference = find_reference(replies)
        if outcome.reference:
            return outcome
        slot = ((await client.tracker(sender)).get("slots") or {}).get("requested_slot")
        outcome.requested.append(slot)
        outcome.last_replies = replies
        text = answer(slot, replies)
    return outcome


async def ask_questions(client: ChatClient, sender: str, turns: list[str]) -> tuple[int, int]:
    """(answered, error answers) for a plain question conversation."""
    answered = errors = 0
    for text in turns:
        status, replies = await client.say(sender, text)
        if is_error_reply(status, replies):
            errors += 1
        else:
            answered += 1
    return answered, errors


# --- what the database says -----------------------------------------------------------------


def stored(db_url: str) -> dict[str, dict[str, dict]]:
    """{"handoffs": {ref: {...}}, "knelpunten": {ref: {...}}} with the outbox state per handoff."""
    from bot import models
    from bot.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            outbox: dict[int, list] = {}
            for row in conn.execute(select(models.OutboxMessage.handoff_id,
                                           models.OutboxMessage.status,
                                           models.OutboxMessage.attempts,
                                           models.OutboxMessage.channel)):
                outbox.setdefault(row.handoff_id, []).append(row)
            handoffs = {
                ref: {"outbox": [(o.status, o.attempts, o.channel) for o in outbox.get(hid, [])]}
                for hid, ref in conn.execute(select(models.Handoff.id, models.Handoff.reference))
            }
            knelpunten = {ref: {} for (ref,) in conn.execute(select(models.Knelpunt.reference))}
    finally:
        engine.dispose()
    return {"handoffs": handoffs, "knelpunten": knelpunten}


# --- the soak run -------------------------------------------------------------------------------


@dataclass
class Tally:
    questions: int = 0
    question_errors: int = 0
    started: Counter = field(default_factory=Counter)
    confirmed: dict[str, set] = field(default_factory=lambda: {"handoff": set(), "knelpunt": set()})
    error_replies: int = 0
    faults: list[str] = field(default_factory=list)


async def _user(n: int, client: ChatClient, deadline: float, tally: Tally, forms: dict[str, str],
                gemeenten: list[str]) -> None:
    from bench.conversations import KNOWLEDGE_CONVERSATIONS, ROUTING_CONVERSATIONS

    rng = random.Random(n)
    i = 0
    while time.monotonic() < deadline:
        i += 1
        sender = f"soak{n}x{i}x{rng.randrange(10**6)}"
        roll = rng.random()
        kind = "handoff" if roll < 0.3 else "knelpunt" if roll < 0.5 else "question"
        if kind != "question" and kind in forms:
            tally.started[kind] += 1
            outcome = await drive_form(client, forms[kind], sender,
                                       metadata={"gemeente": rng.choice(gemeenten)})
            tally.error_replies += outcome.error_replies
            if outcome.reference:
                tally.confirmed[kind].add(outcome.reference)
        else:
            turns = rng.choice(KNOWLEDGE_CONVERSATIONS + ROUTING_CONVERSATIONS)
            answered, errors = await ask_questions(client, sender, turns)
            tally.questions += answered + errors
            tally.question_errors += errors
        await asyncio.sleep(rng.uniform(0.2, 1.5))


async def _faults(stack, smtp: LocalSmtp, hook: WebhookReceiver, seconds: float,
                  tally: Tally) -> None:
    """A fixed schedule, as fractions of the run, so a short run still gets every fault."""
    t0 = time.monotonic()
    schedule = [
        (0.15, "action server killed (SIGKILL)", lambda: stack.stop("actions", kill=True)),
        (0.22, "action server back", lambda: stack.start("actions")),
        (0.35, "SMTP server down", smtp.stop),
        (0.45, "webhook receiver down", hook.stop),
        (0.60, "SMTP server back", smtp.start),
        (0.65, "action server killed (SIGKILL)", lambda: stack.stop("actions", kill=True)),
        (0.70, "webhook receiver back", hook.start),
        (0.72, "action server back", lambda: stack.start("actions")),
    ]
    for fraction, what, act in schedule:
        delay = t0 + fraction * seconds - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await asyncio.to_thread(act)
        tally.faults.append(f"{time.monotonic() - t0:5.0f} s  {what}")
        print(f"  [{time.monotonic() - t0:5.0f} s] {what}", flush=True)


async def soak(seconds: float, users: int, drain_s: float, workdir: Path) -> int:
    from bench.conversations import domain_forms
    from tests.support.stack import free_port, make_stack

    smtp, hook = LocalSmtp(free_port()), WebhookReceiver(free_port())
    knowledge, env = local_knowledge(workdir / "knowledge", hook.port)
    env.update({
        "LOKET_MODELS_DIR": str(models_dir()),
        "LOKET_RASA_TOKEN": RASA_TOKEN,
        "LOKET_SMTP_HOST": "127.0.0.1", "LOKET_SMTP_PORT": str(smtp.port),
        "LOKET_OUTBOX_INTERVAL_S": "1",
        "LOKET_RATE_IP_BURST": "1000000", "LOKET_RATE_IP_PER_MINUTE": "1000000",
        "LOKET_RATE_SENDER_BURST": "100", "LOKET_RATE_SENDER_PER_MINUTE": "600",
        "LOKET_ACTION_TIMEOUT_S": "10",
        "LOKET_LOG_LEVEL": "WARNING",
    })
    present = domain_forms()
    forms = {kind: name for kind, name in (("handoff", "handoff_form"), ("knelpunt", "knelpunt_form"))
             if name in present}
    channels = team_channels(knowledge)
    gemeenten = sorted(g for g, c in channels.items() if c in ("email", "webhook"))
    stack = make_stack(workdir / "stack", extra_env=env, knowledge_dir=knowledge)
    smtp.start()
    hook.start()
    tally = Tally()
    print(f"Soak: {users} users, {seconds:.0f} s, forms {sorted(forms.values())}; starting servers ...",
          flush=True)
    try:
        for name in ("actions", "rasa", "web"):
            await asyncio.to_thread(stack.start, name)
        started_at = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=90)
        async with aiohttp.ClientSession(timeout=timeout,
                                         connector=aiohttp.TCPConnector(limit=users + 10)) as http:
            client = ChatClient(http, stack.rasa_url)
            deadline = time.monotonic() + seconds
            await asyncio.gather(
                _faults(stack, smtp, hook, seconds, tally),
                *(_user(n, client, deadline, tally, forms, gemeenten) for n in range(users)),
            )
        run_s = time.monotonic() - started_at
        if "actions" not in stack.procs:
            stack.start("actions")
        smtp.start()
        hook.start()
        print(f"Users done after {run_s:.0f} s; waiting up to {drain_s:.0f} s for the outbox ...",
              flush=True)
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < drain_s:
            db = stored(stack.database_url)
            pending = [r for r, h in db["handoffs"].items()
                       if any(o[0] != "delivered" for o in h["outbox"])]
            if not pending:
                break
            await asyncio.sleep(2)
        drain = time.monotonic() - drain_started
        return report(tally, stored(stack.database_url), smtp, hook, run_s, drain, users)
    finally:
        stack.stop_all()
        smtp.stop()
        hook.stop()


def report(tally: Tally, db: dict, smtp: LocalSmtp, hook: WebhookReceiver, run_s: float,
           drain_s: float, users: int) -> int:
    received = smtp.references() + hook.references()
    handoffs, knelpunten = db["handoffs"], db["knelpunten"]
    delivered_rows = {r for r, h in handoffs.items()
                      if h["outbox"] and all(o[0] == "delivered" for o in h["outbox"])}
    lost_h = sorted(tally.confirmed["handoff"] - set(handoffs))
    lost_k = sorted(tally.confirmed["knelpunt"] - set(knelpunten))
    not_once = {r: received.get(r, 0) for r in handoffs if received.get(r, 0) != 1}
    unknown = sorted(set(received) - set(handoffs))
    attempts = sum(o[1] for h in handoffs.values() for o in h["outbox"])
    lines = [
        "",
        f"Soak result ({users} users, {run_s:.0f} s of conversations, outbox drained in "
        f"{drain_s:.0f} s)",
        "Faults: " + "; ".join(f.strip() for f in tally.faults),
        f"Questions: {tally.questions} messages, {tally.question_errors} answered with the error text",
        f"Error answers during forms (retried by the user): {tally.error_replies}",
        "",
        "             started  confirmed  stored  delivered  lost",
        f"handoffs     {tally.started['handoff']:7d}  {len(tally.confirmed['handoff']):9d}  "
        f"{len(handoffs):6d}  {len(delivered_rows):9d}  {len(lost_h):4d}",
        f"knelpunten   {tally.started['knelpunt']:7d}  {len(tally.confirmed['knelpunt']):9d}  "
        f"{len(knelpunten):6d}  {'-':>9}  {len(lost_k):4d}",
        "",
        f"Deliveries received: {sum(received.values())} for {len(received)} handoffs "
        f"(SMTP {sum(smtp.references().values())}, webhook {sum(hook.references().values())}); "
        f"{attempts} delivery attempts in the outbox",
        f"Stored without a confirmation shown: handoffs "
        f"{len(set(handoffs) - tally.confirmed['handoff'])}, knelpunten "
        f"{len(set(knelpunten) - tally.confirmed['knelpunt'])}",
    ]
    problems = []
    if lost_h or lost_k:
        problems.append(f"LOST: confirmed but not stored: {lost_h + lost_k}")
    if not_once:
        problems.append(f"NOT EXACTLY ONCE: {not_once}")
    if unknown:
        problems.append(f"delivered but not stored: {unknown}")
    if len(delivered_rows) != len(handoffs):
        problems.append(f"undelivered in the outbox: {sorted(set(handoffs) - delivered_rows)}")
    lines.append("CHECKS: " + ("all passed (0 lost, every handoff delivered exactly once)"
                               if not problems else "FAILED"))
    lines += [f"  - {p}" for p in problems]
    print("\n".join(lines), flush=True)
    return 1 if problems else 0


def main() -> int:
    seconds = float(os.environ.get("LOKET_SOAK_SECONDS", "300"))
    users = int(os.environ.get("LOKET_SOAK_USERS", "50"))
    drain_s = float(os.environ.get("LOKET_SOAK_DRAIN_S", "420"))
    if not any(models_dir().glob("*.tar.gz")):
        print(f"Geen getraind model in {models_dir()}: draai eerst `make train`.", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="loket-soak-"))
    try:
        return asyncio.run(soak(seconds, users, drain_s, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
