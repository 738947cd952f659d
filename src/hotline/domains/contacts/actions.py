"""Every change to a contact: arrival, the agent's handling (accept, decline, end, wrap-up,
transfer), the caller's actions reported by a channel gateway or the media engine (hang up,
callback), and supervision (move, priority). R-A3, R-A4, R-B2.

Each function runs in one unit of work with the routing engine (the routing service supplies
both, under the engine lock), checks permission, validates, asks the engine, and hands every
event the engine returns to `routing.actions.record`, which persists it in the same
transaction. Each writes an audit entry; the caller's address is `***` in audit diffs.
"""

from __future__ import annotations

from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.core.ids import new_id
from hotline.domains.calendars.model import CLOSED_CHANNELS
from hotline.domains.contacts.events import contact_event
from hotline.domains.contacts.model import (
    AREA_MAX,
    FIELD_CALLER,
    IN_ENGINE,
    NOTES_MAX,
    ContactRecord,
    Direction,
    HistoryEntry,
    Lifecycle,
    caller_index_kind,
    check_caller,
    check_text,
    finished_status,
)
from hotline.domains.contacts.queries import access_contact, handled_contact
from hotline.domains.routing.actions import contact_record, record
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import AgentState, Channel, validate_priority
from hotline.domains.routing.ports import RoutingTx
from hotline.domains.routing.queries import access_queue, engine_knows
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
    stats_actions.count_history(tx, [entry])  # interval statistics (ADR 0008)
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
        tx.calendars.calendar(entry.calendar_id)
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
