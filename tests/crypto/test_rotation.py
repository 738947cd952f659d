"""`hotline keys rotate`: re-wrap and re-encrypt with no downtime and no loss (R-E3)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from hotline.cli import keys as keys_cli
from hotline.core.clock import ManualClock
from hotline.core.context import Actor, Grant, system_actor
from hotline.domains.customers import actions, queries
from hotline.domains.identity import actions as identity
from hotline.domains.identity.model import ROLES, OrgUnit, OrgUnitKind
from hotline.infra.crypto import keyfile, rotation
from hotline.infra.crypto.rotation import ENCRYPTED_COLUMNS, RotationError, referenced_data_keys
from hotline.infra.db.schema import audit_log, customers, data_keys, users
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings

PASSWORD = "Str0ng-Passw0rd!"


@pytest.fixture
def unit(runtime: Runtime) -> OrgUnit:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        return identity.create_org_unit(
            tx, code="G", name="集团", kind=OrgUnitKind.group, parent_id=None
        )


def manager(unit: OrgUnit) -> Actor:
    return Actor(
        user_id="u-m",
        username="m",
        grants=(Grant("center_manager", unit.path, ROLES["center_manager"]),),
    )


def phone_of(i: int) -> str:
    return f"138{i:08d}"


def add_customers(runtime: Runtime, unit: OrgUnit, start: int, count: int) -> list[str]:
    ids = []
    with runtime.db.transaction(actor=manager(unit)) as tx:
        for i in range(start, start + count):
            view = actions.create_customer(
                tx,
                org_unit_id=unit.id,
                name=f"c{i}",
                phone=phone_of(i),
                address=f"地址{i}号",
            )
            ids.append(view.id)
    return ids


def read_all(runtime: Runtime, unit: OrgUnit) -> dict[str, tuple[str | None, str | None]]:
    """name → (phone, address), decrypted."""
    out: dict[str, tuple[str | None, str | None]] = {}
    after = None
    with runtime.db.transaction(actor=manager(unit)) as tx:
        while True:
            page = queries.list_customers(tx, limit=200, after=after, reveal=True)
            if not page:
                return out
            out.update({c.name: (c.phone, c.address) for c in page})
            after = page[-1].id


def expected(indexes: range | list[int]) -> dict[str, tuple[str | None, str | None]]:
    return {f"c{i}": (phone_of(i), f"地址{i}号") for i in indexes}


def add_totp_user(runtime: Runtime, unit: OrgUnit) -> str:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        user = identity.create_user(
            tx,
            runtime.policy(),
            username="alice",
            display_name="Alice",
            org_unit_id=unit.id,
            password=PASSWORD,
        )
        tx.identity.set_totp_secret(user.id, tx.encrypt("totp", "JBSWY3DPEHPK3PXP"))
    return user.id


def totp_of(runtime: Runtime, user_id: str) -> str:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        token = tx.identity.totp_secret(user_id)
        assert token is not None
        return tx.decrypt("totp", token)


def dek_rows(runtime: Runtime) -> list[sa.Row]:  # type: ignore[type-arg]
    with runtime.db.read() as conn:
        return list(conn.execute(sa.select(data_keys).order_by(data_keys.c.created_at)).all())


def referenced(runtime: Runtime) -> set[str]:
    with runtime.db.read() as conn:
        return referenced_data_keys(conn)


def key_file(runtime: Runtime) -> Path:
    return runtime.settings.resolved_master_key_file


def audits(runtime: Runtime, action: str) -> list[sa.Row]:  # type: ignore[type-arg]
    with runtime.db.read() as conn:
        q = sa.select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq)
        return list(conn.execute(q).all())


# --- registry ------------------------------------------------------------------------------
def test_registry_covers_every_encrypted_column() -> None:
    names = {c.name for c in ENCRYPTED_COLUMNS}
    assert names == {
        "customers.phone",
        "customers.id_number",
        "customers.address",
        "users.totp_secret",
        "contacts.caller",
    }
    for c in ENCRYPTED_COLUMNS:
        assert c.column in c.table.c and c.pk in c.table.c


# --- master key rotation -------------------------------------------------------------------
def test_master_rotation_rewraps_and_keeps_data(runtime: Runtime, unit: OrgUnit) -> None:
    add_customers(runtime, unit, 0, 5)
    uid = add_totp_user(runtime, unit)
    old_keys = keyfile.load(key_file(runtime))
    (old_dek,) = dek_rows(runtime)

    report = rotation.rotate(runtime.db, key_file(runtime))

    new_keys = keyfile.load(key_file(runtime))
    assert new_keys.active_id == report.master_key_id != old_keys.active_id
    assert set(new_keys.keys) == {new_keys.active_id}  # the old master key is gone
    assert report.removed_master_keys == [old_keys.active_id]
    assert new_keys.index_key == old_keys.index_key
    (dek,) = dek_rows(runtime)
    assert dek.id == old_dek.id and dek.active  # same data key, only re-wrapped
    assert dek.master_key_id == new_keys.active_id
    assert dek.wrapped_key != old_dek.wrapped_key
    assert report.rewrapped == 1 and report.data_key_id is None
    assert read_all(runtime, unit) == expected(range(5))
    assert totp_of(runtime, uid) == "JBSWY3DPEHPK3PXP"
    (row,) = audits(runtime, "keys.rotate")
    assert row.actor_name == "keys-rotate" and row.actor_id is None
    assert row.details["master_key_id"] == new_keys.active_id
    assert row.details["previous_master_key_id"] == old_keys.active_id
    # a freshly started process works with the new key file alone
    fresh = build_runtime(runtime.settings, clock=runtime.clock, upgrade=False)  # type: ignore[arg-type]
    try:
        assert read_all(fresh, unit) == expected(range(5))
    finally:
        fresh.close()


def test_master_rotation_after_crash_before_db_change(runtime: Runtime, unit: OrgUnit) -> None:
    """A crash after the key file was written but before the re-wrap: re-running heals."""
    add_customers(runtime, unit, 0, 3)
    original = keyfile.load(key_file(runtime))
    keyfile.write(key_file(runtime), keyfile.with_new_active(original))  # the "crashed" run
    report = rotation.rotate(runtime.db, key_file(runtime))
    final = keyfile.load(key_file(runtime))
    assert set(final.keys) == {report.master_key_id}
    assert len(report.removed_master_keys) == 2
    assert read_all(runtime, unit) == expected(range(3))


def test_master_rotation_refuses_unwrappable_key(runtime: Runtime, unit: OrgUnit) -> None:
    add_customers(runtime, unit, 0, 2)
    before = dek_rows(runtime)
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        tx.conn.execute(data_keys.update().values(master_key_id="mk-lost"))
    with pytest.raises(RotationError, match="mk-lost"):
        rotation.rotate(runtime.db, key_file(runtime))
    assert [r.wrapped_key for r in dek_rows(runtime)] == [r.wrapped_key for r in before]
    # the key file still holds the original master key: nothing was lost
    assert before[0].master_key_id in keyfile.load(key_file(runtime)).keys


# --- data key rotation ---------------------------------------------------------------------
def test_data_rotation_reencrypts_everything(runtime: Runtime, unit: OrgUnit) -> None:
    add_customers(runtime, unit, 0, 23)
    with runtime.db.transaction(actor=manager(unit)) as tx:
        actions.create_customer(
            tx, org_unit_id=unit.id, name="id-holder", id_number="11010519491231002X"
        )
    uid = add_totp_user(runtime, unit)
    old_keys = keyfile.load(key_file(runtime))
    (old_dek,) = dek_rows(runtime)
    assert referenced(runtime) == {old_dek.id}
    batches: list[tuple[str, int]] = []

    report = rotation.rotate(
        runtime.db,
        key_file(runtime),
        data=True,
        batch_size=5,
        grace_seconds=0,
        on_batch=lambda t, n: batches.append((t, n)),
    )

    new_dek = report.data_key_id
    assert new_dek is not None and new_dek != old_dek.id
    assert referenced(runtime) == {new_dek}  # no ciphertext references the old DEK
    assert [r.id for r in dek_rows(runtime)] == [new_dek]  # the old DEK is deleted
    assert report.deleted_data_keys == [old_dek.id]
    assert report.reencrypted == {
        "customers.phone": 23,
        "customers.address": 23,
        "customers.id_number": 1,
        "users.totp_secret": 1,
    }
    assert [n for t, n in batches if t == "customers"] == [10, 10, 10, 10, 7]
    new_keys = keyfile.load(key_file(runtime))
    assert old_keys.active_id not in new_keys.keys  # old master key gone from the key file
    assert runtime.cipher.active_dek_id == new_dek
    data = read_all(runtime, unit)
    assert {k: v for k, v in data.items() if k != "id-holder"} == expected(range(23))
    assert totp_of(runtime, uid) == "JBSWY3DPEHPK3PXP"
    with runtime.db.transaction(actor=manager(unit)) as tx:
        (holder,) = queries.find_by_id_number(tx, "11010519491231002X")
        assert holder.name == "id-holder"
        assert queries.find_by_phone(tx, phone_of(7))[0].name == "c7"  # indexes still valid
    assert len(audits(runtime, "keys.rotate")) == 1
    (done,) = audits(runtime, "keys.reencrypt")
    assert done.details["data_key_id"] == new_dek
    assert done.details["deleted_data_keys"] == [old_dek.id]
    # writes after the rotation use the new key
    add_customers(runtime, unit, 100, 1)
    assert referenced(runtime) == {new_dek}


def test_rotation_twice_and_master_only_cleanup(runtime: Runtime, unit: OrgUnit) -> None:
    add_customers(runtime, unit, 0, 4)
    rotation.rotate(runtime.db, key_file(runtime), data=True, grace_seconds=0)
    report = rotation.rotate(runtime.db, key_file(runtime), data=True, grace_seconds=0)
    assert referenced(runtime) == {report.data_key_id}
    assert len(dek_rows(runtime)) == 1
    assert len(keyfile.load(key_file(runtime)).keys) == 1
    assert read_all(runtime, unit) == expected(range(4))


def test_interrupted_rotation_can_be_rerun(runtime: Runtime, unit: OrgUnit) -> None:
    add_customers(runtime, unit, 0, 12)
    (old_dek,) = dek_rows(runtime)

    class Crash(Exception):
        pass

    def crash(_table: str, _n: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        rotation.rotate(
            runtime.db,
            key_file(runtime),
            data=True,
            batch_size=5,
            grace_seconds=0,
            on_batch=crash,
        )
    # half-way: one batch under the new key, the rest still under the old; all readable
    first_new = next(r.id for r in dek_rows(runtime) if r.active)
    assert referenced(runtime) == {old_dek.id, first_new}
    assert read_all(runtime, unit) == expected(range(12))
    other = build_runtime(runtime.settings, clock=runtime.clock, upgrade=False)  # type: ignore[arg-type]
    try:
        assert read_all(other, unit) == expected(range(12))  # a restart is fine too
    finally:
        other.close()

    report = rotation.rotate(runtime.db, key_file(runtime), data=True, grace_seconds=0)
    assert referenced(runtime) == {report.data_key_id}
    assert sorted(report.deleted_data_keys) == sorted([old_dek.id, first_new])
    assert [r.id for r in dek_rows(runtime)] == [report.data_key_id]
    assert read_all(runtime, unit) == expected(range(12))


def test_resume_finishes_with_current_key(runtime: Runtime, unit: OrgUnit) -> None:
    add_customers(runtime, unit, 0, 12)
    (old_dek,) = dek_rows(runtime)

    def crash(_table: str, _n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotation.rotate(
            runtime.db,
            key_file(runtime),
            data=True,
            batch_size=5,
            grace_seconds=0,
            on_batch=crash,
        )
    current = next(r.id for r in dek_rows(runtime) if r.active)
    report = rotation.rotate(runtime.db, key_file(runtime), resume=True, grace_seconds=0)
    assert report.data_key_id == current
    assert report.reencrypted["customers.phone"] == 7
    assert referenced(runtime) == {current}
    assert report.deleted_data_keys == [old_dek.id]
    assert read_all(runtime, unit) == expected(range(12))


def test_retired_key_kept_while_referenced_or_within_grace(
    runtime: Runtime, unit: OrgUnit, clock: ManualClock
) -> None:
    """A master-only rotation deletes old unused DEKs only once past the grace period."""
    add_customers(runtime, unit, 0, 2)
    (old_dek,) = dek_rows(runtime)
    with runtime.engine.begin() as conn:
        runtime.cipher.new_data_key(conn, clock=clock)  # old DEK retired, still referenced
    report = rotation.rotate(runtime.db, key_file(runtime), grace_seconds=60)
    assert report.retained_data_keys == [old_dek.id]
    # the application rewrites every value (now under the new key): the old DEK is unused,
    # but it was retired "just now" (manual clock): kept within the grace period
    with runtime.db.transaction(actor=manager(unit)) as tx:
        for c in queries.list_customers(tx):
            n = int(c.name[1:])
            actions.update_customer(
                tx, customer_id=c.id, changes={"phone": phone_of(n + 1), "address": "x"}
            )
            actions.update_customer(
                tx, customer_id=c.id, changes={"phone": phone_of(n), "address": f"地址{n}号"}
            )
    assert old_dek.id not in referenced(runtime)
    report = rotation.rotate(runtime.db, key_file(runtime), grace_seconds=60)
    assert report.retained_data_keys == [old_dek.id] and report.deleted_data_keys == []
    clock.advance(61)
    report = rotation.rotate(runtime.db, key_file(runtime), grace_seconds=60)
    assert report.deleted_data_keys == [old_dek.id]
    assert read_all(runtime, unit) == expected(range(2))


def test_concurrent_writer_loses_nothing(runtime: Runtime, unit: OrgUnit) -> None:
    add_customers(runtime, unit, 0, 60)
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        i = 1000
        try:
            while not stop.is_set():
                add_customers(runtime, unit, i, 1)
                written.append(i)
                i += 1
                # also change existing rows while the rotation walks them
                with runtime.db.transaction(actor=manager(unit)) as tx:
                    (c,) = queries.find_by_phone(tx, phone_of(i % 60), reveal=False)
                    actions.update_customer(
                        tx, customer_id=c.id, changes={"address": f"地址{i % 60}号"}
                    )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.05)
        report = rotation.rotate(
            runtime.db,
            key_file(runtime),
            data=True,
            batch_size=4,
            grace_seconds=0.3,
            on_batch=lambda _t, _n: time.sleep(0.005),
        )
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert written, "the writer made no progress during the rotation"
    assert read_all(runtime, unit) == expected([*range(60), *written])
    assert referenced(runtime) == {report.data_key_id}
    assert [r.id for r in dek_rows(runtime)] == [report.data_key_id]


def test_concurrent_update_between_read_and_write_wins(
    runtime: Runtime, unit: OrgUnit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value changed after the batch read it is not overwritten with the stale one.

    PostgreSQL only: there, a writer can commit while a batch is open (SQLite serialises).
    """
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL)")
    (cid,) = add_customers(runtime, unit, 0, 1)
    real_encrypt = runtime.cipher.encrypt
    fired = []

    def encrypt(field: str, value: str | None, *, dek_id: str | None = None) -> str | None:
        if dek_id is not None and not fired:  # the rotation's first re-encryption
            fired.append(True)
            with runtime.db.transaction(actor=manager(unit)) as tx:  # another connection
                actions.update_customer(tx, customer_id=cid, changes={"address": "新地址"})
        return real_encrypt(field, value, dek_id=dek_id)

    monkeypatch.setattr(runtime.cipher, "encrypt", encrypt)
    report = rotation.rotate(runtime.db, key_file(runtime), data=True, grace_seconds=0)
    assert fired
    assert report.skipped_concurrent == 1
    assert read_all(runtime, unit) == {"c0": (phone_of(0), "新地址")}
    assert referenced(runtime) == {report.data_key_id}


def test_other_process_keeps_decrypting(
    runtime: Runtime, unit: OrgUnit, settings: Settings, clock: ManualClock
) -> None:
    """A server started before the rotation (its own cipher, old master key in memory)."""
    add_customers(runtime, unit, 0, 5)
    server = build_runtime(settings, clock=clock, upgrade=False)
    try:
        assert read_all(server, unit) == expected(range(5))
        report = rotation.rotate(runtime.db, key_file(runtime), data=True, grace_seconds=0)
        assert report.data_key_id not in server.cipher.known_data_keys()
        # decrypting meets the new DEK: the server reloads keys and key file, and goes on
        assert read_all(server, unit) == expected(range(5))
        assert server.cipher.active_dek_id == report.data_key_id
        add_customers(server, unit, 5, 1)
        assert referenced(runtime) == {report.data_key_id}
        # a second master-only rotation: the server still reads what it has cached
        rotation.rotate(runtime.db, key_file(runtime))
        assert read_all(server, unit) == expected(range(6))
        # and a third with data: reload needs the newest key file again
        report = rotation.rotate(runtime.db, key_file(runtime), data=True, grace_seconds=0)
        assert read_all(server, unit) == expected(range(6))
    finally:
        server.close()


def test_writer_process_switches_to_new_key(
    runtime: Runtime, unit: OrgUnit, settings: Settings, clock: ManualClock
) -> None:
    """A server that only writes moves to the new data key at its next check."""
    server = build_runtime(settings, clock=clock, upgrade=False)
    try:
        rotation.rotate(runtime.db, key_file(runtime), data=True, grace_seconds=0)
        server.cipher.refresh_seconds = 0  # as if `refresh_seconds` had passed
        add_customers(server, unit, 0, 2)
        assert referenced(runtime) == {runtime.cipher.active_dek_id}
        assert read_all(runtime, unit) == expected(range(2))
    finally:
        server.close()


def test_concurrent_rotations_refused(runtime: Runtime) -> None:
    with rotation.rotation_lock(key_file(runtime)):
        with pytest.raises(RotationError, match="another key rotation"):
            rotation.rotate(runtime.db, key_file(runtime))


def test_undecryptable_value_stops_rotation(runtime: Runtime, unit: OrgUnit) -> None:
    add_customers(runtime, unit, 0, 1)
    with runtime.db.read() as conn:
        token = conn.execute(sa.select(customers.c.phone)).scalar_one()
    with runtime.db.transaction(actor=system_actor("t")) as tx:  # moved into another field
        tx.conn.execute(customers.update().values(address=token))
    with pytest.raises(RotationError, match=r"customers\.address"):
        rotation.rotate(runtime.db, key_file(runtime), data=True, grace_seconds=0)
    with runtime.db.read() as conn:
        assert conn.execute(sa.select(customers.c.address)).scalar_one() == token


# --- the command line ------------------------------------------------------------------------
def test_cli_rotate(
    runtime: Runtime, unit: OrgUnit, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_customers(runtime, unit, 0, 3)
    uid = add_totp_user(runtime, unit)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(settings.var_dir))
    root = typer.Typer()
    root.add_typer(keys_cli.app, name="keys")
    runner = CliRunner()

    result = runner.invoke(root, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "master key mk-" in result.output and "re-wrapped" in result.output

    result = runner.invoke(root, ["keys", "rotate", "--data", "--grace-seconds", "0"])
    assert result.exit_code == 0, result.output
    assert "value(s) re-encrypted" in result.output
    assert "customers.phone: 3" in result.output
    assert "users.totp_secret: 1" in result.output
    # this test's runtime plays the running server: it keeps working
    assert read_all(runtime, unit) == expected(range(3))
    assert totp_of(runtime, uid) == "JBSWY3DPEHPK3PXP"
    with runtime.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one() == 1
    assert len(referenced(runtime)) == 1

    monkeypatch.setenv("HOTLINE_MASTER_KEY_FILE", str(settings.var_dir / "missing.json"))
    result = runner.invoke(root, ["keys", "rotate"])
    assert result.exit_code == 1
    assert "no master key file" in result.output
