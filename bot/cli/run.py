"""`loket run`: database, knowledge, training if needed, then the action server, Rasa and the web app."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.cli.process import console_script, server_env
from bot.settings import PROJECT_ROOT, Settings


def _sqlite_wal(path: Path) -> None:
    """Put the SQLite tracker database in WAL mode (stored in the file, so Rasa's own connections use
    it): a commit then costs one fsync instead of a rollback journal's several (16 -> 4 ms measured),
    and Rasa commits once per message while its event loop waits."""
    import sqlite3

    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def write_endpoints(settings: Settings) -> Path:
    """Render the Rasa endpoints from settings, so the environment alone configures scale-out."""
    import yaml
    from sqlalchemy.engine import make_url

    tracker = make_url(settings.tracker_db_url)
    if tracker.get_backend_name() == "sqlite":
        Path(tracker.database).parent.mkdir(parents=True, exist_ok=True)
        _sqlite_wal(Path(tracker.database))
        # Rasa's SQL store with kept connections (bot/rasa_ext/tracker_store.py); PostgreSQL uses Rasa's own.
        tracker_cfg = {"type": "bot.rasa_ext.tracker_store.LoketSQLTrackerStore", "dialect": "sqlite",
                       "db": tracker.database}
    else:
        tracker_cfg = {
            "type": "SQL",
            "dialect": tracker.drivername,
            "url": tracker.host,
            "port": tracker.port or 5432,
            "db": tracker.database,
            "username": tracker.username,
            "password": tracker.password or "",
            "login_db": tracker.query.get("login_db", "postgres"),
        }
    endpoints: dict = {
        # Only actions marked `send_domain: true` in domain/ get the domain with each call.
        "action_endpoint": {"url": settings.action_url, "enable_selective_domain": True},
        "tracker_store": tracker_cfg,
    }
    if settings.redis_url:
        redis = make_url(settings.redis_url)
        endpoints["lock_store"] = {
            # Rasa's RedisLockStore, with atomic ticket changes (see bot/rasa_ext/lock_store.py)
            "type": "bot.rasa_ext.lock_store.AtomicRedisLockStore",
            "url": redis.host,
            "port": redis.port or 6379,
            "db": int(redis.database or 0),
            "key_prefix": "loket",
        }
        if redis.password:
            endpoints["lock_store"]["password"] = redis.password
    path = settings.data_dir / "endpoints.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False))
    return path


def rasa_command(settings: Settings, port: int | None = None) -> list[str]:
    cmd = [
        console_script("rasa"), "run",
        "--model", str(settings.models_dir),
        "--endpoints", str(write_endpoints(settings)),
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--interface", settings.rasa_host,
        "--port", str(port or settings.rasa_port),
        "--cors", "*",
    ]
    if settings.rasa_token:  # the HTTP API only with a token; without one it stays off
        cmd += ["--enable-api", "--auth-token", settings.rasa_token]
    return cmd


def action_server_command(settings: Settings, port: int | None = None) -> list[str]:
    return [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
            "--port", str(port or settings.action_port)]


def _wait_http(url: str, timeout_s: float, procs: list[subprocess.Popen]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local URL
                if resp.status < 500:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def cmd_run(args, settings: Settings) -> int:
    from bot.cli.knowledge import cmd_knowledge_load
    from bot.cli.train import train
    from bot.db import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    print("1/4 Database bijwerken ...", flush=True)
    upgrade(settings.database_url)
    print("2/4 Kennisbank laden ...", flush=True)
    if cmd_knowledge_load(argparse.Namespace(dir=None), settings) != 0:
        return 1
    if not args.no_train:
        print("3/4 Model trainen (alleen als data of config veranderd is) ...", flush=True)
        if train(settings) != 0:
            print("Trainen is mislukt.", file=sys.stderr)
            return 1
    print("4/4 Servers starten ...", flush=True)
    env = server_env()
    env["SANIC_HOST"] = settings.action_host  # the action server listens on localhost only
    logs = settings.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    specs = [
        ("actieserver", action_server_command(settings), f"{settings.action_url.rsplit('/', 1)[0]}/health"),
        ("rasa", rasa_command(settings), f"{settings.rasa_url}/"),
        ("webapp", [sys.executable, "-m", "bot.web"], f"http://{settings.web_host}:{settings.web_port}/health"),
    ]
    procs: list[subprocess.Popen] = []

    def stop_all(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()

    try:
        for name, cmd, health in specs:
            out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
            procs.append(subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True))
            if not _wait_http(health, 300, procs):
                print(f"{name} start niet; zie {logs / (name + '.log')}", file=sys.stderr)
                stop_all()
                return 1
        web = settings.public_url
        print(
            "\nLoket draait:\n"
            f"  Demo-gemeentepagina met chat:  {web}/demo\n"
            f"  Makelaarsportaal:              {web}/portaal\n"
            f"  Coördinatie (knelpunten):      {web}/coordinatie\n"
            f"  Rasa REST-kanaal:              {settings.rasa_url}/webhooks/rest/webhook\n"
            f"  Actieserver (alleen lokaal):   {settings.action_url}\n"
            f"Logboeken in {logs}. Stoppen met Ctrl-C.",
            flush=True,
        )
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        print("Een van de servers is gestopt; de andere worden ook gestopt.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStoppen ...", flush=True)
        return 0
    finally:
        stop_all()


def register(sub) -> None:
    run = sub.add_parser("run", help="alles starten: database, kennisbank, training, servers")
    run.add_argument("--no-train", action="store_true", help="niet trainen, bestaand model gebruiken")
    run.set_defaults(func=cmd_run)
