"""Rasa's SQL tracker store, with kept connections on SQLite.

SQLAlchemy 1.4 gives a SQLite file a NullPool, so Rasa's SQLTrackerStore opened a new connection for
every load and every save of a conversation (two per turn; 19 % of the Rasa server's time in the
profile, docs/BENCHMARKS.md). Here SQLite gets a small pool and, in WAL mode, synchronous=NORMAL:
a commit survives a crash of Rasa itself; only a power cut can lose the last turns. PostgreSQL is
left exactly as Rasa configures it.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

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

    # The same queries as Rasa's store, without building an ORM object per event: reading and
    # writing events was a third of the Rasa server's time in the profile (docs/BENCHMARKS.md).

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions)
            events = [json.loads(data) for (data,) in query.with_entities(self.SQLEvent.data)]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            rows = []
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                rows.append({"sender_id": tracker.sender_id, "type_name": event.type_name,
                             "timestamp": data.get("timestamp"),
                             "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
                             "action_name": data.get("name"), "data": json.dumps(data)})
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
