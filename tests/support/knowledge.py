"""The actions' database for tests: the default engine on a fresh SQLite file with the knowledge loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT


def default_engine_with_knowledge(tmp: Path, knowledge_dir: Path = PROJECT_ROOT / "knowledge") -> Iterator:
    """For a module fixture (`yield from ...`): the actions use the default engine, so the settings
    point it at a database in `tmp`; both caches are cleared before and after."""
    from bot import db, settings
    from bot.knowledge.loader import load

    mp = pytest.MonkeyPatch()
    url = f"sqlite:///{tmp / 'loket.db'}"
    mp.setenv("LOKET_DATABASE_URL", url)
    mp.setenv("LOKET_DATA_DIR", str(tmp / "var"))
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        db.upgrade(url)
        engine = db.get_engine()
        load(engine, knowledge_dir)
        yield engine
        engine.dispose()
    finally:
        db.get_engine.cache_clear()
        settings.get_settings.cache_clear()
        mp.undo()
