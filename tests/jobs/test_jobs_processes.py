"""Two real worker processes on one PostgreSQL database; one is killed with SIGKILL mid-way.

Every job must still run, and run exactly once: the dead worker's claimed jobs are picked up
after their lease expires, and whatever it was doing when killed left no trace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from hotline.core.context import system_actor
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("HOTLINE_TEST_DATABASE_URL", "").startswith("postgres"),
        reason=(
            "needs HOTLINE_TEST_DATABASE_URL=postgresql://…: several worker processes sharing "
            "one SQLite file is not the deployment model (SQLite runs one node; multi-node "
            "deployments use PostgreSQL)"
        ),
    ),
]

JOBS = 200
LEASE_SECONDS = 2.0

# The worker process: a registry with one kind whose handler leaves an audit row per run.
WORKER_SCRIPT = """
import asyncio, signal, sys, time
from hotline.core.jobs import JobRegistry
from hotline.infra.jobs.worker import Worker
from hotline.infra.runtime import build_runtime
from hotline.settings import Settings

url, var_dir, name, lease = sys.argv[1:5]
rt = build_runtime(Settings(database_url=url, var_dir=var_dir, run_worker=False), upgrade=False)
registry = JobRegistry()

@registry.handler("test.record")
def record(tx, payload):
    tx.audit("test.job_ran", "job", str(payload["n"]), details={"worker": name})
    time.sleep(0.02)  # a little work, so that a kill lands inside a transaction

worker = Worker(rt.db, registry, worker_id=name, lease_seconds=float(lease),
                poll_seconds=0.05, batch_size=10)

async def main():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await worker.run_forever(stop)

asyncio.run(main())
"""


def _scalar(rt: Runtime, sql: str, **params: object) -> int:
    with rt.db.read() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def _wait_for(
    what: str,
    condition: Callable[[], bool],
    procs: list[subprocess.Popen[bytes]],
    timeout: float = 90.0,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"worker process exited early ({p.returncode}) waiting for {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_killed_worker_process_loses_no_job_and_runs_none_twice(
    settings: Settings, tmp_path: Path
) -> None:
    rt = build_runtime(settings, upgrade=False)  # the wall clock, as the workers have
    try:
        now = rt.clock.now()
        with rt.db.transaction(actor=system_actor()) as tx:
            for n in range(JOBS):
                tx.jobs.schedule("test.record", {"n": n}, now)

        def start(name: str) -> subprocess.Popen[bytes]:
            log = (tmp_path / f"{name}.log").open("wb")
            args = [settings.database_url, str(settings.var_dir), name, str(LEASE_SECONDS)]
            return subprocess.Popen(
                [sys.executable, "-c", WORKER_SCRIPT, *args], stdout=log, stderr=log
            )

        def done_by(name: str) -> int:
            return _scalar(
                rt,
                "select count(*) from jobs where status = 'done' and lease_owner = :name",
                name=name,
            )

        def running_by(name: str) -> int:
            return _scalar(
                rt,
                "select count(*) from jobs where status = 'running' and lease_owner = :name",
                name=name,
            )

        victim, survivor = start("victim"), start("survivor")
        try:
            _wait_for(
                "both workers to run jobs",
                lambda: min(done_by("victim"), done_by("survivor")) >= 5,
                [victim, survivor],
            )
            # Kill it while it holds claimed jobs (a batch of 10 takes ~200 ms; on a busy
            # machine the survivor could otherwise finish everything first).
            _wait_for(
                "the victim to run 30 jobs and hold more",
                lambda: done_by("victim") >= 30 and running_by("victim") > 0,
                [victim, survivor],
            )
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            in_flight = _scalar(
                rt, "select count(*) from jobs where status = 'running' and lease_owner = 'victim'"
            )
            # Killed mid-batch: it held leases on jobs it had claimed but not finished.
            assert in_flight > 0

            _wait_for(
                "every job to be done",
                lambda: _scalar(rt, "select count(*) from jobs where status = 'done'") == JOBS,
                [survivor],
            )
        finally:
            for p in (victim, survivor):
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()

        with rt.db.read() as conn:
            per_job: dict[str, int] = dict(
                conn.execute(
                    sa.text(
                        "select object_id, count(*) from audit_log"
                        " where action = 'test.job_ran' group by object_id"
                    )
                ).all()
            )
            retried = conn.execute(
                sa.text("select count(*) from jobs where attempts > 1")
            ).scalar_one()
        assert per_job == {str(n): 1 for n in range(JOBS)}  # each job ran exactly once
        assert retried >= in_flight  # the victim's leased jobs were claimed again
        assert survivor.returncode == 0  # SIGTERM stops the loop cleanly
    finally:
        rt.close()
