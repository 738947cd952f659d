"""Background work of statistics.

`stats.publish` runs about once a second (it schedules its next run): it emits the live rows
that changed, including the rolling "last 15/30 minutes" figures that change as minutes pass
without any event. `stats.rebuild` recomputes the interval rows from `contact_events`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol

from hotline.core.jobs import JobRegistry, JobsUnitOfWork, RetryPolicy
from hotline.domains.routing.ports import RoutingTx
from hotline.domains.stats.actions import publish, rebuild

PUBLISH_JOB = "stats.publish"
REBUILD_JOB = "stats.rebuild"
PUBLISH_EVERY_SECONDS = 1.0

JOBS = JobRegistry()


class StatsJobsTx(RoutingTx, JobsUnitOfWork, Protocol):
    """The worker's unit of work as these jobs see it."""


def schedule_publish(tx: StatsJobsTx, *, delay: float = PUBLISH_EVERY_SECONDS) -> None:
    """Make sure one publish run is pending (idempotent: one dedupe key)."""
    tx.jobs.schedule(
        PUBLISH_JOB,
        {},
        due_at=tx.clock.now() + dt.timedelta(seconds=delay),
        dedupe_key=PUBLISH_JOB,
    )


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
