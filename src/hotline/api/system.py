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
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

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


class MetricsMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        m: Metrics = request.app.state.metrics
        m.requests.labels(request.method, name, str(response.status_code)).inc()
        if name != "/api/events":
            m.latency.labels(request.method, name).observe(time.perf_counter() - start)
        return response
