"""SQL implementation of `hotline.domains.customers.ports.CustomerStore`.

Holds only what is stored: ciphertexts and blind indexes. It never sees plaintext PII.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from hotline.domains.customers.model import SealedCustomer
from hotline.infra.db.schema import customers, org_units
from hotline.infra.db.scope import in_scopes

_SELECT: sa.Select[Any] = sa.select(*customers.c, org_units.c.path.label("org_unit_path")).join(
    org_units, org_units.c.id == customers.c.org_unit_id
)




def _customer(row: sa.Row[Any]) -> SealedCustomer:
    return SealedCustomer(
        id=row.id,
        org_unit_id=row.org_unit_id,
        org_unit_path=row.org_unit_path,
        name=row.name,
        phone=row.phone,
        phone_index=row.phone_index,
        id_number=row.id_number,
        id_number_index=row.id_number_index,
        address=row.address,
        area=row.area,
        notes=row.notes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlCustomerStore:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def org_unit_path(self, org_unit_id: str) -> str | None:
        q = sa.select(org_units.c.path).where(org_units.c.id == org_unit_id)
        value = self.conn.execute(q).scalar_one_or_none()
        return str(value) if value is not None else None

    def customer(self, customer_id: str) -> SealedCustomer | None:
        row = self.conn.execute(_SELECT.where(customers.c.id == customer_id)).first()
        return _customer(row) if row else None

    def _by_index(
        self, column: sa.ColumnElement[Any], index: str, scopes: Sequence[str], limit: int
    ) -> list[SealedCustomer]:
        q = (
            _SELECT.where(column == index, in_scopes(org_units.c.path, scopes))
            .order_by(customers.c.updated_at.desc(), customers.c.id)
            .limit(limit)
        )
        return [_customer(r) for r in self.conn.execute(q).all()]

    def customers_by_phone_index(
        self, index: str, *, scopes: Sequence[str], limit: int
    ) -> list[SealedCustomer]:
        return self._by_index(customers.c.phone_index, index, scopes, limit)

    def customers_by_id_number_index(
        self, index: str, *, scopes: Sequence[str], limit: int
    ) -> list[SealedCustomer]:
        return self._by_index(customers.c.id_number_index, index, scopes, limit)

    def customers(
        self, *, scopes: Sequence[str], limit: int, after: str | None, name: str | None
    ) -> list[SealedCustomer]:
        q = (
            _SELECT.where(in_scopes(org_units.c.path, scopes))
            .order_by(customers.c.id)
            .limit(limit)
        )
        if after is not None:
            q = q.where(customers.c.id > after)
        if name is not None:
            q = q.where(customers.c.name.startswith(name, autoescape=True))
        return [_customer(r) for r in self.conn.execute(q).all()]

    def insert_customer(self, customer: SealedCustomer) -> None:
        self.conn.execute(
            customers.insert().values(
                id=customer.id,
                org_unit_id=customer.org_unit_id,
                name=customer.name,
                phone=customer.phone,
                phone_index=customer.phone_index,
                id_number=customer.id_number,
                id_number_index=customer.id_number_index,
                address=customer.address,
                area=customer.area,
                notes=customer.notes,
                created_at=customer.created_at,
                updated_at=customer.updated_at,
            )
        )

    def update_customer(self, customer_id: str, **fields: Any) -> None:
        self.conn.execute(customers.update().where(customers.c.id == customer_id).values(**fields))
