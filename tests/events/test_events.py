"""The live event stream contract, against a real server (uvicorn in a thread) and real SSE.

- an event reaches subscribers only once its action commits; a rolled-back action emits nothing;
- `Last-Event-ID` (or `?since=`) resumes with exactly the missed events, in order; without it
  the stream starts at the present;
- heartbeats while idle; the session is re-checked, so a disabled user's stream ends;
- each subscriber sees only what its permissions and org scope allow (or what is addressed to
  them), and the initial state plus the applied events equals a fresh fetch.

Negative assertions ("did not receive X") are made deterministic with a marker event that every
subscriber may see, committed after X: event ids follow commit order and the stream delivers in
id order, so once a subscriber has the marker it has had every earlier event it will ever get.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hotline.core.clock import ManualClock
from hotline.core.context import system_actor
from hotline.core.events import Event
from hotline.domains.identity import actions
from hotline.infra.db.schema import outbox
from hotline.infra.runtime import Runtime
from live_server import LiveServer

PASSWORD = "Str0ng-Passw0rd!"
READ_TIMEOUT = 5.0  # no single socket read may block longer than this


# --- a tiny SSE client -----------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    event: str
    data: str
    id: int | None

    @property
    def json(self) -> Any:
        return json.loads(self.data)


@dataclass(frozen=True)
class Comment:
    text: str


def parse_sse(lines: Iterable[str]) -> Iterator[Message | Comment]:
    """Server-Sent Events framing: `field: value` lines, a blank line dispatches, `:` comments."""
    event: str | None = None
    data: list[str] = []
    msg_id: int | None = None
    for line in lines:
        if line == "":
            if data or event is not None:
                yield Message(event or "message", "\n".join(data), msg_id)
            event, data, msg_id = None, [], None
        elif line.startswith(":"):
            yield Comment(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                msg_id = int(value)
            # `retry` and unknown fields are ignored, as a browser would


class Subscriber:
    """One GET /api/events connection, read synchronously with every read bounded."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        last_event_id: int | None = None,
        since: int | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        params = {"since": since} if since is not None else {}
        self._client = httpx.Client(
            base_url=base_url, timeout=httpx.Timeout(5.0, read=read_timeout)
        )
        self._cm = self._client.stream("GET", "/api/events", headers=headers, params=params)
        self.response = self._cm.__enter__()
        self.comments: list[str] = []
        self.ended = False
        if self.response.status_code != 200:
            body = self.response.read().decode()
            self.close()
            raise AssertionError(f"GET /api/events: {self.response.status_code} {body}")
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self._items = parse_sse(self.response.iter_lines())
        first = self._next()
        assert isinstance(first, Comment) and first.text.startswith("connected at "), first
        self.connected_at = int(first.text.removeprefix("connected at "))

    def _next(self) -> Message | Comment | None:
        if self.ended:
            return None
        try:
            item = next(self._items)
        except (StopIteration, httpx.RemoteProtocolError):
            self.ended = True
            return None
        if isinstance(item, Comment):
            self.comments.append(item.text)
        return item

    def until(self, pred: Callable[[Message], bool], timeout: float = 5.0) -> list[Message]:
        """Messages up to and including the first matching `pred`."""
        deadline = time.monotonic() + timeout
        got: list[Message] = []
        while time.monotonic() < deadline:
            item = self._next()
            if item is None:
                raise AssertionError(f"stream ended before the expected message; got {brief(got)}")
            if isinstance(item, Message):
                got.append(item)
                if pred(item):
                    return got
        raise AssertionError(f"no expected message within {timeout}s; got {brief(got)}")

    def until_marker(self, n: int, timeout: float = 5.0) -> list[Message]:
        """Messages before marker `n` (the marker itself left out)."""
        got = self.until(
            lambda m: m.event == "test.marker" and m.json["payload"]["n"] == n, timeout
        )
        return got[:-1]

    def until_end(self, timeout: float) -> list[Message]:
        """Messages until the stream closes; raises if it is still open after `timeout`."""
        deadline = time.monotonic() + timeout
        got: list[Message] = []
        while time.monotonic() < deadline:
            item = self._next()
            if item is None:
                return got
            if isinstance(item, Message):
                got.append(item)
        raise AssertionError(
            f"stream still open after {timeout}s; got {len(got)}, last {brief(got)}"
        )

    def close(self) -> None:
        self._cm.__exit__(None, None, None)
        self._client.close()


# --- a real server: tests/live_server.py ------------------------------------------------


class Live:
    """The running server plus helpers: sign in over HTTP, call the API, subscribe."""

    def __init__(self, url: str, org: Any, clock: ManualClock, runtime: Runtime) -> None:
        self.url = url
        self.org = org
        self.clock = clock
        self.runtime = runtime
        self._subscribers: list[Subscriber] = []
        self._clients: list[httpx.Client] = []
        self._markers = 0

    def token(self, username: str) -> str:
        body = {"username": username, "password": PASSWORD}
        code = self.org.totp(username)
        if code:
            body["totp_code"] = code
            self.clock.advance(30)  # a later sign-in of the same user needs a fresh TOTP step
        r = httpx.post(f"{self.url}/api/auth/login", json=body, timeout=10)
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def api(self, username: str) -> httpx.Client:
        c = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token(username)}"},
            timeout=10,
        )
        self._clients.append(c)
        return c

    def subscribe(self, who: str, *, as_token: bool = False, **kw: Any) -> Subscriber:
        s = Subscriber(self.url, who if as_token else self.token(who), **kw)
        self._subscribers.append(s)
        return s

    def emit(self, event: Event) -> None:
        with self.runtime.db.transaction(actor=system_actor("test")) as tx:
            tx.emit(event)

    def marker(self) -> int:
        """Commit an event every signed-in subscriber here may see (all roles used hold
        org:read); returns its number for `Subscriber.until_marker`."""
        self._markers += 1
        self.emit(Event(type="test.marker", payload={"n": self._markers}, permission="org:read"))
        return self._markers

    def close(self) -> None:
        for s in self._subscribers:
            s.close()
        for c in self._clients:
            c.close()


@pytest.fixture
def live(app: Any, org: Any, clock: ManualClock, runtime: Runtime) -> Iterator[Live]:
    server = LiveServer(app)
    server.start()
    lv = Live(server.url, org, clock, runtime)
    try:
        yield lv
    finally:
        lv.close()  # open streams would hold up a graceful shutdown
        server.stop()


# --- helpers ---------------------------------------------------------------------------------
def create_user_http(api: httpx.Client, username: str, org_unit_id: str) -> str:
    r = api.post(
        "/api/users",
        json={
            "username": username,
            "display_name": username.title(),
            "org_unit_id": org_unit_id,
            "password": PASSWORD,
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def create_user_direct(runtime: Runtime, username: str, org_unit_id: str) -> str:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        user = actions.create_user(
            tx,
            runtime.policy(),
            username=username,
            display_name=username.title(),
            org_unit_id=org_unit_id,
            password=PASSWORD,
        )
    return user.id


def outbox_ids(runtime: Runtime, type_: str) -> list[int]:
    with runtime.db.read() as conn:
        return list(
            conn.execute(
                sa.select(outbox.c.id).where(outbox.c.type == type_).order_by(outbox.c.id)
            ).scalars()
        )


def brief(messages: list[Message]) -> list[str]:
    return [f"{m.id}:{m.event}" for m in messages][-20:]


def ids_of(messages: list[Message]) -> list[int]:
    ids = [m.id for m in messages]
    assert None not in ids, "every event carries an id"
    return [i for i in ids if i is not None]


def of_type(messages: list[Message], type_: str) -> list[Message]:
    return [m for m in messages if m.event == type_]


# --- delivery ----------------------------------------------------------------------------------
def test_committed_event_reaches_subscriber(live: Live, org: Any) -> None:
    org.user("root", "system_admin")
    org.user("lead", "team_lead", unit="center")
    admin = live.api("root")
    sub = live.subscribe("lead")

    user_id = create_user_http(admin, "alice", org.team_a.id)

    [msg] = sub.until(lambda m: m.event == "user.created")
    body = msg.json
    assert msg.id is not None and body["id"] == msg.id
    assert msg.id > sub.connected_at
    assert body["type"] == "user.created"
    assert body["object_type"] == "user" and body["object_id"] == user_id
    assert body["payload"] == {"id": user_id, "username": "alice", "status": "active"}
    assert outbox_ids(live.runtime, "user.created")[-1] == msg.id


def test_rolled_back_action_emits_nothing(live: Live, org: Any, runtime: Runtime) -> None:
    org.user("lead", "team_lead", unit="group")
    org.user("root", "system_admin")
    admin = live.api("root")
    sub = live.subscribe("lead")
    before = outbox_ids(runtime, "user.created")
    generation = runtime.notifier.generation

    with pytest.raises(RuntimeError, match="after the event"):
        with runtime.db.transaction(actor=system_actor("test")) as tx:
            actions.create_user(
                tx,
                runtime.policy(),
                username="ghost",
                display_name="Ghost",
                org_unit_id=org.team_a.id,
                password=PASSWORD,
            )
            assert tx._events, "create_user queued its event"
            raise RuntimeError("failure after the event was emitted")

    assert runtime.notifier.generation == generation  # no wake-up for a rollback
    assert outbox_ids(runtime, "user.created") == before  # nothing in the outbox
    # A failing request (duplicate username, rejected inside the action) emits nothing either.
    r = admin.post(
        "/api/users",
        json={
            "username": "lead",
            "display_name": "Dup",
            "org_unit_id": org.team_a.id,
            "password": PASSWORD,
        },
    )
    assert r.status_code == 409, r.text

    n = live.marker()
    assert sub.until_marker(n) == []


def test_concurrent_commits_are_all_delivered_in_order(live: Live, org: Any) -> None:
    """Writers in several threads (connections): none lost, ids strictly increasing.
    If ids did not follow commit order, a stream could move past an id still uncommitted."""
    org.user("lead", "team_lead", unit="group")
    sub = live.subscribe("lead")
    threads, per_thread = 4, 15

    def writer(t: int) -> None:
        for i in range(per_thread):
            live.emit(Event(type="test.burst", payload={"t": t, "i": i}, permission="org:read"))

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    got: list[Message] = []
    while len(got) < threads * per_thread:
        got += of_type(sub.until(lambda m: m.event == "test.burst"), "test.burst")
    ids = ids_of(got)
    assert ids == sorted(set(ids)) == outbox_ids(live.runtime, "test.burst")
    for t in range(threads):  # each writer's events in its own commit order
        assert [m.json["payload"]["i"] for m in got if m.json["payload"]["t"] == t] == list(
            range(per_thread)
        )


# --- resume ----------------------------------------------------------------------------------
def test_resume_with_last_event_id_gets_exactly_the_missed_events(
    live: Live, org: Any, runtime: Runtime
) -> None:
    org.user("lead", "team_lead", unit="group")
    token = live.token("lead")
    sub = live.subscribe(token, as_token=True)
    create_user_direct(runtime, "u1", org.team_a.id)
    create_user_direct(runtime, "u2", org.team_b.id)
    seen = sub.until(lambda m: m.json["payload"]["username"] == "u2")
    assert [m.json["payload"]["username"] for m in seen] == ["u1", "u2"]
    last_seen = seen[-1].id
    assert last_seen is not None
    sub.close()

    missed = [create_user_direct(runtime, f"m{i}", org.team_a.id) for i in range(3)]
    live.emit(Event(type="test.other", payload={}, permission="org:read"))

    again = live.subscribe(token, as_token=True, last_event_id=last_seen)
    got = again.until_marker(live.marker())
    assert [m.event for m in got] == ["user.created"] * 3 + ["test.other"]
    assert [m.json["object_id"] for m in got[:3]] == missed
    ids = ids_of(got)
    assert ids == sorted(set(ids)) and min(ids) > last_seen

    # `?since=` is the same resume point for clients that cannot set the header.
    via_query = live.subscribe(token, as_token=True, since=last_seen)
    got_q = via_query.until(lambda m: m.event == "test.marker")
    assert ids_of(got_q[:-1]) == ids

    # A live stream goes on from there: the next event once, nothing before it again.
    create_user_direct(runtime, "after", org.team_a.id)
    [m] = again.until(lambda m: m.event == "user.created")
    assert m.json["payload"]["username"] == "after"


def test_resume_over_more_than_one_batch(live: Live, org: Any) -> None:
    """The stream reads the log in batches of 500: a long gap must still come through whole."""
    org.user("lead", "team_lead", unit="group")
    token = live.token("lead")
    start = live.subscribe(token, as_token=True).connected_at
    with live.runtime.db.transaction(actor=system_actor("test")) as tx:
        for i in range(1200):
            tx.emit(Event(type="test.bulk", payload={"i": i}, permission="org:read"))
    sub = live.subscribe(token, as_token=True, last_event_id=start)
    got = sub.until_marker(live.marker(), timeout=20)
    assert [m.json["payload"]["i"] for m in got] == list(range(1200))
    assert ids_of(got) == outbox_ids(live.runtime, "test.bulk")


def test_without_last_event_id_the_stream_starts_at_the_present(
    live: Live, org: Any, runtime: Runtime
) -> None:
    org.user("lead", "team_lead", unit="group")
    create_user_direct(runtime, "old1", org.team_a.id)
    create_user_direct(runtime, "old2", org.team_a.id)
    sub = live.subscribe("lead")
    assert sub.connected_at == outbox_ids(runtime, "user.created")[-1]
    create_user_direct(runtime, "new1", org.team_a.id)
    got = sub.until_marker(live.marker())
    assert [m.json["payload"]["username"] for m in got] == ["new1"]


# --- heartbeats and session end --------------------------------------------------------------
def test_heartbeat_comments_arrive_while_idle(live: Live, org: Any, settings: Any) -> None:
    org.user("agent", "agent", unit="team-a")
    sub = live.subscribe("agent")
    period = settings.sse_heartbeat_seconds
    t0 = time.monotonic()
    while sum(c.startswith("heartbeat") for c in sub.comments) < 3:
        item = sub._next()
        assert item is not None, "stream ended"
        assert not isinstance(item, Message), item
        assert time.monotonic() - t0 < 8 * period, "too few heartbeats"
    assert time.monotonic() - t0 >= 2 * period  # paced, not a busy loop
    assert sub.comments[-1] == f"heartbeat {sub.connected_at}"


def _ended(messages: list[Message]) -> list[Message]:
    """What a stream delivered before it ended (minus the final session_ended, checked)."""
    if messages and messages[-1].event == "session_ended":
        return messages[:-1]
    return messages


def test_disabled_user_stream_ends(live: Live, org: Any, settings: Any) -> None:
    org.user("root", "system_admin")
    agent_id = org.user("agent", "agent", unit="team-a")
    admin = live.api("root")
    sub = live.subscribe("agent")
    sub.until_marker(live.marker())  # streaming

    r = admin.post(f"/api/users/{agent_id}/disable")
    assert r.status_code == 200, r.text
    t0 = time.monotonic()  # committed
    got = sub.until_end(timeout=5 * settings.sse_heartbeat_seconds + 1)
    assert time.monotonic() - t0 <= 4 * settings.sse_heartbeat_seconds + 1
    assert [m.event for m in got] in (["session_ended"], [])


def test_disabled_user_stream_ends_even_while_events_keep_flowing(
    live: Live, org: Any, settings: Any
) -> None:
    """A busy stream never idles for a whole heartbeat; the session must be re-checked anyway,
    or a disabled (离职) user keeps receiving live events for as long as others are busy."""
    org.user("root", "system_admin")
    agent_id = org.user("agent", "agent", unit="team-a")
    admin = live.api("root")
    sub = live.subscribe("agent")
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            live.emit(Event(type="test.tick", payload={}, permission="org:read"))
            stop.wait(settings.sse_heartbeat_seconds / 5)

    ticker = threading.Thread(target=busy, daemon=True)
    ticker.start()
    try:
        sub.until(lambda m: m.event == "test.tick")
        r = admin.post(f"/api/users/{agent_id}/disable")
        assert r.status_code == 200, r.text
        t0 = time.monotonic()  # committed
        got = sub.until_end(timeout=8 * settings.sse_heartbeat_seconds + 1)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        ticker.join(10)
    assert elapsed <= 4 * settings.sse_heartbeat_seconds + 1
    assert got and got[-1].event == "session_ended"
    assert {m.event for m in _ended(got)} <= {"test.tick"}


def test_logged_out_session_stream_ends(live: Live, org: Any, settings: Any) -> None:
    org.user("agent", "agent", unit="team-a")
    token = live.token("agent")
    sub = live.subscribe(token, as_token=True)
    r = httpx.post(f"{live.url}/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204, r.text
    got = sub.until_end(timeout=5 * settings.sse_heartbeat_seconds + 1)
    assert [m.event for m in got] in (["session_ended"], [])
    # and a new stream with that token is refused
    with pytest.raises(AssertionError, match="401"):
        Subscriber(live.url, token)


# --- per-user filtering ------------------------------------------------------------------------
def test_events_are_filtered_by_permission_and_scope(
    live: Live, org: Any, runtime: Runtime
) -> None:
    org.user("root", "system_admin")
    org.user("lead_a", "team_lead", unit="team-a")
    org.user("lead_center", "team_lead", unit="center")
    org.user("agent_a", "agent", unit="team-a")
    admin = live.api("root")
    subs = {name: live.subscribe(name) for name in ("lead_a", "lead_center", "agent_a")}

    in_a = create_user_http(admin, "in-a", org.team_a.id)
    in_b = create_user_http(admin, "in-b", org.team_b.id)
    in_branch = create_user_direct(runtime, "in-branch", org.branch.id)
    n = live.marker()
    got = {
        name: [m.json["object_id"] for m in of_type(s.until_marker(n), "user.created")]
        for name, s in subs.items()
    }

    assert got["lead_a"] == [in_a]  # team-a only, not team-b
    assert got["lead_center"] == [in_a, in_b]  # the center covers both teams, not the branch
    assert in_branch not in got["lead_center"]
    assert got["agent_a"] == []  # no user:read at all


def test_event_addressed_to_a_user_reaches_only_them(live: Live, org: Any) -> None:
    agent_a = org.user("agent_a", "agent", unit="team-a")
    org.user("agent_a2", "agent", unit="team-a")
    org.user("lead_a", "team_lead", unit="team-a")
    org.user("agent_b", "agent", unit="team-b")
    subs = {n: live.subscribe(n) for n in ("agent_a", "agent_a2", "lead_a", "agent_b")}

    # Addressed to agent_a; no subscriber holds the permission.
    live.emit(
        Event(
            type="test.direct",
            payload={"to": "agent_a"},
            permission="system:manage",
            user_id=agent_a,
        )
    )
    # Addressed to agent_a, and visible to holders of user:read over team-a (the lead).
    live.emit(
        Event(
            type="test.direct_and_scope",
            payload={},
            permission="user:read",
            org_unit_path=org.team_a.path,
            user_id=agent_a,
        )
    )
    n = live.marker()
    got = {name: [m.event for m in s.until_marker(n)] for name, s in subs.items()}
    assert got == {
        "agent_a": ["test.direct", "test.direct_and_scope"],
        "agent_a2": [],
        "lead_a": ["test.direct_and_scope"],
        "agent_b": [],
    }


def test_revoked_permission_stops_applying_to_an_open_stream(
    live: Live, org: Any, runtime: Runtime, settings: Any
) -> None:
    """The session re-check at the heartbeat also refreshes what the subscriber may see."""
    lead = org.user("lead", "team_lead", unit="team-a")
    sub = live.subscribe("lead")
    create_user_direct(runtime, "seen", org.team_a.id)
    assert [
        m.json["payload"]["username"]
        for m in of_type(sub.until_marker(live.marker()), "user.created")
    ] == ["seen"]

    with runtime.db.transaction(actor=system_actor("test")) as tx:
        [grant] = tx.identity.grants_of(lead)
        # still signed in and still holding org:read (the markers), but no longer user:read
        actions.grant_role(tx, user_id=lead, role="agent", org_unit_id=org.team_a.id)
        actions.revoke_grant(tx, grant_id=grant.id)
    # let the stream pass at least two heartbeats (its session re-checks)
    t0 = time.monotonic()
    while sum(c.startswith("heartbeat") for c in sub.comments) < 2:
        assert sub._next() is not None
        assert time.monotonic() - t0 < 10 * settings.sse_heartbeat_seconds
    create_user_direct(runtime, "unseen", org.team_a.id)
    assert of_type(sub.until_marker(live.marker()), "user.created") == []


# --- initial state + applied events == a fresh fetch ------------------------------------------
def _fetch_users(api: httpx.Client) -> dict[str, str]:
    r = api.get("/api/users", params={"limit": 200})
    assert r.status_code == 200, r.text
    assert r.json()["next_after"] is None
    return {u["id"]: u["status"] for u in r.json()["items"]}


def test_initial_state_plus_events_equals_fresh_fetch(
    live: Live, org: Any, runtime: Runtime
) -> None:
    org.user("root", "system_admin")
    org.user("lead", "team_lead", unit="team-a")
    existing = org.user("existing", "agent", unit="team-a")
    org.user("other", "agent", unit="team-b")
    admin = live.api("root")
    lead = live.api("lead")

    state = _fetch_users(lead)
    assert existing in state
    sub = live.subscribe("lead")

    a1 = create_user_http(admin, "a1", org.team_a.id)
    a2 = create_user_http(admin, "a2", org.team_a.id)
    b1 = create_user_http(admin, "b1", org.team_b.id)
    for uid in (a1, existing, b1):
        assert admin.post(f"/api/users/{uid}/disable").status_code == 200
    assert admin.post(f"/api/users/{a1}/enable").status_code == 200
    assert admin.post(f"/api/users/{a2}/disable").status_code == 200
    assert admin.post(f"/api/users/{a2}/disable").status_code == 200  # no-op: no event
    r = admin.post(f"/api/users/{b1}/enable")
    assert r.status_code == 200
    with pytest.raises(RuntimeError):  # rolled back: must not show up in the stream
        with runtime.db.transaction(actor=system_actor("test")) as tx:
            actions.disable_user(tx, user_id=a1)
            raise RuntimeError

    applied = dict(state)
    for m in sub.until_marker(live.marker()):
        if not m.event.startswith("user."):
            continue
        payload = m.json["payload"]
        if m.event == "user.created":
            applied[payload["id"]] = payload["status"]
        else:
            assert payload["id"] in applied, m  # an update for a user never seen
            applied[payload["id"]] = payload["status"]

    fresh = _fetch_users(lead)
    assert applied == fresh
    assert fresh[a1] == "active" and fresh[a2] == "disabled" and fresh[existing] == "disabled"
    assert b1 not in fresh
