"""Field envelope encryption (AES-256-GCM), blind indexes and the key file (R-E3)."""

from __future__ import annotations

import base64
import os
import stat
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from hotline.core.clock import ManualClock
from hotline.infra.crypto import keyfile
from hotline.infra.crypto.envelope import (
    DecryptionError,
    FieldCipher,
    KeySource,
    normalise,
    unwrap,
)
from hotline.infra.db.schema import data_keys
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings


@pytest.fixture
def cipher(runtime: Runtime) -> FieldCipher:
    return runtime.cipher


def _flip(token: str, pos: int) -> str:
    prefix, dek, body = token.split(":", 2)
    raw = bytearray(base64.b64decode(body))
    raw[pos] ^= 0x01
    return f"{prefix}:{dek}:{base64.b64encode(bytes(raw)).decode()}"


# --- values ------------------------------------------------------------------------------
def test_round_trip(cipher: FieldCipher) -> None:
    for value in ["13812345678", "", "北京市朝阳区建国路88号", "x" * 5000]:
        token = cipher.encrypt("customer.phone", value)
        assert token is not None
        assert cipher.decrypt("customer.phone", token) == value
    assert cipher.encrypt("customer.phone", None) is None
    assert cipher.decrypt("customer.phone", None) is None


def test_token_format_and_randomised(cipher: FieldCipher) -> None:
    a = cipher.encrypt("customer.phone", "13812345678")
    b = cipher.encrypt("customer.phone", "13812345678")
    assert a is not None and b is not None
    assert a != b  # fresh nonce each time: equal values do not give equal ciphertexts
    prefix, dek_id, body = a.split(":", 2)
    assert prefix == "v1"
    assert dek_id == cipher.active_dek_id
    assert len(base64.b64decode(body)) == 12 + len("13812345678") + 16
    assert "13812345678" not in a


@pytest.mark.parametrize("pos", [0, 11, 12, 14, -1])
def test_tampered_ciphertext_fails(cipher: FieldCipher, pos: int) -> None:
    token = cipher.encrypt("customer.id_number", "11010519491231002X")
    assert token is not None
    with pytest.raises(DecryptionError):
        cipher.decrypt("customer.id_number", _flip(token, pos))


def test_truncated_or_garbage_tokens_fail(cipher: FieldCipher) -> None:
    token = cipher.encrypt("customer.phone", "13812345678")
    assert token is not None
    for bad in [
        token[:-4],
        "plaintext",
        "v1:nope",
        f"v2:{cipher.active_dek_id}:AAAA",
        f"v1:{cipher.active_dek_id}:!!notbase64!!",
    ]:
        with pytest.raises(DecryptionError):
            cipher.decrypt("customer.phone", bad)


def test_field_binding_enforced(cipher: FieldCipher) -> None:
    """A ciphertext copied into another column does not decrypt there (AAD)."""
    token = cipher.encrypt("customer.phone", "13812345678")
    assert token is not None
    with pytest.raises(DecryptionError):
        cipher.decrypt("customer.id_number", token)
    with pytest.raises(DecryptionError):
        cipher.decrypt("totp", token)
    assert cipher.decrypt("customer.phone", token) == "13812345678"


def test_unknown_data_key_fails(cipher: FieldCipher) -> None:
    token = cipher.encrypt("customer.phone", "13812345678")
    assert token is not None
    forged = token.replace(cipher.active_dek_id, "00000000-0000-7000-8000-000000000000")
    with pytest.raises(DecryptionError, match="unknown data key"):
        cipher.decrypt("customer.phone", forged)


def test_data_keys_are_stored_wrapped(runtime: Runtime) -> None:
    with runtime.db.read() as conn:
        row = conn.execute(sa.select(data_keys)).one()
    master = runtime.cipher.master
    assert row.master_key_id == master.active_id
    dek = unwrap(master.active, master.active_id, row.id, row.wrapped_key)
    assert dek not in base64.b64decode(row.wrapped_key)
    # the wrap is bound to the DEK id: it cannot be moved to another row
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        unwrap(master.active, master.active_id, "another-id", row.wrapped_key)


# --- blind index -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variant",
    [
        "13812345678",
        "+86 138 1234 5678",
        "+86-138-1234-5678",
        "+8613812345678",
        "0086 138 1234 5678",
        "138-1234-5678",
        " 138 1234 5678 ",
        "(138) 1234.5678",
    ],
)
def test_blind_index_normalises_phone(cipher: FieldCipher, variant: str) -> None:
    assert normalise("phone", variant) == "13812345678"
    assert cipher.blind_index("phone", variant) == cipher.blind_index("phone", "13812345678")


def test_blind_index_distinguishes(cipher: FieldCipher) -> None:
    base = cipher.blind_index("phone", "13812345678")
    assert base is not None and len(base) == 64
    assert base != cipher.blind_index("phone", "13812345679")
    # kinds are separated: the same text under another kind gives another index
    assert base != cipher.blind_index("id_number", "13812345678")
    assert cipher.blind_index("phone", None) is None
    # the index is keyed: it is not a plain hash of the number
    other = FieldCipher(keyfile.generate())
    assert other.blind_index("phone", "13812345678") != base


def test_blind_index_id_number_case_and_spaces(cipher: FieldCipher) -> None:
    assert cipher.blind_index("id_number", " 11010519491231002x ") == cipher.blind_index(
        "id_number", "11010519491231002X"
    )


# --- key file ----------------------------------------------------------------------------
def test_key_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.json"
    keys = keyfile.load_or_create(path)
    assert keys.path == path
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = keyfile.load_or_create(path)
    assert again == keys
    rotated = keyfile.with_new_active(keys)
    assert rotated.active_id != keys.active_id
    assert set(rotated.keys) == {keys.active_id, rotated.active_id}
    assert rotated.index_key == keys.index_key  # the blind indexes stay valid
    keyfile.write(path, rotated)
    assert keyfile.load(path) == rotated
    assert not path.with_suffix(".tmp").exists()
    pruned = keyfile.without(rotated, {keys.active_id})
    assert set(pruned.keys) == {rotated.active_id}
    with pytest.raises(ValueError):
        keyfile.without(rotated, {rotated.active_id})


def test_malformed_key_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "master.json"
    keys = keyfile.generate()
    path.write_text(keys.to_json().replace(keys.active_id, "mk-missing", 1))
    with pytest.raises(ValueError, match="malformed"):
        keyfile.load(path)


# --- a cipher follows keys made by another process ---------------------------------------
def test_second_cipher_reloads_unknown_data_key(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    other = build_runtime(settings, clock=clock, upgrade=False)
    try:
        old_dek = other.cipher.active_dek_id
        with runtime.engine.begin() as conn:
            new_dek = runtime.cipher.new_data_key(conn, clock=clock)
        token = runtime.cipher.encrypt("customer.phone", "13812345678")
        assert token is not None and new_dek in token
        assert new_dek not in other.cipher.known_data_keys()
        assert other.cipher.decrypt("customer.phone", token) == "13812345678"
        # having reloaded, it also writes with the new active key
        assert other.cipher.active_dek_id == new_dek != old_dek
    finally:
        other.close()


def test_encrypt_follows_active_key_after_refresh_interval(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    other = build_runtime(settings, clock=clock, upgrade=False)
    try:
        with runtime.engine.begin() as conn:
            new_dek = runtime.cipher.new_data_key(conn, clock=clock)
        token = other.cipher.encrypt("f", "v")
        assert token is not None and new_dek not in token  # within the interval: cached key
        other.cipher.refresh_seconds = 0
        token = other.cipher.encrypt("f", "v")
        assert token is not None and new_dek in token
        assert runtime.cipher.decrypt("f", token) == "v"
    finally:
        other.close()


class CountingSource(KeySource):
    def __init__(self, inner: KeySource) -> None:
        super().__init__(inner.engine, inner.key_file)
        self.reads = 0
        self._lock = threading.Lock()

    def data_keys(self):  # type: ignore[no-untyped-def]
        with self._lock:
            self.reads += 1
        return super().data_keys()


def test_concurrent_unknown_key_reloads_once(
    runtime: Runtime, settings: Settings, clock: ManualClock
) -> None:
    other = build_runtime(settings, clock=clock, upgrade=False)
    try:
        assert other.cipher.source is not None
        source = CountingSource(other.cipher.source)
        other.cipher.source = source
        with runtime.engine.begin() as conn:
            runtime.cipher.new_data_key(conn, clock=clock)
        tokens = [runtime.cipher.encrypt("f", str(i)) for i in range(40)]
        errors: list[BaseException] = []
        results: dict[int, str | None] = {}

        def work(i: int) -> None:
            try:
                results[i] = other.cipher.decrypt("f", tokens[i])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert results == {i: str(i) for i in range(40)}
        assert source.reads == 1
    finally:
        other.close()


def test_unknown_key_lookups_are_rate_limited(runtime: Runtime) -> None:
    assert runtime.cipher.source is not None
    source = CountingSource(runtime.cipher.source)
    runtime.cipher.source = source
    token = f"v1:00000000-0000-7000-8000-000000000000:{base64.b64encode(b'x' * 40).decode()}"
    for _ in range(5):
        with pytest.raises(DecryptionError):
            runtime.cipher.decrypt("f", token)
    assert source.reads == 1


def test_cipher_reloads_inside_a_write_transaction(runtime: Runtime, clock: ManualClock) -> None:
    """The reload uses its own read connection: no deadlock against an open writer."""
    other = FieldCipher(keyfile.load(runtime.settings.resolved_master_key_file))
    with runtime.engine.connect() as c, c.begin():
        other.load(c, clock=clock)
    with runtime.engine.begin() as conn:
        new = runtime.cipher.new_data_key(conn, clock=clock)
    token = runtime.cipher.encrypt("f", "v")
    with runtime.engine.begin() as conn:  # a writer holds its locks, as an action does
        conn.execute(data_keys.update().values(retired_at=data_keys.c.retired_at))
        assert other.decrypt("f", token) == "v"
    assert other.active_dek_id == new
