"""SQL for the `jobs` table: scheduling inside an action's transaction, and claiming under a lease.

Claiming (`claim`) is its own short transaction. It takes due pending jobs, plus running jobs
whose lease has expired (their worker died), sets `status=running`, `lease_owner`,
`lease_until` and `attempts+1`, and commits:

- PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED LIMIT n`, then `UPDATE … WHERE id IN (ids)`, so
  concurrent workers on any number of nodes never take the same row, and none waits for another.
- SQLite: one `UPDATE … WHERE id IN (SELECT … LIMIT n)` under `BEGIN IMMEDIATE`, which already
  serialises writers.

A claim is identified by (`id`, `lease_owner`, `attempts`): the worker runs the handler in a new
transaction that first `hold`s the row (re-checks that claim and, on PostgreSQL, locks the row
until commit) and ends with `complete` in the same transaction. If the lease expired and another
worker re-claimed the job meanwhile, `hold` fails and the stale worker does nothing; while the
handler's transaction is open nobody can re-claim the row (PostgreSQL: the row lock, which
`SKIP LOCKED` skips; SQLite: the database write lock). So a job's effects commit exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hotline.core.clock import Clock, require_utc
from hotline.core.ids import new_id
from hotline.core.jobs import DEFAULT_MAX_ATTEMPTS, Job, JobSpec, JobStatus
from hotline.infra.db.engine import is_postgres
from hotline.infra.db.schema import jobs

# last_error is TEXT, but a traceback of a deep recursion is not worth megabytes per row.
MAX_ERROR_CHARS = 8000
PENDING, RUNNING = JobStatus.pending.value, JobStatus.running.value


def _job(row: sa.Row[Any]) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        payload=dict(row.payload or {}),
        due_at=row.due_at,
        status=JobStatus(row.status),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
        last_error=row.last_error,
        dedupe_key=row.dedupe_key,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _is_claim(job: Job) -> sa.ColumnElement[bool]:
    """The row still carries this claim: same owner, same attempt, still running."""
    return sa.and_(
        jobs.c.id == job.id,
        jobs.c.lease_owner == job.lease_owner,
        jobs.c.attempts == job.attempts,
        jobs.c.status == RUNNING,
    )


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Claimable at `now`: pending and due, or running under an expired lease."""
    return sa.or_(
        sa.and_(jobs.c.status == PENDING, jobs.c.due_at <= now),
        # An expired lease means its worker died (or stalled before starting the handler):
        # the job is up for grabs again, while attempts remain.
        sa.and_(
            jobs.c.status == RUNNING,
            jobs.c.lease_until < now,
            jobs.c.attempts < jobs.c.max_attempts,
        ),
    )


class SqlJobStore:
    """The `JobScheduler` port on one connection, plus the worker's claim/complete steps.

    Every method runs in the connection's current transaction; the caller commits.
    """

    def __init__(self, conn: sa.Connection, *, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
        self._pg = is_postgres(conn)

    # -- scheduling (JobScheduler) -----------------------------------------------------------
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
        """Insert a job in the caller's transaction; see `JobScheduler.schedule` for dedupe."""
        spec = JobSpec(kind, dict(payload), require_utc(due_at), dedupe_key, max_attempts)
        job_id = new_id()
        row = {
            "id": job_id,
            "kind": spec.kind,
            "payload": dict(spec.payload),
            "due_at": spec.due_at,
            "status": PENDING,
            "attempts": 0,
            "max_attempts": spec.max_attempts,
            "dedupe_key": spec.dedupe_key,
            "created_at": self.clock.now(),
        }
        if spec.dedupe_key is None:
            self.conn.execute(jobs.insert().values(**row))
            return job_id
        key = spec.dedupe_key
        # On SQLite the first round always decides (writers are serialised). On PostgreSQL a
        # concurrent transaction can move the key between our statements; a round that finds
        # nothing to return simply looks again.
        for _ in range(5):
            # A key stays on a running or finished job only until someone needs it again: that
            # lets a handler re-arm its own key and a cancelled timer be scheduled anew.
            self.conn.execute(
                jobs.update()
                .where(jobs.c.dedupe_key == key, jobs.c.status != PENDING)
                .values(dedupe_key=None)
            )
            # ON CONFLICT DO NOTHING rather than catching the unique violation: an error would
            # abort the caller's whole PostgreSQL transaction, not just this statement.
            insert = (postgresql.insert if self._pg else sqlite.insert)(jobs)
            inserted = self.conn.execute(
                insert.values(**row)
                .on_conflict_do_nothing(index_elements=[jobs.c.dedupe_key])
                .returning(jobs.c.id)
            ).scalar_one_or_none()
            if inserted is not None:
                return str(inserted)
            if replace:
                existing = self.conn.execute(
                    jobs.update()
                    .where(jobs.c.dedupe_key == key, jobs.c.status == PENDING)
                    .values(
                        kind=spec.kind,
                        payload=dict(spec.payload),
                        due_at=spec.due_at,
                        max_attempts=spec.max_attempts,
                    )
                    .returning(jobs.c.id)
                ).scalar_one_or_none()
            else:
                existing = self.conn.execute(
                    sa.select(jobs.c.id).where(jobs.c.dedupe_key == key, jobs.c.status == PENDING)
                ).scalar_one_or_none()
            if existing is not None:
                return str(existing)
        raise RuntimeError(f"could not schedule job with dedupe_key {key!r}: it keeps moving")

    def cancel(self, dedupe_key: str) -> bool:
        """Cancel the pending job holding `dedupe_key`; False if there is none."""
        return self._cancel(jobs.c.dedupe_key == dedupe_key)

    def cancel_job(self, job_id: str) -> bool:
        """Cancel a pending job by id; False if it is not pending (running or finished)."""
        return self._cancel(jobs.c.id == job_id)

    def _cancel(self, which: sa.ColumnElement[bool]) -> bool:
        res = self.conn.execute(
            jobs.update()
            .where(which, jobs.c.status == PENDING)
            .values(status=JobStatus.cancelled.value, finished_at=self.clock.now())
        )
        return res.rowcount > 0

    # -- reading -----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        """One job by id."""
        row = self.conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return _job(row) if row else None

    def by_dedupe_key(self, dedupe_key: str) -> Job | None:
        """The job currently holding `dedupe_key`, whatever its status."""
        row = self.conn.execute(sa.select(jobs).where(jobs.c.dedupe_key == dedupe_key)).first()
        return _job(row) if row else None

    def count_by_status(self) -> dict[str, int]:
        """Number of jobs per status (for health checks and metrics)."""
        rows = self.conn.execute(
            sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)
        ).all()
        return {str(status): int(n) for status, n in rows}

    def has_due(self, kinds: Collection[str], now: dt.datetime) -> bool:
        """Whether a job of `kinds` is claimable at `now` (a cheap read before a claim, which
        is a write)."""
        if not kinds:
            return False
        stmt = (
            sa.select(jobs.c.id)
            .where(_due(require_utc(now)), jobs.c.kind.in_(sorted(kinds)))
            .limit(1)
        )
        return self.conn.execute(stmt).first() is not None

    # -- the worker's side -------------------------------------------------------------------
    def claim(
        self,
        *,
        owner: str,
        now: dt.datetime,
        lease_seconds: float,
        limit: int,
        kinds: Collection[str] | None = None,
    ) -> list[Job]:
        """Lease up to `limit` due jobs (of `kinds`, if given) to `owner` until now+lease."""
        now = require_utc(now)
        if limit < 1 or (kinds is not None and not kinds):
            return []
        wanted = sa.select(jobs.c.id).where(_due(now))
        if kinds is not None:
            wanted = wanted.where(jobs.c.kind.in_(sorted(kinds)))
        wanted = wanted.order_by(jobs.c.due_at, jobs.c.id).limit(limit)
        take = jobs.update().values(
            status=RUNNING,
            lease_owner=owner,
            lease_until=now + dt.timedelta(seconds=lease_seconds),
            attempts=jobs.c.attempts + 1,
        )
        if self._pg:
            # Two statements: with `UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP
            # LOCKED)` the planner may run the sub-select more than once and take more than n.
            ids = list(self.conn.execute(wanted.with_for_update(skip_locked=True)).scalars())
            if not ids:
                return []
            stmt = take.where(jobs.c.id.in_(ids))
        else:
            stmt = take.where(jobs.c.id.in_(wanted.scalar_subquery()))
        rows = self.conn.execute(stmt.returning(*jobs.c)).all()
        return sorted((_job(r) for r in rows), key=lambda j: (j.due_at, j.id))

    def fail_abandoned(self, now: dt.datetime) -> int:
        """Fail running jobs whose lease expired with no attempts left (e.g. a job that kills
        its worker every time): retrying them forever would take a node down each time."""
        now = require_utc(now)
        stale = sa.and_(
            jobs.c.status == RUNNING,
            jobs.c.lease_until < now,
            jobs.c.attempts >= jobs.c.max_attempts,
        )
        fail = jobs.update().values(
            status=JobStatus.failed.value,
            finished_at=now,
            lease_until=None,
            last_error="lease expired: the worker stopped during the last attempt",
        )
        if self._pg:
            ids = list(
                self.conn.execute(
                    sa.select(jobs.c.id).where(stale).with_for_update(skip_locked=True)
                ).scalars()
            )
            if not ids:
                return 0
            return self.conn.execute(fail.where(jobs.c.id.in_(ids))).rowcount
        return self.conn.execute(fail.where(stale)).rowcount

    def hold(self, job: Job) -> bool:
        """In the handler's transaction: True if `job`'s claim still stands.

        On PostgreSQL this also locks the row until commit, so the lease cannot be taken over
        while the handler runs, however long it takes (a claimer's SKIP LOCKED passes it by).
        """
        stmt = sa.select(jobs.c.id).where(_is_claim(job))
        if self._pg:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).first() is not None

    def extend_lease(self, job: Job, *, now: dt.datetime, lease_seconds: float) -> bool:
        """Push a claimed job's lease to now+lease (a claimed job still waiting its turn)."""
        res = self.conn.execute(
            jobs.update()
            .where(_is_claim(job))
            .values(lease_until=require_utc(now) + dt.timedelta(seconds=lease_seconds))
        )
        return res.rowcount > 0

    def complete(self, job: Job, *, now: dt.datetime) -> bool:
        """Mark the claimed job done (in the handler's transaction); False if not ours."""
        res = self.conn.execute(
            jobs.update()
            .where(_is_claim(job))
            .values(status=JobStatus.done.value, finished_at=require_utc(now), lease_until=None)
        )
        return res.rowcount > 0

    def record_failure(
        self, job: Job, *, now: dt.datetime, error: str, retry_at: dt.datetime | None
    ) -> bool:
        """After a failed attempt: pending again at `retry_at`, or failed when it is None."""
        values: dict[str, Any] = {
            "last_error": error[-MAX_ERROR_CHARS:],
            "lease_until": None,
        }
        if retry_at is None:
            values.update(status=JobStatus.failed.value, finished_at=require_utc(now))
        else:
            values.update(status=PENDING, due_at=require_utc(retry_at), lease_owner=None)
        res = self.conn.execute(jobs.update().where(_is_claim(job)).values(**values))
        return res.rowcount > 0
