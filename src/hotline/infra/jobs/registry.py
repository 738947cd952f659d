"""The process-wide job registry: built-in system kinds plus every domain's `jobs.py`.

A domain declares its timers in `hotline/domains/<name>/jobs.py` as a module-level
`JOBS = JobRegistry()`; `build_registry` finds those modules by walking `hotline.domains`, so a
new domain needs no edit here.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import pkgutil
from collections.abc import Iterable, Mapping
from typing import Any

import hotline.domains
from hotline.core.jobs import JobRegistry, RetryPolicy
from hotline.infra.db.database import Tx
from hotline.settings import Settings

NOOP = "system.noop"
AUDIT_CHECKPOINT = "system.audit_checkpoint"
CHECKPOINT_MODULE = "hotline.infra.audit.checkpoint"


def _noop(tx: Tx, payload: Mapping[str, Any]) -> None:
    """Does nothing: smoke tests and health checks of the worker loop."""


def system_jobs(settings: Settings) -> JobRegistry:
    """The infrastructure's own kinds (`system.*`)."""
    registry = JobRegistry()
    registry.register(NOOP, _noop)
    try:
        importlib.import_module(CHECKPOINT_MODULE)
    except ImportError:
        # The audit checkpoint module is optional here: without it there is nothing to sign.
        pass
    else:

        def audit_checkpoint(tx: Tx, payload: Mapping[str, Any]) -> None:
            """Sign an audit checkpoint when enough rows have accumulated since the last."""
            from hotline.infra.audit.checkpoint import maybe_checkpoint

            maybe_checkpoint(tx.conn, settings, clock=tx.clock)
            # Periodic: the running job frees its key, so it can set the next one.
            schedule_audit_checkpoint(tx, settings)

        registry.register(
            AUDIT_CHECKPOINT, audit_checkpoint, retry=RetryPolicy(base_seconds=30, max_seconds=600)
        )
    return registry


def schedule_audit_checkpoint(tx: Tx, settings: Settings) -> None:
    """Make sure one checkpoint timer is pending (idempotent: one dedupe key)."""
    tx.jobs.schedule(
        AUDIT_CHECKPOINT,
        {},
        due_at=tx.clock.now() + dt.timedelta(seconds=settings.audit_checkpoint_seconds),
        dedupe_key=AUDIT_CHECKPOINT,
    )


def domain_jobs() -> list[JobRegistry]:
    """The `JOBS` registry of each domain package that has a `jobs` module."""
    found: list[JobRegistry] = []
    for info in sorted(pkgutil.iter_modules(hotline.domains.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        name = f"hotline.domains.{info.name}.jobs"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)  # an import error in a domain is a bug: raise
        jobs = getattr(module, "JOBS", None)
        if jobs is None:
            continue
        if not isinstance(jobs, JobRegistry):
            raise TypeError(f"{name}.JOBS must be a hotline.core.jobs.JobRegistry")
        found.append(jobs)
    return found


def build_registry(settings: Settings, *, extra: Iterable[JobRegistry] = ()) -> JobRegistry:
    """Everything this process can run: system kinds, domain kinds, then `extra` (tests)."""
    registry = system_jobs(settings)
    for part in [*domain_jobs(), *extra]:
        registry.include(part)
    return registry
