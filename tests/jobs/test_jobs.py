"""Durable jobs and timers through the real database (SQLite, or PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
import sqlalchemy as sa

from hotline.core.clock import ManualClock
from hotline.core.context import system_actor
from hotline.core.jobs import (
    Job,
    JobRegistry,
    JobSpec,
    JobStatus,
    PermanentFailure,
    RetryPolicy,
    next_attempt_at,
)
from hotline.infra.db.database import Tx
from hotline.infra.jobs import registry as system_registry
from hotline.infra.jobs.worker import Outcome, Worker, WorkerThread
from hotline.infra.runtime import Runtime

LEASE = 30.0
NO_JITTER = RetryPolicy(base_seconds=10, factor=2, max_seconds=3600, jitter=0)


class SimulatedCrash(BaseException):
    """Stands for the process dying: not an Exception, so the worker records nothing."""


def record(tx: Tx, payload: Mapping[str, Any]) -> None:
    """The usual test handler: one audit row per run, keyed by the payload's `n`."""
    tx.audit("test.job_ran", "job", str(payload["n"]))


def make_registry(**handlers: Any) -> JobRegistry:
    registry = JobRegistry()
    registry.register("test.record", record, retry=NO_JITTER)
    for kind, handler in handlers.items():
        registry.register(f"test.{kind}", handler, retry=NO_JITTER)
    return registry


def worker(rt: Runtime, registry: JobRegistry, name: str = "w1", **kwargs: Any) -> Worker:
    kwargs.setdefault("lease_seconds", LEASE)
    return Worker(rt.db, registry, worker_id=name, **kwargs)


def schedule(rt: Runtime, kind: str = "test.record", n: int = 0, **kwargs: Any) -> str:
    kwargs.setdefault("due_at", rt.clock.now())
    with rt.db.transaction(actor=system_actor()) as tx:
        return tx.jobs.schedule(kind, {"n": n}, **kwargs)


def job(rt: Runtime, job_id: str) -> Job:
    with rt.db.read() as conn:
        tx_store = Tx(conn, actor=system_actor(), clock=rt.clock, cipher=rt.cipher).jobs
        found = tx_store.get(job_id)
    assert found is not None
    return found


def runs(rt: Runtime) -> Counter[str]:
    """How many times each job `n` ran (committed audit rows)."""
    with rt.db.read() as conn:
        rows = conn.execute(
            sa.text("select object_id from audit_log where action = 'test.job_ran'")
        ).scalars()
        return Counter(rows)


def count_jobs(rt: Runtime) -> int:
    with rt.db.read() as conn:
        return int(conn.execute(sa.text("select count(*) from jobs")).scalar_one())


# --- scheduling in the action's unit of work -------------------------------------------------
def test_job_scheduled_by_a_failed_action_does_not_exist(runtime: Runtime) -> None:
    with pytest.raises(RuntimeError), runtime.db.transaction(actor=system_actor()) as tx:
        tx.jobs.schedule("test.record", {"n": 1}, runtime.clock.now())
        raise RuntimeError("the action fails after scheduling")
    assert count_jobs(runtime) == 0

    job_id = schedule(runtime, n=2)
    stored = job(runtime, job_id)
    assert stored.status is JobStatus.pending
    assert stored.payload == {"n": 2}
    assert stored.attempts == 0


def test_only_due_jobs_run(runtime: Runtime, clock: ManualClock) -> None:
    w = worker(runtime, make_registry())
    later = schedule(runtime, n=1, due_at=clock.now() + dt.timedelta(minutes=5))
    assert w.run_once() == 0
    clock.advance(299)
    assert w.run_once() == 0
    clock.advance(1)
    assert w.run_once() == 1
    done = job(runtime, later)
    assert done.status is JobStatus.done
    assert done.finished_at == clock.now()
    assert done.attempts == 1
    assert runs(runtime) == {"1": 1}
    assert w.run_once() == 0  # a done job never runs again


def test_naive_due_at_is_rejected(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="naive"):
        schedule(runtime, due_at=dt.datetime(2026, 1, 5, 9, 0))  # noqa: DTZ001
    assert count_jobs(runtime) == 0


# --- claiming ---------------------------------------------------------------------------------
def test_concurrent_claims_never_share_a_job(runtime: Runtime) -> None:
    with runtime.db.transaction(actor=system_actor()) as tx:
        for n in range(120):
            tx.jobs.schedule("test.record", {"n": n}, runtime.clock.now())
    registry = make_registry()
    threads_n = 4
    barrier = threading.Barrier(threads_n)
    claimed: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        w = worker(runtime, registry, name, batch_size=7)
        mine: list[str] = []
        try:
            barrier.wait()
            while batch := w.claim():
                mine.extend(j.id for j in batch)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        claimed[name] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    every = [job_id for ids in claimed.values() for job_id in ids]
    assert len(every) == 120
    assert len(set(every)) == 120  # no job went to two workers
    with runtime.db.read() as conn:
        owners = {r.id: r.lease_owner for r in conn.execute(sa.text("select * from jobs"))}
    for name, ids in claimed.items():
        assert all(owners[i] == name for i in ids)


def test_concurrent_workers_run_each_job_once(runtime: Runtime) -> None:
    with runtime.db.transaction(actor=system_actor()) as tx:
        for n in range(60):
            tx.jobs.schedule("test.record", {"n": n}, runtime.clock.now())
    registry = make_registry()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(name: str) -> None:
        w = worker(runtime, registry, name, batch_size=5)
        try:
            barrier.wait()
            while w.run_once():
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert runs(runtime) == {str(n): 1 for n in range(60)}


def test_postgres_claims_skip_rows_locked_by_another_claim(runtime: Runtime) -> None:
    if runtime.settings.is_sqlite:
        pytest.skip("SQLite serialises claims with BEGIN IMMEDIATE; SKIP LOCKED is PostgreSQL's")
    with runtime.db.transaction(actor=system_actor()) as tx:
        for n in range(10):
            tx.jobs.schedule("test.record", {"n": n}, runtime.clock.now())
    now = runtime.clock.now()
    with runtime.db.transaction(actor=system_actor()) as first:
        held = first.jobs.claim(owner="a", now=now, lease_seconds=LEASE, limit=3)
        # The first claim has not committed; a second one neither waits nor takes its rows.
        with runtime.db.transaction(actor=system_actor()) as second:
            rest = second.jobs.claim(owner="b", now=now, lease_seconds=LEASE, limit=100)
    assert len(held) == 3 and len(rest) == 7
    assert not {j.id for j in held} & {j.id for j in rest}


def test_postgres_running_handler_keeps_its_job_past_the_lease(
    runtime: Runtime, clock: ManualClock
) -> None:
    if runtime.settings.is_sqlite:
        pytest.skip("on SQLite the handler's write lock makes other claimers wait instead")
    registry = make_registry()
    job_id = schedule(runtime, n=1)
    slow = worker(runtime, registry, "slow")
    [claimed] = slow.claim()
    with runtime.db.transaction(actor=system_actor("worker")) as tx:
        assert tx.jobs.hold(claimed)  # the handler's transaction has started...
        clock.advance(LEASE * 10)  # ...and takes far longer than the lease
        assert worker(runtime, registry, "eager").claim() == []
        record(tx, claimed.payload)
        assert tx.jobs.complete(claimed, now=clock.now())
    assert job(runtime, job_id).status is JobStatus.done
    assert worker(runtime, registry, "eager").run_once() == 0
    assert runs(runtime) == {"1": 1}


def test_unregistered_kinds_are_left_alone(runtime: Runtime) -> None:
    other = schedule(runtime, "other.kind")
    assert worker(runtime, make_registry()).run_once() == 0
    assert job(runtime, other).status is JobStatus.pending


# --- a worker that dies ----------------------------------------------------------------------
def test_dead_workers_job_is_run_by_another_after_the_lease(
    runtime: Runtime, clock: ManualClock
) -> None:
    registry = make_registry()
    job_id = schedule(runtime, n=7)
    dead = worker(runtime, registry, "dead")
    [claimed] = dead.claim()  # ...and the process dies here, before running it
    assert job(runtime, job_id).lease_owner == "dead"

    survivor = worker(runtime, registry, "survivor")
    assert survivor.run_once() == 0  # still leased
    clock.advance(LEASE)
    assert survivor.run_once() == 0  # lease_until is not yet *past*
    clock.advance(1)
    assert survivor.run_once() == 1
    done = job(runtime, job_id)
    assert (done.status, done.lease_owner, done.attempts) == (JobStatus.done, "survivor", 2)
    assert runs(runtime) == {"7": 1}

    # Were the "dead" worker only slow, its stale claim must not run the job a second time.
    assert dead.execute(claimed) is Outcome.lost
    assert runs(runtime) == {"7": 1}


def test_effects_and_completion_commit_together(runtime: Runtime, clock: ManualClock) -> None:
    calls: list[int] = []

    def write_then_crash(tx: Tx, payload: Mapping[str, Any]) -> None:
        calls.append(1)
        record(tx, payload)  # the job's effect...
        if len(calls) == 1:
            raise SimulatedCrash  # ...then the process dies before COMMIT

    registry = make_registry(crashy=write_then_crash)
    job_id = schedule(runtime, "test.crashy", n=3)
    with pytest.raises(SimulatedCrash):
        worker(runtime, registry, "first").run_once()
    assert runs(runtime) == {}  # the write died with the transaction
    assert job(runtime, job_id).status is JobStatus.running  # nobody recorded anything

    clock.advance(LEASE + 1)
    assert worker(runtime, registry, "second").run_once() == 1
    assert len(calls) == 2
    assert runs(runtime) == {"3": 1}  # ran again, effect not duplicated
    assert job(runtime, job_id).status is JobStatus.done


def test_job_that_keeps_killing_its_worker_fails_after_max_attempts(
    runtime: Runtime, clock: ManualClock
) -> None:
    registry = make_registry()
    job_id = schedule(runtime, max_attempts=2)
    for name in ("a", "b"):
        assert len(worker(runtime, registry, name).claim()) == 1  # claimed, then "dies"
        clock.advance(LEASE + 1)
    assert worker(runtime, registry, "c").run_once() == 0
    failed = job(runtime, job_id)
    assert failed.status is JobStatus.failed
    assert failed.attempts == 2
    assert failed.last_error is not None and "lease expired" in failed.last_error
    assert runs(runtime) == {}


# --- failures and retries --------------------------------------------------------------------
def test_failing_handler_is_retried_with_backoff_then_failed(
    runtime: Runtime, clock: ManualClock
) -> None:
    def boom(tx: Tx, payload: Mapping[str, Any]) -> None:
        record(tx, payload)  # rolled back with the failure
        raise RuntimeError("boom")

    w = worker(runtime, make_registry(boom=boom))
    job_id = schedule(runtime, "test.boom", max_attempts=3)
    start = clock.now()

    assert w.run_once() == 1
    first = job(runtime, job_id)
    assert (first.status, first.attempts) == (JobStatus.pending, 1)
    assert first.due_at == start + dt.timedelta(seconds=10)
    assert first.last_error is not None and "RuntimeError: boom" in first.last_error
    assert first.lease_owner is None

    clock.advance(9)
    assert w.run_once() == 0  # backing off
    clock.advance(1)
    assert w.run_once() == 1
    second = job(runtime, job_id)
    assert (second.status, second.attempts) == (JobStatus.pending, 2)
    assert second.due_at == clock.now() + dt.timedelta(seconds=20)

    clock.advance(20)
    assert w.run_once() == 1
    final = job(runtime, job_id)
    assert (final.status, final.attempts) == (JobStatus.failed, 3)
    assert final.finished_at == clock.now()
    clock.advance(3600)
    assert w.run_once() == 0
    assert runs(runtime) == {}


def test_retry_after_a_transient_error_succeeds(runtime: Runtime, clock: ManualClock) -> None:
    calls: list[int] = []

    def flaky(tx: Tx, payload: Mapping[str, Any]) -> None:
        calls.append(1)
        record(tx, payload)
        if len(calls) == 1:
            raise ConnectionError("the PBX did not answer")

    w = worker(runtime, make_registry(flaky=flaky))
    job_id = schedule(runtime, "test.flaky", n=5)
    w.run_once()
    clock.advance(10)
    w.run_once()
    done = job(runtime, job_id)
    assert (done.status, done.attempts) == (JobStatus.done, 2)
    assert done.last_error is not None and "PBX" in done.last_error  # kept for the record
    assert runs(runtime) == {"5": 1}


def test_permanent_failure_is_not_retried(runtime: Runtime) -> None:
    def gone(tx: Tx, payload: Mapping[str, Any]) -> None:
        raise PermanentFailure("the case no longer exists")

    w = worker(runtime, make_registry(gone=gone))
    job_id = schedule(runtime, "test.gone")
    w.run_once()
    failed = job(runtime, job_id)
    assert (failed.status, failed.attempts) == (JobStatus.failed, 1)


# --- dedupe and cancel -----------------------------------------------------------------------
def test_dedupe_key_prevents_double_scheduling(runtime: Runtime, clock: ManualClock) -> None:
    first = schedule(runtime, n=1, dedupe_key="case:1:sla")
    again = schedule(runtime, n=2, dedupe_key="case:1:sla", due_at=clock.now() + dt.timedelta(1))
    assert again == first
    assert count_jobs(runtime) == 1
    assert job(runtime, first).payload == {"n": 1}  # unchanged

    later = clock.now() + dt.timedelta(minutes=3)
    moved = schedule(runtime, n=3, dedupe_key="case:1:sla", due_at=later, replace=True)
    assert moved == first
    assert (job(runtime, first).payload, job(runtime, first).due_at) == ({"n": 3}, later)

    w = worker(runtime, make_registry())
    clock.advance(180)
    assert w.run_once() == 1
    # Once the job has run, the key is free for the next timer of that name.
    next_one = schedule(runtime, n=4, dedupe_key="case:1:sla")
    assert next_one != first
    assert job(runtime, first).dedupe_key is None
    assert job(runtime, next_one).dedupe_key == "case:1:sla"
    assert w.run_once() == 1
    assert runs(runtime) == {"3": 1, "4": 1}


def test_concurrent_scheduling_with_one_dedupe_key(runtime: Runtime) -> None:
    barrier = threading.Barrier(6)
    ids: list[str] = []
    errors: list[BaseException] = []

    def action(n: int) -> None:
        try:
            barrier.wait()
            ids.append(schedule(runtime, n=n, dedupe_key="surge:check"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=action, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(set(ids)) == 1
    assert count_jobs(runtime) == 1


def test_cancel(runtime: Runtime, clock: ManualClock) -> None:
    job_id = schedule(runtime, dedupe_key="case:9:sla", due_at=clock.now())

    # A cancel in an action that fails is no cancel.
    with pytest.raises(RuntimeError), runtime.db.transaction(actor=system_actor()) as tx:
        assert tx.jobs.cancel("case:9:sla")
        raise RuntimeError("the action fails")
    assert job(runtime, job_id).status is JobStatus.pending

    with runtime.db.transaction(actor=system_actor()) as tx:
        assert tx.jobs.cancel("case:9:sla")
        assert not tx.jobs.cancel("case:9:sla")
        assert not tx.jobs.cancel("no:such:key")
    cancelled = job(runtime, job_id)
    assert (cancelled.status, cancelled.finished_at) == (JobStatus.cancelled, clock.now())
    clock.advance(3600)
    assert worker(runtime, make_registry()).run_once() == 0
    assert runs(runtime) == {}

    # A cancelled timer can be armed again under its key.
    assert schedule(runtime, dedupe_key="case:9:sla") != job_id
    with runtime.db.transaction(actor=system_actor()) as tx:
        other = tx.jobs.schedule("test.record", {"n": 1}, clock.now())
        assert tx.jobs.cancel_job(other)


def test_handler_can_rearm_its_own_key(runtime: Runtime, clock: ManualClock) -> None:
    def periodic(tx: Tx, payload: Mapping[str, Any]) -> None:
        record(tx, payload)
        n = int(payload["n"]) + 1
        if n < 3:
            due = tx.clock.now() + dt.timedelta(seconds=60)
            tx.jobs.schedule("test.periodic", {"n": n}, due, dedupe_key="periodic")

    w = worker(runtime, make_registry(periodic=periodic))
    schedule(runtime, "test.periodic", n=0, dedupe_key="periodic")
    for _ in range(5):
        w.run_once()
        clock.advance(60)
    assert runs(runtime) == {"0": 1, "1": 1, "2": 1}
    with runtime.db.read() as conn:
        statuses = conn.execute(sa.text("select status from jobs")).scalars().all()
    assert sorted(statuses) == ["done", "done", "done"]


# --- the loop --------------------------------------------------------------------------------
def test_run_forever_until_stopped(runtime: Runtime) -> None:
    job_id = schedule(runtime, n=1)
    w = worker(runtime, make_registry(), poll_seconds=0.05)

    async def main() -> None:
        stop = asyncio.Event()
        loop_task = asyncio.create_task(w.run_forever(stop))
        for _ in range(200):
            if job(runtime, job_id).status is JobStatus.done:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(loop_task, 5)

    asyncio.run(main())
    assert runs(runtime) == {"1": 1}


def test_worker_thread(runtime: Runtime) -> None:
    thread = WorkerThread(worker(runtime, make_registry(), poll_seconds=0.05))
    thread.start()
    try:
        job_id = schedule(runtime, n=1)
        for _ in range(200):
            if job(runtime, job_id).status is JobStatus.done:
                break
            threading.Event().wait(0.02)
    finally:
        thread.stop()
    assert not thread.alive
    assert runs(runtime) == {"1": 1}


# --- registry and pure parts -----------------------------------------------------------------
def test_system_registry(runtime: Runtime) -> None:
    registry = system_registry.build_registry(runtime.settings, extra=[make_registry()])
    assert system_registry.NOOP in registry
    assert "test.record" in registry
    try:
        import hotline.infra.audit.checkpoint  # noqa: F401
    except ImportError:
        assert system_registry.AUDIT_CHECKPOINT not in registry
    else:
        assert system_registry.AUDIT_CHECKPOINT in registry
    with pytest.raises(ValueError, match="twice"):
        registry.include(make_registry())
    job_id = schedule(runtime, system_registry.NOOP)
    assert worker(runtime, registry).run_once() == 1
    assert job(runtime, job_id).status is JobStatus.done


def test_registry_and_spec_validation() -> None:
    registry = JobRegistry()

    @registry.handler("demo.tick")
    def tick(tx: Any, payload: Mapping[str, Any]) -> None: ...

    assert registry.kinds() == ["demo.tick"]
    assert registry.get("demo.tick") is not None and registry.get("x.y") is None
    assert len(registry) == 1
    for bad in ("", "nodot", "Upper.Case", "x." + "y" * 70):
        with pytest.raises(ValueError):
            registry.register(bad, tick)
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        JobSpec("demo.tick", {}, now, max_attempts=0)
    with pytest.raises(ValueError):
        JobSpec("demo.tick", {}, now, dedupe_key="k" * 201)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(base_seconds=10, factor=2, max_seconds=60, jitter=0.5)
    assert [policy.delay(a).total_seconds() for a in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
    assert policy.delay(2, rand=0.999).total_seconds() == pytest.approx(10.01)
    assert policy.delay(10_000).total_seconds() == 60  # no overflow
    now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    assert next_attempt_at(attempts=1, max_attempts=3, now=now, policy=policy) == now + (
        dt.timedelta(seconds=10)
    )
    assert next_attempt_at(attempts=3, max_attempts=3, now=now, policy=policy) is None
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.0)
