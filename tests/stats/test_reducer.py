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
from hotline.domains.contacts.model import ContactRecord, Direction, HistoryEntry, Lifecycle
from hotline.domains.routing.model import Channel
from hotline.domains.stats.actions import count_history
from hotline.domains.stats.model import (
    ContactFacts,
    Counts,
    FoldMemory,
    RowKey,
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


class _Store:
    """The stats store as `count_history` sees it, over a list of committed entries."""

    def __init__(self, facts: dict[str, ContactFacts], memory: FoldMemory) -> None:
        self.facts, self.fold_memory = facts, memory
        self.log: list[HistoryEntry] = []
        self.rows: list[dict[RowKey, Counts]] = []
        self.replayed = 0

    def contact_facts(self, ids: list[str]) -> dict[str, ContactFacts]:
        return {c: self.facts[c] for c in ids if c in self.facts}

    def stored_history(self, ids: list[str]) -> list[HistoryEntry]:
        self.replayed += len(ids)
        return [e for e in self.log if e.contact_id in ids]

    def add_counts(self, rows: dict[RowKey, Counts], at: dt.datetime) -> None:
        self.rows.append(rows)


class _Tx:
    def __init__(self, store: _Store) -> None:
        self.stats, self.stats_config = store, CONFIG
        self.after_commit: list[object] = []
        self.clock = type("Clock", (), {"now": staticmethod(lambda: T0)})()


def _row(f: ContactFacts) -> ContactRecord:
    return ContactRecord(
        f.contact_id,
        Channel.chat,
        Direction.inbound,
        Lifecycle.queued,
        f.arrived_at,
        f.arrived_at,
        entry_point_id=f.entry_point_id,
        caller_area=f.caller_area,
    )


@settings(max_examples=300, deadline=None)
@given(
    histories(),
    st.lists(st.tuples(st.integers(0, 60), st.booleans(), st.booleans()), max_size=6),
    st.integers(1, 3),
)
def test_counting_with_the_memory_equals_folding_the_whole_history(
    data: tuple[dict[str, ContactFacts], list[HistoryEntry]],
    cuts: list[tuple[int, bool, bool]],
    limit: int,
) -> None:
    """The live path remembers folds across transactions: rolled-back transactions (which
    never reach their after-commit hooks), forgotten contacts (a small limit) and callers
    that pass the contact rows or not all give the rows of folding the whole history."""
    facts, log = data
    memory = FoldMemory(limit=limit)
    store = _Store(facts, memory)
    fails = {min(c, len(log)): fail for c, fail, _ in cuts}
    with_rows = {min(c, len(log)): given for c, _, given in cuts}
    bounds = sorted({0, len(log), *fails})
    for a, b in itertools.pairwise(bounds):
        part = log[a:b]
        rows = [_row(facts[c]) for c in sorted({e.contact_id for e in part})]
        if fails.get(a):  # counted, then rolled back: neither rows nor memory change
            before = len(store.rows)
            count_history(_Tx(store), part)  # type: ignore[arg-type]
            del store.rows[before:]
        tx = _Tx(store)
        count_history(tx, part, rows=rows if with_rows.get(a) else ())  # type: ignore[arg-type]
        store.log.extend(part)
        for hook in tx.after_commit:
            hook()  # type: ignore[operator]
        assert len(memory) <= limit
    live = merge(store.rows)
    whole = reduce_all(
        CONFIG, [(facts[c], [e for e in log if e.contact_id == c]) for c in sorted(facts)]
    )
    assert {k: v.as_dict() for k, v in live.items()} == {k: v.as_dict() for k, v in whole.items()}


def test_the_memory_spares_replaying_stored_history() -> None:
    facts = {"c0": ContactFacts("c0", T0, "e1", None)}
    memory = FoldMemory()
    store = _Store(facts, memory)
    steps = [
        HistoryEntry("c0", T0, "queued", "q1"),
        HistoryEntry("c0", T0 + dt.timedelta(seconds=5), "connected", "q1", "a1"),
        HistoryEntry(
            "c0", T0 + dt.timedelta(seconds=65), "ended", "q1", "a1", {"handle_seconds": 60.0}
        ),
    ]
    for e in steps:
        tx = _Tx(store)
        count_history(tx, [e])  # type: ignore[arg-type]
        store.log.append(e)
        for hook in tx.after_commit:
            hook()  # type: ignore[operator]
    assert store.replayed == 1  # only the first write read the (empty) stored history
    total = merge(store.rows)
    queue = next(v for k, v in total.items() if k[0].value == "queue")
    assert (queue.offered, queue.answered, queue.handled, queue.wait_ms) == (1, 1, 1, 5000)


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
