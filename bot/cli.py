"""The `loket` command: run the whole product, train, load knowledge, manage users, purge, export."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.settings import PROJECT_ROOT, Settings, get_settings
from bot.training import RASA_DATA_ARGS  # noqa: F401 - the Rasa arguments, also used by tests

log = logging.getLogger("loket")



def _bin(name: str) -> str:
    """A console script from the same environment as this Python."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


# Process settings for the servers, measured with `make bench` (docs/BENCHMARKS.md); the environment
# overrides them. One TensorFlow thread per op: Rasa runs one small model call at a time, and extra
# threads only add hand-offs; with several Rasa processes they would also fight over the cores.
SERVER_ENV: dict[str, str] = {
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


def _quiet_env() -> dict[str, str]:
    env = dict(os.environ)
    for name, value in SERVER_ENV.items():
        env.setdefault(name, value)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    return env


# --- database and knowledge ----------------------------------------------------------------


def cmd_db_upgrade(args, settings: Settings) -> int:
    from bot.db import upgrade

    upgrade(settings.database_url)
    print("Database is bijgewerkt.")
    return 0


def _checked_knowledge(directory: Path):
    """The knowledge in `directory`, or None after printing each problem."""
    from bot.knowledge.loader import KnowledgeError, check

    try:
        return check(directory)
    except KnowledgeError as exc:
        print(f"De kennisbank in {directory} heeft {len(exc.problems)} fout(en):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def cmd_knowledge_check(args, settings: Settings) -> int:
    directory = Path(args.dir) if args.dir else settings.knowledge_dir
    kn = _checked_knowledge(directory)
    if kn is None:
        return 1
    counts = ", ".join(f"{v} {k}" for k, v in kn.counts().items())
    print(f"De kennisbank is in orde: {counts}.")
    return 0


def cmd_knowledge_load(args, settings: Settings) -> int:
    from bot.db import get_engine, upgrade
    from bot.knowledge.loader import KnowledgeError, load

    directory = Path(args.dir) if args.dir else settings.knowledge_dir
    upgrade(settings.database_url)
    try:
        kn = load(get_engine(settings.database_url), directory, progress=sys.stderr.isatty())
    except KnowledgeError as exc:
        print(f"Niet geladen: de kennisbank heeft {len(exc.problems)} fout(en):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{v} {k}" for k, v in kn.counts().items())
    print(f"Kennisbank geladen: {counts}.")
    return 0


# --- Rasa ----------------------------------------------------------------------------------


def train(settings: Settings, force: bool = False) -> int:
    """Train when config, domain, data or the pipeline code changed (bot/training.py)."""
    from bot import training

    code, trained = training.train(settings.models_dir, training.run_in_project(_quiet_env()),
                                   rasa=_bin("rasa"), force=force)
    if not trained:
        newest = training.archives(settings.models_dir)[0]
        print(f"Het model is bijgewerkt; niets te trainen ({newest.name}).", flush=True)
    return code


def cmd_train(args, settings: Settings) -> int:
    return train(settings, force=args.force)


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
        # Rasa's SQL store with kept connections (bot/tracker_store.py); PostgreSQL uses Rasa's own.
        tracker_cfg = {"type": "bot.tracker_store.LoketSQLTrackerStore", "dialect": "sqlite",
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
            # Rasa's RedisLockStore, with atomic ticket changes (see bot/lock_store.py)
            "type": "bot.lock_store.AtomicRedisLockStore",
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
        _bin("rasa"), "run",
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
    env = _quiet_env()
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


# --- entry point ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="loket", description="Loket Impact Ondernemen")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="alles starten: database, kennisbank, training, servers")
    run.add_argument("--no-train", action="store_true", help="niet trainen, bestaand model gebruiken")
    run.set_defaults(func=cmd_run)

    tr = sub.add_parser("train", help="model trainen als data, domein of config veranderd is")
    tr.add_argument("--force", action="store_true", help="ook trainen als er niets veranderd is")
    tr.set_defaults(func=cmd_train)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="schema bijwerken (Alembic)").set_defaults(func=cmd_db_upgrade)

    kn = sub.add_parser("knowledge", help="kennisbank").add_subparsers(dest="kn_command", required=True)
    for name, func, text in (("check", cmd_knowledge_check, "controleren"),
                             ("load", cmd_knowledge_load, "controleren en laden")):
        p = kn.add_parser(name, help=text)
        p.add_argument("--dir", help="map met de kennisbank (standaard knowledge/)")
        p.set_defaults(func=func)

    for extend in _EXTENSIONS:
        extend(sub)
    return parser


# Other modules add their subcommands here (users, purge, forget, export), keeping this file small.
_EXTENSIONS: list = []


def _load_extensions() -> None:
    import importlib

    for module in ("bot.cli_users", "bot.cli_privacy", "bot.cli_knelpunten"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        _EXTENSIONS.append(mod.register)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("LOKET_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _load_extensions()
    args = build_parser().parse_args(argv)
    return int(args.func(args, get_settings()) or 0)


if __name__ == "__main__":
    sys.exit(main())
