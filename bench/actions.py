"""Actions per second: one action = one transaction with a domain write, an audit row sealed
onto the hash chain, and an outbox event (the unit of work every write goes through).

    uv run python bench/actions.py [--n 3000] [--threads 1,4] [--pg postgresql://…/test]

Runs the same workload on SQLite and PostgreSQL in one run and prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid

import sqlalchemy as sa

from hotline.core.context import system_actor
from hotline.domains.identity import actions
from hotline.domains.identity.model import OrgUnitKind
from hotline.infra.runtime import build_runtime
from hotline.settings import Settings


def cpu_model() -> str:
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def run(url: str, var: str, n: int, threads: int) -> float:
    rt = build_runtime(Settings(database_url=url, var_dir=var))
    actor = system_actor("bench")
    with rt.db.transaction(actor=actor) as tx:
        root = actions.create_org_unit(
            tx, code=f"root-{uuid.uuid4().hex[:8]}", name="bench", kind=OrgUnitKind.group,
            parent_id=None,
        )
    per_thread = n // threads

    def work(k: int) -> None:
        for i in range(per_thread):
            with rt.db.transaction(actor=actor) as tx:
                actions.create_org_unit(
                    tx, code=f"u-{uuid.uuid4().hex}", name=f"unit {k}-{i}",
                    kind=OrgUnitKind.department, parent_id=root.id,
                )

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    start = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - start
    with rt.db.read() as conn:
        audit = conn.execute(sa.text("select count(*) from audit_log")).scalar_one()
    assert audit >= per_thread * threads
    rt.close()
    return per_thread * threads / elapsed


def fresh_pg(base: str) -> tuple[str, sa.Engine, str]:
    admin = sa.create_engine(Settings(database_url=base).database_url,
                             isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(Settings(database_url=base).database_url).set(database=name)
    return url.render_as_string(hide_password=False), admin, name


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--threads", default="1,4")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    a = p.parse_args()
    rows = []
    for threads in [int(t) for t in a.threads.split(",")]:
        for db in ("sqlite", "postgresql"):
            rates = []
            for _ in range(a.repeat):
                with tempfile.TemporaryDirectory() as var:
                    if db == "sqlite":
                        rates.append(run(f"sqlite:///{var}/bench.db", var, a.n, threads))
                    else:
                        url, admin, name = fresh_pg(a.pg)
                        try:
                            rates.append(run(url, var, a.n, threads))
                        finally:
                            with admin.connect() as c:
                                c.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            rows.append((db, threads, statistics.median(rates), min(rates), max(rates)))
    print(f"command: uv run python bench/actions.py --n {a.n} --threads {a.threads} "
          f"--repeat {a.repeat}")
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print()
    print("| database | threads | actions/s (median) | min | max |")
    print("|---|---|---|---|---|")
    for db, threads, med, lo, hi in rows:
        print(f"| {db} | {threads} | {med:,.0f} | {lo:,.0f} | {hi:,.0f} |")


if __name__ == "__main__":
    main()
