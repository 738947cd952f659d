"""Contacts as stored: lifecycle, history entries, caller addresses and their masking. Pure.

A contact's lifecycle (R-B2 "客户来电-呼叫中心接听-客服人员处理-…"):

    arrived → in_ivr → queued → offered → connected → wrap_up → ended | called_back
       └→ closed (outside the entry point's business hours: never queued)
    scheduled → arrived → queued …  (a callback an agent scheduled for a time: waits for it)
        └→ cancelled (the agent who scheduled it, or a team lead, called it off before it came in)
                         ↑  └──────── abandoned | overflowed (left before being served)
                         └── transferred (back in line after a transfer, until offered again)

`queued`, `transferred`, `offered` and `connected` are the statuses the routing engine holds
in memory; a restart rebuilds the engine from the rows in those statuses. `wrap_up` means the
conversation is over and the agent's wrap-up code is still missing; the contact is finished
(`ended`, or `called_back` for a callback) once it is coded or the agent moves on.

The caller's address (phone number, email, chat or social id) is personal data: stored only
as an envelope ciphertext with a keyed blind index (R-E3), shown masked without
`customer:read_pii` (R-E4).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hotline.core.errors import InvalidInput
from hotline.domains.customers.masking import mask_phone
from hotline.domains.routing.model import Channel, ContactStatus

# Field name bound into the caller ciphertexts; the key rotation registry lists the same name.
FIELD_CALLER = "contact.caller"
# Blind index kinds: phone numbers compare by digits (so a caller matches a customer's phone
# index), other addresses case-insensitively.
INDEX_PHONE = "phone"
INDEX_ADDRESS = "contact_address"
PHONE_CHANNELS: frozenset[Channel] = frozenset({Channel.voice, Channel.sms})

CALLER_MAX = 200
AREA_MAX = 100
ADDRESS_MAX = 100
NOTES_MAX = 2000
CALLBACK_NOTE_MAX = 500
CALLBACK_HORIZON = dt.timedelta(days=7)  # a callback is promised for this week, not later
CALLBACK_REASON_MAX = 200  # why a scheduled callback was cancelled (free text, optional)
HISTORY_MAX = 1000  # a contact's history is short; more than this is shown truncated


class Direction(enum.StrEnum):
    inbound = "inbound"
    outbound = "outbound"


class Lifecycle(enum.StrEnum):
    arrived = "arrived"
    in_ivr = "in_ivr"
    queued = "queued"
    offered = "offered"
    connected = "connected"
    wrap_up = "wrap_up"
    ended = "ended"
    abandoned = "abandoned"
    overflowed = "overflowed"  # max wait reached: left the queue for voicemail or a message
    transferred = "transferred"  # waiting again after a transfer
    called_back = "called_back"  # a callback that was served
    closed = "closed"  # arrived outside its entry point's business hours (营业时间)
    scheduled = "scheduled"  # a callback an agent scheduled, not due yet (预约回呼)
    cancelled = "cancelled"  # a scheduled callback called off before it came in (never routed)


# The statuses the routing engine holds; the rest are before or after routing.
IN_ENGINE: frozenset[Lifecycle] = frozenset(
    {Lifecycle.queued, Lifecycle.transferred, Lifecycle.offered, Lifecycle.connected}
)
FINISHED: frozenset[Lifecycle] = frozenset(
    {
        Lifecycle.ended,
        Lifecycle.abandoned,
        Lifecycle.overflowed,
        Lifecycle.called_back,
        Lifecycle.closed,
        Lifecycle.cancelled,
    }
)


def lifecycle_of(status: ContactStatus, *, transferred: bool) -> Lifecycle:
    """The stored status of a contact the engine holds in `status`."""
    if status is ContactStatus.waiting:
        return Lifecycle.transferred if transferred else Lifecycle.queued
    if status is ContactStatus.offered:
        return Lifecycle.offered
    return Lifecycle.connected


def engine_status(status: Lifecycle) -> ContactStatus:
    """Inverse of `lifecycle_of` for the statuses in IN_ENGINE."""
    if status in (Lifecycle.queued, Lifecycle.transferred):
        return ContactStatus.waiting
    if status is Lifecycle.offered:
        return ContactStatus.offered
    if status is Lifecycle.connected:
        return ContactStatus.connected
    raise ValueError(f"a {status.value} contact is not in the routing engine")


def finished_status(callback: bool) -> Lifecycle:
    """How a served contact ends: a callback is `called_back`, anything else `ended`."""
    return Lifecycle.called_back if callback else Lifecycle.ended


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """A contact row. `caller` is the ciphertext; `org_unit_path` is the path of its queue's
    unit (for permission checks), None before it reaches a queue."""

    id: str
    channel: Channel
    direction: Direction
    status: Lifecycle
    arrived_at: dt.datetime
    updated_at: dt.datetime
    entry_point_id: str | None = None
    address: str | None = None
    customer_id: str | None = None
    caller: str | None = None
    caller_index: str | None = None
    caller_area: str | None = None
    queue_id: str | None = None
    org_unit_path: str | None = None
    priority: int = 0
    callback: bool = False
    agent_id: str | None = None
    # routing state (what the engine needs to rebuild this contact)
    seq: int | None = None
    stage: int = 0
    offer_id: int | None = None
    enqueued_at: dt.datetime | None = None
    queue_entered_at: dt.datetime | None = None
    offered_at: dt.datetime | None = None
    offer_deadline: dt.datetime | None = None
    connected_at: dt.datetime | None = None
    # when each stage was first reached
    queued_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    wrap_up_code: str | None = None
    wrap_up_notes: str | None = None
    wrapped_up_at: dt.datetime | None = None
    # a callback an agent scheduled: the contact it calls back, when it is due (None: as soon
    # as possible), the note for whoever calls back
    callback_of: str | None = None
    callback_due_at: dt.datetime | None = None
    callback_note: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of a contact's append-only history (`contact_events`): what happened, when,
    in which queue, with which agent. Reports and the surge detector read these."""

    contact_id: str
    at: dt.datetime
    type: str
    queue_id: str | None = None
    agent_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ContactView:
    """What a reader gets: the caller in the clear, or masked when `masked`."""

    id: str
    channel: Channel
    direction: Direction
    status: Lifecycle
    entry_point_id: str | None
    address: str | None
    customer_id: str | None
    caller: str | None
    caller_area: str | None
    queue_id: str | None
    priority: int
    callback: bool
    agent_id: str | None
    arrived_at: dt.datetime
    queued_at: dt.datetime | None
    offered_at: dt.datetime | None
    offer_deadline: dt.datetime | None
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    finished_at: dt.datetime | None
    wrap_up_code: str | None
    wrap_up_notes: str | None
    masked: bool
    position: int | None = None  # place in line (1 = next), for waiting lists
    history: tuple[HistoryEntry, ...] = ()
    callback_of: str | None = None
    callback_due_at: dt.datetime | None = None
    callback_note: str | None = None
    callback_requested_by: str | None = None  # the agent who scheduled a callback (lists)


# --- validation ----------------------------------------------------------------------------
_SEPARATORS = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"^\+?\d{3,20}$")


def check_caller(channel: Channel, value: str | None) -> str | None:
    """A caller address: a phone number on voice and SMS (3–20 digits, separators dropped),
    otherwise any printable id of up to 200 characters (an email address, a chat or social
    account). Empty means unknown (withheld number).
    The value is never echoed in the error (personal data)."""
    if value is None:
        return None
    if channel in PHONE_CHANNELS:
        phone = _SEPARATORS.sub("", value)
        if not phone:
            return None
        if not _PHONE.fullmatch(phone):
            raise InvalidInput(
                "caller number must be 3–20 digits, optionally starting with +",
                key="errors.contact.caller_invalid",
                field="caller",
            )
        return phone
    text = value.strip()
    if not text:
        return None
    if len(text) > CALLER_MAX or not text.isprintable():
        raise InvalidInput(
            f"caller address must be printable text of at most {CALLER_MAX} characters",
            key="errors.contact.caller_invalid",
            field="caller",
        )
    return text


def check_text(value: str | None, *, field: str, limit: int) -> str | None:
    """Optional free text: trimmed, empty means none, at most `limit` characters."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > limit:
        raise InvalidInput(
            f"{field} must have at most {limit} characters",
            key="errors.too_long",
            params={"max": limit},
            field=field,
        )
    return text


def check_callback_due(due_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When a scheduled callback is due, in UTC: a moment with a time zone, after `now` and
    within CALLBACK_HORIZON of it (an agent promises a call this week, not a reminder for
    next month)."""
    if due_at.tzinfo is None or due_at.utcoffset() is None:
        raise InvalidInput(
            "due_at needs a time zone (e.g. 2026-11-28T07:00:00Z)",
            key="errors.contact.callback_due_zone",
            field="due_at",
        )
    try:
        due = due_at.astimezone(dt.UTC)
        past, far = due <= now, due - now > CALLBACK_HORIZON
    except OverflowError:  # year 1 or 9999 with an offset: beyond any UTC instant
        due, past = due_at, due_at.year <= now.year
        far = not past
    if past:
        raise InvalidInput(
            "due_at must be in the future; leave it out to call back as soon as possible",
            key="errors.contact.callback_due_past",
            field="due_at",
        )
    if far:
        days = CALLBACK_HORIZON.days
        raise InvalidInput(
            f"due_at must be within {days} days from now",
            key="errors.contact.callback_due_too_far",
            params={"days": days},
            field="due_at",
        )
    return due


def caller_index_kind(channel: Channel) -> str:
    """Which blind index a caller address gets (see INDEX_PHONE)."""
    return INDEX_PHONE if channel in PHONE_CHANNELS else INDEX_ADDRESS


def mask_caller(channel: Channel, value: str | None) -> str | None:
    """`13812345678` → `138****5678`; `zhang.san@example.com` → `zh***@example.com`; other ids
    keep their first two and last two characters (R-E4)."""
    if value is None:
        return None
    if channel in PHONE_CHANNELS:
        return mask_phone(value)
    if "@" in value:
        local, _, domain = value.rpartition("@")
        return (local[:2] if len(local) > 2 else "") + "***@" + domain
    if len(value) <= 6:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]
