"""Memory and storage never diverge: a killed server comes back with the same engine (R-F1);
a transaction that fails after the engine changed rebuilds it; on PostgreSQL only the node
holding the routing lease routes, the others answer 503."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from hotline.api.app import create_app
from hotline.core.context import Actor, Grant
from hotline.domains.contacts import actions as contact_actions
from hotline.domains.identity.model import ROLES
from hotline.domains.routing.engine import RoutingEngine
from hotline.infra.db.stores.contacts import SqlContactStore
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings

if TYPE_CHECKING:
    from routing_api.conftest import Floor

ON_POSTGRES = os.environ.get("HOTLINE_TEST_DATABASE_URL", "").startswith("postgres")


def _kill_lease(runtime: Runtime) -> None:
    """What the death of a server does to its routing lease on PostgreSQL: its session ends."""
    pid = runtime.routing.lease_pid
    if pid is None:
        return
    with runtime.engine.connect() as conn:
        conn.execute(sa.select(sa.func.pg_terminate_backend(pid)))
        conn.commit()


@pytest.fixture
def second(settings: Settings, clock: Any) -> Iterator[Runtime]:
    """Another server process on the same database."""
    rt = build_runtime(settings, clock=clock, upgrade=False)
    yield rt
    rt.close()


def _client(runtime: Runtime, settings: Settings, like: TestClient) -> TestClient:
    client = TestClient(create_app(settings, runtime=runtime), cookies=dict(like.cookies))
    client.__enter__()
    return client


def _busy_floor(floor: Floor) -> dict[str, str]:
    """Agents in every state, contacts waiting, offered, connected; flags set."""
    for name in ("agent4", "agent5"):
        floor.org.user(name, "agent", unit="team-a")
    mgr = floor.client("mgr")
    for name, body in [
        ("agent4", {"skills": {"fault_repair": 5}, "capacity": {"chat": 1}}),
        ("agent5", {"skills": {"fault_repair": 5}, "capacity": {"email": 1}}),
    ]:
        users = floor.client("lead").get("/api/users").json()["items"]
        uid = next(u["id"] for u in users if u["username"] == name)
        floor.ids[name] = uid
        assert mgr.put(f"/api/agents/{uid}/profile", json=body).status_code == 200
    floor.client("duty").post("/api/routing/groups", json={"group": "standby", "active": True})

    floor.act("agent4", "login", seat="D-4")
    floor.act("agent4", "logout")  # logged_out (nothing waits yet)
    floor.ready("agent1")
    c1 = floor.arrive(caller="+86 138-0000-0001")
    floor.contact("agent1", c1["id"], "accept")  # agent1 busy…
    floor.act("agent1", "not_ready", reason="meal")  # …with a not-ready pending
    floor.ready("agent3")
    c3 = floor.arrive(address="bill-chat")
    floor.contact("agent3", c3["id"], "accept")
    floor.clock.advance(40)
    floor.contact("agent3", c3["id"], "end")  # agent3 in wrap-up (30 s in billing)
    floor.clock.advance(3)
    floor.ready("agent2")
    c2 = floor.arrive()  # offered to agent2 (20 s to answer): reserved
    floor.act("lead", "login", seat="L-1")
    floor.act("lead", "not_ready", reason="break")
    floor.act("agent5", "login", seat="E-5", ready=True)  # ready, email only, nothing to do
    c4 = floor.arrive()  # waits
    c5 = floor.arrive()
    floor.contact("gateway", c5["id"], "callback")  # waits as a callback
    c6 = floor.arrive(address="bill-chat", priority=4)
    floor.client("duty").post("/api/routing/incident", json={"active": True, "note": "演练"})
    floor.clock.advance(2)
    ids = {
        "c1": c1["id"],
        "c2": c2["id"],
        "c3": c3["id"],
        "c4": c4["id"],
        "c5": c5["id"],
        "c6": c6["id"],
    }
    states = {
        a["username"]: a["state"] for a in floor.client("duty").get("/api/agents").json()["items"]
    }
    assert states == {
        "agent1": "busy",
        "agent2": "reserved",
        "agent3": "wrap_up",
        "agent4": "logged_out",
        "agent5": "ready",
        "lead": "not_ready",
    }
    return ids


def test_killed_server_comes_back_with_the_same_engine_and_history(
    floor: Floor, settings: Settings, clock: Any
) -> None:
    ids = _busy_floor(floor)
    first = floor.runtime
    before = first.routing.snapshot()
    assert before == first.routing.snapshot_from_db()
    assert len(before["contacts"]) == 5 and before["incident"] is True
    histories = {k: floor.history(v) for k, v in ids.items()}
    counts = {t: floor.count(t) for t in ("contact_events", "agent_state_log", "outbox")}

    # The first server dies: nothing is shut down, its engine is simply gone; on PostgreSQL
    # its sessions end, and with them the routing lease.
    _kill_lease(first)
    second = build_runtime(settings, clock=clock, upgrade=False)
    try:
        assert second.routing.start() is True
        assert second.routing.snapshot() == before
        with second.db.read() as conn:
            store = SqlContactStore(conn)
            for key, cid in ids.items():
                assert [h.type for h in store.history(cid, limit=100)] == histories[key]
        assert {t: floor.count(t) for t in counts} == counts

        # and it carries on exactly as the old engine would have
        twin = RoutingEngine.from_snapshot(before, clock=clock)
        clock.advance(30)  # c2's offer times out, agent3's wrap-up ends
        events = second.routing.tick()
        assert events == twin.tick() and events
        assert second.routing.snapshot() == twin.snapshot()
        assert second.routing.snapshot() == second.routing.snapshot_from_db()

        lead = _client(second, settings, floor.client("lead"))
        body = lead.get(f"/api/contacts/{ids['c2']}").json()
        assert body["status"] == "queued" and body["history"][-1]["type"] == "offer_timed_out"
        lead.__exit__(None, None, None)
        if ON_POSTGRES:
            # the dead server's engine cannot write any more: its lease is gone
            r = floor.client("agent1").post(f"/api/contacts/{ids['c1']}/end")
            assert r.status_code == 503
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "routing_unavailable"
    finally:
        second.close()
        first.routing.close()  # (its engine is stale by now: keep the teardown check away)


def test_failed_transaction_after_engine_change_rebuilds_the_engine(
    floor: Floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    floor.ready("agent1")
    c = floor.arrive()
    rt = floor.runtime
    generation = rt.routing.read(lambda engine: engine.generation)

    def broken(self: SqlContactStore, entries: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(SqlContactStore, "append_history", broken)
    # Through the service the API uses (an unexpected error through the test client costs
    # seconds of traceback rendering; the 500 itself is the app's generic handler).
    agent1 = Actor(
        user_id=floor["agent1"],
        username="agent1",
        grants=(Grant("agent", floor.org.team_a.path, ROLES["agent"]),),
    )
    with pytest.raises(RuntimeError, match="disk full"):
        rt.routing.execute(
            agent1, lambda tx, engine: contact_actions.accept(tx, engine, contact_id=c["id"])
        )
    # the engine had connected the contact; the transaction rolled back; the engine was rebuilt
    assert rt.routing.read(lambda engine: engine.generation) != generation
    assert rt.routing.read(lambda engine: engine.contact(c["id"]).status.value) == "offered"
    assert rt.routing.snapshot() == rt.routing.snapshot_from_db()
    assert floor.count("audit_log", action="contact.accept") == 0

    # a tick whose transaction fails is rebuilt too, and the timeout is processed next time
    floor.clock.advance(25)
    with pytest.raises(RuntimeError, match="disk full"):
        rt.routing.tick()
    assert rt.routing.snapshot() == rt.routing.snapshot_from_db()
    monkeypatch.undo()
    assert any(type(e).__name__ == "OfferTimedOut" for e in rt.routing.tick())
    assert floor.me("agent1")["reason"] == "missed"

    # a refusal before any engine change does not rebuild
    generation = rt.routing.read(lambda engine: engine.generation)
    floor.contact("agent1", c["id"], "accept", expect=404)
    assert rt.routing.read(lambda engine: engine.generation) == generation


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="the routing lease is a PostgreSQL advisory lock")
def test_only_the_lease_holder_routes(floor: Floor, second: Runtime, settings: Settings) -> None:
    assert floor.runtime.routing.is_leader
    assert second.routing.start() is False
    agent = _client(second, settings, floor.client("agent1"))
    r = agent.post("/api/me/agent", json={"action": "login", "seat": "A-1", "ready": True})
    assert r.status_code == 503 and r.json()["code"] == "routing_unavailable"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert agent.get("/api/me/agent").json()["state"] == "logged_out"  # reads work anywhere
    assert agent.get("/api/routing").json()["routing_here"] is False
    assert floor.count("agent_states") == 0

    # the leader goes away; the standby takes the lease at its next tick and routes
    floor.runtime.routing.close()
    second.routing.lease_retry_seconds = 0
    second.routing.tick()
    assert second.routing.is_leader
    r = agent.post("/api/me/agent", json={"action": "login", "seat": "A-1", "ready": True})
    assert r.status_code == 200 and r.json()["state"] == "ready"

    # a leader whose lease session dies stops writing at once (fenced in the transaction)
    _kill_lease(second)
    r = agent.post("/api/me/agent", json={"action": "not_ready", "reason": "break"})
    assert r.status_code == 503
    assert not second.routing.is_leader
    assert agent.get("/api/me/agent").json()["state"] == "ready"
    agent.__exit__(None, None, None)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="the routing lease is a PostgreSQL advisory lock")
def test_standby_forwards_routing_writes_to_the_leader(
    floor: Floor, second: Runtime, settings: Settings
) -> None:
    from live_server import LiveServer

    leader_app = create_app(settings, runtime=floor.runtime)
    with LiveServer(leader_app) as server:
        # the leader publishes where it serves when it takes the lease
        floor.runtime.routing.node_url = server.url
        floor.runtime.routing.close()
        assert floor.runtime.routing.start() is True
        assert second.routing.start() is False
        assert second.routing.leader_url() == server.url
        agent = _client(second, settings, floor.client("agent1"))
        r = agent.post("/api/me/agent", json={"action": "login", "seat": "A-1", "ready": True})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "ready"
        c = floor.arrive()
        r = agent.post(f"/api/contacts/{c['id']}/accept")
        assert r.status_code == 200 and r.json()["status"] == "connected"
        # errors come back as the leader gave them
        r = agent.post(f"/api/contacts/{c['id']}/wrap-up", json={"code": "resolved"})
        assert r.status_code == 409 and r.json()["code"] == "conflict"
        # reads are answered by the standby itself
        assert agent.get("/api/routing").json()["routing_here"] is False
        agent.__exit__(None, None, None)

    # the leader is gone (its address no longer answers): the standby says 503, retry later
    second.routing._leader_url = (float("-inf"), None)
    agent = _client(second, settings, floor.client("agent2"))
    r = agent.post("/api/me/agent", json={"action": "login", "seat": "A-2"})
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    agent.__exit__(None, None, None)
