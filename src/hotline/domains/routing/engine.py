"""The routing engine (ACD): one in-memory index of every waiting contact and every agent.

Pure and deterministic: time comes from the injected clock (or `tick(now)`), nothing is random,
every tie is broken by a total order (times in integer microseconds, then sequence numbers or
ids), and the engine never does I/O. Each mutating method returns the events it caused.

Invariant kept after every public call ("distribution never halts"): no waiting contact has an
eligible agent with room for it. Every operation that can create such a pair marks the agent
(it became available) or the contact (it entered a line or reached a new overflow stage) as
dirty, and `_finish` matches them: dirty agents first, each taking the best contact it may
serve; then dirty contacts in line order, each taking the best agent by its queue's strategy.

Indexes, so that a decision does not scan agents (its cost hardly depends on their number):
- per queue, channel and "entry stage" (the first overflow stage at which the agent becomes
  eligible), a sorted run of offerable agents ordered by the queue's strategy key. A contact
  at stage s looks at the heads of the runs for stages 0..s. Entries are invalidated lazily:
  each agent has a version, bumped on every change, and an entry is live only if its version
  matches. A run is a sorted list plus a head index rather than a heap because its keys end
  with "idle since" (= now when pushed): pushes are nearly always appends and dropping a dead
  head is `head += 1`, where a heap would pay O(log n) tuple comparisons for each. An agent
  that becomes ready is first matched against what waits and pushed only if still free.
- per queue, channel and stage, a sorted run of waiting contacts ordered by (effective
  priority, enqueue time, seq). Linear ageing keeps that order fixed over time: priority
  p + r·(now − t0) ranks like p − r·t0, so the key never changes while the contact waits.
- one timer heap for overflow steps and max waits (and anything out of order). Offer deadlines
  and wrap-up ends are now + a fixed duration, so they arrive in time order: they go to a FIFO
  per duration (an append, where a heap push pays O(log n)), and `tick` moves the due ones that
  are still live into the heap before processing it, so timers fire in exactly the heap's
  order. Most of them die young (an offer accepted, a wrap-up ended early): they are dropped
  when due, or when a FIFO outgrows what can be live, without ever entering the heap.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, Final

from hotline.core.clock import UTC, Clock, require_utc
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.core.ids import new_id
from hotline.domains.routing import events as ev
from hotline.domains.routing.events import EngineEvent
from hotline.domains.routing.model import (
    EXCLUSIVE_CHANNELS,
    LEGAL_TRANSITIONS,
    MAX_PRIORITY,
    OFFERABLE_STATES,
    ActivateGroup,
    AddQueueAgents,
    Agent,
    AgentState,
    Channel,
    Contact,
    ContactStatus,
    MaxWaitAction,
    NotReadyReason,
    QueueConfig,
    QueueState,
    QueueStats,
    Strategy,
    check_transition,
    validate_capacity,
    validate_priority,
    validate_skills,
)

__all__ = ["SNAPSHOT_FORMAT", "RoutingEngine"]

SNAPSHOT_FORMAT: Final = 1

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = dt.timedelta(microseconds=1)

_heappush = heapq.heappush
_heappop = heapq.heappop
_insort = bisect.insort
_LEGAL: Final = dict(LEGAL_TRANSITIONS)  # a plain dict: faster than the read-only proxy

_READY: Final = AgentState.ready
_NOT_READY: Final = AgentState.not_ready
_RESERVED: Final = AgentState.reserved
_BUSY: Final = AgentState.busy
_WRAP_UP: Final = AgentState.wrap_up
_LOGGED_OUT: Final = AgentState.logged_out
_WAITING: Final = ContactStatus.waiting
_OFFERED: Final = ContactStatus.offered
_CONNECTED: Final = ContactStatus.connected

# Timer kinds; the number also orders timers due in the same microsecond.
_T_OFFER: Final = 0
_T_WRAP: Final = 1
_T_STAGE: Final = 2
_T_MAXWAIT: Final = 3

# Hot events are built with the faster constructors (same objects; see events.builder).
_AgentStateChanged: Final = ev.builder(ev.AgentStateChanged)
_AgentNotReadyPending: Final = ev.builder(ev.AgentNotReadyPending)
_ContactQueued: Final = ev.builder(ev.ContactQueued)
_ContactOffered: Final = ev.builder(ev.ContactOffered)
_ContactConnected: Final = ev.builder(ev.ContactConnected)
_ContactEnded: Final = ev.builder(ev.ContactEnded)
_ContactAbandoned: Final = ev.builder(ev.ContactAbandoned)
_OfferTimedOut: Final = ev.builder(ev.OfferTimedOut)
_OfferDeclined: Final = ev.builder(ev.OfferDeclined)
_ContactOverflowed: Final = ev.builder(ev.ContactOverflowed)
_ContactMaxWaitExceeded: Final = ev.builder(ev.ContactMaxWaitExceeded)

_STRATEGY_CODE: Final = {
    Strategy.longest_idle: 0,
    Strategy.most_skilled: 1,
    Strategy.round_robin: 2,
    Strategy.least_occupied: 3,
}

# Entries. Agents: (k0, k1, k2, agent_id, version, agent); contacts: (-score0, enq_us, seq, id,
# version, contact). The id (or seq) breaks every tie, so the trailing object is never compared:
# it only saves a lookup. Timers: (due_us, kind, object_id, token).
_AEntry = tuple[int, int, int, str, int, "_Agent"]
_CEntry = tuple[float, int, int, str, int, "_Contact"]
_Timer = tuple[int, int, str, int]


def _to_us(value: dt.datetime) -> int:
    return (value - _EPOCH) // _US


def _from_us(us: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=us)


def _opt_from_us(us: int | None) -> dt.datetime | None:
    return None if us is None else _from_us(us)


def _secs_to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


class _Run:
    """A sorted list of agent entries; entries before `head` are consumed."""

    __slots__ = ("head", "items")

    def __init__(self) -> None:
        self.items: list[_AEntry] = []
        self.head = 0


class _CRun:
    """A sorted list of waiting-contact entries; entries before `head` are consumed."""

    __slots__ = ("head", "items")

    def __init__(self) -> None:
        self.items: list[_CEntry] = []
        self.head = 0


class _Queue:
    """Runtime side of a queue: its config, heaps, counters."""

    __slots__ = (
        "abandoned",
        "abandoned_after",
        "acap",
        "addq_at",
        "after_us",
        "answered",
        "answered_in",
        "aruns",
        "catch0",
        "cfg",
        "cheaps",
        "clive",
        "groups_at",
        "id",
        "max_wait_us",
        "members",
        "nstages",
        "offer_fifo",
        "offer_td",
        "offer_us",
        "prio",
        "rate",
        "req_at",
        "rr",
        "rr_last",
        "sl_us",
        "strategy",
        "waiting",
        "wrap_fifo",
        "wrap_us",
    )

    def __init__(self, cfg: QueueConfig, state: QueueState | None) -> None:
        self.cfg = cfg
        self.id = cfg.id
        n = cfg.stages
        self.nstages = n
        self.after_us = [_secs_to_us(s.after_seconds) for s in cfg.overflow]
        self.catch0 = bool(self.after_us) and self.after_us[0] <= 0  # a step applies on arrival
        # Per stage: skill floors, groups activated, queues whose agents are added
        # (precomputed so that eligibility at login is cheap; same rule as model.is_eligible).
        self.req_at = [tuple(cfg.requirements_at(k).items()) for k in range(n)]
        self.groups_at = [
            frozenset(s.group for s in cfg.overflow[:k] if isinstance(s, ActivateGroup))
            for k in range(n)
        ]
        self.addq_at = [
            tuple(s.queue_id for s in cfg.overflow[:k] if isinstance(s, AddQueueAgents))
            for k in range(n)
        ]
        chans = [c for c in Channel if c in cfg.channels]
        self.aruns: dict[Channel, list[_Run]] = {c: [_Run() for _ in range(n)] for c in chans}
        self.cheaps: dict[Channel, list[_CRun]] = {c: [_CRun() for _ in range(n)] for c in chans}
        self.clive: dict[Channel, list[int]] = {c: [0] * n for c in chans}
        self.members = [0] * n  # logged-in agents per entry stage (for heap compaction)
        self.acap = [64] * n
        self.waiting = 0
        self.prio = cfg.priority
        self.rate = cfg.ageing_per_minute / 60_000_000  # priority points per microsecond
        self.offer_us = _secs_to_us(cfg.offer_timeout_seconds)
        self.offer_td = dt.timedelta(microseconds=self.offer_us)
        self.wrap_us = _secs_to_us(cfg.wrap_up_seconds)
        mw = cfg.max_wait_seconds
        self.max_wait_us = None if mw is None else _secs_to_us(mw)
        self.sl_us = _secs_to_us(cfg.service_level_seconds)
        self.strategy = _STRATEGY_CODE[cfg.strategy]
        st = state or QueueState(cfg.id)
        self.answered = st.answered
        self.answered_in = st.answered_within_target
        self.abandoned = st.abandoned
        self.abandoned_after = st.abandoned_after_target
        self.rr = st.rr_counter
        self.rr_last: dict[str, int] = dict(st.rr_last)
        # The engine's timer runs for offer deadlines and wrap-up ends (set by _install_queue).
        self.offer_fifo: deque[_Timer] = deque()
        self.wrap_fifo: deque[_Timer] = deque()

    def state(self) -> QueueState:
        return QueueState(
            queue_id=self.id,
            answered=self.answered,
            answered_within_target=self.answered_in,
            abandoned=self.abandoned,
            abandoned_after_target=self.abandoned_after,
            rr_counter=self.rr,
            rr_last={k: self.rr_last[k] for k in sorted(self.rr_last)},
        )


class _Agent:
    __slots__ = (
        "capacity",
        "chans",
        "connected",
        "elig",
        "excl",
        "group",
        "handled_us",
        "id",
        "idle_us",
        "load",
        "pending",
        "reason",
        "seat",
        "since_us",
        "skills",
        "state",
        "total",
        "version",
        "work",
        "wrap_seq",
        "wrap_until_us",
    )

    def __init__(
        self,
        agent_id: str,
        skills: dict[str, int],
        capacity: dict[Channel, int],
        group: str | None,
        seat: str | None,
        now_us: int,
    ) -> None:
        self.id = agent_id
        self.skills = skills
        self.capacity = capacity
        self.chans = [ch for ch, n in capacity.items() if n]
        self.group = group
        self.seat = seat
        self.state = _LOGGED_OUT
        self.since_us = now_us
        self.reason: NotReadyReason | None = None
        self.pending: NotReadyReason | None = None
        self.idle_us = now_us
        self.wrap_until_us: int | None = None
        self.wrap_seq = 0
        self.handled_us = 0
        self.work: list[str] = []  # offered and connected contact ids, oldest first
        self.load: dict[Channel, int] = dict.fromkeys(Channel, 0)
        self.total = 0
        self.excl = 0  # load on exclusive channels
        self.connected = 0
        self.version = 0
        self.elig: list[tuple[_Queue, int, int]] = []  # (queue, entry stage, skill score)


class _Contact:
    __slots__ = (
        "agent",
        "callback",
        "channel",
        "connected_us",
        "deadline_us",
        "enq_us",
        "entered_us",
        "epoch",
        "id",
        "in_list",
        "offer_id",
        "offered_us",
        "priority",
        "queue",
        "seq",
        "stage",
        "status",
        "version",
    )

    def __init__(
        self,
        contact_id: str,
        channel: Channel,
        queue: str,
        priority: int,
        enq_us: int,
        entered_us: int,
        callback: bool,
        seq: int,
    ) -> None:
        self.id = contact_id
        self.channel = channel
        self.queue = queue
        self.priority = priority
        self.enq_us = enq_us
        self.entered_us = entered_us
        self.callback = callback
        self.seq = seq
        self.status = _WAITING
        self.stage = 0
        self.agent: str | None = None
        self.offer_id: int | None = None
        self.offered_us: int | None = None
        self.deadline_us: int | None = None
        self.connected_us: int | None = None
        self.version = 0
        self.epoch = 0  # bumped when the contact changes queue: stale step/max-wait timers
        self.in_list = False


def _channel(value: str) -> Channel:
    try:
        return Channel(value)
    except ValueError as exc:
        raise InvalidInput(f"unknown channel {value!r}", field="channel") from exc


def _not_found(kind: str, ident: str) -> NotFound:
    return NotFound(
        f"{kind} {ident!r} not found",
        key=f"errors.routing.{kind}_not_found",
        params={"id": ident},
    )


class RoutingEngine:
    """Matches waiting contacts of every channel to agents. See the module docstring."""

    def __init__(self, *, clock: Clock, queues: Iterable[QueueConfig] = ()) -> None:
        self._clock = clock
        self._agents: dict[str, _Agent] = {}
        self._contacts: dict[str, _Contact] = {}
        self._queues: dict[str, _Queue] = {}
        self._configs: dict[str, QueueConfig] = {}
        self._qorder: list[_Queue] = []
        self._active_groups: set[str] = set()
        self._incident = False
        self._incident_note: str | None = None
        self._timers: list[_Timer] = []
        self._fifos: dict[int, deque[_Timer]] = {}  # offer and wrap-up timers by duration
        self._fifo_cap = 1024  # compact a FIFO beyond this length (see _compact_fifo)
        self._seq = 0
        self._offer_seq = 0
        self._waiting = 0
        self._full_match = False
        self._generation = 0
        # Scratch of the operation in progress.
        self._now_us = 0
        self._at = _EPOCH
        self._ev: list[EngineEvent] = []
        self._da: list[_Agent] = []
        self._dc: list[_Contact] = []
        self._defer: list[tuple[_Agent, int]] = []
        configs = list(queues)
        if configs:
            self._check_refs(configs)
            for cfg in configs:
                self._install_queue(cfg, None)

    # ------------------------------------------------------------------ queues and flags

    def upsert_queue(self, config: QueueConfig) -> list[EngineEvent]:
        """Create or replace a queue. Indexes are rebuilt; waiting contacts keep their place."""
        self._check_refs([config])
        stranded = sorted(
            {c.channel.value for c in self._contacts.values() if c.queue == config.id}
            - {ch.value for ch in config.channels}
        )
        if stranded:
            raise Conflict(
                f"queue {config.id!r} holds {', '.join(stranded)} contacts its new "
                "configuration would not take; move them first",
                key="errors.routing.queue_channels_in_use",
                params={"queue_id": config.id, "channels": stranded},
            )
        self._begin()
        self._install_queue(config, self._queues[config.id].state() if self._has(config) else None)
        self._ev.append(ev.QueueConfigured(self._at, config.id))
        self._reindex_everything()
        return self._finish()

    def remove_queue(self, queue_id: str) -> list[EngineEvent]:
        """Remove a queue that holds no contacts and is no other queue's overflow target."""
        q = self._queue(queue_id)
        if any(c.queue == queue_id for c in self._contacts.values()):
            raise Conflict(
                f"queue {queue_id!r} still holds contacts; move or end them first",
                key="errors.routing.queue_not_empty",
                params={"queue_id": queue_id},
            )
        for other in self._qorder:
            for step in other.cfg.overflow:
                if isinstance(step, AddQueueAgents) and step.queue_id == queue_id:
                    raise Conflict(
                        f"queue {other.id!r} overflows to {queue_id!r}; change it first",
                        key="errors.routing.queue_referenced",
                        params={"queue_id": queue_id, "by": other.id},
                    )
        self._begin()
        for a in self._agents.values():
            if any(e[0] is q for e in a.elig):
                self._drop_elig(a)
        del self._queues[queue_id]
        del self._configs[queue_id]
        self._qorder = [self._queues[k] for k in sorted(self._queues)]
        self._ev.append(ev.QueueRemoved(self._at, queue_id))
        self._reindex_everything()
        return self._finish()

    def set_group_active(self, group: str, active: bool) -> list[EngineEvent]:
        """Activate (or stand down) a call-up group for every queue."""
        if not group:
            raise InvalidInput("group must not be empty", field="group")
        if (group in self._active_groups) == active:
            return []
        self._begin()
        if active:
            self._active_groups.add(group)
        else:
            self._active_groups.discard(group)
        self._ev.append(ev.GroupActivationChanged(self._at, group, active))
        for aid in sorted(self._agents):
            a = self._agents[aid]
            if a.group == group and a.state is not _LOGGED_OUT:
                self._compute_elig(a)
                self._index(a)
        self._dc.extend(self._waiting_contacts())
        return self._finish()

    def set_incident(self, active: bool, note: str | None = None) -> list[EngineEvent]:
        """Raise or clear the incident flag; while raised, logouts need an approver (R-D6)."""
        note = note if active else None
        if active == self._incident and note == self._incident_note:
            return []
        self._begin()
        self._incident = active
        self._incident_note = note
        self._ev.append(ev.IncidentFlagChanged(self._at, active, note))
        return self._finish()

    # ------------------------------------------------------------------ agents

    def login(
        self,
        agent_id: str,
        *,
        skills: Mapping[str, int],
        capacity: Mapping[Channel, int] | None = None,
        seat: str | None = None,
        group: str | None = None,
        ready: bool = False,
        reason: NotReadyReason = NotReadyReason.login,
    ) -> list[EngineEvent]:
        """Log an agent in, ready or not ready. Skills are levels 1–10; capacity defaults
        to one voice contact. Conflict if already logged in."""
        if not agent_id:
            raise InvalidInput("agent id must not be empty", field="agent_id")
        sk = validate_skills(skills)
        cap = validate_capacity({Channel.voice: 1} if capacity is None else capacity)
        a = self._agents.get(agent_id)
        if a is not None and a.state is not _LOGGED_OUT:
            raise Conflict(
                f"agent {agent_id!r} is already logged in ({a.state.value})",
                key="errors.routing.already_logged_in",
                params={"agent_id": agent_id, "state": a.state.value},
            )
        self._begin()
        now = self._now_us
        if a is None:
            a = _Agent(agent_id, sk, cap, group, seat, now)
            self._agents[agent_id] = a
        else:
            a.skills, a.capacity, a.group, a.seat = sk, cap, group, seat
            a.chans = [c for c, n in cap.items() if n]
        a.handled_us = 0
        a.idle_us = now
        if ready:
            self._set_state(a, _READY, None)
        else:
            self._set_state(a, _NOT_READY, reason)
        self._compute_elig(a)
        self._index(a)
        self._da.append(a)
        return self._finish()

    def set_ready(self, agent_id: str) -> list[EngineEvent]:
        """Make an agent available (also ends wrap-up early, or cancels a pending not-ready)."""
        a = self._agent(agent_id)
        st = a.state
        if st is _LOGGED_OUT:
            raise self._logged_out(a)
        if st is _READY or (st in (_RESERVED, _BUSY) and a.pending is None):
            return []
        self._begin()
        if st is _NOT_READY or st is _WRAP_UP:
            a.wrap_until_us = None
            a.pending = None
            a.idle_us = self._now_us
            self._set_state(a, _READY, None)
            a.version += 1  # fresh entries are pushed in _finish if it stays free
            self._defer.append((a, a.version))
        else:
            a.pending = None
            self._ev.append(_AgentNotReadyPending(self._at, a.id, None))
            self._index(a)
        self._da.append(a)
        return self._finish()

    def set_not_ready(
        self, agent_id: str, reason: NotReadyReason = NotReadyReason.break_
    ) -> list[EngineEvent]:
        """Make an agent unavailable with a reason. An agent holding contacts stays busy and
        goes not-ready when its work is done (a pending not-ready; no new offers meanwhile)."""
        a = self._agent(agent_id)
        try:
            reason = NotReadyReason(reason)
        except ValueError as exc:
            raise InvalidInput(f"unknown not-ready reason {reason!r}", field="reason") from exc
        st = a.state
        if st is _LOGGED_OUT:
            raise self._logged_out(a)
        if st is _RESERVED or st is _BUSY:
            if a.pending == reason:
                return []
            self._begin()
            a.pending = reason
            self._ev.append(_AgentNotReadyPending(self._at, a.id, reason))
        else:
            if st is _NOT_READY and a.reason == reason:
                return []
            self._begin()
            a.wrap_until_us = None
            a.pending = None
            self._set_state(a, _NOT_READY, reason)
        self._index(a)
        return self._finish()

    def finish_wrap_up(self, agent_id: str) -> list[EngineEvent]:
        """End wrap-up: ready, or not-ready if the agent asked for it while busy."""
        a = self._agent(agent_id)
        if a.state is not _WRAP_UP:
            raise Conflict(
                f"agent {agent_id!r} is not in wrap-up ({a.state.value})",
                key="errors.routing.not_in_wrap_up",
                params={"agent_id": agent_id, "state": a.state.value},
            )
        self._begin()
        a.wrap_until_us = None
        self._become_available(a)
        return self._finish()

    def logout(self, agent_id: str, *, approved_by: str | None = None) -> list[EngineEvent]:
        """Log an agent out. Refused while it holds connected contacts. Refused without
        `approved_by` while contacts wait in its queues or the incident flag is set (R-D6).
        Pending offers go back to their place in line."""
        a = self._agent(agent_id)
        if a.state is _LOGGED_OUT:
            raise Conflict(
                f"agent {agent_id!r} is not logged in",
                key="errors.routing.not_logged_in",
                params={"agent_id": agent_id},
            )
        if a.connected:
            raise Conflict(
                f"agent {agent_id!r} is handling {a.connected} contact(s); "
                "end or transfer them before logging out",
                key="errors.routing.logout_busy",
                params={"agent_id": agent_id, "contacts": a.connected},
            )
        if approved_by is None:
            if self._incident:
                raise Conflict(
                    f"incident flag is set ({self._incident_note or 'no note'}); "
                    f"logging out agent {agent_id!r} needs approved_by",
                    key="errors.routing.logout_needs_approval",
                    params={"agent_id": agent_id, "cause": "incident"},
                )
            busy_queues = [q.id for q, k, _ in a.elig if k == 0 and q.waiting]
            if busy_queues:
                raise Conflict(
                    f"contacts are waiting in queue(s) {', '.join(busy_queues)}; "
                    f"logging out agent {agent_id!r} needs approved_by",
                    key="errors.routing.logout_needs_approval",
                    params={"agent_id": agent_id, "cause": "waiting", "queues": busy_queues},
                )
        self._begin()
        for cid in list(a.work):
            self._return_offer(self._contacts[cid], a, "agent_logged_out")
        a.pending = None
        a.wrap_until_us = None
        self._set_state(a, _LOGGED_OUT, None, approved_by)
        self._drop_elig(a)
        self._index(a)
        return self._finish()

    def change_seat(self, agent_id: str, seat: str | None) -> list[EngineEvent]:
        """Move a logged-in agent to another seat; its state does not change. Returns one
        AgentSeatChanged, the record with the time."""
        a = self._agent(agent_id)
        if a.state is _LOGGED_OUT:
            raise self._logged_out(a)
        self._begin()
        old, a.seat = a.seat, seat
        self._ev.append(ev.AgentSeatChanged(self._at, a.id, old, seat))
        return self._finish()

    def set_capacity(self, agent_id: str, channel: Channel, capacity: int) -> list[EngineEvent]:
        """Set how many contacts of `channel` the agent may hold at once (0 = none)."""
        a = self._agent(agent_id)
        ch = _channel(channel)
        cap = validate_capacity({**a.capacity, ch: capacity})
        self._begin()
        a.capacity = cap
        a.chans = [c for c, n in cap.items() if n]
        self._ev.append(ev.AgentCapacityChanged(self._at, a.id, ch, capacity))
        self._index(a)
        self._da.append(a)
        return self._finish()

    def set_skills(self, agent_id: str, skills: Mapping[str, int]) -> list[EngineEvent]:
        """Replace an agent's skills (levels 1–10); eligibility is recomputed at once."""
        a = self._agent(agent_id)
        sk = validate_skills(skills)
        self._begin()
        a.skills = sk
        self._ev.append(ev.AgentSkillsChanged(self._at, a.id, tuple(sk.items())))
        if a.state is not _LOGGED_OUT:
            self._compute_elig(a)
            self._index(a)
            self._da.append(a)
        return self._finish()

    # ------------------------------------------------------------------ contacts

    def enqueue(
        self,
        queue_id: str,
        channel: Channel,
        *,
        contact_id: str | None = None,
        priority: int = 0,
        callback: bool = False,
    ) -> list[EngineEvent]:
        """Put a contact in line (higher priority = more urgent). It is offered at once if
        an eligible agent has room. The first event is its ContactQueued (with its id)."""
        q = self._queues.get(queue_id)
        if q is None:
            raise _not_found("queue", queue_id)
        ch = channel if type(channel) is Channel else _channel(channel)
        if ch not in q.aruns:
            raise InvalidInput(
                f"queue {queue_id!r} does not take {ch.value} contacts",
                key="errors.routing.channel_not_in_queue",
                params={"queue_id": queue_id, "channel": ch.value},
                field="channel",
            )
        if type(priority) is not int or not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
            validate_priority(priority)
        cid = contact_id or new_id()
        if cid in self._contacts:
            raise Conflict(
                f"contact {cid!r} is already in the engine",
                key="errors.routing.duplicate_contact",
                params={"id": cid},
            )
        self._begin()
        now = self._now_us
        self._seq += 1
        c = _Contact(cid, ch, queue_id, priority, now, now, bool(callback), self._seq)
        self._contacts[cid] = c
        self._ev.append(_ContactQueued(self._at, cid, queue_id, ch, priority, c.callback, c.seq))
        if q.catch0:
            self._catch_up(c, q)  # a step after 0 s applies on arrival
        a = self._find_agent(c, q)
        if a is not None:
            self._offer(c, a, q)
        else:
            self._list_add(c, q)
            self._schedule(c, q)
        return self._ev  # nothing here makes another agent or contact dirty

    def accept(self, contact_id: str, agent_id: str) -> list[EngineEvent]:
        """The agent accepts its offer: the contact is connected, the agent busy."""
        c = self._contacts.get(contact_id)
        if c is None:
            raise _not_found("contact", contact_id)
        if c.status is not _OFFERED or c.agent != agent_id:
            raise self._not_offered(c, agent_id)
        a = self._agents[agent_id]
        q = self._queues[c.queue]
        self._begin()
        now = self._now_us
        at = self._at
        c.status = _CONNECTED
        c.connected_us = now
        c.deadline_us = None
        a.connected += 1
        q.answered += 1
        if now - c.entered_us <= q.sl_us:
            q.answered_in += 1
        events = self._ev
        events.append(_ContactConnected(at, contact_id, agent_id, q.id, (now - c.enq_us) / 1e6))
        if a.state is _RESERVED:  # reserved -> busy is always legal
            a.state = _BUSY
            a.since_us = now
            a.reason = None
            events.append(_AgentStateChanged(at, agent_id, _RESERVED, _BUSY, None, None))
        return events

    def decline(self, contact_id: str, agent_id: str) -> list[EngineEvent]:
        """The agent declines: the contact goes back to its place in line (its original
        enqueue time, so ahead of everyone who came later), the agent to not-ready(missed)."""
        c = self._contact(contact_id)
        if c.status is not _OFFERED or c.agent != agent_id:
            raise self._not_offered(c, agent_id)
        self._begin()
        self._return_offer(c, self._agents[agent_id], "declined")
        return self._finish()

    def end_contact(self, contact_id: str) -> list[EngineEvent]:
        """A connected contact ends. With no other work the agent goes to wrap-up for at most
        the queue's wrap-up time (or straight to ready if that time is 0)."""
        c = self._contacts.get(contact_id)
        if c is None:
            raise _not_found("contact", contact_id)
        if c.status is not _CONNECTED or c.agent is None or c.connected_us is None:
            raise Conflict(
                f"contact {contact_id!r} is {c.status.value}, not connected; "
                "use abandon for a contact that was never connected",
                key="errors.routing.not_connected",
                params={"id": contact_id, "status": c.status.value},
            )
        a = self._agents[c.agent]
        q = self._queues[c.queue]
        self._begin()
        handled = self._now_us - c.connected_us
        a.handled_us += handled
        self._ev.append(_ContactEnded(self._at, c.id, a.id, q.id, handled / 1_000_000))
        self._release(a, c)
        del self._contacts[c.id]
        self._after_work(a, q)
        return self._finish()

    def abandon(self, contact_id: str) -> list[EngineEvent]:
        """The customer gave up before being connected: the contact leaves the engine."""
        c = self._contact(contact_id)
        if c.status is _CONNECTED:
            raise Conflict(
                f"contact {contact_id!r} is connected; use end_contact",
                key="errors.routing.already_connected",
                params={"id": contact_id},
            )
        q = self._queues[c.queue]
        self._begin()
        now = self._now_us
        if c.status is _OFFERED and c.agent is not None:
            self._return_offer(c, self._agents[c.agent], "abandoned", requeue=False)
        if c.in_list:
            self._list_remove(c, q)
        q.abandoned += 1
        if now - c.entered_us > q.sl_us:
            q.abandoned_after += 1
        del self._contacts[c.id]
        self._ev.append(_ContactAbandoned(self._at, c.id, q.id, (now - c.enq_us) / 1_000_000))
        return self._finish()

    def move_to_queue(
        self, contact_id: str, queue_id: str, *, keep_place: bool = True
    ) -> list[EngineEvent]:
        """Move a waiting contact to another queue, or transfer a connected one back into a
        queue (its agent goes to wrap-up). With `keep_place` the contact keeps its original
        enqueue time, hence its place among later arrivals; overflow steps and max wait
        count from now."""
        c = self._contact(contact_id)
        q2 = self._queue(queue_id)
        if c.channel not in q2.aruns:
            raise InvalidInput(
                f"queue {queue_id!r} does not take {c.channel.value} contacts",
                key="errors.routing.channel_not_in_queue",
                params={"queue_id": queue_id, "channel": c.channel.value},
            )
        if c.status is _OFFERED:
            raise Conflict(
                f"contact {contact_id!r} is being offered to agent {c.agent!r}; "
                "wait for the answer or the timeout",
                key="errors.routing.being_offered",
                params={"id": contact_id},
            )
        if c.status is _WAITING and c.queue == queue_id:
            raise Conflict(
                f"contact {contact_id!r} already waits in queue {queue_id!r}",
                key="errors.routing.same_queue",
                params={"id": contact_id},
            )
        q1 = self._queues[c.queue]
        self._begin()
        now = self._now_us
        agent: _Agent | None = None
        if c.status is _CONNECTED and c.agent is not None and c.connected_us is not None:
            agent = self._agents[c.agent]
            agent.handled_us += now - c.connected_us
            self._release(agent, c)
            c.status = _WAITING
            c.agent = None
            c.offer_id = c.offered_us = c.deadline_us = c.connected_us = None
        elif c.in_list:
            self._list_remove(c, q1)
        c.queue = queue_id
        c.entered_us = now
        c.epoch += 1
        c.stage = 0
        if not keep_place:
            self._seq += 1
            c.seq = self._seq
            c.enq_us = now
        self._ev.append(
            ev.ContactMoved(
                self._at, c.id, q1.id, q2.id, keep_place, None if agent is None else agent.id
            )
        )
        if agent is not None:
            self._after_work(agent, q1)
        self._catch_up(c, q2)
        self._list_add(c, q2)
        self._schedule(c, q2)
        self._dc.append(c)
        return self._finish()

    def transfer_to_agent(self, contact_id: str, agent_id: str) -> list[EngineEvent]:
        """Hand a connected contact straight to another agent (a blind transfer): it is offered
        to `agent_id` at once, whatever that agent's skills, if it has room for the channel.
        The first agent goes to wrap-up (or stays busy with its other work). Events: a
        ContactMoved within the same queue with `from_agent_id`, then the ContactOffered. If
        the target declines or lets the offer time out, the contact returns to its place in
        its queue; overflow steps and max wait count from the transfer, as after a move."""
        c = self._contact(contact_id)
        if c.status is not _CONNECTED or c.agent is None or c.connected_us is None:
            raise Conflict(
                f"contact {contact_id!r} is {c.status.value}, not connected; only a connected "
                "contact can be transferred to an agent",
                key="errors.routing.not_connected",
                params={"id": contact_id, "status": c.status.value},
            )
        if c.agent == agent_id:
            raise Conflict(
                f"contact {contact_id!r} is already with agent {agent_id!r}",
                key="errors.routing.same_agent",
                params={"id": contact_id, "agent_id": agent_id},
            )
        target = self._agent(agent_id)
        if c.channel not in self._spare(target):
            raise Conflict(
                f"agent {agent_id!r} cannot take a {c.channel.value} contact now "
                f"({target.state.value})",
                key="errors.routing.agent_unavailable",
                params={"agent_id": agent_id, "state": target.state.value},
            )
        q = self._queues[c.queue]
        self._begin()
        now = self._now_us
        a = self._agents[c.agent]
        a.handled_us += now - c.connected_us
        self._release(a, c)
        c.status = _WAITING
        c.agent = None
        c.offer_id = c.offered_us = c.deadline_us = c.connected_us = None
        c.entered_us = now
        c.epoch += 1
        c.stage = 0
        self._ev.append(ev.ContactMoved(self._at, c.id, q.id, q.id, True, a.id))
        self._after_work(a, q)
        self._offer(c, target, q)
        return self._finish()

    def change_priority(self, contact_id: str, priority: int) -> list[EngineEvent]:
        """Change a contact's base priority; a waiting contact is re-placed in line."""
        c = self._contact(contact_id)
        validate_priority(priority)
        if c.priority == priority:
            return []
        self._begin()
        old = c.priority
        if c.in_list:
            q = self._queues[c.queue]
            self._list_remove(c, q)
            c.priority = priority
            self._list_add(c, q)
        else:
            c.priority = priority
        self._ev.append(ev.ContactPriorityChanged(self._at, c.id, old, priority))
        return self._finish()

    def request_callback(self, contact_id: str) -> list[EngineEvent]:
        """The caller hangs up but keeps its place: the contact stays in line as a callback
        (exempt from max wait) and is offered like any other when it reaches the head."""
        c = self._contact(contact_id)
        if c.status is not _WAITING:
            raise Conflict(
                f"contact {contact_id!r} is {c.status.value}; only a waiting contact "
                "can become a callback",
                key="errors.routing.callback_not_waiting",
                params={"id": contact_id, "status": c.status.value},
            )
        if c.callback:
            return []
        self._begin()
        c.callback = True
        self._ev.append(ev.CallbackRequested(self._at, c.id, c.queue))
        return self._finish()

    # ------------------------------------------------------------------ time

    def tick(self, now: dt.datetime | None = None) -> list[EngineEvent]:
        """Process everything due by `now` (default: the clock): offer timeouts (contact back
        in its place, agent not-ready(missed)), wrap-up ends, overflow steps, max waits."""
        self._begin(None if now is None else require_utc(now))
        now_us = self._now_us
        if self._full_match:
            self._full_match = False
            self._dc.extend(self._waiting_contacts())
        timers = self._timers
        contacts = self._contacts
        live = self._timer_live
        for fifo in self._fifos.values():
            while fifo and fifo[0][0] <= now_us:
                t = fifo.popleft()
                if live(t):
                    _heappush(timers, t)
        while timers and timers[0][0] <= now_us:
            _, kind, oid, token = _heappop(timers)
            if kind == _T_OFFER:
                c = contacts.get(oid)
                if c is not None and c.status is _OFFERED and c.offer_id == token:
                    assert c.agent is not None
                    self._return_offer(c, self._agents[c.agent], "timeout")
            elif kind == _T_WRAP:
                a = self._agents.get(oid)
                if a is not None and a.state is _WRAP_UP and a.wrap_seq == token:
                    a.wrap_until_us = None
                    self._become_available(a)
            else:
                c = contacts.get(oid)
                if c is None or c.status is not _WAITING or c.epoch != token:
                    continue
                q = self._queues[c.queue]
                if kind == _T_STAGE:
                    # Same integer test as _catch_up: the next stage timer is then strictly
                    # later than now, so this loop always ends.
                    if c.stage < q.nstages - 1 and q.after_us[c.stage] <= now_us - c.entered_us:
                        self._list_remove(c, q)
                        self._catch_up(c, q)
                        self._list_add(c, q)
                        self._schedule(c, q, max_wait=False)
                        self._dc.append(c)
                elif (
                    not c.callback
                    and q.max_wait_us is not None
                    and now_us - c.entered_us >= q.max_wait_us
                ):
                    self._max_wait(c, q)
        return self._finish()

    # ------------------------------------------------------------------ queries

    def agent(self, agent_id: str) -> Agent:
        """One agent as plain data."""
        return self._agent_view(self._agent(agent_id))

    def agents(self) -> list[Agent]:
        """All agents the engine knows (logged-out ones too), by id."""
        return [self._agent_view(self._agents[k]) for k in sorted(self._agents)]

    def contact(self, contact_id: str) -> Contact:
        """One contact as plain data."""
        return self._contact_view(self._contact(contact_id))

    def contacts(self) -> list[Contact]:
        """All contacts in the engine (waiting, offered, connected), by sequence."""
        return [self._contact_view(c) for c in sorted(self._contacts.values(), key=_by_seq)]

    def waiting(self, queue_id: str) -> list[Contact]:
        """The waiting contacts of a queue in line order (next to be served first)."""
        q = self._queue(queue_id)
        now = _to_us(self._clock.now())
        line = [c for c in self._contacts.values() if c.queue == q.id and c.in_list]
        line.sort(key=lambda c: self._rank(c, q, now))
        return [self._contact_view(c) for c in line]

    def queue(self, queue_id: str) -> QueueConfig:
        """A queue's configuration."""
        return self._queue(queue_id).cfg

    def queues(self) -> list[QueueConfig]:
        """All queue configurations, by id."""
        return [q.cfg for q in self._qorder]

    def queue_stats(self, queue_id: str) -> QueueStats:
        """Live figures of a queue (waiting, longest wait, service level so far)."""
        q = self._queue(queue_id)
        now = _to_us(self._clock.now())
        mine = [c for c in self._contacts.values() if c.queue == q.id]
        waits = [now - c.entered_us for c in mine if c.status is _WAITING]
        denom = q.answered + q.abandoned_after
        return QueueStats(
            queue_id=q.id,
            waiting=len(waits),
            offered=sum(1 for c in mine if c.status is _OFFERED),
            connected=sum(1 for c in mine if c.status is _CONNECTED),
            longest_wait_seconds=max(waits, default=0) / 1_000_000,
            answered=q.answered,
            answered_within_target=q.answered_in,
            abandoned=q.abandoned,
            service_level_percent=None if denom == 0 else 100.0 * q.answered_in / denom,
            service_level_target_percent=q.cfg.service_level_percent,
        )

    def queue_state(self, queue_id: str) -> QueueState:
        """A queue's counters that must survive a restart (the application stores them)."""
        return self._queue(queue_id).state()

    @property
    def generation(self) -> int:
        """Counts operations that may have changed the state (queries do not count). A caller
        that persists the engine's events compares it before and after a failed transaction
        to know whether memory may be ahead of storage (then it rebuilds)."""
        return self._generation

    def load(self, agent_id: str) -> dict[Channel, int]:
        """Offered plus connected contacts per channel for one agent."""
        a = self._agent(agent_id)
        return {c: n for c, n in a.load.items() if n}

    def work(self, agent_id: str) -> list[str]:
        """Ids of the contacts offered to or connected with an agent, oldest first."""
        return list(self._agent(agent_id).work)

    @property
    def active_groups(self) -> frozenset[str]:
        """Call-up groups activated for every queue."""
        return frozenset(self._active_groups)

    @property
    def incident_active(self) -> bool:
        """Whether the incident flag is set."""
        return self._incident

    @property
    def waiting_count(self) -> int:
        """Number of waiting contacts over all queues."""
        return self._waiting

    # ------------------------------------------------------------------ snapshot / rebuild

    def snapshot(self) -> dict[str, Any]:
        """The whole state as plain, JSON-compatible data (sorted: equal states, equal dicts)."""
        return {
            "format": SNAPSHOT_FORMAT,
            "incident": self._incident,
            "incident_note": self._incident_note,
            "active_groups": sorted(self._active_groups),
            "next_seq": self._seq,
            "next_offer_id": self._offer_seq,
            "queues": [q.cfg.to_dict() for q in self._qorder],
            "queue_states": [q.state().to_dict() for q in self._qorder],
            "agents": [a.to_dict() for a in self.agents()],
            "contacts": [c.to_dict() for c in self.contacts()],
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any], *, clock: Clock) -> RoutingEngine:
        """Rebuild an engine from `snapshot()` output. Call `tick()` once afterwards."""
        if data.get("format") != SNAPSHOT_FORMAT:
            raise InvalidInput(f"unsupported routing snapshot format {data.get('format')!r}")
        return cls.rebuild(
            clock=clock,
            queues=[QueueConfig.from_dict(d) for d in data["queues"]],
            agents=[Agent.from_dict(d) for d in data["agents"]],
            contacts=[Contact.from_dict(d) for d in data["contacts"]],
            queue_states=[QueueState.from_dict(d) for d in data.get("queue_states", ())],
            active_groups=data.get("active_groups", ()),
            incident=data.get("incident", False),
            incident_note=data.get("incident_note"),
            next_seq=data.get("next_seq", 0),
            next_offer_id=data.get("next_offer_id", 0),
        )

    @classmethod
    def rebuild(
        cls,
        *,
        clock: Clock,
        queues: Iterable[QueueConfig],
        agents: Iterable[Agent],
        contacts: Iterable[Contact],
        queue_states: Iterable[QueueState] = (),
        active_groups: Iterable[str] = (),
        incident: bool = False,
        incident_note: str | None = None,
        next_seq: int = 0,
        next_offer_id: int = 0,
    ) -> RoutingEngine:
        """Rebuild from stored agents and contacts (e.g. at start from the database).

        Minimal input is enough: `Agent(id, skills, state=..., state_since=...)` and
        `Contact(id, channel, queue_id, enqueued_at)`; contacts without `seq` are numbered
        by (enqueued_at, id). Inconsistent data (a busy agent without a connected contact,
        an offer to a logged-out agent...) raises InvalidInput. No matching happens here:
        call `tick()` once afterwards, which offers whatever can be offered.
        """
        eng = cls(clock=clock, queues=queues)
        for st in queue_states:
            if st.queue_id in eng._queues:
                eng._install_queue(eng._queues[st.queue_id].cfg, st)
        eng._active_groups = set(active_groups)
        eng._incident = incident
        eng._incident_note = incident_note if incident else None
        eng._begin()
        now = eng._now_us
        for ag in sorted(agents, key=lambda x: x.id):
            eng._restore_agent(ag, now)
        cs = sorted(contacts, key=lambda x: (x.seq is None, x.seq or 0, x.enqueued_at, x.id))
        top = max([next_seq, *(c.seq for c in cs if c.seq is not None)])
        seen_seq: set[int] = set()
        for item in cs:
            seq = item.seq
            if seq is None:
                top += 1
                seq = top
            if seq in seen_seq:
                raise InvalidInput(f"two contacts share seq {seq}")
            seen_seq.add(seq)
            eng._restore_contact(item, seq, now)
        eng._seq = top
        eng._offer_seq = max([next_offer_id, *(c.offer_id or 0 for c in eng._contacts.values())])
        for c in sorted(eng._contacts.values(), key=_by_seq):
            if c.status is _OFFERED and c.offer_id is None:
                eng._offer_seq += 1
                c.offer_id = eng._offer_seq
        for aid in sorted(eng._agents):
            eng._finish_restore_agent(eng._agents[aid])
        for c in sorted(eng._contacts.values(), key=_by_seq):
            q = eng._queues[c.queue]
            if c.status is _WAITING:
                eng._list_add(c, q)
                eng._schedule(c, q)
            elif c.status is _OFFERED:
                assert c.deadline_us is not None and c.offer_id is not None
                _heappush(eng._timers, (c.deadline_us, _T_OFFER, c.id, c.offer_id))
        eng._ev = []
        eng._full_match = True
        return eng

    # ================================================================== internals

    def _begin(self, now: dt.datetime | None = None) -> None:
        self._generation += 1
        t = self._clock.now() if now is None else now
        if t is not self._at:  # a manual clock hands out the same object until it moves
            self._at = t
            self._now_us = (t - _EPOCH) // _US
        self._ev = []
        # Reused when the last operation left them empty (the usual case): no allocation.
        if self._da or self._dc or self._defer:
            self._da = []
            self._dc = []
            self._defer = []

    def _finish(self) -> list[EngineEvent]:
        """Match what the operation made dirty; see the module docstring for why it suffices."""
        if self._da:
            for a in self._da:
                if self._waiting:
                    self._match_agent(a)
        if self._defer:
            for a, version in self._defer:
                if a.version == version:  # untouched since it became ready
                    self._index(a)
            self._defer = []
        if self._dc:
            now = self._now_us
            contacts = self._contacts
            todo = {c.id: c for c in self._dc if c.in_list and contacts.get(c.id) is c}
            line = sorted(todo.values(), key=lambda c: self._rank(c, self._queues[c.queue], now))
            for c in line:
                if c.in_list:
                    q = self._queues[c.queue]
                    best = self._find_agent(c, q)
                    if best is not None:
                        self._offer(c, best, q)
        return self._ev

    def _timer_live(self, t: _Timer) -> bool:
        """Whether an offer or wrap-up timer would still act (the same tests as `tick`)."""
        _, kind, oid, token = t
        if kind == _T_OFFER:
            c = self._contacts.get(oid)
            return c is not None and c.status is _OFFERED and c.offer_id == token
        a = self._agents.get(oid)
        return a is not None and a.state is _WRAP_UP and a.wrap_seq == token

    def _compact_fifo(self, fifo: deque[_Timer]) -> None:
        # At most one live timer per contact (its offer) and per agent (its wrap-up), so the
        # cap keeps dead entries at most about half of a FIFO; amortised O(1) per append.
        live = [t for t in fifo if self._timer_live(t)]
        fifo.clear()
        fifo.extend(live)
        self._fifo_cap = 2 * (len(self._contacts) + len(self._agents)) + 1024

    @staticmethod
    def _rank(c: _Contact, q: _Queue, now_us: int) -> tuple[float, int, int]:
        # Lower is served first: minus the effective priority now, then FIFO.
        return (q.rate * c.enq_us - (c.priority + q.prio) - q.rate * now_us, c.enq_us, c.seq)

    # --- lookups and errors

    def _agent(self, agent_id: str) -> _Agent:
        a = self._agents.get(agent_id)
        if a is None:
            raise _not_found("agent", agent_id)
        return a

    def _contact(self, contact_id: str) -> _Contact:
        c = self._contacts.get(contact_id)
        if c is None:
            raise _not_found("contact", contact_id)
        return c

    def _queue(self, queue_id: str) -> _Queue:
        q = self._queues.get(queue_id)
        if q is None:
            raise _not_found("queue", queue_id)
        return q

    def _has(self, cfg: QueueConfig) -> bool:
        return cfg.id in self._queues

    @staticmethod
    def _logged_out(a: _Agent) -> Conflict:
        return Conflict(
            f"agent {a.id!r} is logged out; log in first",
            key="errors.routing.not_logged_in",
            params={"agent_id": a.id},
        )

    @staticmethod
    def _not_offered(c: _Contact, agent_id: str) -> Conflict:
        return Conflict(
            f"contact {c.id!r} is not offered to agent {agent_id!r} "
            f"(it is {c.status.value}{'' if c.agent is None else ' with ' + repr(c.agent)})",
            key="errors.routing.not_offered",
            params={"id": c.id, "agent_id": agent_id, "status": c.status.value},
        )

    def _check_refs(self, configs: list[QueueConfig]) -> None:
        known = set(self._queues) | {c.id for c in configs}
        for cfg in configs:
            for step in cfg.overflow:
                if isinstance(step, AddQueueAgents) and step.queue_id not in known:
                    raise InvalidInput(
                        f"queue {cfg.id!r} overflows to unknown queue {step.queue_id!r}",
                        key="errors.routing.unknown_overflow_queue",
                        params={"queue_id": cfg.id, "target": step.queue_id},
                    )

    # --- queues

    def _install_queue(self, cfg: QueueConfig, state: QueueState | None) -> None:
        old = self._queues.get(cfg.id)
        q = _Queue(cfg, state)
        fifos = self._fifos
        q.offer_fifo = fifos.setdefault(q.offer_us, deque())
        q.wrap_fifo = fifos.setdefault(q.wrap_us, deque())
        if old is not None:
            # The old heaps go away; contacts are re-added by _reindex_everything.
            self._waiting -= old.waiting
            for c in self._contacts.values():
                if c.queue == cfg.id and c.in_list:
                    c.in_list = False
                    c.version += 1
        self._queues[cfg.id] = q
        self._configs[cfg.id] = cfg
        self._qorder = [self._queues[k] for k in sorted(self._queues)]

    def _reindex_everything(self) -> None:
        """After a queue change: recompute every eligibility, re-place every contact."""
        now = self._now_us
        for q in self._qorder:
            q.members = [0] * q.nstages
            q.acap = [64] * q.nstages
        for aid in sorted(self._agents):
            a = self._agents[aid]
            a.elig = []
            if a.state is not _LOGGED_OUT:
                self._compute_elig(a)
            self._index(a)
        for c in sorted(self._contacts.values(), key=_by_seq):
            q = self._queues[c.queue]
            if c.status is _WAITING:
                if c.in_list:
                    self._list_remove(c, q)
                c.epoch += 1
                # Keep the stage unless the new steps come later; catch up with events.
                c.stage = min(c.stage, q.cfg.stage_after((now - c.entered_us) / 1_000_000))
                self._catch_up(c, q)
                self._list_add(c, q)
                self._schedule(c, q)
            else:
                c.stage = min(c.stage, q.nstages - 1)
        self._dc.extend(self._waiting_contacts())

    def _waiting_contacts(self) -> list[_Contact]:
        return sorted((c for c in self._contacts.values() if c.in_list), key=_by_seq)

    # --- agents: eligibility and the agent index

    def _compute_elig(self, a: _Agent) -> None:
        self._drop_elig(a)
        skills = a.skills
        for q in self._qorder:
            k = self._entry_stage(a, q)
            if k is not None:
                score = sum(skills.get(name, 0) for name, _ in q.req_at[0])
                a.elig.append((q, k, score))
                q.members[k] += 1
                q.acap[k] = 2 * q.members[k] + 64

    def _entry_stage(self, a: _Agent, q: _Queue) -> int | None:
        """First stage at which `a` may serve `q` (model.is_eligible, with precomputation)."""
        skills = a.skills
        group = a.group
        group_base = group is None or group in self._active_groups
        for k in range(q.nstages):
            if (group_base or group in q.groups_at[k]) and all(
                skills.get(name, 0) >= level for name, level in q.req_at[k]
            ):
                return k
            if group_base:
                for qid in q.addq_at[k]:
                    other = self._queues.get(qid)
                    if other is not None and all(
                        skills.get(name, 0) >= level for name, level in other.req_at[0]
                    ):
                        return k
        return None

    def _drop_elig(self, a: _Agent) -> None:
        for q, k, _ in a.elig:
            q.members[k] -= 1
        a.elig = []

    def _spare(self, a: _Agent) -> list[Channel]:
        """Channels on which the agent can take one more contact (see model.can_take)."""
        if a.state not in OFFERABLE_STATES or a.pending is not None or a.excl:
            return []
        total = a.total
        if not total:
            return a.chans  # nothing held: every channel with a capacity
        load = a.load
        return [
            ch
            for ch, cap in a.capacity.items()
            if cap > load[ch] and not (total and ch in EXCLUSIVE_CHANNELS)
        ]

    def _index(self, a: _Agent) -> None:
        """Invalidate the agent's heap entries and push fresh ones if it can take work."""
        a.version += 1
        total = a.total
        if a.state is _READY and not total and a.pending is None:
            chans = a.chans  # the usual case, what _spare returns for it
        else:
            chans = self._spare(a)
            if not chans:
                return
        ver = a.version
        aid = a.id
        idle = a.idle_us
        e0: _AEntry = (total, idle, 0, aid, ver, a)  # longest idle: one tuple for every queue
        for q, kmin, score in a.elig:
            s = q.strategy
            if s == 0:
                entry = e0
            elif s == 1:
                entry = (-score, total, idle, aid, ver, a)
            elif s == 2:
                entry = (q.rr_last.get(aid, 0), total, idle, aid, ver, a)
            else:
                entry = (total, a.handled_us, idle, aid, ver, a)
            aruns = q.aruns
            for ch in chans:
                runs = aruns.get(ch)
                if runs is not None:
                    run = runs[kmin]
                    items = run.items
                    if items and entry < items[-1]:
                        _insort(items, entry, run.head)
                    else:
                        items.append(entry)
                    if len(items) - run.head > q.acap[kmin]:
                        self._compact(run)

    def _compact(self, run: _Run) -> None:
        # Lazy deletion leaves dead entries; drop them once they outnumber the live ones.
        run.items = [e for e in run.items[run.head :] if e[5].version == e[4]]
        run.head = 0

    def _find_agent(self, c: _Contact, q: _Queue) -> _Agent | None:
        """Best agent with room for `c` by the queue's strategy, or None."""
        runs = q.aruns[c.channel]
        best: _AEntry | None = None
        for j in range(c.stage + 1):
            run = runs[j]
            items = run.items
            i = run.head
            n = len(items)
            while i < n:
                top = items[i]
                if top[5].version == top[4]:
                    if best is None or top < best:
                        best = top
                    break
                i += 1
            if i > 256 and 2 * i > n:
                del items[:i]
                i = 0
            run.head = i
        return None if best is None else best[5]

    def _find_contact(self, a: _Agent, chans: list[Channel]) -> tuple[_Contact, _Queue] | None:
        """Best waiting contact the agent may serve (highest effective priority, then FIFO)."""
        now = self._now_us
        best: tuple[float, int, int] | None = None
        found: tuple[_Contact, _Queue] | None = None
        for q, kmin, _ in a.elig:
            if not q.waiting:
                continue
            for ch in chans:
                lives = q.clive.get(ch)
                if lives is None:
                    continue
                for k in range(kmin, q.nstages):
                    if not lives[k]:
                        continue
                    run = q.cheaps[ch][k]
                    items = run.items
                    i = run.head
                    while True:  # lives[k] > 0: a live entry exists
                        top = items[i]
                        if top[5].version == top[4]:
                            break
                        i += 1
                    if i > 256 and 2 * i > len(items):
                        del items[:i]
                        i = 0
                    run.head = i
                    key = (top[0] - q.rate * now, top[1], top[2])
                    if best is None or key < best:
                        best = key
                        found = (top[5], q)
        return found

    def _match_agent(self, a: _Agent) -> None:
        while self._waiting:
            chans = self._spare(a)
            if not chans:
                return
            found = self._find_contact(a, chans)
            if found is None:
                return
            self._offer(found[0], a, found[1])

    # --- contacts: lines and timers

    def _list_add(self, c: _Contact, q: _Queue) -> None:
        c.version += 1
        c.in_list = True
        ch = c.channel
        run = q.cheaps[ch][c.stage]
        items = run.items
        entry = (q.rate * c.enq_us - (c.priority + q.prio), c.enq_us, c.seq, c.id, c.version, c)
        # Arrivals come in order, so this is nearly always an append; a contact returning to
        # its place, or a higher priority, is inserted (binary search, C memmove).
        if items and entry < items[-1]:
            _insort(items, entry, run.head)
        else:
            items.append(entry)
        lives = q.clive[ch]
        lives[c.stage] += 1
        q.waiting += 1
        self._waiting += 1
        if len(items) - run.head > 2 * lives[c.stage] + 64:
            run.items = [e for e in items[run.head :] if e[5].version == e[4]]
            run.head = 0

    def _list_remove(self, c: _Contact, q: _Queue) -> None:
        c.version += 1
        c.in_list = False
        lives = q.clive[c.channel]
        lives[c.stage] -= 1
        q.waiting -= 1
        self._waiting -= 1
        if not lives[c.stage]:
            run = q.cheaps[c.channel][c.stage]
            run.items = []
            run.head = 0

    def _schedule(self, c: _Contact, q: _Queue, *, max_wait: bool = True) -> None:
        if c.stage < q.nstages - 1:
            _heappush(self._timers, (c.entered_us + q.after_us[c.stage], _T_STAGE, c.id, c.epoch))
        if max_wait and q.max_wait_us is not None and not c.callback:
            _heappush(self._timers, (c.entered_us + q.max_wait_us, _T_MAXWAIT, c.id, c.epoch))

    def _catch_up(self, c: _Contact, q: _Queue) -> None:
        """Advance the contact to the overflow stage its time in queue has earned."""
        waited = self._now_us - c.entered_us
        k = c.stage
        while k < q.nstages - 1 and q.after_us[k] <= waited:
            k += 1
            self._ev.append(_ContactOverflowed(self._at, c.id, q.id, k, q.cfg.overflow[k - 1]))
        c.stage = k

    def _max_wait(self, c: _Contact, q: _Queue) -> None:
        waited = (self._now_us - c.enq_us) / 1_000_000
        action = q.cfg.max_wait_action
        self._ev.append(_ContactMaxWaitExceeded(self._at, c.id, q.id, action, waited))
        if action is MaxWaitAction.callback:
            c.callback = True
            self._ev.append(ev.CallbackRequested(self._at, c.id, q.id))
        else:
            self._list_remove(c, q)
            del self._contacts[c.id]

    # --- offers and agent state

    def _set_state(
        self,
        a: _Agent,
        new: AgentState,
        reason: NotReadyReason | None,
        approved_by: str | None = None,
    ) -> None:
        old = a.state
        if new not in _LEGAL[old]:
            check_transition(old, new)
        a.state = new
        a.since_us = self._now_us
        a.reason = reason
        self._ev.append(_AgentStateChanged(self._at, a.id, old, new, reason, approved_by))

    def _offer(self, c: _Contact, a: _Agent, q: _Queue) -> None:
        # The hottest path of the engine: kept flat on purpose.
        now = self._now_us
        if c.in_list:
            self._list_remove(c, q)
        oid = self._offer_seq = self._offer_seq + 1
        aid = a.id
        cid = c.id
        c.status = _OFFERED
        c.agent = aid
        c.offer_id = oid
        c.offered_us = now
        deadline = c.deadline_us = now + q.offer_us
        ch = c.channel
        a.work.append(cid)
        a.load[ch] += 1
        a.total += 1
        a.idle_us = now
        if q.strategy == 2:
            q.rr += 1
            q.rr_last[aid] = q.rr
        fifo = q.offer_fifo
        if fifo and deadline < fifo[-1][0]:  # the clock went back: keep the order in the heap
            _heappush(self._timers, (deadline, _T_OFFER, cid, oid))
        else:
            fifo.append((deadline, _T_OFFER, cid, oid))
            if len(fifo) > self._fifo_cap:
                self._compact_fifo(fifo)
        at = self._at
        events = self._ev
        events.append(_ContactOffered(at, cid, aid, q.id, oid, at + q.offer_td, c.callback))
        if a.state is _READY:
            a.state = _RESERVED  # ready -> reserved is always legal; reason is already None
            a.since_us = now
            events.append(_AgentStateChanged(at, aid, _READY, _RESERVED, None, None))
        if ch in EXCLUSIVE_CHANNELS:
            a.excl += 1
            a.version += 1  # on a call it takes nothing else: no entry to push
        else:
            self._index(a)

    def _release(self, a: _Agent, c: _Contact) -> None:
        a.work.remove(c.id)
        ch = c.channel
        a.load[ch] -= 1
        a.total -= 1
        if ch in EXCLUSIVE_CHANNELS:
            a.excl -= 1
        if c.status is _CONNECTED:
            a.connected -= 1

    def _settle_busy(self, a: _Agent) -> None:
        new = _BUSY if a.connected else _RESERVED
        if a.state is not new:
            self._set_state(a, new, None)

    def _become_available(self, a: _Agent) -> None:
        """No work left and no wrap-up: ready, or the pending not-ready."""
        if a.pending is not None:
            reason = a.pending
            a.pending = None
            self._set_state(a, _NOT_READY, reason)
            self._index(a)
        else:
            now = a.idle_us = self._now_us
            old = a.state
            if _READY not in _LEGAL[old]:
                check_transition(old, _READY)
            a.state = _READY
            a.since_us = now
            a.reason = None
            self._ev.append(_AgentStateChanged(self._at, a.id, old, _READY, None, None))
            # Kill the old entries now; push fresh ones in _finish only if the agent is still
            # free after taking what waits (pushing first would leave dead entries behind).
            a.version += 1
            self._defer.append((a, a.version))
        self._da.append(a)

    def _after_work(self, a: _Agent, q: _Queue) -> None:
        """A contact left the agent (ended or transferred)."""
        if a.work:
            self._settle_busy(a)
            self._index(a)
            self._da.append(a)
        elif q.wrap_us > 0:
            a.wrap_seq += 1
            due = a.wrap_until_us = self._now_us + q.wrap_us
            self._set_state(a, _WRAP_UP, None)
            fifo = q.wrap_fifo
            if fifo and due < fifo[-1][0]:
                _heappush(self._timers, (due, _T_WRAP, a.id, a.wrap_seq))
            else:
                fifo.append((due, _T_WRAP, a.id, a.wrap_seq))
                if len(fifo) > self._fifo_cap:
                    self._compact_fifo(fifo)
            a.version += 1  # what _index does for an agent in wrap-up: it takes nothing
        else:
            self._become_available(a)

    def _return_offer(self, c: _Contact, a: _Agent, how: str, *, requeue: bool = True) -> None:
        """Take an offer back: the contact returns to its place, the agent is settled."""
        oid = c.offer_id
        assert oid is not None
        at = self._at
        if how == "declined":
            self._ev.append(_OfferDeclined(at, c.id, a.id, oid))
        elif how == "timeout":
            self._ev.append(_OfferTimedOut(at, c.id, a.id, oid))
        else:
            self._ev.append(ev.OfferWithdrawn(at, c.id, a.id, oid, how))
        self._release(a, c)
        c.status = _WAITING
        c.agent = None
        c.offer_id = c.offered_us = c.deadline_us = None
        if requeue:
            q = self._queues[c.queue]
            self._catch_up(c, q)
            self._list_add(c, q)
            self._schedule(c, q)
            self._dc.append(c)
        missed = how in ("declined", "timeout")
        if a.work:
            if missed and a.pending is None:
                a.pending = NotReadyReason.missed
                self._ev.append(_AgentNotReadyPending(at, a.id, a.pending))
            self._settle_busy(a)
            self._index(a)
            self._da.append(a)
        elif missed:
            a.pending = None
            self._set_state(a, _NOT_READY, NotReadyReason.missed)
            self._index(a)
        elif how != "agent_logged_out":
            self._become_available(a)

    # --- views and restore

    def _agent_view(self, a: _Agent) -> Agent:
        return Agent(
            id=a.id,
            skills=dict(a.skills),
            capacity=dict(a.capacity),
            state=a.state,
            state_since=_from_us(a.since_us),
            reason=a.reason,
            seat=a.seat,
            group=a.group,
            idle_since=_from_us(a.idle_us),
            pending_reason=a.pending,
            wrap_up_until=_opt_from_us(a.wrap_until_us),
            handled_seconds=a.handled_us / 1_000_000,
        )

    @staticmethod
    def _contact_view(c: _Contact) -> Contact:
        return Contact(
            id=c.id,
            channel=c.channel,
            queue_id=c.queue,
            enqueued_at=_from_us(c.enq_us),
            priority=c.priority,
            queue_entered_at=_from_us(c.entered_us),
            callback=c.callback,
            status=c.status,
            stage=c.stage,
            seq=c.seq,
            agent_id=c.agent,
            offer_id=c.offer_id,
            offered_at=_opt_from_us(c.offered_us),
            offer_deadline=_opt_from_us(c.deadline_us),
            connected_at=_opt_from_us(c.connected_us),
        )

    def _restore_agent(self, ag: Agent, now: int) -> None:
        if ag.id in self._agents:
            raise InvalidInput(f"agent {ag.id!r} appears twice")
        a = _Agent(
            ag.id,
            validate_skills(ag.skills),
            validate_capacity(ag.capacity),
            ag.group,
            ag.seat,
            now,
        )
        a.state = AgentState(ag.state)
        a.since_us = now if ag.state_since is None else _to_us(require_utc(ag.state_since))
        a.idle_us = a.since_us if ag.idle_since is None else _to_us(require_utc(ag.idle_since))
        a.reason = ag.reason
        if a.state is _NOT_READY and a.reason is None:
            a.reason = NotReadyReason.other
        a.pending = ag.pending_reason
        a.handled_us = _secs_to_us(ag.handled_seconds)
        if a.state is _WRAP_UP:
            wu = ag.wrap_up_until
            a.wrap_until_us = now if wu is None else _to_us(require_utc(wu))
        if (a.state is _NOT_READY) != (a.reason is not None):
            raise InvalidInput(f"agent {ag.id!r}: a reason goes with not_ready and only there")
        self._agents[a.id] = a

    def _restore_contact(self, item: Contact, seq: int, now: int) -> None:
        if item.id in self._contacts:
            raise InvalidInput(f"contact {item.id!r} appears twice")
        q = self._queues.get(item.queue_id)
        if q is None:
            raise InvalidInput(f"contact {item.id!r} is in unknown queue {item.queue_id!r}")
        if item.channel not in q.aruns:
            raise InvalidInput(f"contact {item.id!r}: queue {q.id!r} does not take its channel")
        enq = _to_us(require_utc(item.enqueued_at))
        entered = enq if item.queue_entered_at is None else _to_us(item.queue_entered_at)
        c = _Contact(item.id, item.channel, q.id, item.priority, enq, entered, item.callback, seq)
        c.stage = max(0, min(item.stage, q.nstages - 1))
        c.status = ContactStatus(item.status)
        if c.status is _WAITING:
            if item.agent_id is not None:
                raise InvalidInput(f"waiting contact {item.id!r} cannot have an agent")
        else:
            a = self._agents.get(item.agent_id or "")
            if a is None or a.state is _LOGGED_OUT:
                raise InvalidInput(
                    f"contact {item.id!r} is {c.status.value} with agent "
                    f"{item.agent_id!r}, who is unknown or logged out"
                )
            c.agent = a.id
            c.offer_id = item.offer_id
            if item.offered_at is not None:
                c.offered_us = _to_us(item.offered_at)
            if c.status is _OFFERED:
                c.offered_us = now if c.offered_us is None else c.offered_us
                c.deadline_us = (
                    c.offered_us + q.offer_us
                    if item.offer_deadline is None
                    else _to_us(item.offer_deadline)
                )
            else:
                c.connected_us = now if item.connected_at is None else _to_us(item.connected_at)
                a.connected += 1
            a.work.append(c.id)
            a.load[c.channel] += 1
            a.total += 1
            if c.channel in EXCLUSIVE_CHANNELS:
                a.excl += 1
        self._contacts[c.id] = c

    def _finish_restore_agent(self, a: _Agent) -> None:
        expected = _BUSY if a.connected else _RESERVED if a.work else None
        if expected is not None and a.state is not expected:
            raise InvalidInput(
                f"agent {a.id!r} is {a.state.value} but holds contacts: it must be {expected.value}"
            )
        if expected is None and a.state in (_BUSY, _RESERVED):
            raise InvalidInput(f"agent {a.id!r} is {a.state.value} but holds no contact")
        if a.state is _WRAP_UP and a.wrap_until_us is not None:
            a.wrap_seq += 1
            _heappush(self._timers, (a.wrap_until_us, _T_WRAP, a.id, a.wrap_seq))
        if a.state is not _LOGGED_OUT:
            self._compute_elig(a)
        self._index(a)


def _by_seq(c: _Contact) -> int:
    return c.seq
