"""Audit tamper evidence against a real database (SQLite, or PostgreSQL when configured).

Rows are written through the unit of work; the attacker then works with plain SQL, first against
the append-only triggers and then, having dropped them, directly on the rows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import tracemalloc
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hotline.cli.main import app as cli
from hotline.core.clock import ManualClock
from hotline.core.context import system_actor
from hotline.domains.audit.model import GENESIS, AuditEntry, chain_hash, seal
from hotline.domains.audit.verify import Problem, VerifyResult
from hotline.infra.audit import checkpoint as checkpoint_module
from hotline.infra.audit.checkpoint import (
    checkpoint_file,
    load_signing_key,
    maybe_checkpoint,
    verify_database,
    write_checkpoint,
)
from hotline.infra.db.engine import is_postgres
from hotline.infra.db.schema import audit_checkpoints, audit_log
from hotline.infra.runtime import Runtime

ROWS = 24
CHECKPOINT_AT = 20


def audit_rows(runtime: Runtime, count: int, *, start: int = 0) -> None:
    """`count` audit rows through the unit of work, two per transaction where possible."""
    k = start
    while k < start + count:
        with runtime.db.transaction(actor=system_actor("tester")) as tx:
            for _ in range(min(2, start + count - k)):
                tx.audit(
                    "customer.update",
                    "customer",
                    f"c{k}",
                    org_unit_path="/g/b1/",
                    before={"name": "张三", "phone": "1"},
                    after={"name": "张三丰", "phone": "2"},
                    sensitive=("phone",),
                    details={"k": k, "tags": ("a", "b"), 7: "int key"},
                )
                k += 1


def checkpoint(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        assert write_checkpoint(conn, runtime.settings, clock=runtime.clock) is not None


@pytest.fixture
def logged(runtime: Runtime, clock: ManualClock) -> Runtime:
    """A log of ROWS rows with a signed checkpoint at CHECKPOINT_AT."""
    audit_rows(runtime, CHECKPOINT_AT)
    clock.advance(60)
    checkpoint(runtime)
    audit_rows(runtime, ROWS - CHECKPOINT_AT, start=CHECKPOINT_AT)
    return runtime


def verify(runtime: Runtime) -> VerifyResult:
    return verify_database(runtime.engine, runtime.settings)


def attack(runtime: Runtime, *statements: str) -> None:
    """Run SQL as an attacker with database access who first removes the append-only guard."""
    with runtime.engine.begin() as conn:
        if is_postgres(conn):
            for table in ("audit_log", "audit_checkpoints"):
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        else:
            for table in ("audit_log", "audit_checkpoints"):
                for event in ("update", "delete"):
                    conn.exec_driver_sql(f"DROP TRIGGER {table}_no_{event}")
        for statement in statements:
            conn.exec_driver_sql(statement)


def stored_hash(runtime: Runtime, seq: int) -> str:
    with runtime.db.read() as conn:
        return str(
            conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar_one()
        )


# --- intact ------------------------------------------------------------------------------------
def test_intact_log_verifies(logged: Runtime) -> None:
    result = verify(logged)
    assert result.ok, result.failure
    assert result.rows_checked == ROWS and result.last_seq == ROWS
    assert result.checkpoints_checked == 2  # the table row and the file line
    assert result.last_hash == stored_hash(logged, ROWS)
    # The same through a caller's connection.
    with logged.db.read() as conn:
        assert verify_database(conn, logged.settings).ok


def test_empty_log_verifies_and_has_nothing_to_sign(runtime: Runtime) -> None:
    assert verify(runtime).ok and verify(runtime).rows_checked == 0
    with runtime.engine.begin() as conn:
        assert write_checkpoint(conn, runtime.settings, clock=runtime.clock) is None
        assert maybe_checkpoint(conn, runtime.settings, clock=runtime.clock) is None


def test_signing_key_lives_outside_the_database(logged: Runtime) -> None:
    path = logged.settings.resolved_audit_key_file
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_signing_key(path)
    assert key is not None and key.private is not None
    with logged.db.read() as conn:
        row = conn.execute(sa.select(audit_checkpoints)).one()
    assert row.audit_seq == CHECKPOINT_AT and row.key_id == key.key_id
    assert row.hash == stored_hash(logged, CHECKPOINT_AT)
    assert row.signed_at == logged.clock.now()
    lines = checkpoint_file(logged.settings).read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [CHECKPOINT_AT]


def test_checkpoint_is_written_once_per_tail(logged: Runtime) -> None:
    with logged.engine.begin() as conn:
        assert write_checkpoint(conn, logged.settings, clock=logged.clock) is not None
        assert write_checkpoint(conn, logged.settings, clock=logged.clock) is None
    assert verify(logged).checkpoints_checked == 4


def test_maybe_checkpoint_every_n_rows(runtime: Runtime) -> None:
    def tick() -> int | None:
        with runtime.engine.begin() as conn:
            cp = maybe_checkpoint(conn, runtime.settings, every=10, clock=runtime.clock)
        return cp.seq if cp else None

    audit_rows(runtime, 9)
    assert tick() is None
    audit_rows(runtime, 1, start=9)
    assert tick() == 10
    assert tick() is None
    audit_rows(runtime, 9, start=10)
    assert tick() is None
    audit_rows(runtime, 3, start=19)
    assert tick() == 22
    assert verify(runtime).checkpoints_checked == 4
    # The default comes from the settings.
    assert runtime.settings.audit_checkpoint_every == 1000
    with runtime.engine.begin() as conn:
        assert maybe_checkpoint(conn, runtime.settings, clock=runtime.clock) is None


def test_verification_streams_the_log(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows come through a cursor in small batches: memory does not grow with the log."""
    entries = [
        AuditEntry(
            runtime.clock.now(),
            None,
            "bulk",
            None,
            "bulk.load",
            "thing",
            str(k),
            None,
            {"k": k, "pad": "x" * 200},
        )
        for k in range(4000)
    ]
    with runtime.engine.begin() as conn:
        conn.execute(
            audit_log.insert(),
            [
                {
                    "seq": r.seq,
                    "occurred_at": r.entry.occurred_at,
                    "actor_id": None,
                    "actor_name": "bulk",
                    "ip": None,
                    "action": "bulk.load",
                    "object_type": "thing",
                    "object_id": r.entry.object_id,
                    "org_unit_path": None,
                    "details": dict(r.entry.details),
                    "prev_hash": r.prev_hash,
                    "hash": r.hash,
                }
                for r in seal(GENESIS, 1, entries)
            ],
        )
    monkeypatch.setattr(checkpoint_module, "FETCH_ROWS", 100)
    assert verify(runtime).rows_checked == 4000  # warm up caches before measuring
    tracemalloc.start()
    try:
        result = verify(runtime)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and result.rows_checked == 4000
    assert peak < 1_000_000  # the 4,000 rows themselves take several megabytes


# --- the append-only guard ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'x' WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
        "UPDATE audit_checkpoints SET hash = 'x'",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_rows_cannot_be_changed_or_deleted(logged: Runtime, statement: str) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="is append-only"):
        with logged.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert verify(logged).ok


def test_truncate_is_blocked_on_postgres(logged: Runtime) -> None:
    if not is_postgres(logged.engine):
        pytest.skip("SQLite has no TRUNCATE (DELETE without WHERE is covered above)")
    for table in ("audit_log", "audit_checkpoints"):
        with pytest.raises(sa.exc.DBAPIError, match=f"{table} is append-only"):
            with logged.engine.begin() as conn:
                conn.exec_driver_sql(f"TRUNCATE {table}")


def test_appending_still_works(logged: Runtime) -> None:
    audit_rows(logged, 3, start=ROWS)
    assert verify(logged).rows_checked == ROWS + 3


# --- tampering past the guard ------------------------------------------------------------------
def test_altered_row_is_named(logged: Runtime) -> None:
    attack(logged, "UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 7")
    result = verify(logged)
    assert result.first_bad_seq == 7 and result.rows_checked == 6
    assert result.failure is not None and result.failure.problem is Problem.altered


@pytest.mark.parametrize("column", ["occurred_at", "details", "org_unit_path", "hash"])
def test_altered_column_is_named(logged: Runtime, column: str) -> None:
    with logged.db.read() as conn:
        row = conn.execute(sa.select(audit_log).where(audit_log.c.seq == 11)).one()
    values = {
        "occurred_at": row.occurred_at + dt.timedelta(microseconds=1),
        "details": {**row.details, "k": 999},
        "org_unit_path": None,
        "hash": "f" * 64,
    }
    attack(logged)
    with logged.engine.begin() as conn:
        conn.execute(
            audit_log.update().where(audit_log.c.seq == 11).values({column: values[column]})
        )
    assert verify(logged).first_bad_seq == 11


def test_reformatted_details_are_not_tampering(logged: Runtime) -> None:
    """Re-spelling the same JSON (spacing, key order) changes no fact the log records."""
    with logged.db.read() as conn:
        text = conn.execute(sa.text("SELECT details FROM audit_log WHERE seq = 6")).scalar_one()
    details = text if isinstance(text, dict) else json.loads(text)
    respelled = json.dumps(dict(reversed(list(details.items()))), indent=1, ensure_ascii=False)
    assert respelled != text
    attack(logged)
    with logged.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET details = :d WHERE seq = 6"), {"d": respelled})
    assert verify(logged).ok


def test_deleted_row_is_named(logged: Runtime) -> None:
    attack(logged, "DELETE FROM audit_log WHERE seq = 7")
    result = verify(logged)
    assert result.first_bad_seq == 7
    assert result.failure is not None and result.failure.problem is Problem.missing


def test_inserted_row_is_named(logged: Runtime) -> None:
    """A forged row slipped in at 7 (later rows renumbered) breaks the link of the next row."""
    attack(
        logged,
        "UPDATE audit_log SET seq = -seq WHERE seq >= 7",
        "UPDATE audit_log SET seq = 1 - seq WHERE seq < 0",
    )
    entry = AuditEntry(
        occurred_at=logged.clock.now(),
        actor_id=None,
        actor_name="admin",
        ip=None,
        action="user.grant",
        object_type="user",
        object_id="mallory",
        org_unit_path="/g/",
        details={},
    )
    prev = stored_hash(logged, 6)
    with logged.engine.begin() as conn:
        conn.execute(
            audit_log.insert().values(
                seq=7,
                occurred_at=entry.occurred_at,
                actor_id=None,
                actor_name="admin",
                ip=None,
                action=entry.action,
                object_type="user",
                object_id="mallory",
                org_unit_path="/g/",
                details={},
                prev_hash=prev,
                hash=chain_hash(prev, 7, entry),
            )
        )
    result = verify(logged)
    assert result.first_bad_seq == 8  # row 7 itself is a valid-looking forgery
    assert result.failure is not None and result.failure.problem is Problem.broken_link


def test_inserted_row_at_the_tail_is_named(logged: Runtime) -> None:
    attack(
        logged,
        "INSERT INTO audit_log (seq, occurred_at, actor_name, action, details, prev_hash, hash)"
        f" VALUES ({ROWS + 1}, '2026-01-05 09:00:00.000000', 'x', 'y', '{{}}',"
        f" '{'0' * 64}', '{'1' * 64}')",
    )
    assert verify(logged).first_bad_seq == ROWS + 1


@pytest.mark.parametrize("keep_file", [True, False])
def test_cut_tail_is_named(logged: Runtime, keep_file: bool) -> None:
    """Rows 16.. and the checkpoint rows are deleted; a copy of the checkpoint still names 20."""
    statements = ["DELETE FROM audit_log WHERE seq >= 16"]
    if keep_file:
        statements.append("DELETE FROM audit_checkpoints")  # the external file still has it
    else:
        checkpoint_file(logged.settings).unlink()  # the table still has it
    attack(logged, *statements)
    result = verify(logged)
    assert result.first_bad_seq == 16 and result.rows_checked == 15
    assert result.failure is not None and result.failure.problem is Problem.tail_cut
    assert result.failure.params["checkpoint_seq"] == CHECKPOINT_AT
    assert result.failure.params["source"] == ("file" if keep_file else "table")


def test_cut_tail_past_every_checkpoint_is_undetectable(logged: Runtime) -> None:
    """The documented limit: rows after the newest checkpoint have nothing vouching for them."""
    attack(logged, f"DELETE FROM audit_log WHERE seq > {CHECKPOINT_AT}")
    assert verify(logged).ok


def test_rewritten_chain_is_caught_by_the_checkpoint(logged: Runtime) -> None:
    """Alter row 5 and recompute every later hash: the chain is consistent, the signature not."""
    attack(logged)
    with logged.engine.begin() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
        prev = rows[3].hash
        for row in rows[4:]:
            entry = AuditEntry(
                occurred_at=row.occurred_at,
                actor_id=row.actor_id,
                actor_name="mallory" if row.seq == 5 else row.actor_name,
                ip=row.ip,
                action=row.action,
                object_type=row.object_type,
                object_id=row.object_id,
                org_unit_path=row.org_unit_path,
                details=row.details,
            )
            digest = chain_hash(prev, row.seq, entry)
            conn.execute(
                audit_log.update()
                .where(audit_log.c.seq == row.seq)
                .values(actor_name=entry.actor_name, prev_hash=prev, hash=digest)
            )
            prev = digest
    result = verify(logged)
    assert result.first_bad_seq == CHECKPOINT_AT
    assert result.failure is not None and result.failure.problem is Problem.checkpoint_mismatch
    assert result.failure.params["from_seq"] == 1


def test_forged_checkpoint_is_named(logged: Runtime) -> None:
    attack(
        logged,
        "UPDATE audit_checkpoints SET hash = '" + "a" * 64 + "'",
    )
    result = verify(logged)
    assert result.first_bad_seq == CHECKPOINT_AT
    assert result.failure is not None and result.failure.problem is Problem.bad_signature
    assert result.failure.params["source"] == "table"


def test_replaced_signing_key_is_caught(logged: Runtime) -> None:
    logged.settings.resolved_audit_key_file.unlink()
    result = verify(logged)
    assert result.failure is not None and result.failure.problem is Problem.bad_signature


def test_mangled_checkpoint_file_is_a_finding(logged: Runtime) -> None:
    path = checkpoint_file(logged.settings)
    path.write_text(path.read_text() + "{oops\n")
    result = verify(logged)
    assert result.failure is not None
    assert result.failure.problem is Problem.checkpoint_unreadable
    assert "line 2" in result.failure.message


# --- the command line --------------------------------------------------------------------------
@pytest.fixture
def cli_env(logged: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", logged.settings.database_url)
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(logged.settings.var_dir))
    for name in list(os.environ):
        if name.startswith("HOTLINE_") and name not in ("HOTLINE_DATABASE_URL", "HOTLINE_VAR_DIR"):
            monkeypatch.delenv(name)
    yield logged


def test_cli_verify_and_checkpoint(cli_env: Runtime) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert f"rows checked: {ROWS}, checkpoints checked: 2" in ok.stdout
    signed = runner.invoke(cli, ["audit", "checkpoint"])
    assert signed.exit_code == 0, signed.output
    assert f"checkpoint written: seq {ROWS}" in signed.stdout
    again = runner.invoke(cli, ["audit", "checkpoint"])
    assert again.exit_code == 0 and "nothing to sign" in again.stdout
    assert "checkpoints checked: 4" in runner.invoke(cli, ["audit", "verify"]).stdout


def test_cli_verify_names_the_first_bad_row(cli_env: Runtime) -> None:
    attack(cli_env, "UPDATE audit_log SET action = 'nothing.to.see' WHERE seq = 9")
    result = CliRunner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "first bad seq: 9" in result.stdout
    assert "FAILED at seq 9" in result.stderr
    assert "reason: altered" in result.stdout
