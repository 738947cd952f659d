"""An agent schedules a callback for the customer of its contact (预约回呼, issues 3/4):
`POST /api/me/contacts/{id}/callback`. As soon as possible it comes into the queue at once;
at a time it waits as `scheduled` behind a durable timer (that survives a restart) and comes
in when the routing service runs the due job; either way it is offered as a callback.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from hotline.core.context import system_actor
from hotline.core.errors import InvalidInput
from hotline.domains.contacts import actions as contact_actions
from hotline.domains.contacts.jobs import CALLBACK_DUE
from hotline.domains.contacts.model import CALLBACK_HORIZON, check_callback_due
from hotline.domains.routing import actions as routing_actions
from hotline.domains.routing.model import Channel
from hotline.infra.db.schema import jobs
from hotline.infra.db.stores.contacts import SqlContactStore
from hotline.infra.runtime import build_runtime
from hotline.settings import Settings
from stats.scenario import interval_table, rebuilt

if TYPE_CHECKING:
    from routing_api.conftest import Floor

CALLER = "13812345678"
NOTE = "客户要 15:00 前答复账单问题"


def _voice_line(floor: Floor) -> None:
    """The hotline number 96266 (voice) into the faults queue."""

    def configure(tx: Any, engine: Any) -> None:
        e = routing_actions.create_entry_point(
            tx, channel=Channel.voice, address="96266", name="服务热线", queue_id=floor["faults"]
        )
        floor.ids["96266"] = e.id

    floor.runtime.routing.execute(system_actor("fixture"), configure)


def _call(floor: Floor, caller: str | None = CALLER) -> str:
    """A call to 96266, as the media engine reports it (voice does not arrive over HTTP)."""
    row = floor.runtime.routing.execute(
        system_actor("media"),
        lambda tx, engine: contact_actions.arrive(
            tx, engine, channel=Channel.voice, address="96266", caller=caller, caller_area="城东"
        ),
    )
    return row.id


def _connected_call(floor: Floor, agent: str = "agent1") -> str:
    floor.ready(agent)
    cid = _call(floor)
    assert floor.contact(agent, cid, "accept")["status"] == "connected"
    return cid


def _callback(floor: Floor, agent: str, contact_id: str, expect: int = 201, **body: Any) -> Any:
    r = floor.client(agent).post(f"/api/me/contacts/{contact_id}/callback", json=body)
    assert r.status_code == expect, r.text
    return r.json()


def _my_history(floor: Floor, agent: str, contact_id: str) -> list[dict[str, Any]]:
    r = floor.client(agent).get(f"/api/me/contacts/{contact_id}")
    assert r.status_code == 200, r.text
    return list(r.json()["history"])


def _jobs(floor: Floor) -> list[Any]:
    with floor.runtime.db.read() as conn:
        return list(
            conn.execute(sa.select(jobs).where(jobs.c.kind == CALLBACK_DUE).order_by(jobs.c.id))
        )


def _offered(floor: Floor) -> int:
    """Contacts offered to the faults queue, all intervals (statistics, ADR 0008)."""
    with floor.runtime.db.read() as conn:
        return int(
            conn.execute(
                sa.text(
                    "select coalesce(sum(offered), 0) from interval_stats"
                    " where kind = 'queue' and key = :q"
                ),
                {"q": floor["faults"]},
            ).scalar_one()
        )


def test_asap_callback_ends_the_call_and_is_offered_as_a_callback(floor: Floor) -> None:
    _voice_line(floor)
    original = _connected_call(floor)

    cb = _callback(floor, "agent1", original, note=NOTE)
    # a new outbound call to the same caller, from the same line, linked to the original
    assert (cb["channel"], cb["direction"], cb["callback"]) == ("voice", "outbound", True)
    assert cb["callback_of"] == original and cb["callback_note"] == NOTE
    assert cb["callback_due_at"] is None
    assert cb["entry_point_id"] == floor["96266"] and cb["queue_id"] == floor["faults"]
    assert cb["caller"] == "138****5678" and cb["caller_area"] == "城东"
    assert cb["status"] == "queued"  # nobody else is ready; agent1 is in wrap-up

    # the original ended as with "end": agent1 is in wrap-up, the contact awaits its code
    me = floor.me("agent1")
    assert me["state"] == "wrap_up"
    assert [c["status"] for c in me["work"]] == ["wrap_up"]
    history = _my_history(floor, "agent1", original)
    assert [h["type"] for h in history][-2:] == ["callback_scheduled", "ended"]
    scheduled = history[-2]["data"]
    assert scheduled["callback_id"] == cb["id"] and scheduled["due_at"] is None
    assert scheduled["note"] == NOTE and scheduled["callback_queue_id"] == floor["faults"]

    # the callback waits in line and is offered, as a callback, to the next ready agent
    assert floor.line() == [cb["id"]]
    floor.ready("agent2")
    offer = floor.me("agent2")["work"]
    assert [(c["id"], c["status"], c["callback"]) for c in offer] == [(cb["id"], "offered", True)]
    assert floor.history(cb["id"]) == ["arrived", "queued", "offered"]
    # the gateway's caller number went with it (same blind index: same customer lookups)
    with floor.runtime.db.read() as conn:
        indexes = (
            conn.execute(
                sa.text("select caller_index from contacts where id in (:a, :b)"),
                {"a": original, "b": cb["id"]},
            )
            .scalars()
            .all()
        )
    assert len(indexes) == 2 and len(set(indexes)) == 1

    # audited, and on the live stream after commit
    assert floor.count("audit_log", action="contact.schedule_callback", object_id=cb["id"]) == 1
    assert [e.object_id for e in floor.outbox("contact.callback_scheduled")] == [original]
    assert _jobs(floor) == []  # as soon as possible needs no timer

    # agent1 codes the original; agent2 serves the callback, which ends as called back
    floor.contact("agent1", original, "wrap-up", code="resolved")
    floor.contact("agent2", cb["id"], "accept")
    floor.contact("agent2", cb["id"], "end")
    assert floor.contact("agent2", cb["id"], "wrap-up", code="resolved")["status"] == "called_back"


def test_timed_callback_waits_scheduled_then_arrives_when_its_job_runs(floor: Floor) -> None:
    _voice_line(floor)
    original = _connected_call(floor)
    now = floor.clock.now()
    due = now + dt.timedelta(minutes=14)  # (sessions idle out after 15 minutes)
    # a browser sends its local time with an offset: stored and answered in UTC
    local = due.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()

    cb = _callback(floor, "agent1", original, due_at=local, note=NOTE)
    assert cb["status"] == "scheduled" and cb["callback"] is True
    assert dt.datetime.fromisoformat(cb["callback_due_at"]) == due
    assert floor.me("agent1")["state"] == "wrap_up"
    assert floor.history(cb["id"]) == ["scheduled"]
    assert _my_history(floor, "agent1", original)[-2]["data"]["due_at"] == due.isoformat()
    (job,) = _jobs(floor)
    assert job.status == "pending" and job.due_at == due
    # not in routing: not in line, not in the engine, not counted as offered
    assert floor.line() == []
    assert cb["id"] not in {c["id"] for c in floor.runtime.routing.snapshot()["contacts"]}
    offered_before = _offered(floor)

    floor.ready("agent2")
    floor.clock.advance(420)  # seven minutes early: nothing happens
    assert floor.runtime.routing.run_due_jobs() == 0
    r = floor.client("lead").get(f"/api/contacts/{cb['id']}")
    assert r.json()["status"] == "scheduled"
    assert floor.me("agent2")["work"] == []

    floor.clock.advance(420)
    arrived_at = floor.clock.now()
    assert floor.runtime.routing.run_due_jobs() == 1
    body = floor.client("lead").get(f"/api/contacts/{cb['id']}").json()
    assert body["status"] == "offered" and body["agent_id"] == floor["agent2"]
    assert dt.datetime.fromisoformat(body["arrived_at"]) == arrived_at
    assert [h["type"] for h in body["history"]] == ["scheduled", "arrived", "queued", "offered"]
    offer = floor.me("agent2")["work"][0]
    assert (offer["id"], offer["callback"], offer["callback_note"]) == (cb["id"], True, NOTE)
    (job,) = _jobs(floor)
    assert job.status == "done"
    assert floor.runtime.routing.run_due_jobs() == 0  # done once
    assert floor.count("audit_log", action="contact.callback_due", object_id=cb["id"]) == 1

    # statistics: offered once, when it came in; the live rows equal their rebuild
    assert _offered(floor) == offered_before + 1
    live = interval_table(floor.runtime)
    rebuilt(floor.runtime)
    assert interval_table(floor.runtime) == live


def test_timed_callback_survives_a_restart(floor: Floor, settings: Settings) -> None:
    _voice_line(floor)
    original = _connected_call(floor)
    cb = _callback(
        floor, "agent1", original, due_at=(floor.clock.now() + dt.timedelta(minutes=30)).isoformat()
    )
    assert cb["status"] == "scheduled"

    # the server stops before the callback is due; another comes up after it is due
    floor.runtime.routing.close()
    floor.clock.advance(45 * 60)
    second = build_runtime(settings, clock=floor.clock, upgrade=False)
    try:
        # it brings in what fell due while it was down as it starts (its first tick)
        assert second.routing.start() is True
        assert second.routing.run_due_jobs() == 0
        engine = second.routing.snapshot()
        (held,) = [c for c in engine["contacts"] if c["id"] == cb["id"]]
        # agent1's wrap-up ran out meanwhile: it is ready, and gets the callback
        assert (held["status"], held["callback"], held["channel"], held["agent_id"]) == (
            "offered",
            True,
            "voice",
            floor["agent1"],
        )
        assert second.routing.snapshot() == second.routing.snapshot_from_db()
        assert [j.status for j in _jobs(floor)] == ["done"]
    finally:
        second.close()


def test_in_wrap_up_the_callback_is_only_scheduled(floor: Floor) -> None:
    _voice_line(floor)
    original = _connected_call(floor)
    floor.contact("agent1", original, "end")
    floor.ready("agent2")
    cb = _callback(floor, "agent1", original, queue_id=floor["faults"])
    assert cb["status"] == "offered" and cb["agent_id"] == floor["agent2"]
    # still agent1's to code; its history shows the callback after the end
    assert floor.me("agent1")["state"] == "wrap_up"
    assert [h["type"] for h in _my_history(floor, "agent1", original)][-2:] == [
        "ended",
        "callback_scheduled",
    ]
    # one open callback per contact
    problem = _callback(floor, "agent1", original, expect=409)
    assert problem["key"] == "errors.contact.callback_exists"


def test_refusals_say_what_is_wrong_and_write_nothing(floor: Floor) -> None:
    _voice_line(floor)
    original = _connected_call(floor)
    contacts = floor.count("contacts")
    now = floor.clock.now()

    def refused(
        status: int, key: str | None, agent: str = "agent1", cid: str = original, **body: Any
    ) -> dict[str, Any]:
        problem = _callback(floor, agent, cid, expect=status, **body)
        if key is not None:
            assert problem["key"] == key, problem
        return dict(problem)

    # somebody else's contact, or none at all: not found (nothing told about it)
    refused(404, "errors.contact.not_found", agent="agent2")
    refused(404, "errors.contact.not_found", cid="no-such-contact")
    # the time: in the past, too far ahead, without a time zone
    past = (now - dt.timedelta(minutes=1)).isoformat()
    p = refused(422, "errors.contact.callback_due_past", due_at=past)
    assert "future" in p["detail"]
    refused(422, "errors.contact.callback_due_past", due_at=now.isoformat())
    p = refused(
        422,
        "errors.contact.callback_due_too_far",
        due_at=(now + dt.timedelta(days=7, seconds=1)).isoformat(),
    )
    assert p["params"] == {"days": 7} and "7 days" in p["detail"]
    refused(422, "errors.contact.callback_due_zone", due_at="2030-01-01T15:00:00")
    # the queue: unknown, or one that takes no calls
    refused(404, "errors.routing.queue_not_found", queue_id="no-such-queue")
    p = refused(422, "errors.routing.channel_not_in_queue", queue_id=floor["billing"])
    assert "voice" in p["detail"]
    # the body: too long a note, unknown fields, a bad date
    refused(422, None, note="x" * 501)
    refused(422, None, when="later")
    refused(422, None, due_at="tomorrow")
    assert floor.count("contacts") == contacts and _jobs(floor) == []
    assert floor.me("agent1")["state"] == "busy"  # still on the call

    # an offer is not in hand yet; a contact coded and done is not any more
    floor.contact("agent1", original, "end")
    floor.contact("agent1", original, "wrap-up", code="resolved")
    p = refused(409, "errors.contact.callback_not_handling")
    assert p["params"] == {"status": "ended"}
    floor.act("agent1", "ready")
    offered = _call(floor)
    refused(409, "errors.contact.callback_not_handling", cid=offered)
    assert floor.count("contacts") == contacts + 1 and _jobs(floor) == []


def test_a_chat_without_customer_has_nobody_to_call_back(floor: Floor) -> None:
    floor.ready("agent1")
    chat = floor.arrive(caller="wx_zhang")  # a chat id is no phone number
    floor.contact("agent1", chat["id"], "accept")
    problem = _callback(floor, "agent1", chat["id"], expect=409)
    assert problem["key"] == "errors.contact.callback_no_number"
    assert floor.me("agent1")["state"] == "busy"


def test_permissions(floor: Floor) -> None:
    _voice_line(floor)
    original = _connected_call(floor)
    # a channel gateway routes contacts but handles none; a QA reads them, handles none
    floor.org.user("qa", "qa", unit="center")
    for name in ("gateway", "qa"):
        r = floor.client(name).post(f"/api/me/contacts/{original}/callback", json={})
        assert r.status_code == 403, r.text
    # a team lead handles contacts too, but only its own
    r = floor.client("lead").post(f"/api/me/contacts/{original}/callback", json={})
    assert r.status_code == 404
    with TestClient(floor.client("agent1").app) as anonymous:
        r = anonymous.post(f"/api/me/contacts/{original}/callback", json={})
    assert r.status_code == 401
    assert floor.count("contacts", callback_of=original) == 0


NOW = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


@given(
    st.datetimes(
        # (hypothesis takes naive bounds and adds the time zones itself)
        min_value=dt.datetime.fromisoformat("2025-12-01T00:00:00"),
        max_value=dt.datetime.fromisoformat("2026-02-01T00:00:00"),
        timezones=st.sampled_from(
            [dt.UTC, dt.timezone(dt.timedelta(hours=8)), dt.timezone(dt.timedelta(hours=-5))]
        ),
    )
)
def test_a_callback_time_is_in_the_next_seven_days(due: dt.datetime) -> None:
    """Pure rule: accepted exactly when after now and within the horizon; answered in UTC."""
    ok = NOW < due <= NOW + CALLBACK_HORIZON
    try:
        got = check_callback_due(due, NOW)
    except InvalidInput as exc:
        assert not ok and exc.field == "due_at"
        assert exc.key in (
            "errors.contact.callback_due_past",
            "errors.contact.callback_due_too_far",
        )
    else:
        assert ok and got == due and got.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("2026-01-05T09:00:00", "errors.contact.callback_due_zone"),
        ("0001-01-01T00:00:00+05:00", "errors.contact.callback_due_past"),
        ("9999-12-31T23:59:59-05:00", "errors.contact.callback_due_too_far"),
    ],
)
def test_callback_times_at_the_edges_are_refused_not_crashed(value: str, key: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_callback_due(dt.datetime.fromisoformat(value), NOW)
    assert exc.value.key == key


def test_a_due_callback_whose_queue_stopped_taking_calls_is_dropped_visibly(floor: Floor) -> None:
    _voice_line(floor)
    settings = {"skills": [["fault_repair", 1]], "channels": ["voice"]}

    def callbacks_queue(tx: Any, engine: Any) -> None:
        q = routing_actions.create_queue(
            tx,
            engine,
            code="callbacks",
            name="回呼",
            org_unit_id=floor.org.center.id,
            settings=settings,
        )
        floor.ids["callbacks"] = q.id

    floor.runtime.routing.execute(system_actor("fixture"), callbacks_queue)
    original = _connected_call(floor)
    due = floor.clock.now() + dt.timedelta(minutes=5)
    cb = _callback(floor, "agent1", original, due_at=due.isoformat(), queue_id=floor["callbacks"])
    assert cb["status"] == "scheduled" and cb["queue_id"] == floor["callbacks"]

    # meanwhile the queue takes chats only (nothing in it uses voice: the change is allowed)
    floor.runtime.routing.execute(
        system_actor("fixture"),
        lambda tx, engine: routing_actions.update_queue(
            tx,
            engine,
            queue_id=floor["callbacks"],
            name="回呼",
            settings={**settings, "channels": ["chat"]},
        ),
    )
    floor.clock.advance(301)
    assert floor.runtime.routing.run_due_jobs() == 1
    body = floor.client("lead").get(f"/api/contacts/{cb['id']}").json()
    assert body["status"] == "abandoned" and body["finished_at"] is not None
    assert [h["type"] for h in body["history"]] == ["scheduled", "callback_failed"]
    assert body["history"][-1]["data"] == {"reason": "queue_refuses_voice"}
    assert [j.status for j in _jobs(floor)] == ["done"]
    assert floor.count("audit_log", action="contact.callback_failed", object_id=cb["id"]) == 1


def test_a_failed_due_job_rolls_back_rebuilds_the_engine_and_is_retried(
    floor: Floor, monkeypatch: pytest.MonkeyPatch
) -> None:
    _voice_line(floor)
    original = _connected_call(floor)
    floor.ready("agent2")  # (offered the callback as it comes in: the engine changes)
    due = floor.clock.now() + dt.timedelta(minutes=5)
    cb = _callback(floor, "agent1", original, due_at=due.isoformat())
    rt = floor.runtime
    floor.clock.advance(300)

    append = SqlContactStore.append_history

    def broken(self: SqlContactStore, entries: Any) -> None:
        # fails once the engine has queued and offered it (record writes that history)
        if any(e.type == "offered" for e in entries):
            raise RuntimeError("disk full")
        append(self, entries)

    monkeypatch.setattr(SqlContactStore, "append_history", broken)
    generation = rt.routing.read(lambda engine: engine.generation)
    assert rt.routing.run_due_jobs() == 1
    # nothing of the attempt was kept; the engine, which had queued it, was rebuilt
    assert rt.routing.read(lambda engine: engine.generation) != generation
    assert rt.routing.snapshot() == rt.routing.snapshot_from_db()
    assert floor.client("lead").get(f"/api/contacts/{cb['id']}").json()["status"] == "scheduled"
    (job,) = _jobs(floor)
    assert job.status == "pending" and job.attempts == 1 and "disk full" in job.last_error
    assert job.due_at > floor.clock.now()  # retried with backoff

    monkeypatch.undo()
    assert rt.routing.run_due_jobs() == 0  # not yet
    floor.clock.advance(10)
    assert rt.routing.run_due_jobs() == 1
    body = floor.client("lead").get(f"/api/contacts/{cb['id']}").json()
    assert (body["status"], body["agent_id"]) == ("offered", floor["agent2"])
    assert [j.status for j in _jobs(floor)] == ["done"]


def test_a_timed_callback_is_promised_within_the_entry_points_business_hours(
    floor: Floor,
) -> None:
    # the test clock starts on Monday 2026-01-05 16:00 Beijing time; 96266 answers 08:30–18:00
    _voice_line(floor)
    mgr = floor.client("mgr")
    weekly = {d: [["08:30", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    cal = mgr.post(
        "/api/calendars",
        json={
            "code": "hotline",
            "name": "热线营业时间",
            "timezone": "Asia/Shanghai",
            "weekly": weekly,
        },
    ).json()
    r = mgr.patch(f"/api/entry-points/{floor.ids['96266']}", json={"calendar_id": cal["id"]})
    assert r.status_code == 200, r.text
    original = _connected_call(floor)
    contacts = floor.count("contacts")

    # 20:00 the same evening: closed; the answer names the next opening (Tuesday 08:30)
    problem = _callback(floor, "agent1", original, expect=422, due_at="2026-01-05T20:00:00+08:00")
    assert problem["key"] == "errors.contact.callback_outside_hours", problem
    assert problem["field"] == "due_at"
    assert problem["params"] == {"opens_at": "2026-01-06T00:30:00+00:00"}
    # Saturday: closed all day
    _callback(floor, "agent1", original, expect=422, due_at="2026-01-10T10:00:00+08:00")
    assert floor.count("contacts") == contacts and _jobs(floor) == []
    assert floor.me("agent1")["state"] == "busy"  # the call goes on

    # Tuesday 09:00: open
    callback = _callback(floor, "agent1", original, due_at="2026-01-06T09:00:00+08:00")
    assert callback["status"] == "scheduled"
    # moving it to a closed time is refused the same way, and changes nothing
    r = floor.client("agent1").post(
        f"/api/me/callbacks/{callback['id']}/move", json={"due_at": "2026-01-06T07:00:00+08:00"}
    )
    assert r.status_code == 422 and r.json()["key"] == "errors.contact.callback_outside_hours"
    mine = floor.client("agent1").get("/api/me/callbacks").json()["items"]
    assert [(c["id"], c["callback_due_at"]) for c in mine] == [
        (callback["id"], "2026-01-06T01:00:00Z")
    ], mine
