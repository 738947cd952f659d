"""Business calendars in SQL (`business_calendars`)."""

from __future__ import annotations

import threading
import weakref
from typing import Any

import sqlalchemy as sa

from hotline.domains.calendars.model import Calendar, CalendarMemory, hours_to_dict, parse_hours
from hotline.infra.db.schema import business_calendars, entry_points

_BY_ID = sa.select(business_calendars).where(business_calendars.c.id == sa.bindparam("calendar_id"))
_MEMORIES: weakref.WeakKeyDictionary[sa.Engine, CalendarMemory] = weakref.WeakKeyDictionary()
_MEMORIES_LOCK = threading.Lock()


def calendar_memory(engine: sa.Engine) -> CalendarMemory:
    """This process's parsed calendars for routing, one per database engine (see
    `CalendarMemory`; the routing service clears it whenever it loads an engine)."""
    with _MEMORIES_LOCK:
        memory = _MEMORIES.get(engine)
        if memory is None:
            memory = _MEMORIES[engine] = CalendarMemory()
        return memory


def _calendar(row: Any) -> Calendar:
    hours = parse_hours(timezone=row.timezone, weekly=row.weekly, overrides=row.overrides)
    return Calendar(row.id, row.code, row.name, hours, row.created_at, row.updated_at)


def _values(cal: Calendar) -> dict[str, Any]:
    plain = hours_to_dict(cal.hours)
    return {
        "code": cal.code,
        "name": cal.name,
        "timezone": plain["timezone"],
        "weekly": plain["weekly"],
        "overrides": plain["overrides"],
        "created_at": cal.created_at,
        "updated_at": cal.updated_at,
    }


class SqlCalendarStore:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self._changed: set[str] = set()  # calendars this transaction changes: not remembered

    @property
    def memory(self) -> CalendarMemory:
        return calendar_memory(self.conn.engine)

    def calendar(self, calendar_id: str) -> Calendar | None:
        row = self.conn.execute(_BY_ID, {"calendar_id": calendar_id}).first()
        return _calendar(row) if row else None

    def routing_calendar(self, calendar_id: str) -> Calendar | None:
        if calendar_id in self._changed:  # this transaction's own, uncommitted version
            return self.calendar(calendar_id)
        memory = self.memory
        found = memory.recall(calendar_id)
        if found is None:
            token = memory.token()
            found = self.calendar(calendar_id)
            if found is not None:
                memory.remember(found, token)
        return found

    def forget_calendar(self, calendar_id: str) -> None:
        self._changed.add(calendar_id)
        self.memory.forget(calendar_id)

    def calendar_by_code(self, code: str) -> Calendar | None:
        q = sa.select(business_calendars).where(business_calendars.c.code == code)
        row = self.conn.execute(q).first()
        return _calendar(row) if row else None

    def calendars(self, *, limit: int, after: str | None = None) -> list[Calendar]:
        q = sa.select(business_calendars).order_by(business_calendars.c.code).limit(limit)
        if after is not None:
            q = q.where(business_calendars.c.code > after)
        return [_calendar(r) for r in self.conn.execute(q).all()]

    def insert_calendar(self, calendar: Calendar) -> None:
        self.conn.execute(business_calendars.insert().values(id=calendar.id, **_values(calendar)))

    def replace_calendar(self, calendar: Calendar) -> None:
        self.conn.execute(
            business_calendars.update()
            .where(business_calendars.c.id == calendar.id)
            .values(**_values(calendar))
        )

    def entry_points_using(self, calendar_id: str) -> list[str]:
        q = (
            sa.select(entry_points.c.id)
            .where(entry_points.c.calendar_id == calendar_id)
            .order_by(entry_points.c.id)
        )
        return [str(r) for r in self.conn.execute(q).scalars()]
