"""Timers of contacts. They act on the routing engine, so the routing service runs them, not
the general worker: only the node that routes may change the engine, under its lock, in one
transaction with the engine's events (see `infra/routing/service.RoutingService.run_due_jobs`).

They still are ordinary durable jobs (`core/jobs.py`): scheduled in the action's transaction,
claimed under a lease, retried with backoff, done together with their effects. That is why
this module declares `ENGINE_JOBS` and no `JOBS`: the general worker must never claim them.

`contacts.callback_due`: a callback an agent scheduled for a time comes into its queue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from hotline.core.errors import NotFound
from hotline.core.jobs import PermanentFailure, RetryPolicy
from hotline.domains.contacts.actions import CALLBACK_DUE_JOB, callback_due
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.ports import RoutingTx

CALLBACK_DUE = CALLBACK_DUE_JOB

# A job that needs the routing engine: the routing service hands it its transaction and engine.
EngineJobHandler = Callable[[RoutingTx, RoutingEngine, Mapping[str, Any]], None]
# A callback is due at a promised time: retry soon, and not for long.
ENGINE_JOB_RETRY = RetryPolicy(base_seconds=5, max_seconds=300)


def callback_due_job(tx: RoutingTx, engine: RoutingEngine, payload: Mapping[str, Any]) -> None:
    """Bring the scheduled callback `payload["contact_id"]` into its queue."""
    contact_id = payload.get("contact_id")
    if not isinstance(contact_id, str) or not contact_id:
        raise PermanentFailure(f"{CALLBACK_DUE} needs a contact_id, got {payload!r}")
    try:
        callback_due(tx, engine, contact_id=contact_id)
    except NotFound as exc:  # gone: nothing will bring it back, retrying cannot help
        raise PermanentFailure(f"callback {contact_id}: {exc.message}") from exc


ENGINE_JOBS: Mapping[str, EngineJobHandler] = MappingProxyType({CALLBACK_DUE: callback_due_job})
