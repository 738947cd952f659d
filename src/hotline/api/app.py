"""The FastAPI application: `create_app(settings)`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.routing import APIRoute

from hotline.api import (
    audit,
    calendars,
    contacts,
    customers,
    events,
    identity,
    problems,
    routing,
    stats,
    system,
    web,
    workforce,
)
from hotline.api.forwarding import ForwardToLeader
from hotline.core.context import system_actor
from hotline.domains.stats.jobs import schedule_prune as schedule_stats_prune
from hotline.domains.stats.jobs import schedule_publish as schedule_stats_publish
from hotline.infra.events.pg_listener import PgListener
from hotline.infra.jobs.registry import build_registry, schedule_audit_checkpoint
from hotline.infra.jobs.worker import Worker, WorkerThread
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. With `runtime` given (tests), the caller owns its lifetime."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        listener = None
        if not rt.settings.is_sqlite:
            listener = PgListener(rt.settings.database_url, rt.notifier)
            listener.start()
        worker = None
        if rt.settings.run_worker:
            registry = build_registry(rt.settings)
            with rt.db.transaction(actor=system_actor("worker")) as tx:
                schedule_audit_checkpoint(tx, rt.settings)
                schedule_stats_publish(tx, delay=0)  # live statistics rows (ADR 0008)
                schedule_stats_prune(tx)
            worker = WorkerThread(Worker.from_settings(rt.db, registry, rt.settings))
            worker.start()
        # The routing engine: rebuilt from the database now; its timers tick on a thread where
        # background loops run (tests drive `rt.routing.tick()` themselves).
        rt.routing.start()
        if rt.settings.run_worker:
            rt.routing.start_ticker()
        try:
            yield
        finally:
            rt.routing.stop_ticker()
            if worker:
                worker.stop()
            if listener:
                listener.stop()
            if owned:
                rt.close()

    app = FastAPI(
        title="hotline",
        version="0.1.0",
        description="Contact center with built-in safe operations (呼叫中心 + 安全运营).",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.state.metrics = system.Metrics()
    app.add_middleware(system.MetricsMiddleware)
    # Standby nodes replay routing writes on the leader (PostgreSQL, several nodes).
    app.add_middleware(ForwardToLeader, leader_url=lambda: app.state.runtime.routing.leader_url())
    problems.install(app)
    for router in ROUTERS:
        app.include_router(router)
    web.mount_web(app)  # the built web UI (hotline/web/dist), after every API route
    return app


ROUTERS = [
    system.router,
    identity.router,
    customers.router,
    audit.router,
    workforce.router,
    routing.router,
    contacts.router,
    calendars.router,
    stats.router,
    events.router,
]


def api_routes() -> list[APIRoute]:
    """Every API route hotline serves (the route × role matrix test walks these)."""
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
