"""Field-level envelope encryption (AES-256-GCM) and keyed blind indexes (R-E3).

Each sensitive value is encrypted with a data key (DEK); DEKs are stored in `data_keys` wrapped
by the master key from the key file. A token looks like `v1:<dek id>:<base64(nonce|ct|tag)>`.
The field name is bound in as associated data, so a ciphertext moved to another column fails.
A blind index (HMAC-SHA256 with a separate key, over a normalised value) lets an exact lookup
such as a screen pop find a caller's number without decrypting anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hotline.core.clock import Clock
from hotline.core.ids import new_id
from hotline.infra.crypto.keyfile import MasterKeys
from hotline.infra.db.schema import data_keys

PREFIX = "v1"


class DecryptionError(Exception):
    pass


def wrap(master: bytes, master_id: str, dek_id: str, dek: bytes) -> str:
    nonce = secrets.token_bytes(12)
    ct = AESGCM(master).encrypt(nonce, dek, f"dek:{dek_id}:{master_id}".encode())
    return base64.b64encode(nonce + ct).decode()


def unwrap(master: bytes, master_id: str, dek_id: str, wrapped: str) -> bytes:
    raw = base64.b64decode(wrapped)
    return AESGCM(master).decrypt(raw[:12], raw[12:], f"dek:{dek_id}:{master_id}".encode())


class FieldCipher:
    """Encrypts/decrypts field values; holds unwrapped DEKs in memory only."""

    def __init__(self, master: MasterKeys) -> None:
        self.master = master
        self._deks: dict[str, bytes] = {}
        self._active_dek: str | None = None
        self._lock = threading.Lock()

    # -- key management ----------------------------------------------------------------------
    def load(self, conn: sa.Connection, *, clock: Clock) -> None:
        """Unwrap every DEK; create the first one if none exists."""
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
        with self._lock:
            self._deks[dek_id] = dek
            self._active_dek = dek_id
        return dek_id

    @property
    def active_dek_id(self) -> str:
        if self._active_dek is None:
            raise DecryptionError("no data key loaded; call FieldCipher.load first")
        return self._active_dek

    # -- values ------------------------------------------------------------------------------
    def encrypt(self, field: str, value: str | None) -> str | None:
        if value is None:
            return None
        dek_id = self.active_dek_id
        nonce = secrets.token_bytes(12)
        ct = AESGCM(self._deks[dek_id]).encrypt(nonce, value.encode(), field.encode())
        return f"{PREFIX}:{dek_id}:{base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, field: str, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            prefix, dek_id, body = token.split(":", 2)
        except ValueError as exc:
            raise DecryptionError("not an encrypted value") from exc
        dek = self._deks.get(dek_id)
        if prefix != PREFIX or dek is None:
            raise DecryptionError(f"unknown data key {dek_id}")
        raw = base64.b64decode(body)
        return AESGCM(dek).decrypt(raw[:12], raw[12:], field.encode()).decode()

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
