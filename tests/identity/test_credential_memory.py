"""Authentication remembers a credential's rows briefly (`CredentialMemory`), through the HTTP
API: it really spares the read, and every identity change made through this process still
takes effect on the very next request — revocation, logout, disabling, grants, org units,
policy — while the time rules (expiry, idle timeout) are decided afresh on each request.
Changes written beside this process (another node, the `hotline` command) count after at
most `CREDENTIAL_TTL_SECONDS`.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from hotline.core.clock import ManualClock
from hotline.domains.identity import secrets as id_secrets
from hotline.infra.db.schema import role_grants, users
from hotline.infra.db.stores.identity import (
    CREDENTIAL_TTL_SECONDS,
    CredentialMemory,
    SqlIdentityStore,
    credential_memory,
)
from hotline.infra.runtime import Runtime

PASSWORD = "Str0ng-Passw0rd!"  # the conftest fixture users' password


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        id_secrets, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def bearer(new_client: Any, session: TestClient, scopes: list[str]) -> TestClient:
    r = session.post("/api/me/tokens", json={"name": "t", "scopes": scopes})
    assert r.status_code == 201, r.text
    c: TestClient = new_client()
    c.headers["Authorization"] = f"Bearer {r.json()['token']}"
    return c


def statements(runtime: Runtime, call: Any) -> int:
    """SQL statements run while `call()` runs."""
    seen: list[str] = []

    def count(_c: Any, _cur: Any, sql: str, *_: Any) -> None:
        seen.append(sql)

    sa.event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", count)
    return len(seen)


def test_a_remembered_credential_is_not_read_again(
    runtime: Runtime, org: Any, login: Any, new_client: Any
) -> None:
    org.user("agent", "agent", unit="team-a")
    session = login("agent")
    token = bearer(new_client, session, ["org:read"])
    for c, path in ((session, "/api/me"), (token, "/api/org-units")):
        for _ in range(2):  # the first use of a token touches it (and reads it again)
            assert c.get(path).status_code == 200
        first = statements(runtime, lambda c=c, path=path: c.get(path))
        # a fresh process memory (as after a restart) reads the credential again
        credential_memory(runtime.engine).changed()
        again = statements(runtime, lambda c=c, path=path: c.get(path))
        assert again > first, (again, first)


def test_revoked_token_and_ended_session_stop_at_once(
    org: Any, login: Any, new_client: Any
) -> None:
    org.user("agent", "agent", unit="team-a")
    session = login("agent")
    token = bearer(new_client, session, ["org:read"])
    for _ in range(2):  # remembered (the first use touches the token)
        assert token.get("/api/org-units").status_code == 200
    token_id = session.get("/api/me/tokens").json()[0]["id"]
    assert session.delete(f"/api/me/tokens/{token_id}").status_code == 204
    assert token.get("/api/org-units").status_code == 401
    # logout ends that session on its next request (sent as a bearer: no cookie to drop)
    r = new_client().post("/api/auth/login", json={"username": "agent", "password": PASSWORD})
    other = new_client()
    other.headers["Authorization"] = f"Bearer {r.json()['token']}"
    for _ in range(2):
        assert other.get("/api/me").status_code == 200
    assert other.post("/api/auth/logout").status_code == 204
    assert other.get("/api/me").status_code == 401
    assert session.get("/api/me").status_code == 200


def test_disable_and_grant_changes_take_effect_on_the_next_request(
    org: Any, login: Any, new_client: Any
) -> None:
    org.user("sysadmin", "system_admin")
    org.user("secadmin", "security_admin")
    uid = org.user("agent", "agent", unit="team-a")
    admin, sec = login("sysadmin"), login("secadmin")
    c = login("agent")
    token = bearer(new_client, c, ["org:read"])
    assert [u["code"] for u in token.get("/api/org-units").json()] == ["team-a"]
    # a new grant widens what the remembered credential may see at once
    r = sec.post(
        f"/api/users/{uid}/grants", json={"role": "team_lead", "org_unit_id": org.team_b.id}
    )
    assert r.status_code == 201, r.text
    assert {u["code"] for u in token.get("/api/org-units").json()} == {"team-a", "team-b"}
    # and its removal narrows it at once
    assert sec.delete(f"/api/grants/{r.json()['id']}").status_code == 204
    assert [u["code"] for u in token.get("/api/org-units").json()] == ["team-a"]
    # disabling ends session and token on their next request
    assert c.get("/api/me").status_code == 200
    assert admin.post(f"/api/users/{uid}/disable").status_code == 200
    assert c.get("/api/me").status_code == 401
    assert token.get("/api/org-units").status_code == 401


def test_policy_change_applies_to_remembered_sessions(
    org: Any, login: Any, clock: ManualClock
) -> None:
    org.user("secadmin", "security_admin")
    org.user("agent", "agent", unit="team-a")
    sec, c = login("secadmin"), login("agent")
    assert c.get("/api/me").status_code == 200
    clock.advance(10 * 60)
    # idle 10 minutes of 15: alive, but the idle limit drops to 5 minutes
    r = sec.patch("/api/security-policy", json={"session_idle_minutes": 5})
    assert r.status_code == 200, r.text
    assert c.get("/api/me").status_code == 401


def test_time_rules_are_decided_on_every_request(
    org: Any, login: Any, new_client: Any, clock: ManualClock
) -> None:
    org.user("agent", "agent", unit="team-a")
    c = login("agent")
    token = bearer(new_client, c, ["org:read"])
    assert c.get("/api/me").status_code == 200
    assert token.get("/api/org-units").status_code == 200
    clock.advance(16 * 60)  # past the idle limit; the rows are still remembered
    assert c.get("/api/me").status_code == 401
    assert token.get("/api/org-units").status_code == 200  # tokens have no idle limit


def test_a_change_outside_this_process_counts_within_the_bound(
    runtime: Runtime, org: Any, login: Any
) -> None:
    uid = org.user("agent", "agent", unit="team-a")
    c = login("agent")
    assert c.get("/api/me").status_code == 200
    # as another node or the `hotline` command would: straight into the database
    with runtime.engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == uid).values(status="disabled"))
        conn.execute(role_grants.delete().where(role_grants.c.user_id == uid))
    time.sleep(CREDENTIAL_TTL_SECONDS)
    assert c.get("/api/me").status_code == 401


def test_a_read_older_than_a_write_is_not_remembered() -> None:
    memory = CredentialMemory(ttl=60)
    started = memory.generation
    memory.put("a", "rows", generation=started, read_at=time.monotonic())
    assert memory.get("a") == "rows"
    memory.changed()  # a write began (or ended) while another read was on its way
    assert memory.get("a") is None
    memory.put("b", "old rows", generation=started, read_at=time.monotonic())
    assert memory.get("b") is None
    memory.put("b", "new rows", generation=memory.generation, read_at=time.monotonic())
    assert memory.get("b") == "new rows"
    stale = CredentialMemory(ttl=0.0)
    stale.put("c", "rows", generation=stale.generation, read_at=time.monotonic())
    assert stale.get("c") is None


def test_a_rolled_back_identity_write_forgets_too(runtime: Runtime, org: Any, login: Any) -> None:
    """The write's connection going back to the pool forgets again, committed or not."""
    uid = org.user("agent", "agent", unit="team-a")
    c = login("agent")
    assert c.get("/api/me").status_code == 200
    memory = credential_memory(runtime.engine)
    before = memory.generation
    with runtime.engine.connect() as conn:
        trans = conn.begin()
        SqlIdentityStore(conn).update_user(uid, display_name="Temp")
        during = memory.generation
        trans.rollback()
    assert during > before and memory.generation > during
    assert c.get("/api/me").json()["user"]["display_name"] != "Temp"


def test_sign_in_bookkeeping_keeps_what_is_remembered(
    runtime: Runtime, org: Any, login: Any, new_client: Any
) -> None:
    # At shift start, or under a password spray, sign-ins and failed attempts update
    # `users` all the time; they decide nothing for credentials already issued.
    org.user("agent", "agent", unit="team-a")
    org.user("other", "agent", unit="team-a")
    session = login("agent")
    assert session.get("/api/me").status_code == 200
    generation = credential_memory(runtime.engine).generation
    stranger = new_client()
    r = stranger.post("/api/auth/login", json={"username": "other", "password": "wrong-1"})
    assert r.status_code == 401, r.text
    login("other")
    assert credential_memory(runtime.engine).generation == generation
    assert session.get("/api/me").status_code == 200
