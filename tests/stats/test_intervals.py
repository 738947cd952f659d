"""The interval table: written in the routing transaction, equal to its rebuild from
`contact_events`, kept over a restart; figures of a known contact's life."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from hotline.core.clock import UTC
from hotline.infra.db.stores.stats import fold_memory
from hotline.infra.runtime import build_runtime
from stats.scenario import interval_table, random_scenario, rebuilt

if TYPE_CHECKING:
    from routing_api.conftest import Floor


def rows(floor: Floor, kind: str, by: str = "lead", **params: Any) -> dict[str, dict[str, Any]]:
    r = floor.client(by).get("/api/stats/intervals", params={"kind": kind, **params})
    assert r.status_code == 200, r.text
    return {f"{i['key']}@{i['interval_start'][11:16]}": i for i in r.json()["items"]}


def test_a_contact_life_is_counted_in_its_arrival_interval(floor: Floor) -> None:
    # 08:00 UTC is 16:00 in Shanghai: the center's day starts at 16:00 UTC the day before
    floor.clock.set(dt.datetime(2026, 1, 5, 8, 14, 50, tzinfo=UTC))
    floor.ready("agent2")
    c = floor.arrive(caller_area="城东")  # offered to agent2 at once
    floor.clock.advance(12)  # accepted 12 s later: within the 20 s target, next interval
    floor.contact("agent2", c["id"], "accept")
    floor.clock.advance(100)
    floor.contact("agent2", c["id"], "end")
    floor.clock.advance(8)
    floor.contact("agent2", c["id"], "wrap-up", code="resolved")
    gone = floor.arrive(address="bill-chat")  # nobody serves billing: waits, then hangs up
    floor.clock.advance(3)
    floor.contact("gateway", gone["id"], "abandon")

    q = rows(floor, "queue")
    faults = q[f"{floor['faults']}@08:00"]
    assert {k: faults[k] for k in ("offered", "answered", "answered_in_sl", "abandoned")} == {
        "offered": 1,
        "answered": 1,
        "answered_in_sl": 1,
        "abandoned": 0,
    }
    assert faults["wait_ms"] == faults["wait_max_ms"] == 12_000
    assert (faults["handled"], faults["handle_ms"], faults["wrap_up_ms"]) == (1, 100_000, 8_000)
    # the abandon came two minutes later but counts where the contact arrived (08:15)
    billing = q[f"{floor['billing']}@08:15"]
    assert (billing["offered"], billing["abandoned"], billing["abandoned_short"]) == (1, 1, 1)
    # caller areas span queues: the duty manager (whole group) sees them, the lead does not
    areas = rows(floor, "caller_area", by="duty")
    assert areas["城东@08:00"]["answered"] == 1
    assert areas["@08:15"]["abandoned"] == 1  # no area: key ""
    r = floor.client("lead").get("/api/stats/intervals", params={"kind": "caller_area"})
    assert r.status_code == 403
    assert rows(floor, "entry_point")[f"{floor['web-chat']}@08:00"]["offered"] == 1
    agent = rows(floor, "agent")[f"{floor['agent2']}@08:00"]
    assert (agent["answered"], agent["handled"], agent["handle_ms"]) == (1, 1, 100_000)
    minutes = rows(floor, "queue_minute")
    assert minutes[f"{floor['faults']}@08:14"]["answered"] == 1

    # the live path and the rebuild agree exactly
    live = interval_table(floor.runtime)
    rebuilt(floor.runtime)
    assert interval_table(floor.runtime) == live


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_live_rows_equal_the_rebuild_and_survive_a_restart(floor: Floor, seed: int) -> None:
    random_scenario(floor, seed)
    live = interval_table(floor.runtime)
    assert live, "the scenario produced no statistics"
    assert rebuilt(floor.runtime) == len(live)
    assert interval_table(floor.runtime) == live

    # a new process on the same database (the old one gave up routing): same rows, and what
    # it routes next is counted on top of them exactly as a rebuild would
    floor.runtime.routing.close()
    rt2 = build_runtime(floor.runtime.settings, clock=floor.clock)
    try:
        assert interval_table(rt2) == live
        assert rt2.routing.start()
        floor.clock.advance(30)
        rt2.routing.tick()  # offer timeouts and wrap-up ends that fell due
        later = interval_table(rt2)
        rebuilt(rt2)
        assert interval_table(rt2) == later
    finally:
        rt2.close()


def test_the_counting_memory_starts_afresh_with_a_new_engine(floor: Floor) -> None:
    """The live path remembers each contact's fold between its writes (ADR 0008); a new
    engine (rebuild, lease taken again: another node may have written meanwhile) forgets
    them, and counting goes on exactly from the stored history."""
    memory = fold_memory(floor.runtime.engine)
    floor.ready("agent2")
    c = floor.arrive()
    floor.clock.advance(4)
    floor.contact("agent2", c["id"], "accept")
    assert len(memory) == 1
    floor.runtime.routing.rebuild()
    assert len(memory) == 0
    floor.clock.advance(50)
    floor.contact("agent2", c["id"], "end")
    floor.clock.advance(5)
    floor.contact("agent2", c["id"], "wrap-up", code="resolved")
    assert len(memory) == 1
    faults = next(r for k, r in rows(floor, "queue").items() if k.startswith(floor["faults"]))
    assert (faults["answered"], faults["handled"], faults["handle_ms"]) == (1, 1, 50_000)
    assert faults["wrap_up_ms"] == 5_000
    live = interval_table(floor.runtime)
    rebuilt(floor.runtime)
    assert interval_table(floor.runtime) == live


def test_bad_period_is_refused_with_a_message(floor: Floor) -> None:
    lead = floor.client("lead")
    r = lead.get(
        "/api/stats/intervals",
        params={
            "start": "2026-01-05T00:00:00+00:00",
            "end": "2026-03-05T00:00:00+00:00",
        },
    )
    assert r.status_code == 422 and "31 days" in r.json()["detail"]
    r = lead.get("/api/stats/intervals", params={"kind": "planet"})
    assert r.status_code == 422
    r = lead.get("/api/stats/intervals", params={"start": "2026-01-05T00:00:00"})  # naive
    assert r.status_code == 422
