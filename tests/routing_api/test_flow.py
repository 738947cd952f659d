"""A contact's life through the API: arrival, offer to the right agent, accept, end, wrap-up;
offer timeouts, callbacks, capacity, skills and levels, transfers (R-A3, R-A4, R-B2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from routing_api.conftest import Floor


def test_chat_goes_to_longest_idle_skilled_agent_then_accept_end_wrap_up(floor: Floor) -> None:
    floor.ready("agent3")  # first in line by idle time, but fault_repair 2 < 3: not eligible
    floor.clock.advance(5)
    floor.ready("agent1")
    floor.clock.advance(5)
    floor.ready("agent2")
    floor.clock.advance(5)

    c = floor.arrive(caller="zhang.san@example.com", caller_area="城东")
    assert c["status"] == "offered" and c["agent_id"] == floor["agent1"]
    assert c["caller"] == "zh***@example.com" and c["masked"] is True

    me = floor.me("agent1")
    assert me["state"] == "reserved" and me["seat"] == "S-agent1"
    (offer,) = me["work"]
    assert offer["id"] == c["id"] and offer["status"] == "offered"
    assert offer["offer_deadline"] is not None
    # the live stream tells the agent: the offer is addressed to it
    (event,) = floor.outbox("contact.offered")
    assert event.user_id == floor["agent1"] and event.object_id == c["id"]
    assert event.permission == "queue:read"
    assert "caller" not in str(event.payload)

    assert floor.contact("agent1", c["id"], "accept")["status"] == "connected"
    assert floor.me("agent1")["state"] == "busy"
    floor.clock.advance(90)
    ended = floor.contact("agent1", c["id"], "end")
    assert ended["status"] == "wrap_up" and ended["ended_at"] is not None
    me = floor.me("agent1")
    assert me["state"] == "wrap_up" and [w["status"] for w in me["work"]] == ["wrap_up"]

    done = floor.contact("agent1", c["id"], "wrap-up", code="resolved", notes="光猫重启后恢复")
    assert done["status"] == "ended" and done["wrap_up_code"] == "resolved"
    me = floor.me("agent1")
    assert me["state"] == "ready" and me["work"] == []

    assert floor.history(c["id"]) == [
        "arrived", "queued", "offered", "connected", "ended", "wrapped_up",
    ]
    # the duty manager sees the caller in the clear, and that read is audited
    before = floor.count("audit_log", action="contact.read_pii")
    full = floor.client("duty").get(f"/api/contacts/{c['id']}").json()
    assert full["caller"] == "zhang.san@example.com" and full["masked"] is False
    assert floor.count("audit_log", action="contact.read_pii") == before + 1
    # stored encrypted, with a blind index
    with floor.runtime.db.read() as conn:
        stored = conn.execute(
            sa.text("select caller, caller_index from contacts where id = :i"), {"i": c["id"]}
        ).one()
    assert "zhang" not in stored.caller and len(stored.caller_index) == 64
    # every step was audited under the agent's name
    for action in ("contact.arrive", "agent.login", "contact.accept", "contact.end",
                   "contact.wrap_up"):
        assert floor.count("audit_log", action=action) >= 1, action


def test_offer_timeout_returns_contact_to_the_head_and_agent_to_missed(floor: Floor) -> None:
    floor.ready("agent1")
    c1 = floor.arrive()
    c2 = floor.arrive()
    assert c1["agent_id"] == floor["agent1"] and c2["status"] == "queued"

    floor.clock.advance(19)
    assert floor.runtime.routing.tick() == []
    floor.clock.advance(2)
    events = floor.runtime.routing.tick()
    assert {type(e).__name__ for e in events} >= {"OfferTimedOut", "AgentStateChanged"}

    me = floor.me("agent1")
    assert me["state"] == "not_ready" and me["reason"] == "missed" and me["work"] == []
    assert floor.line() == [c1["id"], c2["id"]]  # back at the head, ahead of c2
    assert floor.history(c1["id"])[-1] == "offer_timed_out"
    assert floor.outbox("contact.offer_timed_out")[0].user_id == floor["agent1"]

    floor.act("agent1", "ready")
    assert [w["id"] for w in floor.me("agent1")["work"]] == [c1["id"]]


def test_decline_goes_to_the_next_agent(floor: Floor) -> None:
    floor.ready("agent1")
    floor.clock.advance(1)
    floor.ready("agent2")
    c = floor.arrive()
    assert c["agent_id"] == floor["agent1"]
    out = floor.contact("agent1", c["id"], "decline")
    assert out["status"] == "offered" and out["agent_id"] == floor["agent2"]
    assert floor.me("agent1")["reason"] == "missed"
    # agent1 no longer handles it: another agent's contact is not found, not forbidden
    floor.contact("agent1", c["id"], "accept", expect=404)


def test_callback_keeps_its_place(floor: Floor) -> None:
    c1, c2, c3 = floor.arrive(), floor.arrive(), floor.arrive()
    floor.clock.advance(30)
    cb = floor.contact("gateway", c2["id"], "callback")
    assert cb["callback"] is True and cb["status"] == "queued"
    assert floor.line() == [c1["id"], c2["id"], c3["id"]]
    floor.contact("gateway", c1["id"], "abandon")
    assert floor.line() == [c2["id"], c3["id"]]

    floor.ready("agent1")
    (offer,) = floor.me("agent1")["work"]
    assert offer["id"] == c2["id"] and offer["callback"] is True
    floor.contact("agent1", c2["id"], "accept")
    floor.contact("agent1", c2["id"], "end")
    done = floor.contact("agent1", c2["id"], "wrap-up", code="resolved")
    assert done["status"] == "called_back"
    assert floor.client("lead").get(f"/api/contacts/{c1['id']}").json()["status"] == "abandoned"


def test_two_chats_at_once_when_capacity_is_two(floor: Floor) -> None:
    r = floor.client("duty").get(f"/api/agents/{floor['agent1']}/profile")
    assert r.status_code == 403  # queue:manage is the configuration permission
    r = floor.client("mgr").put(
        f"/api/agents/{floor['agent1']}/profile",
        json={"skills": {"fault_repair": 5}, "capacity": {"chat": 2, "voice": 1}},
    )
    assert r.status_code == 200, r.text
    floor.ready("agent1")
    a, b, c = floor.arrive(), floor.arrive(), floor.arrive()
    assert [x["agent_id"] for x in (a, b)] == [floor["agent1"]] * 2
    assert c["status"] == "queued"
    for x in (a, b):
        floor.contact("agent1", x["id"], "accept")
    assert floor.me("agent1")["state"] == "busy"
    floor.contact("agent1", a["id"], "end")
    # still busy with b: no wrap-up state, and c is offered at once (room for one more)
    me = floor.me("agent1")
    assert me["state"] == "busy"
    assert {w["id"]: w["status"] for w in me["work"]} == {
        a["id"]: "wrap_up", b["id"]: "connected", c["id"]: "offered",
    }
    # coding a while busy finishes it without changing the agent's state
    assert floor.contact("agent1", a["id"], "wrap-up", code="resolved")["status"] == "ended"
    assert floor.me("agent1")["state"] == "busy"


def test_skills_and_levels_are_honoured(floor: Floor) -> None:
    floor.ready("agent3")  # fault_repair 2: not for faults (needs 3), billing 9
    faults = floor.arrive()
    assert faults["status"] == "queued"
    bill = floor.arrive(address="bill-chat")
    assert bill["agent_id"] == floor["agent3"]

    # raising agent3's level while it is logged in applies at once
    floor.contact("agent3", bill["id"], "accept")
    floor.contact("agent3", bill["id"], "end")
    floor.contact("agent3", bill["id"], "wrap-up", code="resolved")
    r = floor.client("mgr").put(
        f"/api/agents/{floor['agent3']}/profile",
        json={"skills": {"fault_repair": 3, "billing": 9}, "capacity": {"chat": 1}},
    )
    assert r.status_code == 200, r.text
    me = floor.me("agent3")
    assert me["skills"]["fault_repair"] == 3
    assert [w["id"] for w in me["work"]] == [faults["id"]]


def test_most_skilled_agent_takes_priority_contact_first(floor: Floor) -> None:
    # two contacts of different priorities: the higher one is served first
    low = floor.arrive(priority=0)
    floor.clock.advance(1)
    high = floor.arrive(priority=5)
    assert floor.line() == [high["id"], low["id"]]
    floor.ready("agent2")
    assert [w["id"] for w in floor.me("agent2")["work"]] == [high["id"]]


def test_transfer_to_queue_and_to_agent(floor: Floor) -> None:
    floor.ready("agent1")
    c = floor.arrive()
    floor.contact("agent1", c["id"], "accept")
    # to another agent, who must have room
    floor.contact("agent1", c["id"], "transfer", expect=404, agent_id=floor["agent2"])
    floor.ready("agent2")
    out = floor.contact("agent1", c["id"], "transfer", agent_id=floor["agent2"])
    assert out["status"] == "offered" and out["agent_id"] == floor["agent2"]
    assert floor.me("agent1")["state"] == "wrap_up"
    floor.contact("agent2", c["id"], "accept")
    # then into the billing queue, where agent3 (billing 9) takes it
    floor.ready("agent3")
    out = floor.contact("agent2", c["id"], "transfer", queue_id=floor["billing"])
    assert out["queue_id"] == floor["billing"] and out["agent_id"] == floor["agent3"]
    assert floor.history(c["id"]).count("transferred") == 2
    floor.contact("agent2", c["id"], "transfer", expect=404, queue_id=floor["billing"])
    floor.contact("agent3", c["id"], "transfer", expect=409, queue_id=floor["faults"])


def test_wrap_up_time_runs_out_and_contact_finishes_uncoded(floor: Floor) -> None:
    floor.ready("agent1")
    c = floor.arrive()
    floor.contact("agent1", c["id"], "accept")
    floor.contact("agent1", c["id"], "end")
    floor.clock.advance(61)
    floor.runtime.routing.tick()
    me = floor.me("agent1")
    assert me["state"] == "ready" and me["work"] == []
    row = floor.client("lead").get(f"/api/contacts/{c['id']}").json()
    assert row["status"] == "ended" and row["wrap_up_code"] is None
    assert floor.history(c["id"])[-1] == "finished"
    # a late code is still accepted once
    late = floor.contact("agent1", c["id"], "wrap-up", code="escalated")
    assert late["wrap_up_code"] == "escalated" and late["status"] == "ended"
    floor.contact("agent1", c["id"], "wrap-up", expect=409, code="resolved")


def test_caller_hangs_up_while_offered_and_while_connected(floor: Floor) -> None:
    floor.ready("agent1")
    c = floor.arrive()
    gone = floor.contact("gateway", c["id"], "abandon")
    assert gone["status"] == "abandoned"
    assert floor.me("agent1")["state"] == "ready"  # the offer was withdrawn
    d = floor.arrive()
    floor.contact("agent1", d["id"], "accept")
    ended = floor.contact("gateway", d["id"], "abandon")
    assert ended["status"] == "wrap_up"
    assert floor.me("agent1")["state"] == "wrap_up"
    floor.contact("gateway", c["id"], "abandon", expect=409)


def test_voice_through_the_ivr_path_the_media_engine_will_use(floor: Floor) -> None:
    """Voice arrives over SIP later; the media engine calls the same domain actions."""
    from hotline.core.context import Actor, Grant
    from hotline.domains.contacts import actions
    from hotline.domains.identity.model import ROLES
    from hotline.domains.routing.model import Channel

    r = floor.client("mgr").post("/api/entry-points", json={
        "channel": "voice", "address": "96266", "name": "96266 热线", "queue_id": floor["faults"],
    })
    assert r.status_code == 201, r.text
    media = Actor(
        user_id=floor["gateway"],
        username="media",
        grants=(Grant("channel_gateway", floor.org.center.path, ROLES["channel_gateway"]),),
    )
    service = floor.runtime.routing

    def call(**kw: object) -> str:
        row = service.execute(media, lambda tx, e: actions.arrive(
            tx, e, channel=Channel.voice, address="96266", to_ivr=True, **kw))
        assert row.status.value == "in_ivr"
        return row.id

    first = call(caller="+86 138 0013 8000", caller_area="城东")
    floor.ready("agent1")
    assert floor.me("agent1")["work"] == []  # still in the IVR menu
    row = service.execute(media, lambda tx, e: actions.enqueue(tx, e, contact_id=first))
    assert row.status.value == "offered" and row.agent_id == floor["agent1"]
    (offer,) = floor.me("agent1")["work"]
    assert offer["channel"] == "voice" and offer["caller"] == "+86*******8000"

    second = call(caller="13900139000")
    row = service.execute(media, lambda tx, e: actions.abandon(tx, e, contact_id=second))
    assert row.status.value == "abandoned"
    assert floor.history(second) == ["arrived", "abandoned"]

    # the caller's blind index matches a customer's phone index: screen pop without decrypting
    r = floor.client("agent1").post("/api/customers", json={
        "org_unit_id": floor.org.team_a.id, "name": "王五", "phone": "138-0013-8000",
    })
    assert r.status_code == 201
    with floor.runtime.db.read() as conn:
        caller_index = conn.execute(
            sa.text("select caller_index from contacts where id = :i"), {"i": first}
        ).scalar_one()
        phone_index = conn.execute(sa.text("select phone_index from customers")).scalar_one()
    assert caller_index == phone_index
