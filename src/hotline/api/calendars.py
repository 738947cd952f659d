"""HTTP routes of business calendars (营业时间): list, create, replace, and whether one is open
at a given time. Entry points refer to a calendar (`calendar_id` in /api/entry-points)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import Query
from pydantic import AwareDatetime, BaseModel, Field

from hotline.api.contacts import UNAVAILABLE, Code, Strict
from hotline.api.routing import Name
from hotline.api.security import ActorDep, RuntimeDep, SecureRouter
from hotline.domains.calendars import actions, queries
from hotline.domains.calendars.model import (
    MAX_OVERRIDES,
    MAX_SPANS_PER_DAY,
    NOTE_MAX,
    Calendar,
    hours_to_dict,
)
from hotline.infra.db.stores.calendars import SqlCalendarStore

router = SecureRouter(prefix="/api", tags=["calendars"])

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Time = Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", examples=["08:30"])]
SpanIn = Annotated[list[Time], Field(min_length=2, max_length=2, description="[start, end)")]
DaySpans = Annotated[list[SpanIn], Field(max_length=MAX_SPANS_PER_DAY)]
TimeZone = Annotated[str, Field(min_length=1, max_length=64, examples=["Asia/Shanghai"])]


class OverrideIn(Strict):
    date: dt.date
    hours: DaySpans = Field(default_factory=list, description="none: closed all day")
    note: Annotated[str, Field(max_length=NOTE_MAX)] = ""


class CalendarUpdate(Strict):
    name: Name
    timezone: TimeZone = "Asia/Shanghai"
    weekly: dict[Weekday, DaySpans] = Field(
        description="opening spans per weekday; a missing day is closed"
    )
    overrides: Annotated[list[OverrideIn], Field(default_factory=list, max_length=MAX_OVERRIDES)]


class CalendarIn(CalendarUpdate):
    code: Code


class OverrideOut(BaseModel):
    date: dt.date
    hours: list[list[str]]
    note: str


class CalendarOut(BaseModel):
    id: str
    code: str
    name: str
    timezone: str
    weekly: dict[str, list[list[str]]]
    overrides: list[OverrideOut]
    created_at: dt.datetime
    updated_at: dt.datetime
    open_now: bool = Field(description="open at the time of the answer")
    next_change: dt.datetime | None = Field(description="when it opens or closes next")


class CalendarPage(BaseModel):
    items: list[CalendarOut]
    next_after: str | None


class OpenStatusOut(BaseModel):
    at: dt.datetime
    open: bool
    next_change: dt.datetime | None = Field(description="when it opens or closes next")


def _out(cal: Calendar, now: dt.datetime) -> CalendarOut:
    plain = hours_to_dict(cal.hours)
    status = queries.open_status(cal, now)
    return CalendarOut(
        open_now=status.open,
        next_change=status.next_change,
        id=cal.id,
        code=cal.code,
        name=cal.name,
        timezone=plain["timezone"],
        weekly=plain["weekly"],
        overrides=[OverrideOut(**o) for o in plain["overrides"]],
        created_at=cal.created_at,
        updated_at=cal.updated_at,
    )


def _weekly(body: CalendarUpdate) -> dict[str, list[list[str]]]:
    return {str(day): spans for day, spans in body.weekly.items()}


def _overrides(body: CalendarUpdate) -> list[dict[str, object]]:
    return [o.model_dump() for o in body.overrides]


@router.get("/calendars", permission="queue:read", response_model=CalendarPage)
def list_calendars(
    actor: ActorDep,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> CalendarPage:
    """Business calendars by code; pass `next_after` back as `after`."""
    with rt.db.read() as conn:
        rows = queries.list_calendars(SqlCalendarStore(conn), actor, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    return CalendarPage(
        items=[_out(c, rt.clock.now()) for c in rows], next_after=rows[-1].code if more else None
    )


@router.post("/calendars", permission="queue:manage", response_model=CalendarOut, status_code=201)
def create_calendar(body: CalendarIn, actor: ActorDep, rt: RuntimeDep) -> CalendarOut:
    """Add a calendar (global configuration: `queue:manage` over the whole organisation)."""
    with rt.db.transaction(actor=actor) as tx:
        cal = actions.create_calendar(
            tx,
            code=body.code,
            name=body.name,
            timezone=body.timezone,
            weekly=_weekly(body),
            overrides=_overrides(body),
        )
    return _out(cal, rt.clock.now())


@router.get("/calendars/{calendar_id}", permission="queue:read", response_model=CalendarOut)
def get_calendar(calendar_id: str, actor: ActorDep, rt: RuntimeDep) -> CalendarOut:
    with rt.db.read() as conn:
        cal = queries.get_calendar(SqlCalendarStore(conn), actor, calendar_id)
    return _out(cal, rt.clock.now())


@router.put(
    "/calendars/{calendar_id}",
    permission="queue:manage",
    response_model=CalendarOut,
    responses=UNAVAILABLE,
)
def update_calendar(
    calendar_id: str, body: CalendarUpdate, actor: ActorDep, rt: RuntimeDep
) -> CalendarOut:
    """Replace a calendar's name and hours (its code stays); the next arrival at its entry
    points sees the new hours."""
    # On the routing leader (a standby forwards it, ADR 0007), which keeps arrivals' parsed
    # calendars in memory: the change and the memory's update must happen in one process.
    cal = rt.routing.execute(
        actor,
        lambda tx, _engine: actions.update_calendar(
            tx,
            calendar_id=calendar_id,
            name=body.name,
            timezone=body.timezone,
            weekly=_weekly(body),
            overrides=_overrides(body),
        ),
    )
    return _out(cal, rt.clock.now())


@router.get(
    "/calendars/{calendar_id}/status", permission="queue:read", response_model=OpenStatusOut
)
def calendar_status(
    calendar_id: str,
    actor: ActorDep,
    rt: RuntimeDep,
    at: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
) -> OpenStatusOut:
    """Whether the calendar is open at `at` (default now) and when that changes next."""
    with rt.db.read() as conn:
        cal = queries.get_calendar(SqlCalendarStore(conn), actor, calendar_id)
    s = queries.open_status(cal, (at or rt.clock.now()).astimezone(dt.UTC))
    return OpenStatusOut(at=s.at, open=s.open, next_change=s.next_change)
