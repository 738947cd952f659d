"""Business calendars through the API: configuration, open status, and contacts arriving at
an entry point outside its hours are recorded as `closed`, never queued."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing_api.conftest import Floor

WEEKDAYS = {d: [["08:30", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def calendar_body(**over: object) -> dict[str, object]:
    return {
        "code": "office",
        "name": "工作日营业时间",
        "timezone": "Asia/Shanghai",
        "weekly": WEEKDAYS,
        "overrides": [{"date": "2026-12-31", "hours": [["08:30", "12:00"]], "note": "跨年"}],
        **over,
    }


def test_calendar_configuration_and_status(floor: Floor) -> None:
    mgr = floor.client("mgr")
    r = mgr.post("/api/calendars", json=calendar_body())
    assert r.status_code == 201, r.text
    cal = r.json()
    assert cal["weekly"]["sat"] == [] and cal["weekly"]["mon"] == [["08:30", "18:00"]]
    assert mgr.post("/api/calendars", json=calendar_body()).status_code == 409
    # Monday 2026-11-30 10:00 Beijing = 02:00 UTC
    r = mgr.get(f"/api/calendars/{cal['id']}/status", params={"at": "2026-11-30T02:00:00Z"})
    assert r.json()["open"] is True
    assert r.json()["next_change"].startswith("2026-11-30T10:00:00")
    # the agent reads configuration but does not change it
    agent = floor.client("agent1")
    assert agent.get("/api/calendars").json()["items"][0]["code"] == "office"
    assert agent.post("/api/calendars", json=calendar_body(code="x")).status_code == 403

    update = {k: v for k, v in calendar_body().items() if k != "code"}
    update["weekly"] = {**WEEKDAYS, "sat": [["09:00", "12:00"]]}
    r = mgr.put(f"/api/calendars/{cal['id']}", json=update)
    assert r.status_code == 200 and r.json()["weekly"]["sat"] == [["09:00", "12:00"]]
    assert floor.count("audit_log", action="calendar.update") == 1


def test_bad_calendars_are_refused_and_nothing_is_written(floor: Floor) -> None:
    mgr = floor.client("mgr")
    for bad, field in [
        (calendar_body(weekly={"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}), "weekly.mon"),
        (calendar_body(weekly={"mon": [["18:00", "09:00"]]}), "weekly.mon"),
        (calendar_body(timezone="Mars/Olympus"), "timezone"),
        (
            calendar_body(overrides=[{"date": "2026-10-01", "hours": []}, {"date": "2026-10-01"}]),
            "overrides",
        ),
    ]:
        r = mgr.post("/api/calendars", json=bad)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == field, r.json()
    for bad in (
        calendar_body(weekly={"monday": [["09:00", "12:00"]]}),
        calendar_body(weekly={"mon": [["9:00", "12:00"]]}),
        calendar_body(weekly={"mon": [["09:00"]]}),
    ):
        assert mgr.post("/api/calendars", json=bad).status_code == 422
    assert floor.count("business_calendars") == 0
    r = mgr.patch(f"/api/entry-points/{floor['web-chat']}", json={"calendar_id": "0" * 36})
    assert r.status_code == 404 and r.json()["field"] == "calendar_id"


def test_arrival_outside_business_hours_is_closed_not_queued(floor: Floor) -> None:
    # the test clock starts on Monday 2026-01-05 16:00 Beijing time; the chat closes at 16:10
    mgr = floor.client("mgr")
    body = calendar_body(weekly={"mon": [["08:30", "16:10"]]}, overrides=[])
    cal = mgr.post("/api/calendars", json=body).json()
    r = mgr.patch(f"/api/entry-points/{floor['web-chat']}", json={"calendar_id": cal["id"]})
    assert r.status_code == 200 and r.json()["calendar_id"] == cal["id"]
    floor.ready("agent2")
    floor.ready("agent1")
    c1 = floor.arrive()
    assert c1["status"] == "offered"

    floor.clock.advance(11 * 60)
    c = floor.arrive()
    assert c["status"] == "closed" and c["agent_id"] is None
    assert floor.history(c["id"]) == ["arrived", "closed"]
    assert floor.line() == []
    rows = floor.client("duty").get("/api/stats/intervals", params={"kind": "entry_point"})
    by_key = {r["key"]: r for r in rows.json()["items"]}
    assert by_key[floor["web-chat"]]["closed"] == 1
    assert by_key[floor["web-chat"]]["offered"] == 1  # the one that came in open hours
    # a message (email) at an entry point on the same calendar is queued anyway: it waits
    r = mgr.patch(
        f"/api/entry-points/{floor['faults@96266.example']}", json={"calendar_id": cal["id"]}
    )
    assert r.status_code == 200
    other = floor.arrive(address="faults@96266.example", channel="email")
    assert other["status"] == "offered"
    listed = mgr.get("/api/calendars").json()["items"][0]
    assert listed["open_now"] is False and listed["next_change"].startswith("2026-01-12T00:30")

    # removing the calendar: always open again
    r = mgr.patch(f"/api/entry-points/{floor['web-chat']}", json={"calendar_id": None})
    assert r.status_code == 200 and r.json()["calendar_id"] is None
    assert floor.arrive()["status"] in ("queued", "offered")
    # leaving it out changes nothing
    r = mgr.patch(f"/api/entry-points/{floor['web-chat']}", json={"name": "网页客服"})
    assert r.json()["calendar_id"] is None
