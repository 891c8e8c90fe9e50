"""`loket run`: database, knowledge, training if needed, then the servers under a supervisor: the
local mail sink (embedded default), the action server, Rasa and the web app (bot/cli/supervisor.py
restarts one that stops; Ctrl-C or SIGTERM stops them all)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from bot.cli.process import rasa_env, server_env, web_python
from bot.cli.supervisor import Server, Supervisor, http_probe, tcp_probe
from bot.settings import PROJECT_ROOT, Settings, ensure_private_dir


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
        sys.executable, "-m", "bot.rasa_ext.launcher", "run",  # Rasa's CLI, skops imported first
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


def web_command(settings: Settings) -> list[str]:
    return [web_python(), "-m", "bot.web"]


def mail_sink_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "bot.handoffs.mailsink"]


def _local(host: str) -> str:
    """Where this machine reaches a server that listens on `host`."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def servers(settings: Settings) -> list[Server]:
    """What `loket run` starts, in this order; names are also the log files' names."""
    env = server_env()
    env["SANIC_HOST"] = settings.action_host  # the action server listens on localhost only
    rasa = rasa_env()
    found: list[Server] = []
    if settings.mail_sink:
        found.append(Server("mail", mail_sink_command(settings),
                            tcp_probe("127.0.0.1", settings.smtp_port), env))
    found += [
        Server("actieserver", action_server_command(settings),
               http_probe(f"http://{_local(settings.action_host)}:{settings.action_port}/health"), env),
        Server("rasa", rasa_command(settings),
               http_probe(f"http://{_local(settings.rasa_host)}:{settings.rasa_port}/"), rasa),
        Server("webapp", web_command(settings),
               http_probe(f"http://{_local(settings.web_host)}:{settings.web_port}/health"), env),
    ]
    return found


def _ports_in_use(settings: Settings) -> list[str]:
    """Dutch lines for the ports where something already answers (an earlier Loket, say)."""
    ports = [("LOKET_ACTION_PORT", settings.action_host, settings.action_port),
             ("LOKET_RASA_PORT", settings.rasa_host, settings.rasa_port),
             ("LOKET_WEB_PORT", settings.web_host, settings.web_port)]
    if settings.mail_sink:
        ports.append(("LOKET_SMTP_PORT", "127.0.0.1", settings.smtp_port))  # the sink: local only
    return [f"Poort {port} is al in gebruik (instelling {name})."
            for name, host, port in ports if tcp_probe(_local(host), port)()]


def _interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt


def cmd_run(args, settings: Settings) -> int:
    # Local state (databases, logs, mail) readable by this user only, also files the servers make.
    os.umask(0o077)
    # Until the servers run, SIGTERM (systemd, a container) and SIGINT stop us like Ctrl-C; SIGINT
    # explicitly: a shell starts a background job with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _run(args, settings)
    except KeyboardInterrupt:
        print("\nGestopt.", flush=True)
        return 0


def _run(args, settings: Settings) -> int:
    from bot.cli.knowledge import cmd_knowledge_load
    from bot.cli.train import train
    from bot.db import upgrade

    ensure_private_dir(settings.data_dir)
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
    busy = _ports_in_use(settings)
    if busy:
        print("\n".join(busy) + "\nDraait Loket al? Stop dat eerst, of kies een andere poort.",
              file=sys.stderr)
        return 1
    print("4/4 Servers starten ...", flush=True)
    logs = settings.data_dir / "logs"
    supervisor = Supervisor(servers(settings), log_dir=logs, cwd=PROJECT_ROOT, env=server_env())
    supervisor.install_signal_handlers()
    try:
        code = _start_and_watch(supervisor, settings, logs)
    finally:
        if supervisor.stop_signal is not None:
            print("\nStoppen ...", flush=True)
        supervisor.stop_all()
    print("Alle servers zijn gestopt.", flush=True)
    return code


def _start_and_watch(supervisor: Supervisor, settings: Settings, logs: Path) -> int:
    """0 after Ctrl-C or SIGTERM; 1 when a server does not start or keeps stopping."""
    if not supervisor.start_all():
        return 0 if supervisor.stop_signal is not None else 1
    web = settings.public_url
    mail = (f"  E-mail (lokaal bewaard):       {settings.mail_dir} en {web}/beheer/mail\n"
            if settings.mail_sink else "")
    print(
        "\nLoket draait:\n"
        f"  Demo-gemeentepagina met chat:  {web}/demo\n"
        f"  Makelaarsportaal:              {web}/portaal\n"
        f"  Coördinatie (knelpunten):      {web}/coordinatie\n"
        f"  Rasa REST-kanaal:              {settings.rasa_url}/webhooks/rest/webhook\n"
        f"  Actieserver (alleen lokaal):   {settings.action_url}\n"
        f"{mail}"
        f"Logboeken in {logs}. Stoppen met Ctrl-C.",
        flush=True,
    )
    return supervisor.watch()


def register(sub) -> None:
    run = sub.add_parser("run", help="alles starten: database, kennisbank, training, servers")
    run.add_argument("--no-train", action="store_true", help="niet trainen, bestaand model gebruiken")
    run.set_defaults(func=cmd_run)
