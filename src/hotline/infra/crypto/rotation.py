"""Key rotation without downtime or loss (R-E3): `hotline keys rotate [--data]`.

Master key rotation (always):

1. A new master key is added to the key file as the active one, old keys kept. The file is
   written atomically *before* the database changes, so a crash leaves a file that can still
   unwrap every data key.
2. One short transaction re-wraps every data key (DEK) with the new master key, and records the
   audit row `keys.rotate`.
3. Master keys that no data key references any more are removed from the key file.

Data key rotation (`--data`), in addition:

4. The same transaction as step 2 creates a new active DEK and retires the old ones. Running
   servers start using it within `FieldCipher.refresh_seconds`; rows written meanwhile with an
   old DEK are caught by the sweep below.
5. Every encrypted column (the `ENCRYPTED_COLUMNS` registry) is re-encrypted with the new DEK in
   batches, each batch its own short transaction. An update only lands if the value is still
   the one that was read, so a concurrent write is never overwritten.
6. After a grace period (long enough for every server to have switched), a last sweep, then
   retired DEKs that no ciphertext references are deleted; referenced ones are kept.

Every step can be interrupted and the rotation run again: re-running re-wraps, re-encrypts
whatever still references an older DEK (`resume=True` finishes with the current DEK instead of
making another one), and cleans up. A value that cannot be decrypted stops the rotation before
anything is overwritten. A lock file next to the key file keeps two rotations from overlapping.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa

from hotline.core.context import system_actor
from hotline.core.errors import HotlineError
from hotline.core.ids import new_id
from hotline.domains.contacts import model as contact_model
from hotline.domains.customers import model as customer_model
from hotline.infra.crypto import keyfile
from hotline.infra.crypto.envelope import PREFIX, DecryptionError, unwrap, wrap
from hotline.infra.crypto.keyfile import MasterKeys
from hotline.infra.db.database import Database
from hotline.infra.db.schema import contacts, customers, data_keys, users

ACTOR = "keys-rotate"
DEFAULT_BATCH = 500
DEFAULT_GRACE_SECONDS = 30.0
_MAX_SWEEPS = 5


@dataclass(frozen=True)
class EncryptedColumn:
    """One envelope-encrypted column and the field name bound into its ciphertexts (AAD)."""

    table: sa.Table
    column: str
    field: str
    pk: str = "id"

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


# The registry of every encrypted column. A domain that stores a new encrypted column adds it
# here, with the same field name its code passes to `tx.encrypt`/`tx.decrypt`.
ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(customers, "phone", customer_model.FIELD_PHONE),
    EncryptedColumn(customers, "id_number", customer_model.FIELD_ID_NUMBER),
    EncryptedColumn(customers, "address", customer_model.FIELD_ADDRESS),
    EncryptedColumn(users, "totp_secret", "totp"),  # identity: `tx.encrypt("totp", …)`
    EncryptedColumn(contacts, "caller", contact_model.FIELD_CALLER),
)


class RotationError(HotlineError):
    """A key rotation cannot go on; nothing was overwritten. Fix the cause and run it again."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "key_rotation_failed"


@dataclass
class RotationReport:
    """What a rotation did."""

    master_key_id: str
    removed_master_keys: list[str]
    rewrapped: int
    data_key_id: str | None = None  # the new (or, with resume, current) DEK; None: master only
    reencrypted: dict[str, int] = field(default_factory=dict)  # "table.column" → values
    skipped_concurrent: int = 0  # values changed by a concurrent write (swept again later)
    deleted_data_keys: list[str] = field(default_factory=list)
    retained_data_keys: list[str] = field(default_factory=list)  # retired, still referenced

    def as_details(self) -> dict[str, Any]:
        return {
            "master_key_id": self.master_key_id,
            "removed_master_keys": self.removed_master_keys,
            "rewrapped": self.rewrapped,
            "data_key_id": self.data_key_id,
            "reencrypted": dict(self.reencrypted),
            "deleted_data_keys": self.deleted_data_keys,
            "retained_data_keys": self.retained_data_keys,
        }


# Called after each committed batch with (column name, values re-encrypted in that batch).
BatchHook = Callable[[str, int], None]


@contextlib.contextmanager
def rotation_lock(key_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on `<key file>.lock`; refuse if another rotation holds it."""
    lock_path = key_file.with_name(key_file.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise RotationError("another key rotation is running") from exc
        yield
    finally:
        os.close(fd)  # closing releases the lock


def rotate(
    db: Database,
    key_file: Path,
    *,
    data: bool = False,
    resume: bool = False,
    batch_size: int = DEFAULT_BATCH,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    on_batch: BatchHook | None = None,
    say: Callable[[str], None] | None = None,
    columns: tuple[EncryptedColumn, ...] = ENCRYPTED_COLUMNS,
) -> RotationReport:
    """Rotate the master key; with `data`, also the data key and every ciphertext.

    `resume` (implies `data`) re-encrypts with the current data key instead of making a new
    one: it finishes a rotation that was interrupted. `grace_seconds` is how long running
    servers get to switch to a new data key before old ones may be deleted; it should exceed
    their `FieldCipher.refresh_seconds` plus the longest transaction. `on_batch` is called
    after each committed batch, `say` with progress messages.
    """
    say = say or (lambda _msg: None)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    data = data or resume
    with rotation_lock(key_file):
        report, retired_now = _rotate_master(db, key_file, new_dek=data and not resume)
        say(
            f"master key {report.master_key_id}: {report.rewrapped} data key(s) re-wrapped; "
            f"removed master key(s): {', '.join(report.removed_master_keys) or 'none'}"
        )
        if not data:
            _delete_unused_data_keys(
                db, report, retired_now=set(), grace_seconds=grace_seconds, columns=columns
            )
            return report
        started = time.monotonic()
        dek_id = report.data_key_id or _current_data_key(db)
        report.data_key_id = dek_id
        say(f"re-encrypting with data key {dek_id}")
        _reencrypt_all(db, dek_id, report, columns, batch_size, on_batch)
        # Let every running server pick the new DEK up and finish its in-flight writes.
        remaining = grace_seconds - (time.monotonic() - started)
        if remaining > 0:
            say(f"waiting {remaining:.0f}s for running servers to switch to the new data key")
            time.sleep(remaining)
        _reencrypt_all(db, dek_id, report, columns, batch_size, on_batch)
        _delete_unused_data_keys(
            db, report, retired_now=retired_now, grace_seconds=grace_seconds, columns=columns
        )
        with db.transaction(actor=system_actor(ACTOR)) as tx:
            tx.audit("keys.reencrypt", "data_key", dek_id, details=report.as_details())
        return report


# --- master key ----------------------------------------------------------------------------
def _rotate_master(
    db: Database, key_file: Path, *, new_dek: bool
) -> tuple[RotationReport, set[str]]:
    """Steps 1–3 (and 4 when `new_dek`); returns the report and the DEK ids retired now."""
    old = keyfile.load(key_file)
    keys = keyfile.with_new_active(old)
    keyfile.write(key_file, keys)  # before the database changes; old keys still in it
    db.cipher.set_master(keys)

    retired: set[str] = set()
    report = RotationReport(master_key_id=keys.active_id, removed_master_keys=[], rewrapped=0)
    with db.transaction(actor=system_actor(ACTOR)) as tx:
        rows = tx.conn.execute(sa.select(data_keys).order_by(data_keys.c.created_at)).all()
        for row in rows:
            dek = _unwrap_row(keys, row)
            tx.conn.execute(
                data_keys.update()
                .where(data_keys.c.id == row.id)
                .values(
                    wrapped_key=wrap(keys.active, keys.active_id, row.id, dek),
                    master_key_id=keys.active_id,
                )
            )
        report.rewrapped = len(rows)
        if new_dek:
            dek_id, dek = new_id(), secrets.token_bytes(32)
            now = tx.clock.now()
            retired = {row.id for row in rows if row.active}
            tx.conn.execute(
                data_keys.update()
                .where(data_keys.c.active.is_(True))
                .values(active=False, retired_at=now)
            )
            tx.conn.execute(
                data_keys.insert().values(
                    id=dek_id,
                    wrapped_key=wrap(keys.active, keys.active_id, dek_id, dek),
                    master_key_id=keys.active_id,
                    active=True,
                    created_at=now,
                )
            )
            report.data_key_id = dek_id
            # Only once the DEK is committed may this process encrypt with it.
            tx.after_commit.append(lambda: db.cipher.install(dek_id, dek, active=True))
        tx.audit(
            "keys.rotate",
            "master_key",
            keys.active_id,
            details={
                "master_key_id": keys.active_id,
                "previous_master_key_id": old.active_id,
                "rewrapped": len(rows),
                "new_data_key": report.data_key_id,
                "retired_data_keys": sorted(retired),
            },
        )

    # Step 3: drop master keys that wrap nothing any more (the DB now says which are used).
    with db.engine.connect() as conn:
        used = set(conn.execute(sa.select(data_keys.c.master_key_id).distinct()).scalars())
    unused = set(keys.keys) - used - {keys.active_id}
    if unused:
        keys = keyfile.without(keys, unused)
        keyfile.write(key_file, keys)
        db.cipher.set_master(keys)
    report.removed_master_keys = sorted(unused)
    return report, retired


def _current_data_key(db: Database) -> str:
    with db.read() as conn:
        dek_id = conn.execute(
            sa.select(data_keys.c.id).where(data_keys.c.active.is_(True))
        ).scalar()
    if dek_id is None:
        raise RotationError("there is no active data key; start hotline once to create one")
    if dek_id not in db.cipher.known_data_keys():
        db.cipher.refresh()
    return str(dek_id)


def _unwrap_row(keys: MasterKeys, row: sa.Row[Any]) -> bytes:
    master = keys.keys.get(row.master_key_id)
    if master is None:
        raise RotationError(
            f"data key {row.id} is wrapped by master key {row.master_key_id}, which the key "
            "file does not hold; restore the key file from backup and run the rotation again"
        )
    try:
        return unwrap(master, row.master_key_id, row.id, row.wrapped_key)
    except Exception as exc:  # InvalidTag, bad base64: a damaged row
        raise RotationError(f"data key {row.id} cannot be unwrapped: {exc!r}") from exc


# --- data ----------------------------------------------------------------------------------
def _stale(col: sa.ColumnElement[Any], dek_id: str) -> sa.ColumnElement[bool]:
    """A ciphertext not under `dek_id` (UUIDs hold no LIKE wildcards)."""
    return sa.and_(col.is_not(None), sa.not_(col.like(f"{PREFIX}:{dek_id}:%")))


def _reencrypt_all(
    db: Database,
    dek_id: str,
    report: RotationReport,
    columns: tuple[EncryptedColumn, ...],
    batch_size: int,
    on_batch: BatchHook | None,
) -> None:
    """Re-encrypt every ciphertext not under `dek_id`; repeat while writers leave stale ones."""
    by_table: dict[str, list[EncryptedColumn]] = {}
    for c in columns:
        by_table.setdefault(c.table.name, []).append(c)
    for _ in range(_MAX_SWEEPS):
        for cols in by_table.values():
            _reencrypt_table(db, dek_id, cols, report, batch_size, on_batch)
        if not _stale_count(db, dek_id, columns):
            return


def _reencrypt_table(
    db: Database,
    dek_id: str,
    cols: list[EncryptedColumn],
    report: RotationReport,
    batch_size: int,
    on_batch: BatchHook | None,
) -> None:
    table = cols[0].table
    pk = table.c[cols[0].pk]
    last: Any = None
    while True:
        done = 0
        with db.transaction(actor=system_actor(ACTOR)) as tx:
            q = (
                sa.select(pk, *(table.c[c.column] for c in cols))
                .where(sa.or_(*(_stale(table.c[c.column], dek_id) for c in cols)))
                .order_by(pk)
                .limit(batch_size)
            )
            if last is not None:
                q = q.where(pk > last)
            rows = tx.conn.execute(q).all()
            if not rows:
                return
            for c in cols:
                params = []
                for row in rows:
                    token = row._mapping[c.column]
                    if token is None or db.cipher.dek_of(token) == dek_id:
                        continue
                    try:
                        plain = db.cipher.decrypt(c.field, token)
                    except DecryptionError as exc:
                        raise RotationError(
                            f"{c.name} of row {row[0]} cannot be decrypted ({exc}); "
                            "nothing was overwritten"
                        ) from exc
                    new = db.cipher.encrypt(c.field, plain, dek_id=dek_id)
                    params.append({"_pk": row[0], "_old": token, "_new": new})
                if not params:
                    continue
                col = table.c[c.column]
                # Lands only if the value is still the one read: a concurrent write wins.
                stmt = (
                    table.update()
                    .where(pk == sa.bindparam("_pk"), col == sa.bindparam("_old"))
                    .values({c.column: sa.bindparam("_new")})
                )
                res = tx.conn.execute(stmt, params)
                changed = res.rowcount if res.rowcount >= 0 else len(params)
                report.reencrypted[c.name] = report.reencrypted.get(c.name, 0) + changed
                report.skipped_concurrent += len(params) - changed
                done += changed
            last = rows[-1][0]
        if on_batch is not None:
            on_batch(table.name, done)


def _stale_count(db: Database, dek_id: str, columns: tuple[EncryptedColumn, ...]) -> int:
    total = 0
    with db.read() as conn:
        for c in columns:
            col = c.table.c[c.column]
            q = sa.select(sa.func.count()).select_from(c.table).where(_stale(col, dek_id))
            total += int(conn.execute(q).scalar_one())
    return total


def referenced_data_keys(
    conn: sa.Connection, columns: tuple[EncryptedColumn, ...] = ENCRYPTED_COLUMNS
) -> set[str]:
    """The ids of every DEK some ciphertext in the registry's columns still uses."""
    start = len(PREFIX) + 2  # 1-based: after "v1:"
    out: set[str] = set()
    for c in columns:
        col = c.table.c[c.column]
        q = sa.select(sa.func.substr(col, start, 36)).where(col.is_not(None)).distinct()
        out |= {str(v) for v in conn.execute(q).scalars()}
    return out


def _delete_unused_data_keys(
    db: Database,
    report: RotationReport,
    *,
    retired_now: set[str],
    grace_seconds: float,
    columns: tuple[EncryptedColumn, ...] = ENCRYPTED_COLUMNS,
) -> None:
    """Delete retired DEKs no ciphertext uses. Ones retired by an earlier run must be older
    than the grace period (servers may still be switching); ones retired now were waited for.
    """
    with db.transaction(actor=system_actor(ACTOR)) as tx:
        now = tx.clock.now()
        used = referenced_data_keys(tx.conn, columns)
        rows = tx.conn.execute(sa.select(data_keys).where(data_keys.c.active.is_(False))).all()
        deleted, kept = [], []
        for row in rows:
            settled = row.id in retired_now or (
                row.retired_at is not None
                and (now - row.retired_at).total_seconds() >= grace_seconds
            )
            if row.id in used or not settled:
                kept.append(row.id)
                continue
            tx.conn.execute(data_keys.delete().where(data_keys.c.id == row.id))
            deleted.append(row.id)
        if deleted:
            tx.audit("keys.delete_data_keys", "data_key", None, details={"deleted": deleted})
    report.deleted_data_keys = sorted(deleted)
    report.retained_data_keys = sorted(kept)
