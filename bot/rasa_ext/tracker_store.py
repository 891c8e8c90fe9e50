"""Rasa's SQL tracker store, with kept connections on SQLite.

SQLAlchemy 1.4 gives a SQLite file a NullPool, so Rasa's SQLTrackerStore opened a new connection for
every load and every save of a conversation (two per turn; 19 % of the Rasa server's time in the
profile, docs/BENCHMARKS.md). Here SQLite gets a small pool and, in WAL mode, synchronous=NORMAL:
a commit survives a crash of Rasa itself; only a power cut can lose the last turns. PostgreSQL is
left exactly as Rasa configures it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore

from bot.db import make_engine


class LoketSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return
        url = self.engine.url
        self.engine.dispose()
        # The same pooled engine and PRAGMAs (WAL, synchronous=NORMAL) as the application database.
        self.engine = make_engine(url.render_as_string(hide_password=False))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
