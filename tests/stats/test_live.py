"""Live queue and agent rows: figures, scope, and the streaming contract: a fresh fetch always
equals an earlier fetch with the events that followed it applied (rows replaced by id)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from hotline.domains.identity.queries import actor_for
from hotline.infra.db.stores.identity import SqlIdentityStore
from hotline.infra.events.stream import fetch_after
from stats.scenario import publish_now, random_scenario

if TYPE_CHECKING:
    from routing_api.conftest import Floor


def fetch(floor: Floor, what: str, by: str = "lead") -> tuple[int, dict[str, dict[str, Any]]]:
    r = floor.client(by).get(f"/api/stats/{what}")
    assert r.status_code == 200, r.text
    body = r.json()
    key = "queue_id" if what == "queues" else "agent_id"
    return body["position"], {row[key]: row for row in body["items"]}


def advance(floor: Floor, minutes: int) -> None:
    """Let time pass in steps short enough to keep the lead's session alive."""
    for _ in range(minutes // 10):
        floor.clock.advance(600)
        fetch(floor, "queues")
    floor.clock.advance(minutes % 10 * 60)


def events_after(floor: Floor, position: int, by: str = "lead") -> list[dict[str, Any]]:
    with floor.runtime.db.read() as conn:
        store = SqlIdentityStore(conn)
        user = store.user(floor[by])
        assert user is not None
        actor = actor_for(store, user, ip=None)
    out: list[dict[str, Any]] = []
    while True:
        batch, position = fetch_after(floor.runtime.db, actor, position)
        if not batch:
            return out
        out.extend(json.loads(d.data) for d in batch)


def test_queue_and_agent_rows(floor: Floor) -> None:
    floor.ready("agent2")
    floor.clock.advance(60)
    c = floor.arrive(caller_area="城东")
    floor.clock.advance(4)
    floor.contact("agent2", c["id"], "accept")
    floor.clock.advance(56)
    floor.contact("agent2", c["id"], "end")
    floor.clock.advance(10)
    floor.contact("agent2", c["id"], "wrap-up", code="resolved")
    floor.arrive()  # waits: agent2 is... ready again, so offered; a second one waits
    waiting = floor.arrive()
    _, queues = fetch(floor, "queues")
    faults = queues[floor["faults"]]
    assert faults["today"] == {"offered": 3, "answered": 1, "abandoned": 0}
    assert faults["last_15"]["offered"] == 3 and faults["last_30"]["offered"] == 3
    assert faults["service_level_percent"] == 100.0 and faults["asa_seconds"] == 4.0
    assert faults["aht_seconds"] == 66.0  # 56 s talk + 10 s wrap-up
    assert faults["waiting"] == 1 and faults["offering"] == 1
    assert faults["oldest_waiting_since"] == waiting["queued_at"]
    assert faults["agents"]["reserved"] == 1  # agent2 (fault_repair 8 ≥ 3)
    assert queues[floor["billing"]]["agents"]["reserved"] == 0  # agent2 has no billing skill

    _, agents = fetch(floor, "agents")
    a2 = agents[floor["agent2"]]
    assert a2["state"] == "reserved" and a2["seat"] == "S-agent2"
    assert a2["handled_today"] == 1 and a2["aht_seconds"] == 66.0
    # ready 60 s, then reserved/busy/wrap-up 70 s: occupancy up to the current minute
    assert a2["occupancy_percent"] is not None and 0 < a2["occupancy_percent"] <= 100

    # a quarter of an hour later the rolling windows are empty, today's figures are not
    advance(floor, 16)
    _, queues = fetch(floor, "queues")
    assert queues[floor["faults"]]["last_15"]["offered"] == 0
    assert queues[floor["faults"]]["last_30"]["offered"] == 3
    assert queues[floor["faults"]]["today"]["offered"] == 3


def test_rows_are_scoped_to_the_viewers_grants(floor: Floor) -> None:
    floor.ids["lead_a"] = floor.org.user("lead_a", "team_lead", unit="team-a")
    _, agents = fetch(floor, "agents", by="lead_a")
    assert set(agents) == {floor["agent1"], floor["agent2"]}  # team-a only
    _, queues = fetch(floor, "queues", by="lead_a")
    assert queues == {}  # the queues belong to the center, above team-a
    _, queues = fetch(floor, "queues", by="duty")
    assert set(queues) == {floor["faults"], floor["billing"]}
    r = floor.client("agent1").get("/api/stats/queues")
    assert r.status_code == 403


def apply(rows: dict[str, dict[str, Any]], events: list[dict[str, Any]], type_: str) -> None:
    for e in events:
        if e["type"] == type_:
            rows[e["object_id"]] = e["payload"]


def test_fetch_equals_earlier_fetch_plus_stream(floor: Floor) -> None:
    floor.ready("agent1")
    floor.arrive()
    publish_now(floor.runtime)
    position, queues = fetch(floor, "queues")
    _, agents = fetch(floor, "agents")

    random_scenario(floor, seed=7, steps=40)
    assert publish_now(floor.runtime) > 0
    events = events_after(floor, position)
    assert {e["type"] for e in events} >= {"stats.queue", "stats.agent"}
    apply(queues, events, "stats.queue")
    apply(agents, events, "stats.agent")
    strip = _without_as_of
    assert strip(fetch(floor, "queues")[1]) == strip(queues)
    assert strip(fetch(floor, "agents")[1]) == strip(agents)

    # nothing changed: nothing is sent; time passing changes the rolling figures: sent
    assert publish_now(floor.runtime) == 0
    position = events_after_position(floor)
    advance(floor, 31)
    assert publish_now(floor.runtime) > 0
    events = events_after(floor, position)
    apply(queues, events, "stats.queue")
    apply(agents, events, "stats.agent")
    fresh_queues = fetch(floor, "queues")[1]
    fresh_agents = fetch(floor, "agents")[1]
    assert strip(fresh_queues) == strip(queues) and strip(fresh_agents) == strip(agents)
    assert all(q["last_30"]["offered"] == 0 for q in fresh_queues.values())


def events_after_position(floor: Floor) -> int:
    return fetch(floor, "queues")[0]


def _without_as_of(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    # A row whose figures did not change is not re-sent when only its minute (`as_of`) moved.
    return {k: {f: v for f, v in row.items() if f != "as_of"} for k, row in rows.items()}
