"""Values built from the loaded knowledge (word lists, the gemeente index), kept per database until
the next `loket knowledge load`: one cheap query per use instead of reading whole tables."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import models

T = TypeVar("T")


class PerKnowledgeLoad(Generic[T]):
    def __init__(self, build: Callable[[Session], T], keep: int = 4) -> None:
        self._build = build
        self._keep = keep
        self._values: OrderedDict[tuple, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session) -> T:
        latest = session.execute(
            select(models.KnowledgeVersion.id, models.KnowledgeVersion.content_hash)
            .order_by(models.KnowledgeVersion.id.desc()).limit(1)
        ).first()
        if latest is None:  # rows written without the loader (tests): no version to key on
            return self._build(session)
        key = (str(session.get_bind().url), tuple(latest))
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
                return found
        value = self._build(session)
        with self._lock:
            self._values[key] = value
            while len(self._values) > self._keep:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
