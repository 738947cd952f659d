"""Identity through the HTTP API (R-C1 org tree and scope, R-E1 accounts and separation of duties,
R-E5 passwords, lockout, sessions, MFA, API tokens). Every write is checked for its audit row;
refused input for a problem+json answer that wrote nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import threading
from typing import Any

import argon2
import pyotp
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from hotline.core.clock import ManualClock
from hotline.domains.identity import secrets as id_secrets
from hotline.domains.identity.model import BUSINESS_DATA, ROLES
from hotline.infra.runtime import Runtime

PASSWORD = "Str0ng-Passw0rd!"  # the conftest fixture users' password
REAL_HASHER = id_secrets._hasher


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, but with tiny cost parameters: these tests hash and verify a lot."""
    monkeypatch.setattr(
        id_secrets, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def test_production_hasher_is_argon2id() -> None:
    params = argon2.extract_parameters(REAL_HASHER.hash("Any-Passw0rd-1"))
    assert params.type is argon2.Type.ID
    assert params.memory_cost >= 64 * 1024 and params.time_cost >= 2


PROBLEM = "application/problem+json"

# Tables an identity write may touch; "writes nothing" means none of them changed size.
TABLES = (
    "org_units",
    "users",
    "password_history",
    "role_grants",
    "sessions",
    "api_tokens",
    "security_policy",
    "audit_log",
    "outbox",
)


# --- helpers -------------------------------------------------------------------------------
def problem(r: Any, status: int, key: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 answer with `status` (and i18n `key`); return its body."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["detail"]
    if key is not None:
        assert body["key"] == key, body
    return body


def counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.read() as conn:
        return {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one() for t in TABLES}


def last_seq(runtime: Runtime) -> int:
    with runtime.db.read() as conn:
        q = sa.text("select coalesce(max(seq), 0) from audit_log")
        return int(conn.execute(q).scalar_one())


def audit_rows(
    runtime: Runtime, action: str | None = None, *, since: int = 0
) -> list[dict[str, Any]]:
    """Audit rows (oldest first) after `since`, optionally of one action."""
    q = (
        "select seq, action, actor_name, object_type, object_id, details from audit_log"
        " where seq > :since"
    )
    params: dict[str, Any] = {"since": since}
    if action is not None:
        q += " and action = :action"
        params["action"] = action
    stmt = sa.text(q + " order by seq").columns(
        sa.column("seq", sa.Integer),
        sa.column("action", sa.String),
        sa.column("actor_name", sa.String),
        sa.column("object_type", sa.String),
        sa.column("object_id", sa.String),
        sa.column("details", sa.JSON),
    )
    with runtime.db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt, params)]


def user_row(runtime: Runtime, username: str) -> dict[str, Any]:
    with runtime.db.read() as conn:
        row = conn.execute(
            sa.text("select * from users where username = :u"), {"u": username}
        ).first()
    assert row is not None, username
    return dict(row._mapping)


def me(c: TestClient) -> dict[str, Any]:
    r = c.get("/api/me")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def totp_now(secret: str, clock: ManualClock) -> str:
    return str(pyotp.TOTP(secret).at(int(clock.now().timestamp())))


def wrong_totp(secret: str, clock: ManualClock) -> str:
    """A well-formed code that no step in the ±1 drift window accepts."""
    t = int(clock.now().timestamp())
    valid = {pyotp.TOTP(secret).at(t + d * 30) for d in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def sign_in(c: TestClient, username: str, password: str = PASSWORD, totp: str | None = None) -> Any:
    body: dict[str, Any] = {"username": username, "password": password}
    if totp is not None:
        body["totp_code"] = totp
    return c.post("/api/auth/login", json=body)


def create_user(
    admin: TestClient, username: str, unit_id: str, password: str = PASSWORD
) -> dict[str, Any]:
    r = admin.post(
        "/api/users",
        json={
            "username": username,
            "display_name": username.title(),
            "org_unit_id": unit_id,
            "password": password,
        },
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


# --- organisation tree and scope (R-C1) ----------------------------------------------------
def test_org_tree_group_branch_center_team(runtime: Runtime, org: Any, login: Any) -> None:
    org.user("sysadmin", "system_admin")
    admin = login("sysadmin")
    before = last_seq(runtime)

    created: list[dict[str, Any]] = []
    parent = org.group.id
    for code, kind in [("east", "branch"), ("east-dc", "dispatch_center"), ("east-t1", "team")]:
        r = admin.post(
            "/api/org-units",
            json={"code": code, "name": code.upper(), "kind": kind, "parent_id": parent},
        )
        assert r.status_code == 201, r.text
        unit = r.json()
        assert unit["kind"] == kind and unit["parent_id"] == parent
        parent_path = created[-1]["path"] if created else org.group.path
        assert unit["path"] == f"{parent_path}{unit['id']}/"
        created.append(unit)
        parent = unit["id"]

    # A department under the dispatch center is also allowed.
    r = admin.post(
        "/api/org-units",
        json={
            "code": "east-ops",
            "name": "Ops",
            "kind": "department",
            "parent_id": created[1]["id"],
        },
    )
    assert r.status_code == 201, r.text

    # A new root group: only by someone holding org:manage over a whole top-level unit.
    r = admin.post("/api/org-units", json={"code": "group-2", "name": "Group 2", "kind": "group"})
    assert r.status_code == 201, r.text
    assert r.json()["parent_id"] is None and r.json()["path"].count("/") == 2

    rows = audit_rows(runtime, "org_unit.create", since=before)
    assert [row["object_id"] for row in rows][:3] == [u["id"] for u in created]
    assert all(row["actor_name"] == "sysadmin" for row in rows)
    assert len(rows) == 5

    listed = admin.get("/api/org-units").json()
    paths = [u["path"] for u in listed]
    assert paths == sorted(paths)  # tree order
    assert {u["id"] for u in created} <= {u["id"] for u in listed}

    # Renaming is a write too.
    r = admin.patch(f"/api/org-units/{created[2]['id']}", json={"name": "东区一班"})
    assert r.status_code == 200 and r.json()["name"] == "东区一班"
    assert audit_rows(runtime, "org_unit.update", since=before)[0]["object_id"] == created[2]["id"]


@pytest.mark.parametrize(
    ("kind", "parent", "message"),
    [
        ("team", "group", "a team cannot be placed under a group"),
        ("group", "branch", "a group cannot be placed under a branch"),
        ("department", "team-a", "a department cannot be placed under a team"),
        ("branch", "center", "a branch cannot be placed under a department"),
        ("branch", None, "a root unit must be of kind 'group'"),
    ],
)
def test_illegal_org_kinds_are_refused(
    runtime: Runtime, org: Any, login: Any, kind: str, parent: str | None, message: str
) -> None:
    org.user("sysadmin", "system_admin")
    admin = login("sysadmin")
    units = {"group": org.group, "branch": org.branch, "team-a": org.team_a, "center": org.center}
    body: dict[str, Any] = {"code": "new-unit", "name": "New", "kind": kind}
    if parent:
        body["parent_id"] = units[parent].id
    before = counts(runtime)
    p = problem(admin.post("/api/org-units", json=body), 422)
    assert p["detail"] == message
    assert p["field"] == "kind"
    assert counts(runtime) == before


def test_org_unit_bad_input_and_scope(runtime: Runtime, org: Any, login: Any) -> None:
    org.user("sysadmin", "system_admin")
    org.user("center-admin", "system_admin", unit="center")
    org.user("lead-a", "team_lead", unit="team-a")
    admin, center_admin, lead = login("sysadmin"), login("center-admin"), login("lead-a")
    before = counts(runtime)
    # unknown kind, extra field, bad code, duplicate code
    problem(
        admin.post(
            "/api/org-units",
            json={"code": "x", "name": "X", "kind": "planet", "parent_id": org.group.id},
        ),
        422,
    )
    problem(
        admin.post(
            "/api/org-units",
            json={
                "code": "x",
                "name": "X",
                "kind": "team",
                "parent_id": org.center.id,
                "admin": True,
            },
        ),
        422,
    )
    problem(
        admin.post(
            "/api/org-units",
            json={"code": "a b", "name": "X", "kind": "team", "parent_id": org.center.id},
        ),
        422,
    )
    problem(
        admin.post(
            "/api/org-units",
            json={"code": "team-a", "name": "X", "kind": "team", "parent_id": org.center.id},
        ),
        409,
    )
    problem(
        admin.post(
            "/api/org-units",
            json={"code": "x", "name": "X", "kind": "team", "parent_id": "no-such-unit"},
        ),
        404,
    )
    # a system admin scoped to the center: not over the branch (404), not at the root (403)
    problem(
        center_admin.post(
            "/api/org-units",
            json={"code": "x", "name": "X", "kind": "team", "parent_id": org.branch.id},
        ),
        404,
    )
    problem(
        center_admin.post("/api/org-units", json={"code": "x", "name": "X", "kind": "group"}), 403
    )
    problem(center_admin.patch(f"/api/org-units/{org.branch.id}", json={"name": "Mine"}), 404)
    # a team lead cannot manage the organisation at all
    problem(
        lead.post(
            "/api/org-units",
            json={"code": "x", "name": "X", "kind": "team", "parent_id": org.team_a.id},
        ),
        403,
    )
    assert counts(runtime) == before
    # …but the center's admin can work inside the center
    r = center_admin.post(
        "/api/org-units",
        json={"code": "team-c", "name": "三班", "kind": "team", "parent_id": org.center.id},
    )
    assert r.status_code == 201, r.text


def test_team_lead_sees_only_own_team(runtime: Runtime, org: Any, login: Any) -> None:
    lead_id = org.user("lead-a", "team_lead", unit="team-a")
    a1 = org.user("agent-a1", "agent", unit="team-a")
    b1 = org.user("agent-b1", "agent", unit="team-b")
    org.user("agent-b2", "agent", unit="team-b")
    lead = login("lead-a")

    page = lead.get("/api/users").json()
    assert [u["username"] for u in page["items"]] == ["agent-a1", "lead-a"]
    assert page["next_after"] is None
    assert lead.get(f"/api/users/{a1}").json()["username"] == "agent-a1"
    assert lead.get(f"/api/users/{lead_id}").status_code == 200
    # outside the scope: not found (not forbidden), so existence does not leak
    p = problem(lead.get(f"/api/users/{b1}"), 404, "errors.user_not_found")
    assert p == problem(lead.get("/api/users/00000000-0000-7000-8000-000000000000"), 404)
    assert [u["code"] for u in lead.get("/api/org-units").json()] == ["team-a"]
    # no user:manage: forbidden whatever the target
    problem(lead.post(f"/api/users/{a1}/disable"), 403, "errors.permission_required")
    problem(lead.post(f"/api/users/{b1}/disable"), 403)


def test_user_pagination_is_stable_and_complete(runtime: Runtime, org: Any, login: Any) -> None:
    org.user("sysadmin", "system_admin")
    org.user("lead-a", "team_lead", unit="team-a")
    admin = login("sysadmin")
    names = ["zoe", "amy", "mia", "bob", "kai", "eve", "lea"]
    for i, name in enumerate(names):
        create_user(admin, f"p-{name}", org.team_a.id if i % 2 else org.team_b.id)

    def walk(c: TestClient, limit: int) -> list[str]:
        seen: list[str] = []
        after = None
        for _ in range(50):
            params: dict[str, Any] = {"limit": limit}
            if after is not None:
                params["after"] = after
            r = c.get("/api/users", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            assert len(page["items"]) <= limit
            seen += [u["username"] for u in page["items"]]
            after = page["next_after"]
            if after is None:
                return seen
            assert len(page["items"]) == limit and after == seen[-1]
        raise AssertionError("pagination did not end")

    with runtime.db.read() as conn:
        everyone = sorted(conn.execute(sa.text("select username from users")).scalars())
    assert len(everyone) == 2 + len(names)
    for limit in (3, 1, 9, 200):
        seen = walk(admin, limit)
        assert seen == everyone  # sorted, no duplicates, none missing
    assert walk(admin, 3) == walk(admin, 3)  # stable

    # the team lead pages through the team-a users only
    lead = login("lead-a")
    team_a = sorted(["lead-a"] + [f"p-{n}" for i, n in enumerate(names) if i % 2])
    assert walk(lead, 2) == team_a

    # bad paging parameters are a 422 problem
    problem(admin.get("/api/users", params={"limit": 0}), 422)
    problem(admin.get("/api/users", params={"limit": 201}), 422)
    problem(admin.get("/api/users", params={"after": "x" * 65}), 422)


# --- separation of duties (R-E1, 三员分立) ------------------------------------------------
def test_system_admin_has_no_audit_or_policy_manage(org: Any, login: Any) -> None:
    org.user("sysadmin", "system_admin")
    admin = login("sysadmin")
    perms = set(me(admin)["permissions"])
    assert perms == ROLES["system_admin"]
    assert not perms & {"audit:read", "policy:manage", "role:grant"}
    assert not perms & BUSINESS_DATA
    problem(
        admin.patch("/api/security-policy", json={"min_length": 14}),
        403,
        "errors.permission_required",
    )
    assert admin.get("/api/security-policy").status_code == 200
    # cannot grant roles (not even to others)
    uid = org.user("plain", None, unit="team-a")
    problem(
        admin.post(
            f"/api/users/{uid}/grants", json={"role": "agent", "org_unit_id": org.team_a.id}
        ),
        403,
    )


def test_security_admin_grants_roles_but_no_business_or_users(
    runtime: Runtime, org: Any, login: Any
) -> None:
    org.user("secadmin", "security_admin")
    uid = org.user("newbie", None, unit="team-a")
    sec = login("secadmin")
    perms = set(me(sec)["permissions"])
    assert {"role:grant", "policy:manage"} <= perms
    assert not perms & BUSINESS_DATA
    assert not perms & {"user:manage", "audit:read", "system:manage"}

    before = counts(runtime)
    problem(
        sec.post(
            "/api/users",
            json={
                "username": "x-user",
                "display_name": "X",
                "org_unit_id": org.team_a.id,
                "password": PASSWORD,
            },
        ),
        403,
    )
    problem(sec.post(f"/api/users/{uid}/disable"), 403)
    problem(sec.post(f"/api/users/{uid}/password", json={"new_password": "An0ther-Secret!"}), 403)
    assert counts(runtime) == before

    seq = last_seq(runtime)
    r = sec.post(f"/api/users/{uid}/grants", json={"role": "agent", "org_unit_id": org.team_a.id})
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["role"] == "agent" and grant["user_id"] == uid
    [row] = audit_rows(runtime, "role.grant", since=seq)
    assert row["actor_name"] == "secadmin" and row["object_id"] == uid
    assert row["details"]["role"] == "agent"

    # the grantee now holds the agent's permissions
    assert ROLES["agent"] <= set(me(login("newbie"))["permissions"])

    # the policy is the security admin's to change
    r = sec.patch("/api/security-policy", json={"min_length": 14})
    assert r.status_code == 200 and r.json()["min_length"] == 14
    assert audit_rows(runtime, "policy.update", since=seq)[0]["actor_name"] == "secadmin"
    problem(sec.patch("/api/security-policy", json={"min_length": 4}), 422)
    problem(sec.patch("/api/security-policy", json={"bogus": 1}), 422)

    # revoking the grant is audited too
    r = sec.delete(f"/api/grants/{grant['id']}")
    assert r.status_code == 204, r.text
    assert audit_rows(runtime, "role.revoke", since=seq)[0]["details"]["grant_id"] == grant["id"]
    problem(sec.delete(f"/api/grants/{grant['id']}"), 404)


def test_policy_change_takes_effect_and_needs_root(
    runtime: Runtime, org: Any, login: Any, new_client: Any
) -> None:
    org.user("secadmin", "security_admin")
    org.user("branch-sec", "security_admin", unit="branch")
    org.user("erin", "agent", unit="team-a")
    sec, branch_sec = login("secadmin"), login("branch-sec")
    before = counts(runtime)
    problem(
        branch_sec.patch("/api/security-policy", json={"lockout_threshold": 100}),
        403,
        "errors.permission_required_root",
    )
    assert counts(runtime) == before
    r = sec.patch("/api/security-policy", json={"lockout_threshold": 3, "min_length": 16})
    assert r.status_code == 200, r.text
    c = new_client()
    for _ in range(2):
        problem(sign_in(c, "erin", "Wrong-Passw0rd!"), 401)
    problem(sign_in(c, "erin", "Wrong-Passw0rd!"), 423)
    # the longer minimum applies to new passwords at once
    org.user("sysadmin", "system_admin")
    problem(
        login("sysadmin").post(
            "/api/users",
            json={
                "username": "gina",
                "display_name": "Gina",
                "org_unit_id": org.team_a.id,
                "password": "Fifteen-Chars-1",
            },
        ),
        422,
        "errors.password_too_short",
    )


def test_scoped_admins_stay_in_their_subtree(runtime: Runtime, org: Any, login: Any) -> None:
    org.user("center-admin", "system_admin", unit="center")
    org.user("center-sec", "security_admin", unit="center")
    branch_user = org.user("bea", "agent", unit="branch")
    team_user = org.user("tom", None, unit="team-a")
    admin, sec = login("center-admin"), login("center-sec")
    before = counts(runtime)
    problem(
        admin.post(
            "/api/users",
            json={
                "username": "newb",
                "display_name": "N",
                "org_unit_id": org.branch.id,
                "password": PASSWORD,
            },
        ),
        404,
        "errors.org_unit_not_found",
    )
    for action in ("disable", "enable", "unlock", "reset-totp"):
        problem(admin.post(f"/api/users/{branch_user}/{action}"), 404, "errors.user_not_found")
    problem(
        admin.post(f"/api/users/{branch_user}/password", json={"new_password": "Another-Passw0rd"}),
        404,
    )
    problem(admin.get(f"/api/users/{branch_user}"), 404)
    # grants: the unit and the user must both be in the granter's scope
    problem(
        sec.post(
            f"/api/users/{team_user}/grants", json={"role": "agent", "org_unit_id": org.group.id}
        ),
        404,
    )
    problem(
        sec.post(
            f"/api/users/{branch_user}/grants", json={"role": "qa", "org_unit_id": org.team_a.id}
        ),
        404,
    )
    [branch_grant] = grant_list(runtime, branch_user)
    problem(sec.delete(f"/api/grants/{branch_grant}"), 404)
    assert counts(runtime) == before
    r = sec.post(
        f"/api/users/{team_user}/grants", json={"role": "agent", "org_unit_id": org.team_a.id}
    )
    assert r.status_code == 201, r.text


def test_system_admin_cannot_take_over_auditor(
    runtime: Runtime, org: Any, login: Any, clock: ManualClock, new_client: Any
) -> None:
    org.user("sysadmin", "system_admin")
    aud = org.user("auditor", "auditor")
    admin = login("sysadmin")
    admin.post(f"/api/users/{aud}/reset-totp")
    r = admin.post(f"/api/users/{aud}/password", json={"new_password": "Taken-0ver-Secret"})
    if r.status_code == 200:
        c = new_client()
        assert sign_in(c, "auditor", "Taken-0ver-Secret").status_code == 200
        secret = pyotp.parse_uri(c.post("/api/me/totp").json()["otpauth_uri"]).secret
        c.post("/api/me/totp/confirm", json={"code": totp_now(secret, clock)})
        # the system administrator now reads the audit log as the auditor
        assert "audit:read" not in me(c)["permissions"]
    problem(r, 403)


def test_auditor_only_reads_audit(org: Any, login: Any) -> None:
    org.user("auditor", "auditor")
    c = login("auditor")
    body = me(c)
    assert body["permissions"] == ["audit:read"]
    assert body["roles"] == ["auditor"]
    for path in ("/api/users", "/api/org-units", "/api/security-policy", "/api/me/tokens"):
        problem(c.get(path), 403)


def test_separation_of_duties_on_grants(runtime: Runtime, org: Any, login: Any) -> None:
    sec_id = org.user("secadmin", "security_admin")
    sys_id = org.user("sysadmin", "system_admin")
    aud_id = org.user("auditor", "auditor")
    agent_id = org.user("agent", "agent", unit="team-a")
    sec = login("secadmin")
    before = counts(runtime)

    def grant(uid: str, role: str, unit: Any = None) -> Any:
        return sec.post(
            f"/api/users/{uid}/grants", json={"role": role, "org_unit_id": (unit or org.group).id}
        )

    p = problem(grant(sys_id, "auditor"), 422, "errors.separation_of_duties")
    assert "auditor" in p["detail"] and "system_admin" in p["detail"]
    problem(grant(aud_id, "security_admin"), 422, "errors.separation_of_duties")
    problem(grant(aud_id, "system_admin"), 422, "errors.separation_of_duties")
    # an admin role and a business role, in either order
    problem(grant(sys_id, "agent", org.team_a), 422, "errors.separation_of_duties")
    problem(grant(agent_id, "system_admin"), 422, "errors.separation_of_duties")
    problem(grant(agent_id, "auditor"), 422, "errors.separation_of_duties")
    # no self-grant, whatever the role
    problem(grant(sec_id, "security_admin", org.branch), 403, "errors.self_grant")
    problem(grant(sec_id, "agent", org.team_a), 403, "errors.self_grant")
    # unknown role, unknown unit, unknown user, duplicate
    problem(grant(agent_id, "overlord"), 422, "errors.unknown_role")
    problem(
        sec.post(f"/api/users/{agent_id}/grants", json={"role": "qa", "org_unit_id": "nope"}), 404
    )
    problem(grant("00000000-0000-7000-8000-000000000000", "qa"), 404)
    problem(grant(agent_id, "agent", org.team_a), 409)
    # own grants cannot be revoked either
    [own] = [g for g in grant_list(runtime, sec_id)]
    problem(sec.delete(f"/api/grants/{own}"), 403, "errors.self_grant")
    assert counts(runtime) == before


def grant_list(runtime: Runtime, user_id: str) -> list[str]:
    with runtime.db.read() as conn:
        return list(
            conn.execute(
                sa.text("select id from role_grants where user_id = :u"), {"u": user_id}
            ).scalars()
        )


# --- passwords (R-E5) ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("password", "key"),
    [
        ("Sh0rt-pw!", "errors.password_too_short"),
        ("Abcdefghij1", "errors.password_too_short"),  # 11 characters
        ("abcdefghijklmnop", "errors.password_classes"),
        ("abcdefgh12345678", "errors.password_classes"),  # two classes only
        ("ABCDEFGH!!!!????", "errors.password_classes"),
        ("My-Carol-Pass-1", "errors.password_contains_username"),
        ("xxCAROLxx-2024", "errors.password_contains_username"),
        ("aA1aA1aA1aA1aA1", "errors.password_simple"),
    ],
)
def test_weak_passwords_are_refused(
    runtime: Runtime, org: Any, login: Any, password: str, key: str
) -> None:
    org.user("sysadmin", "system_admin")
    admin = login("sysadmin")
    before = counts(runtime)
    p = problem(
        admin.post(
            "/api/users",
            json={
                "username": "carol",
                "display_name": "Carol",
                "org_unit_id": org.team_a.id,
                "password": password,
            },
        ),
        422,
        key,
    )
    assert p["field"] == "password"
    assert counts(runtime) == before


def test_password_stored_as_argon2id_and_never_shown(
    runtime: Runtime, org: Any, login: Any
) -> None:
    org.user("sysadmin", "system_admin")
    admin = login("sysadmin")
    seq = last_seq(runtime)
    user = create_user(admin, "carol", org.team_a.id, password="Tr1cky-Secret-42")
    assert user["must_change_password"] is True
    assert "password" not in str(user).lower().replace("must_change_password", "")
    row = user_row(runtime, "carol")
    assert row["password_hash"].startswith("$argon2id$")
    assert "Tr1cky-Secret-42" not in row["password_hash"]
    with runtime.db.read() as conn:
        history = list(
            conn.execute(
                sa.text("select password_hash from password_history where user_id = :u"),
                {"u": user["id"]},
            ).scalars()
        )
    assert history == [row["password_hash"]]
    [audit] = audit_rows(runtime, "user.create", since=seq)
    assert audit["object_id"] == user["id"]
    assert "Tr1cky-Secret-42" not in str(audit["details"])
    assert audit["details"]["changes"]["password"] == {"before": None, "after": "***"}
    assert admin.get(f"/api/users/{user['id']}").json().keys() == user.keys()


def test_password_change_history_and_current(
    runtime: Runtime, org: Any, login: Any, new_client: Any
) -> None:
    org.user("sysadmin", "system_admin")
    admin = login("sysadmin")
    passwords = [f"History-{i}-Passw0rd!" for i in range(7)]
    uid = create_user(admin, "dave", org.team_a.id, password=passwords[0])["id"]
    c = new_client()
    assert sign_in(c, "dave", passwords[0]).status_code == 200

    def change(current: str, new: str) -> Any:
        return c.post("/api/me/password", json={"current_password": current, "new_password": new})

    seq = last_seq(runtime)
    before = counts(runtime)
    # wrong current password, weak new password: refused, nothing written
    problem(change("Wrong-Passw0rd!!", passwords[1]), 422, "errors.password_wrong")
    problem(change(passwords[0], "short"), 422, "errors.password_too_short")
    problem(change(passwords[0], "dave-Passw0rd!!"), 422, "errors.password_contains_username")
    problem(change(passwords[0], passwords[0]), 422, "errors.password_reused")
    assert counts(runtime) == before

    for old, new in itertools.pairwise(passwords[:6]):
        r = change(old, new)
        assert r.status_code == 204, r.text
    # history now holds P0…P5; the last five (P1…P5) may not be reused
    current = passwords[5]
    for recent in passwords[1:6]:
        problem(change(current, recent), 422, "errors.password_reused")
    # P0 is the sixth-most-recent: allowed again
    assert change(current, passwords[0]).status_code == 204
    assert user_row(runtime, "dave")["password_hash"].startswith("$argon2id$")
    rows = audit_rows(runtime, "user.password_change", since=seq)
    assert len(rows) == 6 and {r["object_id"] for r in rows} == {uid}
    assert not user_row(runtime, "dave")["must_change_password"]

    # the new password signs in, the old one no longer does
    assert sign_in(new_client(), "dave", passwords[0]).status_code == 200
    problem(sign_in(new_client(), "dave", passwords[5]), 401, "errors.bad_credentials")

    # an administrator's reset follows the same history rule
    problem(
        admin.post(f"/api/users/{uid}/password", json={"new_password": passwords[4]}),
        422,
        "errors.password_reused",
    )
    r = admin.post(f"/api/users/{uid}/password", json={"new_password": passwords[6]})
    assert r.status_code == 200 and r.json()["must_change_password"] is True
    assert audit_rows(runtime, "user.password_reset", since=seq)[0]["object_id"] == uid
    # the reset ends the user's sessions
    problem(c.get("/api/me"), 401)


# --- lockout (R-E5) ------------------------------------------------------------------------
def test_lockout_after_five_failures_then_expires(
    runtime: Runtime, org: Any, clock: ManualClock, new_client: Any
) -> None:
    uid = org.user("erin", "agent", unit="team-a")
    c = new_client()
    seq = last_seq(runtime)
    for _ in range(4):
        problem(sign_in(c, "erin", "Wrong-Passw0rd!"), 401, "errors.bad_credentials")
    problem(sign_in(c, "erin", "Wrong-Passw0rd!"), 423, "errors.locked")
    # locked: even the right password is refused
    problem(sign_in(c, "erin", PASSWORD), 423, "errors.locked")

    # every failed attempt was committed although each request failed
    failed = audit_rows(runtime, "auth.login_failed", since=seq)
    assert [r["details"]["reason"] for r in failed] == ["bad_password"] * 5 + ["locked"]
    assert [r["details"].get("failed_logins") for r in failed[:5]] == [1, 2, 3, 4, 5]
    assert {r["object_id"] for r in failed} == {uid}
    assert len(audit_rows(runtime, "user.locked", since=seq)) == 1
    assert user_row(runtime, "erin")["locked_until"] is not None

    clock.advance(29 * 60)
    problem(sign_in(c, "erin", PASSWORD), 423)
    clock.advance(60 + 1)
    r = sign_in(c, "erin", PASSWORD)
    assert r.status_code == 200, r.text
    assert user_row(runtime, "erin")["failed_logins"] == 0
    assert audit_rows(runtime, "auth.login", since=seq)[-1]["object_id"] == uid


def test_failures_below_threshold_reset_on_success(org: Any, new_client: Any) -> None:
    org.user("erin", "agent", unit="team-a")
    c = new_client()
    for _ in range(4):
        problem(sign_in(c, "erin", "Wrong-Passw0rd!"), 401)
    assert sign_in(c, "erin", PASSWORD).status_code == 200
    for _ in range(4):
        problem(sign_in(c, "erin", "Wrong-Passw0rd!"), 401)
    assert sign_in(c, "erin", PASSWORD).status_code == 200


def test_unknown_user_failure_is_audited(runtime: Runtime, org: Any, new_client: Any) -> None:
    seq = last_seq(runtime)
    problem(sign_in(new_client(), "nobody", PASSWORD), 401, "errors.bad_credentials")
    [row] = audit_rows(runtime, "auth.login_failed", since=seq)
    assert row["details"] == {"username": "nobody", "reason": "unknown_or_disabled"}


def test_concurrent_failures_all_count(
    runtime: Runtime, org: Any, new_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parallel wrong guesses must not lose failure counts (a brute-force bypass otherwise)."""
    # A hash slow enough (~10-20 ms) that the attempts overlap.
    monkeypatch.setattr(
        id_secrets, "_hasher", PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1)
    )
    org.user("erin", "agent", unit="team-a")
    n = 8
    clients = [new_client() for _ in range(n)]
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def attempt(c: TestClient) -> None:
        barrier.wait()
        statuses.append(sign_in(c, "erin", "Wrong-Passw0rd!").status_code)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [401] * 4 + [423] * 4
    assert len(audit_rows(runtime, "user.locked")) == 1
    problem(sign_in(clients[0], "erin", PASSWORD), 423)


def test_concurrent_totp_replay_succeeds_once(
    org: Any, clock: ManualClock, new_client: Any
) -> None:
    org.user("sysadmin", "system_admin")
    code = totp_now(org.totp_secrets["sysadmin"], clock)
    n = 4
    clients = [new_client() for _ in range(n)]
    barrier = threading.Barrier(n)
    statuses: list[int] = []

    def attempt(c: TestClient) -> None:
        barrier.wait()
        statuses.append(sign_in(c, "sysadmin", totp=code).status_code)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [401] * (n - 1)


def test_system_admin_unlocks(runtime: Runtime, org: Any, login: Any, new_client: Any) -> None:
    org.user("sysadmin", "system_admin")
    uid = org.user("erin", "agent", unit="team-a")
    admin = login("sysadmin")
    c = new_client()
    for _ in range(5):
        sign_in(c, "erin", "Wrong-Passw0rd!")
    problem(sign_in(c, "erin", PASSWORD), 423)
    assert admin.get(f"/api/users/{uid}").json()["locked"] is True

    seq = last_seq(runtime)
    r = admin.post(f"/api/users/{uid}/unlock")
    assert r.status_code == 200 and r.json()["locked"] is False
    [row] = audit_rows(runtime, "user.unlock", since=seq)
    assert row["actor_name"] == "sysadmin" and row["object_id"] == uid
    assert sign_in(c, "erin", PASSWORD).status_code == 200


# --- sessions ------------------------------------------------------------------------------
def test_idle_timeout(org: Any, login: Any, clock: ManualClock) -> None:
    org.user("agent", "agent", unit="team-a")
    c = login("agent")
    # activity every 14 minutes keeps the session alive well past 15 minutes
    for _ in range(4):
        clock.advance(14 * 60)
        assert c.get("/api/me").status_code == 200
    # requests closer together than the 30-s touch threshold: the idle timer is still
    # refreshed (at most 30 s late), so 14 minutes after the burst the session lives on
    for _ in range(5):
        clock.advance(20)
        assert c.get("/api/me").status_code == 200
    clock.advance(14 * 60)
    assert c.get("/api/me").status_code == 200
    # idle for more than 15 minutes: gone, and it does not come back
    clock.advance(16 * 60)
    problem(c.get("/api/me"), 401, "errors.session_expired")
    clock.advance(60)
    problem(c.get("/api/me"), 401)


def test_idle_exactly_at_limit(org: Any, login: Any, clock: ManualClock) -> None:
    org.user("agent", "agent", unit="team-a")
    c = login("agent")
    clock.advance(15 * 60)
    assert c.get("/api/me").status_code == 200  # idle for exactly 15 min: still allowed
    clock.advance(15 * 60 + 1)
    problem(c.get("/api/me"), 401)


def test_session_absolute_lifetime(org: Any, login: Any, clock: ManualClock) -> None:
    org.user("agent", "agent", unit="team-a")
    c = login("agent")
    for _ in range(12 * 6 - 1):
        clock.advance(10 * 60)
        assert c.get("/api/me").status_code == 200
    clock.advance(10 * 60)
    problem(c.get("/api/me"), 401)  # 12 hours after sign-in, however active


def test_logout_ends_session(runtime: Runtime, org: Any, login: Any) -> None:
    org.user("agent", "agent", unit="team-a")
    c = login("agent")
    seq = last_seq(runtime)
    token = c.cookies.get("hotline_session")
    assert token and token.startswith("hls_")
    assert c.post("/api/auth/logout").status_code == 204
    assert audit_rows(runtime, "auth.logout", since=seq)
    with TestClient(c.app) as other:
        problem(other.get("/api/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_unauthenticated_and_garbage_tokens(client: TestClient, org: Any) -> None:
    problem(client.get("/api/me"), 401, "errors.unauthenticated")
    for bearer in ("hls_garbage", "hlt_garbage", "nonsense", ""):
        r = client.get("/api/me", headers={"Authorization": f"Bearer {bearer}"})
        problem(r, 401)
    problem(client.post("/api/auth/login", json={"username": "x"}), 422)
    problem(client.post("/api/auth/login", json={"username": "", "password": "x"}), 422)


# --- TOTP (R-E5) ---------------------------------------------------------------------------
def test_admin_without_totp_must_enroll(
    runtime: Runtime, org: Any, login: Any, clock: ManualClock, new_client: Any
) -> None:
    org.user("secadmin", "security_admin")
    uid = org.user("newadmin", None, unit="group")
    sec = login("secadmin")
    r = sec.post(
        f"/api/users/{uid}/grants", json={"role": "system_admin", "org_unit_id": org.group.id}
    )
    assert r.status_code == 201, r.text

    c = new_client()
    r = sign_in(c, "newadmin")
    assert r.status_code == 200, r.text
    assert r.json()["mfa_enrollment_required"] is True
    body = me(c)
    assert body["mfa_enrollment_required"] is True
    assert body["permissions"] == []
    assert body["roles"] == ["system_admin"]
    problem(c.get("/api/users"), 403)
    problem(c.post("/api/me/tokens", json={"name": "x", "scopes": ["user:read"]}), 403)

    seq = last_seq(runtime)
    r = c.post("/api/me/totp")
    assert r.status_code == 200, r.text
    uri = r.json()["otpauth_uri"]
    assert uri.startswith("otpauth://totp/")
    secret = pyotp.parse_uri(uri).secret
    # the secret is stored encrypted, not in the clear
    assert secret not in str(user_row(runtime, "newadmin")["totp_secret"])
    # asked again (the page reloaded after the phone scanned it): the same secret
    again = c.post("/api/me/totp")
    assert again.status_code == 200 and again.json()["otpauth_uri"] == uri

    problem(
        c.post("/api/me/totp/confirm", json={"code": wrong_totp(secret, clock)}),
        422,
        "errors.totp_invalid",
    )
    problem(c.post("/api/me/totp/confirm", json={"code": "12"}), 422)
    code = totp_now(secret, clock)
    assert c.post("/api/me/totp/confirm", json={"code": code}).status_code == 204
    assert [(r["action"], r["details"]) for r in audit_rows(runtime, since=seq)] == [
        ("user.totp_begin", {"again": False}),
        ("user.totp_begin", {"again": True}),
        ("user.totp_enable", {}),
    ]
    problem(c.post("/api/me/totp"), 409)  # already on

    # signing in now needs the code…
    problem(sign_in(new_client(), "newadmin"), 401, "errors.mfa_required")
    # …and the code just used to confirm cannot be replayed (same 30-s step)
    problem(sign_in(new_client(), "newadmin", totp=code), 401, "errors.mfa_invalid")
    clock.advance(30)
    fresh = totp_now(secret, clock)
    c2 = new_client()
    r = sign_in(c2, "newadmin", totp=fresh)
    assert r.status_code == 200, r.text
    assert r.json()["mfa_enrollment_required"] is False
    body = me(c2)
    assert body["mfa_enrollment_required"] is False
    assert set(body["permissions"]) == ROLES["system_admin"]
    assert c2.get("/api/users").status_code == 200
    # the same code again, in the same step: replay refused
    problem(sign_in(new_client(), "newadmin", totp=fresh), 401, "errors.mfa_invalid")
    assert audit_rows(runtime, "auth.login", since=seq)[-1]["details"]["mfa"] is True


def test_wrong_totp_counts_toward_lockout(
    runtime: Runtime, org: Any, clock: ManualClock, new_client: Any
) -> None:
    org.user("sysadmin", "system_admin")
    secret = org.totp_secrets["sysadmin"]
    c = new_client()
    seq = last_seq(runtime)
    for i in range(4):
        problem(sign_in(c, "sysadmin", totp=wrong_totp(secret, clock)), 401, "errors.mfa_invalid")
        assert user_row(runtime, "sysadmin")["failed_logins"] == i + 1
    problem(sign_in(c, "sysadmin", totp=wrong_totp(secret, clock)), 423, "errors.locked")
    problem(sign_in(c, "sysadmin", totp=totp_now(secret, clock)), 423, "errors.locked")
    reasons = [r["details"]["reason"] for r in audit_rows(runtime, "auth.login_failed", since=seq)]
    assert reasons == ["bad_totp"] * 5 + ["locked"]
    assert len(audit_rows(runtime, "user.locked", since=seq)) == 1
    clock.advance(30 * 60 + 1)
    assert sign_in(c, "sysadmin", totp=totp_now(secret, clock)).status_code == 200


def test_reset_totp_requires_new_enrollment(
    runtime: Runtime, org: Any, login: Any, new_client: Any
) -> None:
    org.user("sysadmin", "system_admin")
    uid = org.user("other-admin", "system_admin")
    admin = login("sysadmin")
    victim = login("other-admin")
    seq = last_seq(runtime)
    r = admin.post(f"/api/users/{uid}/reset-totp")
    assert r.status_code == 200 and r.json()["totp_enabled"] is False
    assert audit_rows(runtime, "user.totp_reset", since=seq)[0]["object_id"] == uid
    problem(victim.get("/api/me"), 401)  # sessions ended
    c = new_client()
    assert sign_in(c, "other-admin").status_code == 200
    assert me(c)["mfa_enrollment_required"] is True
    problem(c.get("/api/users"), 403)


def test_a_new_password_drops_a_pending_totp_secret(
    runtime: Runtime, org: Any, login: Any, new_client: Any
) -> None:
    """The pending secret is shown again until confirmed, but not across a new password:
    whoever knew the old one may have read it."""
    org.user("sysadmin", "system_admin")
    uid = org.user("agent", "agent", unit="team-a")
    c = login("agent")
    first = c.post("/api/me/totp").json()["otpauth_uri"]
    assert c.post("/api/me/totp").json()["otpauth_uri"] == first
    r = c.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": "Own-Passw0rd-22"}
    )
    assert r.status_code == 204, r.text
    second = c.post("/api/me/totp").json()["otpauth_uri"]
    assert second != first
    # an administrator's password reset (say, after a suspected break-in) does the same
    admin = login("sysadmin")
    r = admin.post(f"/api/users/{uid}/password", json={"new_password": "Temp-Passw0rd-9"})
    assert r.status_code in (200, 204), r.text
    c = new_client()
    assert sign_in(c, "agent", "Temp-Passw0rd-9").status_code == 200
    assert c.post("/api/me/totp").json()["otpauth_uri"] not in (first, second)


# --- API tokens ----------------------------------------------------------------------------
def test_api_token_lifecycle(
    runtime: Runtime, org: Any, login: Any, clock: ManualClock, new_client: Any
) -> None:
    org.user("agent", "agent", unit="team-a")
    c = login("agent")
    seq = last_seq(runtime)
    r = c.post("/api/me/tokens", json={"name": "crm", "scopes": ["org:read", "queue:read"]})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["token"]
    assert secret.startswith("hlt_") and created["prefix"] == secret[:8]
    assert created["scopes"] == ["org:read", "queue:read"]

    # stored hashed: the raw token appears in no column of api_tokens
    with runtime.db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text("select * from api_tokens"))]
    assert len(rows) == 1
    assert secret not in repr(rows)
    assert rows[0]["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    # shown once: the listing has no secret
    [listed] = c.get("/api/me/tokens").json()
    assert "token" not in listed and listed["id"] == created["id"]
    [row] = audit_rows(runtime, "token.create", since=seq)
    assert row["object_id"] == created["id"] and secret not in str(row["details"])

    bearer = new_client()
    bearer.headers["Authorization"] = f"Bearer {secret}"
    units = bearer.get("/api/org-units")
    assert units.status_code == 200 and [u["code"] for u in units.json()] == ["team-a"]
    body = me(bearer)
    assert body["permissions"] == ["org:read", "queue:read"]
    # outside the token's scopes, though the user holds them
    problem(bearer.get("/api/me/tokens"), 403)
    problem(bearer.post("/api/me/tokens", json={"name": "x", "scopes": ["org:read"]}), 403)
    assert c.get("/api/me/tokens").status_code == 200  # the session still has them
    # a token that may manage tokens cannot mint one wider than itself
    r = c.post("/api/me/tokens", json={"name": "mgr", "scopes": ["token:manage", "org:read"]})
    assert r.status_code == 201, r.text
    minter = new_client()
    minter.headers["Authorization"] = f"Bearer {r.json()['token']}"
    problem(
        minter.post("/api/me/tokens", json={"name": "x", "scopes": ["queue:read"]}),
        403,
        "errors.scope_not_held",
    )
    assert (
        minter.post("/api/me/tokens", json={"name": "y", "scopes": ["org:read"]}).status_code == 201
    )

    # a scope not held, an unknown scope, empty scopes: refused, nothing written
    before = counts(runtime)
    p = problem(
        c.post("/api/me/tokens", json={"name": "x", "scopes": ["user:manage"]}),
        403,
        "errors.scope_not_held",
    )
    assert p["params"] == {"scopes": ["user:manage"]}
    problem(
        c.post("/api/me/tokens", json={"name": "x", "scopes": ["org:read", "root:all"]}),
        422,
        "errors.unknown_scopes",
    )
    problem(c.post("/api/me/tokens", json={"name": "x", "scopes": []}), 422)
    problem(c.post("/api/me/tokens", json={"name": " ", "scopes": ["org:read"]}), 422)
    problem(
        c.post(
            "/api/me/tokens",
            json={"name": "x", "scopes": ["org:read"], "expires_at": "2020-01-01T00:00:00Z"},
        ),
        422,
    )
    problem(
        c.post(
            "/api/me/tokens",
            json={"name": "x", "scopes": ["org:read"], "expires_at": "2030-01-01T00:00:00"},
        ),
        422,
    )
    assert counts(runtime) == before

    # revoke: the token stops working at once
    seq = last_seq(runtime)
    assert c.delete(f"/api/me/tokens/{created['id']}").status_code == 204
    assert audit_rows(runtime, "token.revoke", since=seq)[0]["object_id"] == created["id"]
    problem(bearer.get("/api/org-units"), 401, "errors.token_invalid")
    problem(c.delete("/api/me/tokens/00000000-0000-7000-8000-000000000000"), 404)


def test_api_token_expiry(org: Any, login: Any, clock: ManualClock, new_client: Any) -> None:
    org.user("agent", "agent", unit="team-a")
    c = login("agent")
    expires = (clock.now() + dt.timedelta(hours=1)).isoformat()
    r = c.post(
        "/api/me/tokens", json={"name": "short", "scopes": ["org:read"], "expires_at": expires}
    )
    assert r.status_code == 201, r.text
    bearer = new_client()
    bearer.headers["Authorization"] = f"Bearer {r.json()['token']}"
    assert bearer.get("/api/org-units").status_code == 200
    clock.advance(3600)
    problem(bearer.get("/api/org-units"), 401, "errors.token_invalid")


def test_token_revoke_respects_scope(runtime: Runtime, org: Any, login: Any) -> None:
    """Another user's token: only an administrator over that user may revoke it."""
    org.user("agent-b", "agent", unit="team-b")
    org.user("admin-a", "system_admin", unit="team-a")
    org.user("other", "agent", unit="team-a")
    victim = login("agent-b")
    tid = victim.post("/api/me/tokens", json={"name": "t", "scopes": ["org:read"]}).json()["id"]
    other, admin_a = login("other"), login("admin-a")
    before = counts(runtime)
    problem(other.delete(f"/api/me/tokens/{tid}"), 404)
    problem(admin_a.delete(f"/api/me/tokens/{tid}"), 404)
    assert counts(runtime) == before
    assert victim.get("/api/me/tokens").json()[0]["revoked_at"] is None
    # an administrator over team-b may
    org.user("admin-b", "system_admin", unit="team-b")
    seq = last_seq(runtime)
    assert login("admin-b").delete(f"/api/me/tokens/{tid}").status_code == 204
    [row] = audit_rows(runtime, "token.revoke", since=seq)
    assert row["actor_name"] == "admin-b" and row["object_id"] == tid
    assert victim.get("/api/me/tokens").json()[0]["revoked_at"] is not None


# --- disabling an account (离职, R-E1) ----------------------------------------------------
def test_disable_ends_sessions_and_tokens(
    runtime: Runtime, org: Any, login: Any, new_client: Any
) -> None:
    org.user("sysadmin", "system_admin")
    uid = org.user("leaver", "agent", unit="team-a")
    admin = login("sysadmin")
    c = login("leaver")
    secret = c.post("/api/me/tokens", json={"name": "t", "scopes": ["org:read"]}).json()["token"]
    bearer = new_client()
    bearer.headers["Authorization"] = f"Bearer {secret}"
    assert c.get("/api/me").status_code == 200
    assert bearer.get("/api/org-units").status_code == 200

    seq = last_seq(runtime)
    r = admin.post(f"/api/users/{uid}/disable")
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    problem(c.get("/api/me"), 401)
    problem(bearer.get("/api/org-units"), 401)
    [row] = audit_rows(runtime, "user.disable", since=seq)
    assert row["details"]["sessions_ended"] == 1 and row["details"]["tokens_revoked"] == 1
    problem(sign_in(new_client(), "leaver"), 401, "errors.bad_credentials")
    # disabling twice changes nothing
    assert admin.post(f"/api/users/{uid}/disable").status_code == 200
    assert len(audit_rows(runtime, "user.disable", since=seq)) == 1

    r = admin.post(f"/api/users/{uid}/enable")
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert audit_rows(runtime, "user.enable", since=seq)[0]["object_id"] == uid
    # the old session and token stay dead
    problem(c.get("/api/me"), 401)
    problem(bearer.get("/api/org-units"), 401)
    assert sign_in(new_client(), "leaver").status_code == 200

    # no one disables their own account
    admin_id = me(admin)["user"]["id"]
    problem(admin.post(f"/api/users/{admin_id}/disable"), 409)


# --- every write is audited; refused input writes nothing ----------------------------------
def test_every_write_is_audited(
    runtime: Runtime, org: Any, login: Any, clock: ManualClock, new_client: Any
) -> None:
    org.user("sysadmin", "system_admin")
    org.user("secadmin", "security_admin")
    admin, sec = login("sysadmin"), login("secadmin")
    state: dict[str, Any] = {}
    user = new_client()

    def step(
        c: TestClient, method: str, path: str, body: Any, status: int, action: str, actor: str
    ) -> Any:
        seq = last_seq(runtime)
        r = c.request(method, path.format(**state), json=body)
        assert r.status_code == status, (path, r.text)
        rows = audit_rows(runtime, since=seq)
        assert [row["action"] for row in rows] == [action], (path, rows)
        assert rows[0]["actor_name"] == actor
        return r.json() if r.content else None

    state["unit"] = step(
        admin,
        "POST",
        "/api/org-units",
        {"code": "t9", "name": "T9", "kind": "team", "parent_id": org.center.id},
        201,
        "org_unit.create",
        "sysadmin",
    )["id"]
    step(
        admin, "PATCH", "/api/org-units/{unit}", {"name": "T9b"}, 200, "org_unit.update", "sysadmin"
    )
    state["uid"] = step(
        admin,
        "POST",
        "/api/users",
        {
            "username": "frank",
            "display_name": "Frank",
            "org_unit_id": state["unit"],
            "password": PASSWORD,
        },
        201,
        "user.create",
        "sysadmin",
    )["id"]
    state["grant"] = step(
        sec,
        "POST",
        "/api/users/{uid}/grants",
        {"role": "agent", "org_unit_id": state["unit"]},
        201,
        "role.grant",
        "secadmin",
    )["id"]
    step(
        user,
        "POST",
        "/api/auth/login",
        {"username": "frank", "password": PASSWORD},
        200,
        "auth.login",
        "anonymous",
    )
    step(
        user,
        "POST",
        "/api/me/password",
        {"current_password": PASSWORD, "new_password": "Fr4nk-New-Secret"},
        204,
        "user.password_change",
        "frank",
    )
    state["token"] = step(
        user,
        "POST",
        "/api/me/tokens",
        {"name": "t", "scopes": ["org:read"]},
        201,
        "token.create",
        "frank",
    )["id"]
    step(user, "DELETE", "/api/me/tokens/{token}", None, 204, "token.revoke", "frank")
    step(user, "POST", "/api/me/totp", None, 200, "user.totp_begin", "frank")
    step(user, "POST", "/api/auth/logout", None, 204, "auth.logout", "frank")
    step(
        admin,
        "POST",
        "/api/users/{uid}/password",
        {"new_password": "Adm1n-Set-Secret"},
        200,
        "user.password_reset",
        "sysadmin",
    )
    step(admin, "POST", "/api/users/{uid}/unlock", None, 200, "user.unlock", "sysadmin")
    step(admin, "POST", "/api/users/{uid}/reset-totp", None, 200, "user.totp_reset", "sysadmin")
    step(admin, "POST", "/api/users/{uid}/disable", None, 200, "user.disable", "sysadmin")
    step(admin, "POST", "/api/users/{uid}/enable", None, 200, "user.enable", "sysadmin")
    step(sec, "DELETE", "/api/grants/{grant}", None, 204, "role.revoke", "secadmin")
    step(
        sec,
        "PATCH",
        "/api/security-policy",
        {"lockout_minutes": 45},
        200,
        "policy.update",
        "secadmin",
    )
    assert sec.get("/api/security-policy").json()["lockout_minutes"] == 45


def test_bad_input_is_a_problem_and_writes_nothing(runtime: Runtime, org: Any, login: Any) -> None:
    org.user("sysadmin", "system_admin")
    org.user("secadmin", "security_admin")
    uid = org.user("agent", "agent", unit="team-a")
    admin, sec, agent = login("sysadmin"), login("secadmin"), login("agent")
    before = counts(runtime)
    seq = last_seq(runtime)
    dummy = "00000000-0000-7000-8000-000000000000"
    cases: list[tuple[TestClient, str, str, Any, int]] = [
        (
            admin,
            "POST",
            "/api/users",
            {
                "username": "9lives",
                "display_name": "X",
                "org_unit_id": org.team_a.id,
                "password": PASSWORD,
            },
            422,
        ),
        (
            admin,
            "POST",
            "/api/users",
            {
                "username": "agent",
                "display_name": "X",
                "org_unit_id": org.team_a.id,
                "password": PASSWORD,
            },
            409,
        ),
        (
            admin,
            "POST",
            "/api/users",
            {
                "username": "new-one",
                "display_name": " ",
                "org_unit_id": org.team_a.id,
                "password": PASSWORD,
            },
            422,
        ),
        (
            admin,
            "POST",
            "/api/users",
            {
                "username": "new-one",
                "display_name": "X",
                "org_unit_id": dummy,
                "password": PASSWORD,
            },
            404,
        ),
        (
            admin,
            "POST",
            "/api/users",
            {
                "username": "new-one",
                "display_name": "X",
                "org_unit_id": org.team_a.id,
                "password": PASSWORD,
                "is_admin": True,
            },
            422,
        ),
        (admin, "POST", "/api/users", [1, 2, 3], 422),
        (admin, "POST", f"/api/users/{dummy}/disable", None, 404),
        (admin, "POST", f"/api/users/{uid}/password", {"new_password": "weak"}, 422),
        (admin, "POST", f"/api/users/{uid}/password", {}, 422),
        (admin, "PATCH", f"/api/org-units/{org.team_a.id}", {"name": ""}, 422),
        (admin, "PATCH", f"/api/org-units/{org.team_a.id}", {"name": "   "}, 422),
        (sec, "POST", f"/api/users/{uid}/grants", {"role": "agent"}, 422),
        (sec, "DELETE", f"/api/grants/{dummy}", None, 404),
        (sec, "PATCH", "/api/security-policy", {"min_classes": 5}, 422),
        (sec, "PATCH", "/api/security-policy", {"session_idle_minutes": 0}, 422),
        (agent, "POST", "/api/me/password", {"current_password": "x"}, 422),
        (agent, "POST", "/api/me/totp/confirm", {"code": "123456"}, 409),
        (agent, "POST", "/api/me/tokens", {"name": "x", "scopes": "org:read"}, 422),
        (
            agent,
            "POST",
            "/api/users",
            {
                "username": "z-user",
                "display_name": "Z",
                "org_unit_id": org.team_a.id,
                "password": PASSWORD,
            },
            403,
        ),
    ]
    for c, method, path, body, status in cases:
        r = c.request(method, path, json=body)
        problem(r, status)
    assert counts(runtime) == before
    assert last_seq(runtime) == seq
