"""Reading the event log (outbox) for live streams, filtered per subscriber."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from hotline.core.context import Actor
from hotline.infra.db.database import Database
from hotline.infra.db.schema import outbox


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    type: str
    data: str


def visible(actor: Actor, row: Any) -> bool:
    """A subscriber sees an event addressed to them, or one they may read in its scope."""
    if row.user_id is not None and row.user_id == actor.user_id:
        return True
    return actor.can(row.permission, row.org_unit_path)


def latest_id(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(sa.select(sa.func.coalesce(sa.func.max(outbox.c.id), 0))).scalar_one()
        )


def fetch_after(
    db: Database, actor: Actor, after_id: int, limit: int = 500
) -> tuple[list[Delivery], int]:
    """Events after `after_id` the actor may see, and the last id examined (seen or not)."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(outbox).where(outbox.c.id > after_id).order_by(outbox.c.id).limit(limit)
        ).all()
    out = [
        Delivery(
            id=r.id,
            type=r.type,
            data=json.dumps(
                {
                    "id": r.id,
                    "type": r.type,
                    "at": r.occurred_at.isoformat(),
                    "object_type": r.object_type,
                    "object_id": r.object_id,
                    "payload": r.payload,
                },
                ensure_ascii=False,
                default=str,
            ),
        )
        for r in rows
        if visible(actor, r)
    ]
    return out, (rows[-1].id if rows else after_id)
