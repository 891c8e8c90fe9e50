from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bot import models
from bot.db import session_scope


def test_migrations_create_every_table(engine):
    tables = set(inspect(engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables


def test_models_and_migrations_do_not_drift(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    assert diff == [], f"models.py and migrations/ differ; add a migration: {diff}"


def test_session_scope_rolls_back_on_error(engine):
    try:
        with session_scope(engine) as s:
            s.add(models.ReferenceCounter(prefix="LKT", year=2026, value=1))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with session_scope(engine) as s:
        assert s.execute(select(models.ReferenceCounter)).first() is None
