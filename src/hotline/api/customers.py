"""HTTP routes of customer profiles (R-B1), with masking by permission (R-E4).

Reads that return unmasked personal data run in a transaction: the domain writes a
`customer.read_pii` audit row for each (R-E2).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from hotline.api.security import ActorDep, RuntimeDep, SecureRouter
from hotline.domains.customers import actions, queries
from hotline.domains.customers.model import CustomerView

router = SecureRouter(prefix="/api", tags=["customers"])

Text200 = Annotated[str, Field(max_length=200)]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_unit_id: Annotated[str, Field(max_length=36)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    phone: Annotated[str, Field(max_length=32)] | None = None
    id_number: Annotated[str, Field(max_length=32)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    area: Annotated[str, Field(max_length=100)] | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None


class CustomerPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_unit_id: Annotated[str, Field(max_length=36)] | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    id_number: Annotated[str, Field(max_length=32)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    area: Annotated[str, Field(max_length=100)] | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None


class CustomerOut(BaseModel):
    id: str
    org_unit_id: str
    name: str
    phone: str | None
    id_number: str | None
    address: str | None
    area: str | None
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    masked: bool


class CustomerPage(BaseModel):
    items: list[CustomerOut]
    next_after: str | None


def _out(view: CustomerView) -> CustomerOut:
    return CustomerOut(**dataclasses.asdict(view))


@router.post("/customers", permission="customer:write", response_model=CustomerOut, status_code=201)
def create_customer(body: CustomerIn, actor: ActorDep, rt: RuntimeDep) -> CustomerOut:
    """Create a profile; phone, ID number and address are stored encrypted."""
    with rt.db.transaction(actor=actor) as tx:
        return _out(actions.create_customer(tx, **body.model_dump()))


@router.patch("/customers/{customer_id}", permission="customer:write", response_model=CustomerOut)
def update_customer(
    customer_id: str, body: CustomerPatch, actor: ActorDep, rt: RuntimeDep
) -> CustomerOut:
    """Change the fields given (an empty string clears an optional field)."""
    with rt.db.transaction(actor=actor) as tx:
        return _out(
            actions.update_customer(
                tx, customer_id=customer_id, changes=body.model_dump(exclude_unset=True)
            )
        )


@router.get("/customers/{customer_id}", permission="customer:read", response_model=CustomerOut)
def get_customer(customer_id: str, actor: ActorDep, rt: RuntimeDep) -> CustomerOut:
    """One profile: unmasked (and audited) for `customer:read_pii`, masked otherwise."""
    with rt.db.transaction(actor=actor) as tx:
        return _out(queries.get_customer(tx, customer_id))


@router.get("/customers", permission="customer:read", response_model=CustomerPage)
def list_customers(
    actor: ActorDep,
    rt: RuntimeDep,
    phone: Annotated[
        str | None, Query(max_length=32, description="exact lookup (screen pop)")
    ] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[str | None, Query(max_length=36)] = None,
) -> CustomerPage:
    """Masked list in the caller's scope; with `phone`, an exact lookup by caller number."""
    with rt.db.transaction(actor=actor) as tx:
        if phone is not None:
            views = queries.find_by_phone(tx, phone, limit=limit)
            return CustomerPage(items=[_out(v) for v in views], next_after=None)
        views = queries.list_customers(tx, limit=limit + 1, after=after, name=name)
    more = len(views) > limit
    views = views[:limit]
    return CustomerPage(items=[_out(v) for v in views], next_after=views[-1].id if more else None)
