"""Standby nodes forward routing writes to the leader (multi-node on PostgreSQL, ADR 0007).

One node holds the routing lease; on the others a routing write ends in a 503 problem marked
`X-Hotline-Routing: standby`. This middleware buffers each write's body, and when the app
answers with that mark, replays the request on the leader (whose address the leader published
in `routing_flags`, see `RoutingService.leader_url`) and answers with the leader's response.
The replay carries the caller's credentials unchanged (sessions and tokens live in the shared
database) and `X-Hotline-Forwarded`, so a request is forwarded at most once. If the leader is
unknown or unreachable the 503 goes to the client, which retries.

The leader sees the standby's address as the client address (what it records for sessions
and audit); the original address travels in `X-Forwarded-For` for the logs only, since an
unauthenticated header must not decide what the audit trail says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.api.problems import STANDBY_HEADER

log = structlog.get_logger(__name__)

FORWARDED = "x-hotline-forwarded"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Hop-by-hop and recomputed headers are not copied between the two legs.
_DROP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "content-length",
        "host",
    }
)
_STANDBY = STANDBY_HEADER.lower().encode()


class ForwardToLeader:
    """Pure ASGI middleware; `leader_url()` is a blocking lookup (run in a thread)."""

    def __init__(
        self, app: ASGIApp, *, leader_url: Callable[[], str | None], timeout: float = 10.0
    ) -> None:
        self.app = app
        self.leader_url = leader_url
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READS:
            await self.app(scope, receive, send)
            return
        headers = [(k.decode("latin-1").lower(), v) for k, v in scope.get("headers", [])]
        if any(k == FORWARDED for k, _ in headers):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        held: list[Message] = []
        standby = False

        async def capture(message: Message) -> None:
            nonlocal standby
            if message["type"] == "http.response.start" and message["status"] == 503:
                standby = any(k.lower() == _STANDBY for k, _ in message.get("headers", []))
            if standby:
                held.append(message)
            else:
                await send(message)

        await self.app(scope, replay, capture)
        if not standby:
            return
        if not await self._forward(scope, headers, bytes(body), send):
            for message in held:
                await send(message)

    async def _forward(
        self, scope: Scope, headers: list[tuple[str, bytes]], body: bytes, send: Send
    ) -> bool:
        url = await run_in_threadpool(self.leader_url)
        if not url:
            return False
        target = url.rstrip("/") + scope.get("root_path", "") + scope["path"]
        query = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        out = [(k.encode("latin-1"), v) for k, v in headers if k not in _DROP]
        client_addr = scope.get("client")
        if client_addr:
            out.append((b"x-forwarded-for", str(client_addr[0]).encode()))
        out.append((FORWARDED.encode(), b"1"))
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            r = await self._client.request(scope["method"], target, headers=out, content=body)
        except httpx.HTTPError as exc:
            log.warning("forward to the routing leader failed", leader=url, error=repr(exc))
            return False
        response_headers: list[tuple[bytes, bytes]] = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in r.headers.multi_items()
            if k.lower() not in _DROP and k.lower() != "content-encoding"
        ]
        content = r.content  # decoded: content-encoding is dropped above
        response_headers.append((b"content-length", str(len(content)).encode()))
        start: dict[str, Any] = {
            "type": "http.response.start",
            "status": r.status_code,
            "headers": response_headers,
        }
        await send(start)
        await send({"type": "http.response.body", "body": content, "more_body": False})
        return True
