"""Reads of contacts, and the permission-checked accessor every caller goes through.

A contact belongs to the unit of its queue: `contact:read` (and `contact:supervise`,
`contact:route`) over that unit let one see (and move, report on) it. The agent a contact is
offered to or connected with handles it through `contact:handle`, wherever it is queued.

The caller's address is shown in the clear only to holders of `customer:read_pii` over the
queue's unit, and that read is audited (`contact.read_pii`, R-E2); everyone else sees it
masked (R-E4). Lists are always masked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence

from hotline.core.context import Actor
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.domains.contacts.model import (
    FIELD_CALLER,
    HISTORY_MAX,
    ContactRecord,
    ContactView,
    HistoryEntry,
    Lifecycle,
    mask_caller,
)
from hotline.domains.contacts.ports import ContactStore, ContactsTx

# What an agent's desktop shows as its work: offers, conversations, contacts to code.
WORK: tuple[Lifecycle, ...] = (Lifecycle.offered, Lifecycle.connected, Lifecycle.wrap_up)


def access_contact(
    store: ContactStore, actor: Actor, contact_id: str, permission: str
) -> ContactRecord:
    """Load a contact whose queue's unit the actor holds `permission` over; else NotFound."""
    actor.require(permission)
    row = store.contact(contact_id)
    if row is None or row.org_unit_path is None or not actor.can(permission, row.org_unit_path):
        raise NotFound("no such contact", key="errors.contact.not_found")
    return row


def access_callback(
    store: ContactStore, actor: Actor, contact_id: str, *, mine: bool
) -> ContactRecord:
    """Load a callback an agent scheduled (a contact with `callback_of`). `mine`: one the actor
    (an agent, `contact:handle`) scheduled, i.e. called back from a contact it handled;
    otherwise one in a queue whose unit the actor holds `contact:supervise` over (a team
    lead). Anything else is NotFound, so nobody learns of other agents' callbacks."""
    if mine:
        actor.require("contact:handle")
        row = store.contact(contact_id)
        handled = store.contact(row.callback_of) if row and row.callback_of else None
        if row is None or handled is None or actor.user_id is None:
            raise NotFound("no such callback among yours", key="errors.contact.not_found")
        if handled.agent_id != actor.user_id:
            raise NotFound("no such callback among yours", key="errors.contact.not_found")
        return row
    row = access_contact(store, actor, contact_id, "contact:supervise")
    if row.callback_of is None:
        raise NotFound("no such callback", key="errors.contact.not_found")
    return row


def handled_contact(store: ContactStore, actor: Actor, contact_id: str) -> ContactRecord:
    """Load a contact offered to, connected with or last handled by the actor (an agent)."""
    actor.require("contact:handle")
    row = store.contact(contact_id)
    if row is None or actor.user_id is None or row.agent_id != actor.user_id:
        raise NotFound("no such contact among yours", key="errors.contact.not_found")
    return row


# Decrypts a field's token (the unit of work's `decrypt`, or the cipher's on a read path).
Decrypt = Callable[[str, str], str | None]


def _view(
    row: ContactRecord,
    caller: str | None,
    *,
    masked: bool,
    history: Sequence[HistoryEntry] = (),
    position: int | None = None,
) -> ContactView:
    return ContactView(
        id=row.id,
        channel=row.channel,
        direction=row.direction,
        status=row.status,
        entry_point_id=row.entry_point_id,
        address=row.address,
        customer_id=row.customer_id,
        caller=mask_caller(row.channel, caller) if masked else caller,
        caller_area=row.caller_area,
        queue_id=row.queue_id,
        priority=row.priority,
        callback=row.callback,
        agent_id=row.agent_id,
        arrived_at=row.arrived_at,
        queued_at=row.queued_at,
        offered_at=row.offered_at,
        offer_deadline=row.offer_deadline,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        finished_at=row.finished_at,
        wrap_up_code=row.wrap_up_code,
        wrap_up_notes=row.wrap_up_notes,
        masked=masked,
        position=position,
        history=tuple(history),
        callback_of=row.callback_of,
        callback_due_at=row.callback_due_at,
        callback_note=row.callback_note,
    )


def masked_view(
    row: ContactRecord, decrypt: Decrypt, *, position: int | None = None
) -> ContactView:
    """The view everyone may get: the caller masked (R-E4). Needs no unit of work, so lists
    can be read without a write transaction; nothing is audited."""
    caller = decrypt(FIELD_CALLER, row.caller) if row.caller is not None else None
    return _view(row, caller, masked=True, position=position)


def contact_view(
    tx: ContactsTx,
    row: ContactRecord,
    *,
    reveal: bool,
    via: str,
    history: Sequence[HistoryEntry] = (),
) -> ContactView:
    """The caller unmasked (and audited) when `reveal` and the actor holds
    `customer:read_pii` over the queue's unit; masked otherwise."""
    caller = tx.decrypt(FIELD_CALLER, row.caller) if row.caller is not None else None
    masked = not (
        reveal
        and row.org_unit_path is not None
        and tx.actor.can("customer:read_pii", row.org_unit_path)
    )
    if not masked and caller is not None:
        tx.audit(
            "contact.read_pii",
            "contact",
            row.id,
            org_unit_path=row.org_unit_path,
            details={"fields": ["caller"], "via": via},
        )
    return _view(row, caller, masked=masked, history=history)


def get_contact(tx: ContactsTx, contact_id: str, *, reveal: bool = True) -> ContactView:
    """One contact with its history, oldest first (`contact:read` over its queue's unit)."""
    row = access_contact(tx.contacts, tx.actor, contact_id, "contact:read")
    history = tx.contacts.history(row.id, limit=HISTORY_MAX)
    return contact_view(tx, row, reveal=reveal, via="get", history=history)


def get_my_contact(tx: ContactsTx, contact_id: str) -> ContactView:
    """A contact offered to, connected with or last handled by the actor (an agent), with its
    history: what the agent desktop shows without `contact:read` over the queue."""
    row = handled_contact(tx.contacts, tx.actor, contact_id)
    history = tx.contacts.history(row.id, limit=HISTORY_MAX)
    return contact_view(tx, row, reveal=True, via="desk", history=history)


def work_of(store: ContactStore, agent_id: str, decrypt: Decrypt) -> tuple[ContactView, ...]:
    """An agent's offers, conversations and contacts awaiting a wrap-up code (masked)."""
    rows = store.contacts_of_agent(agent_id, WORK)
    return tuple(masked_view(r, decrypt) for r in rows)


def line_page(
    store: ContactStore,
    decrypt: Decrypt,
    line: Sequence[str],
    *,
    limit: int,
    after: str | None,
) -> tuple[list[ContactView], bool]:
    """One page of a queue's line (contact ids in line order, next to be served first), masked,
    with 1-based positions; `after` is the last id of the previous page. True if more follow.

    The line moves while it is read: a contact named by `after` that has left it makes the
    caller start again from the head (409) rather than silently skip or repeat contacts.
    """
    start = 0
    if after is not None:
        try:
            start = list(line).index(after) + 1
        except ValueError:
            raise Conflict(
                "that contact has left the line since; read the line again from the head",
                key="errors.contact.left_line",
                field="after",
            ) from None
    ids = list(line[start : start + limit])
    rows = store.contacts_by_ids(ids)
    views = [
        masked_view(rows[cid], decrypt, position=start + i + 1)
        for i, cid in enumerate(ids)
        if cid in rows
    ]
    return views, start + limit < len(line)


# --- scheduled callbacks (预约回呼) ------------------------------------------------------------
# A page of callbacks ends at a (due time, id) pair; `next_after` carries both, so a callback
# moved or cancelled meanwhile cannot make the next page skip or repeat the others.
_CURSOR_SEPARATOR = "~"


def callback_cursor(view: ContactView) -> str:
    """The keyset of a scheduled callback: its due time (UTC, ISO 8601) and id."""
    assert view.callback_due_at is not None  # a scheduled callback has its time
    return f"{view.callback_due_at.astimezone(dt.UTC).isoformat()}{_CURSOR_SEPARATOR}{view.id}"


def parse_callback_cursor(after: str | None) -> tuple[dt.datetime, str] | None:
    """The keyset `callback_cursor` wrote; 422 for anything else."""
    if after is None:
        return None
    due_text, _, last_id = after.partition(_CURSOR_SEPARATOR)
    try:
        due = dt.datetime.fromisoformat(due_text)
        # (year 1 or 9999 with an offset lies beyond any UTC instant: OverflowError)
        utc = due.astimezone(dt.UTC) if due.tzinfo is not None else None
    except (ValueError, OverflowError):
        utc = None
    if utc is None or not last_id:
        raise InvalidInput(
            "after must be a next_after value of the previous page",
            key="errors.contact.callback_cursor",
            field="after",
        )
    return utc, last_id


def my_callbacks(
    store: ContactStore, actor: Actor, decrypt: Decrypt, *, limit: int, after: str | None
) -> list[ContactView]:
    """The callbacks the actor (an agent) scheduled that have not come in yet, by due time
    then id, masked. `limit` rows from the keyset `after` (pass one more to learn if more
    follow)."""
    actor.require("contact:handle")
    if actor.user_id is None:
        return []
    rows = store.scheduled_callbacks(
        limit=limit, after=parse_callback_cursor(after), requested_by=actor.user_id
    )
    return _callback_views(rows, decrypt)


def supervised_callbacks(
    store: ContactStore,
    actor: Actor,
    decrypt: Decrypt,
    *,
    queue_id: str | None,
    limit: int,
    after: str | None,
    requested_by: str | None = None,
) -> list[ContactView]:
    """Scheduled callbacks not come in yet in queues whose units the actor holds
    `contact:supervise` over (a team lead), all or of one queue (the caller has checked
    access to it), optionally only those one agent promised (`requested_by`, its agent id),
    by due time then id, masked."""
    actor.require("contact:supervise")
    rows = store.scheduled_callbacks(
        limit=limit,
        after=parse_callback_cursor(after),
        queue_id=queue_id,
        requested_by=requested_by,
        scopes=actor.scopes_for("contact:supervise"),
    )
    return _callback_views(rows, decrypt)


def _callback_views(
    rows: Sequence[tuple[ContactRecord, str | None]], decrypt: Decrypt
) -> list[ContactView]:
    return [
        dataclasses.replace(masked_view(r, decrypt), callback_requested_by=by) for r, by in rows
    ]
