"""Background work on customers.

`reindex_blind_indexes` recomputes the phone and ID number blind indexes in batches, for when
their normalisation changes (an index computed under the old rules would no longer match).
Each batch is its own unit of work; the job runs until it returns None.
"""

from __future__ import annotations

from hotline.domains.customers.model import INDEX_ID_NUMBER, INDEX_PHONE
from hotline.domains.customers.ports import CustomersTx
from hotline.domains.customers.queries import unseal

REINDEX_JOB = "customers.reindex_blind_indexes"


def reindex_blind_indexes(tx: CustomersTx, *, after: str | None, limit: int = 500) -> str | None:
    """Recompute the blind indexes of up to `limit` customers with ids after `after`.

    System maintenance (needs `system:manage` over the whole tree). Returns the last id
    handled, to pass as `after` to the next batch, or None when every customer is done.
    """
    tx.actor.require("system:manage", "/")
    rows = tx.customers.customers(scopes=["/"], limit=limit, after=after, name=None)
    updated = 0
    for sealed in rows:
        customer = unseal(tx, sealed)
        phone_index = tx.blind_index(INDEX_PHONE, customer.phone) if customer.phone else None
        id_index = (
            tx.blind_index(INDEX_ID_NUMBER, customer.id_number) if customer.id_number else None
        )
        if (phone_index, id_index) != (sealed.phone_index, sealed.id_number_index):
            tx.customers.update_customer(
                sealed.id, phone_index=phone_index, id_number_index=id_index
            )
            updated += 1
    if updated:
        tx.audit(
            "customer.reindex",
            "customer",
            None,
            details={"updated": updated, "after": after, "batch": len(rows)},
        )
    return rows[-1].id if len(rows) == limit else None
