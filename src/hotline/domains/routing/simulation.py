"""Discrete-event simulation of a contact center through the *production* routing engine.

A heap-ordered event loop owns a `ManualClock` and a `RoutingEngine` and plays the world
around the engine: callers arrive (Poisson, rate per interval of an arrival profile), wait,
abandon after a sampled patience unless connected, or ask for a callback; simulated agents log
in and out by their shifts, take breaks, answer offers after an answer delay, talk for a sampled
handle time and leave wrap-up after a sampled time (or let the engine's wrap-up maximum end it).
Every routing decision — who gets which contact, overflow steps, offer timeouts, max waits — is
the engine's own: the simulator only calls its public methods and reads the events it returns.

Time. Virtual time is integer microseconds since `Scenario.start`, the engine's own resolution,
so that a deadline derived here is exactly the engine's deadline. The engine's `tick()` is
called when something in it falls due, never on a fixed grid: the due times follow from its
events (an offer the agent will miss times out at its deadline, a wrap-up the agent does not
end itself ends at the queue's maximum, a waiting contact reaches its next overflow step or its
max wait), plus an optional slow housekeeping tick that only keeps the engine's timer heap
short. `simulate(..., check_ticks=True)` verifies that claim: before the clock moves on, a
`tick()` must find nothing due.

Measurement. Contacts arriving in `[warmup, duration)` are measured and followed to the end
(arrivals stop at `duration`; the run continues until every contact has left, at most
`drain_seconds` longer). Agent occupancy is measured over the same window. KPIs per queue:
offered, answered, abandoned, service level (the engine's live definition: answered within the
target over answered plus abandoned after it), ASA, AHT (talk plus wrap-up), occupancy, longest
wait; `simulation_report` aggregates them over seeds with t confidence intervals.

Pure: no I/O. The same seed gives the same result (random streams are seeded per seed, queue
and purpose, so scenario variants share their arrivals: common random numbers).
"""

from __future__ import annotations

import datetime as dt
import enum
import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any, Final

from hotline.core.clock import UTC, ManualClock
from hotline.core.errors import InvalidInput
from hotline.domains.routing import events as ev
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.events import EngineEvent
from hotline.domains.routing.model import (
    AgentState,
    Channel,
    MaxWaitAction,
    NotReadyReason,
    QueueConfig,
    is_eligible,
)

__all__ = [
    "DEFAULT_START",
    "ArrivalProfile",
    "Break",
    "CallbackPolicy",
    "Dist",
    "DistKind",
    "QueueKpis",
    "Scenario",
    "Shift",
    "SimAgent",
    "SimQueue",
    "SimulationError",
    "SimulationResult",
    "scenario_from_dict",
    "simulate",
    "team",
]

DEFAULT_START: Final = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SCHEDULE_APPROVER: Final = "schedule"  # approved_by of a logout at the end of a shift

_US_PER_S: Final = 1_000_000
_NEVER: Final = 1 << 62  # microseconds: later than any run


class _SimClock(ManualClock):
    """The simulation's ManualClock, set in integer microseconds since the start.

    The loop is single-threaded and only ever sets UTC times built from the start, so `now`
    needs neither the lock nor the timezone check of `ManualClock.set`.
    """

    def __init__(self, start: dt.datetime) -> None:
        super().__init__(start)
        self.start = self._now

    def now(self) -> dt.datetime:
        return self._now

    def set_us(self, us: int) -> None:
        """(The loop inlines this.)"""
        self._now = self.start + dt.timedelta(microseconds=us)


class SimulationError(Exception):
    """The simulation found the engine in a state it should not be in (a bug, not bad input)."""


def _rng(key: str) -> random.Random:
    """A random stream for one purpose; string seeds hash with SHA-512, stable across runs."""
    return random.Random(f"hotline-sim:{key}")  # noqa: S311 - a simulation, not secrets


def _us(seconds: float) -> int:
    return round(seconds * _US_PER_S)


def _check_number(value: object, what: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number", field=what)
    if value < 0 or (positive and value == 0):
        raise InvalidInput(f"{what} must be {'>' if positive else '>='} 0", field=what)
    return float(value)


# ============================================================================ inputs


class DistKind(enum.StrEnum):
    constant = "constant"
    exponential = "exponential"
    lognormal = "lognormal"
    gamma = "gamma"
    uniform = "uniform"


@dataclass(frozen=True, slots=True)
class Dist:
    """A non-negative distribution of seconds, given by its mean and coefficient of variation
    (standard deviation over mean). `exponential` has cv 1 and `constant` cv 0 whatever is
    given; `uniform` is symmetric around the mean, so its cv is at most 1/√3."""

    kind: DistKind
    mean: float
    cv: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DistKind(self.kind))
        _check_number(self.mean, "mean")
        _check_number(self.cv, "cv")
        if self.kind in (DistKind.lognormal, DistKind.gamma) and (self.mean == 0 or self.cv == 0):
            raise InvalidInput(f"a {self.kind.value} distribution needs mean > 0 and cv > 0")
        if self.kind is DistKind.uniform and self.cv > 1 / math.sqrt(3) + 1e-12:
            raise InvalidInput("a uniform distribution on [0, 2·mean] has cv at most 1/√3")

    @classmethod
    def constant(cls, value: float) -> Dist:
        return cls(DistKind.constant, value, 0.0)

    @classmethod
    def exponential(cls, mean: float) -> Dist:
        return cls(DistKind.exponential, mean, 1.0)

    @classmethod
    def lognormal(cls, mean: float, cv: float) -> Dist:
        return cls(DistKind.lognormal, mean, cv)

    @classmethod
    def gamma(cls, mean: float, cv: float) -> Dist:
        return cls(DistKind.gamma, mean, cv)

    @classmethod
    def uniform(cls, mean: float, cv: float) -> Dist:
        return cls(DistKind.uniform, mean, cv)

    @property
    def is_zero(self) -> bool:
        return self.mean == 0

    def sampler(self, rng: random.Random) -> Callable[[], float]:
        """A zero-argument function drawing one value from `rng`."""
        m = self.mean
        kind = self.kind
        if kind is DistKind.constant or m == 0:
            return itertools.repeat(float(m)).__next__
        if kind is DistKind.exponential:
            return partial(rng.expovariate, 1.0 / m)
        if kind is DistKind.lognormal:
            sigma2 = math.log1p(self.cv * self.cv)
            return partial(rng.lognormvariate, math.log(m) - sigma2 / 2, math.sqrt(sigma2))
        if kind is DistKind.gamma:
            shape = 1.0 / (self.cv * self.cv)
            return partial(rng.gammavariate, shape, m / shape)
        half = m * self.cv * math.sqrt(3.0)
        return partial(rng.uniform, m - half, m + half)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "mean": self.mean, "cv": self.cv}

    @classmethod
    def from_value(cls, value: Any, default: DistKind, what: str) -> Dist:
        """A number (mean of a `default` distribution) or {"kind", "mean", "cv"}."""
        if isinstance(value, Mapping):
            unknown = set(value) - {"kind", "mean", "cv", "value"}
            if unknown:
                raise InvalidInput(f"{what}: unknown key(s) {sorted(unknown)}", field=what)
            kind = DistKind(value.get("kind", default.value))
            mean = value.get("mean", value.get("value"))
            if mean is None:
                raise InvalidInput(f"{what}: a distribution needs a mean", field=what)
            cv = value.get("cv", 0.0 if kind is DistKind.constant else 1.0)
            return cls(kind, _check_number(mean, what), _check_number(cv, what))
        return cls(
            default, _check_number(value, what), 0.0 if default is DistKind.constant else 1.0
        )


@dataclass(frozen=True, slots=True)
class ArrivalProfile:
    """Expected calls per interval; arrivals within an interval are Poisson at that rate.
    No arrivals after the last interval."""

    calls: tuple[float, ...]
    interval_seconds: float = 1800.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "calls", tuple(float(c) for c in self.calls))
        _check_number(self.interval_seconds, "interval_seconds", positive=True)
        for c in self.calls:
            _check_number(c, "calls per interval")

    @classmethod
    def constant(
        cls, calls_per_interval: float, hours: float, interval_seconds: float = 1800.0
    ) -> ArrivalProfile:
        n = max(1, math.ceil(hours * 3600 / interval_seconds - 1e-9))
        return cls((calls_per_interval,) * n, interval_seconds)

    @classmethod
    def from_rate(
        cls, per_second: float, hours: float, interval_seconds: float = 1800.0
    ) -> ArrivalProfile:
        return cls.constant(per_second * interval_seconds, hours, interval_seconds)

    @property
    def duration_seconds(self) -> float:
        return len(self.calls) * self.interval_seconds

    def rate_at(self, seconds: float) -> float:
        """Arrivals per second at `seconds` after the start."""
        k = int(seconds // self.interval_seconds)
        return self.calls[k] / self.interval_seconds if 0 <= k < len(self.calls) else 0.0


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """A caller still waiting after `after_seconds` asks for a callback with `probability`
    (it then keeps its place in line and no longer abandons)."""

    after_seconds: float
    probability: float

    def __post_init__(self) -> None:
        _check_number(self.after_seconds, "callback.after_seconds")
        if not 0 <= _check_number(self.probability, "callback.probability") <= 1:
            raise InvalidInput("callback probability must be within 0–1")


@dataclass(frozen=True, slots=True)
class SimQueue:
    """A queue as configured in the engine plus the traffic it gets.

    `patience` None: callers never abandon. `wrap_up` None: the agent stays in wrap-up until
    the engine ends it after `config.wrap_up_seconds`; otherwise the agent ends it after the
    sampled time (capped by the engine at that maximum)."""

    config: QueueConfig
    arrivals: ArrivalProfile
    handle: Dist
    patience: Dist | None = None
    wrap_up: Dist | None = None
    callback: CallbackPolicy | None = None
    channel: Channel = Channel.voice
    contact_priority: int = 0

    def __post_init__(self) -> None:
        if self.channel not in self.config.channels:
            raise InvalidInput(
                f"queue {self.config.id!r} does not take {self.channel.value} contacts"
            )

    @property
    def id(self) -> str:
        return self.config.id


@dataclass(frozen=True, slots=True)
class Break:
    """Not ready with `reason` from `start_seconds` for `duration_seconds` (a break asked for
    while busy starts when the work is done and lasts its full length)."""

    start_seconds: float
    duration_seconds: float
    reason: NotReadyReason = NotReadyReason.break_

    def __post_init__(self) -> None:
        _check_number(self.start_seconds, "break start")
        _check_number(self.duration_seconds, "break duration", positive=True)


@dataclass(frozen=True, slots=True)
class Shift:
    """Logged in, ready, from `start_seconds`; at `end_seconds` the agent finishes its work
    and logs out (the logout is approved by the schedule)."""

    start_seconds: float
    end_seconds: float
    breaks: tuple[Break, ...] = ()

    def __post_init__(self) -> None:
        _check_number(self.start_seconds, "shift start")
        _check_number(self.end_seconds, "shift end")
        if self.end_seconds <= self.start_seconds:
            raise InvalidInput("a shift must end after it starts")
        for b in self.breaks:
            if not self.start_seconds <= b.start_seconds < self.end_seconds:
                raise InvalidInput("a break must start within its shift")


@dataclass(frozen=True, slots=True)
class SimAgent:
    """An agent; without shifts it is logged in and ready for the whole run."""

    id: str
    skills: Mapping[str, int]
    shifts: tuple[Shift, ...] = ()
    group: str | None = None
    capacity: Mapping[Channel, int] | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidInput("agent id must not be empty")
        last = -math.inf
        for s in sorted(self.shifts, key=lambda s: s.start_seconds):
            if s.start_seconds < last:
                raise InvalidInput(f"agent {self.id!r}: shifts overlap")
            last = s.end_seconds


def team(
    prefix: str,
    count: int,
    skills: Mapping[str, int],
    *,
    shifts: tuple[Shift, ...] = (),
    group: str | None = None,
) -> tuple[SimAgent, ...]:
    """`count` identical agents named prefix-0001, prefix-0002, …"""
    return tuple(
        SimAgent(f"{prefix}-{i:04d}", dict(skills), shifts, group) for i in range(1, count + 1)
    )


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to simulate. `duration_seconds` None: the longest arrival profile."""

    queues: tuple[SimQueue, ...]
    agents: tuple[SimAgent, ...]
    warmup_seconds: float = 0.0
    duration_seconds: float | None = None
    drain_seconds: float = 4 * 3600.0
    answer_delay: Dist = field(default_factory=lambda: Dist.constant(0.0))
    missed_ready_seconds: float = 10.0
    housekeeping_seconds: float | None = 60.0
    active_groups: frozenset[str] = frozenset()
    start: dt.datetime = DEFAULT_START

    def __post_init__(self) -> None:
        object.__setattr__(self, "queues", tuple(self.queues))
        object.__setattr__(self, "agents", tuple(self.agents))
        if not self.queues:
            raise InvalidInput("a scenario needs at least one queue")
        ids = [q.id for q in self.queues]
        if len(set(ids)) != len(ids):
            raise InvalidInput("queue ids must be unique")
        aids = [a.id for a in self.agents]
        if len(set(aids)) != len(aids):
            raise InvalidInput("agent ids must be unique")
        _check_number(self.warmup_seconds, "warmup_seconds")
        _check_number(self.drain_seconds, "drain_seconds")
        _check_number(self.missed_ready_seconds, "missed_ready_seconds")
        if self.duration_seconds is not None:
            _check_number(self.duration_seconds, "duration_seconds", positive=True)
        if self.housekeeping_seconds is not None:
            _check_number(self.housekeeping_seconds, "housekeeping_seconds", positive=True)
        if self.warmup_seconds >= self.horizon_seconds:
            raise InvalidInput("the warm-up must end before the arrivals do")
        if self.start.tzinfo is None:
            raise InvalidInput("start must be timezone-aware")

    @property
    def horizon_seconds(self) -> float:
        """When arrivals stop."""
        if self.duration_seconds is not None:
            return self.duration_seconds
        return max(q.arrivals.duration_seconds for q in self.queues)

    def queue_configs(self) -> list[QueueConfig]:
        return [q.config for q in self.queues]


# ============================================================================ results


@dataclass(frozen=True, slots=True)
class QueueKpis:
    """One run's figures for one queue (or all queues: id "*"), contacts arriving in the
    measurement window. Counts are exact; the derived KPIs are properties."""

    queue_id: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    removed: int = 0  # max wait reached with action "remove": left the engine unanswered
    unfinished: int = 0  # still waiting or offered when the run stopped
    waited: int = 0  # not offered on arrival (all agents busy)
    answered_within_target: int = 0
    abandoned_after_target: int = 0
    callbacks: int = 0
    callbacks_answered: int = 0
    overflowed: int = 0  # reached at least the first overflow step
    ended: int = 0  # answered contacts that ended (and whose wrap-up ended) in the run
    wait_answered_seconds: float = 0.0
    talk_seconds: float = 0.0
    wrap_seconds: float = 0.0
    longest_wait_seconds: float = 0.0
    agent_work_seconds: float = 0.0  # reserved + busy + wrap-up, eligible agents, window
    agent_ready_seconds: float = 0.0

    @property
    def p_wait(self) -> float:
        return self.waited / self.offered if self.offered else math.nan

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.offered if self.offered else math.nan

    @property
    def service_level(self) -> float:
        """Answered within target / (answered + abandoned after target): the engine's live
        definition (QueueStats), short abandons do not count."""
        denom = self.answered + self.abandoned_after_target
        return self.answered_within_target / denom if denom else math.nan

    @property
    def answered_in_target(self) -> float:
        """Answered within target / offered (Erlang A's service level, the strictest)."""
        return self.answered_within_target / self.offered if self.offered else math.nan

    @property
    def asa(self) -> float:
        """Average speed of answer (arrival to connection) of answered contacts, seconds."""
        return self.wait_answered_seconds / self.answered if self.answered else math.nan

    @property
    def aht(self) -> float:
        """Average handling time: talk plus wrap-up, seconds."""
        return (self.talk_seconds + self.wrap_seconds) / self.ended if self.ended else math.nan

    @property
    def occupancy(self) -> float:
        """Working time over working plus ready time of the agents eligible for the queue at
        stage 0 (not-ready time counts for neither), over the measurement window."""
        total = self.agent_work_seconds + self.agent_ready_seconds
        return self.agent_work_seconds / total if total else math.nan

    @property
    def accounted(self) -> int:
        """Every offered contact ends as exactly one of these."""
        return self.answered + self.abandoned + self.removed + self.unfinished


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """One run. `queues` in scenario order; `total` over all queues and all agents. The
    run-wide counters cover every arrival (warm-up included) and check that none is lost."""

    seed: int
    queues: tuple[QueueKpis, ...]
    total: QueueKpis
    arrivals: int
    answered: int
    abandoned: int
    removed: int
    unanswered_at_end: int  # still waiting or offered when the run stopped
    in_system_at_end: int  # the simulator's count: unanswered plus still connected
    engine_contacts_at_end: int  # the engine's own count, for cross-checking
    agents_logged_in_at_end: int
    end_seconds: float

    @property
    def lost(self) -> int:
        """Arrivals not accounted for as answered, abandoned, removed or unanswered (0)."""
        return self.arrivals - (
            self.answered + self.abandoned + self.removed + self.unanswered_at_end
        )

    def queue(self, queue_id: str) -> QueueKpis:
        for q in self.queues:
            if q.queue_id == queue_id:
                return q
        if queue_id == self.total.queue_id:
            return self.total
        raise KeyError(queue_id)


# ============================================================================ the simulator

# Event kinds of the heap. Entries are (time_us, seq, kind, a, b); seq is unique, so the
# payloads are never compared and equal times keep their scheduling order.
_ARRIVAL: Final = 0
_ACCEPT: Final = 1
_END: Final = 2
_ABANDON: Final = 3
_CALLBACK: Final = 4
_WRAP: Final = 5
_TICK: Final = 6
_STAGE: Final = 7
_MAXWAIT: Final = 8
_LOGIN: Final = 9
_SHIFT_END: Final = 10
_BREAK: Final = 11
_READY: Final = 12
_LOGOUT: Final = 13
_HOUSEKEEP: Final = 14

# Contact status codes of the simulator's mirror.
_W: Final = 0  # waiting
_O: Final = 1  # offered
_C: Final = 2  # connected

_S_READY: Final = AgentState.ready
_S_NOT_READY: Final = AgentState.not_ready
_S_RESERVED: Final = AgentState.reserved
_S_BUSY: Final = AgentState.busy
_S_WRAP: Final = AgentState.wrap_up
_S_OUT: Final = AgentState.logged_out
_MISSED: Final = NotReadyReason.missed


class _Q:
    """Runtime side of a simulated queue: samplers and the window's counters."""

    __slots__ = (
        "ab_after",
        "abandoned",
        "after_us",
        "ans_in",
        "answered",
        "arr_end",
        "arr_expo",
        "arr_rate",
        "callbacks",
        "calls",
        "cb_after_us",
        "cb_answered",
        "cb_p",
        "cb_rng",
        "channel",
        "ended",
        "handle",
        "id",
        "interval",
        "longest_us",
        "max_wait_us",
        "offer_us",
        "offered",
        "overflowed",
        "patience",
        "priority",
        "removed",
        "sl_us",
        "spec",
        "talk_us",
        "wait_us",
        "waited",
        "wrap",
        "wrap_max_us",
        "wrap_us",
    )

    def __init__(self, spec: SimQueue, seed: int) -> None:
        cfg = spec.config
        self.spec = spec
        self.id = cfg.id
        self.channel = spec.channel
        self.priority = spec.contact_priority
        self.sl_us = _us(cfg.service_level_seconds)
        self.offer_us = _us(cfg.offer_timeout_seconds)
        self.wrap_max_us = _us(cfg.wrap_up_seconds)
        self.after_us = [_us(s.after_seconds) for s in cfg.overflow]
        self.max_wait_us = None if cfg.max_wait_seconds is None else _us(cfg.max_wait_seconds)

        def rng(purpose: str) -> random.Random:
            return _rng(f"{seed}:{cfg.id}:{purpose}")

        self.arr_expo = rng("arrivals").expovariate
        self.arr_rate = 0.0
        self.arr_end = 0.0
        self.calls = spec.arrivals.calls
        self.interval = spec.arrivals.interval_seconds
        self.handle = spec.handle.sampler(rng("handle"))
        self.patience = None if spec.patience is None else spec.patience.sampler(rng("patience"))
        self.wrap = None if spec.wrap_up is None else spec.wrap_up.sampler(rng("wrap_up"))
        cb = spec.callback
        self.cb_after_us = None if cb is None else _us(cb.after_seconds)
        self.cb_p = 0.0 if cb is None else cb.probability
        self.cb_rng = rng("callback")
        self.offered = self.answered = self.abandoned = self.removed = self.waited = 0
        self.ans_in = self.ab_after = self.callbacks = self.cb_answered = 0
        self.overflowed = self.ended = 0
        self.wait_us = self.talk_us = self.wrap_us = self.longest_us = 0

    def next_arrival(self, after: float, horizon: float) -> float | None:
        """Next arrival time (seconds) after `after`: piecewise-constant Poisson (memoryless,
        so a draw crossing an interval boundary restarts there with the next rate). Leaves
        the rate and end of the interval it lands in in `arr_rate` and `arr_end`, for the
        loop's fast path (draw again at that rate while the draw stays before `arr_end`)."""
        length = self.interval
        calls = self.calls
        expo = self.arr_expo
        t = after
        while True:
            k = int(t // length)
            if k >= len(calls) or t >= horizon:
                self.arr_rate = 0.0
                return None
            end = min((k + 1) * length, horizon)
            n = calls[k]
            if n > 0:
                rate = n / length
                x = t + expo(rate)
                if x < end:
                    self.arr_rate = rate
                    self.arr_end = end
                    return x
            t = end


class _A:
    """The simulator's mirror of one agent, and its time accounting."""

    __slots__ = (
        "break_reason",
        "break_us",
        "eligible",
        "id",
        "leaving",
        "nr_token",
        "ready_us",
        "since",
        "snap",
        "spec",
        "state",
        "work_us",
        "wrap_q",
        "wrap_token",
        "wrap_win",
    )

    def __init__(self, spec: SimAgent, eligible: list[int]) -> None:
        self.spec = spec
        self.id = spec.id
        self.eligible = eligible  # indexes of the queues it serves at stage 0
        self.state = _S_OUT
        self.since = 0
        self.work_us = 0
        self.ready_us = 0
        self.nr_token = 0
        self.wrap_token = 0
        self.wrap_q: _Q | None = None
        self.wrap_win = False
        self.leaving = False
        self.break_us = 0
        self.break_reason: NotReadyReason | None = None
        self.snap = (0, 0)

    def totals_at(self, t: int) -> tuple[int, int]:
        """(work, ready) microseconds accumulated up to `t` (no state change since)."""
        d = t - self.since
        st = self.state
        if st is _S_BUSY or st is _S_RESERVED or st is _S_WRAP:
            return self.work_us + d, self.ready_us
        if st is _S_READY:
            return self.work_us, self.ready_us + d
        return self.work_us, self.ready_us


class _Call:
    __slots__ = ("agent", "arr", "cb", "conn", "id", "oid", "q", "status", "win")

    def __init__(self, cid: str, q: _Q, arr: int, win: bool) -> None:
        self.id = cid
        self.q = q
        self.arr = arr
        self.win = win
        self.status = _W
        self.oid = 0
        self.agent = ""
        self.conn = 0
        self.cb = False


def simulate(scenario: Scenario, seed: int, *, check_ticks: bool = False) -> SimulationResult:
    """Run `scenario` once with `seed`. `check_ticks`: before every clock move, assert that
    the engine has nothing due (slower; for tests)."""
    return _Run(scenario, seed, check_ticks).run()


class _Run:
    def __init__(self, scenario: Scenario, seed: int, check_ticks: bool) -> None:
        self.sc = scenario
        self.seed = seed
        self.check_ticks = check_ticks
        self.clock = _SimClock(scenario.start)
        self.engine = RoutingEngine(clock=self.clock, queues=scenario.queue_configs())
        self.qs = [_Q(q, seed) for q in scenario.queues]
        configs = {q.id: q.config for q in scenario.queues}
        self.agents: dict[str, _A] = {}
        for spec in scenario.agents:
            elig = [
                i
                for i, q in enumerate(scenario.queues)
                if is_eligible(
                    spec.skills, spec.group, q.config, 0, configs, scenario.active_groups
                )
            ]
            self.agents[spec.id] = _A(spec, elig)
        self.answer = scenario.answer_delay.sampler(_rng(f"{seed}:answer"))

    def run(self) -> SimulationResult:  # one flat loop on purpose: it is the hot path
        sc = self.sc
        engine = self.engine
        clock = self.clock
        qs = self.qs
        agents = self.agents
        answer = self.answer
        instant_answer = sc.answer_delay.is_zero
        horizon_s = sc.horizon_seconds
        horizon = _us(horizon_s)
        warm = _us(sc.warmup_seconds)
        stop = horizon + _us(sc.drain_seconds)
        missed_us = _us(sc.missed_ready_seconds)
        hk_us = None if sc.housekeeping_seconds is None else _us(sc.housekeeping_seconds)
        check_ticks = self.check_ticks
        clock_start = clock.start
        td = dt.timedelta
        heap: list[tuple[int, int, int, Any, Any]] = []
        push = heapq.heappush
        pop = heapq.heappop
        seq = itertools.count()
        calls: dict[str, _Call] = {}
        tick_at: set[int] = set()
        now = 0
        in_system = 0
        n_arrivals = n_answered = n_abandoned = n_removed = 0

        contact_offered = ev.ContactOffered
        state_changed = ev.AgentStateChanged
        contact_connected = ev.ContactConnected
        contact_ended = ev.ContactEnded
        contact_queued = ev.ContactQueued
        offer_back = (ev.OfferTimedOut, ev.OfferWithdrawn, ev.OfferDeclined)
        callback_requested = ev.CallbackRequested
        max_wait_exceeded = ev.ContactMaxWaitExceeded
        overflowed = ev.ContactOverflowed
        remove = MaxWaitAction.remove

        def schedule_tick(t: int) -> None:
            if t not in tick_at:
                tick_at.add(t)
                push(heap, (t, next(seq), _TICK, None, None))

        def process(engine_events: list[EngineEvent]) -> None:
            """Mirror what the engine did and schedule the world's reactions."""
            nonlocal in_system, n_answered, n_removed
            accepts: list[tuple[_Call, str, int]] | None = None
            evs: list[Any] = engine_events  # dispatched on the exact type below
            for e in evs:
                tp = type(e)
                if tp is state_changed:
                    a = agents[e.agent_id]
                    old = a.state
                    new = e.new
                    d = now - a.since
                    if old is _S_BUSY or old is _S_RESERVED:
                        a.work_us += d
                    elif old is _S_READY:
                        a.ready_us += d
                    elif old is _S_WRAP:
                        a.work_us += d
                        if a.wrap_win and a.wrap_q is not None:
                            a.wrap_q.wrap_us += d
                    a.since = now
                    a.state = new
                    if new is _S_WRAP:
                        a.wrap_token += 1
                        wq = a.wrap_q
                        assert wq is not None
                        wmax = wq.wrap_max_us
                        if wq.wrap is not None:
                            w = round(wq.wrap() * 1e6)
                            if w < wmax:
                                push(heap, (now + w, next(seq), _WRAP, a, a.wrap_token))
                                continue
                        schedule_tick(now + wmax)
                    elif new is _S_NOT_READY:
                        a.nr_token += 1
                        if a.leaving:
                            push(heap, (now, next(seq), _LOGOUT, a, None))
                        elif a.break_us and e.reason is a.break_reason:
                            push(heap, (now + a.break_us, next(seq), _READY, a, a.nr_token))
                            a.break_us = 0
                        elif e.reason is _MISSED:
                            push(heap, (now + missed_us, next(seq), _READY, a, a.nr_token))
                elif tp is contact_offered:
                    c = calls[e.contact_id]
                    c.status = _O
                    c.oid = e.offer_id
                    c.agent = e.agent_id
                    if instant_answer:
                        if accepts is None:
                            accepts = []
                        accepts.append((c, e.agent_id, e.offer_id))
                    else:
                        d = round(answer() * 1e6)
                        if d >= c.q.offer_us:  # the agent misses it: the engine times it out
                            schedule_tick(now + c.q.offer_us)
                        else:
                            push(heap, (now + d, next(seq), _ACCEPT, c, e.offer_id))
                elif tp is contact_connected:
                    c = calls[e.contact_id]
                    c.status = _C
                    c.conn = now
                    n_answered += 1
                    q = c.q
                    if c.win:
                        w = now - c.arr
                        q.answered += 1
                        q.wait_us += w
                        if w <= q.sl_us:
                            q.ans_in += 1
                        if w > q.longest_us:
                            q.longest_us = w
                        if c.cb:
                            q.cb_answered += 1
                    push(heap, (now + round(q.handle() * 1e6), next(seq), _END, c, None))
                elif tp is contact_ended:
                    c = calls.pop(e.contact_id)
                    in_system -= 1
                    a = agents[e.agent_id]
                    q = c.q
                    a.wrap_q = q
                    a.wrap_win = c.win
                    if c.win:
                        q.talk_us += now - c.conn
                        q.ended += 1
                elif tp is contact_queued:
                    pass
                elif tp in offer_back:
                    c = calls[e.contact_id]
                    if c.oid == e.offer_id:
                        c.status = _W
                elif tp is callback_requested:
                    c = calls[e.contact_id]
                    c.cb = True
                    if c.win:
                        c.q.callbacks += 1
                elif tp is max_wait_exceeded:
                    if e.action is remove:
                        c = calls.pop(e.contact_id)
                        in_system -= 1
                        n_removed += 1
                        if c.win:
                            q = c.q
                            q.removed += 1
                            w = now - c.arr
                            if w > q.longest_us:
                                q.longest_us = w
                elif tp is overflowed and e.stage == 1:
                    c = calls[e.contact_id]
                    if c.win:
                        c.q.overflowed += 1
            if accepts is not None:
                for c, aid, oid in accepts:
                    if c.status == _O and c.oid == oid:
                        process(engine.accept(c.id, aid))

        # --- the schedule: agents without shifts start ready; shifts and breaks as events
        for a in agents.values():
            spec = a.spec
            if not spec.shifts:
                push(heap, (0, next(seq), _LOGIN, a, None))
            for shift in spec.shifts:
                push(heap, (_us(shift.start_seconds), next(seq), _LOGIN, a, None))
                push(heap, (_us(shift.end_seconds), next(seq), _SHIFT_END, a, None))
                for b in shift.breaks:
                    push(heap, (_us(b.start_seconds), next(seq), _BREAK, a, b))
        for g in sorted(sc.active_groups):
            process(engine.set_group_active(g, True))
        for q in qs:
            first = q.next_arrival(0.0, horizon_s)
            if first is not None:
                push(heap, (_us(first), next(seq), _ARRIVAL, q, first))
        if hk_us is not None:
            push(heap, (hk_us, next(seq), _HOUSEKEEP, None, None))

        snaps = [warm, horizon]
        snap_at = snaps[0]
        snap_values: list[dict[str, tuple[int, int]]] = []

        def take_snapshot(t: int) -> None:
            snap_values.append({aid: a.totals_at(t) for aid, a in agents.items()})

        while heap:
            t = heap[0][0]
            if t >= snap_at:
                take_snapshot(snap_at)
                snap_at = snaps[len(snap_values)] if len(snap_values) < len(snaps) else _NEVER
                continue
            if t > stop or (t >= horizon and not in_system):
                break
            _, _, kind, x, y = pop(heap)
            if t != now:
                if check_ticks:
                    stale = engine.tick()
                    if stale:
                        raise SimulationError(
                            f"engine had work due at {now / _US_PER_S:.6f} s that the "
                            f"simulator did not tick: {stale}"
                        )
                now = t
                clock._now = clock_start + td(0, 0, t)  # positional: faster
            if kind == _ARRIVAL:
                q = x
                n_arrivals += 1
                cid = str(n_arrivals)
                c = _Call(cid, q, now, warm <= now < horizon)
                calls[cid] = c
                in_system += 1
                process(engine.enqueue(q.id, q.channel, contact_id=cid, priority=q.priority))
                if c.win:
                    q.offered += 1
                    if c.status == _W:
                        q.waited += 1
                if c.status != _C:
                    p = None
                    if q.patience is not None:
                        p = round(q.patience() * 1e6)
                        push(heap, (now + p, next(seq), _ABANDON, c, None))
                    if q.cb_after_us is not None and (p is None or p > q.cb_after_us):
                        push(heap, (now + q.cb_after_us, next(seq), _CALLBACK, c, None))
                    if q.after_us:
                        push(heap, (now + q.after_us[0], next(seq), _STAGE, c, 0))
                    if q.max_wait_us is not None:
                        push(heap, (now + q.max_wait_us, next(seq), _MAXWAIT, c, None))
                rate = q.arr_rate
                if rate:
                    nxt = y + q.arr_expo(rate)
                    if nxt >= q.arr_end:
                        nxt = q.next_arrival(q.arr_end, horizon_s)
                else:
                    nxt = q.next_arrival(y, horizon_s)
                if nxt is not None:
                    push(heap, (_us(nxt), next(seq), _ARRIVAL, q, nxt))
            elif kind == _END:
                process(engine.end_contact(x.id))
            elif kind == _ABANDON:
                c = x
                if c.status == _C or c.cb or calls.get(c.id) is not c:
                    continue
                process(engine.abandon(c.id))
                del calls[c.id]
                in_system -= 1
                n_abandoned += 1
                if c.win:
                    q = c.q
                    q.abandoned += 1
                    w = now - c.arr
                    if w > q.sl_us:
                        q.ab_after += 1
                    if w > q.longest_us:
                        q.longest_us = w
            elif kind == _ACCEPT:
                c = x
                if c.status == _O and c.oid == y and calls.get(c.id) is c:
                    process(engine.accept(c.id, c.agent))
            elif kind == _TICK:
                tick_at.discard(t)
                process(engine.tick())
            elif kind == _WRAP:
                a = x
                if a.state is _S_WRAP and a.wrap_token == y:
                    process(engine.finish_wrap_up(a.id))
            elif kind == _CALLBACK:
                c = x
                q = c.q
                if (
                    c.status == _W
                    and not c.cb
                    and calls.get(c.id) is c
                    and q.cb_rng.random() < q.cb_p
                ):
                    process(engine.request_callback(c.id))
            elif kind == _STAGE:
                c = x
                if calls.get(c.id) is c and c.status != _C:
                    process(engine.tick())
                    k = y + 1
                    q = c.q
                    if k < len(q.after_us):
                        push(heap, (c.arr + q.after_us[k], next(seq), _STAGE, c, k))
            elif kind == _MAXWAIT:
                c = x
                if calls.get(c.id) is c and c.status != _C and not c.cb:
                    process(engine.tick())
            elif kind == _HOUSEKEEP:
                process(engine.tick())
                if hk_us is not None and (now < horizon or in_system):
                    push(heap, (now + hk_us, next(seq), _HOUSEKEEP, None, None))
            elif kind == _LOGIN:
                a = x
                if a.leaving:  # still finishing the previous shift: stay on
                    a.leaving = False
                    if a.state is not _S_OUT and a.state is not _S_WRAP:
                        process(engine.set_ready(a.id))
                if a.state is _S_OUT:
                    a.leaving = False
                    spec = a.spec
                    process(
                        engine.login(
                            a.id,
                            skills=spec.skills,
                            capacity=spec.capacity,
                            group=spec.group,
                            ready=True,
                        )
                    )
            elif kind == _SHIFT_END:
                a = x
                if a.state is not _S_OUT:
                    a.leaving = True
                    if a.state is _S_NOT_READY:
                        process(engine.logout(a.id, approved_by=SCHEDULE_APPROVER))
                    else:
                        process(engine.set_not_ready(a.id, NotReadyReason.other))
            elif kind == _LOGOUT:
                a = x
                if a.leaving and a.state is _S_NOT_READY:
                    process(engine.logout(a.id, approved_by=SCHEDULE_APPROVER))
            elif kind == _BREAK:
                a = x
                if a.state is not _S_OUT and not a.leaving:
                    a.break_us = _us(y.duration_seconds)
                    a.break_reason = y.reason
                    process(engine.set_not_ready(a.id, y.reason))
            elif kind == _READY:
                a = x
                if a.nr_token == y and a.state is _S_NOT_READY and not a.leaving:
                    process(engine.set_ready(a.id))
        while len(snap_values) < len(snaps):
            take_snapshot(max(now, snaps[len(snap_values)]))

        return self._result(calls, snap_values, now, n_arrivals, n_answered, n_abandoned,
                            n_removed, in_system)  # fmt: skip

    def _result(
        self,
        calls: Mapping[str, _Call],
        snaps: Sequence[Mapping[str, tuple[int, int]]],
        end: int,
        arrivals: int,
        answered: int,
        abandoned: int,
        removed: int,
        in_system: int,
    ) -> SimulationResult:
        qs = self.qs
        unfinished = [0] * len(qs)
        longest = [q.longest_us for q in qs]
        index = {id(q): i for i, q in enumerate(qs)}
        for c in calls.values():
            if c.win and c.status != _C:
                i = index[id(c.q)]
                unfinished[i] += 1
                longest[i] = max(longest[i], end - c.arr)
        work = [0] * len(qs)
        ready = [0] * len(qs)
        all_work = all_ready = 0
        s0, s1 = snaps[0], snaps[1]
        for aid, a in self.agents.items():
            w = s1[aid][0] - s0[aid][0]
            r = s1[aid][1] - s0[aid][1]
            all_work += w
            all_ready += r
            for i in a.eligible:
                work[i] += w
                ready[i] += r
        sec = 1 / _US_PER_S
        kpis = tuple(
            QueueKpis(
                queue_id=q.id,
                offered=q.offered,
                answered=q.answered,
                abandoned=q.abandoned,
                removed=q.removed,
                unfinished=unfinished[i],
                waited=q.waited,
                answered_within_target=q.ans_in,
                abandoned_after_target=q.ab_after,
                callbacks=q.callbacks,
                callbacks_answered=q.cb_answered,
                overflowed=q.overflowed,
                ended=q.ended,
                wait_answered_seconds=q.wait_us * sec,
                talk_seconds=q.talk_us * sec,
                wrap_seconds=q.wrap_us * sec,
                longest_wait_seconds=longest[i] * sec,
                agent_work_seconds=work[i] * sec,
                agent_ready_seconds=ready[i] * sec,
            )
            for i, q in enumerate(qs)
        )
        total = _combine(kpis, all_work * sec, all_ready * sec)
        return SimulationResult(
            seed=self.seed,
            queues=kpis,
            total=total,
            arrivals=arrivals,
            answered=answered,
            abandoned=abandoned,
            removed=removed,
            unanswered_at_end=sum(1 for c in calls.values() if c.status != _C),
            in_system_at_end=in_system,
            engine_contacts_at_end=len(self.engine.contacts()),
            agents_logged_in_at_end=sum(1 for a in self.agents.values() if a.state is not _S_OUT),
            end_seconds=end * sec,
        )


_SUM_FIELDS: Final = tuple(
    f.name
    for f in fields(QueueKpis)
    if f.name
    not in ("queue_id", "longest_wait_seconds", "agent_work_seconds", "agent_ready_seconds")
)


def _combine(kpis: Iterable[QueueKpis], work: float, ready: float) -> QueueKpis:
    items = list(kpis)
    sums: dict[str, Any] = {name: sum(getattr(k, name) for k in items) for name in _SUM_FIELDS}
    return QueueKpis(
        queue_id="*",
        longest_wait_seconds=max((k.longest_wait_seconds for k in items), default=0.0),
        agent_work_seconds=work,
        agent_ready_seconds=ready,
        **sums,
    )


# ============================================================================ scenario files

_QUEUE_CONFIG_KEYS: Final = frozenset(f.name for f in fields(QueueConfig))
_SIM_QUEUE_KEYS: Final = frozenset(
    {
        "calls_per_interval",
        "rate_per_hour",
        "interval_minutes",
        "aht",
        "patience",
        "wrap_up",
        "callback",
        "channel",
        "contact_priority",
    }
)
_SCENARIO_KEYS: Final = frozenset(
    {
        "hours",
        "interval_minutes",
        "warmup_minutes",
        "drain_minutes",
        "answer_delay",
        "missed_ready_seconds",
        "housekeeping_seconds",
        "active_groups",
        "start",
        "queues",
        "agents",
    }
)


def _unknown(data: Mapping[str, Any], known: frozenset[str], what: str) -> None:
    extra = set(data) - known
    if extra:
        raise InvalidInput(f"{what}: unknown key(s) {sorted(extra)}", field=what)


def scenario_from_dict(data: Mapping[str, Any]) -> Scenario:
    """Build a scenario from plain data (a JSON file). Times are in minutes unless the key
    says seconds; distributions are a number or {"kind", "mean", "cv"}:

        {"hours": 8, "interval_minutes": 30, "warmup_minutes": 30, "answer_delay": 2,
         "queues": [{"id": "sales", "skills": [["sales", 1]], "wrap_up_seconds": 30,
                     "overflow": [{"kind": "add_queue_agents", "after_seconds": 60,
                                   "queue_id": "support"}],
                     "calls_per_interval": [80, 120, 150], "aht": 240,
                     "patience": {"kind": "exponential", "mean": 180}, "wrap_up": 15,
                     "callback": {"after_seconds": 90, "probability": 0.3}}],
         "agents": [{"id": "s", "count": 12, "skills": {"sales": 5},
                     "shifts": [{"start_minutes": 0, "end_minutes": 240,
                                 "breaks": [{"start_minutes": 120, "minutes": 15}]}]}]}

    A queue takes every `QueueConfig` key (see `QueueConfig.to_dict`) plus its traffic:
    `calls_per_interval` (a list, or one number for every interval) or `rate_per_hour`;
    `aht` and `patience` (a bare number: exponential), `wrap_up` (a bare number: constant;
    omitted: the engine's `wrap_up_seconds` ends it), `callback`. `answer_delay` (bare
    number: constant). An agent entry with `count` makes that many agents id-0001, id-0002…
    """
    _unknown(data, _SCENARIO_KEYS, "scenario")
    interval = _check_number(data.get("interval_minutes", 30), "interval_minutes", positive=True)
    hours = data.get("hours")
    queues = []
    for qd in data.get("queues", ()):
        _unknown(qd, _QUEUE_CONFIG_KEYS | _SIM_QUEUE_KEYS, f"queue {qd.get('id')!r}")
        cfg = QueueConfig.from_dict({k: v for k, v in qd.items() if k in _QUEUE_CONFIG_KEYS})
        q_interval = 60 * _check_number(
            qd.get("interval_minutes", interval), "interval_minutes", positive=True
        )
        q_hours = 8.0 if hours is None else _check_number(hours, "hours", positive=True)
        if "calls_per_interval" in qd and "rate_per_hour" in qd:
            raise InvalidInput(f"queue {cfg.id!r}: give calls_per_interval or rate_per_hour")
        if "rate_per_hour" in qd:
            rate = _check_number(qd["rate_per_hour"], "rate_per_hour")
            profile = ArrivalProfile.from_rate(rate / 3600, q_hours, q_interval)
        else:
            cpi = qd.get("calls_per_interval")
            if cpi is None:
                raise InvalidInput(f"queue {cfg.id!r} needs calls_per_interval or rate_per_hour")
            if isinstance(cpi, list | tuple):
                profile = ArrivalProfile(tuple(cpi), q_interval)
            else:
                profile = ArrivalProfile.constant(
                    _check_number(cpi, "calls_per_interval"), q_hours, q_interval
                )
        if "aht" not in qd:
            raise InvalidInput(f"queue {cfg.id!r} needs an aht")
        cb = qd.get("callback")
        queues.append(
            SimQueue(
                config=cfg,
                arrivals=profile,
                handle=Dist.from_value(qd["aht"], DistKind.exponential, "aht"),
                patience=None
                if qd.get("patience") is None
                else Dist.from_value(qd["patience"], DistKind.exponential, "patience"),
                wrap_up=None
                if qd.get("wrap_up") is None
                else Dist.from_value(qd["wrap_up"], DistKind.constant, "wrap_up"),
                callback=None
                if cb is None
                else CallbackPolicy(cb.get("after_seconds", 60.0), cb.get("probability", 1.0)),
                channel=Channel(qd.get("channel", "voice")),
                contact_priority=qd.get("contact_priority", 0),
            )
        )
    agents: list[SimAgent] = []
    for ad in data.get("agents", ()):
        _unknown(ad, frozenset({"id", "count", "skills", "shifts", "group", "capacity"}), "agent")
        shifts = tuple(_shift_from_dict(s) for s in ad.get("shifts", ()))
        capacity = ad.get("capacity")
        cap = None if capacity is None else {Channel(k): v for k, v in capacity.items()}
        count = ad.get("count")
        if count is None:
            agents.append(
                SimAgent(ad["id"], dict(ad.get("skills", {})), shifts, ad.get("group"), cap)
            )
        else:
            for i in range(1, int(count) + 1):
                agents.append(
                    SimAgent(
                        f"{ad['id']}-{i:04d}",
                        dict(ad.get("skills", {})),
                        shifts,
                        ad.get("group"),
                        cap,
                    )
                )
    start = data.get("start")
    return Scenario(
        queues=tuple(queues),
        agents=tuple(agents),
        warmup_seconds=60 * _check_number(data.get("warmup_minutes", 0), "warmup_minutes"),
        duration_seconds=None if hours is None else 3600 * float(hours),
        drain_seconds=60 * _check_number(data.get("drain_minutes", 240), "drain_minutes"),
        answer_delay=Dist.from_value(
            data.get("answer_delay", 0), DistKind.constant, "answer_delay"
        ),
        missed_ready_seconds=data.get("missed_ready_seconds", 10.0),
        housekeeping_seconds=data.get("housekeeping_seconds", 60.0),
        active_groups=frozenset(data.get("active_groups", ())),
        start=DEFAULT_START if start is None else dt.datetime.fromisoformat(start),
    )


def _shift_from_dict(data: Mapping[str, Any]) -> Shift:
    _unknown(data, frozenset({"start_minutes", "end_minutes", "breaks"}), "shift")
    breaks = []
    for b in data.get("breaks", ()):
        _unknown(b, frozenset({"start_minutes", "minutes", "reason"}), "break")
        breaks.append(
            Break(
                60 * _check_number(b["start_minutes"], "break start_minutes"),
                60 * _check_number(b["minutes"], "break minutes"),
                NotReadyReason(b.get("reason", "break")),
            )
        )
    return Shift(
        60 * _check_number(data["start_minutes"], "start_minutes"),
        60 * _check_number(data["end_minutes"], "end_minutes"),
        tuple(breaks),
    )
