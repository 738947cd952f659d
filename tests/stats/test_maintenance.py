"""`hotline stats rebuild` and the jobs: the periodic publisher and the rebuild job."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hotline.cli.main import app as cli
from hotline.core.context import system_actor
from hotline.domains.stats.actions import prune_minute_rows, rebuild
from hotline.domains.stats.jobs import (
    PRUNE_JOB,
    PUBLISH_JOB,
    REBUILD_JOB,
    schedule_prune,
    schedule_publish,
)
from hotline.infra.db.schema import interval_stats, jobs, outbox
from hotline.infra.jobs.registry import build_registry
from hotline.infra.jobs.worker import Worker
from stats.scenario import interval_table, random_scenario

if TYPE_CHECKING:
    from routing_api.conftest import Floor


@pytest.fixture
def cli_env(floor: Floor, monkeypatch: pytest.MonkeyPatch) -> Iterator[Floor]:
    settings = floor.runtime.settings
    for name in list(os.environ):
        if name.startswith("HOTLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(settings.var_dir))
    yield floor


def wipe(floor: Floor) -> None:
    with floor.runtime.db.transaction(actor=system_actor("test")) as tx:
        tx.conn.execute(interval_stats.delete())


def test_cli_rebuild_restores_the_rows(cli_env: Floor) -> None:
    floor = cli_env
    random_scenario(floor, seed=5, steps=40)
    # The CLI runs on the real clock, long after the scenario's day (2026-01-05): its
    # one-minute rows are past their retention, so the rebuild leaves them out.
    live = [r for r in interval_table(floor.runtime) if r[0] != "queue_minute"]
    runner = CliRunner()
    wipe(floor)
    result = runner.invoke(cli, ["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"rebuilt {len(live)} interval rows" in result.stdout
    assert interval_table(floor.runtime) == live
    # the center's day of the scenario (2026-01-05 16:00 in Shanghai)
    result = runner.invoke(cli, ["stats", "rebuild", "--since", "2026-01-05"])
    assert result.exit_code == 0, result.output
    assert interval_table(floor.runtime) == live
    result = runner.invoke(cli, ["stats", "rebuild", "--since", "5 January"])
    assert result.exit_code == 2 and "--since must be a date" in result.output
    assert floor.count("audit_log", action="stats.rebuild") == 2


def test_publisher_and_rebuild_run_as_jobs(floor: Floor) -> None:
    rt = floor.runtime
    floor.ready("agent1")
    floor.arrive()
    live = interval_table(rt)
    wipe(floor)
    with rt.db.transaction(actor=system_actor("test")) as tx:
        schedule_publish(tx, delay=0)
        tx.jobs.schedule(REBUILD_JOB, {}, due_at=tx.clock.now())
    worker = Worker.from_settings(rt.db, build_registry(rt.settings), rt.settings)
    assert worker.run_once() == 2
    assert interval_table(rt) == live
    with rt.db.read() as conn:
        types = conn.execute(sa.select(outbox.c.type).where(outbox.c.type.like("stats.%"))).all()
        pending = conn.execute(
            sa.select(jobs.c.due_at).where(jobs.c.kind == PUBLISH_JOB, jobs.c.status == "pending")
        ).all()
    assert {t for (t,) in types} == {"stats.queue", "stats.agent"}
    assert len(pending) == 1  # it scheduled its next run


def test_prune_job_drops_old_minute_rows_and_rebuild_keeps_them_out(floor: Floor) -> None:
    rt = floor.runtime
    days = rt.db.stats_config.minute_retention_days
    floor.ready("agent1")
    floor.arrive()  # its minute row will pass the retention
    old_start = floor.clock.now().replace(second=0, microsecond=0)
    floor.clock.advance(120)
    floor.arrive()  # two minutes later: still within it
    floor.clock.set(old_start + dt.timedelta(days=days, seconds=60))

    def minute_starts() -> list[object]:
        with rt.db.read() as conn:
            rows = conn.execute(
                sa.select(interval_stats.c.interval_start)
                .where(interval_stats.c.kind == "queue_minute")
                .order_by(interval_stats.c.interval_start)
            ).all()
        return [r for (r,) in rows]

    assert minute_starts()[0] == old_start and len(minute_starts()) == 2
    before = [r for r in interval_table(rt) if r[0] != "queue_minute"]
    with rt.db.transaction(actor=system_actor("test")) as tx:
        schedule_prune(tx, delay=0)
    worker = Worker.from_settings(rt.db, build_registry(rt.settings), rt.settings)
    assert worker.run_once() == 1
    assert len(minute_starts()) == 1 and minute_starts()[0] > old_start
    # the 15-minute rows (reports, forecasting) are kept
    assert [r for r in interval_table(rt) if r[0] != "queue_minute"] == before
    assert floor.count("audit_log", action="stats.prune_minutes") == 1
    with rt.db.read() as conn:
        pending = conn.execute(
            sa.select(jobs.c.due_at).where(jobs.c.kind == PRUNE_JOB, jobs.c.status == "pending")
        ).all()
    assert len(pending) == 1  # hourly: it scheduled its next run
    # a rebuild from contact_events does not bring the pruned minutes back
    pruned = interval_table(rt)
    with rt.db.transaction(actor=system_actor("test")) as tx:
        rebuild(tx)
    assert interval_table(rt) == pruned
    # nothing left to prune: no audit row for an empty run
    with rt.db.transaction(actor=system_actor("test")) as tx:
        assert prune_minute_rows(tx) == 0
    assert floor.count("audit_log", action="stats.prune_minutes") == 1
