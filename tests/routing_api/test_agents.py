"""Agent states through the API: logout approval while contacts wait or during an incident
(R-D6), seat changes in the state log, team leads forcing states, the floor view (R-C2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing_api.conftest import Floor


def test_logout_refused_while_contacts_wait_then_approved_by_team_lead(floor: Floor) -> None:
    floor.act("agent1", "login", seat="A-01")  # not ready
    assert floor.me("agent1")["reason"] == "login"
    floor.arrive()  # waits: nobody is ready

    me = floor.act("agent1", "logout", expect=202)
    request = me["logout_request"]
    assert me["state"] == "not_ready" and request["status"] == "pending"
    assert request["cause"] == "waiting"
    # asking again changes nothing
    assert floor.act("agent1", "logout", expect=202)["logout_request"]["id"] == request["id"]
    assert floor.count("logout_requests") == 1
    (event,) = floor.outbox("agent.logout_requested")
    assert event.permission == "agent:supervise" and event.user_id == floor["agent1"]

    # an agent cannot approve; the team lead sees the request on the floor view and approves
    r = floor.client("agent2").post(
        f"/api/agents/{floor['agent1']}/logout-approval", json={"approve": True}
    )
    assert r.status_code == 403
    floor_view = floor.client("lead").get("/api/agents").json()["items"]
    pending = {a["username"]: a["logout_request"] for a in floor_view}
    assert pending["agent1"]["id"] == request["id"] and pending["agent2"] is None
    r = floor.client("lead").post(
        f"/api/agents/{floor['agent1']}/logout-approval", json={"approve": True}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "logged_out" and r.json()["logout_request"] is None
    log = floor.client("lead").get(f"/api/agents/{floor['agent1']}/state-log").json()
    assert log[0]["to_state"] == "logged_out" and log[0]["approved_by"] == floor["lead"]
    assert floor.count("audit_log", action="agent.logout_approved") == 1
    # nothing left to approve
    r = floor.client("lead").post(
        f"/api/agents/{floor['agent1']}/logout-approval", json={"approve": True}
    )
    assert r.status_code == 409


def test_logout_is_immediate_when_nothing_waits(floor: Floor) -> None:
    floor.ready("agent1")
    me = floor.act("agent1", "logout")
    assert me["state"] == "logged_out" and me["logout_request"] is None
    floor.act("agent1", "logout", expect=409)  # not logged in


def test_incident_flag_needs_approval_and_a_rejection_keeps_the_agent(floor: Floor) -> None:
    floor.ready("agent2")
    r = floor.client("duty").post(
        "/api/routing/incident", json={"active": True, "note": "平台故障 (R-D6)"}
    )
    assert r.status_code == 200 and r.json()["incident"] is True
    # a team lead of one center cannot raise it for the whole organisation
    r = floor.client("lead").post("/api/routing/incident", json={"active": False})
    assert r.status_code == 403

    me = floor.act("agent2", "logout", expect=202)
    assert me["logout_request"]["cause"] == "incident"
    r = floor.client("lead").post(
        f"/api/agents/{floor['agent2']}/logout-approval", json={"approve": False}
    )
    assert r.status_code == 200 and r.json()["state"] == "ready"
    assert r.json()["logout_request"] is None
    # getting ready again withdraws nothing (no request left); a new request, then withdrawn
    floor.act("agent2", "logout", expect=202)
    floor.act("agent2", "not_ready", reason="meal")
    assert floor.me("agent2")["logout_request"] is None
    # the team lead can always log an agent out (an approved logout)
    r = floor.client("lead").post(
        f"/api/agents/{floor['agent2']}/state", json={"state": "logged_out"}
    )
    assert r.status_code == 200 and r.json()["state"] == "logged_out"
    assert floor.client("gateway").get("/api/routing").status_code == 403
    status = floor.client("lead").get("/api/routing").json()
    assert status["incident"] is True and status["routing_here"] is True


def test_seat_change_keeps_state_and_is_logged_with_its_time(floor: Floor) -> None:
    floor.act("agent1", "login", seat="A-01", ready=True)
    floor.clock.advance(120)
    me = floor.act("agent1", "seat", seat="B-07")
    assert me["seat"] == "B-07" and me["state"] == "ready"
    log = floor.client("lead").get(f"/api/agents/{floor['agent1']}/state-log").json()
    assert log[0]["kind"] == "seat" and log[0]["from_seat"] == "A-01" and log[0]["seat"] == "B-07"
    assert log[0]["at"] > log[1]["at"]
    assert log[1]["kind"] == "state" and log[1]["seat"] == "A-01"
    floor.act("agent1", "seat", expect=422, seat="B 07")


def test_team_lead_forces_states_and_busy_agent_goes_not_ready_after_work(floor: Floor) -> None:
    floor.ready("agent1")
    c = floor.arrive()
    floor.contact("agent1", c["id"], "accept")
    lead = floor.client("lead")
    r = lead.post(f"/api/agents/{floor['agent1']}/state", json={"state": "not_ready"})
    assert r.status_code == 200
    assert r.json()["state"] == "busy" and r.json()["pending_reason"] == "supervisor"
    # cannot log out an agent in a conversation
    r = lead.post(f"/api/agents/{floor['agent1']}/state", json={"state": "logged_out"})
    assert r.status_code == 409
    floor.contact("agent1", c["id"], "end")
    floor.contact("agent1", c["id"], "wrap-up", code="resolved")
    me = floor.me("agent1")
    assert me["state"] == "not_ready" and me["reason"] == "supervisor"
    # a team lead of team-b only does not see team-a's agents
    floor.org.user("lead_b", "team_lead", unit="team-b")
    r = floor.client("lead_b").post(f"/api/agents/{floor['agent1']}/state", json={"state": "ready"})
    assert r.status_code == 404
    names = [a["username"] for a in floor.client("lead_b").get("/api/agents").json()["items"]]
    assert names == ["agent3"]
    assert floor.count("audit_log", action="agent.force_state") == 1


def test_agents_pick_only_their_own_reasons_and_need_a_profile(floor: Floor) -> None:
    floor.ready("agent1")
    floor.act("agent1", "not_ready", expect=422, reason="supervisor")
    floor.act("agent1", "not_ready", expect=422, reason="missed")
    floor.org.user("newbie", "agent", unit="team-a")
    r = floor.client("newbie").post("/api/me/agent", json={"action": "login", "seat": "C-1"})
    assert r.status_code == 409 and r.json()["key"] == "errors.routing.no_agent_profile"
    me = floor.me("newbie")
    assert me["state"] == "logged_out" and me["has_profile"] is False


def test_call_up_group_counts_only_when_activated(floor: Floor) -> None:
    r = floor.client("mgr").put(
        f"/api/agents/{floor['lead']}/profile",
        json={"skills": {"fault_repair": 9}, "capacity": {"chat": 1}, "group": "standby"},
    )
    assert r.status_code == 200, r.text
    floor.ready("lead")
    c = floor.arrive()
    assert c["status"] == "queued"  # standby staff are not called up yet (R-D3)
    r = floor.client("duty").post("/api/routing/groups", json={"group": "standby", "active": True})
    assert r.status_code == 200 and r.json()["active_groups"] == ["standby"]
    assert [w["id"] for w in floor.me("lead")["work"]] == [c["id"]]


def test_disabled_account_leaves_routing(floor: Floor) -> None:
    """离职 (R-E1): disabling a user takes the agent out of routing at once; its offer goes
    back in line. One in a conversation goes not-ready and is logged out when it is done."""
    floor.org.user("admin", "system_admin", unit="group")
    admin = floor.client("admin")
    floor.ready("agent1")
    floor.ready("agent2")
    c = floor.arrive()
    offered_to = c["agent_id"]
    other = "agent2" if offered_to == floor["agent1"] else "agent1"
    victim = "agent1" if other == "agent2" else "agent2"
    c2 = floor.arrive()
    floor.contact(other, c2["id"], "accept")

    r = admin.post(f"/api/users/{floor[victim]}/disable")
    assert r.status_code == 200, r.text
    state = floor.client("lead").get("/api/agents").json()["items"]
    states = {a["username"]: a["state"] for a in state}
    assert states[victim] == "logged_out"
    # the offer went back and waits (the other agent is busy)
    assert floor.line() == [c["id"]]
    assert floor.count("audit_log", action="agent.retire_disabled") == 1

    # the agent in a conversation: not ready now, logged out by a sweep once the work is done
    r = admin.post(f"/api/users/{floor[other]}/disable")
    assert r.status_code == 200, r.text
    agent = next(
        a for a in floor.client("lead").get("/api/agents").json()["items"] if a["username"] == other
    )
    assert agent["state"] == "busy" and agent["pending_reason"] == "supervisor"
    # its session ended with the account; the caller hangs up, the wrap-up time runs out
    floor.client("gateway").post(f"/api/contacts/{c2['id']}/abandon")
    floor.clock.advance(61)
    floor.runtime.routing.tick()
    floor.runtime.routing.retire_disabled()
    states = {
        a["username"]: a["state"] for a in floor.client("lead").get("/api/agents").json()["items"]
    }
    assert states[other] == "logged_out"
    assert floor.line() == [c["id"]]  # never offered to a disabled agent


def test_agent_desk_reads_own_contact_and_transfer_targets(floor: Floor) -> None:
    floor.ready("agent1")
    c = floor.arrive(caller="+86 138-0000-5678")
    floor.contact("agent1", c["id"], "accept")
    agent = floor.client("agent1")
    # without contact:read the queue's contacts are closed to an agent, but not its own
    assert agent.get(f"/api/contacts/{c['id']}").status_code == 403
    r = agent.get(f"/api/me/contacts/{c['id']}")
    assert r.status_code == 200, r.text
    mine = r.json()
    assert [h["type"] for h in mine["history"]][:3] == ["arrived", "queued", "offered"]
    assert mine["caller"] != "+86 138-0000-5678" and mine["masked"] is True
    assert floor.client("agent2").get(f"/api/me/contacts/{c['id']}").status_code == 404
    assert floor.me("agent1")["server_time"] is not None

    floor.act("agent2", "login", seat="B-2")
    floor.ready("agent3")
    r = agent.get("/api/me/transfer-targets", params={"channel": "chat"})
    assert r.status_code == 200, r.text
    assert [(t["username"], t["state"]) for t in r.json()] == [
        ("agent2", "not_ready"),
        ("agent3", "ready"),
    ]
    assert agent.get("/api/me/transfer-targets", params={"channel": "fax"}).status_code == 422
    assert floor.client("gateway").get("/api/me/transfer-targets").status_code == 403
