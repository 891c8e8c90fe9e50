"""Shared fixtures: a migrated database per test, the small fixture knowledge base, and one running
bot (action server, Rasa with the trained model, web app) shared by the model-backed tests."""

from __future__ import annotations

import os

import pytest

from tests.support import FIXTURE_KNOWLEDGE

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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
def engine(db_url, monkeypatch, tmp_path):
    """A fresh database migrated with Alembic, used as the process default engine."""
    from bot import db, settings

    monkeypatch.setenv("LOKET_DATABASE_URL", db_url)
    monkeypatch.setenv("LOKET_DATA_DIR", str(tmp_path / "var"))
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.upgrade(db_url)
    eng = db.get_engine()
    yield eng
    eng.dispose()
    db.get_engine.cache_clear()
    settings.get_settings.cache_clear()


@pytest.fixture
def loaded(engine):
    """The database with the fixture knowledge loaded."""
    from bot.knowledge.loader import load

    load(engine, FIXTURE_KNOWLEDGE)
    return engine
