"""The audit record and its hash chain. Pure: no I/O.

Each row's hash is SHA-256 over the previous row's hash and a canonical JSON of the row's own
fields (sequence number included), so an altered, deleted, inserted or reordered row breaks the
chain at that row. Signed checkpoints (see `checkpoint.py`) catch a cut tail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
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


def canonical(seq: int, entry: AuditEntry) -> bytes:
    """The bytes that are hashed: stable key order, UTC microsecond timestamps."""
    body = {
        "seq": seq,
        "at": entry.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": entry.actor_id,
        "actor": entry.actor_name,
        "ip": entry.ip,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "org": entry.org_unit_path,
        "details": entry.details,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, seq: int, entry: AuditEntry) -> str:
    """SHA-256 of the previous hash and this row's canonical bytes."""
    h = hashlib.sha256(prev_hash.encode())
    h.update(canonical(seq, entry))
    return h.hexdigest()


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
