"""Reading business calendars and asking whether they are open."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hotline.core.context import Actor
from hotline.core.errors import NotFound
from hotline.domains.calendars.model import Calendar
from hotline.domains.calendars.ports import CalendarStore


@dataclass(frozen=True, slots=True)
class OpenStatus:
    """Open or closed at `at`, and when that changes (None: not within the horizon)."""

    at: dt.datetime
    open: bool
    next_change: dt.datetime | None


def list_calendars(
    store: CalendarStore, actor: Actor, *, limit: int, after: str | None = None
) -> list[Calendar]:
    """Calendars by code (configuration: anyone who reads queues)."""
    actor.require("queue:read")
    return store.calendars(limit=limit, after=after)


def get_calendar(store: CalendarStore, actor: Actor, calendar_id: str) -> Calendar:
    actor.require("queue:read")
    cal = store.calendar(calendar_id)
    if cal is None:
        raise NotFound("no such calendar", key="errors.calendar.not_found")
    return cal


def open_status(calendar: Calendar, at: dt.datetime) -> OpenStatus:
    """Whether `calendar` is open at `at` and until when."""
    return OpenStatus(at, calendar.hours.is_open(at), calendar.hours.next_change(at))
