"""The audit hash chain and its verifier, pure (no database): any single tampering is caught."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hotline.domains.audit.model import (
    GENESIS,
    AuditEntry,
    AuditRecord,
    canonical,
    canonical_text,
    chain_hash,
    format_at,
    seal,
    stored_details,
)
from hotline.domains.audit.verify import (
    Checkpoint,
    Problem,
    Row,
    record_row,
    verify_chain,
)

UTC = dt.UTC
HEX = "0123456789abcdef"

# --- strategies --------------------------------------------------------------------------------
texts = st.text(max_size=12)  # any code point but lone surrogates (they cannot be stored)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
entries = st.builds(
    AuditEntry,
    occurred_at=st.datetimes(
        # hypothesis wants naive bounds; `timezones` makes the values aware
        min_value=dt.datetime(2000, 1, 1),  # noqa: DTZ001
        max_value=dt.datetime(2100, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    actor_id=st.none() | texts,
    actor_name=texts,
    ip=st.none() | texts,
    action=texts,
    object_type=st.none() | texts,
    object_id=st.none() | texts,
    org_unit_path=st.none() | texts,
    details=st.dictionaries(texts, json_values, max_size=4),
)
hashes = st.text(alphabet=HEX, min_size=64, max_size=64)
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rows_of(records: list[AuditRecord]) -> list[Row]:
    return [record_row(r) for r in records]


@st.composite
def chains(draw: st.DrawFn, min_size: int = 1, max_size: int = 8) -> list[Row]:
    return rows_of(seal(GENESIS, 1, draw(st.lists(entries, min_size=min_size, max_size=max_size))))


def replace(row: Row, index: int, value: Any) -> Row:
    cells = list(row)
    cells[index] = value
    return tuple(cells)  # type: ignore[return-value]


# --- the canonical form ------------------------------------------------------------------------
@FAST
@given(seq=st.integers(min_value=1, max_value=2**62), entry=entries)
def test_canonical_is_sorted_compact_json(seq: int, entry: AuditEntry) -> None:
    """The hand-written template gives exactly json.dumps' bytes (the original definition)."""
    body = {
        "seq": seq,
        "at": entry.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": entry.actor_id,
        "actor": entry.actor_name,
        "ip": entry.ip,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "org": entry.org_unit_path,
        "details": entry.details,
    }
    reference = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert canonical(seq, entry) == reference.encode()
    prev = "ab" * 32
    expected = hashlib.sha256(prev.encode() + reference.encode()).hexdigest()
    assert chain_hash(prev, seq, entry) == expected


def test_details_hash_as_stored() -> None:
    """Tuples and non-string keys come back from a JSON column changed; the hash uses that form."""
    details = {10: "ten", 9: "nine", "t": (1, 2)}
    assert stored_details(details) == {"10": "ten", "9": "nine", "t": [1, 2]}
    entry = AuditEntry(
        dt.datetime(2026, 1, 5, tzinfo=UTC), None, "s", None, "a", None, None, None, details
    )
    [record] = seal(GENESIS, 1, [entry])
    assert verify_chain([record_row(record)]).ok
    text = canonical_text(
        1,
        format_at(entry.occurred_at),
        None,
        "s",
        None,
        "a",
        None,
        None,
        None,
        json.loads(json.dumps(details)),
    )
    assert canonical(1, entry) == text.encode()


# --- intact chains -----------------------------------------------------------------------------
@FAST
@given(rows=chains(), data=st.data())
def test_intact_chain_verifies(rows: list[Row], data: st.DataObject) -> None:
    picks = data.draw(st.lists(st.integers(0, len(rows) - 1), max_size=4))
    cps = [
        Checkpoint(rows[i][0], rows[i][11], source) for i in picks for source in ("table", "file")
    ]
    result = verify_chain(iter(rows), cps)
    assert result.ok and result.failure is None and result.first_bad_seq is None
    assert result.rows_checked == len(rows) == result.last_seq
    assert result.last_hash == rows[-1][11]
    assert result.checkpoints_checked == len(cps)


def test_empty_log_verifies() -> None:
    result = verify_chain([])
    assert result.ok and result.rows_checked == 0 and result.last_hash == GENESIS


# --- single tamperings -------------------------------------------------------------------------
COLUMNS = {
    0: st.integers(min_value=-5, max_value=50),  # seq
    1: st.datetimes(timezones=st.just(UTC)).map(format_at),  # at
    2: st.none() | texts,  # actor_id
    3: texts,  # actor_name
    4: st.none() | texts,  # ip
    5: texts,  # action
    6: st.none() | texts,  # object_type
    7: st.none() | texts,  # object_id
    8: st.none() | texts,  # org_unit_path
    10: hashes,  # prev_hash
    11: hashes,  # hash
}


@FAST
@given(rows=chains(), data=st.data())
def test_altered_row_is_named(rows: list[Row], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(rows) - 1), label="row")
    column = data.draw(st.sampled_from([*COLUMNS, 9]), label="column")
    if column == 9:  # details: add a key, so the change is one of meaning, not of spelling
        details = json.loads(rows[i][9])
        details["\x00tamper"] = data.draw(json_values)
        value: Any = json.dumps(details)
    else:
        value = data.draw(COLUMNS[column], label="value")
        assume(value != rows[i][column])
    tampered = list(rows)
    tampered[i] = replace(rows[i], column, value)
    result = verify_chain(tampered)
    assert not result.ok
    assert result.first_bad_seq == i + 1
    assert result.rows_checked == i


@FAST
@given(rows=chains(min_size=2), data=st.data())
def test_deleted_row_is_named(rows: list[Row], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(rows) - 2))  # deleting the last row is a cut tail
    result = verify_chain(rows[:i] + rows[i + 1 :])
    assert result.first_bad_seq == i + 1
    assert result.failure is not None and result.failure.problem is Problem.missing


@FAST
@given(rows=chains(), data=st.data())
def test_inserted_row_is_named(rows: list[Row], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(rows)), label="position")
    entry = data.draw(entries, label="entry")
    prev = data.draw(hashes, label="prev")
    assume(prev not in {GENESIS, *(r[11] for r in rows)})
    # Whatever seq the intruder gives it, the row does not link to its predecessor.
    seq = data.draw(st.sampled_from([i + 1, i, len(rows) + 1]), label="seq")
    [junk] = seal(prev, seq, [entry])
    result = verify_chain([*rows[:i], record_row(junk), *rows[i:]])
    assert result.first_bad_seq == i + 1


@FAST
@given(rows=chains(min_size=2), data=st.data())
def test_swapped_rows_are_named(rows: list[Row], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(rows) - 2))
    j = data.draw(st.integers(i + 1, len(rows) - 1))
    swapped = list(rows)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert verify_chain(swapped).first_bad_seq == i + 1


@FAST
@given(rows=chains(min_size=2), data=st.data())
def test_swapped_contents_are_named(rows: list[Row], data: st.DataObject) -> None:
    """Rows exchanged but renumbered, as a database ordered by seq would return them."""
    i = data.draw(st.integers(0, len(rows) - 2))
    j = data.draw(st.integers(i + 1, len(rows) - 1))
    swapped = list(rows)
    swapped[i], swapped[j] = replace(rows[j], 0, i + 1), replace(rows[i], 0, j + 1)
    assert verify_chain(swapped).first_bad_seq == i + 1


@FAST
@given(rows=chains(min_size=2), data=st.data())
def test_cut_tail_is_named(rows: list[Row], data: st.DataObject) -> None:
    n = len(rows)
    keep = data.draw(st.integers(0, n - 1), label="keep")
    cp_at = data.draw(st.integers(keep + 1, n), label="checkpoint")
    source = data.draw(st.sampled_from(["table", "file"]))
    cps = [Checkpoint(cp_at, rows[cp_at - 1][11], source)]
    # The full chain passes; the cut one fails at the first missing row.
    assert verify_chain(rows, cps).ok
    result = verify_chain(rows[:keep], cps)
    assert result.first_bad_seq == keep + 1
    assert result.failure is not None and result.failure.problem is Problem.tail_cut
    assert str(cp_at) in result.failure.message
    assert result.failure.params["checkpoint_seq"] == cp_at
    # Without a checkpoint past the cut, a cut tail is indistinguishable from a shorter log.
    assert verify_chain(rows[:keep], [c for c in cps if c.seq <= keep]).ok


@FAST
@given(rows=chains(min_size=2), data=st.data())
def test_rewritten_chain_is_caught_by_a_checkpoint(rows: list[Row], data: st.DataObject) -> None:
    """An attacker alters row i and re-hashes everything after it: only a checkpoint can tell."""
    n = len(rows)
    i = data.draw(st.integers(0, n - 1), label="row")
    cp_at = data.draw(st.integers(i + 1, n), label="checkpoint")
    cps = [Checkpoint(cp_at, rows[cp_at - 1][11])]
    forged = _reseal(rows, i, action=rows[i][5] + "!")
    assert verify_chain(forged).ok  # the chain itself is consistent again
    result = verify_chain(forged, cps)
    assert result.first_bad_seq == cp_at
    assert result.failure is not None and result.failure.problem is Problem.checkpoint_mismatch
    assert result.failure.params["from_seq"] == 1


def test_forged_insert_in_the_middle_breaks_the_next_link() -> None:
    """An inserted row with a correct hash still cannot make the following row link to it."""
    rows = rows_of(seal(GENESIS, 1, [_entry(k) for k in range(6)]))
    [forged] = seal(rows[2][11], 4, [_entry(99)])
    result = verify_chain([*rows[:3], record_row(forged), *rows[3:]])
    assert result.first_bad_seq == 5
    assert result.failure is not None and result.failure.problem is Problem.out_of_order
    # Renumbered after the insert (seq + 1 from row 4 on), the next row's link still breaks.
    moved = [replace(r, 0, r[0] + 1) for r in rows[3:]]
    result = verify_chain([*rows[:3], record_row(forged), *moved])
    assert result.first_bad_seq == 5
    assert result.failure is not None and result.failure.problem is Problem.broken_link


def test_checkpoint_signature_failures() -> None:
    rows = rows_of(seal(GENESIS, 1, [_entry(k) for k in range(5)]))
    bad = Checkpoint(3, rows[2][11], "file", signature_ok=False)
    result = verify_chain(rows, [bad])
    assert result.first_bad_seq == 3
    assert result.failure is not None and result.failure.problem is Problem.bad_signature
    # An earlier bad row is reported first.
    tampered = [rows[0], replace(rows[1], 3, "mallory"), *rows[2:]]
    assert verify_chain(tampered, [bad]).first_bad_seq == 2
    # An unsigned checkpoint past the tail is a forgery, not a proof of a cut.
    result = verify_chain(rows, [Checkpoint(9, "0" * 64, "table", signature_ok=False)])
    assert result.failure is not None and result.failure.problem is Problem.bad_signature
    result = verify_chain(rows, [Checkpoint(0, "0" * 64)])
    assert result.failure is not None and result.failure.problem is Problem.checkpoint_mismatch


def test_malformed_rows_are_findings() -> None:
    rows = rows_of(seal(GENESIS, 1, [_entry(k) for k in range(3)]))
    for bad in (replace(rows[1], 9, "{not json"), replace(rows[1], 1, None), rows[1][:5]):
        result = verify_chain([rows[0], bad, rows[2]])  # type: ignore[list-item]
        assert result.first_bad_seq == 2
        assert result.failure is not None and result.failure.problem is Problem.malformed


def test_respelled_details_are_the_same_details() -> None:
    """Only the meaning of the JSON is hashed: blanks and key order may change, content not."""
    rows = rows_of(seal(GENESIS, 1, [_entry(k) for k in range(3)]))
    details = json.loads(rows[1][9])
    for text in (
        "  " + rows[1][9] + "\n",
        json.dumps(dict(reversed(list(details.items()))), indent=2, ensure_ascii=False),
    ):
        assert verify_chain([rows[0], replace(rows[1], 9, text), rows[2]]).ok
    result = verify_chain([rows[0], replace(rows[1], 9, rows[1][9] + " x"), rows[2]])
    assert result.failure is not None and result.failure.problem is Problem.malformed


def test_failure_carries_message_and_i18n_key() -> None:
    rows = rows_of(seal(GENESIS, 1, [_entry(k) for k in range(3)]))
    result = verify_chain([rows[0], replace(rows[1], 5, "user.delete"), rows[2]])
    failure = result.failure
    assert failure is not None
    assert failure.key == "audit.verify.altered"
    assert failure.params == {"seq": 2}
    assert "row 2 was altered" in failure.message


def test_verification_streams_in_constant_memory() -> None:
    def stream(n: int) -> Iterator[Row]:
        prev = GENESIS
        for seq in range(1, n + 1):
            [record] = seal(prev, seq, [_entry(seq)])
            prev = record.hash
            yield record_row(record)

    tracemalloc.start()
    try:
        result = verify_chain(stream(5_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and result.rows_checked == 5_000
    assert peak < 500_000  # holding 5,000 rows would take several megabytes


# --- helpers -----------------------------------------------------------------------------------
def _entry(k: int) -> AuditEntry:
    return AuditEntry(
        occurred_at=dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC) + dt.timedelta(seconds=k),
        actor_id=None,
        actor_name="system",
        ip=None,
        action="test.step",
        object_type="thing",
        object_id=str(k),
        org_unit_path="/g/",
        details={"k": k, "名": "值"},
    )


def _reseal(rows: list[Row], i: int, **change: Any) -> list[Row]:
    """Rows with row i's fields changed and every hash from row i on recomputed."""
    entries_ = [_as_entry(r) for r in rows]
    entries_[i] = AuditEntry(**{**_fields(entries_[i]), **change})
    prev = GENESIS if i == 0 else rows[i - 1][11]
    return rows[:i] + rows_of(seal(prev, i + 1, entries_[i:]))


def _as_entry(row: Row) -> AuditEntry:
    return AuditEntry(
        occurred_at=dt.datetime.fromisoformat(row[1]),
        actor_id=row[2],
        actor_name=row[3],
        ip=row[4],
        action=row[5],
        object_type=row[6],
        object_id=row[7],
        org_unit_path=row[8],
        details=json.loads(row[9]),
    )


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {f.name: getattr(entry, f.name) for f in dataclasses.fields(entry)}


@pytest.mark.parametrize("n", [1, 3])
def test_record_row_round_trip(n: int) -> None:
    records = seal(GENESIS, 1, [_entry(k) for k in range(n)])
    assert [_as_entry(r) for r in rows_of(records)] == [
        AuditEntry(**{**_fields(rec.entry), "details": json.loads(json.dumps(rec.entry.details))})
        for rec in records
    ]
