"""SQL implementation of `hotline.domains.contacts.ports.ContactStore`.

Holds the caller's address only as ciphertext and blind index; never plaintext.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from hotline.domains.contacts.model import ContactRecord, Direction, HistoryEntry, Lifecycle
from hotline.domains.routing.model import Channel
from hotline.infra.db.schema import contact_events, contacts, customers, org_units, queues
from hotline.infra.db.scope import in_scopes

_SELECT: sa.Select[Any] = (
    sa.select(*contacts.c, org_units.c.path.label("org_unit_path"))
    .select_from(contacts)
    .outerjoin(queues, queues.c.id == contacts.c.queue_id)
    .outerjoin(org_units, org_units.c.id == queues.c.org_unit_id)
)
_HISTORY_INSERT = contact_events.insert()
# Hot statements are built once: SQLAlchemy then reuses their cache key and compiled form
# instead of constructing and hashing a new statement on every call.
_BY_ID = _SELECT.where(contacts.c.id == sa.bindparam("id"))
_BY_IDS = _SELECT.where(contacts.c.id.in_(sa.bindparam("ids", expanding=True)))
_OF_AGENT = _SELECT.where(
    contacts.c.agent_id == sa.bindparam("agent_id"),
    contacts.c.status.in_(sa.bindparam("statuses", expanding=True)),
).order_by(contacts.c.id)
_OF_AGENT_ONE = _SELECT.where(
    contacts.c.agent_id == sa.bindparam("agent_id"),
    contacts.c.status == sa.bindparam("status"),
).order_by(contacts.c.id)
_INSERT = contacts.insert()
# The contact a callback calls back: its agent is the one who scheduled the callback (only the
# agent handling a contact can schedule one, and a finished contact keeps its agent).
_ORIGINAL = contacts.alias("original")
# The SET clause follows the keys of the parameters (compiled once per key set, then cached).
_UPDATE = contacts.update().where(contacts.c.id == sa.bindparam("_contact_id"))
_INSERT_COLUMNS = tuple(c.name for c in contacts.c)


def _contact(row: Any) -> ContactRecord:
    return ContactRecord(
        id=row.id,
        channel=Channel(row.channel),
        direction=Direction(row.direction),
        status=Lifecycle(row.status),
        arrived_at=row.arrived_at,
        updated_at=row.updated_at,
        entry_point_id=row.entry_point_id,
        address=row.address,
        customer_id=row.customer_id,
        caller=row.caller,
        caller_index=row.caller_index,
        caller_area=row.caller_area,
        queue_id=row.queue_id,
        org_unit_path=row.org_unit_path,
        priority=row.priority,
        callback=row.callback,
        agent_id=row.agent_id,
        seq=row.seq,
        stage=row.stage,
        offer_id=row.offer_id,
        enqueued_at=row.enqueued_at,
        queue_entered_at=row.queue_entered_at,
        offered_at=row.offered_at,
        offer_deadline=row.offer_deadline,
        connected_at=row.connected_at,
        queued_at=row.queued_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        finished_at=row.finished_at,
        wrap_up_code=row.wrap_up_code,
        wrap_up_notes=row.wrap_up_notes,
        wrapped_up_at=row.wrapped_up_at,
        callback_of=row.callback_of,
        callback_due_at=row.callback_due_at,
        callback_note=row.callback_note,
    )


def _entry(row: Any) -> HistoryEntry:
    return HistoryEntry(
        contact_id=row.contact_id,
        at=row.at,
        type=row.type,
        queue_id=row.queue_id,
        agent_id=row.agent_id,
        data=dict(row.data or {}),
        id=row.id,
    )


def _utc(value: Any) -> Any:
    # As a read gives it back (UtcDateTime answers UTC).
    return value.astimezone(dt.UTC) if isinstance(value, dt.datetime) else value


class SqlContactStore:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        # Rows as this transaction read and then changed them, so reading a contact again in
        # the same transaction (an action answers the row it has just written) costs no
        # query. Every write of a contact row goes through this store (one per transaction).
        self._seen: dict[str, ContactRecord] = {}

    def _keep(self, record: ContactRecord) -> ContactRecord:
        self._seen[record.id] = record
        return record

    def contact(self, contact_id: str) -> ContactRecord | None:
        seen = self._seen.get(contact_id)
        if seen is not None:
            return seen
        row = self.conn.execute(_BY_ID, {"id": contact_id}).first()
        return self._keep(_contact(row)) if row else None

    def contacts_by_ids(self, contact_ids: Collection[str]) -> dict[str, ContactRecord]:
        if not contact_ids:
            return {}
        ids = list(contact_ids)
        if len(ids) == 1:  # an equality is compiled once; an IN list is rendered every time
            rows = self.conn.execute(_BY_ID, {"id": ids[0]}).all()
        else:
            rows = self.conn.execute(_BY_IDS, {"ids": ids}).all()
        return {r.id: self._keep(_contact(r)) for r in rows}

    def contacts_of_agent(
        self, agent_id: str, statuses: Collection[Lifecycle]
    ) -> list[ContactRecord]:
        values = [s.value for s in statuses]
        if len(values) == 1:  # the usual case (wrap-up); an equality is compiled once
            rows = self.conn.execute(_OF_AGENT_ONE, {"agent_id": agent_id, "status": values[0]})
        else:
            rows = self.conn.execute(_OF_AGENT, {"agent_id": agent_id, "statuses": values})
        return [self._keep(_contact(r)) for r in rows.all()]

    def contacts_in(self, statuses: Collection[Lifecycle]) -> list[ContactRecord]:
        q = _SELECT.where(contacts.c.status.in_([s.value for s in statuses])).order_by(
            contacts.c.id
        )
        return [_contact(r) for r in self.conn.execute(q).all()]

    def callbacks_of(self, contact_id: str) -> list[ContactRecord]:
        q = _SELECT.where(contacts.c.callback_of == contact_id).order_by(contacts.c.id)
        return [_contact(r) for r in self.conn.execute(q).all()]

    def scheduled_callbacks(
        self,
        *,
        limit: int,
        after: tuple[dt.datetime, str] | None = None,
        requested_by: str | None = None,
        queue_id: str | None = None,
        scopes: Sequence[str] | None = None,
    ) -> list[tuple[ContactRecord, str | None]]:
        # Few contacts are ever `scheduled`: the status index narrows first, then the join.
        q = (
            _SELECT.add_columns(_ORIGINAL.c.agent_id.label("requested_by"))
            .join(_ORIGINAL, _ORIGINAL.c.id == contacts.c.callback_of)
            .where(contacts.c.status == Lifecycle.scheduled.value)
        )
        if requested_by is not None:
            q = q.where(_ORIGINAL.c.agent_id == requested_by)
        if queue_id is not None:
            q = q.where(contacts.c.queue_id == queue_id)
        if scopes is not None:
            q = q.where(in_scopes(org_units.c.path, scopes))
        if after is not None:
            due, last_id = after
            q = q.where(
                sa.or_(
                    contacts.c.callback_due_at > due,
                    sa.and_(contacts.c.callback_due_at == due, contacts.c.id > last_id),
                )
            )
        q = q.order_by(contacts.c.callback_due_at, contacts.c.id).limit(limit)
        return [(_contact(r), r.requested_by) for r in self.conn.execute(q).all()]

    def insert_contact(self, record: ContactRecord) -> None:
        values = {n: getattr(record, n) for n in _INSERT_COLUMNS if hasattr(record, n)}
        values.update(
            channel=record.channel.value,
            direction=record.direction.value,
            status=record.status.value,
        )
        self.conn.execute(_INSERT, values)
        times = {
            f.name: _utc(getattr(record, f.name))
            for f in dataclasses.fields(record)
            if isinstance(getattr(record, f.name), dt.datetime)
        }
        self._keep(dataclasses.replace(record, **times))

    def update_contact(self, contact_id: str, **fields: Any) -> None:
        self.conn.execute(_UPDATE, {**fields, "_contact_id": contact_id})
        seen = self._seen.pop(contact_id, None)
        if seen is None or ("queue_id" in fields and fields["queue_id"] != seen.queue_id):
            return  # another queue may be in another unit: read the row (and path) again
        values = {f.name: getattr(seen, f.name) for f in dataclasses.fields(seen)}
        values.update((k, _utc(v)) for k, v in fields.items())
        self._keep(_contact(types.SimpleNamespace(**values)))

    def append_history(self, entries: Sequence[HistoryEntry]) -> None:
        if not entries:
            return
        self.conn.execute(
            _HISTORY_INSERT,
            [
                {
                    "contact_id": e.contact_id,
                    "at": e.at,
                    "type": e.type,
                    "queue_id": e.queue_id,
                    "agent_id": e.agent_id,
                    "data": dict(e.data),
                }
                for e in entries
            ],
        )

    def history(self, contact_id: str, *, limit: int) -> list[HistoryEntry]:
        q = (
            sa.select(contact_events)
            .where(contact_events.c.contact_id == contact_id)
            .order_by(contact_events.c.id)
            .limit(limit)
        )
        return [_entry(r) for r in self.conn.execute(q).all()]

    def customer_exists(self, customer_id: str) -> bool:
        q = sa.select(customers.c.id).where(customers.c.id == customer_id)
        return self.conn.execute(q).first() is not None
