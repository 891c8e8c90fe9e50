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
from sqlalchemy.pool import QueuePool


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class LoketSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name != "sqlite" or self.engine.url.database in (None, "", ":memory:"):
            return
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=5, max_overflow=10,
                                       connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
