"""Signed checkpoints of the audit hash chain, and verification of a database (R-E2).

Anyone who can write to the database can recompute SHA-256, so the chain alone does not stop a
rewrite from some row on, nor a cut tail. A checkpoint is an Ed25519 signature over (seq, hash,
time) of the chain tail, made with a key that lives in a file outside the database
(`settings.resolved_audit_key_file`, PEM, mode 0600). Each checkpoint goes into the
`audit_checkpoints` table and, as a JSON line, into `var_dir/audit/checkpoints.jsonl`, also
outside the database: an attacker who cuts the log's tail and deletes the checkpoint rows is
still caught by the file.

Call `write_checkpoint`/`maybe_checkpoint` in a transaction that has not appended audit rows
itself, so the row it signs is already committed (the file line cannot be rolled back).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy.engine import Engine

from hotline.core.clock import Clock, SystemClock
from hotline.domains.audit.model import format_at
from hotline.domains.audit.verify import (
    Checkpoint,
    Failure,
    Problem,
    VerifyResult,
    failed,
    verify_chain,
)
from hotline.infra.db.database import AUDIT_LOCK_KEY
from hotline.infra.db.engine import is_postgres
from hotline.infra.db.schema import audit_checkpoints, audit_log
from hotline.settings import Settings

MESSAGE_PREFIX = "hotline-audit-checkpoint/v1"
FETCH_ROWS = 10_000  # rows per round trip when streaming the log

# The verifier reads driver tuples, not typed rows: the database renders the timestamp in the
# canonical form and hands over the details column's JSON text, so no per-row objects are built.
# SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (always six digits).
_ROWS_SQL = {
    "sqlite": (
        "SELECT seq, substr(occurred_at, 1, 10) || 'T' || substr(occurred_at, 12) || 'Z',"
        " actor_id, actor_name, ip, action, object_type, object_id, org_unit_path, details,"
        " prev_hash, hash FROM audit_log ORDER BY seq"
    ),
    "postgresql": (
        "SELECT seq,"
        " to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        " actor_id, actor_name, ip, action, object_type, object_id, org_unit_path,"
        " details::text, prev_hash, hash FROM audit_log ORDER BY seq"
    ),
}


# --- the signing key ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SigningKey:
    """The checkpoint key pair; `private` is None when only verifying with a public key."""

    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None

    @property
    def key_id(self) -> str:
        """A short fingerprint of the public key, stored with each checkpoint."""
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]

    def sign(self, message: bytes) -> str:
        """Base64 Ed25519 signature of `message`."""
        if self.private is None:
            raise ValueError("this audit key has no private part; it can only verify")
        return base64.b64encode(self.private.sign(message)).decode()

    def verify(self, message: bytes, signature: str) -> bool:
        """True when `signature` (base64) is this key's signature of `message`."""
        try:
            self.public.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, ValueError):
            return False
        return True


def load_signing_key(path: Path) -> SigningKey | None:
    """The key in `path` (private PEM, or a public PEM for verify-only hosts); None if absent."""
    if not path.exists():
        return None
    data = path.read_bytes()
    if b"PUBLIC KEY" in data:
        public = serialization.load_pem_public_key(data)
        if not isinstance(public, Ed25519PublicKey):
            raise ValueError(f"{path} is not an Ed25519 public key")
        return SigningKey(public)
    private = serialization.load_pem_private_key(data, password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return SigningKey(private.public_key(), private)


def load_or_create_signing_key(path: Path) -> SigningKey:
    """Load the signing key, creating it (PEM, mode 0600) on first use."""
    key = load_signing_key(path)
    if key is not None:
        return key
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        # link() fails if another process created the key meanwhile: never replace a key that
        # may already have signed checkpoints.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    key = load_signing_key(path)
    assert key is not None
    return key


def checkpoint_message(seq: int, chain_hash: str, signed_at: str) -> bytes:
    """The bytes a checkpoint signs: the row's seq and hash, and when it was signed."""
    return f"{MESSAGE_PREFIX}\n{seq}\n{chain_hash}\n{signed_at}".encode()


def checkpoint_file(settings: Settings) -> Path:
    """The external checkpoint log, outside the database."""
    return settings.var_dir / "audit" / "checkpoints.jsonl"


# --- writing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint as written to the table and the file."""

    seq: int
    hash: str
    signed_at: str
    key_id: str
    signature: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "seq": self.seq,
                "hash": self.hash,
                "signed_at": self.signed_at,
                "key_id": self.key_id,
                "signature": self.signature,
            },
            separators=(",", ":"),
        )


def write_checkpoint(
    conn: sa.Connection, settings: Settings, *, clock: Clock | None = None
) -> SignedCheckpoint | None:
    """Sign the chain tail into `audit_checkpoints` and the external file.

    Returns None (and writes nothing) when the log is empty or its tail already has one.
    """
    if is_postgres(conn):
        # The same lock as appends: one checkpoint per tail, no race on the unique seq.
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
    tail = conn.execute(
        sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
    ).first()
    if tail is None:
        return None
    seq, chain_hash = int(tail.seq), str(tail.hash)
    exists = conn.execute(
        sa.select(audit_checkpoints.c.id).where(audit_checkpoints.c.audit_seq == seq)
    ).first()
    if exists is not None:
        return None
    key = load_or_create_signing_key(settings.resolved_audit_key_file)
    now = (clock or SystemClock()).now()
    signed_at = format_at(now)
    signature = key.sign(checkpoint_message(seq, chain_hash, signed_at))
    cp = SignedCheckpoint(seq, chain_hash, signed_at, key.key_id, signature)
    conn.execute(
        audit_checkpoints.insert().values(
            audit_seq=seq,
            hash=chain_hash,
            signed_at=now,
            key_id=cp.key_id,
            signature=cp.signature,
        )
    )
    _append_line(checkpoint_file(settings), cp.to_json())
    return cp


def maybe_checkpoint(
    conn: sa.Connection,
    settings: Settings,
    every: int | None = None,
    *,
    clock: Clock | None = None,
) -> SignedCheckpoint | None:
    """Write a checkpoint if at least `every` rows (default: the setting) came since the last.

    Cheap enough to call often: two index look-ups when there is nothing to do.
    """
    every = settings.audit_checkpoint_every if every is None else every
    tail = conn.execute(sa.select(sa.func.max(audit_log.c.seq))).scalar()
    if tail is None:
        return None
    last = conn.execute(sa.select(sa.func.max(audit_checkpoints.c.audit_seq))).scalar() or 0
    if int(tail) - int(last) < every:
        return None
    return write_checkpoint(conn, settings, clock=clock)


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # One write with O_APPEND: concurrent writers never interleave inside a line.
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading and verifying ---------------------------------------------------------------------
def table_checkpoints(conn: sa.Connection, key: SigningKey | None) -> list[Checkpoint]:
    """The checkpoints in the database, each with its signature checked against `key`."""
    rows = conn.execute(
        sa.select(
            audit_checkpoints.c.audit_seq,
            audit_checkpoints.c.hash,
            audit_checkpoints.c.signed_at,
            audit_checkpoints.c.key_id,
            audit_checkpoints.c.signature,
        ).order_by(audit_checkpoints.c.audit_seq)
    ).all()
    return [
        _checked(
            int(r.audit_seq), r.hash, format_at(r.signed_at), r.key_id, r.signature, key, "table"
        )
        for r in rows
    ]


def file_checkpoints(path: Path, key: SigningKey | None) -> list[Checkpoint] | Failure:
    """The checkpoints in the external file (none if it does not exist), signatures checked.

    An unreadable line is a failure, not something to skip: mangling lines would otherwise hide
    the checkpoints that catch a cut tail.
    """
    if not path.exists():
        return []
    out: list[Checkpoint] = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                seq = data["seq"]
                if not isinstance(seq, int) or isinstance(seq, bool):
                    raise ValueError("seq is not an integer")
                chain_hash, signed_at, key_id, signature = (
                    data[k] for k in ("hash", "signed_at", "key_id", "signature")
                )
                if not all(isinstance(v, str) for v in (chain_hash, signed_at, key_id, signature)):
                    raise ValueError("a field is not a string")
            except (ValueError, KeyError, TypeError) as exc:
                return Failure(
                    None,
                    Problem.checkpoint_unreadable,
                    f"line {number} of the checkpoint file {path} is unreadable ({exc})",
                    {"line": number, "path": str(path)},
                )
            out.append(_checked(seq, chain_hash, signed_at, key_id, signature, key, "file"))
    return out


def _checked(
    seq: int,
    chain_hash: str,
    signed_at: str,
    key_id: str,
    signature: str,
    key: SigningKey | None,
    source: str,
) -> Checkpoint:
    ok = (
        key is not None
        and key_id == key.key_id
        and key.verify(checkpoint_message(seq, chain_hash, signed_at), signature)
    )
    return Checkpoint(seq, chain_hash, source, ok)


def iter_rows(conn: sa.Connection) -> Generator[Any, None, None]:
    """Stream the log as driver tuples in `verify.ROW_COLUMNS` order (server-side cursor)."""
    sql = _ROWS_SQL[conn.dialect.name]
    result = conn.execution_options(stream_results=True).exec_driver_sql(sql)
    with contextlib.closing(result):
        # An explicit partition size: the `yield_per` option does not reach a textual
        # statement's partitions(), which would then fetchall() (the whole log in memory).
        yield from itertools.chain.from_iterable(result.partitions(FETCH_ROWS))


def verify_database(db: Engine | sa.Connection, settings: Settings) -> VerifyResult:
    """Verify the whole audit log against its chain, the checkpoint table and the file.

    With an Engine, reads in one read-only snapshot, so appends during the run do not matter
    (and, on SQLite, are not blocked). The file is read first: any checkpoint in it signs a row
    that was committed before the snapshot began.
    """
    key = load_signing_key(settings.resolved_audit_key_file)
    from_file = file_checkpoints(checkpoint_file(settings), key)
    if isinstance(from_file, Failure):
        return failed(from_file)
    if isinstance(db, sa.Connection):
        return _verify(db, key, from_file)
    with _snapshot(db) as conn:
        return _verify(conn, key, from_file)


def _verify(
    conn: sa.Connection, key: SigningKey | None, from_file: list[Checkpoint]
) -> VerifyResult:
    checkpoints = table_checkpoints(conn, key) + from_file
    rows = iter_rows(conn)
    try:
        return verify_chain(rows, checkpoints)
    finally:
        rows.close()  # an early stop must release the server-side cursor inside the transaction


@contextlib.contextmanager
def _snapshot(engine: Engine) -> Iterator[sa.Connection]:
    options: dict[str, Any] = {"hotline_readonly": True}
    if is_postgres(engine):
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with engine.connect().execution_options(**options) as conn, conn.begin():
        yield conn
