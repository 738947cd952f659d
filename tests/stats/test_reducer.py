"""The reducer (pure): counting a history in any number of transactions gives the rows that
folding it whole gives; day and interval boundaries follow the center's time zone."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.core.clock import UTC
from hotline.core.errors import InvalidInput
from hotline.domains.contacts.model import HistoryEntry
from hotline.domains.stats.model import (
    ContactFacts,
    StatsConfig,
    merge,
    occupancy,
    reduce_all,
    reduce_new,
)

T0 = dt.datetime(2026, 1, 5, 15, 50, tzinfo=UTC)  # 23:50 in Shanghai: days change on the way
CONFIG = StatsConfig()
QUEUES = ("q1", "q2")
AGENTS = ("a1", "a2")


@st.composite
def entry(draw: st.DrawFn, contact_id: str) -> tuple[int, HistoryEntry]:
    kind = draw(
        st.sampled_from(
            [
                "queued",
                "moved",
                "transferred",
                "connected",
                "ended",
                "finished",
                "wrapped_up",
                "abandoned",
                "callback_requested",
                "overflowed",
                "max_wait_exceeded",
                "offered",
            ]
        )
    )
    queue = draw(st.sampled_from(QUEUES))
    agent = draw(st.sampled_from(AGENTS))
    data: dict[str, object] = {}
    if kind in ("moved", "transferred"):
        data = {"from_queue": queue, "to_queue": draw(st.sampled_from(QUEUES))}
    elif kind == "connected":
        data = {"sl_seconds": draw(st.sampled_from([10.0, 20.0])), "wait_seconds": 1.0}
    elif kind == "ended":
        data = {"handle_seconds": draw(st.floats(0, 600, allow_nan=False))}
    elif kind == "abandoned":
        data = {"wait_seconds": 2.0, "in_ivr": draw(st.booleans())}
    elif kind == "max_wait_exceeded":
        data = {"action": draw(st.sampled_from(["remove", "callback"]))}
    elif kind == "overflowed":
        data = {"stage": draw(st.integers(1, 3))}
    elif kind == "wrapped_up":
        data = {"late": draw(st.booleans())}
    step = draw(st.integers(0, 400))  # seconds after the previous entry
    return step, HistoryEntry(contact_id, T0, kind, queue, agent, data)


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[str, ContactFacts], list[HistoryEntry]]:
    n = draw(st.integers(1, 4))
    facts: dict[str, ContactFacts] = {}
    timed: list[tuple[dt.datetime, HistoryEntry]] = []
    for i in range(n):
        cid = f"c{i}"
        arrived = T0 + dt.timedelta(seconds=draw(st.integers(0, 1800)))
        area = draw(st.sampled_from(["城东", None]))
        facts[cid] = ContactFacts(cid, arrived, draw(st.sampled_from(["e1", None])), area)
        at = arrived
        for step, e in draw(st.lists(entry(cid), max_size=12)):
            at += dt.timedelta(seconds=step)
            timed.append((at, HistoryEntry(cid, at, e.type, e.queue_id, e.agent_id, e.data)))
    timed.sort(key=lambda x: x[0])  # contacts interleave, as in the log
    return facts, [e for _, e in timed]


@settings(max_examples=300, deadline=None)
@given(histories(), st.lists(st.integers(0, 60), max_size=6))
def test_counting_in_transactions_equals_folding_the_whole_history(
    data: tuple[dict[str, ContactFacts], list[HistoryEntry]], cuts: list[int]
) -> None:
    facts, log = data
    bounds = sorted({0, len(log), *(min(c, len(log)) for c in cuts)})
    parts = [reduce_new(CONFIG, facts, log[:a], log[a:b]) for a, b in itertools.pairwise(bounds)]
    live = merge(parts)
    whole = reduce_all(
        CONFIG, [(facts[c], [e for e in log if e.contact_id == c]) for c in sorted(facts)]
    )
    assert {k: v.as_dict() for k, v in live.items()} == {k: v.as_dict() for k, v in whole.items()}


def test_intervals_start_at_local_midnight() -> None:
    at = dt.datetime(2026, 1, 5, 16, 7, tzinfo=UTC)  # 00:07 on the 6th in Shanghai
    assert CONFIG.day_start(at) == dt.datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    assert CONFIG.interval(at) == dt.datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    half = StatsConfig(interval_minutes=30, timezone="Asia/Kathmandu")  # UTC+05:45: 21:52
    assert half.day_start(at) == dt.datetime(2026, 1, 4, 18, 15, tzinfo=UTC)
    assert half.interval(at) == dt.datetime(2026, 1, 5, 15, 45, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        StatsConfig(interval_minutes=20)
    with pytest.raises(InvalidInput):
        StatsConfig(timezone="Mars/Olympus")


def test_occupancy_counts_busy_time_over_staffed_time() -> None:
    start = dt.datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    m = dt.timedelta(minutes=1)
    changes = [
        (start + 10 * m, "logged_out", "ready"),
        (start + 20 * m, "ready", "busy"),
        (start + 50 * m, "busy", "wrap_up"),
        (start + 55 * m, "wrap_up", "not_ready"),
    ]
    # ready 10, busy+wrap-up 35, not ready 5 (not staffed): 35 / 45
    assert occupancy(
        day_start=start, as_of=start + 60 * m, state_now="not_ready", changes=changes
    ) == round(100 * 35 / 45, 2)
    assert (
        occupancy(day_start=start, as_of=start + 60 * m, state_now="logged_out", changes=[]) is None
    )
