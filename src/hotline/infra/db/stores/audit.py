"""SQL implementation of `hotline.domains.audit.ports.AuditStore`."""

from __future__ import annotations

import sqlalchemy as sa

from hotline.domains.audit.ports import AuditRow
from hotline.infra.db.schema import audit_log


class SqlAuditStore:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def page(
        self,
        *,
        before_seq: int | None,
        limit: int,
        action: str | None,
        actor_name: str | None,
        object_id: str | None,
    ) -> list[AuditRow]:
        q = sa.select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if before_seq is not None:
            q = q.where(audit_log.c.seq < before_seq)
        if action:
            q = q.where(audit_log.c.action == action)
        if actor_name:
            q = q.where(audit_log.c.actor_name == actor_name)
        if object_id:
            q = q.where(audit_log.c.object_id == object_id)
        return [
            AuditRow(
                seq=r.seq,
                occurred_at=r.occurred_at,
                actor_id=r.actor_id,
                actor_name=r.actor_name,
                ip=r.ip,
                action=r.action,
                object_type=r.object_type,
                object_id=r.object_id,
                org_unit_path=r.org_unit_path,
                details=r.details,
                hash=r.hash,
            )
            for r in self.conn.execute(q).all()
        ]
