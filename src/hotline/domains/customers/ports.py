"""What the customers domain needs from storage and from its unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from hotline.core.tx import UnitOfWork
from hotline.domains.customers.model import SealedCustomer


class CustomerStore(Protocol):
    """Customer rows as stored: ciphertexts and blind indexes, never plaintext PII."""

    def org_unit_path(self, org_unit_id: str) -> str | None: ...
    def customer(self, customer_id: str) -> SealedCustomer | None: ...
    def customers_by_phone_index(
        self, index: str, *, scopes: Sequence[str], limit: int
    ) -> list[SealedCustomer]: ...
    def customers_by_id_number_index(
        self, index: str, *, scopes: Sequence[str], limit: int
    ) -> list[SealedCustomer]: ...
    def customers(
        self, *, scopes: Sequence[str], limit: int, after: str | None, name: str | None
    ) -> list[SealedCustomer]: ...
    def insert_customer(self, customer: SealedCustomer) -> None: ...
    def update_customer(self, customer_id: str, **fields: Any) -> None: ...


class CustomersTx(UnitOfWork, Protocol):
    """The unit of work as the customers domain sees it: store, cipher and blind index."""

    @property
    def customers(self) -> CustomerStore: ...

    def encrypt(self, field: str, value: str) -> str: ...
    def decrypt(self, field: str, token: str) -> str: ...
    def blind_index(self, kind: str, value: str) -> str: ...
