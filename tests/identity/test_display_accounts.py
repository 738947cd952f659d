"""Display accounts for wall screens (ADR 0009): a user holding only `wallboard_display` gets
display sessions — no idle timeout, a lifetime of its own, recorded as such — that can read the
wallboard and nothing else; the role never goes together with another one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from hotline.core.clock import ManualClock
from hotline.domains.identity import secrets as id_secrets
from hotline.domains.identity.model import (
    BUSINESS_DATA,
    DISPLAY_ROLE,
    ROLES,
    PasswordPolicy,
    Session,
    SessionKind,
    session_expired,
)
from hotline.infra.runtime import Runtime

PROBLEM = "application/problem+json"
NOW = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with tiny costs: signing in is not what these tests are about."""
    monkeypatch.setattr(
        id_secrets, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def problem(r: Any, status: int, key: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    if key is not None:
        assert body["key"] == key, body
    return body


def session_rows(runtime: Runtime, user_id: str) -> list[dict[str, Any]]:
    with runtime.db.read() as conn:
        q = sa.text(
            "select kind, end_reason, ended_at from sessions where user_id = :u order by created_at"
        )
        return [dict(r._mapping) for r in conn.execute(q, {"u": user_id})]


def grant_ids(runtime: Runtime, user_id: str) -> list[str]:
    with runtime.db.read() as conn:
        q = sa.text("select id from role_grants where user_id = :u order by id")
        return list(conn.execute(q, {"u": user_id}).scalars())


def row_counts(runtime: Runtime) -> dict[str, int]:
    tables = ("role_grants", "sessions", "audit_log", "outbox")
    with runtime.db.read() as conn:
        return {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one() for t in tables}


def login_details(runtime: Runtime, user_id: str) -> list[dict[str, Any]]:
    stmt = sa.text(
        "select details from audit_log where action = 'auth.login' and object_id = :u order by seq"
    ).columns(sa.column("details", sa.JSON))
    with runtime.db.read() as conn:
        return list(conn.execute(stmt, {"u": user_id}).scalars())


# --- the pure rule -------------------------------------------------------------------------
def _session(kind: SessionKind, last_seen: dt.datetime, *, hours: int) -> Session:
    return Session(
        id="s",
        user_id="u",
        mfa_passed=True,
        created_at=NOW,
        last_seen_at=last_seen,
        expires_at=NOW + dt.timedelta(hours=hours),
        ended_at=None,
        ip=None,
        kind=kind,
    )


@given(
    st.integers(0, 200 * 3600),
    st.sets(st.sampled_from(sorted(ROLES))),
)
def test_display_session_expires_only_at_its_end_or_when_no_longer_a_display(
    idle: int, roles: set[str]
) -> None:
    policy = PasswordPolicy()
    now = NOW + dt.timedelta(seconds=idle)
    display = _session(SessionKind.display, NOW, hours=policy.display_session_hours)
    past_end = now >= display.expires_at
    assert session_expired(display, policy, now, {DISPLAY_ROLE}) is past_end
    # holder no longer (only) a display account: no display session any more
    assert session_expired(display, policy, now, roles) is (past_end or roles != {DISPLAY_ROLE})
    # the same session as an ordinary one: the idle timeout applies, whatever the roles
    ordinary = _session(SessionKind.interactive, NOW, hours=policy.display_session_hours)
    assert session_expired(ordinary, policy, now, {DISPLAY_ROLE}) is (
        past_end or idle > policy.session_idle_minutes * 60
    )


def test_display_role_reads_the_wallboard_only() -> None:
    perms = ROLES[DISPLAY_ROLE]
    assert perms == {"stats:read"}
    assert all(p.endswith(":read") for p in perms)  # changes nothing
    assert not perms & {"customer:read", "customer:read_pii", "contact:read", "user:read"}
    # live statistics only: no business data beyond what the wallboard shows
    assert perms & BUSINESS_DATA == {"stats:read"}


# --- sessions ------------------------------------------------------------------------------
def test_display_session_survives_idle_ordinary_does_not(
    runtime: Runtime, org: Any, login: Any, clock: ManualClock
) -> None:
    screen_id = org.user("screen", DISPLAY_ROLE, unit="center")
    org.user("lead", "team_lead", unit="center")
    screen, lead = login("screen"), login("lead")

    me = screen.get("/api/me").json()
    assert me["session_kind"] == "display" and me["idle_timeout_seconds"] is None
    assert me["permissions"] == ["stats:read"] and me["roles"] == [DISPLAY_ROLE]
    assert me["mfa_enrollment_required"] is False  # no TOTP for a wall screen
    me = lead.get("/api/me").json()
    assert me["session_kind"] == "interactive" and me["idle_timeout_seconds"] == 15 * 60
    assert session_rows(runtime, screen_id)[0]["kind"] == "display"
    assert login_details(runtime, screen_id)[-1]["kind"] == "display"

    # 16 minutes without a request: the person is signed out, the wall screen is not
    clock.advance(16 * 60)
    problem(lead.get("/api/me"), 401, "errors.session_expired")
    for path in ("/api/me", "/api/stats/queues", "/api/stats/agents", "/api/stats/intervals"):
        assert screen.get(path).status_code == 200, path
    # days on the wall without a touch (a weekend)
    clock.advance(3 * 24 * 3600)
    assert screen.get("/api/stats/queues").status_code == 200
    # …but not past the display lifetime (7 days by default), counted from the sign-in
    clock.advance(4 * 24 * 3600 - 16 * 60)
    problem(screen.get("/api/me"), 401, "errors.session_expired")


def test_display_login_sets_a_cookie_for_the_display_lifetime(
    app: Any, org: Any, login: Any
) -> None:
    from fastapi.testclient import TestClient

    org.user("screen", DISPLAY_ROLE, unit="center")
    org.user("agent", "agent", unit="team-a")
    with TestClient(app) as c:
        for username, hours, kind, idle in (
            ("screen", 168, "display", None),
            ("agent", 12, "interactive", 900),
        ):
            r = c.post(
                "/api/auth/login", json={"username": username, "password": "Str0ng-Passw0rd!"}
            )
            assert r.status_code == 200, r.text
            assert r.json()["session_kind"] == kind and r.json()["idle_timeout_seconds"] == idle
            assert f"Max-Age={hours * 3600}" in r.headers["set-cookie"]


def test_display_lifetime_is_a_policy_setting(
    runtime: Runtime, org: Any, login: Any, clock: ManualClock
) -> None:
    org.user("sec", "security_admin")
    org.user("screen", DISPLAY_ROLE, unit="center")
    sec = login("sec")
    assert sec.get("/api/security-policy").json()["display_session_hours"] == 168
    problem(sec.patch("/api/security-policy", json={"display_session_hours": 0}), 422)
    problem(sec.patch("/api/security-policy", json={"display_session_hours": 721}), 422)
    r = sec.patch("/api/security-policy", json={"display_session_hours": 2})
    assert r.status_code == 200 and r.json()["display_session_hours"] == 2

    screen = login("screen")
    clock.advance(2 * 3600 - 1)
    assert screen.get("/api/me").status_code == 200
    clock.advance(1)
    problem(screen.get("/api/me"), 401, "errors.session_expired")


# --- grants: the display role goes alone ---------------------------------------------------
def test_display_role_is_never_granted_with_another(runtime: Runtime, org: Any, login: Any) -> None:
    org.user("sec", "security_admin")
    agent_id = org.user("agent", "agent", unit="team-a")
    screen_id = org.user("screen", DISPLAY_ROLE, unit="center")
    sec_admin_id = org.user("sec2", "security_admin", unit="branch")
    fresh_id = org.user("fresh", None, unit="team-b")
    sec = login("sec")

    def grant(uid: str, role: str, unit: Any) -> Any:
        return sec.post(f"/api/users/{uid}/grants", json={"role": role, "org_unit_id": unit.id})

    before = row_counts(runtime)
    # a person with powers does not become a display (and escape the idle timeout)…
    p = problem(grant(agent_id, DISPLAY_ROLE, org.center), 422, "errors.display_role_exclusive")
    assert p["params"] == {"role": "agent"} and DISPLAY_ROLE in p["detail"]
    problem(grant(sec_admin_id, DISPLAY_ROLE, org.branch), 422, "errors.display_role_exclusive")
    # …and a display account gets no powers, business or administrative
    for role in ("agent", "qa", "team_lead", "system_admin", "auditor"):
        p = problem(grant(screen_id, role, org.team_a), 422, "errors.display_role_exclusive")
        assert p["params"] == {"role": role}
    assert row_counts(runtime) == before  # nothing written

    # the same role over another unit (a second floor) is fine, and so is a first grant
    assert grant(screen_id, DISPLAY_ROLE, org.branch).status_code == 201
    assert grant(fresh_id, DISPLAY_ROLE, org.team_b).status_code == 201
    assert len(grant_ids(runtime, screen_id)) == 2


def test_display_account_changes_nothing(org: Any, login: Any) -> None:
    org.user("screen", DISPLAY_ROLE, unit="center")
    screen = login("screen")
    # reads outside the wallboard: refused (the route × role matrix walks every route)
    for path in ("/api/users", "/api/queues", "/api/customers", "/api/audit", "/api/me/tokens"):
        problem(screen.get(path), 403)
    problem(screen.post("/api/me/tokens", json={"name": "x", "scopes": ["stats:read"]}), 403)
    problem(screen.get("/api/me/agent"), 403)


# --- ending a display session --------------------------------------------------------------
def test_disabling_a_display_account_ends_its_session(
    runtime: Runtime, org: Any, login: Any, clock: ManualClock
) -> None:
    org.user("admin", "system_admin")
    screen_id = org.user("screen", DISPLAY_ROLE, unit="center")
    screen = login("screen")
    clock.advance(20 * 60)  # idle beyond the limit: still on
    assert screen.get("/api/stats/queues").status_code == 200
    admin = login("admin")
    assert admin.post(f"/api/users/{screen_id}/disable").status_code == 200
    problem(screen.get("/api/stats/queues"), 401)
    [row] = session_rows(runtime, screen_id)
    assert row["kind"] == "display" and row["end_reason"] == "user_disabled"


def test_revoking_the_display_role_ends_its_sessions(
    runtime: Runtime, org: Any, login: Any
) -> None:
    org.user("sec", "security_admin")
    screen_id = org.user("screen", DISPLAY_ROLE, unit="center")
    screen, sec = login("screen"), login("sec")
    [grant_id] = grant_ids(runtime, screen_id)
    assert sec.delete(f"/api/grants/{grant_id}").status_code == 204
    problem(screen.get("/api/me"), 401, "errors.session_expired")
    [row] = session_rows(runtime, screen_id)
    assert row["end_reason"] == "role_revoked"
    # the account, now without roles, may become a person's: its sign-ins are ordinary again
    r = sec.post(
        f"/api/users/{screen_id}/grants", json={"role": "qa", "org_unit_id": org.center.id}
    )
    assert r.status_code == 201
    assert login("screen").get("/api/me").json()["session_kind"] == "interactive"


def test_a_display_session_stops_when_its_holder_gets_other_roles(
    runtime: Runtime, org: Any, login: Any
) -> None:
    """Defence in depth: a display session whose holder somehow holds another role is over."""
    from hotline.core.context import system_actor
    from hotline.core.ids import new_id

    screen_id = org.user("screen", DISPLAY_ROLE, unit="center")
    screen = login("screen")
    assert screen.get("/api/me").status_code == 200
    # written past the grant rules (as a faulty import might): the session must not carry it
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        [display_grant] = tx.identity.grants_of(screen_id)
        tx.identity.insert_grant(dataclasses.replace(display_grant, id=new_id(), role="agent"))
    problem(screen.get("/api/me"), 401, "errors.session_expired")


def test_demo_has_a_wall_screen_account(runtime: Runtime, app: Any) -> None:
    from fastapi.testclient import TestClient

    from hotline.infra import demo

    users = {u.username: u for u in demo.seed(runtime)}
    assert users["wallboard"].role == DISPLAY_ROLE
    with TestClient(app) as c:
        body = {"username": "wallboard", "password": demo.DEMO_PASSWORD}
        r = c.post("/api/auth/login", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["session_kind"] == "display"
        assert c.get("/api/stats/queues").json()["items"]  # the demo queues, on the wall
