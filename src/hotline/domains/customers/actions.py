"""Every change to customer profiles. Each function runs inside one unit of work (`tx`), checks
the actor's permission, validates, encrypts personal fields, writes an audit entry (personal
values masked as `***`) and emits an event; the caller commits.

Actions return the masked view: reading personal data back in the clear is a separate,
audited read (`queries.get_customer`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from hotline.core.errors import InvalidInput, NotFound
from hotline.core.ids import new_id
from hotline.domains.customers.events import customer_created, customer_updated
from hotline.domains.customers.model import (
    EDITABLE_FIELDS,
    FIELD_ADDRESS,
    FIELD_ID_NUMBER,
    FIELD_PHONE,
    INDEX_ID_NUMBER,
    INDEX_PHONE,
    PII_FIELDS,
    Customer,
    CustomerView,
    SealedCustomer,
    check_address,
    check_area,
    check_id_number,
    check_name,
    check_notes,
    check_phone,
)
from hotline.domains.customers.ports import CustomersTx
from hotline.domains.customers.queries import access_customer, masked_view, unseal


def _writable_unit(tx: CustomersTx, org_unit_id: str) -> str:
    """The path of a unit the actor may keep customers in (`customer:write` over it)."""
    path = tx.customers.org_unit_path(org_unit_id)
    if path is None or not tx.actor.can("customer:write", path):
        raise NotFound(
            "no such organisation unit", key="errors.org_unit_not_found", field="org_unit_id"
        )
    return path


def _seal_fields(tx: CustomersTx, field: str, value: str | None) -> dict[str, Any]:
    """Column values for one personal field: ciphertext (+ blind index where searchable)."""
    if field == "phone":
        return {
            "phone": tx.encrypt(FIELD_PHONE, value) if value else None,
            "phone_index": tx.blind_index(INDEX_PHONE, value) if value else None,
        }
    if field == "id_number":
        return {
            "id_number": tx.encrypt(FIELD_ID_NUMBER, value) if value else None,
            "id_number_index": tx.blind_index(INDEX_ID_NUMBER, value) if value else None,
        }
    if field == "address":
        return {"address": tx.encrypt(FIELD_ADDRESS, value) if value else None}
    raise ValueError(f"{field} is not a personal field")


def _audit_fields(c: Customer) -> dict[str, Any]:
    return {
        "name": c.name,
        "phone": c.phone,
        "id_number": c.id_number,
        "address": c.address,
        "area": c.area,
        "notes": c.notes,
        "org_unit_id": c.org_unit_id,
    }


def create_customer(
    tx: CustomersTx,
    *,
    org_unit_id: str,
    name: str,
    phone: str | None = None,
    id_number: str | None = None,
    address: str | None = None,
    area: str | None = None,
    notes: str | None = None,
) -> CustomerView:
    """Create a customer in a unit where the actor holds `customer:write` (R-B1).

    Phone, ID number and address are validated, then stored encrypted; phone and ID number
    also get blind indexes for exact lookup. Returns the masked view.
    """
    tx.actor.require("customer:write")
    path = _writable_unit(tx, org_unit_id)
    now = tx.clock.now()
    customer = Customer(
        id=new_id(),
        org_unit_id=org_unit_id,
        name=check_name(name),
        phone=check_phone(phone),
        id_number=check_id_number(id_number),
        address=check_address(address),
        area=check_area(area),
        notes=check_notes(notes),
        created_at=now,
        updated_at=now,
    )
    sealed = {
        **_seal_fields(tx, "phone", customer.phone),
        **_seal_fields(tx, "id_number", customer.id_number),
        **_seal_fields(tx, "address", customer.address),
    }
    tx.customers.insert_customer(
        SealedCustomer(
            id=customer.id,
            org_unit_id=customer.org_unit_id,
            org_unit_path=path,
            name=customer.name,
            area=customer.area,
            notes=customer.notes,
            created_at=now,
            updated_at=now,
            **sealed,
        )
    )
    tx.audit(
        "customer.create",
        "customer",
        customer.id,
        org_unit_path=path,
        after=_audit_fields(customer),
        sensitive=PII_FIELDS,
    )
    tx.emit(
        customer_created(
            customer_id=customer.id,
            name=customer.name,
            org_unit_id=customer.org_unit_id,
            org_unit_path=path,
        )
    )
    return masked_view(customer)


_CHECKS: dict[str, Callable[[str | None], str | None]] = {
    "phone": check_phone,
    "id_number": check_id_number,
    "address": check_address,
    "area": check_area,
    "notes": check_notes,
}


def update_customer(
    tx: CustomersTx, *, customer_id: str, changes: Mapping[str, str | None]
) -> CustomerView:
    """Change some of a customer's fields (`None` or "" clears an optional one).

    Needs `customer:write` over the customer's unit, and over the new unit when `org_unit_id`
    moves it. The audit entry holds before/after of changed fields, personal ones as `***`.
    Returns the masked view.
    """
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unknown customer field(s): {', '.join(unknown)}",
            key="errors.unknown_fields",
            params={"fields": unknown},
        )
    sealed = access_customer(tx, tx.actor, customer_id, "customer:write")
    current = unseal(tx, sealed)
    new_values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "org_unit_id":
            if not value:
                raise InvalidInput(
                    "organisation unit must not be empty",
                    key="errors.required",
                    field="org_unit_id",
                )
            new_values[key] = value
        elif key == "name":
            new_values[key] = check_name(value or "")
        else:
            new_values[key] = _CHECKS[key](value)
    changed = {k: v for k, v in new_values.items() if getattr(current, k) != v}
    if not changed:
        return masked_view(current)

    path = sealed.org_unit_path
    if "org_unit_id" in changed:
        path = _writable_unit(tx, changed["org_unit_id"])
    now = tx.clock.now()
    columns: dict[str, Any] = {"updated_at": now}
    for key, value in changed.items():
        if key in PII_FIELDS:
            columns.update(_seal_fields(tx, key, value))
        else:
            columns[key] = value
    tx.customers.update_customer(current.id, **columns)
    updated = dataclasses.replace(current, updated_at=now, **changed)
    tx.audit(
        "customer.update",
        "customer",
        current.id,
        org_unit_path=path,
        before={k: getattr(current, k) for k in changed},
        after=changed,
        sensitive=PII_FIELDS,
        details={"moved_from": sealed.org_unit_path} if path != sealed.org_unit_path else None,
    )
    tx.emit(
        customer_updated(
            customer_id=current.id,
            name=updated.name,
            org_unit_id=updated.org_unit_id,
            org_unit_path=path,
            fields=changed,
        )
    )
    return masked_view(updated)


__all__ = ["create_customer", "update_customer"]
