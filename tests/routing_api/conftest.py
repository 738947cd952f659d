"""A routing floor for the API tests: skills, two queues, entry points, wrap-up codes, agents
with profiles, a team lead, a duty manager and a channel gateway. Built through the domain
actions (the configuration API has its own tests), driven through HTTP.

Every test here ends by checking that the live engine equals one rebuilt from the database:
whatever a test did, memory and storage must agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from hotline.core.clock import ManualClock
from hotline.core.context import system_actor
from hotline.domains.identity import secrets as id_secrets
from hotline.domains.routing import actions
from hotline.infra.runtime import Runtime

PROBLEM = "application/problem+json"

FAULTS = {
    "skills": [["fault_repair", 3]],
    "channels": ["chat", "email", "voice"],
    "offer_timeout_seconds": 20.0,
    "wrap_up_seconds": 60.0,
    "service_level_seconds": 20.0,
}
BILLING = {
    "skills": [["billing", 1]],
    "channels": ["chat", "email"],
    "offer_timeout_seconds": 20.0,
    "wrap_up_seconds": 30.0,
}


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with tiny costs: these tests sign in many users."""
    monkeypatch.setattr(
        id_secrets, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(autouse=True)
def engine_matches_database(runtime: Runtime) -> Iterator[None]:
    yield
    if runtime.routing.is_leader:
        assert runtime.routing.snapshot() == runtime.routing.snapshot_from_db()


@dataclass
class Floor:
    runtime: Runtime
    clock: ManualClock
    login: Any
    org: Any
    ids: dict[str, str] = field(default_factory=dict)
    clients: dict[str, TestClient] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]

    def client(self, name: str) -> TestClient:
        if name not in self.clients:
            self.clients[name] = self.login(name)
        return self.clients[name]

    # --- the agent desktop
    def me(self, name: str) -> dict[str, Any]:
        r = self.client(name).get("/api/me/agent")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def act(self, name: str, action: str, expect: int = 200, **body: Any) -> dict[str, Any]:
        r = self.client(name).post("/api/me/agent", json={"action": action, **body})
        assert r.status_code == expect, r.text
        return dict(r.json())

    def ready(self, name: str, seat: str | None = None) -> dict[str, Any]:
        return self.act(name, "login", seat=seat or f"S-{name}", ready=True)

    def contact(self, name: str, contact_id: str, verb: str, expect: int = 200,
                **body: Any) -> dict[str, Any]:
        r = self.client(name).post(f"/api/contacts/{contact_id}/{verb}", json=body or None)
        assert r.status_code == expect, r.text
        return dict(r.json())

    # --- the channel gateway
    def arrive(self, address: str = "web-chat", channel: str = "chat", expect: int = 201,
               **body: Any) -> dict[str, Any]:
        r = self.client("gateway").post(
            "/api/contacts", json={"channel": channel, "address": address, **body}
        )
        assert r.status_code == expect, r.text
        return dict(r.json())

    def line(self, queue: str = "faults", by: str = "lead") -> list[str]:
        r = self.client(by).get("/api/contacts", params={"queue_id": self.ids[queue]})
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()["items"]]

    def history(self, contact_id: str) -> list[str]:
        r = self.client("lead").get(f"/api/contacts/{contact_id}")
        assert r.status_code == 200, r.text
        return [h["type"] for h in r.json()["history"]]

    # --- direct looks at the database
    def count(self, table: str, **where: Any) -> int:
        q = f"select count(*) from {table}"
        if where:
            q += " where " + " and ".join(f"{k} = :{k}" for k in where)
        with self.runtime.db.read() as conn:
            return int(conn.execute(sa.text(q), where).scalar_one())

    def outbox(self, type_: str) -> list[Any]:
        with self.runtime.db.read() as conn:
            return list(
                conn.execute(
                    sa.text("select * from outbox where type = :t order by id"), {"t": type_}
                ).all()
            )


def setup_floor(runtime: Runtime, org: Any) -> dict[str, str]:
    """Skills, queues, entry points, wrap-up codes, users with profiles."""
    ids: dict[str, str] = {}
    ids["agent1"] = org.user("agent1", "agent", unit="team-a")
    ids["agent2"] = org.user("agent2", "agent", unit="team-a")
    ids["agent3"] = org.user("agent3", "agent", unit="team-b")
    ids["lead"] = org.user("lead", "team_lead", unit="center")
    ids["duty"] = org.user("duty", "duty_manager", unit="group")
    ids["mgr"] = org.user("mgr", "center_manager", unit="group")
    ids["gateway"] = org.user("gateway", "channel_gateway", unit="center")

    def configure(tx: Any, engine: Any) -> None:
        for code, name in [("fault_repair", "故障报修"), ("billing", "账单查询")]:
            actions.create_skill(tx, code=code, name=name)
        for code, name in [("resolved", "已解决"), ("escalated", "转工单")]:
            actions.create_wrap_up_code(tx, code=code, name=name)
        faults = actions.create_queue(
            tx, engine, code="faults", name="故障报修", org_unit_id=org.center.id,
            settings=FAULTS,
        )
        billing = actions.create_queue(
            tx, engine, code="billing", name="账单查询", org_unit_id=org.center.id,
            settings=BILLING,
        )
        ids["faults"], ids["billing"] = faults.id, billing.id
        for address, channel, queue in [
            ("web-chat", "chat", faults.id),
            ("faults@96266.example", "email", faults.id),
            ("bill-chat", "chat", billing.id),
        ]:
            e = actions.create_entry_point(
                tx, channel=channel, address=address, name=address, queue_id=queue
            )
            ids[address] = e.id
        for agent, skills, chats in [
            ("agent1", {"fault_repair": 5, "billing": 2}, 1),
            ("agent2", {"fault_repair": 8}, 1),
            ("agent3", {"fault_repair": 2, "billing": 9}, 1),
            ("lead", {"fault_repair": 9, "billing": 9}, 1),
        ]:
            actions.set_agent_profile(
                tx, engine, user_id=ids[agent], skills=skills,
                capacity={"chat": chats, "email": 1, "voice": 1}, group=None,
            )

    runtime.routing.execute(system_actor("fixture"), configure)
    return ids


@pytest.fixture
def floor(runtime: Runtime, org: Any, login: Any, clock: ManualClock) -> Floor:
    f = Floor(runtime, clock, login, org)
    f.ids = setup_floor(runtime, org)
    return f
