"""Routing model (ACD): channels, agent states, queues, overflow steps. Pure data, no I/O.

The rules that both the engine and its tests rely on live here as small pure functions:
`check_transition` (the legal agent state table), `is_eligible` (which agents may serve a queue
at a given overflow stage) and `can_take` (whether an agent has room for one more contact).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hotline.core.errors import Conflict, InvalidInput

MIN_SKILL_LEVEL = 1
MAX_SKILL_LEVEL = 10
MAX_PRIORITY = 1000  # bounded so that ageing keys stay exact in float arithmetic
MAX_CAPACITY = 50


class Channel(enum.StrEnum):
    voice = "voice"
    chat = "chat"
    email = "email"
    sms = "sms"
    social = "social"
    work_item = "work_item"


# An agent on an exclusive channel (a phone call) takes nothing else, and takes a call only
# when holding nothing else: nobody talks on the phone while typing three chats.
EXCLUSIVE_CHANNELS: frozenset[Channel] = frozenset({Channel.voice})


class AgentState(enum.StrEnum):
    logged_out = "logged_out"
    ready = "ready"
    not_ready = "not_ready"
    reserved = "reserved"  # an offer is pending, nothing connected yet
    busy = "busy"  # at least one contact connected
    wrap_up = "wrap_up"  # after-contact work; never offered anything


_S = AgentState
# The legal transitions. Self-transitions are listed only where they mean something
# (not_ready -> not_ready changes the reason).
LEGAL_TRANSITIONS: Mapping[AgentState, frozenset[AgentState]] = MappingProxyType(
    {
        _S.logged_out: frozenset({_S.ready, _S.not_ready}),
        _S.ready: frozenset({_S.not_ready, _S.reserved, _S.logged_out}),
        _S.not_ready: frozenset({_S.ready, _S.not_ready, _S.logged_out}),
        # ready: the offer was withdrawn (caller hung up); not_ready: missed offer;
        # logged_out: approved logout, the offers go back to their queues.
        _S.reserved: frozenset({_S.busy, _S.ready, _S.not_ready, _S.logged_out}),
        # reserved: last connected chat ended while another offer is pending;
        # ready / not_ready: the queue has no wrap-up time.
        _S.busy: frozenset({_S.wrap_up, _S.reserved, _S.ready, _S.not_ready}),
        _S.wrap_up: frozenset({_S.ready, _S.not_ready, _S.logged_out}),
    }
)

# States in which an agent may receive an offer (if it has room and no pending not-ready).
OFFERABLE_STATES: frozenset[AgentState] = frozenset({_S.ready, _S.reserved, _S.busy})


def check_transition(old: AgentState, new: AgentState) -> None:
    """Raise Conflict unless `old -> new` is in LEGAL_TRANSITIONS."""
    if new not in LEGAL_TRANSITIONS[old]:
        raise Conflict(
            f"agent state cannot change from {old.value} to {new.value}",
            key="errors.routing.illegal_transition",
            params={"from": old.value, "to": new.value},
        )


class NotReadyReason(enum.StrEnum):
    break_ = "break"  # `break` is a Python keyword
    meal = "meal"
    training = "training"
    meeting = "meeting"
    coaching = "coaching"
    system_fault = "system_fault"
    missed = "missed"  # set by the engine: an offer was declined or timed out
    login = "login"  # just logged in, not yet ready
    personal = "personal"
    offline_work = "offline_work"
    supervisor = "supervisor"  # set by a supervisor
    other = "other"


class ContactStatus(enum.StrEnum):
    waiting = "waiting"
    offered = "offered"
    connected = "connected"


class Strategy(enum.StrEnum):
    longest_idle = "longest_idle"
    most_skilled = "most_skilled"
    round_robin = "round_robin"
    least_occupied = "least_occupied"


class MaxWaitAction(enum.StrEnum):
    remove = "remove"  # leaves the engine; the application routes it (voicemail, message)
    callback = "callback"  # becomes a callback and keeps its place


def _check_level(level: int, what: str) -> None:
    if isinstance(level, bool) or not isinstance(level, int):
        raise InvalidInput(f"{what} must be an integer", field=what)
    if not MIN_SKILL_LEVEL <= level <= MAX_SKILL_LEVEL:
        raise InvalidInput(
            f"{what} must be between {MIN_SKILL_LEVEL} and {MAX_SKILL_LEVEL}, got {level}",
            key="errors.routing.skill_level",
            params={"value": level},
            field=what,
        )


def _check_seconds(value: float, what: str, *, allow_zero: bool = True) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number", field=what)
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(f"{what} must be {'>=' if allow_zero else '>'} 0", field=what)


def validate_skills(skills: Mapping[str, int]) -> dict[str, int]:
    """Return a sorted copy of an agent's skill map after checking every level is 1–10."""
    out: dict[str, int] = {}
    for name in sorted(skills):
        if not isinstance(name, str) or not name:
            raise InvalidInput("skill names must be non-empty strings", field="skills")
        _check_level(skills[name], f"skills.{name}")
        out[name] = skills[name]
    return out


def validate_capacity(capacity: Mapping[Channel, int]) -> dict[Channel, int]:
    """Return a capacity map in Channel order after checking each value is 0–MAX_CAPACITY."""
    out: dict[Channel, int] = {}
    for ch in Channel:  # fixed order: no dict-order surprises downstream
        if ch in capacity:
            n = capacity[ch]
            if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_CAPACITY:
                raise InvalidInput(
                    f"capacity for {ch.value} must be an integer 0–{MAX_CAPACITY}",
                    field=f"capacity.{ch.value}",
                )
            out[ch] = n
    unknown = set(capacity) - set(Channel)
    if unknown:
        raise InvalidInput(f"unknown channel(s) in capacity: {sorted(map(str, unknown))}")
    return out


def validate_priority(priority: int) -> int:
    """Check a contact priority (higher is more urgent) is an integer within ±MAX_PRIORITY."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidInput("priority must be an integer", field="priority")
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidInput(f"priority must be within ±{MAX_PRIORITY}", field="priority")
    return priority


@dataclass(frozen=True, slots=True)
class SkillRequirement:
    """A queue needs agents with `skill` at `min_level` or better."""

    skill: str
    min_level: int = MIN_SKILL_LEVEL

    def __post_init__(self) -> None:
        if not self.skill:
            raise InvalidInput("skill name must not be empty", field="skill")
        _check_level(self.min_level, "min_level")


@dataclass(frozen=True, slots=True)
class LowerSkillLevel:
    """Overflow: after `after_seconds` in queue, accept `min_level` (for `skill`, or all)."""

    after_seconds: float
    min_level: int
    skill: str | None = None

    def __post_init__(self) -> None:
        _check_seconds(self.after_seconds, "after_seconds")
        _check_level(self.min_level, "min_level")


@dataclass(frozen=True, slots=True)
class AddQueueAgents:
    """Overflow: after `after_seconds`, agents of queue `queue_id` may serve this queue too."""

    after_seconds: float
    queue_id: str

    def __post_init__(self) -> None:
        _check_seconds(self.after_seconds, "after_seconds")


@dataclass(frozen=True, slots=True)
class ActivateGroup:
    """Overflow: after `after_seconds`, call-up group `group` counts for this queue.

    Call-up tiers (on-site staff -> standby staff -> off-site staff) are agent groups; an agent
    with a group is only eligible where that group is activated, by a step like this one or
    globally (`RoutingEngine.set_group_active`). It still needs the queue's skills.
    """

    after_seconds: float
    group: str

    def __post_init__(self) -> None:
        _check_seconds(self.after_seconds, "after_seconds")
        if not self.group:
            raise InvalidInput("group must not be empty", field="group")


OverflowStep = LowerSkillLevel | AddQueueAgents | ActivateGroup

_STEP_KINDS: dict[str, type[LowerSkillLevel] | type[AddQueueAgents] | type[ActivateGroup]] = {
    "lower_skill_level": LowerSkillLevel,
    "add_queue_agents": AddQueueAgents,
    "activate_group": ActivateGroup,
}


def step_kind(step: OverflowStep) -> str:
    """The plain-data name of an overflow step's kind."""
    if isinstance(step, LowerSkillLevel):
        return "lower_skill_level"
    if isinstance(step, AddQueueAgents):
        return "add_queue_agents"
    return "activate_group"


def step_to_dict(step: OverflowStep) -> dict[str, Any]:
    """Overflow step as plain data."""
    out: dict[str, Any] = {"kind": step_kind(step), "after_seconds": step.after_seconds}
    if isinstance(step, LowerSkillLevel):
        out.update(min_level=step.min_level, skill=step.skill)
    elif isinstance(step, AddQueueAgents):
        out["queue_id"] = step.queue_id
    else:
        out["group"] = step.group
    return out


def step_from_dict(data: Mapping[str, Any]) -> OverflowStep:
    """Inverse of `step_to_dict`."""
    kind = data.get("kind")
    if kind not in _STEP_KINDS:
        raise InvalidInput(f"unknown overflow step kind {kind!r}")
    args = {k: v for k, v in data.items() if k != "kind"}
    try:
        step: OverflowStep = _STEP_KINDS[kind](**args)
    except TypeError as exc:
        raise InvalidInput(f"bad overflow step {dict(data)!r}: {exc}") from exc
    return step


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue: who may serve it, in which order, and what happens as waits grow.

    `overflow` steps are cumulative and ordered by `after_seconds`: a contact that has waited
    `after_seconds` in the queue is at stage i+1 and may go to every agent that stage allows.
    `ageing_per_minute` raises a waiting contact's effective priority linearly with its wait,
    so low priorities cannot starve; within one priority class the order stays FIFO.
    """

    id: str
    skills: tuple[SkillRequirement, ...] = ()
    channels: frozenset[Channel] = frozenset(Channel)
    priority: int = 0
    service_level_seconds: float = 20.0
    service_level_percent: float = 80.0
    max_wait_seconds: float | None = None
    max_wait_action: MaxWaitAction = MaxWaitAction.remove
    strategy: Strategy = Strategy.longest_idle
    overflow: tuple[OverflowStep, ...] = ()
    offer_timeout_seconds: float = 20.0
    wrap_up_seconds: float = 60.0
    ageing_per_minute: float = 0.0

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidInput("queue id must not be empty", field="id")
        names = [r.skill for r in self.skills]
        if len(set(names)) != len(names):
            raise InvalidInput("a skill may be required only once per queue", field="skills")
        if not self.channels or not set(self.channels) <= set(Channel):
            raise InvalidInput("a queue needs at least one known channel", field="channels")
        validate_priority(self.priority)
        _check_seconds(self.service_level_seconds, "service_level_seconds")
        if not 0 <= self.service_level_percent <= 100:
            raise InvalidInput("service_level_percent must be 0–100")
        if self.max_wait_seconds is not None:
            _check_seconds(self.max_wait_seconds, "max_wait_seconds", allow_zero=False)
        _check_seconds(self.offer_timeout_seconds, "offer_timeout_seconds", allow_zero=False)
        _check_seconds(self.wrap_up_seconds, "wrap_up_seconds")
        _check_seconds(self.ageing_per_minute, "ageing_per_minute")
        last = 0.0
        for step in self.overflow:
            if step.after_seconds < last:
                raise InvalidInput("overflow steps must be ordered by after_seconds")
            last = step.after_seconds
            if isinstance(step, AddQueueAgents) and step.queue_id == self.id:
                raise InvalidInput("a queue cannot overflow to its own agents")
            if (
                isinstance(step, LowerSkillLevel)
                and step.skill is not None
                and step.skill not in names
            ):
                raise InvalidInput(f"overflow lowers skill {step.skill!r} the queue does not need")

    @property
    def stages(self) -> int:
        """Number of overflow stages: 0 (no step applied) .. len(overflow)."""
        return len(self.overflow) + 1

    def stage_after(self, waited_seconds: float) -> int:
        """The stage a contact reaches after waiting `waited_seconds` in this queue."""
        stage = 0
        for step in self.overflow:
            if step.after_seconds <= waited_seconds:
                stage += 1
            else:
                break
        return stage

    def requirements_at(self, stage: int) -> dict[str, int]:
        """Minimum level per required skill once the first `stage` steps apply."""
        req = {r.skill: r.min_level for r in self.skills}
        for step in self.overflow[:stage]:
            if isinstance(step, LowerSkillLevel):
                for name in req:
                    if step.skill is None or step.skill == name:
                        req[name] = min(req[name], step.min_level)
        return req

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-compatible)."""
        return {
            "id": self.id,
            "skills": [[r.skill, r.min_level] for r in self.skills],
            "channels": sorted(c.value for c in self.channels),
            "priority": self.priority,
            "service_level_seconds": self.service_level_seconds,
            "service_level_percent": self.service_level_percent,
            "max_wait_seconds": self.max_wait_seconds,
            "max_wait_action": self.max_wait_action.value,
            "strategy": self.strategy.value,
            "overflow": [step_to_dict(s) for s in self.overflow],
            "offer_timeout_seconds": self.offer_timeout_seconds,
            "wrap_up_seconds": self.wrap_up_seconds,
            "ageing_per_minute": self.ageing_per_minute,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueConfig:
        """Inverse of `to_dict`."""
        return cls(
            id=data["id"],
            skills=tuple(SkillRequirement(s, lvl) for s, lvl in data.get("skills", ())),
            channels=frozenset(Channel(c) for c in data.get("channels", list(Channel))),
            priority=data.get("priority", 0),
            service_level_seconds=data.get("service_level_seconds", 20.0),
            service_level_percent=data.get("service_level_percent", 80.0),
            max_wait_seconds=data.get("max_wait_seconds"),
            max_wait_action=MaxWaitAction(data.get("max_wait_action", "remove")),
            strategy=Strategy(data.get("strategy", "longest_idle")),
            overflow=tuple(step_from_dict(s) for s in data.get("overflow", ())),
            offer_timeout_seconds=data.get("offer_timeout_seconds", 20.0),
            wrap_up_seconds=data.get("wrap_up_seconds", 60.0),
            ageing_per_minute=data.get("ageing_per_minute", 0.0),
        )


def is_eligible(
    skills: Mapping[str, int],
    group: str | None,
    queue: QueueConfig,
    stage: int,
    queues: Mapping[str, QueueConfig],
    active_groups: Collection[str] = frozenset(),
) -> bool:
    """May an agent with `skills` and call-up `group` serve `queue` at overflow `stage`?

    Yes if its group counts (no group, globally active, or activated by a step before
    `stage`) and it meets the skill levels as lowered by those steps; or if a step before
    `stage` adds another queue's agents and it is eligible there at stage 0.
    """
    steps = queue.overflow[:stage]
    group_ok = (
        group is None
        or group in active_groups
        or any(isinstance(s, ActivateGroup) and s.group == group for s in steps)
    )
    if group_ok and all(
        skills.get(name, 0) >= level for name, level in queue.requirements_at(stage).items()
    ):
        return True
    for step in steps:
        if isinstance(step, AddQueueAgents):
            other = queues.get(step.queue_id)
            if other is not None and is_eligible(skills, group, other, 0, queues, active_groups):
                return True
    return False


def can_take(
    state: AgentState,
    pending_reason: NotReadyReason | None,
    load: Mapping[Channel, int],
    capacity: Mapping[Channel, int],
    channel: Channel,
) -> bool:
    """Has an agent room for one more contact on `channel`?

    `load` counts offered and connected contacts per channel. Wrap-up, not-ready and
    logged-out agents, and agents who asked to go not-ready after their work, have none.
    """
    if state not in OFFERABLE_STATES or pending_reason is not None:
        return False
    if any(load.get(c, 0) for c in EXCLUSIVE_CHANNELS):
        return False
    if channel in EXCLUSIVE_CHANNELS and any(load.values()):
        return False
    return load.get(channel, 0) < capacity.get(channel, 0)


# --- snapshots of agents and contacts (plain data the engine hands out and rebuilds from) ---


def _dt_out(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt_in(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent as the engine sees it. Only `id` and `skills` are needed to rebuild one.

    `idle_since` orders agents for longest-idle (when it last became ready or got work);
    `pending_reason` is a not-ready asked for while busy, applied when the work is done.
    """

    id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    capacity: Mapping[Channel, int] = field(default_factory=lambda: {Channel.voice: 1})
    state: AgentState = AgentState.logged_out
    state_since: dt.datetime | None = None
    reason: NotReadyReason | None = None
    seat: str | None = None
    group: str | None = None
    idle_since: dt.datetime | None = None
    pending_reason: NotReadyReason | None = None
    wrap_up_until: dt.datetime | None = None
    handled_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-compatible)."""
        return {
            "id": self.id,
            "skills": dict(self.skills),
            "capacity": {c.value: n for c, n in self.capacity.items()},
            "state": self.state.value,
            "state_since": _dt_out(self.state_since),
            "reason": None if self.reason is None else self.reason.value,
            "seat": self.seat,
            "group": self.group,
            "idle_since": _dt_out(self.idle_since),
            "pending_reason": None if self.pending_reason is None else self.pending_reason.value,
            "wrap_up_until": _dt_out(self.wrap_up_until),
            "handled_seconds": self.handled_seconds,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Agent:
        """Inverse of `to_dict`."""
        reason = data.get("reason")
        pending = data.get("pending_reason")
        return cls(
            id=data["id"],
            skills=dict(data.get("skills", {})),
            capacity={Channel(c): n for c, n in data.get("capacity", {"voice": 1}).items()},
            state=AgentState(data.get("state", "logged_out")),
            state_since=_dt_in(data.get("state_since")),
            reason=None if reason is None else NotReadyReason(reason),
            seat=data.get("seat"),
            group=data.get("group"),
            idle_since=_dt_in(data.get("idle_since")),
            pending_reason=None if pending is None else NotReadyReason(pending),
            wrap_up_until=_dt_in(data.get("wrap_up_until")),
            handled_seconds=data.get("handled_seconds", 0.0),
        )


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact in the engine: waiting, offered to an agent, or connected to one.

    `enqueued_at` orders the line (and drives ageing); `queue_entered_at` drives overflow
    steps and max wait in the current queue (they differ after a move that keeps the place).
    `seq` breaks ties between equal times; None when rebuilding means "assign in order".
    """

    id: str
    channel: Channel
    queue_id: str
    enqueued_at: dt.datetime
    priority: int = 0
    queue_entered_at: dt.datetime | None = None
    callback: bool = False
    status: ContactStatus = ContactStatus.waiting
    stage: int = 0
    seq: int | None = None
    agent_id: str | None = None
    offer_id: int | None = None
    offered_at: dt.datetime | None = None
    offer_deadline: dt.datetime | None = None
    connected_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-compatible)."""
        return {
            "id": self.id,
            "channel": self.channel.value,
            "queue_id": self.queue_id,
            "enqueued_at": _dt_out(self.enqueued_at),
            "priority": self.priority,
            "queue_entered_at": _dt_out(self.queue_entered_at),
            "callback": self.callback,
            "status": self.status.value,
            "stage": self.stage,
            "seq": self.seq,
            "agent_id": self.agent_id,
            "offer_id": self.offer_id,
            "offered_at": _dt_out(self.offered_at),
            "offer_deadline": _dt_out(self.offer_deadline),
            "connected_at": _dt_out(self.connected_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contact:
        """Inverse of `to_dict`."""
        enqueued = _dt_in(data["enqueued_at"])
        assert enqueued is not None
        return cls(
            id=data["id"],
            channel=Channel(data["channel"]),
            queue_id=data["queue_id"],
            enqueued_at=enqueued,
            priority=data.get("priority", 0),
            queue_entered_at=_dt_in(data.get("queue_entered_at")),
            callback=data.get("callback", False),
            status=ContactStatus(data.get("status", "waiting")),
            stage=data.get("stage", 0),
            seq=data.get("seq"),
            agent_id=data.get("agent_id"),
            offer_id=data.get("offer_id"),
            offered_at=_dt_in(data.get("offered_at")),
            offer_deadline=_dt_in(data.get("offer_deadline")),
            connected_at=_dt_in(data.get("connected_at")),
        )


@dataclass(frozen=True, slots=True)
class QueueState:
    """Per-queue counters that survive a restart (service level, round-robin memory)."""

    queue_id: str
    answered: int = 0
    answered_within_target: int = 0
    abandoned: int = 0
    abandoned_after_target: int = 0
    rr_counter: int = 0
    rr_last: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-compatible)."""
        return {
            "queue_id": self.queue_id,
            "answered": self.answered,
            "answered_within_target": self.answered_within_target,
            "abandoned": self.abandoned,
            "abandoned_after_target": self.abandoned_after_target,
            "rr_counter": self.rr_counter,
            "rr_last": {k: self.rr_last[k] for k in sorted(self.rr_last)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QueueState:
        """Inverse of `to_dict`."""
        return cls(
            queue_id=data["queue_id"],
            answered=data.get("answered", 0),
            answered_within_target=data.get("answered_within_target", 0),
            abandoned=data.get("abandoned", 0),
            abandoned_after_target=data.get("abandoned_after_target", 0),
            rr_counter=data.get("rr_counter", 0),
            rr_last=dict(data.get("rr_last", {})),
        )


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A queue's live figures. Service level = answered within target over answered plus
    abandoned after the target (short abandons do not count against the queue)."""

    queue_id: str
    waiting: int
    offered: int
    connected: int
    longest_wait_seconds: float
    answered: int
    answered_within_target: int
    abandoned: int
    service_level_percent: float | None
    service_level_target_percent: float
