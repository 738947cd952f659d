"""The base type of domain events.

Actions record events in their transaction; the outbox stores them and they are published only
after the transaction commits. `permission` and `org_unit_path` decide who may see an event on
the live stream: a subscriber must hold `permission` in a scope that covers `org_unit_path`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """A fact that happened, named in the past tense (`user.created`, `contact.offered`)."""

    type: str
    payload: Mapping[str, Any]
    permission: str
    org_unit_path: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    # Only this user receives it, in addition to holders of `permission` (e.g. an agent's offer).
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back from the outbox, with its stream position."""

    id: int
    occurred_at: dt.datetime
    event: Event
    extra: Mapping[str, Any] = field(default_factory=dict)
