"""Reads of routing: permission-checked accessors, agent views, and `load_engine`, which
rebuilds the engine from the durable record.

Queue *configurations* (like skills and wrap-up codes) are visible to every holder of
`queue:read`: agents pick transfer targets from them. What happens *in* a queue (its live
figures, its contacts, its events) needs the permission over the queue's unit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from hotline.core.clock import Clock
from hotline.core.context import Actor
from hotline.core.errors import InvalidInput, NotFound
from hotline.domains.contacts.model import IN_ENGINE, ContactView, engine_status
from hotline.domains.contacts.ports import ContactStore
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import (
    Agent,
    AgentState,
    Channel,
    Contact,
    ContactStatus,
    NotReadyReason,
    QueueStats,
)
from hotline.domains.routing.ports import (
    AgentProfile,
    AgentUser,
    EntryPoint,
    LogoutRequest,
    Queue,
    RoutingStore,
    Skill,
    StateLogEntry,
    WrapUpCode,
)
from hotline.domains.stats.model import Counts, service_level

MAX_LIMIT = 500


def access_queue(store: RoutingStore, actor: Actor, queue_id: str, permission: str) -> Queue:
    """Load a queue whose unit the actor holds `permission` over; otherwise NotFound."""
    actor.require(permission)
    queue = store.queue(queue_id)
    if queue is None or not actor.can(permission, queue.org_unit_path):
        raise NotFound("no such queue", key="errors.routing.queue_not_found")
    return queue


def access_agent(store: RoutingStore, actor: Actor, user_id: str, permission: str) -> AgentUser:
    """Load a user (as an agent) whose unit the actor holds `permission` over."""
    actor.require(permission)
    user = store.agent_user(user_id)
    if user is None or not actor.can(permission, user.org_unit_path):
        raise NotFound("no such agent", key="errors.routing.agent_not_found")
    return user


# --- the engine, read safely ------------------------------------------------------------------
def engine_knows(engine: RoutingEngine, agent_id: str) -> bool:
    """Whether the engine has seen this agent (logged in at least once since its records)."""
    try:
        engine.agent(agent_id)
    except NotFound:
        return False
    return True


def engine_contact(engine: RoutingEngine, contact_id: str) -> Contact | None:
    """The engine's view of a contact, None once it has left the engine."""
    try:
        return engine.contact(contact_id)
    except NotFound:
        return None


def engine_has_queue(engine: RoutingEngine, queue_id: str) -> bool:
    try:
        engine.queue(queue_id)
    except NotFound:
        return False
    return True


def load_engine(routing: RoutingStore, contacts: ContactStore, *, clock: Clock) -> RoutingEngine:
    """Rebuild the routing engine from the durable record: queue configurations and their
    counters, every agent's last state, every contact the engine held (waiting, offered,
    connected), the incident flag, the active call-up groups and the sequence counters.

    The result equals (snapshot for snapshot) the engine that wrote those rows. Call `tick()`
    afterwards: it processes what fell due meanwhile (offer deadlines, wrap-up ends…).
    """
    engine_contacts = []
    for row in contacts.contacts_in(IN_ENGINE):
        status = engine_status(row.status)
        if row.queue_id is None or row.enqueued_at is None:
            raise InvalidInput(f"contact {row.id!r} is {row.status.value} without a queue")
        engine_contacts.append(
            Contact(
                id=row.id,
                channel=row.channel,
                queue_id=row.queue_id,
                enqueued_at=row.enqueued_at,
                priority=row.priority,
                queue_entered_at=row.queue_entered_at,
                callback=row.callback,
                status=status,
                stage=row.stage,
                seq=row.seq,
                agent_id=None if status is ContactStatus.waiting else row.agent_id,
                offer_id=row.offer_id,
                offered_at=row.offered_at,
                offer_deadline=row.offer_deadline,
                connected_at=row.connected_at,
            )
        )
    incident = routing.flag("incident") or {}
    return RoutingEngine.rebuild(
        clock=clock,
        queues=[q.config for q in routing.all_queues()],
        agents=routing.agent_states(),
        contacts=engine_contacts,
        queue_states=routing.queue_states(),
        active_groups=routing.flag("active_groups") or (),
        incident=bool(incident.get("active", False)),
        incident_note=incident.get("note"),
        next_seq=int(routing.flag("seq") or 0),
        next_offer_id=int(routing.flag("offer_id") or 0),
    )


# --- views ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentView:
    """An agent as its desktop and its team lead see it (from the durable record, so any node
    can answer). `skills`/`capacity` are those in force while logged in, else the profile's."""

    user_id: str
    username: str
    display_name: str
    org_unit_id: str
    has_profile: bool
    state: AgentState
    reason: NotReadyReason | None
    state_since: dt.datetime | None
    seat: str | None
    group: str | None
    pending_reason: NotReadyReason | None
    wrap_up_until: dt.datetime | None
    idle_since: dt.datetime | None
    skills: Mapping[str, int]
    capacity: Mapping[Channel, int]
    logout_request: LogoutRequest | None
    work: tuple[ContactView, ...] = ()


def agent_view(
    user: AgentUser,
    profile: AgentProfile | None,
    live: Agent | None,
    logout: LogoutRequest | None,
    work: tuple[ContactView, ...] = (),
) -> AgentView:
    logged_in = live is not None and live.state is not AgentState.logged_out
    skills: Mapping[str, int] = {}
    capacity: Mapping[Channel, int] = {}
    if logged_in and live is not None:
        skills, capacity = live.skills, live.capacity
    elif profile is not None:
        skills, capacity = profile.skills, profile.capacity
    return AgentView(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        org_unit_id=user.org_unit_id,
        has_profile=profile is not None,
        state=live.state if live else AgentState.logged_out,
        reason=live.reason if live else None,
        state_since=live.state_since if live else None,
        seat=live.seat if live else None,
        group=(live.group if logged_in and live else profile.group if profile else None),
        pending_reason=live.pending_reason if live else None,
        wrap_up_until=live.wrap_up_until if live else None,
        idle_since=live.idle_since if live else None,
        skills=dict(skills),
        capacity={c: n for c, n in capacity.items() if n},
        logout_request=logout,
        work=work,
    )


def list_agents(
    store: RoutingStore, actor: Actor, *, limit: int, after: str | None
) -> list[AgentView]:
    """Agents (users with a profile or a routing state) in the actor's `agent:supervise`
    scope, by username (keyset: `after` a username): the team lead's floor view (R-C2)."""
    actor.require("agent:supervise")
    rows = store.agents(
        scopes=actor.scopes_for("agent:supervise"), limit=_limit(limit), after=after
    )
    pending = store.pending_logouts([u.id for u, _, _ in rows])
    return [agent_view(u, p, s, pending.get(u.id)) for u, p, s in rows]


@dataclass(frozen=True, slots=True)
class TransferTarget:
    """A logged-in agent a contact can be transferred to."""

    user_id: str
    username: str
    display_name: str
    state: AgentState


def transfer_targets(
    store: RoutingStore, actor: Actor, *, channel: Channel | None = None
) -> list[TransferTarget]:
    """Logged-in agents other than the actor, by username, that an agent may transfer a
    contact to (with `channel`: only those who take that channel). Names and states only."""
    actor.require("contact:handle")
    live = [
        a
        for a in store.agent_states()
        if a.state is not AgentState.logged_out
        and a.id != actor.user_id
        and (channel is None or a.capacity.get(channel, 0) > 0)
    ]
    users = store.agent_users([a.id for a in live])
    found = [
        TransferTarget(u.id, u.username, u.display_name, a.state)
        for a in live
        if (u := users.get(a.id)) is not None and u.active
    ]
    return sorted(found, key=lambda t: t.username)


def get_profile(store: RoutingStore, actor: Actor, user_id: str) -> AgentProfile:
    user = access_agent(store, actor, user_id, "queue:manage")
    profile = store.agent_profile(user.id)
    if profile is None:
        raise NotFound("this user has no agent profile", key="errors.routing.no_agent_profile")
    return profile


def state_log(
    store: RoutingStore, actor: Actor, user_id: str, *, limit: int
) -> list[StateLogEntry]:
    """An agent's latest state and seat changes, newest first."""
    user = access_agent(store, actor, user_id, "agent:supervise")
    return store.state_log(user.id, limit=_limit(limit))


def list_skills(store: RoutingStore, actor: Actor, *, limit: int, after: str | None) -> list[Skill]:
    actor.require("queue:read")
    return store.skills(limit=_limit(limit), after=after)


def list_wrap_up_codes(
    store: RoutingStore, actor: Actor, *, limit: int, after: str | None
) -> list[WrapUpCode]:
    actor.require("queue:read")
    return store.wrap_up_codes(limit=_limit(limit), after=after)


def list_queues(store: RoutingStore, actor: Actor, *, limit: int, after: str | None) -> list[Queue]:
    """Queue configurations by code (keyset: `after` a code)."""
    actor.require("queue:read")
    return store.queues(limit=_limit(limit), after=after)


def get_queue(store: RoutingStore, actor: Actor, queue_id: str) -> Queue:
    actor.require("queue:read")
    queue = store.queue(queue_id)
    if queue is None:
        raise NotFound("no such queue", key="errors.routing.queue_not_found")
    return queue


def queue_stats(
    actor: Actor, queue: Queue, engine: RoutingEngine, today: Counts | None = None
) -> QueueStats | None:
    """Live figures of a queue for holders of `queue:read` over its unit, else None: who waits,
    is offered or connected now (the engine); with `today` (the statistics domain's interval
    rows, ADR 0008) answered, abandoned and service level are the center's today's figures,
    computed where all statistics are, instead of the engine's own routing counters."""
    if not actor.can("queue:read", queue.org_unit_path):
        return None
    live = engine.queue_stats(queue.id)
    if today is None:
        return live
    return dataclasses.replace(
        live,
        answered=today.answered,
        answered_within_target=today.answered_in_sl,
        abandoned=today.abandoned,
        service_level_percent=service_level(today),
    )


def list_entry_points(
    store: RoutingStore, actor: Actor, *, limit: int, after: str | None
) -> list[EntryPoint]:
    """Entry points in creation order (keyset: `after` an id)."""
    actor.require("queue:read")
    return store.entry_points(limit=_limit(limit), after=after)


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_LIMIT}",
            key="errors.limit_range",
            params={"max": MAX_LIMIT},
            field="limit",
        )
    return limit
