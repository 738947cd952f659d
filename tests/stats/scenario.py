"""Helpers of the statistics tests: a random contact-center scenario driven through the API,
and direct reads of the interval rows."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hotline.core.context import system_actor
from hotline.domains.stats.actions import publish, rebuild
from hotline.infra.db.schema import interval_stats
from hotline.infra.runtime import Runtime

if TYPE_CHECKING:
    from routing_api.conftest import Floor

AGENTS = ("agent1", "agent2", "agent3", "lead")
ADDRESSES = (("web-chat", "chat"), ("faults@96266.example", "email"), ("bill-chat", "chat"))
AREAS = ("城东", "城西", None)
OK = (200, 201, 409)  # a random step may be refused by the state it meets (409), never worse


def interval_table(runtime: Runtime) -> list[tuple[Any, ...]]:
    """Every interval row, in key order, without the write time."""
    cols = [c for c in interval_stats.c if c.name != "updated_at"]
    with runtime.db.read() as conn:
        rows = conn.execute(
            sa.select(*cols).order_by(
                interval_stats.c.kind, interval_stats.c.key, interval_stats.c.interval_start
            )
        ).all()
    return [tuple(r) for r in rows]


def rebuilt(runtime: Runtime) -> int:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        return rebuild(tx)


def publish_now(runtime: Runtime) -> int:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        return publish(tx)


def random_scenario(floor: Floor, seed: int, steps: int = 80) -> None:
    """Arrivals, offers accepted or declined, ends, wrap-ups, transfers, abandons, callbacks
    and time passing (offer timeouts, wrap-up ends, overflow), chosen by `seed`."""
    rng = random.Random(seed)
    contacts: list[str] = []
    for name in AGENTS:
        r = floor.client(name).post(
            "/api/me/agent", json={"action": "login", "seat": f"S-{name}", "ready": True}
        )
        assert r.status_code in OK, r.text  # 409: logged in already
    for _ in range(steps):
        roll = rng.random()
        if roll < 0.25:
            address, channel = rng.choice(ADDRESSES)
            area = rng.choice(AREAS)
            body: dict[str, Any] = {"channel": channel, "address": address}
            if area:
                body["caller_area"] = area
            r = floor.client("gateway").post("/api/contacts", json=body)
            assert r.status_code == 201, r.text
            contacts.append(r.json()["id"])
        elif roll < 0.65:
            name = rng.choice(AGENTS)
            work = floor.me(name)["work"]
            if not work:
                floor.client(name).post("/api/me/agent", json={"action": "ready"})
                continue
            item = rng.choice(work)
            verb: str
            body = {}
            if item["status"] == "offered":
                verb = "accept" if rng.random() < 0.85 else "decline"
            elif item["status"] == "connected":
                if rng.random() < 0.15:
                    verb, body = "transfer", {"queue_id": floor[rng.choice(["faults", "billing"])]}
                else:
                    verb = "end"
            else:
                verb, body = "wrap-up", {"code": "resolved"}
            r = floor.client(name).post(f"/api/contacts/{item['id']}/{verb}", json=body or None)
            assert r.status_code in OK, r.text
            if verb == "decline" or (verb == "wrap-up" and rng.random() < 0.5):
                floor.client(name).post("/api/me/agent", json={"action": "ready"})
        elif roll < 0.75 and contacts:
            cid = rng.choice(contacts)
            verb = "abandon" if rng.random() < 0.7 else "callback"
            r = floor.client("gateway").post(f"/api/contacts/{cid}/{verb}")
            assert r.status_code in OK, r.text
        else:
            floor.clock.advance(rng.choice([1, 3, 10, 25, 70]))
            floor.runtime.routing.tick()
