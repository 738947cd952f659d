"""Reads of statistics: live queue and agent rows, interval rows. Each list is in a fixed
order (queues by code, agents by username, interval rows by key then start) and limited to
the actor's `stats:read` scope.

"Today" is the center's day (`StatsConfig.timezone`, Asia/Shanghai by default): today's
figures sum the interval rows from local midnight; "last 15/30 minutes" sum the one-minute
queue rows of the current minute and the 14 (29) before it. Both count contacts by arrival
(ADR 0008).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from hotline.core.context import Actor
from hotline.core.errors import InvalidInput
from hotline.domains.routing.model import Agent, AgentState
from hotline.domains.routing.ports import AgentProfile, AgentUser, EntryPoint, RoutingStore
from hotline.domains.stats.model import (
    AGENT_STATES,
    AgentLive,
    Counts,
    Dimension,
    Figures,
    QueueLive,
    StatsConfig,
    aht_seconds,
    asa_seconds,
    minute_of,
    occupancy,
    qualifies,
    service_level,
)
from hotline.domains.stats.ports import IntervalRow, QueueLoad, StatsStore

PERMISSION = "stats:read"
MAX_DAYS = 31
_PAGE = 500


@dataclass(frozen=True, slots=True)
class Scoped:
    """A live row with its id and the unit path that decides who may see it."""

    id: str
    org_unit_path: str
    row: QueueLive | AgentLive


def plain(row: QueueLive | AgentLive) -> dict[str, Any]:
    """A live row as JSON-compatible data (the API body and the event payload)."""

    def conv(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            # As the HTTP API renders it (UTC as "Z"), so fetched and streamed rows compare.
            return value.isoformat().replace("+00:00", "Z")
        if isinstance(value, dict):
            return {k: conv(v) for k, v in value.items()}
        return value

    return {k: conv(v) for k, v in dataclasses.asdict(row).items()}


def queue_rows(
    routing: RoutingStore,
    stats: StatsStore,
    actor: Actor,
    config: StatsConfig,
    now: dt.datetime,
    *,
    queue_ids: Collection[str] | None = None,
) -> list[Scoped]:
    """Live rows of the queues in the actor's `stats:read` scope, by code. Five reads whatever
    the number of queues: queues, today's sums, the last 30 one-minute rows, loads, agents."""
    actor.require(PERMISSION)
    queues = [
        q
        for q in routing.all_queues()
        if actor.can(PERMISSION, q.org_unit_path) and (queue_ids is None or q.id in queue_ids)
    ]
    queues.sort(key=lambda q: q.code)
    if not queues:
        return []
    ids = [q.id for q in queues]
    as_of = minute_of(now)
    today = stats.sums(Dimension.queue, since=config.day_start(now), keys=ids)
    recent = stats.interval_rows(
        Dimension.queue_minute,
        start=as_of - dt.timedelta(minutes=29),
        end=as_of + dt.timedelta(minutes=1),
        keys=ids,
    )
    last15: dict[str, Counts] = {}
    last30: dict[str, Counts] = {}
    for r in recent:
        last30.setdefault(r.key, Counts()).add(r.counts)
        if r.interval_start >= as_of - dt.timedelta(minutes=14):
            last15.setdefault(r.key, Counts()).add(r.counts)
    loads = stats.queue_loads()
    staffed = [a for a in routing.agent_states() if a.state is not AgentState.logged_out]
    out: list[Scoped] = []
    for q in queues:
        c = q.config
        reqs = [(r.skill, r.min_level) for r in c.skills]
        chans = [ch.value for ch in c.channels]
        agents = dict.fromkeys(AGENT_STATES, 0)
        for a in staffed:
            cap = {ch.value: n for ch, n in a.capacity.items()}
            if qualifies(a.skills, cap, reqs, chans):
                agents[a.state.value] += 1
        load = loads.get(q.id, QueueLoad())
        day = today.get(q.id, Counts())
        row = QueueLive(
            queue_id=q.id,
            code=q.code,
            name=q.name,
            org_unit_id=q.org_unit_id,
            as_of=as_of,
            waiting=load.waiting,
            oldest_waiting_since=load.oldest_waiting_since,
            offering=load.offering,
            connected=load.connected,
            today=Figures.of(day),
            last_15=Figures.of(last15.get(q.id, Counts())),
            last_30=Figures.of(last30.get(q.id, Counts())),
            service_level_percent=service_level(day),
            service_level_target_percent=c.service_level_percent,
            service_level_seconds=c.service_level_seconds,
            asa_seconds=asa_seconds(day),
            aht_seconds=aht_seconds(day),
            agents=agents,
        )
        out.append(Scoped(q.id, q.org_unit_path, row))
    return out


def queue_today(stats: StatsStore, config: StatsConfig, queue_id: str, now: dt.datetime) -> Counts:
    """A queue's figures for the center's day so far (one grouped read)."""
    return stats.sums(Dimension.queue, since=config.day_start(now), keys=[queue_id]).get(
        queue_id, Counts()
    )


def agent_rows(
    routing: RoutingStore,
    stats: StatsStore,
    actor: Actor,
    config: StatsConfig,
    now: dt.datetime,
    *,
    agent_ids: Collection[str] | None = None,
) -> list[Scoped]:
    """Live rows of the agents (users with an agent profile or state) in the actor's
    `stats:read` scope, by username."""
    actor.require(PERMISSION)
    people = [
        p
        for p in _agents(routing, actor.scopes_for(PERMISSION))
        if agent_ids is None or p[0].id in agent_ids
    ]
    if not people:
        return []
    as_of = minute_of(now)
    start = config.day_start(now)
    ids = [u.id for u, _, _ in people]
    today = stats.sums(Dimension.agent, since=start, keys=ids)
    changes = stats.state_changes(start, ids)
    out: list[Scoped] = []
    for user, _profile, live in people:
        state = live.state.value if live else AgentState.logged_out.value
        day = today.get(user.id, Counts())
        row = AgentLive(
            agent_id=user.id,
            username=user.username,
            display_name=user.display_name,
            org_unit_id=user.org_unit_id,
            as_of=as_of,
            state=state,
            reason=None if live is None or live.reason is None else live.reason.value,
            state_since=live.state_since if live else None,
            seat=live.seat if live else None,
            handled_today=day.handled,
            aht_seconds=aht_seconds(day),
            occupancy_percent=occupancy(
                day_start=start, as_of=as_of, state_now=state, changes=changes.get(user.id, [])
            ),
        )
        out.append(Scoped(user.id, user.org_unit_path, row))
    return out


def interval_rows(
    routing: RoutingStore,
    stats: StatsStore,
    actor: Actor,
    *,
    kind: Dimension,
    start: dt.datetime,
    end: dt.datetime,
) -> list[IntervalRow]:
    """Interval rows of one dimension whose interval starts in [start, end), by key then
    start. Queue and agent rows need `stats:read` over the queue's (agent's) unit, entry point
    rows over their queue's unit; caller areas span queues, so they need it organisation-wide.
    """
    actor.require(PERMISSION)
    if end <= start or end - start > dt.timedelta(days=MAX_DAYS):
        raise InvalidInput(
            f"the period must be positive and at most {MAX_DAYS} days",
            key="errors.stats.period",
            params={"max": MAX_DAYS},
            field="end",
        )
    keys: list[str] | None
    if kind in (Dimension.queue, Dimension.queue_minute):
        keys = [q.id for q in routing.all_queues() if actor.can(PERMISSION, q.org_unit_path)]
    elif kind is Dimension.entry_point:
        paths = {q.id: q.org_unit_path for q in routing.all_queues()}
        keys = [
            e.id for e in _all_entry_points(routing) if actor.can(PERMISSION, paths[e.queue_id])
        ]
    elif kind is Dimension.agent:
        keys = [u.id for u, _, _ in _agents(routing, actor.scopes_for(PERMISSION))]
    else:
        actor.require_root(PERMISSION)
        keys = None
    return stats.interval_rows(kind, start=start, end=end, keys=keys)


def _agents(
    routing: RoutingStore, scopes: list[str]
) -> list[tuple[AgentUser, AgentProfile | None, Agent | None]]:
    out: list[tuple[AgentUser, AgentProfile | None, Agent | None]] = []
    after: str | None = None
    while True:
        page = routing.agents(scopes=scopes, limit=_PAGE, after=after)
        out.extend(page)
        if len(page) < _PAGE:
            return out
        after = page[-1][0].username


def _all_entry_points(routing: RoutingStore) -> list[EntryPoint]:
    out: list[EntryPoint] = []
    after: str | None = None
    while True:
        page = routing.entry_points(limit=_PAGE, after=after)
        out.extend(page)
        if len(page) < _PAGE:
            return out
        after = page[-1].id
