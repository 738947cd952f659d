"""HTTP routes of routing: skills, queues, entry points, wrap-up codes and agent profiles
(configuration), one's own agent state (`/api/me/agent`), the team lead's view and controls
of agents, the incident flag and call-up groups (R-A3, R-C2, R-D3, R-D6).

Anything that changes the engine runs through the routing service (503 on a node without the
routing lease). Agent views come from the durable record, so every node can answer them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Body, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from hotline.api.contacts import UNAVAILABLE, Code, ContactOut, Id36, Priority, Strict, contact_out
from hotline.api.security import ActorDep, RuntimeDep, SecureRouter
from hotline.core.context import Actor
from hotline.core.errors import Unauthenticated
from hotline.domains.contacts.queries import work_of
from hotline.domains.routing import actions, queries
from hotline.domains.routing.actions import KEEP
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import (
    MAX_CAPACITY,
    AgentState,
    Channel,
    MaxWaitAction,
    NotReadyReason,
    QueueStats,
    Strategy,
    step_to_dict,
)
from hotline.domains.routing.ports import (
    AgentProfile,
    EntryPoint,
    LogoutRequest,
    Queue,
    Skill,
    StateLogEntry,
    WrapUpCode,
)
from hotline.domains.routing.queries import AgentView
from hotline.domains.stats.queries import queue_today
from hotline.infra.db.database import Tx
from hotline.infra.db.stores.contacts import SqlContactStore
from hotline.infra.db.stores.routing import SqlRoutingStore
from hotline.infra.db.stores.stats import SqlStatsStore
from hotline.infra.routing.service import RoutingUnavailable
from hotline.infra.runtime import Runtime

router = SecureRouter(prefix="/api", tags=["routing"])

Name = Annotated[str, Field(min_length=1, max_length=200)]
Level = Annotated[int, Field(ge=1, le=10)]
WEEK = 7 * 86400.0
Seconds = Annotated[float, Field(ge=0, le=WEEK)]
Seat = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Limit = Annotated[int, Query(ge=1, le=200)]
After = Annotated[str | None, Query(max_length=64)]

AgentReason = Literal[
    "break",
    "meal",
    "training",
    "meeting",
    "coaching",
    "system_fault",
    "personal",
    "offline_work",
    "other",
]


# --- models: configuration -----------------------------------------------------------------
class SkillIn(Strict):
    code: Code
    name: Name


class NamePatch(Strict):
    name: Name | None = None
    active: bool | None = None


class SkillOut(BaseModel):
    id: str
    code: str
    name: str
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SkillPage(BaseModel):
    items: list[SkillOut]
    next_after: str | None


class WrapUpCodeIn(SkillIn):
    pass


class WrapUpCodeOut(SkillOut):
    pass


class WrapUpCodePage(BaseModel):
    items: list[WrapUpCodeOut]
    next_after: str | None


class SkillRequirementIn(Strict):
    skill: Code
    min_level: Level = 1


class LowerSkillLevelIn(Strict):
    """After `after_seconds` in queue, agents at `min_level` (for `skill`, or all) may serve."""

    kind: Literal["lower_skill_level"]
    after_seconds: Seconds
    min_level: Level
    skill: Code | None = None


class AddQueueAgentsIn(Strict):
    """After `after_seconds`, the agents of queue `queue_id` may serve this queue too."""

    kind: Literal["add_queue_agents"]
    after_seconds: Seconds
    queue_id: Id36


class ActivateGroupIn(Strict):
    """After `after_seconds`, call-up group `group` (e.g. standby staff) may serve."""

    kind: Literal["activate_group"]
    after_seconds: Seconds
    group: Code


OverflowStep = Annotated[
    LowerSkillLevelIn | AddQueueAgentsIn | ActivateGroupIn, Field(discriminator="kind")
]


class QueueSettings(Strict):
    skills: Annotated[list[SkillRequirementIn], Field(default_factory=list, max_length=20)]
    channels: Annotated[list[Channel], Field(min_length=1, max_length=6)]
    priority: Priority = 0
    service_level_seconds: Seconds = 20.0
    service_level_percent: Annotated[float, Field(ge=0, le=100)] = 80.0
    max_wait_seconds: Annotated[float, Field(gt=0, le=WEEK)] | None = None
    max_wait_action: MaxWaitAction = MaxWaitAction.remove
    strategy: Strategy = Strategy.longest_idle
    overflow: Annotated[list[OverflowStep], Field(default_factory=list, max_length=10)]
    offer_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 20.0
    wrap_up_seconds: Annotated[float, Field(ge=0, le=86400)] = 60.0
    ageing_per_minute: Annotated[float, Field(ge=0, le=1000)] = 0.0

    def settings(self) -> dict[str, Any]:
        """The configuration as the domain takes it (`QueueConfig.to_dict` shape)."""
        return {
            "skills": [[r.skill, r.min_level] for r in self.skills],
            "channels": sorted({c.value for c in self.channels}),
            "priority": self.priority,
            "service_level_seconds": float(self.service_level_seconds),
            "service_level_percent": float(self.service_level_percent),
            "max_wait_seconds": None
            if self.max_wait_seconds is None
            else float(self.max_wait_seconds),
            "max_wait_action": self.max_wait_action.value,
            "strategy": self.strategy.value,
            "overflow": [
                {**s.model_dump(), "after_seconds": float(s.after_seconds)} for s in self.overflow
            ],
            "offer_timeout_seconds": float(self.offer_timeout_seconds),
            "wrap_up_seconds": float(self.wrap_up_seconds),
            "ageing_per_minute": float(self.ageing_per_minute),
        }


class QueueIn(QueueSettings):
    code: Code
    name: Name
    org_unit_id: Id36


class QueueUpdate(QueueSettings):
    name: Name


class QueueStatsOut(BaseModel):
    waiting: int
    offered: int
    connected: int
    longest_wait_seconds: float
    answered: int
    answered_within_target: int
    abandoned: int
    service_level_percent: float | None
    service_level_target_percent: float


class SkillRequirementOut(BaseModel):
    skill: str
    min_level: int


class QueueOut(BaseModel):
    id: str
    code: str
    name: str
    org_unit_id: str
    skills: list[SkillRequirementOut]
    channels: list[Channel]
    priority: int
    service_level_seconds: float
    service_level_percent: float
    max_wait_seconds: float | None
    max_wait_action: MaxWaitAction
    strategy: Strategy
    overflow: list[dict[str, Any]]
    offer_timeout_seconds: float
    wrap_up_seconds: float
    ageing_per_minute: float
    created_at: dt.datetime
    updated_at: dt.datetime
    stats: QueueStatsOut | None = None


class QueuePage(BaseModel):
    items: list[QueueOut]
    next_after: str | None


class EntryPointIn(Strict):
    channel: Channel
    address: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^\S+$")]
    name: Name
    queue_id: Id36
    priority: Priority = 0
    calendar_id: Id36 | None = Field(None, description="business hours; none: always open")


class EntryPointPatch(Strict):
    name: Name | None = None
    queue_id: Id36 | None = None
    priority: Priority | None = None
    active: bool | None = None
    calendar_id: Id36 | None = Field(
        None, description="business hours; null: always open; absent: unchanged"
    )


class EntryPointOut(BaseModel):
    id: str
    channel: Channel
    address: str
    name: str
    queue_id: str
    priority: int
    active: bool
    calendar_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class EntryPointPage(BaseModel):
    items: list[EntryPointOut]
    next_after: str | None


class ProfileIn(Strict):
    skills: Annotated[dict[Code, Level], Field(default_factory=dict, max_length=50)]
    capacity: dict[Channel, Annotated[int, Field(ge=0, le=MAX_CAPACITY)]]
    group: Code | None = None


class ProfileOut(BaseModel):
    user_id: str
    skills: dict[str, int]
    capacity: dict[str, int]
    group: str | None
    updated_at: dt.datetime


# --- models: agents --------------------------------------------------------------------------
class LogoutRequestOut(BaseModel):
    id: str
    requested_at: dt.datetime
    cause: str
    status: str


class AgentOut(BaseModel):
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
    skills: dict[str, int]
    capacity: dict[str, int]
    logout_request: LogoutRequestOut | None
    work: list[ContactOut]
    server_time: dt.datetime | None = Field(
        default=None, description="the server's clock when this was read (desktop timers)"
    )


class AgentPage(BaseModel):
    items: list[AgentOut]
    next_after: str | None


class LoginAction(Strict):
    action: Literal["login"]
    seat: Seat
    ready: bool = False


class ReadyAction(Strict):
    action: Literal["ready"]


class NotReadyAction(Strict):
    action: Literal["not_ready"]
    reason: AgentReason = "break"


class LogoutAction(Strict):
    action: Literal["logout"]


class SeatAction(Strict):
    action: Literal["seat"]
    seat: Seat


MeAction = Annotated[
    LoginAction | ReadyAction | NotReadyAction | LogoutAction | SeatAction,
    Field(discriminator="action"),
]


class ForceStateIn(Strict):
    state: Literal["ready", "not_ready", "logged_out"]
    reason: NotReadyReason | None = None


class LogoutDecisionIn(Strict):
    approve: bool


class StateLogOut(BaseModel):
    at: dt.datetime
    kind: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    seat: str | None
    from_seat: str | None
    approved_by: str | None


class IncidentIn(Strict):
    active: bool
    note: Annotated[str, Field(max_length=500)] | None = None


class GroupIn(Strict):
    group: Code
    active: bool


class RoutingOut(BaseModel):
    routing_here: bool = Field(description="whether this node holds the routing lease")
    incident: bool
    incident_note: str | None
    active_groups: list[str]


# --- renderers -------------------------------------------------------------------------------
def _skill_out(s: Skill | WrapUpCode) -> dict[str, Any]:
    return {
        "id": s.id,
        "code": s.code,
        "name": s.name,
        "active": s.active,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


def _queue_out(q: Queue, stats: QueueStats | None = None) -> QueueOut:
    c = q.config
    return QueueOut(
        id=q.id,
        code=q.code,
        name=q.name,
        org_unit_id=q.org_unit_id,
        skills=[SkillRequirementOut(skill=r.skill, min_level=r.min_level) for r in c.skills],
        channels=sorted(c.channels),
        priority=c.priority,
        service_level_seconds=c.service_level_seconds,
        service_level_percent=c.service_level_percent,
        max_wait_seconds=c.max_wait_seconds,
        max_wait_action=c.max_wait_action,
        strategy=c.strategy,
        overflow=[step_to_dict(s) for s in c.overflow],
        offer_timeout_seconds=c.offer_timeout_seconds,
        wrap_up_seconds=c.wrap_up_seconds,
        ageing_per_minute=c.ageing_per_minute,
        created_at=q.created_at,
        updated_at=q.updated_at,
        stats=None
        if stats is None
        else QueueStatsOut(
            waiting=stats.waiting,
            offered=stats.offered,
            connected=stats.connected,
            longest_wait_seconds=stats.longest_wait_seconds,
            answered=stats.answered,
            answered_within_target=stats.answered_within_target,
            abandoned=stats.abandoned,
            service_level_percent=stats.service_level_percent,
            service_level_target_percent=stats.service_level_target_percent,
        ),
    )


def _entry_out(e: EntryPoint) -> EntryPointOut:
    return EntryPointOut(
        id=e.id,
        channel=e.channel,
        address=e.address,
        name=e.name,
        queue_id=e.queue_id,
        priority=e.priority,
        active=e.active,
        calendar_id=e.calendar_id,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def _profile_out(p: AgentProfile) -> ProfileOut:
    return ProfileOut(
        user_id=p.user_id,
        skills=dict(p.skills),
        capacity={c.value: n for c, n in p.capacity.items()},
        group=p.group,
        updated_at=p.updated_at,
    )


def _logout_out(r: LogoutRequest | None) -> LogoutRequestOut | None:
    if r is None:
        return None
    return LogoutRequestOut(id=r.id, requested_at=r.requested_at, cause=r.cause, status=r.status)


def _agent_out(v: AgentView) -> AgentOut:
    return AgentOut(
        user_id=v.user_id,
        username=v.username,
        display_name=v.display_name,
        org_unit_id=v.org_unit_id,
        has_profile=v.has_profile,
        state=v.state,
        reason=v.reason,
        state_since=v.state_since,
        seat=v.seat,
        group=v.group,
        pending_reason=v.pending_reason,
        wrap_up_until=v.wrap_up_until,
        idle_since=v.idle_since,
        skills=dict(v.skills),
        capacity={c.value: n for c, n in v.capacity.items()},
        logout_request=_logout_out(v.logout_request),
        work=[contact_out(c) for c in v.work],
    )


def _page(items: list[Any], limit: int, key: str) -> tuple[list[Any], str | None]:
    more = len(items) > limit
    items = items[:limit]
    return items, (getattr(items[-1], key) if more else None)


# --- skills ----------------------------------------------------------------------------------
@router.get("/skills", permission="queue:read", response_model=SkillPage)
def list_skills(
    actor: ActorDep, rt: RuntimeDep, limit: Limit = 100, after: After = None
) -> SkillPage:
    """Skills by code; pass `next_after` back as `after`."""
    with rt.db.read() as conn:
        rows = queries.list_skills(SqlRoutingStore(conn), actor, limit=limit + 1, after=after)
    rows, nxt = _page(rows, limit, "code")
    return SkillPage(items=[SkillOut(**_skill_out(s)) for s in rows], next_after=nxt)


@router.post("/skills", permission="queue:manage", response_model=SkillOut, status_code=201)
def create_skill(body: SkillIn, actor: ActorDep, rt: RuntimeDep) -> SkillOut:
    """Add a skill (global: needs `queue:manage` over the whole organisation)."""
    with rt.db.transaction(actor=actor) as tx:
        return SkillOut(**_skill_out(actions.create_skill(tx, code=body.code, name=body.name)))


@router.patch("/skills/{skill_id}", permission="queue:manage", response_model=SkillOut)
def update_skill(skill_id: str, body: NamePatch, actor: ActorDep, rt: RuntimeDep) -> SkillOut:
    """Rename or (de)activate a skill; its code never changes."""
    with rt.db.transaction(actor=actor) as tx:
        skill = actions.update_skill(tx, skill_id=skill_id, name=body.name, active=body.active)
    return SkillOut(**_skill_out(skill))


# --- wrap-up codes ---------------------------------------------------------------------------
@router.get("/wrap-up-codes", permission="queue:read", response_model=WrapUpCodePage)
def list_wrap_up_codes(
    actor: ActorDep, rt: RuntimeDep, limit: Limit = 100, after: After = None
) -> WrapUpCodePage:
    """Wrap-up codes by code; pass `next_after` back as `after`."""
    with rt.db.read() as conn:
        rows = queries.list_wrap_up_codes(
            SqlRoutingStore(conn), actor, limit=limit + 1, after=after
        )
    rows, nxt = _page(rows, limit, "code")
    return WrapUpCodePage(items=[WrapUpCodeOut(**_skill_out(c)) for c in rows], next_after=nxt)


@router.post(
    "/wrap-up-codes", permission="queue:manage", response_model=WrapUpCodeOut, status_code=201
)
def create_wrap_up_code(body: WrapUpCodeIn, actor: ActorDep, rt: RuntimeDep) -> WrapUpCodeOut:
    with rt.db.transaction(actor=actor) as tx:
        item = actions.create_wrap_up_code(tx, code=body.code, name=body.name)
    return WrapUpCodeOut(**_skill_out(item))


@router.patch("/wrap-up-codes/{code_id}", permission="queue:manage", response_model=WrapUpCodeOut)
def update_wrap_up_code(
    code_id: str, body: NamePatch, actor: ActorDep, rt: RuntimeDep
) -> WrapUpCodeOut:
    with rt.db.transaction(actor=actor) as tx:
        item = actions.update_wrap_up_code(tx, code_id=code_id, name=body.name, active=body.active)
    return WrapUpCodeOut(**_skill_out(item))


# --- queues ----------------------------------------------------------------------------------
@router.get("/queues", permission="queue:read", response_model=QueuePage)
def list_queues(
    actor: ActorDep, rt: RuntimeDep, limit: Limit = 100, after: After = None
) -> QueuePage:
    """Queue configurations by code; pass `next_after` back as `after`."""
    with rt.db.read() as conn:
        rows = queries.list_queues(SqlRoutingStore(conn), actor, limit=limit + 1, after=after)
    rows, nxt = _page(rows, limit, "code")
    return QueuePage(items=[_queue_out(q) for q in rows], next_after=nxt)


@router.get("/queues/{queue_id}", permission="queue:read", response_model=QueueOut)
def get_queue(queue_id: str, actor: ActorDep, rt: RuntimeDep) -> QueueOut:
    """A queue's configuration, with its live figures for `queue:read` over its unit (none
    on a node that does not route)."""
    with rt.db.read() as conn:
        queue = queries.get_queue(SqlRoutingStore(conn), actor, queue_id)
        # answered, abandoned and service level: today's, from the statistics (ADR 0008)
        config = rt.db.stats_config
        today = queue_today(SqlStatsStore(conn, config), config, queue.id, rt.clock.now())
    try:
        stats = rt.routing.read(lambda engine: queries.queue_stats(actor, queue, engine, today))
    except RoutingUnavailable:
        stats = None
    return _queue_out(queue, stats)


@router.post(
    "/queues",
    permission="queue:manage",
    response_model=QueueOut,
    status_code=201,
    responses=UNAVAILABLE,
)
def create_queue(body: QueueIn, actor: ActorDep, rt: RuntimeDep) -> QueueOut:
    """Create a queue in a unit you manage; it routes at once."""
    queue = rt.routing.execute(
        actor,
        lambda tx, engine: actions.create_queue(
            tx,
            engine,
            code=body.code,
            name=body.name,
            org_unit_id=body.org_unit_id,
            settings=body.settings(),
        ),
    )
    return _queue_out(queue)


@router.put(
    "/queues/{queue_id}", permission="queue:manage", response_model=QueueOut, responses=UNAVAILABLE
)
def update_queue(queue_id: str, body: QueueUpdate, actor: ActorDep, rt: RuntimeDep) -> QueueOut:
    """Replace a queue's name and configuration; waiting contacts keep their place."""
    queue = rt.routing.execute(
        actor,
        lambda tx, engine: actions.update_queue(
            tx, engine, queue_id=queue_id, name=body.name, settings=body.settings()
        ),
    )
    return _queue_out(queue)


# --- entry points ----------------------------------------------------------------------------
@router.get("/entry-points", permission="queue:read", response_model=EntryPointPage)
def list_entry_points(
    actor: ActorDep, rt: RuntimeDep, limit: Limit = 100, after: After = None
) -> EntryPointPage:
    """Entry points in creation order; pass `next_after` back as `after`."""
    with rt.db.read() as conn:
        rows = queries.list_entry_points(SqlRoutingStore(conn), actor, limit=limit + 1, after=after)
    rows, nxt = _page(rows, limit, "id")
    return EntryPointPage(items=[_entry_out(e) for e in rows], next_after=nxt)


@router.post(
    "/entry-points", permission="queue:manage", response_model=EntryPointOut, status_code=201
)
def create_entry_point(body: EntryPointIn, actor: ActorDep, rt: RuntimeDep) -> EntryPointOut:
    """Route contacts arriving at an address (a hotline number, a chat widget) to a queue."""
    with rt.db.transaction(actor=actor) as tx:
        entry = actions.create_entry_point(
            tx,
            channel=body.channel,
            address=body.address,
            name=body.name,
            queue_id=body.queue_id,
            priority=body.priority,
            calendar_id=body.calendar_id,
        )
    return _entry_out(entry)


@router.patch(
    "/entry-points/{entry_point_id}", permission="queue:manage", response_model=EntryPointOut
)
def update_entry_point(
    entry_point_id: str, body: EntryPointPatch, actor: ActorDep, rt: RuntimeDep
) -> EntryPointOut:
    with rt.db.transaction(actor=actor) as tx:
        entry = actions.update_entry_point(
            tx,
            entry_point_id=entry_point_id,
            name=body.name,
            queue_id=body.queue_id,
            priority=body.priority,
            active=body.active,
            calendar_id=body.calendar_id if "calendar_id" in body.model_fields_set else KEEP,
        )
    return _entry_out(entry)


# --- agent profiles --------------------------------------------------------------------------
@router.get("/agents/{user_id}/profile", permission="queue:manage", response_model=ProfileOut)
def get_profile(user_id: str, actor: ActorDep, rt: RuntimeDep) -> ProfileOut:
    with rt.db.read() as conn:
        return _profile_out(queries.get_profile(SqlRoutingStore(conn), actor, user_id))


@router.put(
    "/agents/{user_id}/profile",
    permission="queue:manage",
    response_model=ProfileOut,
    responses=UNAVAILABLE,
)
def set_profile(user_id: str, body: ProfileIn, actor: ActorDep, rt: RuntimeDep) -> ProfileOut:
    """Set a user's skills (levels 1–10), capacity per channel and call-up group. A logged-in
    agent gets new skills and capacity at once, a new group at its next login."""
    profile = rt.routing.execute(
        actor,
        lambda tx, engine: actions.set_agent_profile(
            tx,
            engine,
            user_id=user_id,
            skills=body.skills,
            capacity={c.value: n for c, n in body.capacity.items()},
            group=body.group,
        ),
    )
    return _profile_out(profile)


# --- my agent state --------------------------------------------------------------------------
def _agent_view(rt: Runtime, actor: Actor, user_id: str, permission: str) -> AgentOut:
    """An agent from the durable record (any node can answer), with its work, masked."""
    with rt.db.read() as conn:
        store = SqlRoutingStore(conn)
        if permission == "agent:self":
            actor.require(permission)
            card = store.agent_card(actor.user_id or "")  # one read: the desktop polls this
            if card is None:
                raise Unauthenticated("account no longer exists")
            user, profile, state, logout = card
        else:
            user = queries.access_agent(store, actor, user_id, permission)
            profile = store.agent_profile(user.id)
            state = store.agent_state(user.id)
            logout = store.pending_logout(user.id)
        view = queries.agent_view(
            user,
            profile,
            state,
            logout,
            work_of(SqlContactStore(conn), user.id, rt.cipher.decrypt),
        )
    return _agent_out(view).model_copy(update={"server_time": rt.clock.now()})


@router.get("/me/agent", permission="agent:self", response_model=AgentOut)
async def my_agent(actor: ActorDep, rt: RuntimeDep) -> AgentOut:
    """My agent state, skills and capacity, pending logout request, and my work: offers (with
    their deadlines), connected contacts, contacts awaiting my wrap-up code."""
    # Async route, reads in one worker thread (a sync route validates its answer in another).
    return await run_in_threadpool(_agent_view, rt, actor, actor.user_id or "", "agent:self")


@router.post(
    "/me/agent",
    permission="agent:self",
    response_model=AgentOut,
    responses={
        **UNAVAILABLE,
        202: {"model": AgentOut, "description": "logout needs a team lead's approval: requested"},
    },
)
def change_my_state(
    body: Annotated[MeAction, Body()], actor: ActorDep, rt: RuntimeDep, response: Response
) -> AgentOut:
    """Log in (at a seat), ready, not ready (with a reason), change seat, log out. While
    contacts wait in my queues or the incident flag is set, logging out files a request for a
    team lead to approve: 202 with `logout_request`."""

    def step(tx: Tx, engine: RoutingEngine) -> bool:
        if isinstance(body, LoginAction):
            actions.login_agent(tx, engine, seat=body.seat, ready=body.ready)
        elif isinstance(body, ReadyAction):
            actions.set_ready(tx, engine)
        elif isinstance(body, NotReadyAction):
            actions.set_not_ready(tx, engine, reason=NotReadyReason(body.reason))
        elif isinstance(body, SeatAction):
            actions.change_seat(tx, engine, seat=body.seat)
        else:
            return actions.request_logout(tx, engine) is not None
        return False

    if rt.routing.execute(actor, step):
        response.status_code = 202
    return _agent_view(rt, actor, actor.user_id or "", "agent:self")


class TransferTargetOut(BaseModel):
    user_id: str
    username: str
    display_name: str
    state: AgentState


@router.get(
    "/me/transfer-targets", permission="contact:handle", response_model=list[TransferTargetOut]
)
def transfer_targets(
    actor: ActorDep, rt: RuntimeDep, channel: Channel | None = None
) -> list[TransferTargetOut]:
    """Logged-in agents you can transfer a contact to (with `channel`: who takes it)."""
    with rt.db.read() as conn:
        found = queries.transfer_targets(SqlRoutingStore(conn), actor, channel=channel)
    return [
        TransferTargetOut(
            user_id=t.user_id, username=t.username, display_name=t.display_name, state=t.state
        )
        for t in found
    ]


# --- team leads ------------------------------------------------------------------------------
@router.get("/agents", permission="agent:supervise", response_model=AgentPage)
def list_agents(
    actor: ActorDep, rt: RuntimeDep, limit: Limit = 100, after: After = None
) -> AgentPage:
    """Agents in your scope with their states, by username; `next_after` → `after`."""
    with rt.db.read() as conn:
        rows = queries.list_agents(SqlRoutingStore(conn), actor, limit=limit + 1, after=after)
    rows, nxt = _page(rows, limit, "username")
    return AgentPage(items=[_agent_out(v) for v in rows], next_after=nxt)


@router.get(
    "/agents/{user_id}/state-log", permission="agent:supervise", response_model=list[StateLogOut]
)
def state_log(
    user_id: str, actor: ActorDep, rt: RuntimeDep, limit: Limit = 100
) -> list[StateLogOut]:
    """An agent's latest state and seat changes, newest first (R-D6)."""
    with rt.db.read() as conn:
        entries: list[StateLogEntry] = queries.state_log(
            SqlRoutingStore(conn), actor, user_id, limit=limit
        )
    return [
        StateLogOut(
            at=e.at,
            kind=e.kind,
            from_state=e.from_state,
            to_state=e.to_state,
            reason=e.reason,
            seat=e.seat,
            from_seat=e.from_seat,
            approved_by=e.approved_by,
        )
        for e in entries
    ]


@router.post(
    "/agents/{user_id}/state",
    permission="agent:supervise",
    response_model=AgentOut,
    responses=UNAVAILABLE,
)
def force_state(user_id: str, body: ForceStateIn, actor: ActorDep, rt: RuntimeDep) -> AgentOut:
    """Set an agent ready, not ready, or log it out (an approved logout), audited."""
    rt.routing.execute(
        actor,
        lambda tx, engine: actions.force_state(
            tx, engine, user_id=user_id, state=AgentState(body.state), reason=body.reason
        ),
    )
    return _agent_view(rt, actor, user_id, "agent:supervise")


@router.post(
    "/agents/{user_id}/logout-approval",
    permission="agent:supervise",
    response_model=AgentOut,
    responses=UNAVAILABLE,
)
def decide_logout(
    user_id: str, body: LogoutDecisionIn, actor: ActorDep, rt: RuntimeDep
) -> AgentOut:
    """Approve (the agent is logged out now) or reject an agent's pending logout request."""
    rt.routing.execute(
        actor,
        lambda tx, engine: actions.decide_logout(tx, engine, user_id=user_id, approve=body.approve),
    )
    return _agent_view(rt, actor, user_id, "agent:supervise")


# --- engine-wide flags -----------------------------------------------------------------------
def _routing_out(rt: Runtime) -> RoutingOut:
    with rt.db.read() as conn:
        store = SqlRoutingStore(conn)
        incident = store.flag(actions.FLAG_INCIDENT) or {}
        groups = store.flag(actions.FLAG_GROUPS) or []
    return RoutingOut(
        routing_here=rt.routing.is_leader,
        incident=bool(incident.get("active", False)),
        incident_note=incident.get("note"),
        active_groups=list(groups),
    )


@router.get("/routing", permission="queue:read", response_model=RoutingOut)
def routing_status(rt: RuntimeDep) -> RoutingOut:
    """The incident flag, the active call-up groups, and whether this node routes."""
    return _routing_out(rt)


@router.post(
    "/routing/incident",
    permission="agent:supervise",
    response_model=RoutingOut,
    responses=UNAVAILABLE,
)
def set_incident(body: IncidentIn, actor: ActorDep, rt: RuntimeDep) -> RoutingOut:
    """Raise or clear the incident flag (whole organisation): while raised, agents' logouts
    need a team lead's approval (R-D6)."""
    rt.routing.execute(
        actor,
        lambda tx, engine: actions.set_incident(tx, engine, active=body.active, note=body.note),
    )
    return _routing_out(rt)


@router.post(
    "/routing/groups",
    permission="agent:supervise",
    response_model=RoutingOut,
    responses=UNAVAILABLE,
)
def set_group(body: GroupIn, actor: ActorDep, rt: RuntimeDep) -> RoutingOut:
    """Call up (or stand down) a staff group for every queue (R-D3)."""
    rt.routing.execute(
        actor,
        lambda tx, engine: actions.set_group_active(
            tx, engine, group=body.group, active=body.active
        ),
    )
    return _routing_out(rt)
