"""Masking of personal data for roles without `customer:read_pii` (R-E4). Pure."""

from __future__ import annotations


def mask_phone(value: str | None) -> str | None:
    """`13812345678` → `138****5678` (R-E4)."""
    if value is None:
        return None
    if len(value) <= 4:
        return "*" * len(value)
    if len(value) < 8:
        return value[:1] + "*" * (len(value) - 3) + value[-2:]
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_id_number(value: str | None) -> str | None:
    """ID numbers keep the first 3 and last 4 characters."""
    if value is None:
        return None
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_address(value: str | None) -> str | None:
    """Addresses keep their first 6 characters (city/district), the rest hidden."""
    if value is None:
        return None
    return value[:6] + "****" if len(value) > 6 else "****"
