"""Every change to routing: configuration (skills, queues, entry points, wrap-up codes, agent
profiles), agents' states (R-A3, R-D6), the incident flag and call-up groups (R-D3), and
`record`, which makes what the engine reports durable.

The engine (`engine.RoutingEngine`) is the source of truth for live routing; the database is
the durable record. An action that touches the engine gets it as a second argument from the
routing service, which runs the action under the engine lock inside one transaction and
rebuilds the engine from the database when that transaction fails after the engine changed.
So every list of events an engine call returns goes through `record` in the same transaction:
contact rows, contact history, agent states, the agent state log, queue counters and the
outbox events all commit together, or not at all.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.core.events import Event
from hotline.core.ids import new_id
from hotline.domains.contacts.events import contact_event
from hotline.domains.contacts.model import (
    ContactRecord,
    HistoryEntry,
    Lifecycle,
    finished_status,
    lifecycle_of,
)
from hotline.domains.routing import events as ev
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.events import EngineEvent
from hotline.domains.routing.model import (
    AddQueueAgents,
    AgentState,
    Channel,
    Contact,
    ContactStatus,
    LowerSkillLevel,
    MaxWaitAction,
    NotReadyReason,
    QueueConfig,
    step_to_dict,
    validate_capacity,
    validate_priority,
    validate_skills,
)
from hotline.domains.routing.ports import (
    AgentProfile,
    AgentUser,
    EntryPoint,
    LogoutRequest,
    Queue,
    RoutingStore,
    RoutingTx,
    Skill,
    StateLogEntry,
    WrapUpCode,
)
from hotline.domains.routing.queries import (
    access_agent,
    access_queue,
    engine_contact,
    engine_has_queue,
    engine_knows,
)
from hotline.domains.stats import actions as stats_actions

# Keys of engine-wide values in the routing flags table.
FLAG_INCIDENT = "incident"
FLAG_GROUPS = "active_groups"
FLAG_SEQ = "seq"
FLAG_OFFER_ID = "offer_id"

# Not-ready reasons an agent may pick; the others are set by the engine or a supervisor.
AGENT_REASONS: frozenset[NotReadyReason] = frozenset(NotReadyReason) - {
    NotReadyReason.missed,
    NotReadyReason.login,
    NotReadyReason.supervisor,
}

_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_SEAT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_ADDRESS = re.compile(r"^[^\s]{1,100}$")
NAME_MAX = 200


# --- validation ----------------------------------------------------------------------------
def check_code(value: str, *, field: str = "code") -> str:
    """A stable identifier: lower-case letter, then letters, digits, '_' or '-' (≤64)."""
    code = value.strip()
    if not _CODE.fullmatch(code):
        raise InvalidInput(
            f"{field} must be 1–64 lower-case letters, digits, '_' or '-', starting with a letter",
            key="errors.routing.code_invalid",
            field=field,
        )
    return code


def check_name(value: str, *, field: str = "name") -> str:
    name = value.strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(
            f"{field} must have 1–{NAME_MAX} characters",
            key="errors.routing.name_invalid",
            field=field,
        )
    return name


def check_seat(value: str) -> str:
    """A seat (座席位) label such as `A-01`: 1–32 letters, digits, '_', '.' or '-'."""
    seat = value.strip()
    if not _SEAT.fullmatch(seat):
        raise InvalidInput(
            "seat must be 1–32 letters, digits, '_', '.' or '-'",
            key="errors.routing.seat_invalid",
            field="seat",
        )
    return seat


def check_address(value: str) -> str:
    """An entry point address: a dialled number, a mailbox, a widget id (no spaces, ≤100)."""
    address = value.strip()
    if not _ADDRESS.fullmatch(address):
        raise InvalidInput(
            "address must be 1–100 characters without spaces",
            key="errors.routing.address_invalid",
            field="address",
        )
    return address


def _known_skills(tx: RoutingTx, codes: Sequence[str], *, field: str) -> None:
    unknown = sorted(set(codes) - tx.routing.skill_codes())
    if unknown:
        raise InvalidInput(
            f"unknown skill(s): {', '.join(unknown)}",
            key="errors.routing.unknown_skills",
            params={"skills": unknown},
            field=field,
        )


# --- record: engine events → rows, history, state log, outbox --------------------------------
_AGENT_EVENT_PERMISSION = "agent:supervise"


def _agent_event(kind: str, agent_id: str, path: str | None, payload: dict[str, Any]) -> Event:
    return Event(
        type=f"agent.{kind}",
        payload={"agent_id": agent_id, **payload},
        permission=_AGENT_EVENT_PERMISSION,
        org_unit_path=path,
        object_type="agent",
        object_id=agent_id,
        user_id=agent_id,
    )


def _routing_columns(view: Contact) -> dict[str, Any]:
    """Contact columns that let the engine rebuild the contact exactly (see load_engine)."""
    return {
        "queue_id": view.queue_id,
        "priority": view.priority,
        "callback": view.callback,
        "agent_id": view.agent_id,
        "seq": view.seq,
        "stage": view.stage,
        "offer_id": view.offer_id,
        "enqueued_at": view.enqueued_at,
        "queue_entered_at": view.queue_entered_at,
        "offered_at": view.offered_at,
        "offer_deadline": view.offer_deadline,
        "connected_at": view.connected_at,
    }


def record(
    tx: RoutingTx,
    engine: RoutingEngine,
    events: Sequence[EngineEvent],
    *,
    known: Sequence[ContactRecord] = (),
    wrap_up_of: Mapping[str, Sequence[ContactRecord]] | None = None,
) -> None:
    """Persist what one or more engine calls reported, in the caller's transaction.

    Affected agents and contacts are written as the engine now holds them (so a rebuild from
    the rows gives the same engine); every contact event becomes a history row and an outbox
    event (`queue:read` in the queue's unit, addressed to the agent involved); every agent
    state, pending not-ready and seat change becomes a state log row and an `agent.*` event
    (`agent:supervise` in the agent's unit, addressed to the agent). A contact whose agent
    moves on from its work without coding it is finished without a wrap-up code.

    `known`: contact rows the caller holds as they now stand in the database (read or written
    in this transaction); they are not read again. `wrap_up_of`: likewise, the contacts an
    agent has in wrap-up, as the caller just read them.
    """
    if not events:
        return
    now = tx.clock.now()
    history: list[dict[str, Any]] = []
    log: list[StateLogEntry] = []
    agent_events: list[tuple[str, str, dict[str, Any]]] = []
    agents: dict[str, None] = {}
    contacts: dict[str, None] = {}
    queues: dict[str, None] = {}
    transferred: set[str] = set()
    gone: dict[str, dict[str, Any]] = {}
    released: dict[str, Any] = {}
    renumbered: set[str] = set()
    seq = offer_id = 0
    incident: ev.IncidentFlagChanged | None = None
    groups_changed = False

    def entry(e: Any, kind: str, queue_id: str | None, agent_id: str | None, **data: Any) -> None:
        contacts[e.contact_id] = None
        history.append(
            {
                "contact_id": e.contact_id,
                "at": e.at,
                "type": kind,
                "queue_id": queue_id,
                "agent_id": agent_id,
                "data": data,
            }
        )

    for e in events:
        if isinstance(e, ev.AgentStateChanged):
            agents[e.agent_id] = None
            reason = None if e.reason is None else e.reason.value
            log.append(
                StateLogEntry(
                    e.agent_id,
                    e.at,
                    "state",
                    from_state=e.old.value,
                    to_state=e.new.value,
                    reason=reason,
                    approved_by=e.approved_by,
                )
            )
            agent_events.append(
                (
                    e.agent_id,
                    "state_changed",
                    {
                        "old": e.old.value,
                        "new": e.new.value,
                        "reason": reason,
                        "approved_by": e.approved_by,
                    },
                )
            )
            if e.new in (AgentState.ready, AgentState.not_ready, AgentState.logged_out):
                released[e.agent_id] = e.at
        elif isinstance(e, ev.AgentNotReadyPending):
            agents[e.agent_id] = None
            reason = None if e.reason is None else e.reason.value
            log.append(StateLogEntry(e.agent_id, e.at, "pending", reason=reason))
            agent_events.append((e.agent_id, "not_ready_pending", {"reason": reason}))
        elif isinstance(e, ev.AgentSeatChanged):
            agents[e.agent_id] = None
            log.append(
                StateLogEntry(e.agent_id, e.at, "seat", seat=e.new_seat, from_seat=e.old_seat)
            )
            agent_events.append(
                (e.agent_id, "seat_changed", {"old_seat": e.old_seat, "new_seat": e.new_seat})
            )
        elif isinstance(e, ev.AgentCapacityChanged | ev.AgentSkillsChanged):
            agents[e.agent_id] = None
        elif isinstance(e, ev.ContactQueued):
            seq = max(seq, e.seq)
            entry(
                e,
                "queued",
                e.queue_id,
                None,
                channel=e.channel.value,
                priority=e.priority,
                callback=e.callback,
            )
        elif isinstance(e, ev.ContactOffered):
            agents[e.agent_id] = None
            queues[e.queue_id] = None  # round-robin memory
            offer_id = max(offer_id, e.offer_id)
            entry(
                e,
                "offered",
                e.queue_id,
                e.agent_id,
                offer_id=e.offer_id,
                deadline=e.deadline.isoformat(),
                callback=e.callback,
            )
        elif isinstance(e, ev.OfferDeclined):
            agents[e.agent_id] = None
            entry(e, "offer_declined", None, e.agent_id, offer_id=e.offer_id)
        elif isinstance(e, ev.OfferTimedOut):
            agents[e.agent_id] = None
            entry(e, "offer_timed_out", None, e.agent_id, offer_id=e.offer_id)
        elif isinstance(e, ev.OfferWithdrawn):
            agents[e.agent_id] = None
            entry(e, "offer_withdrawn", None, e.agent_id, offer_id=e.offer_id, reason=e.reason)
        elif isinstance(e, ev.ContactConnected):
            agents[e.agent_id] = None
            queues[e.queue_id] = None
            entry(e, "connected", e.queue_id, e.agent_id, wait_seconds=e.wait_seconds)
        elif isinstance(e, ev.ContactEnded):
            agents[e.agent_id] = None
            entry(e, "ended", e.queue_id, e.agent_id, handle_seconds=e.handle_seconds)
            gone[e.contact_id] = {
                "status": Lifecycle.wrap_up.value,
                "agent_id": e.agent_id,
                "ended_at": e.at,
                "offer_deadline": None,
            }
        elif isinstance(e, ev.ContactAbandoned):
            queues[e.queue_id] = None
            entry(e, "abandoned", e.queue_id, None, wait_seconds=e.wait_seconds)
            gone[e.contact_id] = {
                "status": Lifecycle.abandoned.value,
                "agent_id": None,
                "finished_at": e.at,
                "offer_deadline": None,
            }
        elif isinstance(e, ev.ContactMoved):
            if e.from_agent_id is not None:
                agents[e.from_agent_id] = None
                transferred.add(e.contact_id)
            if not e.kept_place:
                renumbered.add(e.contact_id)
            entry(
                e,
                "transferred" if e.from_agent_id is not None else "moved",
                e.to_queue,
                e.from_agent_id,
                from_queue=e.from_queue,
                to_queue=e.to_queue,
                kept_place=e.kept_place,
            )
        elif isinstance(e, ev.ContactPriorityChanged):
            entry(e, "priority_changed", None, None, old=e.old, new=e.new)
        elif isinstance(e, ev.CallbackRequested):
            entry(e, "callback_requested", e.queue_id, None)
        elif isinstance(e, ev.ContactOverflowed):
            entry(e, "overflowed", e.queue_id, None, stage=e.stage, step=step_to_dict(e.step))
        elif isinstance(e, ev.ContactMaxWaitExceeded):
            entry(
                e,
                "max_wait_exceeded",
                e.queue_id,
                None,
                action=e.action.value,
                wait_seconds=e.wait_seconds,
            )
            if e.action is MaxWaitAction.remove:
                gone[e.contact_id] = {
                    "status": Lifecycle.overflowed.value,
                    "agent_id": None,
                    "finished_at": e.at,
                }
        elif isinstance(e, ev.QueueConfigured):
            queues[e.queue_id] = None
        elif isinstance(e, ev.GroupActivationChanged):
            groups_changed = True
        elif isinstance(e, ev.IncidentFlagChanged):
            incident = e
        # QueueRemoved: the caller deletes the queue's rows.

    # Contacts: as the engine holds them now, or their final state if they left it.
    rows = {r.id: r for r in known if r.id in contacts}
    if len(rows) < len(contacts):
        rows.update(tx.contacts.contacts_by_ids([c for c in contacts if c not in rows]))
    queue_of: dict[str, str | None] = {}
    for cid in contacts:
        row = rows.get(cid)
        if row is None:
            raise LookupError(f"the routing engine reported contact {cid!r}, which has no row")
        view = engine_contact(engine, cid)
        if view is not None:
            was_transferred = row.status is Lifecycle.transferred
            status = lifecycle_of(
                view.status,
                transferred=cid in transferred
                or (was_transferred and view.status is ContactStatus.waiting),
            )
            fields = _routing_columns(view)
            fields["status"] = status.value
            if row.queued_at is None:
                fields["queued_at"] = view.enqueued_at
            if status is Lifecycle.connected and row.answered_at is None:
                fields["answered_at"] = view.connected_at
            if cid in renumbered and view.seq is not None:
                seq = max(seq, view.seq)
            queue_of[cid] = view.queue_id
        else:
            left = gone.get(cid)
            if left is None:
                raise LookupError(f"contact {cid!r} left the routing engine without a reason")
            fields = left
            queue_of[cid] = row.queue_id
        tx.contacts.update_contact(cid, updated_at=now, **fields)

    # Agents as the engine holds them now; seats go into their state log rows.
    seats: dict[str, str | None] = {}
    for aid in agents:
        view_a = engine.agent(aid)
        seats[aid] = view_a.seat
        tx.routing.save_agent_state(view_a, now)
    log = [
        dataclasses.replace(x, seat=seats.get(x.user_id)) if x.kind == "state" else x for x in log
    ]

    # Contacts left in wrap-up by an agent who moved on are finished, uncoded.
    uncoded: list[ContactRecord] = []
    for aid, at in released.items():
        in_wrap_up = (
            wrap_up_of[aid]
            if wrap_up_of is not None and aid in wrap_up_of
            else tx.contacts.contacts_of_agent(aid, (Lifecycle.wrap_up,))
        )
        uncoded.extend(in_wrap_up)
        for c in in_wrap_up:
            final = finished_status(c.callback)
            tx.contacts.update_contact(c.id, status=final.value, finished_at=at, updated_at=now)
            history.append(
                {
                    "contact_id": c.id,
                    "at": at,
                    "type": "finished",
                    "queue_id": c.queue_id,
                    "agent_id": aid,
                    "data": {"status": final.value, "coded": False},
                }
            )

    entries = [
        HistoryEntry(
            contact_id=h["contact_id"],
            at=h["at"],
            type=h["type"],
            queue_id=h["queue_id"] or queue_of.get(h["contact_id"]),
            agent_id=h["agent_id"],
            data=h["data"],
        )
        for h in history
    ]
    # Interval statistics count these entries in this transaction (ADR 0008).
    entries = stats_actions.count_history(
        tx, entries, engine=engine, rows=[*rows.values(), *uncoded]
    )
    tx.contacts.append_history(entries)
    if log:
        tx.routing.append_state_log(log)

    for qid in queues:
        if engine_has_queue(engine, qid):
            tx.routing.save_queue_state(engine.queue_state(qid), now)
    if seq:
        tx.routing.set_flag(FLAG_SEQ, seq, now)
    if offer_id:
        tx.routing.set_flag(FLAG_OFFER_ID, offer_id, now)
    if incident is not None:
        tx.routing.set_flag(FLAG_INCIDENT, {"active": incident.active, "note": incident.note}, now)
    if groups_changed:
        tx.routing.set_flag(FLAG_GROUPS, sorted(engine.active_groups), now)

    # A contact row carries its queue's unit path: look up only the queues it does not give.
    wanted = {h.queue_id for h in entries if h.queue_id}
    paths = {
        r.queue_id: r.org_unit_path
        for r in rows.values()
        if r.queue_id in wanted and r.org_unit_path is not None
    }
    if len(paths) < len(wanted):
        paths.update(tx.routing.queue_paths(wanted - paths.keys()))
    for h in entries:
        tx.emit(contact_event(h, org_unit_path=paths.get(h.queue_id or "")))
    wanted_users = {a for a, _, _ in agent_events}
    me = tx.actor
    user_paths: dict[str, str] = {}
    if me.user_id in wanted_users and me.home_org_unit_path is not None:
        # An agent's own action: its unit came with its grants when the request was
        # authenticated (the same read `user_paths` would repeat).
        user_paths[me.user_id] = me.home_org_unit_path
    if len(user_paths) < len(wanted_users):
        user_paths.update(tx.routing.user_paths(wanted_users - user_paths.keys()))
    for aid, kind, payload in agent_events:
        if kind == "state_changed":
            payload["seat"] = seats.get(aid)
        tx.emit(_agent_event(kind, aid, user_paths.get(aid), payload))


# --- skills and wrap-up codes (global configuration) ----------------------------------------
def _config_event(kind: str, object_type: str, object_id: str, payload: dict[str, Any]) -> Event:
    return Event(
        type=f"{object_type}.{kind}",
        payload={"id": object_id, **payload},
        permission="queue:read",
        object_type=object_type,
        object_id=object_id,
    )


@dataclass(frozen=True, slots=True)
class _CodedKind:
    """Skills and wrap-up codes: global configuration items with a fixed code, a name and an
    active flag, created and changed the same way."""

    object_type: str  # audit and event object type
    label: str  # in messages
    error: str  # errors.routing.<error>_exists / _not_found
    make: Callable[..., Any]
    get: Callable[[RoutingStore, str], Any]
    by_code: Callable[[RoutingStore, str], Any]
    insert: Callable[[RoutingStore, Any], None]
    update: Callable[..., None]


_SKILLS = _CodedKind(
    "skill",
    "skill",
    "skill",
    Skill,
    lambda st, i: st.skill(i),
    lambda st, c: st.skill_by_code(c),
    lambda st, item: st.insert_skill(item),
    lambda st, i, **f: st.update_skill(i, **f),
)
_WRAP_UP_CODES = _CodedKind(
    "wrap_up_code",
    "wrap-up code",
    "wrap_up_code",
    WrapUpCode,
    lambda st, i: st.wrap_up_code(i),
    lambda st, c: st.wrap_up_code_by_code(c),
    lambda st, item: st.insert_wrap_up_code(item),
    lambda st, i, **f: st.update_wrap_up_code(i, **f),
)


def _create_coded(tx: RoutingTx, kind: _CodedKind, code: str, name: str) -> Any:
    tx.actor.require_root("queue:manage")
    code, name = check_code(code), check_name(name)
    if kind.by_code(tx.routing, code) is not None:
        raise Conflict(
            f"{kind.label} {code!r} exists", key=f"errors.routing.{kind.error}_exists", field="code"
        )
    now = tx.clock.now()
    item = kind.make(new_id(), code, name, True, now, now)
    kind.insert(tx.routing, item)
    tx.audit(
        f"{kind.object_type}.create", kind.object_type, item.id, after={"code": code, "name": name}
    )
    tx.emit(_config_event("created", kind.object_type, item.id, {"code": code, "name": name}))
    return item


def _update_coded(
    tx: RoutingTx, kind: _CodedKind, item_id: str, name: str | None, active: bool | None
) -> Any:
    tx.actor.require_root("queue:manage")
    item = kind.get(tx.routing, item_id)
    if item is None:
        raise NotFound(f"no such {kind.label}", key=f"errors.routing.{kind.error}_not_found")
    changes: dict[str, Any] = {}
    if name is not None and check_name(name) != item.name:
        changes["name"] = check_name(name)
    if active is not None and active != item.active:
        changes["active"] = active
    if not changes:
        return item
    now = tx.clock.now()
    kind.update(tx.routing, item.id, updated_at=now, **changes)
    tx.audit(
        f"{kind.object_type}.update",
        kind.object_type,
        item.id,
        before={k: getattr(item, k) for k in changes},
        after=changes,
    )
    tx.emit(_config_event("updated", kind.object_type, item.id, {"code": item.code, **changes}))
    return dataclasses.replace(item, updated_at=now, **changes)


def create_skill(tx: RoutingTx, *, code: str, name: str) -> Skill:
    """Add a skill (queue:manage over the whole organisation: skills are global)."""
    skill: Skill = _create_coded(tx, _SKILLS, code, name)
    return skill


def update_skill(
    tx: RoutingTx, *, skill_id: str, name: str | None = None, active: bool | None = None
) -> Skill:
    """Rename or (de)activate a skill. The code never changes: queues and agents use it."""
    skill: Skill = _update_coded(tx, _SKILLS, skill_id, name, active)
    return skill


def create_wrap_up_code(tx: RoutingTx, *, code: str, name: str) -> WrapUpCode:
    """Add a wrap-up code (global configuration, like skills)."""
    item: WrapUpCode = _create_coded(tx, _WRAP_UP_CODES, code, name)
    return item


def update_wrap_up_code(
    tx: RoutingTx, *, code_id: str, name: str | None = None, active: bool | None = None
) -> WrapUpCode:
    """Rename or (de)activate a wrap-up code; contacts keep the code they were given."""
    item: WrapUpCode = _update_coded(tx, _WRAP_UP_CODES, code_id, name, active)
    return item


# --- queues ----------------------------------------------------------------------------------
def _queue_config(tx: RoutingTx, queue_id: str, settings: Mapping[str, Any]) -> QueueConfig:
    """Build and check a queue configuration from plain data (`QueueConfig.to_dict` shape)."""
    try:
        config = QueueConfig.from_dict({**settings, "id": queue_id})
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"bad queue configuration: {exc}", field="config") from exc
    needed = [r.skill for r in config.skills]
    needed += [s.skill for s in config.overflow if isinstance(s, LowerSkillLevel) and s.skill]
    _known_skills(tx, needed, field="skills")
    for step in config.overflow:
        if isinstance(step, AddQueueAgents) and tx.routing.queue(step.queue_id) is None:
            raise InvalidInput(
                f"overflow step adds the agents of unknown queue {step.queue_id!r}",
                key="errors.routing.unknown_overflow_queue",
                params={"target": step.queue_id},
                field="overflow",
            )
    return config


def _queue_audit(queue: Queue) -> dict[str, Any]:
    return {
        "code": queue.code,
        "name": queue.name,
        "org_unit_id": queue.org_unit_id,
        **{k: v for k, v in queue.config.to_dict().items() if k != "id"},
    }


def _queue_event(kind: str, queue: Queue) -> Event:
    return Event(
        type=f"queue.{kind}",
        payload={"id": queue.id, "code": queue.code, "name": queue.name},
        permission="queue:read",
        org_unit_path=queue.org_unit_path,
        object_type="queue",
        object_id=queue.id,
    )


def create_queue(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    code: str,
    name: str,
    org_unit_id: str,
    settings: Mapping[str, Any],
) -> Queue:
    """Create a queue owned by a unit the actor holds `queue:manage` over; it routes at once.

    `settings` is the configuration as plain data (`QueueConfig.to_dict` without the id):
    required skills with minimum levels, channels, priority, service level target, max wait
    and its action, strategy, overflow steps, offer timeout, wrap-up time, ageing.
    """
    tx.actor.require("queue:manage")
    path = tx.routing.org_unit_path(org_unit_id)
    if path is None or not tx.actor.can("queue:manage", path):
        raise NotFound(
            "no such organisation unit", key="errors.org_unit_not_found", field="org_unit_id"
        )
    code, name = check_code(code), check_name(name)
    if tx.routing.queue_by_code(code) is not None:
        raise Conflict(f"queue {code!r} exists", key="errors.routing.queue_exists", field="code")
    config = _queue_config(tx, new_id(), settings)
    now = tx.clock.now()
    queue = Queue(code, name, org_unit_id, path, config, now, now)
    tx.routing.insert_queue(queue)
    record(tx, engine, engine.upsert_queue(config))  # also stores the queue's counters
    tx.audit("queue.create", "queue", queue.id, org_unit_path=path, after=_queue_audit(queue))
    tx.emit(_queue_event("created", queue))
    return queue


def update_queue(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    queue_id: str,
    name: str,
    settings: Mapping[str, Any],
) -> Queue:
    """Replace a queue's name and configuration. Waiting contacts keep their place; a change
    that would strand contacts on a channel the queue no longer takes is refused (409)."""
    queue = access_queue(tx.routing, tx.actor, queue_id, "queue:manage")
    config = _queue_config(tx, queue.id, settings)
    updated = dataclasses.replace(
        queue, name=check_name(name), config=config, updated_at=tx.clock.now()
    )
    if updated.name == queue.name and config == queue.config:
        return queue
    orphans = sorted(
        f"{e.channel.value}:{e.address}"
        for e in tx.routing.entry_points_of(queue.id)
        if e.active and e.channel not in config.channels
    )
    if orphans:
        raise Conflict(
            f"entry points {', '.join(orphans)} route to this queue on channels it would no "
            "longer take; point them elsewhere first",
            key="errors.routing.queue_channels_in_use",
            params={"entry_points": orphans},
        )
    tx.routing.update_queue(updated)
    if config != queue.config:
        record(tx, engine, engine.upsert_queue(config))
    before, after = _queue_audit(queue), _queue_audit(updated)
    changed = [k for k in after if before.get(k) != after[k]]
    tx.audit(
        "queue.update",
        "queue",
        queue.id,
        org_unit_path=queue.org_unit_path,
        before={k: before[k] for k in changed},
        after={k: after[k] for k in changed},
    )
    tx.emit(_queue_event("updated", updated))
    return updated


# --- entry points ----------------------------------------------------------------------------
class Keep(enum.Enum):
    """A parameter's "leave it as it is" (where None is a value: no calendar)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def _check_calendar(tx: RoutingTx, calendar_id: str | None) -> None:
    if calendar_id is not None and tx.calendars.calendar(calendar_id) is None:
        raise NotFound("no such calendar", key="errors.calendar.not_found", field="calendar_id")


def create_entry_point(
    tx: RoutingTx,
    *,
    channel: Channel,
    address: str,
    name: str,
    queue_id: str,
    priority: int = 0,
    calendar_id: str | None = None,
) -> EntryPoint:
    """Route contacts arriving at `address` on `channel` (e.g. voice 96266) to a queue the
    actor manages; `priority` is added to theirs; `calendar_id` sets its business hours
    (none: always open)."""
    queue = access_queue(tx.routing, tx.actor, queue_id, "queue:manage")
    channel = Channel(channel)
    if channel not in queue.config.channels:
        raise InvalidInput(
            f"queue {queue.code!r} does not take {channel.value} contacts",
            key="errors.routing.channel_not_in_queue",
            field="channel",
        )
    address, name = check_address(address), check_name(name)
    validate_priority(priority)
    if tx.routing.entry_point_at(channel, address) is not None:
        raise Conflict(
            f"a {channel.value} entry point at {address!r} exists",
            key="errors.routing.entry_point_exists",
            field="address",
        )
    _check_calendar(tx, calendar_id)
    now = tx.clock.now()
    entry = EntryPoint(
        new_id(), channel, address, name, queue.id, priority, True, now, now, calendar_id
    )
    tx.routing.insert_entry_point(entry)
    tx.audit(
        "entry_point.create",
        "entry_point",
        entry.id,
        org_unit_path=queue.org_unit_path,
        after={
            "channel": channel.value,
            "address": address,
            "name": name,
            "queue_id": queue.id,
            "priority": priority,
            "calendar_id": calendar_id,
        },
    )
    tx.emit(
        _config_event(
            "created", "entry_point", entry.id, {"channel": channel.value, "address": address}
        )
    )
    return entry


def update_entry_point(
    tx: RoutingTx,
    *,
    entry_point_id: str,
    name: str | None = None,
    queue_id: str | None = None,
    priority: int | None = None,
    active: bool | None = None,
    calendar_id: str | Keep | None = KEEP,
) -> EntryPoint:
    """Change where an entry point routes, its name, priority, business hours (`calendar_id`
    None: always open) or whether it takes contacts."""
    entry = tx.routing.entry_point(entry_point_id)
    tx.actor.require("queue:manage")
    if entry is None:
        raise NotFound("no such entry point", key="errors.routing.entry_point_not_found")
    access_queue(tx.routing, tx.actor, entry.queue_id, "queue:manage")
    changes: dict[str, Any] = {}
    if name is not None and check_name(name) != entry.name:
        changes["name"] = check_name(name)
    if queue_id is not None and queue_id != entry.queue_id:
        target = access_queue(tx.routing, tx.actor, queue_id, "queue:manage")
        if entry.channel not in target.config.channels:
            raise InvalidInput(
                f"queue {target.code!r} does not take {entry.channel.value} contacts",
                key="errors.routing.channel_not_in_queue",
                field="queue_id",
            )
        changes["queue_id"] = target.id
    if priority is not None and priority != entry.priority:
        changes["priority"] = validate_priority(priority)
    if active is not None and active != entry.active:
        changes["active"] = active
    if not isinstance(calendar_id, Keep) and calendar_id != entry.calendar_id:
        _check_calendar(tx, calendar_id)
        changes["calendar_id"] = calendar_id
    if not changes:
        return entry
    now = tx.clock.now()
    tx.routing.update_entry_point(entry.id, updated_at=now, **changes)
    tx.audit(
        "entry_point.update",
        "entry_point",
        entry.id,
        before={k: getattr(entry, k) for k in changes},
        after=changes,
    )
    tx.emit(_config_event("updated", "entry_point", entry.id, {"address": entry.address}))
    return dataclasses.replace(entry, updated_at=now, **changes)


# --- agent profiles --------------------------------------------------------------------------
def set_agent_profile(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    user_id: str,
    skills: Mapping[str, int],
    capacity: Mapping[str, int],
    group: str | None,
) -> AgentProfile:
    """Set how a user routes: skill levels (1–10), contacts at once per channel, call-up
    group. Skills and capacity apply at once if the agent is logged in; a new group at the
    next login."""
    user = access_agent(tx.routing, tx.actor, user_id, "queue:manage")
    sk = validate_skills(skills)
    _known_skills(tx, list(sk), field="skills")
    try:
        channels = {Channel(k): v for k, v in capacity.items()}
    except ValueError as exc:
        raise InvalidInput(f"unknown channel in capacity: {exc}", field="capacity") from exc
    cap = validate_capacity(channels)
    if group is not None:
        group = check_code(group, field="group")
    now = tx.clock.now()
    old = tx.routing.agent_profile(user.id)
    profile = AgentProfile(user.id, sk, cap, group, old.created_at if old else now, now)
    if old is not None and (old.skills, old.capacity, old.group) == (sk, cap, group):
        return old
    tx.routing.save_agent_profile(profile)

    def plain(p: AgentProfile | None) -> dict[str, Any] | None:
        if p is None:
            return None
        return {
            "skills": dict(p.skills),
            "capacity": {c.value: n for c, n in p.capacity.items()},
            "group": p.group,
        }

    tx.audit(
        "agent.profile",
        "agent",
        user.id,
        org_unit_path=user.org_unit_path,
        before=plain(old),
        after=plain(profile),
    )
    if engine_knows(engine, user.id):
        live = engine.agent(user.id)
        if dict(live.skills) != sk:
            record(tx, engine, engine.set_skills(user.id, sk))
        for ch in Channel:
            if live.capacity.get(ch, 0) != cap.get(ch, 0):
                record(tx, engine, engine.set_capacity(user.id, ch, cap.get(ch, 0)))
    tx.emit(_agent_event("profile_changed", user.id, user.org_unit_path, plain(profile) or {}))
    return profile


# --- agent self-service (R-A3, R-D6) ---------------------------------------------------------
def _me(tx: RoutingTx) -> AgentUser:
    tx.actor.require("agent:self")
    user = tx.routing.agent_user(tx.actor.user_id or "")
    if user is None:
        raise InvalidInput("only a signed-in user can act as an agent", key="errors.not_a_user")
    return user


def _withdraw_logout(tx: RoutingTx, user: AgentUser) -> None:
    pending = tx.routing.pending_logout(user.id)
    if pending is not None:
        tx.routing.decide_logout_request(
            pending.id, status="withdrawn", at=tx.clock.now(), by=user.id
        )
        tx.emit(
            _agent_event(
                "logout_withdrawn", user.id, user.org_unit_path, {"request_id": pending.id}
            )
        )


def login_agent(tx: RoutingTx, engine: RoutingEngine, *, seat: str, ready: bool) -> None:
    """Log in to routing at `seat`, ready or not ready (reason `login`), with one's profile."""
    user = _me(tx)
    profile = tx.routing.agent_profile(user.id)
    if profile is None:
        raise Conflict(
            "you have no agent profile (skills and capacity); ask a queue manager",
            key="errors.routing.no_agent_profile",
        )
    seat = check_seat(seat)
    record(
        tx,
        engine,
        engine.login(
            user.id,
            skills=profile.skills,
            capacity=profile.capacity,
            seat=seat,
            group=profile.group,
            ready=ready,
        ),
    )
    tx.audit(
        "agent.login",
        "agent",
        user.id,
        org_unit_path=user.org_unit_path,
        details={"seat": seat, "ready": ready},
    )


def set_ready(tx: RoutingTx, engine: RoutingEngine) -> None:
    """Become available (also ends wrap-up early, or cancels a pending not-ready)."""
    user = _me(tx)
    _require_logged_in(engine, user.id)
    _withdraw_logout(tx, user)
    record(tx, engine, engine.set_ready(user.id))
    tx.audit("agent.ready", "agent", user.id, org_unit_path=user.org_unit_path)


def set_not_ready(tx: RoutingTx, engine: RoutingEngine, *, reason: NotReadyReason) -> None:
    """Become unavailable with a reason; while holding contacts, once they are done."""
    user = _me(tx)
    reason = NotReadyReason(reason)
    if reason not in AGENT_REASONS:
        raise InvalidInput(
            f"an agent cannot choose the not-ready reason {reason.value!r}",
            key="errors.routing.reason_reserved",
            field="reason",
        )
    _require_logged_in(engine, user.id)
    _withdraw_logout(tx, user)
    record(tx, engine, engine.set_not_ready(user.id, reason))
    tx.audit(
        "agent.not_ready",
        "agent",
        user.id,
        org_unit_path=user.org_unit_path,
        details={"reason": reason.value},
    )


def change_seat(tx: RoutingTx, engine: RoutingEngine, *, seat: str) -> None:
    """Move to another seat (equipment failure, R-D6); the time is kept in the state log."""
    user = _me(tx)
    seat = check_seat(seat)
    _require_logged_in(engine, user.id)
    record(tx, engine, engine.change_seat(user.id, seat))
    tx.audit(
        "agent.seat", "agent", user.id, org_unit_path=user.org_unit_path, details={"seat": seat}
    )


def request_logout(tx: RoutingTx, engine: RoutingEngine) -> LogoutRequest | None:
    """Log out of routing. While contacts wait in one's queues or the incident flag is set
    (R-D6 "no logging out without permission"), this only files a request a team lead
    approves or rejects: returns it (None: logged out now). Refused (409) while handling
    contacts."""
    user = _me(tx)
    _require_logged_in(engine, user.id)
    pending = tx.routing.pending_logout(user.id)
    if pending is not None:
        return pending
    try:
        events = engine.logout(user.id)
    except Conflict as exc:
        if exc.key != "errors.routing.logout_needs_approval":
            raise
        request = LogoutRequest(
            id=new_id(),
            user_id=user.id,
            requested_at=tx.clock.now(),
            cause=str(exc.params.get("cause", "approval")),
            status="pending",
        )
        tx.routing.insert_logout_request(request)
        tx.audit(
            "agent.logout_request",
            "agent",
            user.id,
            org_unit_path=user.org_unit_path,
            details={"cause": request.cause, "request_id": request.id},
        )
        tx.emit(
            _agent_event(
                "logout_requested",
                user.id,
                user.org_unit_path,
                {"request_id": request.id, "cause": request.cause, "detail": exc.message},
            )
        )
        return request
    record(tx, engine, events)
    tx.audit("agent.logout", "agent", user.id, org_unit_path=user.org_unit_path)
    return None


def _require_logged_in(engine: RoutingEngine, user_id: str) -> None:
    if not engine_knows(engine, user_id) or engine.agent(user_id).state is AgentState.logged_out:
        raise Conflict(
            "not logged in to routing; log in first",
            key="errors.routing.not_logged_in",
            params={"agent_id": user_id},
        )


# --- supervisors (R-C2, R-D6) ----------------------------------------------------------------
def force_state(
    tx: RoutingTx,
    engine: RoutingEngine,
    *,
    user_id: str,
    state: AgentState,
    reason: NotReadyReason | None = None,
) -> None:
    """A team lead sets an agent ready, not ready (reason `supervisor` unless given) or logs
    it out (approving the logout: no request needed)."""
    user = access_agent(tx.routing, tx.actor, user_id, "agent:supervise")
    state = AgentState(state)
    _require_logged_in(engine, user.id)
    approver = tx.actor.user_id or tx.actor.username
    if state is AgentState.ready:
        events = engine.set_ready(user.id)
    elif state is AgentState.not_ready:
        events = engine.set_not_ready(user.id, reason or NotReadyReason.supervisor)
    elif state is AgentState.logged_out:
        events = engine.logout(user.id, approved_by=approver)
        pending = tx.routing.pending_logout(user.id)
        if pending is not None:
            tx.routing.decide_logout_request(
                pending.id, status="approved", at=tx.clock.now(), by=approver
            )
    else:
        raise InvalidInput(
            "a supervisor can set ready, not_ready or logged_out",
            key="errors.routing.state_not_settable",
            field="state",
        )
    record(tx, engine, events)
    tx.audit(
        "agent.force_state",
        "agent",
        user.id,
        org_unit_path=user.org_unit_path,
        details={"state": state.value, "reason": None if reason is None else reason.value},
    )


def decide_logout(tx: RoutingTx, engine: RoutingEngine, *, user_id: str, approve: bool) -> None:
    """Approve (the agent is logged out now) or reject an agent's pending logout request."""
    user = access_agent(tx.routing, tx.actor, user_id, "agent:supervise")
    pending = tx.routing.pending_logout(user.id)
    if pending is None:
        raise Conflict(
            "this agent has no pending logout request",
            key="errors.routing.no_logout_request",
            params={"agent_id": user.id},
        )
    approver = tx.actor.user_id or tx.actor.username
    if approve:
        record(tx, engine, engine.logout(user.id, approved_by=approver))
    status = "approved" if approve else "rejected"
    tx.routing.decide_logout_request(pending.id, status=status, at=tx.clock.now(), by=approver)
    tx.audit(
        f"agent.logout_{status}",
        "agent",
        user.id,
        org_unit_path=user.org_unit_path,
        details={"request_id": pending.id, "cause": pending.cause},
    )
    tx.emit(
        _agent_event(
            "logout_decided",
            user.id,
            user.org_unit_path,
            {"request_id": pending.id, "status": status, "by": approver},
        )
    )


def set_incident(tx: RoutingTx, engine: RoutingEngine, *, active: bool, note: str | None) -> None:
    """Raise or clear the incident flag: while raised, logging out needs approval (R-D6).
    Needs `agent:supervise` over the whole organisation (it applies to everyone)."""
    tx.actor.require_root("agent:supervise")
    if note is not None:
        note = note.strip() or None
        if note is not None and len(note) > 500:
            raise InvalidInput("note must have at most 500 characters", field="note")
    record(tx, engine, engine.set_incident(active, note))
    tx.audit("routing.incident", details={"active": active, "note": note})


def set_group_active(tx: RoutingTx, engine: RoutingEngine, *, group: str, active: bool) -> None:
    """Call up (or stand down) a staff group for every queue (R-D3: 第一级在场人员, 第二级备班
    人员, 第三级其他在外人员). Needs `agent:supervise` over the whole organisation."""
    tx.actor.require_root("agent:supervise")
    group = check_code(group, field="group")
    record(tx, engine, engine.set_group_active(group, active))
    tx.audit("routing.group", details={"group": group, "active": active})


def retire_disabled_agents(tx: RoutingTx, engine: RoutingEngine) -> list[str]:
    """Take agents whose account was disabled (离职, R-E1) out of routing; returns their ids.

    Their pending offers go back to their place in line and they are logged out. One still
    handling a contact cannot be logged out without losing it: it goes not-ready (no new
    offers), and a later sweep logs it out once its work is done. Runs as the system.
    """
    retired: list[str] = []
    approver = tx.actor.username
    waiting = tx.routing.disabled_agents_logged_in()
    paths = tx.routing.user_paths(waiting) if waiting else {}
    for user_id in waiting:
        logged_out = True
        try:
            events = engine.logout(user_id, approved_by=approver)
        except Conflict as exc:
            if exc.key != "errors.routing.logout_busy":
                raise
            logged_out = False
            events = engine.set_not_ready(user_id, NotReadyReason.supervisor)
        if logged_out:
            retired.append(user_id)
        if not events:
            continue
        record(tx, engine, events)
        tx.audit(
            "agent.retire_disabled",
            "agent",
            user_id,
            org_unit_path=paths.get(user_id),
            details={"logged_out": logged_out},
        )
    return retired


def contact_record(tx: RoutingTx, contact_id: str) -> ContactRecord:
    """A contact row that must exist (after an action wrote it)."""
    row = tx.contacts.contact(contact_id)
    if row is None:
        raise NotFound("no such contact", key="errors.contact.not_found")
    return row


__all__ = [
    "AGENT_REASONS",
    "change_seat",
    "create_entry_point",
    "create_queue",
    "create_skill",
    "create_wrap_up_code",
    "decide_logout",
    "force_state",
    "login_agent",
    "record",
    "request_logout",
    "retire_disabled_agents",
    "set_agent_profile",
    "set_group_active",
    "set_incident",
    "set_not_ready",
    "set_ready",
    "update_entry_point",
    "update_queue",
    "update_skill",
    "update_wrap_up_code",
]
