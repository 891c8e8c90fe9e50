"""Shared fixtures: a migrated database per test, the small fixture knowledge base, and one running
bot (action server, Rasa with the trained model, web app) shared by the model-backed tests."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.support import FIXTURE_KNOWLEDGE

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy (SQLite's backup API), also of a database in WAL mode."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


@pytest.fixture(scope="session")
def template_databases(tmp_path_factory) -> dict[str, Path]:
    """Migrated once per session, and once more with the fixture knowledge loaded: a test copies
    one instead of running every migration (and the load) again."""
    from bot import db
    from bot.knowledge.loader import load

    folder = tmp_path_factory.mktemp("templates")
    migrated, loaded_db = folder / "migrated.db", folder / "loaded.db"
    db.upgrade(f"sqlite:///{migrated}")
    _copy_sqlite(migrated, loaded_db)
    engine = db.make_engine(f"sqlite:///{loaded_db}")
    load(engine, FIXTURE_KNOWLEDGE)
    engine.dispose()
    return {"migrated": migrated, "loaded": loaded_db}


@pytest.fixture(scope="session")
def bot_stack(tmp_path_factory):
    """One stack per test session: starting Rasa is the slow part of the end-to-end tests."""
    from tests.support.model import require_model
    from tests.support.stack import SHARED_STACK_TOKEN, make_stack

    models = require_model()
    st = make_stack(tmp_path_factory.mktemp("bot-stack"), extra_env={
        "LOKET_MODELS_DIR": str(models),
        "LOKET_RASA_TOKEN": SHARED_STACK_TOKEN,
        # the tests are one client address: lift the address limit, keep the per-sender one
        "LOKET_RATE_IP_BURST": "1000000", "LOKET_RATE_IP_PER_MINUTE": "1000000",
    })
    try:
        for name in ("actions", "rasa", "web"):
            st.start(name)
        yield st
    except Exception:
        for name in ("actions", "rasa", "web"):
            print(f"--- {name} log ---\n{st.log(name)[-4000:]}")
        raise
    finally:
        st.stop_all()


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'loket.db'}"


@pytest.fixture
def engine(db_url, monkeypatch, tmp_path, template_databases):
    """A fresh database migrated with Alembic (a copy of the session's template), used as the process
    default engine."""
    from bot import db, settings

    monkeypatch.setenv("LOKET_DATABASE_URL", db_url)
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "var"))
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    _copy_sqlite(template_databases["migrated"], Path(db_url.removeprefix("sqlite:///")))
    eng = db.get_engine()
    yield eng
    eng.dispose()
    db.get_engine.cache_clear()
    settings.get_settings.cache_clear()


@pytest.fixture
def loaded(engine, db_url, template_databases):
    """The database with the fixture knowledge loaded (a copy of the session's loaded template)."""
    engine.dispose()
    _copy_sqlite(template_databases["loaded"], Path(db_url.removeprefix("sqlite:///")))
    return engine


@pytest.fixture
def editor(loaded):
    """A coordinatie user who stamps content as checked (review stamps)."""
    from bot import models
    from bot.db import session_scope

    with session_scope(loaded) as s:
        user = models.User(username="redacteur", password_hash="x", role="coordinatie",
                           display_name="Redacteur Een")
        s.add(user)
        s.flush()
        return user
