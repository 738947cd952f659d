"""Reads of customers, and the permission-checked accessor every caller goes through.

Reads run in a unit of work, not on a bare read connection: showing personal data in the clear
is itself audited (R-E2). An actor holding `customer:read_pii` over a customer's unit gets the
phone, ID number and address unmasked and an audit row `customer.read_pii` is written; an actor
with only `customer:read` gets masked values (`138****5678`) and nothing is audited. Pass
`reveal=False` for a masked view even where the actor could see more.
"""

from __future__ import annotations

from hotline.core.context import Actor
from hotline.core.errors import InvalidInput, NotFound
from hotline.domains.customers.masking import mask_address, mask_id_number, mask_phone
from hotline.domains.customers.model import (
    FIELD_ADDRESS,
    FIELD_ID_NUMBER,
    FIELD_PHONE,
    INDEX_ID_NUMBER,
    INDEX_PHONE,
    PII_FIELDS,
    Customer,
    CustomerView,
    SealedCustomer,
)
from hotline.domains.customers.ports import CustomersTx

MAX_LIMIT = 500  # the API caps pages at 200 and asks for one more to see if more exist


def access_customer(
    tx: CustomersTx, actor: Actor, customer_id: str, permission: str
) -> SealedCustomer:
    """Load a customer the actor holds `permission` over; outside their scope it is NotFound."""
    actor.require(permission)
    customer = tx.customers.customer(customer_id)
    if customer is None or not actor.can(permission, customer.org_unit_path):
        raise NotFound("no such customer", key="errors.customer_not_found")
    return customer


def unseal(tx: CustomersTx, sealed: SealedCustomer) -> Customer:
    """Decrypt a stored customer. Not a read by itself: callers decide what to show."""

    def dec(field: str, token: str | None) -> str | None:
        return tx.decrypt(field, token) if token is not None else None

    return Customer(
        id=sealed.id,
        org_unit_id=sealed.org_unit_id,
        name=sealed.name,
        phone=dec(FIELD_PHONE, sealed.phone),
        id_number=dec(FIELD_ID_NUMBER, sealed.id_number),
        address=dec(FIELD_ADDRESS, sealed.address),
        area=sealed.area,
        notes=sealed.notes,
        created_at=sealed.created_at,
        updated_at=sealed.updated_at,
    )


def masked_view(customer: Customer) -> CustomerView:
    """The view for `customer:read`: phone, ID number and address masked (R-E4)."""
    return CustomerView(
        id=customer.id,
        org_unit_id=customer.org_unit_id,
        name=customer.name,
        phone=mask_phone(customer.phone),
        id_number=mask_id_number(customer.id_number),
        address=mask_address(customer.address),
        area=customer.area,
        notes=customer.notes,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        masked=True,
    )


def customer_view(
    tx: CustomersTx, sealed: SealedCustomer, *, reveal: bool, via: str
) -> CustomerView:
    """Unmasked (and audited as `customer.read_pii`) when `reveal` and the actor holds
    `customer:read_pii` over the customer's unit; masked otherwise."""
    customer = unseal(tx, sealed)
    if not (reveal and tx.actor.can("customer:read_pii", sealed.org_unit_path)):
        return masked_view(customer)
    shown = [f for f in PII_FIELDS if getattr(customer, f) is not None]
    if shown:
        tx.audit(
            "customer.read_pii",
            "customer",
            customer.id,
            org_unit_path=sealed.org_unit_path,
            details={"fields": shown, "via": via},
        )
    return CustomerView(
        id=customer.id,
        org_unit_id=customer.org_unit_id,
        name=customer.name,
        phone=customer.phone,
        id_number=customer.id_number,
        address=customer.address,
        area=customer.area,
        notes=customer.notes,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        masked=False,
    )


def get_customer(tx: CustomersTx, customer_id: str, *, reveal: bool = True) -> CustomerView:
    """One customer (needs `customer:read` over its unit); PII shown as described above."""
    sealed = access_customer(tx, tx.actor, customer_id, "customer:read")
    return customer_view(tx, sealed, reveal=reveal, via="get")


def find_by_phone(
    tx: CustomersTx, phone: str, *, reveal: bool = True, limit: int = 20
) -> list[CustomerView]:
    """Screen pop: customers in the actor's `customer:read` scope with this phone number.

    Exact match on the blind index, so `+86 138-1234-5678` finds `13812345678`.
    """
    tx.actor.require("customer:read")
    if not any(ch.isdigit() for ch in phone):
        return []
    rows = tx.customers.customers_by_phone_index(
        tx.blind_index(INDEX_PHONE, phone),
        scopes=tx.actor.scopes_for("customer:read"),
        limit=_limit(limit),
    )
    return [customer_view(tx, c, reveal=reveal, via="find_by_phone") for c in rows]


def find_by_id_number(
    tx: CustomersTx, id_number: str, *, reveal: bool = True, limit: int = 20
) -> list[CustomerView]:
    """Customers in the actor's `customer:read` scope with this ID number (exact match)."""
    tx.actor.require("customer:read")
    if not id_number.strip():
        return []
    rows = tx.customers.customers_by_id_number_index(
        tx.blind_index(INDEX_ID_NUMBER, "".join(id_number.split())),
        scopes=tx.actor.scopes_for("customer:read"),
        limit=_limit(limit),
    )
    return [customer_view(tx, c, reveal=reveal, via="find_by_id_number") for c in rows]


def list_customers(
    tx: CustomersTx,
    *,
    limit: int = 50,
    after: str | None = None,
    name: str | None = None,
    reveal: bool = False,
) -> list[CustomerView]:
    """Customers in the actor's `customer:read` scope, oldest first (keyset: `after` an id),
    optionally those whose name starts with `name`. Masked unless `reveal` (then audited)."""
    tx.actor.require("customer:read")
    rows = tx.customers.customers(
        scopes=tx.actor.scopes_for("customer:read"),
        limit=_limit(limit),
        after=after,
        name=name.strip() if name and name.strip() else None,
    )
    return [customer_view(tx, c, reveal=reveal, via="list") for c in rows]


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_LIMIT}",
            key="errors.limit_range",
            params={"max": MAX_LIMIT},
            field="limit",
        )
    return limit
