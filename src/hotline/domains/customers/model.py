"""Customer profiles and their rules (R-B1, R-E3, R-E4). Pure: no I/O.

A customer belongs to one organisation unit. Phone, ID number (身份证号) and address are
personal data: they are stored only as envelope ciphertexts (field names below are bound into
each ciphertext), and phone and ID number also as keyed blind indexes for exact lookup. Name,
area and notes are stored in the clear.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hotline.core.errors import InvalidInput

# Field names bound into the ciphertexts (associated data); the key rotation registry
# (`infra/crypto/rotation.py`) lists the same names.
FIELD_PHONE = "customer.phone"
FIELD_ID_NUMBER = "customer.id_number"
FIELD_ADDRESS = "customer.address"

# Blind index kinds: they choose the normalisation (phone: digits, +86 dropped; ID: upper).
INDEX_PHONE = "phone"
INDEX_ID_NUMBER = "id_number"

# Personal fields: encrypted at rest, masked for actors without `customer:read_pii`, "***" in
# audit diffs.
PII_FIELDS: tuple[str, ...] = ("phone", "id_number", "address")
EDITABLE_FIELDS: frozenset[str] = frozenset(
    {"name", "phone", "id_number", "address", "area", "notes", "org_unit_id"}
)

NAME_MAX = 200
ADDRESS_MAX = 500
AREA_MAX = 100
NOTES_MAX = 2000


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer with personal data in the clear: lives in memory only, never stored so."""

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


@dataclass(frozen=True, slots=True)
class SealedCustomer:
    """A customer as stored: personal fields as ciphertexts and blind indexes.

    `org_unit_path` is the owning unit's path (read with the row, for permission checks).
    """

    id: str
    org_unit_id: str
    org_unit_path: str
    name: str
    phone: str | None
    phone_index: str | None
    id_number: str | None
    id_number_index: str | None
    address: str | None
    area: str | None
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class CustomerView:
    """What a reader gets: personal fields in the clear, or masked when `masked`."""

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


# --- validation ----------------------------------------------------------------------------
_PHONE = re.compile(r"^\+?\d{5,20}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def check_name(value: str) -> str:
    """A customer's name: 1–200 characters after trimming."""
    name = value.strip()
    if not name:
        raise InvalidInput(
            "customer name must not be empty", key="errors.customer_name_empty", field="name"
        )
    if len(name) > NAME_MAX:
        raise InvalidInput(
            f"customer name must have at most {NAME_MAX} characters",
            key="errors.too_long",
            params={"max": NAME_MAX},
            field="name",
        )
    return name


def check_phone(value: str | None) -> str | None:
    """5–20 digits with an optional leading +; spaces, dashes, dots and brackets are dropped.

    Empty means no phone number. The value is never echoed in the error (personal data).
    """
    if value is None:
        return None
    phone = _PHONE_SEPARATORS.sub("", value)
    if not phone:
        return None
    if not _PHONE.fullmatch(phone):
        raise InvalidInput(
            "phone number must be 5–20 digits, optionally starting with +",
            key="errors.phone_invalid",
            field="phone",
        )
    return phone


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of an 18-character ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _valid_date(text: str) -> bool:
    try:
        dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return False
    return True


def check_id_number(value: str | None) -> str | None:
    """A mainland resident ID number (居民身份证号码): 18 characters (17 digits and a check
    digit or X, checksum verified) or the old 15 digits; the birth date must be a real date.

    Spaces are dropped and `x` upper-cased; empty means none. Never echoed in the error.
    """
    if value is None:
        return None
    number = "".join(value.split()).upper()
    if not number:
        return None
    if len(number) == 18:
        if not (number[:17].isdigit() and (number[17].isdigit() or number[17] == "X")):
            raise InvalidInput(
                "an 18-character ID number has 17 digits and a final digit or X",
                key="errors.id_number_invalid",
                field="id_number",
            )
        if not _valid_date(number[6:14]):
            raise InvalidInput(
                "ID number holds an impossible birth date",
                key="errors.id_number_invalid",
                field="id_number",
            )
        if id_check_digit(number[:17]) != number[17]:
            raise InvalidInput(
                "ID number check digit is wrong (mistyped?)",
                key="errors.id_number_checksum",
                field="id_number",
            )
        return number
    if len(number) == 15:
        if not number.isdigit() or not _valid_date("19" + number[6:12]):
            raise InvalidInput(
                "a 15-character ID number has 15 digits with a valid birth date",
                key="errors.id_number_invalid",
                field="id_number",
            )
        return number
    raise InvalidInput(
        "ID number must have 18 characters (or 15 for old ones)",
        key="errors.id_number_length",
        field="id_number",
    )


def _optional_text(value: str | None, *, field: str, limit: int) -> str | None:
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


def check_address(value: str | None) -> str | None:
    """An address of up to 500 characters; empty means none."""
    return _optional_text(value, field="address", limit=ADDRESS_MAX)


def check_area(value: str | None) -> str | None:
    """An area (区域, e.g. a district) of up to 100 characters; empty means none."""
    return _optional_text(value, field="area", limit=AREA_MAX)


def check_notes(value: str | None) -> str | None:
    """Free notes of up to 2000 characters; empty means none."""
    return _optional_text(value, field="notes", limit=NOTES_MAX)
