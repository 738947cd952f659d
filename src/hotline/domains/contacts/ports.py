"""What the contacts domain needs from storage and from its unit of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from hotline.core.tx import UnitOfWork
from hotline.domains.contacts.model import ContactRecord, HistoryEntry, Lifecycle


class ContactStore(Protocol):
    """Contact rows (the caller as ciphertext) and their append-only history."""

    def contact(self, contact_id: str) -> ContactRecord | None: ...
    def contacts_by_ids(self, contact_ids: Collection[str]) -> dict[str, ContactRecord]: ...
    def contacts_of_agent(
        self, agent_id: str, statuses: Collection[Lifecycle]
    ) -> list[ContactRecord]: ...
    def contacts_in(self, statuses: Collection[Lifecycle]) -> list[ContactRecord]: ...
    def callbacks_of(self, contact_id: str) -> list[ContactRecord]: ...
    def scheduled_callbacks(
        self,
        *,
        limit: int,
        after: tuple[dt.datetime, str] | None = None,
        requested_by: str | None = None,
        queue_id: str | None = None,
        scopes: Sequence[str] | None = None,
    ) -> list[tuple[ContactRecord, str | None]]:
        """Callbacks still `scheduled`, by due time then id, after the keyset `after`, each
        with the agent who scheduled it (the agent of the contact it calls back): those
        scheduled from a contact `requested_by` handled, in `queue_id`, in queues of units
        under `scopes` (each filter only when given)."""
        ...

    def insert_contact(self, record: ContactRecord) -> None: ...
    def update_contact(self, contact_id: str, **fields: Any) -> None: ...
    def append_history(self, entries: Sequence[HistoryEntry]) -> None: ...
    def history(self, contact_id: str, *, limit: int) -> list[HistoryEntry]: ...
    def customer_exists(self, customer_id: str) -> bool: ...


class ContactsTx(UnitOfWork, Protocol):
    """The unit of work as the contacts domain sees it: store, cipher and blind index."""

    @property
    def contacts(self) -> ContactStore: ...

    def encrypt(self, field: str, value: str) -> str: ...
    def decrypt(self, field: str, token: str) -> str: ...
    def blind_index(self, kind: str, value: str) -> str: ...
