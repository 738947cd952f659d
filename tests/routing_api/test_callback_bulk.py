"""A team lead moves or calls off many scheduled callbacks at once (批量改约 / 批量取消):
`POST /api/callbacks/move` and `POST /api/callbacks/cancel`. Each callback changes exactly as
by the single-callback endpoint, its audit entry marked with the batch; one refusal refuses
the whole batch with that callback's problem (its id in `params.contact_id`), and nothing is
written.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from hotline.core.context import system_actor
from hotline.domains.contacts import actions as contact_actions
from hotline.domains.routing import actions as routing_actions
from hotline.domains.routing.model import Channel
from routing_api.test_agent_callback import _callback, _jobs, _voice_line
from routing_api.test_callback_list import _post, _row, _schedule, _voice_queue

if TYPE_CHECKING:
    from routing_api.conftest import Floor

MINUTE = dt.timedelta(minutes=1)
MOVE, CANCEL = "/api/callbacks/move", "/api/callbacks/cancel"


def _audit(floor: Floor, action: str) -> list[tuple[str, dict[str, Any]]]:
    """(object id, details) of the audit rows of `action`, oldest first."""
    with floor.runtime.db.read() as conn:
        rows = conn.execute(
            sa.text("select object_id, details from audit_log where action = :a order by seq"),
            {"a": action},
        ).all()
    return [
        (r.object_id, r.details if isinstance(r.details, dict) else json.loads(r.details))
        for r in rows
    ]


def _job_of(floor: Floor) -> dict[str, tuple[str, dt.datetime]]:
    """Each callback's timer: contact id → (status, due time)."""
    return {j.payload["contact_id"]: (j.status, j.due_at) for j in _jobs(floor)}


def _dues(floor: Floor, ids: list[str]) -> list[Any]:
    return [_row(floor, cid).callback_due_at for cid in ids]


def test_a_lead_moves_three_callbacks_then_cancels_two_each_batch_one_decision(
    floor: Floor,
) -> None:
    _voice_line(floor)
    callbacks = _voice_queue(floor)
    a = _schedule(floor, "agent1", 10)
    b = _schedule(floor, "agent2", 12)
    c = _schedule(floor, "agent1", 14)
    start = floor.clock.now()
    ids = [c["id"], a["id"], b["id"]]  # not in due order: the answer keeps this order

    # the center closes this afternoon: all three to +90 minutes, into the callbacks queue
    due = start + 90 * MINUTE
    local = due.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    body = _post(floor, "lead", MOVE, 200, ids=ids, due_at=local, queue_id=callbacks)
    assert [x["id"] for x in body["items"]] == ids
    for item in body["items"]:
        assert item["status"] == "scheduled" and item["queue_id"] == callbacks
        assert dt.datetime.fromisoformat(item["callback_due_at"]) == due
        assert item["caller"] == "138****5678" and item["masked"] is True
        row = _row(floor, item["id"])
        assert (row.callback_due_at, row.arrived_at, row.queue_id) == (due, due, callbacks)
    # each timer moved (still one per callback), each history as a single move writes it
    assert _job_of(floor) == {cid: ("pending", due) for cid in ids}
    for cb in (a, b, c):
        history = floor.client("lead").get(f"/api/contacts/{cb['id']}").json()["history"]
        assert [h["type"] for h in history] == ["scheduled", "rescheduled"]
        assert history[-1]["data"] == {
            "due_at": due.isoformat(),
            "previous_due_at": cb["callback_due_at"].replace("Z", "+00:00"),
            "previous_queue_id": floor["faults"],
            "moved_by": floor["lead"],
        }
        assert floor.history(cb["callback_of"])[-1] == "callback_moved"
    assert sorted(e.object_id for e in floor.outbox("contact.rescheduled")) == sorted(ids)
    # one audit row each, all naming the same batch
    audit = _audit(floor, "contact.move_callback")
    assert [object_id for object_id, _ in audit] == ids
    batches = {d["batch"] for _, d in audit}
    assert len(batches) == 1 and all(d["batch_size"] == 3 for _, d in audit)
    assert {d["as"] for _, d in audit} == {"supervisor"}
    assert [d["callback_of"] for _, d in audit] == [
        c["callback_of"],
        a["callback_of"],
        b["callback_of"],
    ]

    # then two of them are called off, with one reason for both
    body = _post(floor, "lead", CANCEL, 200, ids=[b["id"], a["id"]], reason="中心停电")
    assert [(x["id"], x["status"]) for x in body["items"]] == [
        (b["id"], "cancelled"),
        (a["id"], "cancelled"),
    ]
    jobs = _job_of(floor)
    assert (jobs[a["id"]][0], jobs[b["id"]][0], jobs[c["id"]][0]) == (
        "cancelled",
        "cancelled",
        "pending",
    )
    entry = floor.client("lead").get(f"/api/contacts/{a['id']}").json()["history"][-1]
    assert (entry["type"], entry["data"]) == (
        "cancelled",
        {"reason": "中心停电", "cancelled_by": floor["lead"]},
    )
    mine = floor.client("agent1").get(f"/api/me/contacts/{a['callback_of']}").json()
    assert mine["history"][-1]["type"] == "callback_cancelled"
    assert mine["history"][-1]["data"] == {"callback_id": a["id"], "reason": "中心停电"}
    audit = _audit(floor, "contact.cancel_callback")
    assert [object_id for object_id, _ in audit] == [b["id"], a["id"]]
    (batch,) = {d["batch"] for _, d in audit}
    assert batch not in batches  # another decision, another batch
    assert audit[0][1]["changes"]["reason"] == {"before": None, "after": "中心停电"}
    # the single endpoints mark no batch
    _post(floor, "lead", f"/api/callbacks/{c['id']}/cancel", 200)
    assert "batch" not in _audit(floor, "contact.cancel_callback")[-1][1]

    # the remaining list is empty; nothing comes in at the new time
    listed = floor.client("lead").get("/api/callbacks").json()["items"]
    assert listed == []
    floor.clock.advance(91 * 60)
    assert floor.runtime.routing.run_due_jobs() == 0


def test_one_callback_no_longer_scheduled_refuses_the_whole_batch(floor: Floor) -> None:
    _voice_line(floor)
    a = _schedule(floor, "agent1", 10)
    b = _schedule(floor, "agent2", 12)
    c = _schedule(floor, "agent1", 14)
    _post(floor, "agent2", f"/api/me/callbacks/{b['id']}/cancel", 200)
    ids = [a["id"], b["id"], c["id"]]
    before_dues, before_jobs = _dues(floor, ids), _job_of(floor)
    later = (floor.clock.now() + 60 * MINUTE).isoformat()

    problem = _post(floor, "lead", MOVE, 409, ids=ids, due_at=later)
    # the single endpoint's problem, naming the callback that stopped the batch
    assert problem["key"] == "errors.contact.callback_not_scheduled"
    assert problem["params"] == {"status": "cancelled", "contact_id": b["id"]}
    assert b["id"] in problem["detail"]
    problem = _post(floor, "lead", CANCEL, 409, ids=ids, reason="x")
    assert problem["key"] == "errors.contact.callback_not_scheduled"
    assert problem["params"]["contact_id"] == b["id"]

    # nothing written: the others keep their time, status and timer; no audit, no history
    assert _dues(floor, ids) == before_dues
    assert [_row(floor, cid).status for cid in ids] == ["scheduled", "cancelled", "scheduled"]
    assert _job_of(floor) == before_jobs
    assert floor.count("audit_log", action="contact.move_callback") == 0
    assert floor.count("audit_log", action="contact.cancel_callback") == 1  # agent2's own
    assert floor.history(a["id"]) == ["scheduled"] and floor.history(c["id"]) == ["scheduled"]
    assert floor.outbox("contact.rescheduled") == []


def test_out_of_scope_callbacks_and_queues_refuse_the_batch(floor: Floor) -> None:
    _voice_line(floor)
    # a voice queue of the branch, outside the center's team lead's scope
    elsewhere = routing_actions.create_queue
    floor.runtime.routing.execute(
        system_actor("fixture"),
        lambda tx, engine: floor.ids.__setitem__(
            "branch-calls",
            elsewhere(
                tx,
                engine,
                code="branch-calls",
                name="分公司回呼",
                org_unit_id=floor.org.branch.id,
                settings={"skills": [["fault_repair", 1]], "channels": ["voice"]},
            ).id,
        ),
    )
    a = _schedule(floor, "agent1", 10)
    b = _schedule(floor, "agent1", 12, queue_id=floor["branch-calls"])
    ids = [a["id"], b["id"]]
    later = (floor.clock.now() + 60 * MINUTE).isoformat()

    # a callback in a queue the lead does not supervise: not found, as singly
    problem = _post(floor, "lead", MOVE, 404, ids=ids, due_at=later)
    assert problem["key"] == "errors.contact.not_found"
    assert problem["params"] == {"contact_id": b["id"]}
    problem = _post(floor, "lead", CANCEL, 404, ids=ids)
    assert (problem["key"], problem["params"]) == (
        "errors.contact.not_found",
        {"contact_id": b["id"]},
    )
    # nor an unknown id, nor a contact that is no callback
    floor.ready("agent2")
    chat = floor.arrive()
    for other in ("no-such-callback", chat["id"]):
        problem = _post(floor, "lead", CANCEL, 404, ids=[a["id"], other])
        assert problem["params"] == {"contact_id": other}
    # a target queue out of scope, or one that takes no calls: the queue's problem, naming no
    # callback (it is the lead's choice of queue, not any one callback, that is refused)
    problem = _post(
        floor, "lead", MOVE, 404, ids=[a["id"]], due_at=later, queue_id=floor["branch-calls"]
    )
    assert problem["key"] == "errors.routing.queue_not_found"
    assert "contact_id" not in problem.get("params", {})
    problem = _post(
        floor, "lead", MOVE, 422, ids=[a["id"]], due_at=later, queue_id=floor["billing"]
    )
    assert problem["key"] == "errors.routing.channel_not_in_queue"
    assert problem["params"] == {"queue_id": floor["billing"], "channel": "voice"}
    assert problem["field"] == "queue_id"

    assert [_row(floor, cid).status for cid in ids] == ["scheduled", "scheduled"]
    assert floor.count("audit_log", action="contact.move_callback") == 0
    assert floor.count("audit_log", action="contact.cancel_callback") == 0
    assert [j.status for j in _jobs(floor)] == ["pending", "pending"]


def test_a_callback_due_already_refuses_the_batch(floor: Floor) -> None:
    _voice_line(floor)
    soon = _schedule(floor, "agent1", 5)
    later = _schedule(floor, "agent1", 12)
    floor.clock.advance(5 * 60)  # `soon` is due; its timer has not run yet
    ids = [later["id"], soon["id"]]
    before = _dues(floor, ids)

    new_time = (floor.clock.now() + 60 * MINUTE).isoformat()
    problem = _post(floor, "lead", MOVE, 409, ids=ids, due_at=new_time)
    assert problem["key"] == "errors.contact.callback_due_already"
    assert problem["params"] == {"contact_id": soon["id"]}
    assert _dues(floor, ids) == before
    assert floor.count("audit_log", action="contact.move_callback") == 0
    assert floor.history(later["id"]) == ["scheduled"]
    # its timer brings it in as planned; the other still waits for its time
    assert floor.runtime.routing.run_due_jobs() == 1
    assert _row(floor, later["id"]).status == "scheduled"


def test_a_time_outside_one_callbacks_business_hours_refuses_the_batch(floor: Floor) -> None:
    # The test clock starts on Monday 2026-01-05 16:00 Beijing time. 96266 has no calendar;
    # 96267 answers 08:30–18:00 on weekdays.
    _voice_line(floor)

    def second_line(tx: Any, engine: Any) -> None:
        e = routing_actions.create_entry_point(
            tx, channel=Channel.voice, address="96267", name="报修热线", queue_id=floor["faults"]
        )
        floor.ids["96267"] = e.id

    floor.runtime.routing.execute(system_actor("fixture"), second_line)
    mgr = floor.client("mgr")
    weekly = {d: [["08:30", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    cal = mgr.post(
        "/api/calendars",
        json={"code": "hotline", "name": "营业时间", "timezone": "Asia/Shanghai", "weekly": weekly},
    ).json()
    r = mgr.patch(f"/api/entry-points/{floor.ids['96267']}", json={"calendar_id": cal["id"]})
    assert r.status_code == 200, r.text

    a = _schedule(floor, "agent1", 10)  # from 96266
    floor.act("agent1", "ready")
    original = floor.runtime.routing.execute(
        system_actor("media"),
        lambda tx, engine: contact_actions.arrive(
            tx, engine, channel=Channel.voice, address="96267", caller="13900001111"
        ),
    ).id
    assert floor.contact("agent1", original, "accept")["status"] == "connected"
    b = _callback(floor, "agent1", original, due_at=(floor.clock.now() + 20 * MINUTE).isoformat())
    ids = [a["id"], b["id"]]
    before = _dues(floor, ids)

    # 20:00 the same evening: 96267 is closed then (96266 would not mind)
    problem = _post(floor, "lead", MOVE, 422, ids=ids, due_at="2026-01-05T20:00:00+08:00")
    assert problem["key"] == "errors.contact.callback_outside_hours"
    assert problem["params"] == {"opens_at": "2026-01-06T00:30:00+00:00", "contact_id": b["id"]}
    assert problem["field"] == "due_at"
    assert _dues(floor, ids) == before
    assert floor.count("audit_log", action="contact.move_callback") == 0

    # 17:30: both lines answer
    moved = _post(floor, "lead", MOVE, 200, ids=ids, due_at="2026-01-05T17:30:00+08:00")
    assert [x["callback_due_at"] for x in moved["items"]] == ["2026-01-05T09:30:00Z"] * 2


def test_malformed_batches_are_refused_and_agents_may_not(floor: Floor) -> None:
    _voice_line(floor)
    a = _schedule(floor, "agent1", 10)
    now = floor.clock.now()
    later = (now + 60 * MINUTE).isoformat()

    def refused(path: str, **body: Any) -> Any:
        problem = _post(floor, "lead", path, 422, **body)
        assert problem["code"] == "invalid_input"
        return problem

    for path, extra in ((MOVE, {"due_at": later}), (CANCEL, {})):
        problem = refused(path, ids=[], **extra)
        assert problem["errors"][0]["field"] == "ids"
        problem = refused(path, ids=[f"id-{i}" for i in range(101)], **extra)
        assert problem["key"] == "errors.contact.callback_batch_size"
        assert problem["field"] == "ids" and problem["params"] == {"max": 100}
        problem = refused(path, ids=[f"id-{i}" for i in range(501)], **extra)
        assert problem["errors"][0]["field"] == "ids"
        problem = refused(path, ids=[a["id"], a["id"]], **extra)
        assert problem["field"] == "ids" and problem["params"] == {"contact_id": a["id"]}
        assert problem["key"] == "errors.contact.callback_batch_repeated"
        assert "more than once" in problem["detail"]
        refused(path, **extra)  # no ids
        refused(path, ids=a["id"], **extra)  # not a list
        refused(path, ids=["x" * 37], **extra)
        refused(path, ids=[a["id"]], when="now", **extra)
    refused(MOVE, ids=[a["id"]])  # the time is required
    problem = refused(MOVE, ids=[a["id"]], due_at=(now - MINUTE).isoformat())
    # the one time for every callback: its problem names none
    assert problem["key"] == "errors.contact.callback_due_past" and "params" not in problem
    refused(MOVE, ids=[a["id"]], due_at="2026-01-05T15:00:00")  # no time zone
    refused(CANCEL, ids=[a["id"]], reason="x" * 201)

    # an agent holds no contact:supervise
    _post(floor, "agent1", MOVE, 403, ids=[a["id"]], due_at=later)
    _post(floor, "agent1", CANCEL, 403, ids=[a["id"]])

    assert _row(floor, a["id"]).status == "scheduled"
    assert _row(floor, a["id"]).callback_due_at == now + 10 * MINUTE
    assert floor.count("audit_log", action="contact.move_callback") == 0
    assert floor.count("audit_log", action="contact.cancel_callback") == 0
