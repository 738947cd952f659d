"""Background work of statistics.

`stats.publish` runs about once a second (it schedules its next run): it emits the live rows
that changed, including the rolling "last 15/30 minutes" figures that change as minutes pass
without any event. `stats.rebuild` recomputes the interval rows from `contact_events`.
`stats.prune` runs hourly and deletes one-minute queue rows past their retention.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from hotline.core.jobs import JobRegistry, JobsUnitOfWork, RetryPolicy
from hotline.domains.routing.ports import RoutingTx
from hotline.domains.stats.actions import prune_minute_rows, publish, rebuild

PUBLISH_JOB = "stats.publish"
REBUILD_JOB = "stats.rebuild"
PRUNE_JOB = "stats.prune"
PUBLISH_EVERY_SECONDS = 1.0
PRUNE_EVERY_SECONDS = 3600.0

JOBS = JobRegistry()


class StatsJobsTx(RoutingTx, JobsUnitOfWork, Protocol):
    """The worker's unit of work as these jobs see it."""


def _schedule_once(tx: StatsJobsTx, kind: str, delay: float) -> None:
    # Idempotent: the kind is its own dedupe key, so one run at most is pending.
    tx.jobs.schedule(kind, {}, due_at=tx.clock.now() + dt.timedelta(seconds=delay), dedupe_key=kind)


def schedule_publish(tx: StatsJobsTx, *, delay: float = PUBLISH_EVERY_SECONDS) -> None:
    """Make sure one publish run is pending."""
    _schedule_once(tx, PUBLISH_JOB, delay)


@JOBS.handler(PUBLISH_JOB, retry=RetryPolicy(base_seconds=1, max_seconds=30))
def publish_job(tx: StatsJobsTx, payload: Mapping[str, Any]) -> None:
    """Publish changed live rows, then schedule the next run."""
    publish(tx)
    schedule_publish(tx)


@JOBS.handler(REBUILD_JOB)
def rebuild_job(tx: RoutingTx, payload: Mapping[str, Any]) -> None:
    """Rebuild the interval rows (payload `since`: an ISO date-time, or absent for all)."""
    since = payload.get("since")
    rebuild(tx, since=None if since is None else dt.datetime.fromisoformat(since))


def schedule_prune(tx: StatsJobsTx, *, delay: float = PRUNE_EVERY_SECONDS) -> None:
    """Make sure one prune run is pending."""
    _schedule_once(tx, PRUNE_JOB, delay)


@JOBS.handler(PRUNE_JOB, retry=RetryPolicy(base_seconds=60, max_seconds=3600))
def prune_job(tx: StatsJobsTx, payload: Mapping[str, Any]) -> None:
    """Delete one-minute rows past their retention, then schedule the next run."""
    prune_minute_rows(tx)
    schedule_prune(tx)
