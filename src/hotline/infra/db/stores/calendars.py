"""Business calendars in SQL (`business_calendars`)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hotline.domains.calendars.model import Calendar, hours_to_dict, parse_hours
from hotline.infra.db.schema import business_calendars, entry_points


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

    def calendar(self, calendar_id: str) -> Calendar | None:
        q = sa.select(business_calendars).where(business_calendars.c.id == calendar_id)
        row = self.conn.execute(q).first()
        return _calendar(row) if row else None

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
