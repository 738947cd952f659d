"""Business calendar actions: create and change (global configuration, like skills)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from hotline.core.errors import Conflict, NotFound
from hotline.core.ids import new_id
from hotline.domains.calendars.events import calendar_event
from hotline.domains.calendars.model import Calendar, hours_to_dict, parse_hours
from hotline.domains.calendars.ports import CalendarsTx
from hotline.domains.routing.actions import check_code, check_name


def create_calendar(
    tx: CalendarsTx,
    *,
    code: str,
    name: str,
    timezone: str,
    weekly: Mapping[str, Sequence[Sequence[str]]],
    overrides: Sequence[Mapping[str, Any]] = (),
) -> Calendar:
    """Add a calendar (queue:manage over the whole organisation)."""
    tx.actor.require_root("queue:manage")
    code, name = check_code(code), check_name(name)
    hours = parse_hours(timezone=timezone, weekly=weekly, overrides=overrides)
    if tx.calendars.calendar_by_code(code) is not None:
        raise Conflict(f"calendar {code!r} exists", key="errors.calendar.exists", field="code")
    now = tx.clock.now()
    cal = Calendar(new_id(), code, name, hours, now, now)
    tx.calendars.insert_calendar(cal)
    after = {"code": code, "name": name, **hours_to_dict(hours)}
    tx.audit("calendar.create", "calendar", cal.id, after=after)
    tx.emit(calendar_event("created", cal.id, {"code": code, "name": name}))
    return cal


def update_calendar(
    tx: CalendarsTx,
    *,
    calendar_id: str,
    name: str,
    timezone: str,
    weekly: Mapping[str, Sequence[Sequence[str]]],
    overrides: Sequence[Mapping[str, Any]] = (),
) -> Calendar:
    """Replace a calendar's name and hours (the code never changes). Takes effect for the
    next arrival at its entry points (run it on the routing leader, whose memory of the
    calendar it clears)."""
    tx.actor.require_root("queue:manage")
    cal = tx.calendars.calendar(calendar_id)
    if cal is None:
        raise NotFound("no such calendar", key="errors.calendar.not_found")
    hours = parse_hours(timezone=timezone, weekly=weekly, overrides=overrides)
    name = check_name(name)
    if name == cal.name and hours == cal.hours:
        return cal
    updated = dataclasses.replace(cal, name=name, hours=hours, updated_at=tx.clock.now())
    # The routing leader's memory of the calendar (this runs there, see the API route): gone
    # while this transaction is open and again once it commits, so arrivals read the new hours
    # and a rollback leaves nothing stale behind.
    tx.calendars.forget_calendar(cal.id)
    tx.calendars.replace_calendar(updated)
    tx.after_commit.append(functools.partial(tx.calendars.forget_calendar, cal.id))
    tx.audit(
        "calendar.update",
        "calendar",
        cal.id,
        before={"name": cal.name, **hours_to_dict(cal.hours)},
        after={"name": name, **hours_to_dict(hours)},
    )
    tx.emit(calendar_event("updated", cal.id, {"code": cal.code, "name": name}))
    return updated
