"""Shared fixtures: a migrated database per test, and the small fixture knowledge base."""

from __future__ import annotations

import os

import pytest

from tests.support import FIXTURE_KNOWLEDGE

os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")



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
