"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time

import sqlalchemy as sa
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.api.security import PUBLIC, RuntimeDep, SecureRouter
from hotline.infra.db import migrate

router = SecureRouter(tags=["system"])


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    database: str
    revision: str | None


@router.get("/healthz", permission=PUBLIC, response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", permission=PUBLIC, response_model=Ready, responses={503: {"model": Ready}})
def readyz(rt: RuntimeDep) -> Ready | JSONResponse:
    """The database answers and is migrated to the code's revision."""
    try:
        with rt.db.read() as conn:
            conn.execute(sa.text("SELECT 1"))
        current = migrate.current_revision(rt.engine)
    except sa.exc.SQLAlchemyError:
        return JSONResponse(
            {"status": "unavailable", "database": "down", "revision": None}, status_code=503
        )
    head = migrate.head_revision(rt.engine)
    if current != head:
        return JSONResponse(
            {"status": "migrating", "database": "up", "revision": current}, status_code=503
        )
    return Ready(status="ready", database="up", revision=current)


@router.get(
    "/metrics",
    permission=PUBLIC,
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    registry: CollectorRegistry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class Metrics:
    """Per-app registry, so two apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hotline_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hotline_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )


class MetricsMiddleware:
    """Counts requests and their latency to the response's start, per route template. Pure
    ASGI: `BaseHTTPMiddleware` costs a task and a memory stream per request (about a tenth
    of a cheap request's CPU) and sits between every streamed event and the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The router has put the matched route into this same scope by now.
                name = getattr(scope.get("route"), "path", "unmatched")
                m: Metrics = scope["app"].state.metrics
                method = scope["method"]
                m.requests.labels(method, name, str(message["status"])).inc()
                if name != "/api/events":
                    m.latency.labels(method, name).observe(time.perf_counter() - start)
            await send(message)

        await self.app(scope, receive, observe)
