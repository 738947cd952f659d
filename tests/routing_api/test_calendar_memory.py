"""The routing leader keeps parsed business calendars in memory for arrivals: a change of the
hours reaches the next arrival, a rolled-back change leaves nothing behind, a rebuilt engine
starts without memory, and a standby hands calendar changes to the leader."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from hotline.api.app import create_app
from hotline.core.context import system_actor
from hotline.core.errors import Conflict
from hotline.domains.calendars import actions as calendar_actions
from hotline.infra.db.stores.calendars import calendar_memory
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings

if TYPE_CHECKING:
    from routing_api.conftest import Floor

ON_POSTGRES = os.environ.get("HOTLINE_TEST_DATABASE_URL", "").startswith("postgres")


def hours(monday_until: str) -> dict[str, Any]:
    """Mondays 08:30 until `monday_until`, Beijing time (the test clock starts on Monday
    2026-01-05 16:00 there)."""
    return {
        "name": "工作日营业时间",
        "timezone": "Asia/Shanghai",
        "weekly": {"mon": [["08:30", monday_until]]},
        "overrides": [{"date": "2026-10-01", "hours": [], "note": "国庆"}],
    }


def calendar_reads(runtime: Runtime) -> list[int]:
    """A counter of the statements that read `business_calendars` from now on."""
    seen = [0]

    @sa.event.listens_for(runtime.engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if "FROM business_calendars" in statement:
            seen[0] += 1

    return seen


def office_chat(floor: Floor, until: str) -> str:
    """A calendar on the web chat, with agents ready; returns the calendar id."""
    mgr = floor.client("mgr")
    r = mgr.post("/api/calendars", json={"code": "office", **hours(until)})
    assert r.status_code == 201, r.text
    cal = r.json()["id"]
    r = mgr.patch(f"/api/entry-points/{floor['web-chat']}", json={"calendar_id": cal})
    assert r.status_code == 200, r.text
    floor.ready("agent1")
    floor.ready("agent2")
    return str(cal)


def test_changed_hours_reach_the_next_arrival(floor: Floor) -> None:
    cal = office_chat(floor, "18:00")
    reads = calendar_reads(floor.runtime)
    first = floor.arrive()
    assert first["status"] == "offered"
    assert reads[0] == 1
    floor.contact(
        "agent1" if first["agent_id"] == floor["agent1"] else "agent2", first["id"], "accept"
    )
    # the next arrival takes the calendar from memory
    assert floor.arrive()["status"] == "offered"
    assert reads[0] == 1

    # closing at 15:00 (an hour ago): the very next arrival is turned away
    mgr = floor.client("mgr")
    r = mgr.put(f"/api/calendars/{cal}", json=hours("15:00"))
    assert r.status_code == 200, r.text
    closed = floor.arrive()
    assert closed["status"] == "closed"
    assert floor.history(closed["id"]) == ["arrived", "closed"]
    # open again until 18:00: the next one is queued (both agents are busy)
    assert mgr.put(f"/api/calendars/{cal}", json=hours("18:00")).status_code == 200
    assert floor.arrive()["status"] == "queued"
    reads_before = reads[0]
    assert floor.arrive()["status"] == "queued"
    assert reads[0] == reads_before  # remembered again


def test_a_rolled_back_change_leaves_the_memory_as_committed(floor: Floor) -> None:
    cal = office_chat(floor, "18:00")
    assert floor.arrive()["status"] == "offered"  # the calendar is in memory now

    def close_then_fail(tx: Any, _engine: Any) -> None:
        calendar_actions.update_calendar(tx, calendar_id=cal, **hours("15:00"))
        # the transaction's own view is the new hours, and it is not remembered
        routing_view = tx.calendars.routing_calendar(cal)
        assert routing_view is not None and not routing_view.hours.is_open(tx.clock.now())
        raise Conflict("changed my mind")

    with pytest.raises(Conflict):
        floor.runtime.routing.execute(system_actor("test"), close_then_fail)
    assert floor.arrive()["status"] == "offered"
    r = floor.client("mgr").get(f"/api/calendars/{cal}")
    assert r.json()["weekly"]["mon"] == [["08:30", "18:00"]]
    assert floor.count("audit_log", action="calendar.update") == 0


def test_a_rebuilt_engine_reads_calendars_afresh(floor: Floor) -> None:
    office_chat(floor, "18:00")
    assert floor.arrive()["status"] == "offered"
    memory = calendar_memory(floor.runtime.engine)
    assert len(memory) == 1
    floor.runtime.routing.rebuild()
    assert len(memory) == 0
    reads = calendar_reads(floor.runtime)
    assert floor.arrive()["status"] == "offered"
    assert reads[0] == 1


@pytest.fixture
def second(settings: Settings, clock: Any) -> Iterator[Runtime]:
    """Another server process on the same database."""
    rt = build_runtime(settings, clock=clock, upgrade=False)
    yield rt
    rt.close()


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason="the routing lease is a PostgreSQL advisory lock")
def test_a_standby_hands_calendar_changes_to_the_leader(
    floor: Floor, second: Runtime, settings: Settings
) -> None:
    cal = office_chat(floor, "18:00")
    assert floor.arrive()["status"] == "offered"
    assert second.routing.start() is False
    standby = TestClient(
        create_app(settings, runtime=second), cookies=dict(floor.client("mgr").cookies)
    )
    with standby:
        # no leader address is known here: the marked 503 goes to the client, which retries
        second.routing._leader_url = (float("inf"), None)
        r = standby.put(f"/api/calendars/{cal}", json=hours("15:00"))
        assert r.status_code == 503 and r.json()["code"] == "routing_unavailable"
        assert r.headers["x-hotline-routing"] == "standby"
        assert standby.get(f"/api/calendars/{cal}").json()["weekly"]["mon"] == [["08:30", "18:00"]]
    assert floor.arrive()["status"] == "offered"
