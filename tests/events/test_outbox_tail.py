"""The process's shared reader of the event log answers every stream exactly what reading the
table itself would (`fetch_after`): for any cursor, any viewer, after trimming, and for a
stream resuming from before what memory holds."""

from __future__ import annotations

import random
from typing import Any

from hotline.core.context import Actor, Grant, system_actor
from hotline.core.events import Event
from hotline.infra.events.stream import OutboxTail, fetch_after
from hotline.infra.runtime import Runtime


def _emit(runtime: Runtime, n: int, rnd: random.Random, org: Any) -> None:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        for i in range(n):
            kind = rnd.choice(["all", "scoped", "addressed"])
            tx.emit(
                Event(
                    type=f"test.{kind}",
                    payload={"i": i},
                    permission="org:read",
                    org_unit_path=org.team_a.path if kind == "scoped" else None,
                    user_id="u-1" if kind == "addressed" else None,
                )
            )


def test_tail_answers_like_the_table(runtime: Runtime, org: Any) -> None:
    rnd = random.Random(7)
    tail = OutboxTail(runtime.db, runtime.notifier, keep=20, batch=7)
    viewers = [
        system_actor("all"),
        Actor(
            user_id="u-1",
            username="u1",
            grants=(Grant("agent", org.team_b.path, frozenset({"agent:self"})),),
        ),
        Actor(
            user_id="u-2",
            username="u2",
            grants=(Grant("team_lead", org.team_a.path, frozenset({"org:read"})),),
        ),
    ]
    start = tail.after(viewers[0], 0)[1]  # the tail starts at the present
    for _round in range(6):
        _emit(runtime, rnd.randint(1, 25), rnd, org)
        high = fetch_after(runtime.db, viewers[0], 0, limit=10_000)[1]
        for viewer in viewers:
            for cursor in {0, start, max(0, high - 30), high - 3, high, rnd.randint(0, high)}:
                got = tail.after(viewer, cursor, limit=9)
                want = fetch_after(runtime.db, viewer, cursor, limit=9)
                assert got == want, (viewer.username, cursor)
        # the tail read what the table holds, and trimmed to about `keep` rows
        assert tail.after(viewers[0], high)[1] == high
        assert len(tail._rows) <= 30 and tail._high == high
