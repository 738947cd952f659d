"""Customer events for the live stream. No personal data in payloads: holders of
`customer:read` may see them, and that permission only ever sees masked values.
"""

from __future__ import annotations

from collections.abc import Iterable

from hotline.core.events import Event

CREATED = "customer.created"
UPDATED = "customer.updated"


def customer_created(*, customer_id: str, name: str, org_unit_id: str, org_unit_path: str) -> Event:
    """A customer profile was created."""
    return Event(
        type=CREATED,
        payload={"id": customer_id, "name": name, "org_unit_id": org_unit_id},
        permission="customer:read",
        org_unit_path=org_unit_path,
        object_type="customer",
        object_id=customer_id,
    )


def customer_updated(
    *,
    customer_id: str,
    name: str,
    org_unit_id: str,
    org_unit_path: str,
    fields: Iterable[str],
) -> Event:
    """A customer profile changed; `fields` names what changed (not the values)."""
    return Event(
        type=UPDATED,
        payload={
            "id": customer_id,
            "name": name,
            "org_unit_id": org_unit_id,
            "fields": sorted(fields),
        },
        permission="customer:read",
        org_unit_path=org_unit_path,
        object_type="customer",
        object_id=customer_id,
    )
