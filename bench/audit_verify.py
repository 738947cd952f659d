"""Benchmark: `hotline audit verify` time per million audit rows (R-E2).

Builds a fresh, migrated database per engine (a temporary SQLite file; a scratch PostgreSQL
database that is dropped afterwards), fills `audit_log` with N sealed rows (default 1,000,000) and
a signed checkpoint every 1,000 rows (table + external file, as production writes them), then
times `verify_database` — what `hotline audit verify` runs — and prints a markdown table.

    uv run python bench/audit_verify.py                        # 1M rows, SQLite + PostgreSQL
    uv run python bench/audit_verify.py --rows 100000 --no-postgres
    uv run python bench/audit_verify.py --pg-url postgresql://postgres@127.0.0.1:5432/postgres

Rows are generated with `seal` (the same hashing the unit of work uses) and bulk-inserted in
batches with the driver (executemany on SQLite, COPY on PostgreSQL), bypassing `Tx`: building a
million rows through one transaction per action would take far longer than verifying them.
Values are stored exactly as SQLAlchemy stores them; the run asserts that every row verifies.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from hotline.domains.audit.model import GENESIS, AuditEntry, AuditRecord, format_at, seal
from hotline.infra.audit.checkpoint import (
    SignedCheckpoint,
    checkpoint_file,
    checkpoint_message,
    load_or_create_signing_key,
    verify_database,
)
from hotline.infra.db import migrate
from hotline.infra.db.engine import make_engine
from hotline.infra.db.schema import audit_checkpoints
from hotline.settings import Settings

BATCH = 10_000
CHECKPOINT_EVERY = 1_000
COLUMNS = (
    "seq, occurred_at, actor_id, actor_name, ip, action, object_type, object_id,"
    " org_unit_path, details, prev_hash, hash"
)
INSERT_SQLITE = f"INSERT INTO audit_log ({COLUMNS}) VALUES ({', '.join('?' * 12)})"
COPY_POSTGRES = f"COPY audit_log ({COLUMNS}) FROM STDIN"
ACTIONS = [
    ("customer.update", "customer"),
    ("ticket.create", "ticket"),
    ("call.end", "call"),
    ("user.login", "user"),
    ("role.grant", "user"),
]


def entries(n: int, seed: int = 7) -> Iterator[AuditEntry]:
    """Plausible audit entries: ids, an org path, a masked before/after diff, some Chinese."""
    rng = random.Random(seed)
    actors = [(str(uuid.UUID(int=rng.getrandbits(128))), f"agent{k:03d}") for k in range(200)]
    start = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    for k in range(n):
        actor_id, actor = actors[k % len(actors)]
        action, object_type = ACTIONS[k % len(ACTIONS)]
        yield AuditEntry(
            occurred_at=start + dt.timedelta(microseconds=k * 1_234_567),
            actor_id=actor_id,
            actor_name=actor,
            ip=f"10.{k % 7}.{k % 251}.{k % 253}",
            action=action,
            object_type=object_type,
            object_id=str(uuid.UUID(int=rng.getrandbits(128))),
            org_unit_path=f"/g/b{k % 9}/t{k % 31}/",
            details={
                "changes": {
                    "status": {"before": "open", "after": "resolved"},
                    "phone": {"before": "***", "after": "***"},
                    "note": {"before": None, "after": f"回访客户 {k}"},
                },
                "channel": "voice",
            },
        )


def batches(n: int) -> Iterator[list[AuditRecord]]:
    prev, seq, chunk = GENESIS, 1, []
    for entry in entries(n):
        chunk.append(entry)
        if len(chunk) == BATCH:
            records = seal(prev, seq, chunk)
            yield records
            prev, seq, chunk = records[-1].hash, seq + len(records), []
    if chunk:
        yield seal(prev, seq, chunk)


def stored(r: AuditRecord, *, sqlite: bool) -> tuple[object, ...]:
    """A record as SQLAlchemy stores it: SQLite keeps naive UTC text, details are json.dumps."""
    e = r.entry
    at: object = e.occurred_at
    if sqlite:
        at = e.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return (
        r.seq,
        at,
        e.actor_id,
        e.actor_name,
        e.ip,
        e.action,
        e.object_type,
        e.object_id,
        e.org_unit_path,
        json.dumps(dict(e.details)),
        r.prev_hash,
        r.hash,
    )


def fill(engine: sa.Engine, settings: Settings, n: int) -> None:
    """Insert n sealed rows and a signed checkpoint every CHECKPOINT_EVERY rows."""
    key = load_or_create_signing_key(settings.resolved_audit_key_file)
    signed_at = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    signed_text = format_at(signed_at)
    checkpoints: list[SignedCheckpoint] = []
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for records in batches(n):
            rows = [stored(r, sqlite=sqlite) for r in records]
            if sqlite:
                cur.executemany(INSERT_SQLITE, rows)
            else:
                with cur.copy(COPY_POSTGRES) as copy:
                    for row in rows:
                        copy.write_row(row)
            for r in records:
                if r.seq % CHECKPOINT_EVERY == 0:
                    message = checkpoint_message(r.seq, r.hash, signed_text)
                    checkpoints.append(
                        SignedCheckpoint(r.seq, r.hash, signed_text, key.key_id, key.sign(message))
                    )
        raw.commit()
    finally:
        raw.close()
    if checkpoints:
        with engine.begin() as conn:
            conn.execute(
                audit_checkpoints.insert(),
                [
                    {
                        "audit_seq": c.seq,
                        "hash": c.hash,
                        "signed_at": signed_at,
                        "key_id": c.key_id,
                        "signature": c.signature,
                    }
                    for c in checkpoints
                ],
            )
    path = checkpoint_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(c.to_json() + "\n" for c in checkpoints))


def time_verify(engine: sa.Engine, settings: Settings, n: int, runs: int) -> tuple[float, float]:
    """Median seconds of `runs` full verifications (every one must find the log intact), and
    the 1-minute load average right after them: a busy shared machine slows every number."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = verify_database(engine, settings)
        times.append(time.perf_counter() - started)
        if not result.ok or result.rows_checked != n:
            raise SystemExit(f"verification failed: {result}")
        expected_cps = 2 * (n // CHECKPOINT_EVERY)
        if result.checkpoints_checked != expected_cps:
            raise SystemExit(
                f"checked {result.checkpoints_checked} checkpoints, not {expected_cps}"
            )
    return statistics.median(times), os.getloadavg()[0]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_sqlite(n: int, runs: int, work: Path) -> tuple[str, float, float]:
    settings = Settings(database_url=f"sqlite:///{work / 'bench.db'}", var_dir=work / "var-sqlite")
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
        fill(engine, settings, n)
        return f"SQLite {sqlite3.sqlite_version}", *time_verify(engine, settings, n, runs)
    finally:
        engine.dispose()


def bench_postgres(
    n: int, runs: int, work: Path, admin_url: str, name: str
) -> tuple[str, float, float]:
    admin_settings = Settings(database_url=admin_url)
    admin = sa.create_engine(admin_settings.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin_settings.database_url).set(database=name)
    settings = Settings(
        database_url=url.render_as_string(hide_password=False), var_dir=work / "var-postgres"
    )
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
        fill(engine, settings, n)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE audit_log")
            version = c.exec_driver_sql("SHOW server_version").scalar_one().split()[0]
        return f"PostgreSQL {version}", *time_verify(engine, settings, n, runs)
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="verifications to take the median of")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "HOTLINE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a database to connect to for CREATE/DROP DATABASE of the scratch database",
    )
    parser.add_argument("--pg-db", default="hotline_bench_audit", help="scratch database name")
    args = parser.parse_args(argv)

    results: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="hotline-bench-audit-") as tmp:
        work = Path(tmp)
        if not args.no_sqlite:
            results.append(bench_sqlite(args.rows, args.runs, work))
        if not args.no_postgres:
            results.append(bench_postgres(args.rows, args.runs, work, args.pg_url, args.pg_db))

    machine = f"{os.cpu_count()} CPU, {cpu_model()}"
    print(
        f"| command | machine | database | rows | seconds (median of {args.runs}) |"
        " s per million rows | rows/s | load avg |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for database, seconds, load in results:
        print(
            f"| `hotline audit verify` | {machine} | {database} | {args.rows:,} | {seconds:.2f} |"
            f" {seconds * 1_000_000 / args.rows:.2f} | {args.rows / seconds:,.0f} | {load:.1f} |"
        )
    print(f"\nPython {platform.python_version()}, SQLAlchemy {sa.__version__}")


if __name__ == "__main__":
    main()
