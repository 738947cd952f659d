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
        # Unique per pytest process: two runs on one server must not drop each other's template.
        name = f"hotline_tmpl_{_worker()}_{os.getpid()}"
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


# --- API fixtures --------------------------------------------------------------------------
PASSWORD = "Str0ng-Passw0rd!"


class Org:
    """The organisation every API test starts from: a group, a center, two teams, a branch."""

    def __init__(self, runtime: Runtime) -> None:
        from hotline.core.context import system_actor
        from hotline.domains.identity import actions
        from hotline.domains.identity.model import OrgUnitKind

        self.runtime = runtime
        with runtime.db.transaction(actor=system_actor("fixture")) as tx:
            self.group = actions.create_org_unit(
                tx, code="group", name="集团", kind=OrgUnitKind.group, parent_id=None
            )
            self.center = actions.create_org_unit(
                tx, code="center", name="客服中心", kind=OrgUnitKind.department,
                parent_id=self.group.id,
            )
            self.team_a = actions.create_org_unit(
                tx, code="team-a", name="一班", kind=OrgUnitKind.team, parent_id=self.center.id
            )
            self.team_b = actions.create_org_unit(
                tx, code="team-b", name="二班", kind=OrgUnitKind.team, parent_id=self.center.id
            )
            self.branch = actions.create_org_unit(
                tx, code="branch", name="分公司", kind=OrgUnitKind.branch,
                parent_id=self.group.id,
            )

    def user(self, username: str, role: str | None, *, unit: str = "group",
             home: str | None = None) -> str:
        """Create a user holding `role` over `unit`; TOTP is enrolled for MFA roles."""
        import pyotp

        from hotline.core.context import system_actor
        from hotline.domains.identity import actions

        units = {"group": self.group, "center": self.center, "team-a": self.team_a,
                 "team-b": self.team_b, "branch": self.branch}
        rt = self.runtime
        with rt.db.transaction(actor=system_actor("fixture")) as tx:
            user = actions.create_user(
                tx, rt.policy(), username=username, display_name=username.title(),
                org_unit_id=units[home or unit].id, password=PASSWORD,
                must_change_password=False,
            )
            if role:
                actions.grant_role(tx, user_id=user.id, role=role, org_unit_id=units[unit].id)
            if role in rt.settings.mfa_required_roles:
                secret = pyotp.random_base32()
                tx.identity.set_totp_secret(user.id, tx.encrypt("totp", secret))
                tx.identity.update_user(user.id, totp_enabled=True)
                self.totp_secrets[username] = secret
        return user.id

    totp_secrets: dict[str, str] = {}  # noqa: RUF012 - reset per instance below

    def totp(self, username: str) -> str | None:
        import pyotp

        secret = self.totp_secrets.get(username)
        if secret is None:
            return None
        return str(pyotp.TOTP(secret).at(int(self.runtime.clock.now().timestamp())))


@pytest.fixture
def org(runtime: Runtime) -> Org:
    o = Org(runtime)
    o.totp_secrets = {}
    return o


@pytest.fixture
def app(settings: Settings, runtime: Runtime):  # type: ignore[no-untyped-def]
    from hotline.api.app import create_app

    return create_app(settings, runtime=runtime)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def login(app, org: Org, clock: ManualClock):  # type: ignore[no-untyped-def]
    """login(username) → a TestClient signed in as that user (own cookie jar)."""
    from fastapi.testclient import TestClient

    clients: list[TestClient] = []

    def _login(username: str, password: str = PASSWORD) -> TestClient:
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        body = {"username": username, "password": password}
        code = org.totp(username)
        if code:
            body["totp_code"] = code
            clock.advance(30)  # the next sign-in of the same user needs a fresh TOTP step
        r = c.post("/api/auth/login", json=body)
        assert r.status_code == 200, r.text
        return c

    yield _login
    for c in clients:
        c.__exit__(None, None, None)
