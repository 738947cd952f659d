"""The live event stream (Server-Sent Events) with `Last-Event-ID` resume and heartbeats."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse

from hotline.api.security import AUTHENTICATED, ActorDep, RuntimeDep, SecureRouter, authenticate
from hotline.core.context import Actor
from hotline.core.errors import HotlineError
from hotline.infra.events.stream import latest_id

router = SecureRouter(prefix="/api", tags=["events"])


@router.get(
    "/events",
    permission=AUTHENTICATED,
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "event stream"}},
)
async def events(
    request: Request,
    actor: ActorDep,
    rt: RuntimeDep,
    last_event_id: Annotated[int | None, Header(ge=0, le=2**63 - 1)] = None,
    since: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="resume after this event id")
    ] = None,
) -> StreamingResponse:
    """Events the caller may see, as they are committed. Resume with `Last-Event-ID` (or
    `?since=`); without either the stream starts at the present. A comment line is sent as a
    heartbeat; the stream ends when the session does."""
    start = last_event_id if last_event_id is not None else since
    if start is None:
        start = await anyio.to_thread.run_sync(latest_id, rt.db)
    heartbeat = rt.settings.sse_heartbeat_seconds

    async def recheck() -> Actor | None:
        """The caller as of now (grants may have changed), or None once the session is over."""
        request.state.actor = None
        try:
            return await anyio.to_thread.run_sync(
                functools.partial(authenticate, request, activity=False)
            )
        except HotlineError:
            return None

    async def stream() -> AsyncIterator[str]:
        viewer = actor
        cursor = start
        checked = time.monotonic()
        yield f"retry: 2000\n: connected at {cursor}\n\n"
        while True:
            generation = rt.notifier.generation
            before = cursor
            # Memory usually has the rows (another stream's wake read them): no thread hop.
            found = rt.outbox_tail.in_memory(viewer, cursor)
            if found is None:
                found = await anyio.to_thread.run_sync(rt.outbox_tail.after, viewer, cursor)
            batch, cursor = found
            if batch:  # one write for all the frames of this wake
                yield "".join(f"id: {d.id}\nevent: {d.type}\ndata: {d.data}\n\n" for d in batch)
            woke = True
            if cursor == before:
                if await request.is_disconnected():
                    return
                woke = await rt.notifier.wait(generation, heartbeat)
            # Re-check the session at each heartbeat, and at least as often on a busy stream
            # (which never idles for a whole heartbeat): a disabled user's stream ends, and
            # revoked permissions stop applying to it.
            if not woke or time.monotonic() - checked >= heartbeat:
                current = await recheck()
                if current is None:
                    yield "event: session_ended\ndata: {}\n\n"
                    return
                viewer = current
                checked = time.monotonic()
            if not woke:
                yield f": heartbeat {cursor}\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
