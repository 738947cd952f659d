"""The unit of work: one transaction per action, with its audit rows and outbox events.

    with db.transaction(actor=actor) as tx:
        ...domain writes through tx.conn / stores...
        tx.audit("user.create", "user", user_id, after=...)
        tx.emit(Event(...))

On leaving the block, the audit entries are sealed into the hash chain and the events written to
the outbox, all in the same transaction; after COMMIT the notifier wakes the live streams. An
exception rolls everything back: nothing is half-written and nothing is published.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hotline.core.clock import Clock
from hotline.core.context import Actor
from hotline.core.events import Event
from hotline.domains.audit.model import GENESIS, AuditEntry, diff, seal
from hotline.domains.stats.model import StatsConfig
from hotline.infra.crypto.envelope import FieldCipher
from hotline.infra.db.engine import is_postgres
from hotline.infra.db.schema import audit_log, outbox
from hotline.infra.db.stores.calendars import SqlCalendarStore
from hotline.infra.db.stores.contacts import SqlContactStore
from hotline.infra.db.stores.customers import SqlCustomerStore
from hotline.infra.db.stores.identity import SqlIdentityStore, identity_transaction_ended
from hotline.infra.db.stores.routing import SqlRoutingStore
from hotline.infra.db.stores.stats import SqlStatsStore
from hotline.infra.events.notifier import Notifier
from hotline.infra.jobs.store import SqlJobStore

# Any constant: the advisory lock that serialises appends to the audit chain and the outbox.
AUDIT_LOCK_KEY = 0x686F746C  # "hotl"
PG_CHANNEL = "hotline_events"


class Tx:
    """What an action gets: the connection, who acts, the clock, and audit/event sinks."""

    def __init__(
        self,
        conn: sa.Connection,
        *,
        actor: Actor,
        clock: Clock,
        cipher: FieldCipher,
        stats_config: StatsConfig | None = None,
    ) -> None:
        self.conn = conn
        self.actor = actor
        self.clock = clock
        self.cipher = cipher
        self.stats_config = stats_config or StatsConfig()
        self._audit: list[AuditEntry] = []
        self._events: list[Event] = []
        self.after_commit: list[Callable[[], None]] = []

    def audit(
        self,
        action: str,
        object_type: str | None = None,
        object_id: str | None = None,
        *,
        org_unit_path: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        sensitive: tuple[str, ...] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an audit entry; before/after become a masked field-by-field diff."""
        body: dict[str, Any] = dict(details or {})
        if before is not None or after is not None:
            body["changes"] = diff(before, after, sensitive=sensitive)
        self._audit.append(
            AuditEntry(
                occurred_at=self.clock.now(),
                actor_id=self.actor.user_id,
                actor_name=self.actor.username,
                ip=self.actor.ip,
                action=action,
                object_type=object_type,
                object_id=object_id,
                org_unit_path=org_unit_path,
                details=body,
            )
        )

    @functools.cached_property
    def identity(self) -> SqlIdentityStore:
        return SqlIdentityStore(self.conn)

    @functools.cached_property
    def customers(self) -> SqlCustomerStore:
        return SqlCustomerStore(self.conn)

    @functools.cached_property
    def contacts(self) -> SqlContactStore:
        return SqlContactStore(self.conn)

    @functools.cached_property
    def routing(self) -> SqlRoutingStore:
        return SqlRoutingStore(self.conn)

    @functools.cached_property
    def calendars(self) -> SqlCalendarStore:
        return SqlCalendarStore(self.conn)

    @functools.cached_property
    def stats(self) -> SqlStatsStore:
        return SqlStatsStore(self.conn, self.stats_config)

    @functools.cached_property
    def jobs(self) -> SqlJobStore:
        """Schedule or cancel timers in this transaction: they commit or roll back with it."""
        return SqlJobStore(self.conn, clock=self.clock)

    def encrypt(self, field: str, value: str) -> str:
        token = self.cipher.encrypt(field, value)
        assert token is not None
        return token

    def decrypt(self, field: str, token: str) -> str:
        value = self.cipher.decrypt(field, token)
        assert value is not None
        return value

    def blind_index(self, kind: str, value: str) -> str:
        """Keyed blind index of a normalised value (exact lookup without decrypting)."""
        index = self.cipher.blind_index(kind, value)
        assert index is not None
        return index

    def emit(self, event: Event) -> None:
        """Queue an event for the outbox; it is published only if the transaction commits."""
        self._events.append(event)

    # -- called by Database at commit --------------------------------------------------------
    def _flush(self) -> int | None:
        if not self._audit and not self._events:
            return None
        if is_postgres(self.conn):
            # Serialise chain appends; held until COMMIT, so outbox ids follow commit order.
            self.conn.execute(_PG_CHAIN_LOCK)
        last_event_id = None
        if self._audit:
            append_audit(self.conn, self._audit)
        if self._events:
            now = self.clock.now()
            rows = [
                {
                    "occurred_at": now,
                    "type": e.type,
                    "payload": dict(e.payload),
                    "permission": e.permission,
                    "org_unit_path": e.org_unit_path,
                    "object_type": e.object_type,
                    "object_id": e.object_id,
                    "user_id": e.user_id,
                }
                for e in self._events
            ]
            # One statement for all rows (the compiled form is cached across calls).
            ids = self.conn.execute(_OUTBOX_INSERT, rows).scalars().all()
            last_event_id = int(max(ids))
            if is_postgres(self.conn):
                self.conn.execute(_PG_NOTIFY, {"payload": str(last_event_id)})
        return last_event_id


# Only the largest id is used, so the ids need no particular order: without
# `sort_by_parameter_order` SQLite and PostgreSQL insert all rows in one batched statement.
_OUTBOX_INSERT = outbox.insert().returning(outbox.c.id)
_AUDIT_TAIL = sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
_AUDIT_INSERT = audit_log.insert()
_PG_CHAIN_LOCK = sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_KEY))
_PG_NOTIFY = sa.select(sa.func.pg_notify(PG_CHANNEL, sa.bindparam("payload", type_=sa.String)))


def append_audit(conn: sa.Connection, entries: list[AuditEntry]) -> None:
    """Seal entries onto the chain tail. The caller holds the chain lock (or SQLite's)."""
    tail = conn.execute(_AUDIT_TAIL).first()
    prev_hash, next_seq = (tail.hash, tail.seq + 1) if tail else (GENESIS, 1)
    records = seal(prev_hash, next_seq, entries)
    conn.execute(
        _AUDIT_INSERT,
        [
            {
                "seq": r.seq,
                "occurred_at": r.entry.occurred_at,
                "actor_id": r.entry.actor_id,
                "actor_name": r.entry.actor_name,
                "ip": r.entry.ip,
                "action": r.entry.action,
                "object_type": r.entry.object_type,
                "object_id": r.entry.object_id,
                "org_unit_path": r.entry.org_unit_path,
                "details": dict(r.entry.details),
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            }
            for r in records
        ],
    )


class Database:
    """Engine + clock + cipher + notifier: the one way actions reach storage."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        cipher: FieldCipher,
        notifier: Notifier,
        stats_config: StatsConfig | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.cipher = cipher
        self.notifier = notifier
        self.stats_config = stats_config or StatsConfig()

    @contextlib.contextmanager
    def transaction(self, *, actor: Actor) -> Iterator[Tx]:
        """One action's transaction: commit seals audit + outbox, then publishes."""
        with self.engine.connect() as conn:
            tx = Tx(
                conn,
                actor=actor,
                clock=self.clock,
                cipher=self.cipher,
                stats_config=self.stats_config,
            )
            try:
                with conn.begin():
                    yield tx
                    last_event_id = tx._flush()
            finally:
                identity_transaction_ended(conn)
            if last_event_id is not None:
                self.notifier.notify(last_event_id)
            for callback in tx.after_commit:
                callback()

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only connection (queries). SQLite readers do not block the writer in WAL."""
        with self.engine.connect().execution_options(hotline_readonly=True) as conn:
            with conn.begin():
                yield conn
