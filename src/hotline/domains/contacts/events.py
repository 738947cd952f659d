"""Contact events for the live stream. One per history entry, named `contact.<type>`.

Queue-level: visible to holders of `queue:read` over the queue's unit (wallboards, R-C2).
Addressed to the agent involved (`user_id`), so an agent's desktop sees its offers, their
withdrawal or timeout, and the contacts it handles, without any queue permission.
No personal data in payloads: never the caller's address.
"""

from __future__ import annotations

from hotline.core.events import Event
from hotline.domains.contacts.model import HistoryEntry

PERMISSION = "queue:read"


def contact_event(entry: HistoryEntry, *, org_unit_path: str | None) -> Event:
    """The stream event of one history entry."""
    payload = {
        "id": entry.contact_id,
        "queue_id": entry.queue_id,
        "agent_id": entry.agent_id,
        **entry.data,
    }
    return Event(
        type=f"contact.{entry.type}",
        payload=payload,
        permission=PERMISSION,
        org_unit_path=org_unit_path,
        object_type="contact",
        object_id=entry.contact_id,
        user_id=entry.agent_id,
    )
