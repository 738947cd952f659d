"""Durable jobs and timers (architecture §3.3): the pure part.

A timer is a row with a `due_at`. An action schedules it through its unit of work, so the timer
commits or rolls back together with the action's other writes:

    # domains/cases/actions.py
    tx.jobs.schedule(SLA_BREACH, {"case_id": case.id}, due_at=deadline,
                     dedupe_key=f"case:{case.id}:sla")
    ...
    tx.jobs.cancel(f"case:{case.id}:sla")          # answered in time

The domain that owns the timer declares its handler in its `jobs.py`:

    # domains/cases/jobs.py
    JOBS = JobRegistry()

    @JOBS.handler(SLA_BREACH, retry=RetryPolicy(base_seconds=5))
    def sla_breached(tx: CasesTx, payload: Mapping[str, Any]) -> None: ...

The worker (`hotline.infra.jobs.worker`) claims due jobs under a lease and runs each handler in a
transaction that also marks the job done, so a job's effects and its completion commit together.
A handler must therefore do all its writes through the `tx` it is given and must not open a
transaction of its own. A handler that raises is rolled back and retried later (see
`RetryPolicy`), until the job's `max_attempts` are used up.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from hotline.core.clock import require_utc
from hotline.core.tx import UnitOfWork

DEFAULT_MAX_ATTEMPTS = 5
# Job kinds are stored in a 64-character column; dedupe keys in a 200-character one.
MAX_KIND_LENGTH = 64
MAX_DEDUPE_KEY_LENGTH = 200


class JobStatus(enum.StrEnum):
    """Where a job is in its life. Only `pending` and `running` jobs can still run."""

    pending = "pending"  # waiting for due_at (a retry is pending again, with a later due_at)
    running = "running"  # claimed by a worker until lease_until
    done = "done"
    failed = "failed"  # max_attempts used up
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.done, JobStatus.failed, JobStatus.cancelled)


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What an action asks for: run `kind` with `payload` at (or after) `due_at`."""

    kind: str
    payload: Mapping[str, Any]
    due_at: dt.datetime
    dedupe_key: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS

    def __post_init__(self) -> None:
        check_kind(self.kind)
        require_utc(self.due_at)
        if self.dedupe_key is not None and not 0 < len(self.dedupe_key) <= MAX_DEDUPE_KEY_LENGTH:
            raise ValueError(f"dedupe_key must have 1..{MAX_DEDUPE_KEY_LENGTH} characters")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job row. `attempts` counts claims, so it includes the current run."""

    id: str
    kind: str
    payload: Mapping[str, Any]
    due_at: dt.datetime
    status: JobStatus
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_until: dt.datetime | None
    last_error: str | None
    dedupe_key: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None


def check_kind(kind: str) -> str:
    """Validate a job kind: `domain.name`, lower case, at most 64 characters."""
    if not 0 < len(kind) <= MAX_KIND_LENGTH or "." not in kind or kind != kind.strip().lower():
        raise ValueError(f"job kind {kind!r} must look like 'domain.name' (lower case, ≤64 chars)")
    return kind


class PermanentFailure(Exception):
    """Raised by a handler to fail its job at once, without retries (e.g. the object is gone)."""


class JobScheduler(Protocol):
    """The port actions use to schedule timers inside their own unit of work.

    Everything happens in the caller's transaction: if the action rolls back, the timer was never
    scheduled (and a cancel never happened).
    """

    def schedule(
        self,
        kind: str,
        payload: Mapping[str, Any],
        due_at: dt.datetime,
        dedupe_key: str | None = None,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        replace: bool = False,
    ) -> str:
        """Schedule a job and return its id.

        With a `dedupe_key`, at most one *pending* job holds that key: scheduling again while
        one is pending returns the pending job's id and changes nothing (or, with
        `replace=True`, moves it to the new `due_at`/`payload`). A key held by a job that is
        running or finished is released, so a handler may re-arm its own key (periodic jobs)
        and a cancelled timer can be scheduled again.
        """
        ...

    def cancel(self, dedupe_key: str) -> bool:
        """Cancel the pending job holding `dedupe_key`; False if there is none.

        A job already running cannot be stopped; its handler should re-check the state it acts
        on (e.g. "is the case still unanswered?") inside its own transaction.
        """
        ...


class JobsUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that can schedule timers (the infra `Tx` implements it)."""

    @property
    def jobs(self) -> JobScheduler: ...


# A handler gets the worker's unit of work and the job's payload. The worker passes the infra
# `Tx`, which implements every domain's tx port; a domain annotates `tx` with its own port, hence
# `Any` here (a Callable parameter is contravariant, so a narrower annotation would not fit).
JobHandler = Callable[[Any, Mapping[str, Any]], None]
H = TypeVar("H", bound=JobHandler)


# --- retry with backoff --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: `base * factor**(attempt-1)`, capped, less up to `jitter` of it.

    Jitter spreads retries of jobs that failed together (e.g. while the database was down) so
    they do not all come back in the same second.
    """

    base_seconds: float = 10.0
    factor: float = 2.0
    max_seconds: float = 3600.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.base_seconds < 0 or self.max_seconds < 0 or self.factor < 1:
            raise ValueError("backoff needs base_seconds ≥ 0, max_seconds ≥ 0 and factor ≥ 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, attempt: int, rand: float = 0.0) -> dt.timedelta:
        """The wait after failed attempt number `attempt` (1-based); `rand` in [0, 1)."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        # Cap the exponent first: factor**attempt overflows a float long before it matters.
        exponent = min(attempt - 1, 64)
        raw = min(self.max_seconds, self.base_seconds * self.factor**exponent)
        return dt.timedelta(seconds=raw * (1.0 - self.jitter * min(max(rand, 0.0), 1.0)))


DEFAULT_RETRY = RetryPolicy()


def next_attempt_at(
    *,
    attempts: int,
    max_attempts: int,
    now: dt.datetime,
    policy: RetryPolicy = DEFAULT_RETRY,
    rand: float = 0.0,
) -> dt.datetime | None:
    """When to run a job again after its attempt number `attempts` failed; None: give up."""
    if attempts >= max_attempts:
        return None
    return require_utc(now) + policy.delay(attempts, rand)


# --- registry ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class JobKind:
    """A registered kind: its handler and how to retry it."""

    kind: str
    handler: JobHandler
    retry: RetryPolicy = DEFAULT_RETRY


class JobRegistry:
    """Job kind → handler. Each domain's `jobs.py` holds one (`JOBS`); the worker merges them."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self, kind: str, handler: JobHandler, *, retry: RetryPolicy = DEFAULT_RETRY
    ) -> None:
        """Add a handler; a kind may be registered only once."""
        check_kind(kind)
        if kind in self._kinds:
            raise ValueError(f"job kind {kind!r} is registered twice")
        self._kinds[kind] = JobKind(kind, handler, retry)

    def handler(self, kind: str, *, retry: RetryPolicy = DEFAULT_RETRY) -> Callable[[H], H]:
        """Decorator form of `register`; returns the function unchanged."""

        def decorate(fn: H) -> H:
            self.register(kind, fn, retry=retry)
            return fn

        return decorate

    def include(self, other: JobRegistry) -> None:
        """Add every kind of `other` (a domain's registry); duplicates are an error."""
        for entry in other:
            self.register(entry.kind, entry.handler, retry=entry.retry)

    def get(self, kind: str) -> JobKind | None:
        """The registration for `kind`, if any."""
        return self._kinds.get(kind)

    def kinds(self) -> list[str]:
        """The registered kinds, sorted (a worker claims only these)."""
        return sorted(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds

    def __iter__(self) -> Iterator[JobKind]:
        return iter(list(self._kinds.values()))

    def __len__(self) -> int:
        return len(self._kinds)
