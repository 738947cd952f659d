"""Password hashing (argon2id), opaque tokens and TOTP (RFC 6238). No I/O."""

from __future__ import annotations

import hashlib
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with the library's RFC 9106 "low memory" profile: ~50 ms here, 64 MiB.
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so timing does not reveal unknown users.
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """An opaque bearer token: `<prefix>_<43 url-safe chars>` (256 bits)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """Tokens are stored as SHA-256: high-entropy, so a slow hash adds nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_totp_secret() -> str:
    return str(pyotp.random_base32())


def totp_uri(secret: str, username: str, issuer: str = "hotline") -> str:
    return str(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer))


def totp_code(secret: str, at_unix: float) -> str:
    return str(pyotp.TOTP(secret).at(int(at_unix)))


def totp_match(secret: str, code: str, at_unix: float, last_step: int | None) -> int | None:
    """The 30-s step the code belongs to (±1 step of drift), or None.

    A step at or before `last_step` is refused, so an observed code cannot be replayed.
    """
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step_now = int(at_unix) // 30
    for step in (step_now - 1, step_now, step_now + 1):
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(str(totp.at(step * 30)), code):
            return step
    return None
