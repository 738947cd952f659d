"""Interval statistics: the reducer that turns contact history into counted facts. Pure.

Attribution (ADR 0008): every fact about a contact is counted once, at the history entry that
decides it (offered at `queued`, answered at the first `connected` in a queue, abandoned at
`abandoned`, handle time at `ended`, wrap-up time at `finished`/`wrapped_up`…), and lands in
the interval of the contact's *arrival* (`contacts.arrived_at`), the usual contact-center
convention: an interval's answered and abandoned figures belong to the contacts offered in it,
so its service level is final once its contacts are.

`ContactFold` is the one reducer. The live path (`actions.count_history`) folds a contact's
stored history to recover its state, then folds the new entries and keeps their facts; the
rebuild (`actions.rebuild`) folds whole histories. Both go through the same code, so the rows
they produce cannot disagree. Durations are whole milliseconds, so sums are exact in any order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import threading
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields

from hotline.core.errors import InvalidInput
from hotline.domains.contacts.model import HistoryEntry

# An abandon this soon after entering the queue is "short": it does not count against the
# service level (the caller hung up before anyone could have answered).
SHORT_ABANDON_MS = 5_000
DEFAULT_SL_SECONDS = 20.0
UNKNOWN_AREA = ""  # the caller_area key of contacts without an area
INTERVAL_CHOICES = (15, 30)
MAX_MINUTE_RETENTION_DAYS = 366


class Dimension(enum.StrEnum):
    """What an interval row is about. `queue_minute` is the queue at one-minute resolution:
    the live "last 15/30 minutes" figures sum it."""

    queue = "queue"
    entry_point = "entry_point"
    caller_area = "caller_area"
    agent = "agent"
    queue_minute = "queue_minute"


@dataclass(frozen=True, slots=True)
class StatsConfig:
    """Interval length (15 or 30 minutes) and the center's time zone, which decides "today"
    and where intervals start (local midnight is always an interval boundary)."""

    interval_minutes: int = 15
    timezone: str = "Asia/Shanghai"
    # One-minute queue rows only feed the rolling "last 15/30 minutes" figures; kept this long
    # (the interval rows stay for reports and forecasting).
    minute_retention_days: int = 7

    def __post_init__(self) -> None:
        if self.interval_minutes not in INTERVAL_CHOICES:
            raise InvalidInput("interval_minutes must be 15 or 30", field="interval_minutes")
        if not 1 <= self.minute_retention_days <= MAX_MINUTE_RETENTION_DAYS:
            raise InvalidInput(
                f"minute_retention_days must be 1 to {MAX_MINUTE_RETENTION_DAYS}",
                field="minute_retention_days",
            )
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidInput(f"unknown time zone {self.timezone!r}", field="timezone") from exc

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def minute_horizon(self, now: dt.datetime) -> dt.datetime:
        """One-minute rows that start before this are no longer kept."""
        return now - dt.timedelta(days=self.minute_retention_days)

    def day_start(self, at: dt.datetime) -> dt.datetime:
        """UTC start of the center's day that contains `at`."""
        local = at.astimezone(self.zone)
        midnight = dt.datetime(local.year, local.month, local.day, tzinfo=self.zone)
        return midnight.astimezone(dt.UTC)

    def bucket(self, at: dt.datetime, minutes: int) -> dt.datetime:
        """UTC start of the `minutes`-long bucket containing `at`, counted from local midnight."""
        start = self.day_start(at)
        step = minutes * 60
        offset = int((at - start).total_seconds()) // step * step
        return start + dt.timedelta(seconds=offset)

    def interval(self, at: dt.datetime) -> dt.datetime:
        return self.bucket(at, self.interval_minutes)


@dataclass(slots=True)
class Counts:
    """The figures of one interval row. Durations in milliseconds."""

    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_short: int = 0
    overflowed: int = 0
    transferred: int = 0
    callbacks: int = 0
    wait_ms: int = 0
    wait_max_ms: int = 0
    handled: int = 0
    handle_ms: int = 0
    wrap_up_ms: int = 0
    abandoned_ivr: int = 0  # hung up in the IVR, before any queue (by entry point and area)
    closed: int = 0  # arrived outside the entry point's business hours

    def add(self, other: Counts) -> None:
        for f in COUNT_FIELDS:
            if f == "wait_max_ms":
                self.wait_max_ms = max(self.wait_max_ms, other.wait_max_ms)
            else:
                setattr(self, f, getattr(self, f) + getattr(other, f))

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in COUNT_FIELDS}


COUNT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Counts))
RowKey = tuple[Dimension, str, dt.datetime]  # (dimension, key, interval start)


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What the reducer needs from the contact row besides its history (set at arrival)."""

    contact_id: str
    arrived_at: dt.datetime
    entry_point_id: str | None
    caller_area: str | None


def _ms(delta: dt.timedelta) -> int:
    return max(0, delta // dt.timedelta(milliseconds=1))


@dataclass(slots=True)
class ContactFold:
    """One contact's state while its history is folded, and the facts it produced."""

    facts: ContactFacts
    config: StatsConfig
    counts: dict[RowKey, Counts] = field(default_factory=dict)
    keep: bool = True  # False while replaying stored history (its facts are counted already)
    queue: str | None = None
    entered_at: dt.datetime | None = None
    answered_here: bool = False
    overflowed_here: bool = False
    answered: bool = False
    connected_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    _starts: tuple[dt.datetime, dt.datetime] | None = None

    def _add(self, kind: Dimension, key: str | None, **values: int) -> None:
        if key is None or not self.keep:
            return
        if self._starts is None:  # the contact's arrival decides every row it counts in
            arrived = self.facts.arrived_at
            self._starts = (self.config.interval(arrived), self.config.bucket(arrived, 1))
        start = self._starts[1] if kind is Dimension.queue_minute else self._starts[0]
        row = self.counts.get((kind, key, start))
        if row is None:
            row = self.counts[(kind, key, start)] = Counts()
        for name, value in values.items():
            if name == "wait_max_ms":
                row.wait_max_ms = max(row.wait_max_ms, value)
            else:
                setattr(row, name, getattr(row, name) + value)

    def _queue(self, queue_id: str | None, **values: int) -> None:
        self._add(Dimension.queue, queue_id, **values)
        self._add(Dimension.queue_minute, queue_id, **values)

    def _contact(self, **values: int) -> None:
        """Contact-level facts: by entry point and by caller area."""
        self._add(Dimension.entry_point, self.facts.entry_point_id, **values)
        area = self.facts.caller_area
        self._add(Dimension.caller_area, UNKNOWN_AREA if area is None else area, **values)

    def _enter(self, queue_id: str | None, at: dt.datetime) -> None:
        self.queue, self.entered_at = queue_id, at
        self.answered_here = self.overflowed_here = False

    def apply(self, e: HistoryEntry) -> None:
        """Fold one history entry (in stored order)."""
        kind, data = e.type, e.data
        queue = e.queue_id or self.queue
        if kind == "queued":
            self._enter(e.queue_id, e.at)
            self._queue(e.queue_id, offered=1)
            self._contact(offered=1)
        elif kind in ("moved", "transferred"):
            src, dst = data.get("from_queue"), data.get("to_queue")
            if kind == "transferred" and self.connected_at is not None:
                handle = _ms(e.at - self.connected_at)
                self._queue(src, handled=1, handle_ms=handle, transferred=1)
                self._contact(handled=1, handle_ms=handle, transferred=1)
                self._add(Dimension.agent, e.agent_id, handled=1, handle_ms=handle, transferred=1)
                self.connected_at = None
            elif src != dst:
                self._queue(src, transferred=1)
            if src != dst:
                self._queue(dst, offered=1)
                self._enter(dst, e.at)
            else:  # handed to another agent in the same queue: one offer, one answer
                self.entered_at = e.at
        elif kind == "connected":
            wait = _ms(e.at - (self.entered_at or e.at))
            target_ms = round(float(data.get("sl_seconds", DEFAULT_SL_SECONDS)) * 1000)
            in_sl = int(wait <= target_ms)
            facts = {"answered": 1, "answered_in_sl": in_sl, "wait_ms": wait, "wait_max_ms": wait}
            if not self.answered_here:
                self._queue(queue, **facts)
            if not self.answered:
                self._contact(**facts)
            self._add(Dimension.agent, e.agent_id, answered=1)
            self.answered = self.answered_here = True
            self.connected_at = e.at
        elif kind == "ended":
            handle = round(float(data.get("handle_seconds", 0.0)) * 1000)
            self._queue(queue, handled=1, handle_ms=handle)
            self._contact(handled=1, handle_ms=handle)
            self._add(Dimension.agent, e.agent_id, handled=1, handle_ms=handle)
            self.connected_at, self.ended_at = None, e.at
        elif kind in ("finished", "wrapped_up"):
            if self.ended_at is not None and not data.get("late", False):
                wrap = _ms(e.at - self.ended_at)
                self._queue(queue, wrap_up_ms=wrap)
                self._contact(wrap_up_ms=wrap)
                self._add(Dimension.agent, e.agent_id, wrap_up_ms=wrap)
                self.ended_at = None
        elif kind == "abandoned":
            if data.get("in_ivr"):
                # never reached a queue: not offered, so not abandoned from one; the entry
                # point (and the surge detector) still sees it
                self._contact(abandoned_ivr=1)
                return
            short = int(_ms(e.at - (self.entered_at or e.at)) < SHORT_ABANDON_MS)
            self._queue(queue, abandoned=1, abandoned_short=short)
            self._contact(abandoned=1, abandoned_short=short)
        elif kind == "closed":
            self._queue(queue, closed=1)
            self._contact(closed=1)
        elif kind == "callback_requested":
            self._queue(queue, callbacks=1)
            self._contact(callbacks=1)
        elif kind == "overflowed" or (
            kind == "max_wait_exceeded" and data.get("action") == "remove"
        ):
            if self.overflowed_here:
                return  # one overflow per contact and queue, whichever step came first
            self.overflowed_here = True
            self._queue(queue, overflowed=1)
            self._contact(overflowed=1)


# History entry types that can produce a fact; others never need the reducer.
FACT_TYPES = frozenset(
    {
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
        "closed",
    }
)


def replay(
    config: StatsConfig, facts: Mapping[str, ContactFacts], stored: Iterable[HistoryEntry]
) -> dict[str, ContactFold]:
    """Each contact's fold after its `stored` history (in id order), counting nothing: the
    state that new entries are folded onto. Contacts missing from `facts` are left out."""
    folds = {cid: ContactFold(f, config, keep=False) for cid, f in facts.items()}
    for e in stored:
        f = folds.get(e.contact_id)
        if f is not None:
            f.apply(e)
    return folds


def fold_new(folds: Mapping[str, ContactFold], new: Iterable[HistoryEntry]) -> dict[RowKey, Counts]:
    """Fold the `new` entries onto `folds` (which then stand after them) and return the facts
    the entries add. Entries of contacts without a fold are skipped."""
    touched: dict[str, ContactFold] = {}
    for e in new:
        f = folds.get(e.contact_id)
        if f is not None:
            if e.contact_id not in touched:
                f.keep, f.counts = True, {}
                touched[e.contact_id] = f
            f.apply(e)
    if len(touched) == 1:  # the usual live write: one contact's rows need no summing
        return dict(next(iter(touched.values())).counts)
    return merge(f.counts for f in touched.values())


def reduce_new(
    config: StatsConfig,
    facts: Mapping[str, ContactFacts],
    stored: Iterable[HistoryEntry],
    new: Iterable[HistoryEntry],
) -> dict[RowKey, Counts]:
    """The facts that the `new` entries add, given the contacts' `stored` history (in id
    order). Contacts missing from `facts` (no row) are skipped."""
    return fold_new(replay(config, facts, stored), new)


class FoldMemory:
    """The folds of recently counted contacts as of their last committed history entry, so
    the live path need not read and replay a contact's stored history on every write.

    Valid only while every history entry of these contacts is counted through this memory
    (the routing service's transactions, which hold the engine lock); the owner clears it
    whenever that may not hold (a new engine, the routing lease taken again). Folds are
    remembered only after their transaction commits (`remember` from an after-commit hook), and
    forgotten while one that writes them is open, so no failure can leave a stale fold.
    Least recently used contacts are forgotten beyond `limit`; a forgotten contact is
    replayed from storage again, so the limit bounds memory, not correctness."""

    def __init__(self, limit: int = 50_000) -> None:
        self.limit = limit
        self._folds: dict[str, ContactFold] = {}  # insertion order = recency
        self._lock = threading.Lock()

    def recall(self, contact_ids: Iterable[str]) -> dict[str, ContactFold]:
        """Copies of the remembered folds among `contact_ids` (counting nothing yet)."""
        out: dict[str, ContactFold] = {}
        with self._lock:
            for cid in contact_ids:
                f = self._folds.get(cid)
                if f is not None:
                    out[cid] = dataclasses.replace(f, counts={}, keep=False)
        return out

    def forget(self, contact_ids: Iterable[str]) -> None:
        """Drop these contacts (a transaction about to write their history: until it commits
        and remembers them, they are replayed from storage)."""
        with self._lock:
            for cid in contact_ids:
                self._folds.pop(cid, None)

    def remember(self, folds: Iterable[ContactFold]) -> None:
        """Keep these folds (the state after a committed transaction's entries)."""
        with self._lock:
            for f in folds:
                cid = f.facts.contact_id
                self._folds.pop(cid, None)
                self._folds[cid] = dataclasses.replace(f, counts={}, keep=False)
            while len(self._folds) > self.limit:
                del self._folds[next(iter(self._folds))]

    def clear(self) -> None:
        with self._lock:
            self._folds.clear()

    def __len__(self) -> int:
        return len(self._folds)


def reduce_all(
    config: StatsConfig, histories: Iterable[tuple[ContactFacts, Iterable[HistoryEntry]]]
) -> dict[RowKey, Counts]:
    """Interval rows from whole contact histories (the rebuild)."""

    def each() -> Iterator[dict[RowKey, Counts]]:
        for facts, entries in histories:
            f = ContactFold(facts, config)
            for e in entries:
                f.apply(e)
            yield f.counts

    return merge(each())


def merge(parts: Iterable[Mapping[RowKey, Counts]]) -> dict[RowKey, Counts]:
    """Sum rows with the same key."""
    out: dict[RowKey, Counts] = {}
    for part in parts:
        for key, counts in part.items():
            row = out.get(key)
            if row is None:
                out[key] = row = Counts()
            row.add(counts)
    return out


# --- live rows (what the wallboard shows; ADR 0008) -------------------------------------------
BUSY_STATES = frozenset({"reserved", "busy", "wrap_up"})
STAFFED_STATES = BUSY_STATES | {"ready"}
AGENT_STATES = ("ready", "not_ready", "reserved", "busy", "wrap_up")


def minute_of(at: dt.datetime) -> dt.datetime:
    """`as_of` of a live row: rows are computed as of the start of the current minute, so a
    row only changes when something happens or a minute passes."""
    return at.replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Figures:
    """offered / answered / abandoned over some period."""

    offered: int
    answered: int
    abandoned: int

    @classmethod
    def of(cls, c: Counts) -> Figures:
        return cls(c.offered, c.answered, c.abandoned)


def service_level(c: Counts) -> float | None:
    """Answered within target over answered plus abandoned (short abandons excluded)."""
    denom = c.answered + c.abandoned - c.abandoned_short
    return None if denom <= 0 else round(100.0 * c.answered_in_sl / denom, 2)


def asa_seconds(c: Counts) -> float | None:
    return None if c.answered == 0 else round(c.wait_ms / c.answered / 1000, 3)


def aht_seconds(c: Counts) -> float | None:
    """Average handle time: talk plus wrap-up over handled contacts."""
    return None if c.handled == 0 else round((c.handle_ms + c.wrap_up_ms) / c.handled / 1000, 3)


@dataclass(frozen=True, slots=True)
class QueueLive:
    """A queue's live row. `oldest_waiting_since` is the enqueue time of the contact waiting
    longest (None when nobody waits): the wallboard computes the wait, so the row does not
    change with every second."""

    queue_id: str
    code: str
    name: str
    org_unit_id: str
    as_of: dt.datetime
    waiting: int
    oldest_waiting_since: dt.datetime | None
    offering: int
    connected: int
    today: Figures
    last_15: Figures
    last_30: Figures
    service_level_percent: float | None
    service_level_target_percent: float
    service_level_seconds: float
    asa_seconds: float | None
    aht_seconds: float | None
    agents: Mapping[str, int]  # agents able to serve the queue, per state


@dataclass(frozen=True, slots=True)
class AgentLive:
    """An agent's live row: state since when, seat, today's handled contacts, AHT and
    occupancy (time reserved, busy or in wrap-up over time staffed, today up to `as_of`)."""

    agent_id: str
    username: str
    display_name: str
    org_unit_id: str
    as_of: dt.datetime
    state: str
    reason: str | None
    state_since: dt.datetime | None
    seat: str | None
    handled_today: int
    aht_seconds: float | None
    occupancy_percent: float | None


def occupancy(
    *,
    day_start: dt.datetime,
    as_of: dt.datetime,
    state_now: str,
    changes: Iterable[tuple[dt.datetime, str, str]],
) -> float | None:
    """Occupancy from today's state changes `(at, from_state, to_state)` in time order: the
    state at `day_start` is the first change's `from_state` (else the current state)."""
    busy = staffed = 0.0
    items = [c for c in changes if day_start <= c[0] <= as_of]
    state = items[0][1] if items else state_now
    since = day_start
    for at, _old, new in [*items, (as_of, "", "")]:
        span = (at - since).total_seconds()
        if state in STAFFED_STATES:
            staffed += span
        if state in BUSY_STATES:
            busy += span
        state, since = new, at
    return None if staffed <= 0 else round(100.0 * busy / staffed, 2)


def qualifies(
    agent_skills: Mapping[str, int],
    agent_capacity: Mapping[str, int],
    requirements: Iterable[tuple[str, int]],
    channels: Iterable[str],
) -> bool:
    """Whether an agent can serve a queue at its base requirements (overflow steps and call-up
    groups aside): every required skill at its level, and room on one of its channels."""
    if not any(agent_capacity.get(ch, 0) > 0 for ch in channels):
        return False
    return all(agent_skills.get(skill, 0) >= level for skill, level in requirements)
