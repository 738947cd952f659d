"""The audit log viewer's API (auditors)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel

from hotline.api.security import ActorDep, RuntimeDep, SecureRouter
from hotline.domains.audit.queries import list_audit
from hotline.infra.db.stores.audit import SqlAuditStore

router = SecureRouter(prefix="/api", tags=["audit"])


class AuditRowOut(BaseModel):
    seq: int
    occurred_at: dt.datetime
    actor_id: str | None
    actor_name: str
    ip: str | None
    action: str
    object_type: str | None
    object_id: str | None
    org_unit_path: str | None
    details: dict[str, Any]
    hash: str


class AuditPage(BaseModel):
    items: list[AuditRowOut]
    next_before_seq: int | None


@router.get("/audit", permission="audit:read", response_model=AuditPage)
def audit_log(
    actor: ActorDep,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_seq: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_name: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    """Audit rows, newest first; pass `next_before_seq` back as `before_seq`."""
    with rt.db.read() as conn:
        rows = list_audit(
            SqlAuditStore(conn),
            actor,
            before_seq=before_seq,
            limit=limit + 1,
            action=action,
            actor_name=actor_name,
            object_id=object_id,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(
        items=[AuditRowOut(**{**dataclasses.asdict(r), "details": dict(r.details)}) for r in rows],
        next_before_seq=rows[-1].seq if more else None,
    )
