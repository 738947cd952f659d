"""The unit-of-work port every action receives (the infra `Tx` implements it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hotline.core.clock import Clock
from hotline.core.context import Actor
from hotline.core.events import Event


class UnitOfWork(Protocol):
    """One transaction: who acts, the clock, and the audit and event sinks."""

    actor: Actor
    clock: Clock
    after_commit: list[Callable[[], None]]

    def audit(
        self,
        action: str,
        object_type: str | None = None,
        object_id: str | None = None,
        *,
        org_unit_path: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        sensitive: tuple[str, ...] = (),
        details: Mapping[str, Any] | None = None,
    ) -> None: ...

    def emit(self, event: Event) -> None: ...
