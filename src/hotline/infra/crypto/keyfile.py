"""The master key file, kept outside the database (R-E3).

Format (JSON, mode 0600): {"active": "<id>", "keys": {"<id>": "<base64 32 bytes>"},
"index_key": "<base64 32 bytes>"}. Old master keys stay in the file until `hotline keys rotate`
has re-wrapped every data key; the blind-index key is separate because changing it means
recomputing every index.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class MasterKeys:
    active_id: str
    keys: dict[str, bytes]
    index_key: bytes
    # Where these keys were read from (None for keys made in memory): a running FieldCipher
    # re-reads the file from here after another process rotated the keys.
    path: Path | None = field(default=None, compare=False)

    @property
    def active(self) -> bytes:
        return self.keys[self.active_id]

    def to_json(self) -> str:
        return json.dumps(
            {
                "active": self.active_id,
                "keys": {k: base64.b64encode(v).decode() for k, v in sorted(self.keys.items())},
                "index_key": base64.b64encode(self.index_key).decode(),
            },
            indent=2,
        )


def _new_key_id() -> str:
    return "mk-" + secrets.token_hex(6)


def generate() -> MasterKeys:
    kid = _new_key_id()
    return MasterKeys(kid, {kid: secrets.token_bytes(32)}, secrets.token_bytes(32))


def load_or_create(path: Path) -> MasterKeys:
    """Load the key file, creating it (mode 0600) on first start."""
    if not path.exists():
        keys = generate()
        write(path, keys)
        return dataclasses.replace(keys, path=path)
    return load(path)


def load(path: Path) -> MasterKeys:
    data = json.loads(path.read_text())
    keys = {k: base64.b64decode(v) for k, v in data["keys"].items()}
    if data["active"] not in keys or any(len(v) != 32 for v in keys.values()):
        raise ValueError(f"master key file {path} is malformed")
    return MasterKeys(data["active"], keys, base64.b64decode(data["index_key"]), path=path)


def write(path: Path, keys: MasterKeys) -> None:
    """Write atomically and durably (fsync, rename, fsync the folder), owner-only permissions.

    A crash leaves either the old file or the new one, never a torn one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(keys.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def with_new_active(keys: MasterKeys) -> MasterKeys:
    """A copy with a fresh active master key; the old ones stay for unwrapping."""
    kid = _new_key_id()
    return MasterKeys(
        kid, {**keys.keys, kid: secrets.token_bytes(32)}, keys.index_key, path=keys.path
    )


def without(keys: MasterKeys, key_ids: set[str]) -> MasterKeys:
    """A copy without the master keys `key_ids` (never the active one)."""
    if keys.active_id in key_ids:
        raise ValueError("the active master key cannot be removed")
    kept = {k: v for k, v in keys.keys.items() if k not in key_ids}
    return MasterKeys(keys.active_id, kept, keys.index_key, path=keys.path)
