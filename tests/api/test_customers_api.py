"""Customer profiles through the API: masking by permission, audited PII reads, screen pop."""

from __future__ import annotations

import sqlalchemy as sa


def _count(runtime, action: str) -> int:  # type: ignore[no-untyped-def]
    with runtime.db.read() as conn:
        return int(conn.execute(sa.text("select count(*) from audit_log where action = :a"),
                                {"a": action}).scalar_one())


def test_masking_and_pii_audit(org, login, runtime) -> None:  # type: ignore[no-untyped-def]
    org.user("agent1", "agent", unit="team-a")
    org.user("duty1", "duty_manager", unit="group")
    agent, duty = login("agent1"), login("duty1")
    r = agent.post("/api/customers", json={
        "org_unit_id": org.team_a.id, "name": "张三", "phone": "138-1234-5678",
        "id_number": "11010519491231002X", "address": "北京市西城区金融街1号",
    })
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["phone"] == "138****5678" and created["masked"] is True
    cid = created["id"]

    before = _count(runtime, "customer.read_pii")
    full = duty.get(f"/api/customers/{cid}").json()
    assert full["phone"] == "13812345678" and full["masked"] is False
    assert _count(runtime, "customer.read_pii") == before + 1

    masked = agent.get(f"/api/customers/{cid}").json()
    assert masked["phone"] == "138****5678" and masked["id_number"].startswith("110")
    assert "*" in masked["id_number"] and "*" in masked["address"]

    # screen pop by caller number in another notation
    pop = agent.get("/api/customers", params={"phone": "+86 138 1234 5678"}).json()
    assert [c["id"] for c in pop["items"]] == [cid]


def test_scope_and_bad_input(org, login) -> None:  # type: ignore[no-untyped-def]
    org.user("agent_a", "agent", unit="team-a")
    org.user("agent_b", "agent", unit="team-b")
    a, b = login("agent_a"), login("agent_b")
    cid = a.post("/api/customers", json={"org_unit_id": org.team_a.id, "name": "李四"}).json()["id"]
    assert b.get(f"/api/customers/{cid}").status_code == 404
    bad = a.post("/api/customers", json={"org_unit_id": org.team_a.id, "name": "王五",
                                         "id_number": "110105194912310021"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert a.get("/api/customers").json()["items"][0]["id"] == cid
    assert len(a.get("/api/customers").json()["items"]) == 1  # the rejected one was not written
