"""Clocks. Every piece of code that needs "now" gets a clock passed in (keyword `clock`).

Only timezone-aware UTC datetimes exist inside hotline; local time is a rendering concern.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Protocol

UTC = dt.UTC


class Clock(Protocol):
    """Source of the current time (UTC, timezone-aware)."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The wall clock, always UTC."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to: tests and the simulator use it."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        require_utc(start)
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> dt.datetime:
        with self._lock:
            self._now = self._now + dt.timedelta(seconds=seconds)
            return self._now

    def set(self, when: dt.datetime) -> None:
        require_utc(when)
        with self._lock:
            self._now = when


def require_utc(value: dt.datetime) -> dt.datetime:
    """Reject naive datetimes: a naive value is a bug waiting for a daylight-saving day."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime; hotline uses timezone-aware UTC datetimes only")
    return value.astimezone(UTC)
