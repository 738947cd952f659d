"""Scheduled callbacks seen, cancelled and moved (预约回呼, issues 3/4 follow-up): the agent's
own (`/api/me/callbacks…`) and a team lead's (`/api/callbacks…`). A cancelled callback never
comes in (its timer is cancelled, and a run already claimed does nothing); a moved one comes in
at its new time, also after a restart; refusals write nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from hotline.core.context import system_actor
from hotline.core.errors import InvalidInput
from hotline.domains.contacts.model import ContactRecord, Direction, Lifecycle
from hotline.domains.contacts.queries import (
    callback_cursor,
    masked_view,
    parse_callback_cursor,
)
from hotline.domains.routing import actions as routing_actions
from hotline.domains.routing.model import Channel
from hotline.infra.db.schema import contacts
from hotline.infra.runtime import build_runtime
from hotline.settings import Settings
from routing_api.test_agent_callback import _call, _callback, _jobs, _voice_line

if TYPE_CHECKING:
    from routing_api.conftest import Floor

MINUTE = dt.timedelta(minutes=1)


def _schedule(floor: Floor, agent: str, minutes: int, **body: Any) -> dict[str, Any]:
    """`agent` takes a call, schedules a callback `minutes` ahead, codes the call and goes
    not ready (so that the next call goes to whom the test says)."""
    state = floor.me(agent)["state"]
    if state == "logged_out":
        floor.ready(agent)
    elif state != "ready":
        floor.act(agent, "ready")
    original = _call(floor)
    assert floor.contact(agent, original, "accept")["status"] == "connected"
    due = floor.clock.now() + minutes * MINUTE
    cb = _callback(floor, agent, original, due_at=due.isoformat(), **body)
    floor.contact(agent, original, "wrap-up", code="resolved")
    floor.act(agent, "not_ready", reason="break")
    assert cb["status"] == "scheduled"
    return dict(cb)


def _page(floor: Floor, who: str, path: str, expect: int = 200, **query: Any) -> Any:
    r = floor.client(who).get(path, params=query)
    assert r.status_code == expect, r.text
    return r.json()


def _walk(floor: Floor, who: str, path: str, limit: int, **query: Any) -> list[str]:
    """Every id of a paginated list, page by page."""
    ids: list[str] = []
    after: str | None = None
    for _ in range(20):
        page = _page(floor, who, path, limit=limit, **query, **({"after": after} if after else {}))
        assert len(page["items"]) <= limit
        ids += [c["id"] for c in page["items"]]
        after = page["next_after"]
        if after is None:
            return ids
    raise AssertionError("pagination does not end")


def _post(floor: Floor, who: str, path: str, expect: int, **body: Any) -> Any:
    r = floor.client(who).post(path, json=body)
    assert r.status_code == expect, r.text
    return r.json()


def _row(floor: Floor, contact_id: str) -> Any:
    with floor.runtime.db.read() as conn:
        return conn.execute(sa.select(contacts).where(contacts.c.id == contact_id)).one()


def _voice_queue(floor: Floor, code: str = "callbacks") -> str:
    settings = {"skills": [["fault_repair", 1]], "channels": ["voice"]}

    def create(tx: Any, engine: Any) -> None:
        q = routing_actions.create_queue(
            tx, engine, code=code, name="回呼", org_unit_id=floor.org.center.id, settings=settings
        )
        floor.ids[code] = q.id

    floor.runtime.routing.execute(system_actor("fixture"), create)
    return floor.ids[code]


def test_lists_by_due_time_then_id_paginated_and_scoped(floor: Floor) -> None:
    _voice_line(floor)
    # (due within 14 minutes: sessions idle out after 15)
    a60 = _schedule(floor, "agent1", 12)
    a20 = _schedule(floor, "agent1", 4)
    b30 = _schedule(floor, "agent2", 8)
    # the same due time as a60 (the clock has not moved): the id decides
    a60b = _schedule(floor, "agent1", 12)
    a60, a60b = sorted([a60, a60b], key=lambda c: c["callback_due_at"] + c["id"])
    assert a60["callback_due_at"] == a60b["callback_due_at"]

    mine = _page(floor, "agent1", "/api/me/callbacks")
    assert [c["id"] for c in mine["items"]] == [a20["id"], a60["id"], a60b["id"]]
    assert mine["next_after"] is None
    first = mine["items"][0]
    assert first["caller"] == "138****5678" and first["masked"] is True  # masked as elsewhere
    assert first["status"] == "scheduled" and first["callback_of"] is not None
    assert [c["id"] for c in _page(floor, "agent2", "/api/me/callbacks")["items"]] == [b30["id"]]
    # page by page: same order, nothing skipped or repeated
    assert _walk(floor, "agent1", "/api/me/callbacks", 2) == [a20["id"], a60["id"], a60b["id"]]

    # the team lead: a queue's, or every queue in its scope
    every = [a20["id"], b30["id"], a60["id"], a60b["id"]]
    assert _walk(floor, "lead", "/api/callbacks", 1, queue_id=floor["faults"]) == every
    assert _walk(floor, "lead", "/api/callbacks", 3, status="scheduled") == every
    # each with the agent who promised it
    team = _page(floor, "lead", "/api/callbacks")["items"]
    assert [c["callback_requested_by"] for c in team] == [
        floor["agent1"], floor["agent2"], floor["agent1"], floor["agent1"]
    ]
    assert {c["callback_requested_by"] for c in mine["items"]} == {floor["agent1"]}
    # …and only those one agent promised, page by page
    by1 = _walk(floor, "lead", "/api/callbacks", 2, requested_by=floor["agent1"])
    assert by1 == [a20["id"], a60["id"], a60b["id"]]
    by2 = _page(
        floor, "lead", "/api/callbacks", queue_id=floor["faults"], requested_by=floor["agent2"]
    )
    assert [c["id"] for c in by2["items"]] == [b30["id"]]
    assert _page(floor, "lead", "/api/callbacks", queue_id=floor["billing"])["items"] == []
    # a lead of another branch sees none, and not the queue either
    floor.org.user("lead2", "team_lead", unit="branch")
    assert _page(floor, "lead2", "/api/callbacks")["items"] == []
    problem = _page(floor, "lead2", "/api/callbacks", 404, queue_id=floor["faults"])
    assert problem["key"] == "errors.routing.queue_not_found"
    # an agent may not list the team's; a broken cursor or status is refused
    _page(floor, "agent1", "/api/callbacks", 403)
    problem = _page(floor, "agent1", "/api/me/callbacks", 422, after="yesterday")
    assert problem["key"] == "errors.contact.callback_cursor"
    _page(floor, "lead", "/api/callbacks", 422, status="queued")

    # a callback that came in is no longer listed
    floor.clock.advance(5 * 60)
    assert floor.runtime.routing.run_due_jobs() == 1
    assert [c["id"] for c in _page(floor, "agent1", "/api/me/callbacks")["items"]] == [
        a60["id"],
        a60b["id"],
    ]


def test_the_owner_cancels_and_the_timer_never_brings_it_in(floor: Floor) -> None:
    _voice_line(floor)
    cb = _schedule(floor, "agent1", 10)
    original = cb["callback_of"]
    floor.ready("agent2")

    done = _post(
        floor, "agent1", f"/api/me/callbacks/{cb['id']}/cancel", 200, reason="客户已自行解决"
    )
    assert done["status"] == "cancelled" and done["finished_at"] is not None
    body = floor.client("lead").get(f"/api/contacts/{cb['id']}").json()
    assert [h["type"] for h in body["history"]] == ["scheduled", "cancelled"]
    assert body["history"][-1]["data"] == {
        "reason": "客户已自行解决",
        "cancelled_by": floor["agent1"],
    }
    mine = floor.client("agent1").get(f"/api/me/contacts/{original}").json()
    assert mine["history"][-1]["type"] == "callback_cancelled"
    assert mine["history"][-1]["data"]["callback_id"] == cb["id"]
    assert [j.status for j in _jobs(floor)] == ["cancelled"]
    assert floor.count("audit_log", action="contact.cancel_callback", object_id=cb["id"]) == 1
    assert [e.object_id for e in floor.outbox("contact.cancelled")] == [cb["id"]]
    assert [e.object_id for e in floor.outbox("contact.callback_cancelled")] == [original]
    assert _page(floor, "agent1", "/api/me/callbacks")["items"] == []

    # its time comes and goes: nothing comes in, nobody is offered anything
    floor.clock.advance(11 * 60)
    assert floor.runtime.routing.run_due_jobs() == 0
    assert _row(floor, cb["id"]).status == "cancelled"
    assert floor.me("agent2")["work"] == [] and floor.line() == []

    # once is enough; moving it is refused too
    problem = _post(floor, "agent1", f"/api/me/callbacks/{cb['id']}/cancel", 409)
    assert problem["key"] == "errors.contact.callback_not_scheduled"
    assert problem["params"] == {"status": "cancelled"}
    later = (floor.clock.now() + 10 * MINUTE).isoformat()
    problem = _post(floor, "agent1", f"/api/me/callbacks/{cb['id']}/move", 409, due_at=later)
    assert problem["key"] == "errors.contact.callback_not_scheduled"


def test_a_claimed_timer_of_a_cancelled_callback_does_nothing(floor: Floor) -> None:
    """The timer's handler re-checks the callback in its own transaction: were its job run
    anyway (claimed before the cancel, or re-armed), the cancelled callback stays so."""
    _voice_line(floor)
    cb = _schedule(floor, "agent1", 5)
    _post(floor, "agent1", f"/api/me/callbacks/{cb['id']}/cancel", 200)
    with floor.runtime.db.transaction(actor=system_actor("test")) as tx:
        tx.jobs.schedule(
            "contacts.callback_due",
            {"contact_id": cb["id"]},
            due_at=floor.clock.now(),
            dedupe_key=f"contacts.callback_due:{cb['id']}",
        )
    assert floor.runtime.routing.run_due_jobs() == 1
    assert _row(floor, cb["id"]).status == "cancelled"
    assert floor.history(cb["id"]) == ["scheduled", "cancelled"]


def test_a_team_lead_cancels_another_agent_may_not(floor: Floor) -> None:
    _voice_line(floor)
    cb = _schedule(floor, "agent1", 30)
    path = f"/callbacks/{cb['id']}/cancel"

    # another agent: not among its callbacks (404), and not a team lead (403)
    assert _post(floor, "agent2", f"/api/me{path}", 404)["key"] == "errors.contact.not_found"
    _post(floor, "agent2", f"/api{path}", 403)
    # a team lead of another branch does not see it; the team lead's own /me list is not it
    floor.org.user("lead2", "team_lead", unit="branch")
    assert _post(floor, "lead2", f"/api{path}", 404)["key"] == "errors.contact.not_found"
    _post(floor, "lead", f"/api/me{path}", 404)
    # a contact that is no callback is not found as one
    floor.ready("agent2")
    chat = floor.arrive()
    _post(floor, "lead", f"/api/callbacks/{chat['id']}/cancel", 404)
    _post(floor, "lead", f"/api{path}", 422, reason="x" * 201)
    assert floor.count("audit_log", action="contact.cancel_callback") == 0
    assert _row(floor, cb["id"]).status == "scheduled"
    assert [j.status for j in _jobs(floor)] == ["pending"]

    done = _post(floor, "lead", f"/api{path}", 200)
    assert done["status"] == "cancelled"
    entry = floor.client("lead").get(f"/api/contacts/{cb['id']}").json()["history"][-1]
    assert entry["data"] == {"reason": None, "cancelled_by": floor["lead"]}
    assert [j.status for j in _jobs(floor)] == ["cancelled"]


def test_move_is_validated_like_scheduling_and_refusals_write_nothing(floor: Floor) -> None:
    _voice_line(floor)
    cb = _schedule(floor, "agent1", 10)
    path = f"/api/me/callbacks/{cb['id']}/move"
    now = floor.clock.now()
    (job,) = _jobs(floor)

    def refused(status: int, key: str | None, who: str = "agent1", **body: Any) -> Any:
        problem = _post(floor, who, path, status, **body)
        if key is not None:
            assert problem["key"] == key, problem
        return problem

    refused(422, "errors.contact.callback_due_past", due_at=(now - MINUTE).isoformat())
    refused(
        422,
        "errors.contact.callback_due_too_far",
        due_at=(now + dt.timedelta(days=7, seconds=1)).isoformat(),
    )
    refused(422, "errors.contact.callback_due_zone", due_at="2026-01-05T15:00:00")
    later = (now + 90 * MINUTE).isoformat()
    refused(404, "errors.routing.queue_not_found", due_at=later, queue_id="no-such-queue")
    refused(422, "errors.routing.channel_not_in_queue", due_at=later, queue_id=floor["billing"])
    refused(422, None)  # the time is required
    refused(422, None, due_at=later, when="later")
    refused(404, "errors.contact.not_found", who="agent2", due_at=later)
    assert floor.count("audit_log", action="contact.move_callback") == 0
    assert _row(floor, cb["id"]).callback_due_at == now + 10 * MINUTE
    assert _jobs(floor) == [job]

    # due (its timer not run yet): too late to move; once come in, not scheduled any more
    floor.clock.advance(10 * 60)
    refused(409, "errors.contact.callback_due_already", due_at=later)
    assert floor.runtime.routing.run_due_jobs() == 1
    problem = refused(409, "errors.contact.callback_not_scheduled", due_at=later)
    assert problem["params"] == {"status": "queued"}
    assert floor.count("audit_log", action="contact.move_callback") == 0


def test_moved_callback_comes_in_at_its_new_time_also_after_a_restart(
    floor: Floor, settings: Settings
) -> None:
    _voice_line(floor)
    callbacks = _voice_queue(floor)
    cb = _schedule(floor, "agent1", 30)
    start = floor.clock.now()
    original = cb["callback_of"]

    # the agent moves it to +90 minutes (a browser sends its local time)
    due = start + 90 * MINUTE
    local = due.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    moved = _post(floor, "agent1", f"/api/me/callbacks/{cb['id']}/move", 200, due_at=local)
    assert moved["status"] == "scheduled"
    assert dt.datetime.fromisoformat(moved["callback_due_at"]) == due
    (job,) = _jobs(floor)
    assert (job.status, job.due_at) == ("pending", due)
    body = floor.client("lead").get(f"/api/contacts/{cb['id']}").json()
    assert [h["type"] for h in body["history"]] == ["scheduled", "rescheduled"]
    assert body["history"][-1]["data"]["previous_due_at"] == (start + 30 * MINUTE).isoformat()
    mine = floor.client("agent1").get(f"/api/me/contacts/{original}").json()
    assert mine["history"][-1]["type"] == "callback_moved"
    assert [e.object_id for e in floor.outbox("contact.rescheduled")] == [cb["id"]]

    # the team lead moves it into another queue that takes calls, at +100 minutes
    due = start + 100 * MINUTE
    moved = _post(
        floor,
        "lead",
        f"/api/callbacks/{cb['id']}/move",
        200,
        due_at=due.isoformat(),
        queue_id=callbacks,
    )
    assert moved["queue_id"] == callbacks
    listed = _page(floor, "lead", "/api/callbacks", queue_id=callbacks)["items"]
    assert [c["id"] for c in listed] == [cb["id"]]
    assert _page(floor, "lead", "/api/callbacks", queue_id=floor["faults"])["items"] == []
    assert floor.count("audit_log", action="contact.move_callback", object_id=cb["id"]) == 2
    (job,) = _jobs(floor)
    assert (job.status, job.due_at) == ("pending", due)

    # the old time passes while the server is down; another comes up: nothing comes in yet
    floor.runtime.routing.close()
    floor.clock.advance(45 * 60)
    second = build_runtime(settings, clock=floor.clock, upgrade=False)
    try:
        assert second.routing.start() is True
        assert second.routing.run_due_jobs() == 0
        assert _row(floor, cb["id"]).status == "scheduled"
        floor.clock.advance(55 * 60)  # +100 minutes
        assert second.routing.run_due_jobs() == 1
        row = _row(floor, cb["id"])
        assert row.status in ("queued", "offered") and row.queue_id == callbacks
        assert row.arrived_at == floor.clock.now()
        assert second.routing.snapshot() == second.routing.snapshot_from_db()
        assert [j.status for j in _jobs(floor)] == ["done"]
    finally:
        second.close()


@given(
    st.datetimes(
        min_value=dt.datetime.fromisoformat("2000-01-01T00:00:00"),
        max_value=dt.datetime.fromisoformat("2100-01-01T00:00:00"),
        timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8))]),
    ),
    st.text(alphabet="0123456789abcdef-", min_size=1, max_size=36),
)
def test_a_page_cursor_round_trips(due: dt.datetime, contact_id: str) -> None:
    """Pure rule: `next_after` gives back the (due time in UTC, id) keyset it was made of."""
    row = ContactRecord(
        id=contact_id,
        channel=Channel.voice,
        direction=Direction.outbound,
        status=Lifecycle.scheduled,
        arrived_at=due,
        updated_at=due,
        callback_due_at=due,
    )
    cursor = callback_cursor(masked_view(row, lambda field, token: None))
    assert len(cursor) <= 80  # the `after` parameter's bound
    got = parse_callback_cursor(cursor)
    assert got == (due.astimezone(dt.UTC), contact_id)
    assert got is not None and got[0].utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "after",
    ["", "x", "2026-01-05T08:00:00~id", "2026-01-05T08:00:00+00:00~", "0001-01-01T00:00+05:00~id"],
)
def test_a_broken_cursor_is_refused(after: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_callback_cursor(after)
    assert exc.value.key == "errors.contact.callback_cursor"
