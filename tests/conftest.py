"""Test fixtures. Each test gets its own database, copied from a migrated template:

- SQLite (default): the template file is migrated once per session and copied per test.
- PostgreSQL (`HOTLINE_TEST_DATABASE_URL=postgresql://…/test`): a template database is migrated
  once per session and each test gets `CREATE DATABASE … TEMPLATE …`, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hotline.core.clock import ManualClock
from hotline.infra.db import migrate
from hotline.infra.db.engine import make_engine
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _admin_url(url: str) -> sa.URL:
    return sa.make_url(Settings(database_url=url).database_url)


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database to copy per test: a file path (SQLite) or a database name (PG)."""
    if PG_URL:
        base = _admin_url(PG_URL)
        name = f"hotline_tmpl_{_worker()}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine = make_engine(Settings(database_url=str(base.set(database=name))))
        migrate.upgrade(engine)
        engine.dispose()
        yield name
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
        migrate.upgrade(engine)
        engine.dispose()  # the last connection to close checkpoints the WAL into the file
        yield str(path)


@pytest.fixture
def database_url(db_template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database for this test alone."""
    if PG_URL:
        base = _admin_url(PG_URL)
        name = f"hotline_t_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{db_template}"')
        yield str(base.set(database=name).render_as_string(hide_password=False))
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    else:
        path = tmp_path / "hotline.db"
        shutil.copy(db_template, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        run_worker=False,
        sse_heartbeat_seconds=0.5,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def runtime(settings: Settings, clock: ManualClock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock, upgrade=False)
    yield rt
    rt.close()
