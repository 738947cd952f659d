"""Routing engine events: what happened, in order, for the caller to persist and publish.

Every mutating `RoutingEngine` method returns a list of these. Replaying them reproduces every
agent state and contact status (the property tests check exactly that).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import MISSING as _MISSING
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from hotline.domains.routing.model import (
    AgentState,
    Channel,
    MaxWaitAction,
    NotReadyReason,
    OverflowStep,
)

_T = TypeVar("_T")


def _fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen slotted dataclass a faster __init__ with the same signature.

    The generated frozen __init__ looks up `object.__setattr__` for every field; events are
    built on every routing decision, so this one calls the slots' own setters instead.
    Equality, hashing, repr and immutability are the dataclass's, unchanged.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    defaults = {f.name: f.default for f in fields(cls)}  # type: ignore[arg-type]
    setters = {f"_s_{n}": cls.__dict__[n].__set__ for n in names}
    params = ", ".join(n if defaults[n] is _MISSING else f"{n}=_d_{n}" for n in names)
    body = "".join(f"    _s_{n}(self, {n})\n" for n in names)
    env: dict[str, Any] = dict(setters)
    env.update({f"_d_{n}": d for n, d in defaults.items() if d is not _MISSING})
    exec(f"def __init__(self, {params}):\n{body}", env)  # noqa: S102 - our own field names
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses a direct method assignment
    _BUILDERS[cls] = _make_builder(cls, names, defaults)
    return cls


_BUILDERS: dict[type, type] = {}


def _make_builder(cls: type, names: list[str], defaults: dict[str, Any]) -> type:
    """A mutable twin of `cls` with the same slots whose __init__ stores the fields with plain
    attribute stores, then turns the object into a `cls` (same layout, so `__class__` may be
    assigned). The result is an ordinary frozen `cls` instance: equal, hashable, immutable."""
    params = ", ".join(n if defaults[n] is _MISSING else f"{n}=_d_{n}" for n in names)
    body = "".join(f"    self.{n} = {n}\n" for n in names)
    env: dict[str, Any] = {"_cls": cls}
    env.update({f"_d_{n}": d for n, d in defaults.items() if d is not _MISSING})
    exec(  # noqa: S102 - our own field names
        f"def __init__(self, {params}):\n{body}    self.__class__ = _cls\n", env
    )
    ns = {"__slots__": tuple(names), "__init__": env["__init__"]}
    twin = type(f"_Build{cls.__name__}", (), ns)
    twin.__module__ = cls.__module__
    return twin


def builder(cls: type[_T]) -> type[_T]:
    """A faster constructor of event class `cls` for the engine's hot paths: same arguments,
    and it returns a genuine `cls` instance (equal to `cls(...)` with the same arguments).
    About half the cost of `cls(...)`, whose frozen dataclass __init__ cannot use plain
    attribute stores."""
    return _BUILDERS[cls]  # it returns genuine cls instances, see _make_builder


@_fast_init
@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    at: dt.datetime
    agent_id: str
    old: AgentState
    new: AgentState
    reason: NotReadyReason | None = None
    approved_by: str | None = None


@_fast_init
@dataclass(frozen=True, slots=True)
class AgentNotReadyPending:
    """The agent asked for not-ready while holding work (or missed an offer while busy):
    no new offers; it goes not-ready with `reason` once its work is done. None = cleared."""

    at: dt.datetime
    agent_id: str
    reason: NotReadyReason | None


@_fast_init
@dataclass(frozen=True, slots=True)
class AgentSeatChanged:
    at: dt.datetime
    agent_id: str
    old_seat: str | None
    new_seat: str | None


@_fast_init
@dataclass(frozen=True, slots=True)
class AgentCapacityChanged:
    at: dt.datetime
    agent_id: str
    channel: Channel
    capacity: int


@_fast_init
@dataclass(frozen=True, slots=True)
class AgentSkillsChanged:
    at: dt.datetime
    agent_id: str
    skills: tuple[tuple[str, int], ...]


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactQueued:
    at: dt.datetime
    contact_id: str
    queue_id: str
    channel: Channel
    priority: int
    callback: bool
    seq: int


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactOffered:
    at: dt.datetime
    contact_id: str
    agent_id: str
    queue_id: str
    offer_id: int
    deadline: dt.datetime
    callback: bool


@_fast_init
@dataclass(frozen=True, slots=True)
class OfferDeclined:
    """The agent declined; the contact is back in its place in line."""

    at: dt.datetime
    contact_id: str
    agent_id: str
    offer_id: int


@_fast_init
@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    """Nobody accepted before the deadline; the contact is back in its place in line."""

    at: dt.datetime
    contact_id: str
    agent_id: str
    offer_id: int


@_fast_init
@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    """The engine took the offer back (the agent logged out, or the caller hung up:
    a ContactAbandoned follows). The contact is back in line until then."""

    at: dt.datetime
    contact_id: str
    agent_id: str
    offer_id: int
    reason: str


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactConnected:
    at: dt.datetime
    contact_id: str
    agent_id: str
    queue_id: str
    wait_seconds: float


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactEnded:
    at: dt.datetime
    contact_id: str
    agent_id: str
    queue_id: str
    handle_seconds: float


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactAbandoned:
    at: dt.datetime
    contact_id: str
    queue_id: str
    wait_seconds: float


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactMoved:
    """Moved to another queue; `from_agent_id` is set when a connected contact was
    transferred back into a queue (the agent then goes to wrap-up)."""

    at: dt.datetime
    contact_id: str
    from_queue: str
    to_queue: str
    kept_place: bool
    from_agent_id: str | None = None


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactPriorityChanged:
    at: dt.datetime
    contact_id: str
    old: int
    new: int


@_fast_init
@dataclass(frozen=True, slots=True)
class CallbackRequested:
    """The caller hung up but keeps its place: the contact stays in line as a callback."""

    at: dt.datetime
    contact_id: str
    queue_id: str


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactOverflowed:
    """The contact waited long enough for overflow step `stage` (1-based) to apply."""

    at: dt.datetime
    contact_id: str
    queue_id: str
    stage: int
    step: OverflowStep


@_fast_init
@dataclass(frozen=True, slots=True)
class ContactMaxWaitExceeded:
    """Max wait reached. With action `remove` the contact has left the engine."""

    at: dt.datetime
    contact_id: str
    queue_id: str
    action: MaxWaitAction
    wait_seconds: float


@_fast_init
@dataclass(frozen=True, slots=True)
class QueueConfigured:
    at: dt.datetime
    queue_id: str


@_fast_init
@dataclass(frozen=True, slots=True)
class QueueRemoved:
    at: dt.datetime
    queue_id: str


@_fast_init
@dataclass(frozen=True, slots=True)
class GroupActivationChanged:
    at: dt.datetime
    group: str
    active: bool


@_fast_init
@dataclass(frozen=True, slots=True)
class IncidentFlagChanged:
    at: dt.datetime
    active: bool
    note: str | None


EngineEvent = (
    AgentStateChanged
    | AgentNotReadyPending
    | AgentSeatChanged
    | AgentCapacityChanged
    | AgentSkillsChanged
    | ContactQueued
    | ContactOffered
    | OfferDeclined
    | OfferTimedOut
    | OfferWithdrawn
    | ContactConnected
    | ContactEnded
    | ContactAbandoned
    | ContactMoved
    | ContactPriorityChanged
    | CallbackRequested
    | ContactOverflowed
    | ContactMaxWaitExceeded
    | QueueConfigured
    | QueueRemoved
    | GroupActivationChanged
    | IncidentFlagChanged
)
