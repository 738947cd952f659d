"""The worker loop: claim due jobs under a lease, run each handler, record the outcome.

One job = one transaction that holds the claim, runs the handler's writes and marks the job
done, so the effects and the completion commit together or not at all:

- the process dies before COMMIT → nothing of the attempt is kept; the lease expires and another
  worker runs the job again (no duplicated effects);
- the handler raises → its writes are rolled back; a second transaction records `last_error`
  and reschedules the job with backoff, or marks it failed after `max_attempts`.

No lease heartbeat is needed for long handlers: once the handler's transaction holds the claim,
nobody can take the job over (PostgreSQL row lock / SQLite write lock). The lease only covers the
moments between the claim and that transaction, and a process that died.

Effects outside the database (a call placed, an SMS sent) are at-least-once, as always: such a
handler should record what it did in the same transaction and check it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import os
import random
import socket
import threading
import traceback
from collections.abc import Callable

import structlog

from hotline.core.context import Actor, system_actor
from hotline.core.ids import new_id
from hotline.core.jobs import Job, JobRegistry, PermanentFailure, next_attempt_at
from hotline.infra.db.database import Database
from hotline.settings import Settings

log = structlog.get_logger(__name__)


class Outcome(enum.StrEnum):
    """What `Worker.execute` did with one claimed job."""

    done = "done"
    retry = "retry"  # failed, pending again with a later due_at
    failed = "failed"  # failed for good
    lost = "lost"  # another worker took the claim over (lease expired): did nothing


class _ClaimLost(Exception):
    pass


def default_worker_id() -> str:
    """host:pid:random: unique per Worker, so a claim names exactly one running loop."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id()[-12:]}"


class Worker:
    """Runs due jobs of the kinds in `registry`. Safe to run many at once, on many nodes."""

    def __init__(
        self,
        db: Database,
        registry: JobRegistry,
        *,
        worker_id: str | None = None,
        lease_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        batch_size: int = 10,
        actor: Actor | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if batch_size < 1 or lease_seconds <= 0 or poll_seconds <= 0:
            raise ValueError("batch_size, lease_seconds and poll_seconds must be positive")
        self.db = db
        self.registry = registry
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.actor = actor or system_actor("worker")
        self._rand = rand

    @classmethod
    def from_settings(
        cls,
        db: Database,
        registry: JobRegistry,
        settings: Settings,
        *,
        worker_id: str | None = None,
        batch_size: int = 10,
    ) -> Worker:
        """A worker with the lease and poll interval from `settings`."""
        return cls(
            db,
            registry,
            worker_id=worker_id,
            lease_seconds=settings.job_lease_seconds,
            poll_seconds=settings.worker_poll_seconds,
            batch_size=batch_size,
        )

    def _now(self, now: dt.datetime | None) -> dt.datetime:
        return now if now is not None else self.db.clock.now()

    # -- one round ---------------------------------------------------------------------------
    def run_once(self, now: dt.datetime | None = None) -> int:
        """Claim up to `batch_size` due jobs and run them; returns how many were claimed.

        `now` pins the time for the whole round (tests); by default the clock is read at each
        step.
        """
        claimed = self.claim(now)
        for job in claimed:
            try:
                self.execute(job, now)
            except Exception:
                # Could not even record the failure (database gone?): the lease will expire
                # and the job will run again; go on with the rest of the batch.
                log.exception("job.execute_error", job_id=job.id, kind=job.kind)
        return len(claimed)

    def claim(self, now: dt.datetime | None = None) -> list[Job]:
        """Lease due jobs to this worker (one short transaction of its own)."""
        kinds = self.registry.kinds()
        if not kinds:
            return []
        with self.db.transaction(actor=self.actor) as tx:
            moment = self._now(now)
            failed = tx.jobs.fail_abandoned(moment)
            if failed:
                log.warning("job.abandoned_failed", count=failed)
            return tx.jobs.claim(
                owner=self.worker_id,
                now=moment,
                lease_seconds=self.lease_seconds,
                limit=self.batch_size,
                kinds=kinds,
            )

    def execute(self, job: Job, now: dt.datetime | None = None) -> Outcome:
        """Run one claimed job's handler and commit its effects with its completion."""
        entry = self.registry.get(job.kind)
        if entry is None:  # claim() only takes registered kinds; this is a caller's mistake
            raise ValueError(f"no handler registered for job kind {job.kind!r}")
        try:
            with self.db.transaction(actor=self.actor) as tx:
                if not tx.jobs.hold(job):
                    raise _ClaimLost
                entry.handler(tx, dict(job.payload))
                if not tx.jobs.complete(job, now=self._now(now)):
                    raise _ClaimLost  # cannot happen after hold(); never commit on doubt
        except _ClaimLost:
            log.info("job.claim_lost", job_id=job.id, kind=job.kind, worker=self.worker_id)
            return Outcome.lost
        except Exception as exc:
            return self._record_failure(job, exc, now)
        log.debug("job.done", job_id=job.id, kind=job.kind, attempt=job.attempts)
        return Outcome.done

    def _record_failure(self, job: Job, exc: Exception, now: dt.datetime | None) -> Outcome:
        entry = self.registry.get(job.kind)
        assert entry is not None
        moment = self._now(now)
        retry_at = (
            None
            if isinstance(exc, PermanentFailure)
            else next_attempt_at(
                attempts=job.attempts,
                max_attempts=job.max_attempts,
                now=moment,
                policy=entry.retry,
                rand=self._rand(),
            )
        )
        error = "".join(traceback.format_exception(exc))
        with self.db.transaction(actor=self.actor) as tx:
            recorded = tx.jobs.record_failure(job, now=moment, error=error, retry_at=retry_at)
        if not recorded:
            return Outcome.lost
        outcome = Outcome.retry if retry_at is not None else Outcome.failed
        log.warning(
            "job.attempt_failed",
            job_id=job.id,
            kind=job.kind,
            attempt=job.attempts,
            max_attempts=job.max_attempts,
            outcome=outcome.value,
            retry_at=retry_at.isoformat() if retry_at else None,
            error=f"{type(exc).__name__}: {exc}",
        )
        return outcome

    # -- the loop ----------------------------------------------------------------------------
    async def run_forever(self, stop_event: asyncio.Event | threading.Event) -> None:
        """Poll every `poll_seconds` until `stop_event` is set.

        Rounds run in a thread (`asyncio.to_thread`), so the loop may share an event loop with
        the web server; a full batch is followed at once by another round.
        """
        log.info("worker.start", worker=self.worker_id, kinds=self.registry.kinds())
        while not stop_event.is_set():
            try:
                claimed = await asyncio.to_thread(self.run_once)
            except Exception:
                # A database outage must not kill the loop; try again after the pause.
                log.exception("worker.round_failed", worker=self.worker_id)
                claimed = 0
            if claimed >= self.batch_size:
                await asyncio.sleep(0)
                continue
            await _wait(stop_event, self.poll_seconds)
        log.info("worker.stop", worker=self.worker_id)


async def _wait(stop_event: asyncio.Event | threading.Event, timeout: float) -> None:
    if isinstance(stop_event, asyncio.Event):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout)
    else:
        await asyncio.to_thread(stop_event.wait, timeout)


class WorkerThread:
    """Runs `worker.run_forever` in a daemon thread with its own event loop, next to a server:
    `start()` at startup, `stop()` at shutdown."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(worker.run_forever(self._stop)),
            name=f"hotline-worker-{worker.worker_id}",
            daemon=True,
        )

    def start(self) -> None:
        """Start the loop."""
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ask the loop to stop after its current round and wait for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
