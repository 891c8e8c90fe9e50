"""Scale-out: two Rasa instances behind nginx share one conversation through PostgreSQL and the Redis
lock store.

Configured by environment variables only (LOKET_DATABASE_URL, LOKET_TRACKER_DB_URL, LOKET_REDIS_URL,
LOKET_PROXY_COUNT=1), as in production. One action server, two Rasa servers and the web app behind
Debian's nginx running deploy/nginx/loket.conf, the same file docker compose uses (rendered with this
test's ports, tests/support/nginx.py). Turns go through nginx, which spreads them over both Rasa
servers; its access log shows which server took each. Needs a trained model (skipped without one,
failed when LOKET_REQUIRE_MODEL=1), PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379 and nginx
(.ci/run starts and installs them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import ssl

import aiohttp
import pytest
import requests
from sqlalchemy import select

from bench.conversations import FORM_TRIGGERS, drive_form
from bot import db, models
from bot.settings import load_settings
from tests.support.model import require_model
from tests.support.nginx import Nginx, nginx_binary, start_nginx
from tests.support.postgres import pg_url, require_postgres, temporary_database
from tests.support.stack import Stack, free_port, make_stack, wait_http

REDIS_URL = os.environ.get("LOKET_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "scale-out-test-" + secrets.token_hex(8)


def _require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.exceptions.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory):
    require_model()
    require_postgres()
    _require_redis()
    nginx_binary()
    with temporary_database("loket_scale") as app_db, temporary_database("loket_scale_trk") as trk_db:
        env = {
            "LOKET_DATABASE_URL": pg_url(app_db),
            "LOKET_TRACKER_DB_URL": pg_url(trk_db),
            "LOKET_REDIS_URL": REDIS_URL,
            "LOKET_RASA_TOKEN": TOKEN,  # the HTTP API, to read the tracker
            # All test turns come from one address and the buckets live in the shared Redis: lift the
            # per-address limit (as the hostile-input test does), keep the per-sender one.
            "LOKET_RATE_IP_BURST": "1000000", "LOKET_RATE_IP_PER_MINUTE": "1000000",
            "LOKET_PROXY_COUNT": "1",  # behind nginx, as in compose and Kubernetes
            "LOKET_OUTBOX_INTERVAL_S": "0",  # nothing to deliver here
        }
        # make_stack migrates the PostgreSQL database with Alembic and loads the knowledge base.
        a = make_stack(tmp_path_factory.mktemp("scale"), extra_env=env)
        b_port = free_port()
        b = dataclasses.replace(a, tmp=a.tmp / "b", rasa_port=b_port, procs={},
                                env={**a.env, "LOKET_RASA_PORT": str(b_port)})
        b.tmp.mkdir()
        nginx = None
        try:
            a.start("actions")
            a.start("web")
            _start_together([(a, "rasa"), (b, "rasa")])
            nginx = start_nginx(a.tmp / "nginx", [a.rasa_port, b.rasa_port], a.web_port)
            yield Cluster(a, b, nginx)
        finally:
            if nginx is not None:
                nginx.stop()
            b.stop_all()
            a.stop_all()
            db.get_engine.cache_clear()


@dataclasses.dataclass
class Cluster:
    a: Stack
    b: Stack
    nginx: Nginx

    def say(self, sender: str, text: str) -> list[dict]:
        """One turn through nginx (https, the test certificate)."""
        resp = requests.post(f"{self.nginx.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                             verify=self.nginx.ca, timeout=60)
        resp.raise_for_status()
        return resp.json()

    def servers_used(self, since: int) -> list[int]:
        """The Rasa ports nginx sent REST turns to, from access-log line `since` on."""
        ports = []
        for line in self.nginx.access_log()[since:]:
            method, path, _status, upstream = line.split(" ", 3)
            if method == "POST" and path == "/webhooks/rest/webhook" and upstream != "-":  # "-": refused
                ports.append(int(upstream.rsplit(":", 1)[1]))
        return ports


def _start_together(servers: list[tuple[Stack, str]], timeout_s: float = 600) -> None:
    """Start servers at the same time (loading a model takes a while) and wait until all answer."""
    for stack, name in servers:
        stack.spawn(name)
    for stack, name in servers:
        wait_http(stack.health_url(name), [stack.procs[name]], timeout=timeout_s)


def _tracker(stack: Stack, sender: str) -> dict:
    resp = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                        params={"token": TOKEN}, timeout=30)
    resp.raise_for_status()
    return resp.json()


def _domain_forms(stack: Stack) -> set[str]:
    """The forms of the model that is actually running (it may be older than domain/)."""
    resp = requests.get(f"{stack.rasa_url}/domain", params={"token": TOKEN},
                        headers={"Accept": "application/json"}, timeout=30)
    resp.raise_for_status()
    return set(resp.json().get("forms") or {})


def _user_texts(tracker: dict) -> list[str]:
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


@pytest.mark.postgres
@pytest.mark.rasa
def test_both_instances_use_postgresql_and_redis_from_the_environment(two_instances):
    a = two_instances.a
    endpoints = (a.tmp / "endpoints.yml").read_text()
    assert "postgresql" in endpoints and "lock_store" in endpoints
    assert "type: bot.rasa_ext.lock_store.AtomicRedisLockStore" in endpoints


@pytest.mark.postgres
@pytest.mark.rasa
def test_a_form_completes_through_nginx_with_turns_on_both_instances(two_instances):
    cluster = two_instances
    a, b = cluster.a, cluster.b
    sender = "scale-" + secrets.token_hex(6)
    forms = [f for f in FORM_TRIGGERS if f in _domain_forms(a)]
    since = len(cluster.nginx.access_log())

    if not forms:
        # No form in this model yet: a multi-turn path whose later turns depend on the earlier ones.
        turns = ["Hallo", "Welke gemeenten doen mee aan de City Deal?", "Doet Zwolle mee?", "bedankt"]
        replies = [cluster.say(sender, text) for text in turns]
        assert all(replies), f"an instance did not answer: {replies}"
        assert "Zwolle" in " ".join(m.get("text", "") for m in replies[2])
        assert _user_texts(_tracker(b, sender)) == turns
        assert set(cluster.servers_used(since)) == {a.rasa_port, b.rasa_port}
        return

    form = forms[0]
    # Every turn through nginx; the tracker is read from A and B in turn (the HTTP API is not
    # published through nginx).
    run = drive_form(form, say=lambda i, text: cluster.say(sender, text),
                     tracker=lambda i: _tracker((a, b)[i % 2], sender))
    transcript = [(t, [m.get("text") for m in r]) for t, r in zip(run.turns, run.replies, strict=True)]
    assert run.reference, f"{form} gave no reference number: {transcript}"
    assert len(run.turns) >= 2, "the form was not multi-turn"
    assert _user_texts(_tracker(a, sender)) == run.turns  # one history, in order, on both
    assert _user_texts(_tracker(b, sender)) == run.turns
    used = cluster.servers_used(since)
    assert len(used) == len(run.turns)
    assert set(used) == {a.rasa_port, b.rasa_port}, f"nginx sent every turn to one server: {used}"

    table = models.Handoff if form == "handoff_form" else models.Knelpunt
    engine = db.make_engine(a.database_url)
    try:
        with db.session_scope(engine) as session:
            row = session.execute(select(table).where(table.reference == run.reference)).scalar_one_or_none()
        assert row is not None, f"{run.reference} is not in {table.__tablename__}"
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.rasa
async def test_overlapping_turns_on_two_instances_wait_for_each_other_through_redis(two_instances):
    """Turns of one conversation reach nginx at the same moment, which gives them to A and B: each
    must wait for the other's lock.

    Without a shared lock both would load the same tracker and one save would lose the other's turn.
    All eight turns start together; Rasa 3.6's own Redis lock store loses turns that way (its ticket
    changes are not atomic), bot/rasa_ext/lock_store.py does not.
    """
    cluster = two_instances
    a, b = cluster.a, cluster.b
    sender = "lock-" + secrets.token_hex(6)
    texts = [f"Hallo {n}" if n % 2 else f"bedankt {n}" for n in range(8)]
    since = len(cluster.nginx.access_log())
    tls = ssl.create_default_context(cafile=cluster.nginx.ca)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as session:
        async def post(text: str) -> list[dict]:
            async with session.post(f"{cluster.nginx.url}/webhooks/rest/webhook",
                                    json={"sender": sender, "message": text},
                                    timeout=aiohttp.ClientTimeout(total=180)) as resp:
                resp.raise_for_status()
                return await resp.json()

        replies = await asyncio.gather(*(post(t) for t in texts))

    assert all(replies)
    assert set(cluster.servers_used(since)) == {a.rasa_port, b.rasa_port}
    events = _tracker(a, sender)["events"]
    # Two servers read their requests independently, so overlapping turns may be taken in another
    # order; none may be lost, and none may run at the same time as another.
    assert sorted(_user_texts({"events": events})) == sorted(texts), "a turn was lost"
    # Each turn is finished (the bot listens again) before the next user message starts.
    kinds = [("user" if e["event"] == "user" else e.get("name")) for e in events
             if e["event"] == "user" or (e["event"] == "action" and e.get("name") == "action_listen")]
    first = kinds.index("user")
    assert kinds[first:] == ["user", "action_listen"] * len(texts), kinds


@pytest.mark.postgres
@pytest.mark.rasa
def test_nginx_sends_pages_to_the_web_app_and_hides_rasas_http_api(two_instances):
    nginx = two_instances.nginx
    health = requests.get(f"{nginx.url}/health", verify=nginx.ca, timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "ok"}  # the web app
    for path in ("/conversations/x/tracker", "/version", "/status", "/model", "/domain"):
        resp = requests.get(f"{nginx.url}{path}", params={"token": TOKEN}, verify=nginx.ca, timeout=30)
        assert resp.status_code == 404, path
    # Directly, with the token, the API is there: nginx is what hides it.
    assert requests.get(f"{two_instances.a.rasa_url}/version", params={"token": TOKEN}, timeout=30).ok
    plain = requests.get(f"http://127.0.0.1:{nginx.http_port}/demo", allow_redirects=False, timeout=30)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")


@pytest.mark.postgres
@pytest.mark.rasa
def test_nginx_refuses_a_chat_body_over_64_kib(two_instances):
    cluster = two_instances
    since = len(cluster.nginx.access_log())
    resp = requests.post(f"{cluster.nginx.url}/webhooks/rest/webhook", verify=cluster.nginx.ca,
                         json={"sender": "big-" + secrets.token_hex(4), "message": "a" * 100 * 1024},
                         timeout=30)
    assert resp.status_code == 413
    assert cluster.servers_used(since) == []  # refused before any Rasa server saw it
    assert cluster.say("after-" + secrets.token_hex(4), "Hallo")  # and the chat goes on


def test_the_sqlite_tracker_store_is_put_in_wal_mode(monkeypatch, tmp_path):
    """One Rasa process on SQLite commits once per turn; WAL makes that one fsync instead of several."""
    import sqlite3

    from bot.cli.run import write_endpoints

    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOKET_TRACKER_DB_URL", raising=False)
    write_endpoints(load_settings())
    conn = sqlite3.connect(tmp_path / "tracker.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
