"""What the audit domain needs from storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class AuditRow:
    seq: int
    occurred_at: dt.datetime
    actor_id: str | None
    actor_name: str
    ip: str | None
    action: str
    object_type: str | None
    object_id: str | None
    org_unit_path: str | None
    details: Mapping[str, Any]
    hash: str


class AuditStore(Protocol):
    def page(
        self,
        *,
        before_seq: int | None,
        limit: int,
        action: str | None,
        actor_name: str | None,
        object_id: str | None,
    ) -> list[AuditRow]: ...
