"""Bad input answers 4xx problem+json and writes nothing: no contact, no history, no agent
state, no audit row, no event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routing_api.conftest import Floor

TABLES = (
    "contacts",
    "contact_events",
    "agent_states",
    "agent_state_log",
    "logout_requests",
    "queues",
    "skills",
    "entry_points",
    "wrap_up_codes",
    "agent_profiles",
    "audit_log",
    "outbox",
)


def test_bad_requests_are_refused_and_write_nothing(floor: Floor) -> None:
    floor.ready("agent1")
    offered = floor.arrive()
    waiting = floor.arrive()
    for name in ("agent2", "lead", "mgr", "gateway", "duty"):
        floor.client(name)  # sign in first: sign-ins write sessions and audit rows
    counts = {t: floor.count(t) for t in TABLES}
    engine_before = floor.runtime.routing.snapshot()

    cases: list[tuple[str, str, str, Any, int]] = [
        # arrivals
        ("gateway", "post", "/api/contacts", {"channel": "voice", "address": "96266"}, 422),
        ("gateway", "post", "/api/contacts", {"channel": "chat", "address": "nowhere"}, 404),
        ("gateway", "post", "/api/contacts", {"channel": "chat", "address": "web-chat",
                                               "surprise": True}, 422),
        ("gateway", "post", "/api/contacts", {"channel": "sms", "address": "web-chat"}, 404),
        ("gateway", "post", "/api/contacts", {"channel": "chat", "address": "web-chat",
                                               "caller": "bell\x07"}, 422),
        ("gateway", "post", "/api/contacts", {"channel": "chat", "address": "web-chat",
                                               "priority": 5000}, 422),
        ("gateway", "post", "/api/contacts", {"channel": "chat", "address": "web-chat",
                                               "customer_id": "0" * 36}, 404),
        ("gateway", "post", "/api/contacts", {"channel": "chat", "address": "x" * 101}, 422),
        ("agent1", "post", "/api/contacts", {"channel": "chat", "address": "web-chat"}, 403),
        # handling someone else's contact, or in the wrong state
        ("agent2", "post", f"/api/contacts/{offered['id']}/accept", None, 404),
        ("agent1", "post", f"/api/contacts/{waiting['id']}/accept", None, 404),
        ("agent1", "post", f"/api/contacts/{offered['id']}/end", None, 409),
        ("agent1", "post", f"/api/contacts/{offered['id']}/wrap-up", {"code": "resolved"}, 409),
        ("agent1", "post", f"/api/contacts/{offered['id']}/wrap-up", {"code": "Bad Code"}, 422),
        ("agent1", "post", f"/api/contacts/{offered['id']}/transfer", {}, 422),
        ("gateway", "post", f"/api/contacts/{offered['id']}/callback", None, 409),
        ("lead", "post", f"/api/contacts/{waiting['id']}/move", {"queue_id": "nope"}, 404),
        ("lead", "post", f"/api/contacts/{waiting['id']}/priority", {"priority": "high"}, 422),
        ("lead", "post", "/api/contacts/unknown/priority", {"priority": 1}, 404),
        ("lead", "get", "/api/contacts/unknown", None, 404),
        ("lead", "get", "/api/contacts?queue_id=unknown", None, 404),
        # agent states
        ("agent1", "post", "/api/me/agent", {"action": "dance"}, 422),
        ("agent1", "post", "/api/me/agent", {"action": "login", "seat": "A-1"}, 409),
        ("agent2", "post", "/api/me/agent", {"action": "ready"}, 409),
        ("agent2", "post", "/api/me/agent", {"action": "login", "seat": ""}, 422),
        ("agent2", "post", "/api/me/agent", {"action": "not_ready", "reason": "nap"}, 422),
        ("lead", "post", f"/api/agents/{floor['agent2']}/state", {"state": "ready"}, 409),
        ("lead", "post", f"/api/agents/{floor['agent1']}/state", {"state": "busy"}, 422),
        ("lead", "post", f"/api/agents/{floor['agent1']}/logout-approval",
         {"approve": True}, 409),
        ("agent1", "post", f"/api/agents/{floor['agent2']}/state", {"state": "ready"}, 403),
        # configuration
        ("mgr", "post", "/api/skills", {"code": "Fault Repair", "name": "x"}, 422),
        ("mgr", "post", "/api/skills", {"code": "fault_repair", "name": "dup"}, 409),
        ("mgr", "post", "/api/queues", {"code": "q", "name": "q", "org_unit_id": "x",
                                        "channels": []}, 422),
        ("mgr", "post", "/api/queues", {"code": "q", "name": "q", "org_unit_id": "x",
                                        "channels": ["chat"]}, 404),
        ("mgr", "post", "/api/queues", {"code": "faults", "name": "q",
                                        "org_unit_id": floor.org.center.id,
                                        "channels": ["chat"]}, 409),
        ("mgr", "post", "/api/queues", {"code": "q", "name": "q",
                                        "org_unit_id": floor.org.center.id,
                                        "channels": ["chat"], "max_wait_seconds": 1e300}, 422),
        ("mgr", "post", "/api/entry-points", {"channel": "voice", "address": "96266",
                                              "name": "x", "queue_id": floor["billing"]}, 422),
        ("mgr", "post", "/api/entry-points", {"channel": "chat", "address": "web-chat",
                                              "name": "x", "queue_id": floor["faults"]}, 409),
        ("mgr", "put", f"/api/agents/{floor['agent2']}/profile",
         {"skills": {"unknown": 3}, "capacity": {"chat": 1}}, 422),
        ("mgr", "put", f"/api/agents/{floor['agent2']}/profile",
         {"skills": {"billing": 11}, "capacity": {"chat": 1}}, 422),
        ("mgr", "put", f"/api/agents/{floor['agent2']}/profile",
         {"capacity": {"fax": 1}}, 422),
        ("mgr", "put", "/api/agents/nobody/profile", {"capacity": {"chat": 1}}, 404),
        ("duty", "post", "/api/routing/groups", {"group": "Standby Staff", "active": True}, 422),
    ]
    for who, method, path, body, status in cases:
        r = floor.client(who).request(method, path, json=body)
        assert r.status_code == status, (who, method, path, body, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), path
        problem = r.json()
        assert problem["status"] == status and problem["code"] and problem["key"]

    assert {t: floor.count(t) for t in TABLES} == counts
    assert floor.runtime.routing.snapshot() == engine_before
