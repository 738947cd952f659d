"""Every change to a contact: arrival, the agent's handling (accept, decline, end, wrap-up,
transfer), the caller's actions reported by a channel gateway or the media engine (hang up,
callback), and supervision (move, priority). R-A3, R-A4, R-B2.

Each function runs in one unit of work with the routing engine (the routing service supplies
both, under the engine lock), checks permission, validates, asks the engine, and hands every
event the engine returns to `routing.actions.record`, which persists it in the same
transaction. Each writes an audit entry; the caller's address is `***` in audit diffs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from hotline.core.errors import Conflict, HotlineError, InvalidInput, NotFound
from hotline.core.ids import new_id
from hotline.core.jobs import JobsUnitOfWork
from hotline.domains.calendars.model import CLOSED_CHANNELS
from hotline.domains.contacts.events import contact_event
from hotline.domains.contacts.model import (
    AREA_MAX,
    CALLBACK_NOTE_MAX,
    CALLBACK_REASON_MAX,
    FIELD_CALLER,
    FINISHED,
    IN_ENGINE,
    NOTES_MAX,
    PHONE_CHANNELS,
    ContactRecord,
    Direction,
    HistoryEntry,
    Lifecycle,
    caller_index_kind,
    check_callback_due,
    check_caller,
    check_text,
    finished_status,
)
from hotline.domains.contacts.queries import access_callback, access_contact, handled_contact
from hotline.domains.routing.actions import contact_record, record
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import AgentState, Channel, validate_priority
from hotline.domains.routing.ports import Queue, RoutingTx
from hotline.domains.routing.queries import access_queue, engine_has_queue, engine_knows
from hotline.domains.stats import actions as stats_actions


def _history(tx: RoutingTx, row: ContactRecord, kind: str, **data: object) -> None:
    entry = HistoryEntry(
        contact_id=row.id,
        at=tx.clock.now(),
        type=kind,
        queue_id=row.queue_id,
        agent_id=row.agent_id,
        data=data,
    )
    stats_actions.count_history(tx, [entry], rows=[row])  # interval statistics (ADR 0008)
    tx.contacts.append_history([entry])
    tx.emit(contact_event(entry, org_unit_path=row.org_unit_path))


# --- arrival (R-A1, R-A7) --------------------------------------------------------------------
def arrive(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    channel: Channel,
    address: str,
    caller: str | None = None,
    caller_area: str | None = None,
    customer_id: str | None = None,
    priority: int = 0,
    direction: Direction = Direction.inbound,
    to_ivr: bool = False,
) -> ContactRecord:
    """A contact arrives at an entry point (`address` on `channel`: the dialled 96266, a chat
    widget, a mailbox). It is queued in the entry point's queue at once, or, with `to_ivr`
    (voice, for the media engine), held in the IVR until `enqueue` is called. A call or chat
    outside the entry point's business hours is recorded and finished at once as `closed`;
    messages are queued whatever the hour.

    Needs `contact:route` over the queue's unit (channel gateways, the media engine). The
    caller's address is stored encrypted with a blind index; `priority` adds to the entry
    point's.
    """
    tx.actor.require("contact:route")
    channel = Channel(channel)
    entry = tx.routing.entry_point_at(channel, address.strip())
    queue = tx.routing.queue(entry.queue_id) if entry is not None and entry.active else None
    if entry is None or queue is None or not tx.actor.can("contact:route", queue.org_unit_path):
        raise NotFound(
            f"no active {channel.value} entry point at this address",
            key="errors.contact.no_entry_point",
            field="address",
        )
    caller = check_caller(channel, caller)
    area = check_text(caller_area, field="caller_area", limit=AREA_MAX)
    if customer_id is not None and not tx.contacts.customer_exists(customer_id):
        raise NotFound("no such customer", key="errors.customer_not_found", field="customer_id")
    total = entry.priority + validate_priority(priority)
    try:
        validate_priority(total)
    except InvalidInput:
        raise InvalidInput(
            "priority plus the entry point's priority is out of range",
            key="errors.contact.priority_range",
            field="priority",
        ) from None
    now = tx.clock.now()
    row = ContactRecord(
        id=new_id(),
        channel=channel,
        direction=Direction(direction),
        status=Lifecycle.in_ivr if to_ivr else Lifecycle.arrived,
        arrived_at=now,
        updated_at=now,
        entry_point_id=entry.id,
        address=entry.address,
        customer_id=customer_id,
        caller=tx.encrypt(FIELD_CALLER, caller) if caller else None,
        caller_index=tx.blind_index(caller_index_kind(channel), caller) if caller else None,
        caller_area=area,
        queue_id=queue.id,
        org_unit_path=queue.org_unit_path,
        priority=total,
    )
    tx.contacts.insert_contact(row)
    _history(
        tx,
        row,
        "arrived",
        channel=channel.value,
        direction=row.direction.value,
        entry_point_id=entry.id,
        address=entry.address,
        area=area,
    )
    tx.audit(
        "contact.arrive",
        "contact",
        row.id,
        org_unit_path=queue.org_unit_path,
        after={
            "channel": channel.value,
            "address": entry.address,
            "caller": caller,
            "caller_area": area,
            "customer_id": customer_id,
            "priority": total,
        },
        sensitive=("caller",),
    )
    calendar = (
        tx.calendars.routing_calendar(entry.calendar_id)
        if entry.calendar_id and channel in CLOSED_CHANNELS
        else None
    )
    if calendar is not None and not calendar.hours.is_open(now):
        # A call or chat outside business hours: recorded (reports count it), never queued.
        # The IVR plays the closed message; a chat widget shows when it opens.
        opens = calendar.hours.next_change(now)
        tx.contacts.update_contact(
            row.id, status=Lifecycle.closed.value, finished_at=now, updated_at=now
        )
        _history(
            tx,
            row,
            "closed",
            calendar_id=calendar.id,
            opens_at=None if opens is None else opens.isoformat(),
        )
    elif not to_ivr:
        record(
            tx,
            engine,
            engine.enqueue(queue.id, channel, contact_id=row.id, priority=total),
            known=[row],
        )
    return contact_record(tx, row.id)


def enqueue(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    contact_id: str,
    queue_id: str | None = None,
    priority: int | None = None,
) -> ContactRecord:
    """Queue a contact the IVR held (R-A2: the caller chose a menu item): in `queue_id`, or the
    entry point's queue."""
    row = access_contact(tx.contacts, tx.actor, contact_id, "contact:route")
    if row.status not in (Lifecycle.arrived, Lifecycle.in_ivr):
        raise Conflict(
            f"contact is {row.status.value}; only a contact in the IVR can be queued",
            key="errors.contact.not_in_ivr",
        )
    queue = access_queue(tx.routing, tx.actor, queue_id or row.queue_id or "", "contact:route")
    prio = row.priority if priority is None else validate_priority(priority)
    tx.contacts.update_contact(row.id, queue_id=queue.id, priority=prio, updated_at=tx.clock.now())
    tx.audit(
        "contact.enqueue",
        "contact",
        row.id,
        org_unit_path=queue.org_unit_path,
        details={"queue_id": queue.id, "priority": prio},
    )
    record(tx, engine, engine.enqueue(queue.id, row.channel, contact_id=row.id, priority=prio))
    return contact_record(tx, row.id)


# --- the caller's side: hang up, callback ---------------------------------------------------
def abandon(tx: RoutingTx, engine: RoutingEngine, *, contact_id: str) -> ContactRecord:
    """The caller hung up (or left the chat). Before being connected the contact is abandoned;
    once connected it simply ends and the agent goes on to wrap-up."""
    row = access_contact(tx.contacts, tx.actor, contact_id, "contact:route")
    if row.status in (Lifecycle.arrived, Lifecycle.in_ivr):
        now = tx.clock.now()
        tx.contacts.update_contact(
            row.id, status=Lifecycle.abandoned.value, finished_at=now, updated_at=now
        )
        _history(tx, row, "abandoned", wait_seconds=0.0, in_ivr=True)
    elif row.status is Lifecycle.connected:
        record(tx, engine, engine.end_contact(row.id), known=[row])
    elif row.status in IN_ENGINE:
        record(tx, engine, engine.abandon(row.id), known=[row])
    else:
        raise Conflict(
            f"contact is {row.status.value} already",
            key="errors.contact.finished",
            params={"status": row.status.value},
        )
    tx.audit("contact.abandon", "contact", row.id, org_unit_path=row.org_unit_path)
    return contact_record(tx, row.id)


def request_callback(tx: RoutingTx, engine: RoutingEngine, *, contact_id: str) -> ContactRecord:
    """The caller asked to be called back instead of waiting (R-A3): the contact keeps its
    place in line and is offered like any other when its turn comes, exempt from max wait."""
    row = access_contact(tx.contacts, tx.actor, contact_id, "contact:route")
    if row.status not in (Lifecycle.queued, Lifecycle.transferred):
        raise Conflict(
            f"contact is {row.status.value}; only a waiting contact can become a callback",
            key="errors.contact.callback_not_waiting",
            params={"status": row.status.value},
        )
    record(tx, engine, engine.request_callback(row.id), known=[row])
    tx.audit("contact.callback", "contact", row.id, org_unit_path=row.org_unit_path)
    return contact_record(tx, row.id)


# --- the agent's side (R-A4, R-B2) -----------------------------------------------------------
def _agent_id(tx: RoutingTx) -> str:
    assert tx.actor.user_id is not None  # handled_contact matched the actor's user id
    return tx.actor.user_id


def accept(tx: RoutingTx, engine: RoutingEngine, *, contact_id: str) -> ContactRecord:
    """Accept the contact offered to oneself: it is connected, the agent busy."""
    row = handled_contact(tx.contacts, tx.actor, contact_id)
    record(tx, engine, engine.accept(row.id, _agent_id(tx)), known=[row])
    tx.audit("contact.accept", "contact", row.id, org_unit_path=row.org_unit_path)
    return contact_record(tx, row.id)


def decline(tx: RoutingTx, engine: RoutingEngine, *, contact_id: str) -> ContactRecord:
    """Decline the offer: the contact goes back to its place in line; the agent goes not
    ready (missed), or will once its other work is done."""
    row = handled_contact(tx.contacts, tx.actor, contact_id)
    record(tx, engine, engine.decline(row.id, _agent_id(tx)), known=[row])
    tx.audit("contact.decline", "contact", row.id, org_unit_path=row.org_unit_path)
    return contact_record(tx, row.id)


def end(tx: RoutingTx, engine: RoutingEngine, *, contact_id: str) -> ContactRecord:
    """End one's connected contact (chat closed, call finished): it awaits its wrap-up code;
    with no other work the agent is in wrap-up for at most the queue's wrap-up time."""
    row = handled_contact(tx.contacts, tx.actor, contact_id)
    if row.status is not Lifecycle.connected:
        raise Conflict(
            f"contact is {row.status.value}, not connected",
            key="errors.routing.not_connected",
            params={"status": row.status.value},
        )
    record(tx, engine, engine.end_contact(row.id), known=[row])
    tx.audit("contact.end", "contact", row.id, org_unit_path=row.org_unit_path)
    return contact_record(tx, row.id)


def wrap_up(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    contact_id: str,
    code: str,
    notes: str | None = None,
) -> ContactRecord:
    """Give one's ended contact its wrap-up code and notes; the contact is finished. When it
    was the agent's last contact to code, the agent's wrap-up ends: ready (or the not-ready it
    asked for meanwhile). A contact finished uncoded (wrap-up time ran out) can still be
    coded once."""
    row = handled_contact(tx.contacts, tx.actor, contact_id)
    late = row.status in (Lifecycle.ended, Lifecycle.called_back) and row.wrap_up_code is None
    if row.status is not Lifecycle.wrap_up and not late:
        raise Conflict(
            f"contact is {row.status.value}"
            + (" and already coded" if row.wrap_up_code else "; end it first"),
            key="errors.contact.not_in_wrap_up",
            params={"status": row.status.value},
        )
    item = tx.routing.wrap_up_code_by_code(code.strip())
    if item is None or not item.active:
        raise InvalidInput(
            "unknown or inactive wrap-up code", key="errors.contact.wrap_up_code", field="code"
        )
    text = check_text(notes, field="notes", limit=NOTES_MAX)
    now = tx.clock.now()
    final = row.status if late else finished_status(row.callback)
    tx.contacts.update_contact(
        row.id,
        status=final.value,
        wrap_up_code=item.code,
        wrap_up_notes=text,
        wrapped_up_at=now,
        finished_at=row.finished_at or now,
        updated_at=now,
    )
    _history(tx, row, "wrapped_up", code=item.code, status=final.value, late=late)
    tx.audit(
        "contact.wrap_up",
        "contact",
        row.id,
        org_unit_path=row.org_unit_path,
        after={"code": item.code, "notes": text},
    )
    agent_id = _agent_id(tx)
    if (
        not late
        and engine_knows(engine, agent_id)
        and engine.agent(agent_id).state is AgentState.wrap_up
        and not tx.contacts.contacts_of_agent(agent_id, (Lifecycle.wrap_up,))
    ):
        # None left in wrap-up (just read): `record` need not read them again.
        record(tx, engine, engine.finish_wrap_up(agent_id), wrap_up_of={agent_id: []})
    return contact_record(tx, row.id)


def transfer(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    contact_id: str,
    queue_id: str | None = None,
    agent_id: str | None = None,
) -> ContactRecord:
    """Transfer one's connected contact into a queue (it keeps its place among later arrivals)
    or straight to another agent who has room for it (a blind transfer; if that agent declines
    the contact waits in its queue). The transferring agent goes on to wrap-up."""
    row = handled_contact(tx.contacts, tx.actor, contact_id)
    if (queue_id is None) == (agent_id is None):
        raise InvalidInput("give either queue_id or agent_id", key="errors.contact.transfer_target")
    if row.status is not Lifecycle.connected:
        raise Conflict(
            f"contact is {row.status.value}; only a connected contact can be transferred",
            key="errors.routing.not_connected",
            params={"status": row.status.value},
        )
    if queue_id is not None:
        target = tx.routing.queue(queue_id)
        if target is None:
            raise NotFound("no such queue", key="errors.routing.queue_not_found", field="queue_id")
        events = engine.move_to_queue(row.id, target.id, keep_place=True)
    else:
        assert agent_id is not None
        if tx.routing.agent_user(agent_id) is None or not engine_knows(engine, agent_id):
            raise NotFound(
                "no such agent logged in", key="errors.routing.agent_not_found", field="agent_id"
            )
        events = engine.transfer_to_agent(row.id, agent_id)
    record(tx, engine, events, known=[row])
    tx.audit(
        "contact.transfer",
        "contact",
        row.id,
        org_unit_path=row.org_unit_path,
        details={"queue_id": queue_id, "agent_id": agent_id},
    )
    return contact_record(tx, row.id)


# --- supervision (R-C2) ----------------------------------------------------------------------
def move(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    contact_id: str,
    queue_id: str,
    keep_place: bool = True,
) -> ContactRecord:
    """Move a waiting contact to another queue (`contact:supervise` over both queues' units).
    With `keep_place` it keeps its arrival time, hence its place among later arrivals."""
    row = access_contact(tx.contacts, tx.actor, contact_id, "contact:supervise")
    target = access_queue(tx.routing, tx.actor, queue_id, "contact:supervise")
    if row.status not in (Lifecycle.queued, Lifecycle.transferred):
        raise Conflict(
            f"contact is {row.status.value}; only a waiting contact can be moved",
            key="errors.contact.not_waiting",
            params={"status": row.status.value},
        )
    record(tx, engine, engine.move_to_queue(row.id, target.id, keep_place=keep_place), known=[row])
    tx.audit(
        "contact.move",
        "contact",
        row.id,
        org_unit_path=row.org_unit_path,
        before={"queue_id": row.queue_id},
        after={"queue_id": target.id},
        details={"keep_place": keep_place},
    )
    return contact_record(tx, row.id)


def change_priority(
    tx: RoutingTx, engine: RoutingEngine, *, contact_id: str, priority: int
) -> ContactRecord:
    """Change a contact's priority (higher is served first); a waiting one is re-placed."""
    row = access_contact(tx.contacts, tx.actor, contact_id, "contact:supervise")
    if row.status not in IN_ENGINE:
        raise Conflict(
            f"contact is {row.status.value}; its priority no longer matters",
            key="errors.contact.not_routing",
            params={"status": row.status.value},
        )
    validate_priority(priority)
    record(tx, engine, engine.change_priority(row.id, priority), known=[row])
    tx.audit(
        "contact.priority",
        "contact",
        row.id,
        org_unit_path=row.org_unit_path,
        before={"priority": row.priority},
        after={"priority": priority},
    )
    return contact_record(tx, row.id)


# --- callbacks an agent schedules (预约回呼, issues 3/4) ----------------------------------------
# The timer that brings a callback scheduled for a time into its queue (see contacts/jobs.py).
CALLBACK_DUE_JOB = "contacts.callback_due"


class CallbackTx(RoutingTx, JobsUnitOfWork, Protocol):
    """The unit of work of a scheduled callback: routing, contacts, and a durable timer."""


def _check_callback_queue(queue: Queue) -> None:
    """A callback is a phone call: its queue must take voice contacts."""
    if Channel.voice not in queue.config.channels:
        raise InvalidInput(
            f"queue {queue.code!r} does not take voice contacts; choose a queue for the callback",
            key="errors.routing.channel_not_in_queue",
            params={"queue_id": queue.id, "channel": Channel.voice.value},
            field="queue_id",
        )


def _check_callback_hours(tx: RoutingTx, entry_point_id: str | None, due: dt.datetime) -> None:
    """A timed callback is promised for a time the center answers on its entry point: refused
    (422) when the entry point's business hours are closed then, with the next opening."""
    entry = tx.routing.entry_point(entry_point_id) if entry_point_id else None
    calendar = (
        tx.calendars.routing_calendar(entry.calendar_id) if entry and entry.calendar_id else None
    )
    if calendar is None or calendar.hours.is_open(due):
        return
    opens = calendar.hours.next_change(due)
    raise InvalidInput(
        "the center is closed at that time (business hours of the entry point); choose a time "
        "when it is open",
        key="errors.contact.callback_outside_hours",
        params={"opens_at": None if opens is None else opens.isoformat()},
        field="due_at",
    )


def schedule_callback(
    tx: CallbackTx,
    engine: RoutingEngine,
    *,
    contact_id: str,
    due_at: dt.datetime | None = None,
    queue_id: str | None = None,
    note: str | None = None,
) -> ContactRecord:
    """The agent promises the customer of its connected contact (or of one in wrap-up) a call
    back: "we will call you back (at 15:00)". Returns the callback contact.

    The callback is a new voice contact, outbound, for the same customer and caller number,
    from the same entry point, linked to this one (`callback_of`). It goes into `queue_id`
    (default: this contact's queue; it must take voice) as a callback: now, or at `due_at`
    (after now, within CALLBACK_HORIZON) through a durable timer; until then it is
    `scheduled`. `note` (≤500 characters) is for whoever calls back. A connected contact then
    ends as with `end` (the agent goes on to wrap-up); one in wrap-up stays as it is. Both
    get a `callback_scheduled` history entry. One open callback per contact.
    """
    row = handled_contact(tx.contacts, tx.actor, contact_id)
    if row.status not in (Lifecycle.connected, Lifecycle.wrap_up):
        raise Conflict(
            f"contact is {row.status.value}; a callback can be scheduled only for a connected "
            "contact or one in wrap-up",
            key="errors.contact.callback_not_handling",
            params={"status": row.status.value},
        )
    open_ones = [c.id for c in tx.contacts.callbacks_of(row.id) if c.status not in FINISHED]
    if open_ones:
        raise Conflict(
            "a callback for this contact is open already",
            key="errors.contact.callback_exists",
            params={"callback_id": open_ones[0]},
        )
    target = queue_id or row.queue_id
    queue = tx.routing.queue(target) if target else None
    if queue is None:
        raise NotFound("no such queue", key="errors.routing.queue_not_found", field="queue_id")
    _check_callback_queue(queue)
    # A callback is a phone call: the number is the caller's on a phone channel; otherwise the
    # customer's (the voice gateway looks it up when it dials).
    phone = row.channel in PHONE_CHANNELS and row.caller is not None
    if not phone and row.customer_id is None:
        raise Conflict(
            "nobody to call back: the contact has neither a caller number nor a customer",
            key="errors.contact.callback_no_number",
        )
    now = tx.clock.now()
    due = None if due_at is None else check_callback_due(due_at, now)
    if due is not None:
        _check_callback_hours(tx, row.entry_point_id, due)
    text = check_text(note, field="note", limit=CALLBACK_NOTE_MAX)
    callback = ContactRecord(
        id=new_id(),
        channel=Channel.voice,
        direction=Direction.outbound,
        status=Lifecycle.arrived if due is None else Lifecycle.scheduled,
        # a scheduled one arrives (for statistics: is offered) when it comes in; see
        # _callback_arrives
        arrived_at=now if due is None else due,
        updated_at=now,
        entry_point_id=row.entry_point_id,
        address=row.address,
        customer_id=row.customer_id,
        caller=row.caller if phone else None,
        caller_index=row.caller_index if phone else None,
        caller_area=row.caller_area,
        queue_id=queue.id,
        org_unit_path=queue.org_unit_path,
        priority=row.priority,
        callback=True,
        callback_of=row.id,
        callback_due_at=due,
        callback_note=text,
    )
    tx.contacts.insert_contact(callback)
    agent_id = _agent_id(tx)
    due_text = None if due is None else due.isoformat()
    if due is not None:
        _history(
            tx, callback, "scheduled", callback_of=row.id, due_at=due_text, requested_by=agent_id
        )
        tx.jobs.schedule(
            CALLBACK_DUE_JOB,
            {"contact_id": callback.id},
            due_at=due,
            dedupe_key=f"{CALLBACK_DUE_JOB}:{callback.id}",
        )
    _history(
        tx,
        row,
        "callback_scheduled",
        callback_id=callback.id,
        callback_queue_id=queue.id,
        due_at=due_text,
        note=text,
    )
    connected = row.status is Lifecycle.connected
    if connected:
        record(tx, engine, engine.end_contact(row.id), known=[row])
    if due is None:
        _callback_arrives(tx, engine, callback)
    tx.audit(
        "contact.schedule_callback",
        "contact",
        callback.id,
        org_unit_path=queue.org_unit_path,
        after={
            "callback_of": row.id,
            "queue_id": queue.id,
            "due_at": due_text,
            "note": text,
        },
        details={"ended": connected},
    )
    return contact_record(tx, callback.id)


def callback_due(tx: RoutingTx, engine: RoutingEngine, *, contact_id: str) -> ContactRecord:
    """A scheduled callback is due (its timer ran): it comes into its queue as a callback. Run
    again after it came in, it changes nothing. If its queue no longer takes voice, the
    callback is dropped (`abandoned`, history `callback_failed`) rather than lost silently."""
    tx.actor.require("contact:route")
    row = tx.contacts.contact(contact_id)
    if row is None or not row.callback:
        raise NotFound("no such callback", key="errors.contact.not_found")
    if row.status is not Lifecycle.scheduled:
        return row
    queue_id = row.queue_id or ""
    if not engine_has_queue(engine, queue_id) or (
        Channel.voice not in engine.queue(queue_id).channels
    ):
        now = tx.clock.now()
        tx.contacts.update_contact(
            row.id, status=Lifecycle.abandoned.value, finished_at=now, updated_at=now
        )
        _history(tx, row, "callback_failed", reason="queue_refuses_voice")
        tx.audit(
            "contact.callback_failed",
            "contact",
            row.id,
            org_unit_path=row.org_unit_path,
            details={"queue_id": row.queue_id, "reason": "queue_refuses_voice"},
        )
        return contact_record(tx, row.id)
    _callback_arrives(tx, engine, row)
    tx.audit(
        "contact.callback_due",
        "contact",
        row.id,
        org_unit_path=row.org_unit_path,
        details={
            "callback_of": row.callback_of,
            "due_at": None if row.callback_due_at is None else row.callback_due_at.isoformat(),
        },
    )
    return contact_record(tx, row.id)


def _callback_arrives(tx: RoutingTx, engine: RoutingEngine, row: ContactRecord) -> None:
    """A callback contact comes in like any arrival (history `arrived`, then queued), marked
    as a callback so that the engine offers it as one and exempts it from max wait. Its
    arrival time is now: statistics count it as offered in the interval it came in."""
    now = tx.clock.now()
    if row.status is not Lifecycle.arrived:
        tx.contacts.update_contact(
            row.id, status=Lifecycle.arrived.value, arrived_at=now, updated_at=now
        )
        row = dataclasses.replace(row, status=Lifecycle.arrived, arrived_at=now, updated_at=now)
    _history(
        tx,
        row,
        "arrived",
        channel=row.channel.value,
        direction=row.direction.value,
        entry_point_id=row.entry_point_id,
        address=row.address,
        area=row.caller_area,
        callback_of=row.callback_of,
    )
    record(
        tx,
        engine,
        engine.enqueue(
            row.queue_id or "",
            row.channel,
            contact_id=row.id,
            priority=row.priority,
            callback=True,
        ),
        known=[row],
    )


# --- a scheduled callback called off or moved (issues 3/4 follow-up) ---------------------------
def _callback_job_key(contact_id: str) -> str:
    return f"{CALLBACK_DUE_JOB}:{contact_id}"


def _still_scheduled(row: ContactRecord) -> None:
    if row.status is not Lifecycle.scheduled:
        raise Conflict(
            f"callback is {row.status.value}; only a scheduled callback that has not come in "
            "yet can be cancelled or moved",
            key="errors.contact.callback_not_scheduled",
            params={"status": row.status.value},
        )


def cancel_callback(
    tx: CallbackTx,
    engine: RoutingEngine,
    *,
    contact_id: str,
    mine: bool,
    reason: str | None = None,
) -> ContactRecord:
    """Call off a scheduled callback before it comes in: it ends `cancelled` (finished, never
    routed, not counted as offered), with `reason` (≤200 characters) in its history, and its
    timer is cancelled (a run already claimed finds it finished and does nothing). `mine`:
    the agent who scheduled it; otherwise a team lead (`contact:supervise` over its queue's
    unit). The contact it calls back gets a `callback_cancelled` entry (its agent's desk
    hears of it). A callback that came in already is refused (409): it is routed like any
    call now."""
    row = access_callback(tx.contacts, tx.actor, contact_id, mine=mine)
    _still_scheduled(row)
    text = check_text(reason, field="reason", limit=CALLBACK_REASON_MAX)
    return _cancel_scheduled(tx, row, mine=mine, reason=text)


def _cancel_scheduled(
    tx: CallbackTx,
    row: ContactRecord,
    *,
    mine: bool,
    reason: str | None,
    batch: _Batch | None = None,
) -> ContactRecord:
    """The writes of a cancel, once every check passed (`row` is scheduled, `reason`
    checked)."""
    now = tx.clock.now()
    tx.contacts.update_contact(
        row.id, status=Lifecycle.cancelled.value, finished_at=now, updated_at=now
    )
    tx.jobs.cancel(_callback_job_key(row.id))
    by = tx.actor.user_id
    _history(tx, row, "cancelled", reason=reason, cancelled_by=by)
    original = tx.contacts.contact(row.callback_of or "")
    if original is not None:
        _history(tx, original, "callback_cancelled", callback_id=row.id, reason=reason)
    due_text = None if row.callback_due_at is None else row.callback_due_at.isoformat()
    tx.audit(
        "contact.cancel_callback",
        "contact",
        row.id,
        org_unit_path=row.org_unit_path,
        before={"status": row.status.value, "due_at": due_text},
        after={"status": Lifecycle.cancelled.value, "reason": reason},
        details={
            "callback_of": row.callback_of,
            "as": "owner" if mine else "supervisor",
            **_batch_details(batch),
        },
    )
    return contact_record(tx, row.id)


def move_callback(
    tx: CallbackTx,
    engine: RoutingEngine,
    *,
    contact_id: str,
    mine: bool,
    due_at: dt.datetime,
    queue_id: str | None = None,
) -> ContactRecord:
    """Move a scheduled callback to another time (same rules as scheduling: with a time zone,
    after now, within CALLBACK_HORIZON) and, optionally, into another queue that takes voice.
    Its timer moves with it (one pending job per callback, rescheduled in this transaction,
    so a restart keeps the new time). `mine`: the agent who scheduled it (any voice queue, as
    when scheduling); otherwise a team lead, who needs `contact:supervise` over the target
    queue's unit too. A callback whose time has come (its timer is about to run, or ran) is
    refused (409) and nothing is written."""
    row = access_callback(tx.contacts, tx.actor, contact_id, mine=mine)
    move = _plan_move(tx, row, mine=mine, due_at=due_at, queue_id=queue_id)
    return _move_scheduled(tx, move, mine=mine)


@dataclasses.dataclass(frozen=True, slots=True)
class _Move:
    """A move that passed every check: the callback, its new time and queue."""

    row: ContactRecord
    due: dt.datetime
    queue: Queue


def _plan_move(
    tx: CallbackTx,
    row: ContactRecord,
    *,
    mine: bool,
    due_at: dt.datetime,
    queue_id: str | None,
    target_queue: Queue | None = None,
    open_entry_points: set[str | None] | None = None,
) -> _Move:
    """Every check of a move, writing nothing (so a batch can check all before any write).
    A batch passes the target queue it checked once (`target_queue`) and the entry points
    already found open at the new time (`open_entry_points`, filled here)."""
    _still_scheduled(row)
    now = tx.clock.now()
    if row.callback_due_at is None or row.callback_due_at <= now:
        raise Conflict(
            "the callback is due already and comes into its queue now; it cannot be moved",
            key="errors.contact.callback_due_already",
        )
    due = check_callback_due(due_at, now)
    if open_entry_points is None or row.entry_point_id not in open_entry_points:
        _check_callback_hours(tx, row.entry_point_id, due)
        if open_entry_points is not None:
            open_entry_points.add(row.entry_point_id)
    if target_queue is not None:
        return _Move(row=row, due=due, queue=target_queue)
    target = queue_id or row.queue_id or ""
    if mine or target == row.queue_id:
        queue = tx.routing.queue(target)
        if queue is None:
            raise NotFound("no such queue", key="errors.routing.queue_not_found", field="queue_id")
    else:
        queue = access_queue(tx.routing, tx.actor, target, "contact:supervise")
    _check_callback_queue(queue)
    return _Move(row=row, due=due, queue=queue)


def _move_scheduled(
    tx: CallbackTx, move: _Move, *, mine: bool, batch: _Batch | None = None
) -> ContactRecord:
    """The writes of a move `_plan_move` checked."""
    row, due, queue = move.row, move.due, move.queue
    now = tx.clock.now()
    # a scheduled callback "arrives" when it is due (see schedule_callback)
    tx.contacts.update_contact(
        row.id, queue_id=queue.id, callback_due_at=due, arrived_at=due, updated_at=now
    )
    tx.jobs.schedule(
        CALLBACK_DUE_JOB,
        {"contact_id": row.id},
        due_at=due,
        dedupe_key=_callback_job_key(row.id),
        replace=True,
    )
    moved = contact_record(tx, row.id)
    before_due = None if row.callback_due_at is None else row.callback_due_at.isoformat()
    _history(
        tx,
        moved,
        "rescheduled",
        due_at=due.isoformat(),
        previous_due_at=before_due,
        previous_queue_id=row.queue_id,
        moved_by=tx.actor.user_id,
    )
    original = tx.contacts.contact(row.callback_of or "")
    if original is not None:
        _history(
            tx,
            original,
            "callback_moved",
            callback_id=row.id,
            callback_queue_id=queue.id,
            due_at=due.isoformat(),
        )
    tx.audit(
        "contact.move_callback",
        "contact",
        row.id,
        org_unit_path=moved.org_unit_path,
        before={"due_at": before_due, "queue_id": row.queue_id},
        after={"due_at": due.isoformat(), "queue_id": queue.id},
        details={
            "callback_of": row.callback_of,
            "as": "owner" if mine else "supervisor",
            **_batch_details(batch),
        },
    )
    return moved


# --- many scheduled callbacks at once: a team lead's one decision (批量改约 / 批量取消) ---------
# A batch is one request, one transaction: a center closing at short notice moves or calls off
# a queue's callbacks together, and either all of them change or none does. The batch runs
# under the routing engine's lock (so no callback's timer fires half-way): 200 moves held it
# 0.3 s on SQLite and 0.8 s on a local PostgreSQL, so one request takes at most 100 and offers
# wait less than half a second behind it.
CALLBACK_BATCH_MAX = 100

_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True, slots=True)
class _Batch:
    """One team lead's decision over several callbacks: each audit row names it, so an auditor
    sees the rows belong together."""

    id: str
    size: int


def _batch_details(batch: _Batch | None) -> dict[str, object]:
    return {} if batch is None else {"batch": batch.id, "batch_size": batch.size}


def _check_batch(contact_ids: Sequence[str]) -> _Batch:
    """1 to CALLBACK_BATCH_MAX callbacks, none twice (a repeated id is a client's mistake;
    moving it twice would write two history entries for one decision)."""
    if not 1 <= len(contact_ids) <= CALLBACK_BATCH_MAX:
        raise InvalidInput(
            f"give 1 to {CALLBACK_BATCH_MAX} callbacks (got {len(contact_ids)})",
            key="errors.contact.callback_batch_size",
            params={"max": CALLBACK_BATCH_MAX},
            field="ids",
        )
    seen: set[str] = set()
    for cid in contact_ids:
        if cid in seen:
            raise InvalidInput(
                f"callback {cid} is given more than once; give each callback once",
                key="errors.contact.callback_batch_repeated",
                params={"contact_id": cid},
                field="ids",
            )
        seen.add(cid)
    return _Batch(id=new_id(), size=len(contact_ids))


def _each(contact_ids: Sequence[str], check: Callable[[str], _T]) -> list[_T]:
    """`check(id)` for every id in order. A refusal is the one the single-callback endpoint
    gives, with the id it concerns added to its params (`contact_id`) and message, so the team
    lead learns which callback stopped the batch."""
    out: list[_T] = []
    for cid in contact_ids:
        try:
            out.append(check(cid))
        except HotlineError as exc:
            raise type(exc)(
                f"callback {cid}: {exc.message}",
                key=exc.key,
                params={**exc.params, "contact_id": cid},
                field=exc.field,
            ) from exc
    return out


def move_callbacks(
    tx: CallbackTx,
    engine: RoutingEngine,
    *,
    contact_ids: Sequence[str],
    due_at: dt.datetime,
    queue_id: str | None = None,
) -> list[ContactRecord]:
    """A team lead moves several scheduled callbacks (1 to CALLBACK_BATCH_MAX, each once) to
    the same time and, optionally, queue, in one decision: each is checked and moved exactly as
    by `move_callback` (as a team lead), and its audit entry carries the batch's id
    (`details.batch`). The time and the chosen queue are checked once, and their errors name no
    callback. All or nothing: if any one is refused (not found or not in scope, no longer
    scheduled, due already, the time outside its entry point's business hours) the whole batch
    is refused with that callback's error (its id in `params.contact_id`) and nothing is
    written. Returns the callbacks in the order given."""
    tx.actor.require("contact:supervise")
    batch = _check_batch(contact_ids)
    # What is the same for all is checked once, and its error names no callback: the time…
    check_callback_due(due_at, tx.clock.now())
    # …and the queue the lead chose (a callback in the lead's scope has its queue in scope too).
    target: Queue | None = None
    if queue_id is not None:
        target = access_queue(tx.routing, tx.actor, queue_id, "contact:supervise")
        _check_callback_queue(target)
    open_entry_points: set[str | None] = set()
    moves = _each(
        contact_ids,
        lambda cid: _plan_move(
            tx,
            access_callback(tx.contacts, tx.actor, cid, mine=False),
            mine=False,
            due_at=due_at,
            queue_id=queue_id,
            target_queue=target,
            open_entry_points=open_entry_points,
        ),
    )
    return [_move_scheduled(tx, m, mine=False, batch=batch) for m in moves]


def cancel_callbacks(
    tx: CallbackTx,
    engine: RoutingEngine,
    *,
    contact_ids: Sequence[str],
    reason: str | None = None,
) -> list[ContactRecord]:
    """A team lead calls off several scheduled callbacks (1 to CALLBACK_BATCH_MAX, each once)
    in one decision, each exactly as `cancel_callback` does (as a team lead), with the same
    optional `reason`; each audit entry carries the batch's id (`details.batch`). All or
    nothing: if any one is not found, not in scope or no longer scheduled, the whole batch is
    refused with that callback's error (its id in `params.contact_id`) and nothing is written.
    Returns the callbacks in the order given."""
    tx.actor.require("contact:supervise")
    batch = _check_batch(contact_ids)
    text = check_text(reason, field="reason", limit=CALLBACK_REASON_MAX)

    def check(cid: str) -> ContactRecord:
        row = access_callback(tx.contacts, tx.actor, cid, mine=False)
        _still_scheduled(row)
        return row

    rows = _each(contact_ids, check)
    return [_cancel_scheduled(tx, row, mine=False, reason=text, batch=batch) for row in rows]
