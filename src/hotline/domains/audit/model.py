"""The audit record and its hash chain. Pure: no I/O.

Each row's hash is SHA-256 over the previous row's hash and a canonical JSON of the row's own
fields (sequence number included), so an altered, deleted, inserted or reordered row breaks the
chain at that row. Signed checkpoints (`hotline.infra.audit.checkpoint`) catch a cut tail and a
chain rewritten from some row on; `verify.py` checks both.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import json.encoder
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
MASK = "***"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited operation, before it gets its place in the chain."""

    occurred_at: dt.datetime
    actor_id: str | None
    actor_name: str
    ip: str | None
    action: str
    object_type: str | None
    object_id: str | None
    org_unit_path: str | None
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """An entry with its sequence number and chain hashes, as stored."""

    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str


# The canonical form is compact JSON with sorted keys, written out by hand: the top-level keys
# are fixed, so a format string in sorted key order gives the same bytes as
# `json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))` at a fraction of
# the cost (verification hashes every row, so this is its hot loop). Every value goes through the
# JSON encoder, so the encoding stays injective whatever a row holds. tests/audit proves the two
# spellings agree.
CANONICAL_TEMPLATE = (
    '{"action":%s,"actor":%s,"actor_id":%s,"at":%s,"details":%s,'
    '"ip":%s,"object_id":%s,"object_type":%s,"org":%s,"seq":%d}'
)
AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

encode_str = json.encoder.encode_basestring  # the C string encoder json.dumps uses


def _reject(value: object) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable in an audit entry")


def _make_encode_details() -> Callable[[Any], str]:
    # json.dumps builds a fresh encoder on every call; building the C encoder once halves the
    # cost. markers=None skips the cycle check: details are JSON data (decoded, or copied
    # through a JSON round trip), which cannot contain cycles.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # not CPython: the pure-Python encoder gives the same text
        encoder = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return encoder.encode
    c_encode = make(None, _reject, encode_str, None, ":", ",", True, False, True)

    def encode(value: Any) -> str:
        return "".join(c_encode(value, 0))

    return encode


encode_details: Callable[[Any], str] = _make_encode_details()
"""Compact, key-sorted, non-ASCII-preserving JSON of an entry's details (canonical form)."""


def format_at(value: dt.datetime) -> str:
    """A timestamp as hashed: UTC with microseconds, e.g. `2026-01-05T08:00:00.000000Z`."""
    return value.astimezone(dt.UTC).strftime(AT_FORMAT)


def stored_details(details: Mapping[str, Any]) -> Any:
    """Details as they come back from the database's JSON column.

    Hashing the stored form, not the Python value, keeps a round trip from looking like
    tampering: tuples come back as lists and non-string keys as strings (which also sort
    differently, `10` before `9`).
    """
    return json.loads(json.dumps(dict(details)))


def canonical_text(
    seq: int,
    at: str,
    actor_id: str | None,
    actor_name: str,
    ip: str | None,
    action: str,
    object_type: str | None,
    object_id: str | None,
    org_unit_path: str | None,
    details: Any,
) -> str:
    """The canonical JSON of a row from its stored values (`at` from `format_at`)."""
    return CANONICAL_TEMPLATE % (
        encode_str(action),
        encode_str(actor_name),
        "null" if actor_id is None else encode_str(actor_id),
        encode_str(at),
        encode_details(details),
        "null" if ip is None else encode_str(ip),
        "null" if object_id is None else encode_str(object_id),
        "null" if object_type is None else encode_str(object_type),
        "null" if org_unit_path is None else encode_str(org_unit_path),
        seq,
    )


def _entry_text(seq: int, entry: AuditEntry) -> str:
    return canonical_text(
        seq,
        format_at(entry.occurred_at),
        entry.actor_id,
        entry.actor_name,
        entry.ip,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.org_unit_path,
        stored_details(entry.details),
    )


def canonical(seq: int, entry: AuditEntry) -> bytes:
    """The bytes that are hashed: stable key order, UTC microsecond timestamps."""
    return _entry_text(seq, entry).encode()


def chain_hash(prev_hash: str, seq: int, entry: AuditEntry) -> str:
    """SHA-256 of the previous hash and this row's canonical bytes."""
    # One buffer, one call: the same bytes as hashing prev_hash then canonical().
    return hashlib.sha256((prev_hash + _entry_text(seq, entry)).encode()).hexdigest()


def seal(prev_hash: str, first_seq: int, entries: Iterable[AuditEntry]) -> list[AuditRecord]:
    """Give entries consecutive sequence numbers and chain hashes after `prev_hash`."""
    out: list[AuditRecord] = []
    seq = first_seq
    for entry in entries:
        digest = chain_hash(prev_hash, seq, entry)
        out.append(AuditRecord(seq, entry, prev_hash, digest))
        prev_hash = digest
        seq += 1
    return out


def diff(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    sensitive: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """Changed fields as {field: {"before": x, "after": y}}, sensitive values masked."""
    before = before or {}
    after = after or {}
    hidden = set(sensitive)
    changes: dict[str, dict[str, Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key in hidden:
            old = None if old is None else MASK
            new = None if new is None else MASK
        changes[key] = {"before": _plain(old), "after": _plain(new)}
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return value
