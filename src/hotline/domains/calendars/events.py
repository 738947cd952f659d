"""Events of business calendars (configuration changes, seen by whoever reads queues)."""

from __future__ import annotations

from typing import Any

from hotline.core.events import Event

PERMISSION = "queue:read"


def calendar_event(kind: str, calendar_id: str, payload: dict[str, Any]) -> Event:
    """`calendar.created` / `calendar.updated`, for everyone who may read the configuration."""
    return Event(
        type=f"calendar.{kind}",
        payload={"id": calendar_id, **payload},
        permission=PERMISSION,
        object_type="calendar",
        object_id=calendar_id,
    )
