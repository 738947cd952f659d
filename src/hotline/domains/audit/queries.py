"""Reading the audit log: auditors only (separation of duties)."""

from __future__ import annotations

from hotline.core.context import Actor
from hotline.domains.audit.ports import AuditRow, AuditStore


def list_audit(
    store: AuditStore,
    actor: Actor,
    *,
    before_seq: int | None,
    limit: int,
    action: str | None = None,
    actor_name: str | None = None,
    object_id: str | None = None,
) -> list[AuditRow]:
    """Newest first; page with `before_seq`. Requires `audit:read` over the whole tree."""
    actor.require_root("audit:read")
    return store.page(
        before_seq=before_seq,
        limit=limit,
        action=action,
        actor_name=actor_name,
        object_id=object_id,
    )
