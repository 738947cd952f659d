"""SQL implementation of `hotline.domains.stats.ports.StatsStore`."""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hotline.domains.contacts.model import HistoryEntry, Lifecycle
from hotline.domains.stats.model import (
    COUNT_FIELDS,
    ContactFacts,
    Counts,
    Dimension,
    FoldMemory,
    RowKey,
    StatsConfig,
)
from hotline.domains.stats.ports import IntervalRow, QueueLoad
from hotline.infra.db.engine import is_postgres
from hotline.infra.db.schema import (
    agent_state_log,
    contact_events,
    contacts,
    interval_stats,
    live_stats,
)
from hotline.infra.db.stores.contacts import _entry

_WAITING = (Lifecycle.queued.value, Lifecycle.transferred.value)
_CHUNK = 500  # ids per IN list


def _chunks(ids: Collection[str]) -> Iterator[list[str]]:
    items = sorted(ids)
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


_MEMORIES: weakref.WeakKeyDictionary[sa.Engine, FoldMemory] = weakref.WeakKeyDictionary()
_MEMORIES_LOCK = threading.Lock()


def fold_memory(engine: sa.Engine) -> FoldMemory:
    """The live counting path's memory of contacts' folds, one per database engine of this
    process: every transaction of the process that counts history shares it, so none can
    leave it behind the stored history. Another process may write history only where the
    routing lease moved, and the routing service clears the memory whenever it (re)loads its
    engine (ADR 0008)."""
    with _MEMORIES_LOCK:
        memory = _MEMORIES.get(engine)
        if memory is None:
            memory = _MEMORIES[engine] = FoldMemory()
        return memory


def _counts(row: Any) -> Counts:
    return Counts(**{f: int(getattr(row, f)) for f in COUNT_FIELDS})


class SqlStatsStore:
    def __init__(self, conn: sa.Connection, config: StatsConfig | None = None) -> None:
        self.conn = conn
        self.config = config or StatsConfig()
        self.fold_memory: FoldMemory | None = fold_memory(conn.engine)

    # --- reducer inputs --------------------------------------------------------------------
    def contact_facts(self, contact_ids: Collection[str]) -> dict[str, ContactFacts]:
        out: dict[str, ContactFacts] = {}
        for chunk in _chunks(contact_ids):
            rows = (
                self.conn.execute(_FACTS_ONE, {"id": chunk[0]})
                if len(chunk) == 1
                else self.conn.execute(_FACTS, {"ids": chunk})
            )
            for r in rows:
                out[r.id] = ContactFacts(r.id, r.arrived_at, r.entry_point_id, r.caller_area)
        return out

    def stored_history(self, contact_ids: Collection[str]) -> list[HistoryEntry]:
        out: list[HistoryEntry] = []
        for chunk in _chunks(contact_ids):
            rows = (
                self.conn.execute(_HISTORY_ONE, {"id": chunk[0]})
                if len(chunk) == 1
                else self.conn.execute(_HISTORY, {"ids": chunk})
            )
            out.extend(_entry(r) for r in rows)
        out.sort(key=lambda e: e.id or 0)
        return out

    def histories_since(
        self, since: dt.datetime | None
    ) -> Iterator[tuple[ContactFacts, list[HistoryEntry]]]:
        c = contacts.c
        q = (
            sa.select(
                contact_events,
                c.arrived_at.label("c_arrived_at"),
                c.entry_point_id.label("c_entry_point_id"),
                c.caller_area.label("c_caller_area"),
            )
            .join(contacts, contacts.c.id == contact_events.c.contact_id)
            .order_by(contact_events.c.contact_id, contact_events.c.id)
        )
        if since is not None:
            q = q.where(c.arrived_at >= since)
        facts: ContactFacts | None = None
        entries: list[HistoryEntry] = []
        for r in self.conn.execute(q):
            if facts is None or facts.contact_id != r.contact_id:
                if facts is not None:
                    yield facts, entries
                facts = ContactFacts(
                    r.contact_id, r.c_arrived_at, r.c_entry_point_id, r.c_caller_area
                )
                entries = []
            entries.append(_entry(r))
        if facts is not None:
            yield facts, entries

    # --- interval rows ---------------------------------------------------------------------
    def _row(self, key: RowKey, counts: Counts, at: dt.datetime) -> dict[str, Any]:
        kind, k, start = key
        minutes = 1 if kind is Dimension.queue_minute else self.config.interval_minutes
        return {
            "kind": kind.value,
            "key": k,
            "interval_start": start,
            "minutes": minutes,
            **counts.as_dict(),
            "updated_at": at,
        }

    def lock_for_rebuild(self) -> None:
        # A live upsert takes ROW EXCLUSIVE, which EXCLUSIVE waits for and then blocks until
        # commit. SQLite: the transaction already holds the database's write lock.
        if is_postgres(self.conn):
            self.conn.execute(sa.text("LOCK TABLE interval_stats IN EXCLUSIVE MODE"))

    def add_counts(self, rows: Mapping[RowKey, Counts], at: dt.datetime) -> None:
        """One INSERT … ON CONFLICT DO UPDATE (adding) for all rows, in key order."""
        values = [self._row(k, rows[k], at) for k in sorted(rows, key=_order)]
        self.conn.execute(_upsert(is_postgres(self.conn)), values)

    def replace_counts(
        self, since: dt.datetime | None, rows: Mapping[RowKey, Counts], at: dt.datetime
    ) -> int:
        delete = interval_stats.delete()
        if since is not None:
            delete = delete.where(interval_stats.c.interval_start >= since)
        self.conn.execute(delete)
        values = [self._row(k, rows[k], at) for k in sorted(rows, key=_order)]
        if values:
            self.conn.execute(interval_stats.insert(), values)
        return len(values)

    def delete_minute_rows(self, before: dt.datetime) -> int:
        t = interval_stats.c
        result = self.conn.execute(
            interval_stats.delete().where(
                t.kind == Dimension.queue_minute.value, t.interval_start < before
            )
        )
        return int(result.rowcount or 0)

    def interval_rows(
        self,
        kind: Dimension,
        *,
        start: dt.datetime,
        end: dt.datetime,
        keys: Collection[str] | None = None,
    ) -> list[IntervalRow]:
        t = interval_stats.c
        q = (
            sa.select(interval_stats)
            .where(t.kind == kind.value, t.interval_start >= start, t.interval_start < end)
            .order_by(t.key, t.interval_start)
        )
        if keys is not None:
            if not keys:
                return []
            q = q.where(t.key.in_(sorted(keys)))
        return [
            IntervalRow(Dimension(r.kind), r.key, r.interval_start, _counts(r))
            for r in self.conn.execute(q)
        ]

    def sums(
        self, kind: Dimension, *, since: dt.datetime, keys: Collection[str] | None = None
    ) -> dict[str, Counts]:
        t = interval_stats.c
        cols = [
            (sa.func.max(t[f]) if f == "wait_max_ms" else sa.func.sum(t[f])).label(f)
            for f in COUNT_FIELDS
        ]
        q = (
            sa.select(t.key, *cols)
            .where(t.kind == kind.value, t.interval_start >= since)
            .group_by(t.key)
        )
        if keys is not None:
            if not keys:
                return {}
            q = q.where(t.key.in_(sorted(keys)))
        return {r.key: _counts(r) for r in self.conn.execute(q)}

    # --- live inputs -------------------------------------------------------------------------
    def queue_loads(self) -> dict[str, QueueLoad]:
        c = contacts.c
        waiting = sa.case((c.status.in_(_WAITING), 1), else_=0)
        q = (
            sa.select(
                c.queue_id,
                sa.func.sum(waiting).label("waiting"),
                sa.func.min(sa.case((c.status.in_(_WAITING), c.enqueued_at))).label("oldest"),
                sa.func.sum(sa.case((c.status == Lifecycle.offered.value, 1), else_=0)).label(
                    "offering"
                ),
                sa.func.sum(sa.case((c.status == Lifecycle.connected.value, 1), else_=0)).label(
                    "connected"
                ),
            )
            .where(
                c.status.in_([*_WAITING, Lifecycle.offered.value, Lifecycle.connected.value]),
                c.queue_id.is_not(None),
            )
            .group_by(c.queue_id)
        )
        out: dict[str, QueueLoad] = {}
        for r in self.conn.execute(q):
            oldest = r.oldest
            if isinstance(oldest, str):  # SQLite returns min() of a column as text
                oldest = dt.datetime.fromisoformat(oldest)
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=dt.UTC)
            out[r.queue_id] = QueueLoad(int(r.waiting), oldest, int(r.offering), int(r.connected))
        return out

    def state_changes(
        self, since: dt.datetime, user_ids: Collection[str]
    ) -> dict[str, list[tuple[dt.datetime, str, str]]]:
        t = agent_state_log.c
        out: dict[str, list[tuple[dt.datetime, str, str]]] = {}
        for chunk in _chunks(user_ids):
            q = (
                sa.select(t.user_id, t.at, t.from_state, t.to_state)
                .where(t.kind == "state", t.at >= since, t.user_id.in_(chunk))
                .order_by(t.user_id, t.at, t.id)
            )
            for r in self.conn.execute(q):
                out.setdefault(r.user_id, []).append((r.at, r.from_state, r.to_state))
        return out

    # --- published live rows -----------------------------------------------------------------
    def published(self, kind: str) -> dict[str, Mapping[str, Any]]:
        q = sa.select(live_stats.c.key, live_stats.c.row).where(live_stats.c.kind == kind)
        return {r.key: r.row for r in self.conn.execute(q)}

    def save_published(
        self, kind: str, rows: Mapping[str, Mapping[str, Any]], at: dt.datetime
    ) -> None:
        if not rows:
            return
        keys = sorted(rows)
        self.conn.execute(
            live_stats.delete().where(live_stats.c.kind == kind, live_stats.c.key.in_(keys))
        )
        self.conn.execute(
            live_stats.insert(),
            [{"kind": kind, "key": k, "row": dict(rows[k]), "updated_at": at} for k in keys],
        )


# Statements built once (their construction costs more than running them on the hot path).
_ids: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_FACTS = sa.select(
    contacts.c.id, contacts.c.arrived_at, contacts.c.entry_point_id, contacts.c.caller_area
).where(contacts.c.id.in_(_ids))
_HISTORY = (
    sa.select(contact_events)
    .where(contact_events.c.contact_id.in_(_ids))
    .order_by(contact_events.c.id)
)
# One contact (the usual case of a live action): an expanding IN list is rendered anew on
# every execution, an equality is compiled once.
_FACTS_ONE = sa.select(
    contacts.c.id, contacts.c.arrived_at, contacts.c.entry_point_id, contacts.c.caller_area
).where(contacts.c.id == sa.bindparam("id"))
_HISTORY_ONE = (
    sa.select(contact_events)
    .where(contact_events.c.contact_id == sa.bindparam("id"))
    .order_by(contact_events.c.id)
)
_UPSERTS: dict[bool, Any] = {}


def _upsert(pg: bool) -> Any:
    stmt = _UPSERTS.get(pg)
    if stmt is None:
        ins: Any = postgresql.insert(interval_stats) if pg else sqlite.insert(interval_stats)
        # SQLite's two-argument max() is scalar; PostgreSQL calls it greatest().
        biggest: Any = sa.func.greatest if pg else sa.func.max
        t, ex = interval_stats.c, ins.excluded
        changes: dict[str, Any] = {
            f: (biggest(t[f], ex[f]) if f == "wait_max_ms" else t[f] + ex[f]) for f in COUNT_FIELDS
        }
        changes["updated_at"] = ex.updated_at
        stmt = _UPSERTS[pg] = ins.on_conflict_do_update(
            index_elements=[t.kind, t.key, t.interval_start], set_=changes
        )
    return stmt


def _order(key: RowKey) -> tuple[str, str, dt.datetime]:
    return (key[0].value, key[1], key[2])
