"""Supervisors move contacts and change priorities (audited, R-C2); configuration through the
API: skills, queues with overflow steps, entry points, wrap-up codes, agent profiles."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from routing_api.conftest import Floor


def _audit(floor: Floor, action: str) -> list[dict[str, object]]:
    with floor.runtime.db.read() as conn:
        rows = conn.execute(
            sa.text("select details from audit_log where action = :a order by seq"), {"a": action}
        ).all()
    return [r.details if isinstance(r.details, dict) else json.loads(r.details) for r in rows]


def test_supervisor_moves_a_contact_and_changes_priority_audited(floor: Floor) -> None:
    a, b, c = floor.arrive(), floor.arrive(), floor.arrive(address="bill-chat")
    lead = floor.client("lead")

    r = lead.post(f"/api/contacts/{c['id']}/priority", json={"priority": 7})
    assert r.status_code == 200 and r.json()["priority"] == 7
    r = lead.post(f"/api/contacts/{b['id']}/priority", json={"priority": 3})
    assert floor.line() == [b["id"], a["id"]]
    changes = [d["changes"] for d in _audit(floor, "contact.priority")]
    assert changes == [
        {"priority": {"before": 0, "after": 7}},
        {"priority": {"before": 0, "after": 3}},
    ]

    r = lead.post(f"/api/contacts/{a['id']}/move", json={"queue_id": floor["billing"]})
    assert r.status_code == 200 and r.json()["queue_id"] == floor["billing"]
    assert floor.line() == [b["id"]]
    # in billing: c (priority 7) first, then a, which kept its original arrival time
    assert floor.line("billing") == [c["id"], a["id"]]
    (moved,) = _audit(floor, "contact.move")
    assert moved["changes"] == {
        "queue_id": {"before": floor["faults"], "after": floor["billing"]}
    }
    assert floor.history(a["id"])[-1] == "moved"
    # the same queue again, or a contact being offered: 409
    assert lead.post(f"/api/contacts/{a['id']}/move",
                     json={"queue_id": floor["billing"]}).status_code == 409
    # agents cannot supervise; a team-b lead does not see the center's contacts
    r = floor.client("agent1").post(f"/api/contacts/{b['id']}/priority", json={"priority": 1})
    assert r.status_code == 403
    floor.org.user("lead_b", "team_lead", unit="team-b")
    r = floor.client("lead_b").post(f"/api/contacts/{b['id']}/priority", json={"priority": 1})
    assert r.status_code == 404


def test_line_pages_by_keyset(floor: Floor) -> None:
    ids = [floor.arrive()["id"] for _ in range(5)]
    lead = floor.client("lead")
    page = lead.get("/api/contacts", params={"queue_id": floor["faults"], "limit": 2}).json()
    assert [c["id"] for c in page["items"]] == ids[:2] and page["next_after"] == ids[1]
    assert [c["position"] for c in page["items"]] == [1, 2]
    page = lead.get(
        "/api/contacts", params={"queue_id": floor["faults"], "limit": 2, "after": ids[1]}
    ).json()
    assert [c["id"] for c in page["items"]] == ids[2:4]
    floor.contact("gateway", ids[3], "abandon")
    r = lead.get("/api/contacts", params={"queue_id": floor["faults"], "after": ids[3]})
    assert r.status_code == 409


def test_configuration_through_the_api(floor: Floor) -> None:
    mgr = floor.client("mgr")
    r = mgr.post("/api/skills", json={"code": "new_install", "name": "新装"})
    assert r.status_code == 201, r.text
    assert mgr.post("/api/skills", json={"code": "new_install", "name": "x"}).status_code == 409
    codes = [s["code"] for s in mgr.get("/api/skills").json()["items"]]
    assert codes == ["billing", "fault_repair", "new_install"]
    page = mgr.get("/api/skills", params={"limit": 1}).json()
    assert page["next_after"] == "billing"

    body = {
        "code": "installs",
        "name": "新装",
        "org_unit_id": floor.org.center.id,
        "channels": ["chat", "email"],
        "skills": [{"skill": "new_install", "min_level": 6}],
        "service_level_seconds": 30,
        "service_level_percent": 85,
        "max_wait_seconds": 600,
        "max_wait_action": "callback",
        "overflow": [
            {"kind": "lower_skill_level", "after_seconds": 30, "min_level": 2},
            {"kind": "add_queue_agents", "after_seconds": 60, "queue_id": floor["faults"]},
        ],
    }
    r = mgr.post("/api/queues", json=body)
    assert r.status_code == 201, r.text
    queue = r.json()
    assert queue["overflow"][1]["queue_id"] == floor["faults"]
    assert queue["skills"] == [{"skill": "new_install", "min_level": 6}]
    # unknown skills, bad step order, unknown overflow queue: 422, nothing written
    for bad in (
        {**body, "code": "x1", "skills": [{"skill": "nope", "min_level": 1}]},
        {**body, "code": "x2", "overflow": list(reversed(body["overflow"]))},
        {**body, "code": "x3", "overflow": [
            {"kind": "add_queue_agents", "after_seconds": 5, "queue_id": "0" * 36}]},
        {**body, "code": "x4", "offer_timeout_seconds": 0},
        {**body, "code": "x5", "surprise": 1},
    ):
        r = mgr.post("/api/queues", json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert [q["code"] for q in mgr.get("/api/queues").json()["items"]] == [
        "billing", "faults", "installs",
    ]

    # an agent with new_install 4 gets an installs chat once the level is lowered (after 30 s)
    r = mgr.post("/api/entry-points", json={
        "channel": "chat", "address": "install-chat", "name": "新装咨询", "queue_id": queue["id"],
    })
    assert r.status_code == 201, r.text
    r = mgr.put(f"/api/agents/{floor['agent3']}/profile",
                json={"skills": {"new_install": 4}, "capacity": {"chat": 1}})
    assert r.status_code == 200, r.text
    floor.ready("agent3")
    c = floor.arrive(address="install-chat")
    assert c["status"] == "queued"
    floor.clock.advance(31)
    floor.runtime.routing.tick()
    assert [w["id"] for w in floor.me("agent3")["work"]] == [c["id"]]
    assert "overflowed" in floor.history(c["id"])

    # live figures on the queue
    stats = mgr.get(f"/api/queues/{queue['id']}").json()["stats"]
    assert stats["offered"] == 1 and stats["service_level_target_percent"] == 85

    # a queue update that would strand a waiting chat is refused
    floor.arrive(address="install-chat")
    r = mgr.put(f"/api/queues/{queue['id']}", json={
        "name": "新装", "channels": ["email"], "skills": [{"skill": "new_install", "min_level": 6}],
    })
    assert r.status_code == 409
    r = mgr.put(f"/api/queues/{queue['id']}", json={
        "name": "新装业务", "channels": ["chat", "email"], "wrap_up_seconds": 0,
    })
    assert r.status_code == 200 and r.json()["name"] == "新装业务"
    assert floor.count("audit_log", action="queue.update") == 1

    # wrap-up codes and entry points
    r = mgr.post("/api/wrap-up-codes", json={"code": "callback_promised", "name": "已约回访"})
    assert r.status_code == 201
    r = mgr.patch(f"/api/wrap-up-codes/{r.json()['id']}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    r = mgr.patch(f"/api/entry-points/{floor['bill-chat']}", json={"active": False})
    assert r.status_code == 200
    floor.arrive(address="bill-chat", expect=404)
    eps = mgr.get("/api/entry-points").json()["items"]
    assert [e["address"] for e in eps][:3] == ["web-chat", "faults@96266.example", "bill-chat"]


def test_configuration_permissions(floor: Floor) -> None:
    # team leads read configuration but do not change it
    lead = floor.client("lead")
    assert lead.get("/api/queues").status_code == 200
    assert lead.post("/api/skills", json={"code": "x", "name": "x"}).status_code == 403
    # a manager of one branch cannot create global skills, nor queues outside its unit
    floor.org.user("branch_mgr", "center_manager", unit="branch")
    bm = floor.client("branch_mgr")
    r = bm.post("/api/skills", json={"code": "x", "name": "x"})
    assert r.status_code == 403 and r.json()["key"] == "errors.permission_required_root"
    r = bm.post("/api/queues", json={
        "code": "x", "name": "x", "org_unit_id": floor.org.center.id, "channels": ["chat"],
    })
    assert r.status_code == 404
    r = bm.post("/api/queues", json={
        "code": "branch_q", "name": "分公司", "org_unit_id": floor.org.branch.id,
        "channels": ["chat"],
    })
    assert r.status_code == 201, r.text
    r = bm.put(f"/api/agents/{floor['agent1']}/profile", json={"capacity": {"chat": 1}})
    assert r.status_code == 404  # agent1 is not in the branch
