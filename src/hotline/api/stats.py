"""HTTP routes of live statistics and the interval table (R-C2, ADR 0008).

The wallboard fetches `/api/stats/queues` and `/api/stats/agents` (each answer carries
`position`, the event stream position it is at least as new as), then follows the event
stream from that position: a `stats.queue` / `stats.agent` event carries the full new row,
which replaces the row with the same id. Rows are computed from the durable record, so any
node answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime, BaseModel

from hotline.api.security import ActorDep, RuntimeDep, SecureRouter
from hotline.domains.stats import queries
from hotline.domains.stats.model import COUNT_FIELDS, Dimension
from hotline.infra.db.stores.routing import SqlRoutingStore
from hotline.infra.db.stores.stats import SqlStatsStore
from hotline.infra.events.stream import latest_id

router = SecureRouter(prefix="/api", tags=["stats"])
PERMISSION = "stats:read"


class FiguresOut(BaseModel):
    offered: int
    answered: int
    abandoned: int


class QueueLiveOut(BaseModel):
    queue_id: str
    code: str
    name: str
    org_unit_id: str
    as_of: dt.datetime
    waiting: int
    oldest_waiting_since: dt.datetime | None
    offering: int
    connected: int
    today: FiguresOut
    last_15: FiguresOut
    last_30: FiguresOut
    service_level_percent: float | None
    service_level_target_percent: float
    service_level_seconds: float
    asa_seconds: float | None
    aht_seconds: float | None
    agents: dict[str, int]


class AgentLiveOut(BaseModel):
    agent_id: str
    username: str
    display_name: str
    org_unit_id: str
    as_of: dt.datetime
    state: str
    reason: str | None
    state_since: dt.datetime | None
    seat: str | None
    handled_today: int
    aht_seconds: float | None
    occupancy_percent: float | None


class QueueLivePage(BaseModel):
    position: int
    items: list[QueueLiveOut]


class AgentLivePage(BaseModel):
    position: int
    items: list[AgentLiveOut]


class IntervalOut(BaseModel):
    kind: Dimension
    key: str
    interval_start: dt.datetime
    offered: int
    answered: int
    answered_in_sl: int
    abandoned: int
    abandoned_short: int
    overflowed: int
    transferred: int
    callbacks: int
    wait_ms: int
    wait_max_ms: int
    handled: int
    handle_ms: int
    wrap_up_ms: int
    abandoned_ivr: int
    closed: int


class IntervalPage(BaseModel):
    interval_minutes: int
    timezone: str
    items: list[IntervalOut]


@router.get("/stats/queues", permission=PERMISSION, response_model=QueueLivePage)
def live_queues(actor: ActorDep, rt: RuntimeDep) -> QueueLivePage:
    """Live rows of the queues you may see, by code."""
    position = latest_id(rt.db)
    with rt.db.read() as conn:
        rows = queries.queue_rows(
            SqlRoutingStore(conn),
            SqlStatsStore(conn, rt.db.stats_config),
            actor,
            rt.db.stats_config,
            rt.clock.now(),
        )
    items = [QueueLiveOut.model_validate(queries.plain(r.row)) for r in rows]
    return QueueLivePage(position=position, items=items)


@router.get("/stats/agents", permission=PERMISSION, response_model=AgentLivePage)
def live_agents(actor: ActorDep, rt: RuntimeDep) -> AgentLivePage:
    """Live rows of the agents you may see, by username."""
    position = latest_id(rt.db)
    with rt.db.read() as conn:
        rows = queries.agent_rows(
            SqlRoutingStore(conn),
            SqlStatsStore(conn, rt.db.stats_config),
            actor,
            rt.db.stats_config,
            rt.clock.now(),
        )
    items = [AgentLiveOut.model_validate(queries.plain(r.row)) for r in rows]
    return AgentLivePage(position=position, items=items)


@router.get("/stats/intervals", permission=PERMISSION, response_model=IntervalPage)
def intervals(
    actor: ActorDep,
    rt: RuntimeDep,
    kind: Annotated[Dimension, Query()] = Dimension.queue,
    start: Annotated[AwareDatetime | None, Query(description="default: today's start")] = None,
    end: Annotated[AwareDatetime | None, Query(description="default: start + 1 day")] = None,
) -> IntervalPage:
    """Interval rows of one dimension whose interval starts in [start, end) (at most 31
    days), by key then start. Rows count contacts by the interval of their arrival."""
    config = rt.db.stats_config
    begin = start.astimezone(dt.UTC) if start else config.day_start(rt.clock.now())
    until = end.astimezone(dt.UTC) if end else begin + dt.timedelta(days=1)
    with rt.db.read() as conn:
        rows = queries.interval_rows(
            SqlRoutingStore(conn),
            SqlStatsStore(conn, config),
            actor,
            kind=kind,
            start=begin,
            end=until,
        )
    items = [
        IntervalOut(
            kind=r.kind,
            key=r.key,
            interval_start=r.interval_start,
            **{f: getattr(r.counts, f) for f in COUNT_FIELDS},
        )
        for r in rows
    ]
    return IntervalPage(
        interval_minutes=config.interval_minutes, timezone=config.timezone, items=items
    )
