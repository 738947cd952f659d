"""Domain errors. Each carries an i18n key and the values to fill it, plus an English message.

The HTTP layer maps them to `application/problem+json` responses; the CLI prints the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class HotlineError(Exception):
    """Base of every error hotline raises on purpose."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        params: Mapping[str, Any] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key or f"errors.{self.code}"
        self.params: dict[str, Any] = dict(params or {})
        self.field = field


class InvalidInput(HotlineError):
    """The request is well-formed but a value breaks a rule (422)."""

    status = 422
    code = "invalid_input"


class NotFound(HotlineError):
    """The object does not exist, or the actor may not know that it exists (404)."""

    status = 404
    code = "not_found"


class Conflict(HotlineError):
    """The object's current state forbids the change (409)."""

    status = 409
    code = "conflict"


class Unauthenticated(HotlineError):
    """No valid session or token (401)."""

    status = 401
    code = "unauthenticated"


class PermissionDenied(HotlineError):
    """The actor lacks the permission for this action on this object (403)."""

    status = 403
    code = "permission_denied"


class Locked(HotlineError):
    """The account is locked after too many failed logins (423)."""

    status = 423
    code = "locked"


class TooManyRequests(HotlineError):
    status = 429
    code = "too_many_requests"
