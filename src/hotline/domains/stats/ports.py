"""What statistics need from storage and from the unit of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hotline.core.tx import UnitOfWork
from hotline.domains.contacts.model import HistoryEntry
from hotline.domains.stats.model import (
    ContactFacts,
    Counts,
    Dimension,
    FoldMemory,
    RowKey,
    StatsConfig,
)


@dataclass(frozen=True, slots=True)
class IntervalRow:
    kind: Dimension
    key: str
    interval_start: dt.datetime
    counts: Counts


@dataclass(frozen=True, slots=True)
class QueueLoad:
    """Contacts in a queue now, from the contact rows."""

    waiting: int = 0
    oldest_waiting_since: dt.datetime | None = None
    offering: int = 0
    connected: int = 0


class StatsStore(Protocol):
    """Interval rows, the inputs of the reducer and of the live rows, and the last published
    live rows."""

    # The live path's memory of contacts' folds (None: replay stored history every time).
    fold_memory: FoldMemory | None

    # reducer inputs
    def contact_facts(self, contact_ids: Collection[str]) -> dict[str, ContactFacts]: ...
    def stored_history(self, contact_ids: Collection[str]) -> list[HistoryEntry]: ...
    def histories_since(
        self, since: dt.datetime | None
    ) -> Iterator[tuple[ContactFacts, list[HistoryEntry]]]: ...

    # interval rows
    def lock_for_rebuild(self) -> None:
        """Hold off live upserts until this transaction ends (and wait for running ones)."""
        ...

    def add_counts(self, rows: Mapping[RowKey, Counts], at: dt.datetime) -> None: ...
    def replace_counts(
        self, since: dt.datetime | None, rows: Mapping[RowKey, Counts], at: dt.datetime
    ) -> int: ...
    def delete_minute_rows(self, before: dt.datetime) -> int:
        """Delete the one-minute queue rows that start before `before`; returns the count."""
        ...

    def interval_rows(
        self,
        kind: Dimension,
        *,
        start: dt.datetime,
        end: dt.datetime,
        keys: Collection[str] | None = None,
    ) -> list[IntervalRow]: ...
    def sums(
        self, kind: Dimension, *, since: dt.datetime, keys: Collection[str] | None = None
    ) -> dict[str, Counts]: ...

    # live inputs
    def queue_loads(self) -> dict[str, QueueLoad]: ...
    def state_changes(
        self, since: dt.datetime, user_ids: Collection[str]
    ) -> dict[str, list[tuple[dt.datetime, str, str]]]: ...

    # the last published live rows (kind, id) -> row
    def published(self, kind: str) -> dict[str, Mapping[str, Any]]: ...
    def save_published(
        self, kind: str, rows: Mapping[str, Mapping[str, Any]], at: dt.datetime
    ) -> None: ...


class StatsTx(UnitOfWork, Protocol):
    """The unit of work as statistics see it."""

    @property
    def stats(self) -> StatsStore: ...

    @property
    def stats_config(self) -> StatsConfig: ...
