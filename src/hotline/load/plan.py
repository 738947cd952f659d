"""What a load run simulates: who signs in, how contacts arrive, how agents and callers act."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hotline.domains.routing.simulation import ArrivalProfile, CallbackPolicy, Dist


class OfferMode(enum.StrEnum):
    """How a simulated agent learns of its offers."""

    stream = "stream"  # the event stream (GET /api/events), as the web client does
    poll = "poll"  # GET /api/me/agent every `poll_seconds`


class LoadPlanError(ValueError):
    """The plan cannot run (a setting is out of range, or the target is not loopback)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """Where simulated contacts arrive: an entry point's channel and address, with a weight."""

    channel: str
    address: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """One load run. Times are seconds of wall-clock time.

    Arrivals are Poisson at `profile`'s rate per interval; the run stops arriving after the
    profile's duration or `max_contacts`, then lets agents finish (at most `drain_seconds`)
    and checks that no contact was lost.
    """

    url: str
    agents: tuple[str, ...]
    password: str
    gateway: str
    monitor: str
    profile: ArrivalProfile
    entries: tuple[Entry, ...] = ()  # empty: every active non-voice entry point, equally
    max_contacts: int | None = None
    think: Dist = field(default_factory=lambda: Dist.exponential(0.05))
    handle: Dist = field(default_factory=lambda: Dist.exponential(0.5))
    patience: Dist = field(default_factory=lambda: Dist.exponential(60.0))
    callback: CallbackPolicy | None = None
    break_probability: float = 0.0  # after each contact, chance of a not-ready break
    break_length: Dist = field(default_factory=lambda: Dist.exponential(30.0))
    offers: OfferMode = OfferMode.stream
    poll_seconds: float = 0.05
    wrap_up_codes: tuple[str, ...] = ()  # empty: the active codes the server lists
    drain_seconds: float = 30.0
    verify: int | None = None  # contacts read back for the lost check; None: all of them
    seed: int = 1
    log_out_at_end: bool = True
    label: str = "load"  # names the API tokens the run creates

    def __post_init__(self) -> None:
        check_loopback(self.url)
        if not self.agents:
            raise LoadPlanError("at least one simulated agent is needed")
        if len(set(self.agents)) != len(self.agents):
            raise LoadPlanError("simulated agents must be different users")
        if not 0 <= self.break_probability <= 1:
            raise LoadPlanError("break probability must be within 0–1")
        if self.poll_seconds <= 0:
            raise LoadPlanError("poll interval must be > 0")
        if self.drain_seconds < 0:
            raise LoadPlanError("drain time must be >= 0")
        if self.max_contacts is not None and self.max_contacts < 1:
            raise LoadPlanError("max contacts must be >= 1")
        if any(e.weight < 0 for e in self.entries) or (
            self.entries and sum(e.weight for e in self.entries) <= 0
        ):
            raise LoadPlanError("entry weights must be >= 0 and not all 0")

    @property
    def duration_seconds(self) -> float:
        return self.profile.duration_seconds


def check_loopback(url: str) -> None:
    """Load mode drives only a hotline on this machine: it is a test tool, not a load cannon."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadPlanError(f"not an http(s) URL: {url!r}")
    host = parts.hostname
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise LoadPlanError(f"load mode only drives a hotline on loopback, not {host!r}")
