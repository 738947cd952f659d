"""Field-level envelope encryption (AES-256-GCM) and keyed blind indexes (R-E3).

Each sensitive value is encrypted with a data key (DEK); DEKs are stored in `data_keys` wrapped
by the master key from the key file. A token looks like `v1:<dek id>:<base64(nonce|ct|tag)>`.
The field name is bound in as associated data, so a ciphertext moved to another column fails.
A blind index (HMAC-SHA256 with a separate key, over a normalised value) lets an exact lookup
such as a screen pop find a caller's number without decrypting anything.

Keys change under a running process when another process runs `hotline keys rotate`: a cipher
that meets a token of a data key it does not know re-reads `data_keys` (and the key file) from
its `KeySource`, and every `refresh_seconds` it checks which data key is active, so that new
writes move to a new data key soon after a rotation (see `infra/crypto/rotation.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine

from hotline.core.clock import Clock
from hotline.core.ids import new_id
from hotline.infra.crypto import keyfile
from hotline.infra.crypto.keyfile import MasterKeys
from hotline.infra.db.schema import data_keys

PREFIX = "v1"
log = logging.getLogger(__name__)


class DecryptionError(Exception):
    pass


class KeySource:
    """Where a running cipher re-reads its keys: the `data_keys` table and the key file.

    Reads use their own short read-only connection, so they work while the caller holds a
    write transaction (SQLite in WAL mode lets readers past the writer).
    """

    def __init__(self, engine: Engine, key_file: Path | None) -> None:
        self.engine = engine
        self.key_file = key_file

    def data_keys(self) -> Sequence[sa.Row[Any]]:
        with self.engine.connect().execution_options(hotline_readonly=True) as conn:
            with conn.begin():
                return conn.execute(sa.select(data_keys).order_by(data_keys.c.created_at)).all()

    def active_data_key_id(self) -> str | None:
        with self.engine.connect().execution_options(hotline_readonly=True) as conn:
            with conn.begin():
                q = sa.select(data_keys.c.id).where(data_keys.c.active.is_(True))
                value = conn.execute(q).scalar()
                return str(value) if value is not None else None

    def master_keys(self) -> MasterKeys | None:
        return keyfile.load(self.key_file) if self.key_file is not None else None


def wrap(master: bytes, master_id: str, dek_id: str, dek: bytes) -> str:
    nonce = secrets.token_bytes(12)
    ct = AESGCM(master).encrypt(nonce, dek, f"dek:{dek_id}:{master_id}".encode())
    return base64.b64encode(nonce + ct).decode()


def unwrap(master: bytes, master_id: str, dek_id: str, wrapped: str) -> bytes:
    raw = base64.b64decode(wrapped)
    return AESGCM(master).decrypt(raw[:12], raw[12:], f"dek:{dek_id}:{master_id}".encode())


class FieldCipher:
    """Encrypts/decrypts field values; holds unwrapped DEKs in memory only. Thread-safe.

    `source` is where keys are re-read from after another process rotated them; `load()` sets
    it to the engine it loads from and the key file the master keys came from.
    `refresh_seconds` is how often `encrypt` checks which data key is active (None: never).
    """

    def __init__(
        self,
        master: MasterKeys,
        *,
        source: KeySource | None = None,
        refresh_seconds: float | None = 10.0,
    ) -> None:
        self.master = master
        self.source = source
        self.refresh_seconds = refresh_seconds
        self._deks: dict[str, bytes] = {}
        self._active_dek: str | None = None
        self._lock = threading.Lock()  # guards _deks, _active_dek and master
        self._reload_lock = threading.Lock()  # one re-read at a time
        self._checked_at = time.monotonic()
        self._missing: dict[str, float] = {}  # unknown DEK id → when we last looked it up

    # -- key management ----------------------------------------------------------------------
    def load(self, conn: sa.Connection, *, clock: Clock) -> None:
        """Unwrap every DEK; create the first one if none exists."""
        if self.source is None:
            self.source = KeySource(conn.engine, self.master.path)
        rows = conn.execute(sa.select(data_keys).order_by(data_keys.c.created_at)).all()
        with self._lock:
            self._deks.clear()
            self._active_dek = None
            for row in rows:
                master = self.master.keys.get(row.master_key_id)
                if master is None:
                    raise DecryptionError(
                        f"data key {row.id} is wrapped by master key {row.master_key_id}, "
                        "which the key file no longer holds"
                    )
                self._deks[row.id] = unwrap(master, row.master_key_id, row.id, row.wrapped_key)
                if row.active:
                    self._active_dek = row.id
        self._checked_at = time.monotonic()
        if self._active_dek is None:
            self.new_data_key(conn, clock=clock)

    def new_data_key(self, conn: sa.Connection, *, clock: Clock) -> str:
        """Create a DEK, make it the active one (older ones stay for decrypting)."""
        dek_id = new_id()
        dek = secrets.token_bytes(32)
        now = clock.now()
        conn.execute(
            data_keys.update()
            .where(data_keys.c.active.is_(True))
            .values(active=False, retired_at=now)
        )
        conn.execute(
            data_keys.insert().values(
                id=dek_id,
                wrapped_key=wrap(self.master.active, self.master.active_id, dek_id, dek),
                master_key_id=self.master.active_id,
                active=True,
                created_at=now,
            )
        )
        self.install(dek_id, dek, active=True)
        return dek_id

    def install(self, dek_id: str, dek: bytes, *, active: bool) -> None:
        """Add an unwrapped DEK (after the transaction that stored it committed)."""
        with self._lock:
            self._deks[dek_id] = dek
            if active:
                self._active_dek = dek_id

    def set_master(self, master: MasterKeys) -> None:
        """Use new master keys (after `hotline keys rotate` rewrote the key file)."""
        with self._lock:
            self.master = master

    def known_data_keys(self) -> set[str]:
        with self._lock:
            return set(self._deks)

    def refresh(self) -> None:
        """Re-read the data keys (and the key file) from the source, keeping the ones held."""
        if self.source is None:
            return
        with self._reload_lock:
            self._refresh_locked()

    def _refresh_locked(self) -> None:
        assert self.source is not None
        error: Exception | None = None
        for attempt in range(3):
            # DB first, then the key file: a rotation writes the file before it commits the
            # re-wrap and prunes old master keys only after, so a retry sees a matching pair.
            rows = self.source.data_keys()
            master = self.source.master_keys() or self.master
            known = self.known_data_keys()
            try:
                fresh = {
                    row.id: unwrap(
                        master.keys[row.master_key_id],
                        row.master_key_id,
                        row.id,
                        row.wrapped_key,
                    )
                    for row in rows
                    if row.id not in known
                }
            except (KeyError, InvalidTag) as exc:
                error = exc
                time.sleep(0.05 * (attempt + 1))
                continue
            active = next((row.id for row in rows if row.active), None)
            with self._lock:
                self._deks.update(fresh)
                self.master = master
                if active is not None:
                    self._active_dek = active
            self._checked_at = time.monotonic()
            return
        raise DecryptionError(f"cannot unwrap the data keys with the key file: {error!r}")

    def _lookup(self, dek_id: str) -> bytes | None:
        """A DEK this process has not seen: another process made it, so re-read the keys."""
        if self.source is None:
            return None
        with self._reload_lock:
            dek = self._deks.get(dek_id)
            if dek is not None:
                return dek
            last = self._missing.get(dek_id)
            if last is not None and time.monotonic() - last < 5.0:
                return None
            self._refresh_locked()
            dek = self._deks.get(dek_id)
            if dek is None:
                if len(self._missing) > 1000:
                    self._missing.clear()
                self._missing[dek_id] = time.monotonic()
            return dek

    def _check_active(self) -> None:
        """Every `refresh_seconds`, follow a data key rotation made by another process."""
        if self.source is None or self.refresh_seconds is None:
            return
        if time.monotonic() - self._checked_at < self.refresh_seconds:
            return
        if not self._reload_lock.acquire(blocking=False):
            return  # another thread is looking already
        try:
            self._checked_at = time.monotonic()
            active = self.source.active_data_key_id()
            if active is not None and active != self._active_dek:
                self._refresh_locked()
        except (sa.exc.SQLAlchemyError, OSError, ValueError, DecryptionError):
            # The key held stays valid for decrypting; try again at the next interval.
            log.warning("could not check the active data key", exc_info=True)
        finally:
            self._reload_lock.release()

    @property
    def active_dek_id(self) -> str:
        if self._active_dek is None:
            raise DecryptionError("no data key loaded; call FieldCipher.load first")
        return self._active_dek

    # -- values ------------------------------------------------------------------------------
    def encrypt(self, field: str, value: str | None, *, dek_id: str | None = None) -> str | None:
        """Encrypt under the active DEK (or `dek_id`), binding `field` in as associated data."""
        if value is None:
            return None
        if dek_id is None:
            self._check_active()
        with self._lock:
            dek_id = dek_id or self._active_dek
            dek = self._deks.get(dek_id) if dek_id else None
        if dek_id is None or dek is None:
            raise DecryptionError("no data key loaded; call FieldCipher.load first")
        nonce = secrets.token_bytes(12)
        ct = AESGCM(dek).encrypt(nonce, value.encode(), field.encode())
        return f"{PREFIX}:{dek_id}:{base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, field: str, token: str | None) -> str | None:
        """Decrypt a token of `field`; DecryptionError if it was altered or moved elsewhere."""
        if token is None:
            return None
        try:
            prefix, dek_id, body = token.split(":", 2)
        except ValueError as exc:
            raise DecryptionError("not an encrypted value") from exc
        if prefix != PREFIX:
            raise DecryptionError(f"unknown token format {prefix!r}")
        dek = self._deks.get(dek_id)
        if dek is None:
            dek = self._lookup(dek_id)
        if dek is None:
            raise DecryptionError(f"unknown data key {dek_id}")
        try:
            raw = base64.b64decode(body, validate=True)
            return AESGCM(dek).decrypt(raw[:12], raw[12:], field.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise DecryptionError(
                f"value of {field!r} does not authenticate: altered, or taken from another field"
            ) from exc

    def dek_of(self, token: str) -> str:
        return token.split(":", 2)[1]

    def blind_index(self, kind: str, value: str | None) -> str | None:
        """HMAC of the normalised value; equal inputs give equal indexes, nothing else leaks."""
        if value is None:
            return None
        normalised = normalise(kind, value)
        return hmac.new(
            self.master.index_key, f"{kind}:{normalised}".encode(), hashlib.sha256
        ).hexdigest()


def normalise(kind: str, value: str) -> str:
    """Phone numbers compare by digits (with a China +86/0086 prefix dropped); IDs by upper."""
    if kind == "phone":
        digits = "".join(ch for ch in value if ch.isdigit())
        if value.strip().startswith("+86") or digits.startswith("0086"):
            digits = digits.removeprefix("00").removeprefix("86")
        return digits
    return value.strip().upper()
