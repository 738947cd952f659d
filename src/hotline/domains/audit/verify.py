"""Verify the audit hash chain and its signed checkpoints. Pure: no I/O.

`verify_chain` walks stored rows in `seq` order, in constant memory (rows are consumed one at a
time, so a generator over a server-side cursor verifies millions of rows), and stops at the
first row it cannot vouch for:

- a gap in `seq` (rows deleted) or a `seq` that goes back (rows duplicated or reordered);
- a `prev_hash` that is not the previous row's hash (a row inserted or deleted before this one);
- a `hash` that does not match the row's own contents (the row was altered);
- a signed checkpoint whose hash differs from the chain's at its `seq` (the chain was rewritten
  and re-hashed from some row on: an attacker with database access can recompute SHA-256, but
  cannot sign);
- a signed checkpoint beyond the last row (the tail was cut).

The result names the first bad `seq`: every row below it is intact and chained. Rows appended
after the newest checkpoint can be forged with recomputed hashes, which only a later checkpoint
exposes; checkpoints are written often (`audit_checkpoint_every`) for that reason.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hotline.domains.audit.model import (
    GENESIS,
    AuditRecord,
    encode_details,
    encode_str,
    format_at,
)

# A row as stored, in this column order (`ROW_COLUMNS`): `at` is the canonical timestamp text
# (`model.format_at`) and `details` the JSON text of the details column, so a database adapter
# can hand over driver tuples as they come, without building objects per row.
Row = tuple[
    int,  # seq
    str,  # at
    str | None,  # actor_id
    str,  # actor_name
    str | None,  # ip
    str,  # action
    str | None,  # object_type
    str | None,  # object_id
    str | None,  # org_unit_path
    str,  # details (JSON text)
    str,  # prev_hash
    str,  # hash
]
ROW_COLUMNS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "ip",
    "action",
    "object_type",
    "object_id",
    "org_unit_path",
    "details",
    "prev_hash",
    "hash",
)


class Problem(enum.StrEnum):
    """Why verification stopped; also the last part of the i18n key `audit.verify.<problem>`."""

    missing = "missing"
    out_of_order = "out_of_order"
    broken_link = "broken_link"
    altered = "altered"
    malformed = "malformed"
    checkpoint_mismatch = "checkpoint_mismatch"
    bad_signature = "bad_signature"
    tail_cut = "tail_cut"
    checkpoint_unreadable = "checkpoint_unreadable"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed (seq, hash) pair, from the checkpoint table or the external checkpoint file.

    The signature is checked by whoever loads the checkpoint (the key lives outside the pure
    code); `signature_ok=False` makes verification fail when the chain reaches `seq`.
    """

    seq: int
    hash: str
    source: str = "table"
    signature_ok: bool = True


@dataclass(frozen=True, slots=True)
class Failure:
    """The first problem found: where, why, an English message and its i18n key + params."""

    seq: int | None
    problem: Problem
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The i18n key of the message, e.g. `audit.verify.altered`."""
        return f"audit.verify.{self.problem}"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of a verification run.

    `rows_checked` rows and `checkpoints_checked` checkpoints were confirmed before `failure`
    (if any); `last_seq`/`last_hash` are those of the last confirmed row (0/GENESIS if none).
    """

    rows_checked: int
    checkpoints_checked: int
    last_seq: int
    last_hash: str
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        """True when the whole chain and every checkpoint checked out."""
        return self.failure is None

    @property
    def first_bad_seq(self) -> int | None:
        """The first seq that could not be verified (every lower seq is intact), or None."""
        return self.failure.seq if self.failure else None


def failed(failure: Failure, *, checkpoints_checked: int = 0) -> VerifyResult:
    """A result that failed before any row was read (e.g. an unreadable checkpoint file)."""
    return VerifyResult(0, checkpoints_checked, 0, GENESIS, failure)


def record_row(record: AuditRecord) -> Row:
    """A sealed record as the database stores it (details as the JSON column's text)."""
    e = record.entry
    return (
        record.seq,
        format_at(e.occurred_at),
        e.actor_id,
        e.actor_name,
        e.ip,
        e.action,
        e.object_type,
        e.object_id,
        e.org_unit_path,
        json.dumps(dict(e.details)),
        record.prev_hash,
        record.hash,
    )


def verify_chain(rows: Iterable[Row], checkpoints: Iterable[Checkpoint] = ()) -> VerifyResult:
    """Check `rows` (all of them, ascending `seq`, from seq 1) against the chain and checkpoints.

    Stops at the first problem; see the module docstring for what is detected.
    """
    pending = sorted(checkpoints, key=lambda c: c.seq)
    for cp in pending:
        if cp.seq < 1:
            return failed(
                Failure(
                    cp.seq,
                    Problem.checkpoint_mismatch,
                    f"a checkpoint ({cp.source}) names seq {cp.seq}, which no row can have",
                    {"checkpoint_seq": cp.seq, "source": cp.source},
                )
            )
    cp_index = 0
    next_cp = pending[0].seq if pending else 0  # seq 0 never occurs: no checkpoint pending
    checked_cps = 0
    last_good_cp = 0

    # Local names: this loop runs once per row, so attribute and global look-ups add up.
    sha256 = hashlib.sha256
    loads = json.loads
    # json.loads is this scanner behind a whitespace regex and two calls; calling it directly
    # halves the cost of decoding, and any text it does not take whole goes to json.loads.
    scan = _SCAN_ONCE
    enc = encode_str
    enc_details = encode_details
    expected = 1
    prev = GENESIS

    for row in rows:
        try:
            seq, at, actor_id, actor, ip, action, ot, oid, org, details, prev_hash, digest = row
            if seq != expected:
                return _result(expected - 1, prev, checked_cps, _seq_failure(expected, seq))
            if prev_hash != prev:
                return _result(
                    expected - 1,
                    prev,
                    checked_cps,
                    Failure(
                        seq,
                        Problem.broken_link,
                        f"row {seq} does not follow row {seq - 1}: its prev_hash is not that "
                        "row's hash (a row was inserted or deleted here, or this row altered)",
                        {"seq": seq},
                    ),
                )
            try:
                value, end = scan(details, 0)
                if end != len(details):
                    raise ValueError("trailing text")
            except (StopIteration, ValueError):
                value = loads(details)  # exact json.loads: surrounding blanks, or the error
            # model.canonical_text, inlined as an f-string: a call and the %-formatting tuple per
            # row cost measurably. tests/audit/test_chain.py proves the bytes are the same.
            text = (
                f'{{"action":{enc(action)},"actor":{enc(actor)},'
                f'"actor_id":{"null" if actor_id is None else enc(actor_id)},'
                f'"at":{enc(at)},"details":{enc_details(value)},'
                f'"ip":{"null" if ip is None else enc(ip)},'
                f'"object_id":{"null" if oid is None else enc(oid)},'
                f'"object_type":{"null" if ot is None else enc(ot)},'
                f'"org":{"null" if org is None else enc(org)},"seq":{seq:d}}}'
            )
            if sha256((prev + text).encode()).hexdigest() != digest:
                return _result(
                    expected - 1,
                    prev,
                    checked_cps,
                    Failure(
                        seq,
                        Problem.altered,
                        f"row {seq} was altered: its contents do not match its hash",
                        {"seq": seq},
                    ),
                )
        except Exception as exc:  # a mangled row (wrong types, bad JSON) is a finding, not a crash
            return _result(
                expected - 1,
                prev,
                checked_cps,
                Failure(
                    expected,
                    Problem.malformed,
                    f"row {expected} is malformed and cannot be verified: {exc}",
                    {"seq": expected, "error": str(exc)},
                ),
            )
        if seq == next_cp:
            while cp_index < len(pending) and pending[cp_index].seq == seq:
                cp = pending[cp_index]
                problem = _checkpoint_problem(cp, digest, last_good_cp)
                if problem is not None:
                    return _result(expected - 1, prev, checked_cps, problem)
                checked_cps += 1
                cp_index += 1
            last_good_cp = seq
            next_cp = pending[cp_index].seq if cp_index < len(pending) else 0
        prev = digest
        expected += 1

    last = expected - 1
    rest = pending[cp_index:]
    if rest:
        signed = [cp for cp in rest if cp.signature_ok]
        if not signed:
            cp = rest[0]
            return _result(last, prev, checked_cps, _bad_signature(cp))
        cp = signed[-1]
        first_missing = last + 1
        return _result(
            last,
            prev,
            checked_cps,
            Failure(
                first_missing,
                Problem.tail_cut,
                f"the log ends at row {last}, but a signed checkpoint ({cp.source}) vouches for "
                f"row {cp.seq}: rows {first_missing}..{cp.seq} were cut off",
                {
                    "seq": first_missing,
                    "last_seq": last,
                    "checkpoint_seq": cp.seq,
                    "source": cp.source,
                },
            ),
        )
    return VerifyResult(last, checked_cps, last, prev)


_SCAN_ONCE: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _result(last: int, last_hash: str, checked_cps: int, failure: Failure) -> VerifyResult:
    return VerifyResult(last, checked_cps, last, last_hash, failure)


def _seq_failure(expected: int, found: Any) -> Failure:
    if isinstance(found, int) and found > expected:
        end = found - 1
        span = f"row {expected} is" if end == expected else f"rows {expected}..{end} are"
        return Failure(
            expected,
            Problem.missing,
            f"{span} missing: the next stored row is {found} (rows were deleted)",
            {"seq": expected, "found": found},
        )
    return Failure(
        expected,
        Problem.out_of_order,
        f"expected row {expected} after row {expected - 1}, found row {found!r} "
        "(a row was duplicated, inserted or moved)",
        {"seq": expected, "found": found},
    )


def _bad_signature(cp: Checkpoint) -> Failure:
    return Failure(
        cp.seq,
        Problem.bad_signature,
        f"the checkpoint for row {cp.seq} ({cp.source}) has an invalid signature "
        "(forged, altered, or signed by an unknown key)",
        {"seq": cp.seq, "source": cp.source},
    )


def _checkpoint_problem(cp: Checkpoint, digest: str, last_good_cp: int) -> Failure | None:
    if not cp.signature_ok:
        return _bad_signature(cp)
    if cp.hash != digest:
        return Failure(
            cp.seq,
            Problem.checkpoint_mismatch,
            f"row {cp.seq}'s hash differs from its signed checkpoint ({cp.source}): the chain "
            f"was rewritten somewhere in rows {last_good_cp + 1}..{cp.seq}",
            {"seq": cp.seq, "from_seq": last_good_cp + 1, "source": cp.source},
        )
    return None
