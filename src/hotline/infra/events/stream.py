"""Reading the event log (outbox) for live streams, filtered per subscriber.

Every open stream wakes at every commit. If each read the outbox itself, a floor of N agents
would cost N queries per commit (the load benchmark measured the streams costing more CPU than
the routing writes they report). `OutboxTail` is the one reader per process: at each
notifier generation it reads the new rows once, renders each row's JSON once, and keeps the
recent ones in memory; streams pick from that list with their own visibility filter. A stream
resuming from further back than memory reaches reads the table itself (`fetch_after`).

Outbox ids are in commit order (rows are written under the audit chain's lock at commit), so
"rows after the last id read" never skips a row committed later.
"""

from __future__ import annotations

import bisect
import json
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hotline.core.context import Actor
from hotline.infra.db.database import Database
from hotline.infra.db.schema import outbox
from hotline.infra.events.notifier import Notifier


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    type: str
    data: str


@dataclass(frozen=True, slots=True)
class _Row:
    """An outbox row as streams need it: who may see it, and its rendered data."""

    id: int
    type: str
    data: str
    user_id: str | None
    permission: str
    org_unit_path: str | None


def _render(r: Any) -> str:
    return json.dumps(
        {
            "id": r.id,
            "type": r.type,
            "at": r.occurred_at.isoformat(),
            "object_type": r.object_type,
            "object_id": r.object_id,
            "payload": r.payload,
        },
        ensure_ascii=False,
        default=str,
    )


def visible(actor: Actor, row: Any) -> bool:
    """A subscriber sees an event addressed to them, or one they may read in its scope."""
    if row.user_id is not None and row.user_id == actor.user_id:
        return True
    return actor.can(row.permission, row.org_unit_path)


def latest_id(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))).scalar_one()
        )


def fetch_after(
    db: Database, actor: Actor, after_id: int, limit: int = 500
) -> tuple[list[Delivery], int]:
    """Events after `after_id` the actor may see, and the last id examined (seen or not)."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(outbox).where(outbox.c.id > after_id).order_by(outbox.c.id).limit(limit)
        ).all()
    out = [Delivery(id=r.id, type=r.type, data=_render(r)) for r in rows if visible(actor, r)]
    return out, (rows[-1].id if rows else after_id)


def _pick(actor: Actor, found: list[_Row], cursor: int) -> tuple[list[Delivery], int]:
    out = [Delivery(r.id, r.type, r.data) for r in found if visible(actor, r)]
    return out, (found[-1].id if found else cursor)


class OutboxTail:
    """The process's one reader of the event log for live streams (see the module docstring).
    Thread-safe: streams call `after` from worker threads."""

    def __init__(
        self, db: Database, notifier: Notifier, *, keep: int = 20_000, batch: int = 1_000
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.keep = keep
        self.batch = batch
        self._lock = threading.Lock()  # one reader of the table at a time
        self._rows: list[_Row] = []
        self._ids: list[int] = []
        self._low: int | None = None  # every row with a larger id is in memory (or not yet read)
        self._high = 0  # the last id read
        self._seen = -1  # the notifier generation the last read covered

    def after(self, actor: Actor, cursor: int, limit: int = 500) -> tuple[list[Delivery], int]:
        """Events after `cursor` the actor may see, and the last id examined (as `fetch_after`)."""
        self._refresh()
        with self._lock:
            found = self._slice(cursor, limit)
        if found is None:  # resuming from before what memory holds
            return fetch_after(self.db, actor, cursor, limit)
        return _pick(actor, found, cursor)

    def in_memory(
        self, actor: Actor, cursor: int, limit: int = 500
    ) -> tuple[list[Delivery], int] | None:
        """What `after` answers, when memory answers it without reading the table (no commit
        since the last read, `cursor` within memory, no read under way); else None. Never
        blocks, so a stream calls it on its event loop and goes to a worker thread (`after`)
        only to read: most of the streams woken by a commit find the rows read by the first."""
        if self.notifier.generation != self._seen or not self._lock.acquire(blocking=False):
            return None
        try:
            if self.notifier.generation != self._seen:
                return None
            found = self._slice(cursor, limit)
        finally:
            self._lock.release()
        return None if found is None else _pick(actor, found, cursor)

    def _slice(self, cursor: int, limit: int) -> list[_Row] | None:
        """The rows after `cursor` in memory (None: memory does not reach back that far).
        Under the lock."""
        if self._low is None or cursor < self._low:
            return None
        start = bisect.bisect_right(self._ids, cursor)
        return self._rows[start : start + limit]

    def _refresh(self) -> None:
        generation = self.notifier.generation
        if generation == self._seen:
            return
        with self._lock:
            if generation == self._seen:
                return
            with self.db.read() as conn:
                if self._low is None:
                    # start from the present: older rows are read on demand by `fetch_after`
                    self._high = int(
                        conn.execute(
                            sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))
                        ).scalar_one()
                    )
                    self._low = self._high
                while True:
                    rows = conn.execute(
                        sa.select(outbox)
                        .where(outbox.c.id > self._high)
                        .order_by(outbox.c.id)
                        .limit(self.batch)
                    ).all()
                    for r in rows:
                        self._rows.append(
                            _Row(r.id, r.type, _render(r), r.user_id, r.permission, r.org_unit_path)
                        )
                        self._ids.append(r.id)
                    if rows:
                        self._high = rows[-1].id
                    if len(rows) < self.batch:
                        break
            if len(self._rows) > self.keep + self.keep // 2:  # trim now and then, not per row
                cut = len(self._rows) - self.keep
                self._low = self._ids[cut - 1]
                del self._rows[:cut]
                del self._ids[:cut]
            self._seen = generation
