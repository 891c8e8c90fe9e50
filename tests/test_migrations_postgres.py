"""Alembic migrations on the real PostgreSQL (127.0.0.1:5432, trust auth), in a throwaway database.

CI (.ci/run) makes sure PostgreSQL runs; elsewhere these tests skip when it does not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bot import db, models
from tests.support.postgres import pg_url, require_postgres, temporary_database

pytestmark = pytest.mark.postgres











@pytest.fixture
def pg_database() -> Iterator[str]:
    require_postgres()
    with temporary_database("loket_migr") as name:
        yield name


def _tables(url: str) -> set[str]:
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_matches_the_models(pg_database):
    url = pg_url(pg_database)
    db.upgrade(url)
    assert set(models.Base.metadata.tables) <= _tables(url)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
        assert diff == [], f"models.py and migrations/ differ on PostgreSQL: {diff}"
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_the_schema_and_upgrade_works_again(pg_database):
    url = pg_url(pg_database)
    db.upgrade(url)
    command.downgrade(db.alembic_config(url), "base")
    assert _tables(url) <= {"alembic_version"}
    db.upgrade(url)
    assert set(models.Base.metadata.tables) <= _tables(url)


def test_reference_numbers_and_knowledge_load_work_on_postgresql(pg_database):
    from bot.handoffs.references import next_reference
    from bot.knowledge.loader import load
    from tests.support import FIXTURE_KNOWLEDGE

    url = pg_url(pg_database)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        load(engine, FIXTURE_KNOWLEDGE)
        with db.session_scope(engine) as session:
            first = next_reference(session, "LKT")
        with db.session_scope(engine) as session:
            second = next_reference(session, "LKT")
        assert first.endswith("-000001") and second.endswith("-000002")
        with db.session_scope(engine) as session:
            assert session.execute(select(models.Gemeente)).first() is not None
    finally:
        engine.dispose()
