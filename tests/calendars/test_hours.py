"""Business hours (pure): open/closed by weekday and date override, in the calendar's own
time zone, and `next_change` agrees with `is_open` (hypothesis)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.core.errors import InvalidInput
from hotline.domains.calendars.model import (
    DAY_MINUTES,
    Hours,
    Span,
    hours_to_dict,
    parse_hours,
)

OFFICE = {d: [["08:30", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_office_hours_in_shanghai_time() -> None:
    hours = parse_hours(
        timezone="Asia/Shanghai",
        weekly={**OFFICE, "sat": [["09:00", "12:00"]]},
        overrides=[
            {"date": "2026-10-01", "hours": [], "note": "国庆节"},
            {"date": "2026-10-10", "hours": [["09:00", "17:00"]], "note": "调休上班"},
        ],
    )
    # Monday 2026-11-30 08:29 Beijing = 00:29 UTC: closed; 08:30 opens
    assert not hours.is_open(utc(2026, 11, 30, 0, 29))
    assert hours.is_open(utc(2026, 11, 30, 0, 30))
    assert hours.next_change(utc(2026, 11, 30, 0, 30)) == utc(2026, 11, 30, 4, 0)  # lunch
    assert hours.next_change(utc(2026, 11, 30, 4, 0)) == utc(2026, 11, 30, 5, 0)
    # Sunday closed all day: next opening is Monday 08:30 local
    assert not hours.is_open(utc(2026, 11, 29, 3, 0))
    assert hours.next_change(utc(2026, 11, 29, 3, 0)) == utc(2026, 11, 30, 0, 30)
    # a public holiday on a Thursday, and a Saturday that is a make-up working day
    assert not hours.is_open(utc(2026, 10, 1, 3, 0))
    assert hours.is_open(utc(2026, 10, 10, 8, 30))  # 16:30 local
    assert not hours.is_open(utc(2026, 10, 10, 9, 0))  # 17:00 local


def test_spans_touching_at_midnight_are_one_opening() -> None:
    hours = parse_hours(
        timezone="UTC", weekly={"mon": [["20:00", "24:00"]], "tue": [["00:00", "06:00"]]}
    )
    # 2026-11-30 is a Monday
    assert hours.next_change(utc(2026, 11, 30, 21, 0)) == utc(2026, 12, 1, 6, 0)
    assert hours.is_open(utc(2026, 12, 1, 0, 0))


def test_always_closed_has_no_next_change() -> None:
    hours = parse_hours(timezone="UTC", weekly={})
    assert not hours.is_open(utc(2026, 11, 30, 12, 0))
    assert hours.next_change(utc(2026, 11, 30, 12, 0)) is None


@pytest.mark.parametrize(
    ("weekly", "tz", "key"),
    [
        ({"mon": [["09:00", "08:00"]]}, "UTC", "errors.calendar.span_invalid"),
        ({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}, "UTC", "errors.calendar.spans_overlap"),
        ({"mon": [["9:00", "12:00"]]}, "UTC", "errors.calendar.time_invalid"),
        ({"mon": [["09:00", "24:01"]]}, "UTC", "errors.calendar.time_invalid"),
        ({"monday": [["09:00", "12:00"]]}, "UTC", "errors.calendar.weekday_invalid"),
        ({}, "Mars/Olympus", "errors.calendar.timezone_invalid"),
    ],
)
def test_bad_hours_are_refused_with_the_field(weekly: dict, tz: str, key: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidInput) as exc:
        parse_hours(timezone=tz, weekly=weekly)
    assert exc.value.key == key
    assert exc.value.field


def test_plain_shape_round_trips() -> None:
    hours = parse_hours(
        timezone="Asia/Shanghai",
        weekly=OFFICE,
        overrides=[{"date": "2027-01-01", "hours": [], "note": "元旦"}],
    )
    assert parse_hours(**hours_to_dict(hours)) == hours


# --- property: next_change is exactly where is_open flips --------------------------------------
minutes = st.integers(min_value=0, max_value=DAY_MINUTES)


@st.composite
def day_spans(draw: st.DrawFn) -> tuple[Span, ...]:
    points = sorted(set(draw(st.lists(minutes, max_size=6))))
    if len(points) % 2:
        points = points[:-1]
    return tuple(Span(a, b) for a, b in zip(points[::2], points[1::2], strict=True) if a < b)


@st.composite
def calendars(draw: st.DrawFn) -> Hours:
    tz = draw(st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York"]))
    weekly = tuple(draw(day_spans()) for _ in range(7))
    return Hours(tz, weekly)


# hypothesis takes naive bounds and attaches the time zone itself
FIRST, LAST = dt.datetime(2026, 1, 1), dt.datetime(2027, 12, 31)  # noqa: DTZ001
instants = st.datetimes(min_value=FIRST, max_value=LAST, timezones=st.just(dt.UTC)).map(
    lambda t: t.replace(second=0, microsecond=0)
)


@settings(max_examples=200, deadline=None)
@given(hours=calendars(), at=instants)
def test_next_change_is_where_is_open_flips(hours: Hours, at: dt.datetime) -> None:
    state = hours.is_open(at)
    nxt = hours.next_change(at)
    if nxt is None:
        # nothing changes for a week and more: the same state every hour of the next week
        assert all(hours.is_open(at + dt.timedelta(hours=h)) == state for h in range(0, 24 * 8, 1))
        return
    assert nxt > at
    assert hours.is_open(nxt) != state
    # constant in between (checked minute by minute up to a day, then hourly)
    span = nxt - at
    step = dt.timedelta(minutes=1) if span <= dt.timedelta(days=1) else dt.timedelta(hours=1)
    t = at
    while t + step < nxt:
        t += step
        assert hours.is_open(t) == state, t
