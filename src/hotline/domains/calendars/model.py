"""Business calendars (营业时间): weekly opening hours in a time zone, and day overrides for
public holidays and make-up working days (节假日 / 调休). Pure.

An entry point with a calendar is open when the local time falls inside one of the day's
spans. A call or chat (a conversation that needs someone now) arriving while it is closed is
finished at once as `closed` (the IVR plays the closed message; the chat widget shows the
opening hours); messages (email, SMS, social, work items) are queued anyway and wait for the
agents of the next opening. An entry point without a calendar is always open: a 96266 hotline
runs 24/7.

Spans are whole minutes since local midnight, `[start, end)`, with `end` up to 1440 (24:00),
so a span ending at midnight joins the next day's span starting at 00:00 without a gap.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import zoneinfo
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotline.core.errors import InvalidInput
from hotline.domains.routing.model import Channel

# The channels a closed entry point turns away; the others are messages that can wait.
CLOSED_CHANNELS: frozenset[Channel] = frozenset({Channel.voice, Channel.chat})
DAY_MINUTES = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
MAX_SPANS_PER_DAY = 8
MAX_OVERRIDES = 400
NOTE_MAX = 100
# How far `next_change` looks ahead: a calendar closed (or open) for longer has no change.
HORIZON_DAYS = 400
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Open from `start` to `end` minutes after local midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= DAY_MINUTES:
            raise InvalidInput(
                "an opening span must start before it ends, within 00:00–24:00",
                key="errors.calendar.span_invalid",
            )

    @property
    def text(self) -> tuple[str, str]:
        return (_hhmm(self.start), _hhmm(self.end))


@dataclass(frozen=True, slots=True)
class DayOverride:
    """A date whose hours replace the weekly ones: no spans = closed all day (a holiday)."""

    day: dt.date
    spans: tuple[Span, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Hours:
    """What a calendar says: `weekly[i]` are the spans of weekday i (Monday = 0)."""

    timezone: str
    weekly: tuple[tuple[Span, ...], ...]
    overrides: tuple[DayOverride, ...] = ()

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def spans_on(self, day: dt.date) -> tuple[Span, ...]:
        """The opening spans of a local date (its override if it has one)."""
        for o in self.overrides:
            if o.day == day:
                return o.spans
        return self.weekly[day.weekday()]

    def is_open(self, at: dt.datetime) -> bool:
        """Whether the calendar is open at the instant `at` (timezone-aware)."""
        local = at.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(s.start <= minute < s.end for s in self.spans_on(local.date()))

    def next_change(self, at: dt.datetime) -> dt.datetime | None:
        """The first instant after `at` at which `is_open` flips (UTC), or None within
        HORIZON_DAYS. Spans that touch across midnight are one opening."""
        now_open = self.is_open(at)
        for t in self._boundaries(at.astimezone(self.zone).date()):
            if t > at and self.is_open(t) != now_open:
                return t
        return None

    def _boundaries(self, first: dt.date) -> Iterator[dt.datetime]:
        zone = self.zone
        for n in range(HORIZON_DAYS):
            day = first + dt.timedelta(days=n)
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
            points = sorted({m for s in self.spans_on(day) for m in (s.start, s.end)})
            for m in points:
                # wall-clock minutes of that local day (a DST day is 23 or 25 hours long)
                local = midnight + dt.timedelta(minutes=m)
                yield local.replace(tzinfo=None).replace(tzinfo=zone).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Calendar:
    """A named business calendar entry points refer to."""

    id: str
    code: str
    name: str
    hours: Hours
    created_at: dt.datetime
    updated_at: dt.datetime


class CalendarMemory:
    """The routing leader's parsed calendars, so an arrival at an entry point with business
    hours neither reads nor parses its calendar every time.

    Valid while every change of a calendar runs in this process (calendar writes go through
    the routing service, which runs on the routing leader only, ADR 0007); the routing
    service clears it whenever it loads an engine (the lease may have moved meanwhile). A
    write forgets its calendar when it changes the row and again after its commit, so a
    rolled-back change leaves nothing behind. A reader takes a `token` before it reads
    storage and `remember`s what it read with it: if anything was forgotten meanwhile, what
    it read may be older than that change and is not kept."""

    def __init__(self) -> None:
        self._calendars: dict[str, Calendar] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def token(self) -> int:
        """Take before reading a calendar from storage (see `remember`)."""
        return self._generation

    def recall(self, calendar_id: str) -> Calendar | None:
        """The remembered calendar, or None (read it from storage)."""
        return self._calendars.get(calendar_id)

    def remember(self, calendar: Calendar, token: int) -> None:
        """Keep `calendar`, read from storage after `token` was taken, unless a change was
        forgotten since (the read may predate it)."""
        with self._lock:
            if self._generation == token:
                self._calendars[calendar.id] = calendar

    def forget(self, calendar_id: str) -> None:
        """A write changes this calendar: read it from storage again."""
        with self._lock:
            self._generation += 1
            self._calendars.pop(calendar_id, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._calendars.clear()

    def __len__(self) -> int:
        return len(self._calendars)


# --- parsing and rendering (the API's plain shapes) ------------------------------------------
def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_time(value: str, *, field: str) -> int:
    """`HH:MM` (00:00–24:00) → minutes after midnight."""
    m = _TIME.match(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise InvalidInput(
            f"{field}: {value!r} is not a time HH:MM between 00:00 and 24:00",
            key="errors.calendar.time_invalid",
            field=field,
        )
    return DAY_MINUTES if value.strip() == "24:00" else int(m.group(1)) * 60 + int(m.group(2))


def parse_spans(items: Sequence[Sequence[str]], *, field: str) -> tuple[Span, ...]:
    """`[["08:00", "12:00"], ["13:30", "18:00"]]` → sorted spans; overlaps are refused."""
    if len(items) > MAX_SPANS_PER_DAY:
        raise InvalidInput(
            f"{field}: at most {MAX_SPANS_PER_DAY} spans a day",
            key="errors.calendar.too_many_spans",
            field=field,
        )
    spans: list[Span] = []
    for i, pair in enumerate(items):
        if len(pair) != 2:
            raise InvalidInput(
                f"{field}[{i}]: a span is [start, end]",
                key="errors.calendar.span_invalid",
                field=field,
            )
        start = parse_time(pair[0], field=f"{field}[{i}]")
        end = parse_time(pair[1], field=f"{field}[{i}]")
        if start >= end:
            raise InvalidInput(
                f"{field}[{i}]: {pair[0]}–{pair[1]} must start before it ends",
                key="errors.calendar.span_invalid",
                field=field,
            )
        spans.append(Span(start, end))
    spans.sort()
    for a, b in itertools.pairwise(spans):
        if b.start < a.end:
            raise InvalidInput(
                f"{field}: spans {_hhmm(a.start)}–{_hhmm(a.end)} and "
                f"{_hhmm(b.start)}–{_hhmm(b.end)} overlap",
                key="errors.calendar.spans_overlap",
                field=field,
            )
    return tuple(spans)


def parse_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)",
            key="errors.calendar.timezone_invalid",
            field="timezone",
        ) from exc
    return value


def parse_hours(
    *,
    timezone: str,
    weekly: Mapping[str, Sequence[Sequence[str]]],
    overrides: Sequence[Mapping[str, Any]] = (),
) -> Hours:
    """Build `Hours` from the API's plain shape; every error names its field."""
    unknown = sorted(set(weekly) - set(WEEKDAYS))
    if unknown:
        raise InvalidInput(
            f"weekly: unknown day(s) {', '.join(unknown)}; use {', '.join(WEEKDAYS)}",
            key="errors.calendar.weekday_invalid",
            field="weekly",
        )
    days = tuple(parse_spans(weekly.get(d, ()), field=f"weekly.{d}") for d in WEEKDAYS)
    if len(overrides) > MAX_OVERRIDES:
        raise InvalidInput(
            f"at most {MAX_OVERRIDES} date overrides",
            key="errors.calendar.too_many_overrides",
            field="overrides",
        )
    seen: set[dt.date] = set()
    parsed: list[DayOverride] = []
    for i, o in enumerate(overrides):
        day = o["date"]
        if not isinstance(day, dt.date):
            day = dt.date.fromisoformat(str(day))
        if day in seen:
            raise InvalidInput(
                f"overrides: {day.isoformat()} is listed twice",
                key="errors.calendar.override_twice",
                field="overrides",
            )
        seen.add(day)
        note = str(o.get("note") or "").strip()
        if len(note) > NOTE_MAX:
            raise InvalidInput(
                f"overrides[{i}].note: at most {NOTE_MAX} characters",
                key="errors.calendar.note_too_long",
                field="overrides",
            )
        parsed.append(
            DayOverride(day, parse_spans(o.get("hours") or (), field=f"overrides[{i}]"), note)
        )
    parsed.sort(key=lambda o: o.day)
    return Hours(parse_timezone(timezone), days, tuple(parsed))


def hours_to_dict(hours: Hours) -> dict[str, Any]:
    """The plain shape `parse_hours` reads (stored as JSON, answered by the API)."""
    return {
        "timezone": hours.timezone,
        "weekly": {d: [list(s.text) for s in hours.weekly[i]] for i, d in enumerate(WEEKDAYS)},
        "overrides": [
            {"date": o.day.isoformat(), "hours": [list(s.text) for s in o.spans], "note": o.note}
            for o in hours.overrides
        ],
    }
