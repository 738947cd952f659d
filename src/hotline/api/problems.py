"""Errors as RFC 9457 `application/problem+json`, with an i18n key the UI can translate."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hotline.core.errors import HotlineError

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"


def problem(
    status: int, title: str, detail: str, *, code: str, key: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"https://hotline.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "key": key,
        **{k: v for k, v in extra.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


STANDBY_CODE = "routing_unavailable"
STANDBY_HEADER = "X-Hotline-Routing"

_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
    423: "Locked",
    429: "Too many requests",
    503: "Service unavailable",
}


def install(app: FastAPI) -> None:
    @app.exception_handler(HotlineError)
    async def _domain(_: Request, exc: HotlineError) -> JSONResponse:
        response = problem(
            exc.status,
            _TITLES.get(exc.status, "Error"),
            exc.message,
            code=exc.code,
            key=exc.key,
            params=exc.params or None,
            field=exc.field,
        )
        if exc.code == STANDBY_CODE:
            # the forwarding middleware replays such a write on the leader (api/forwarding.py)
            response.headers[STANDBY_HEADER] = "standby"
            response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid input"
        return problem(
            422,
            "Invalid input",
            detail,
            code="invalid_input",
            key="errors.invalid_input",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = problem(
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            str(exc.detail),
            code=code,
            key=f"errors.{code}",
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug: log it with the path; the client gets no internals.
        log.exception("unhandled error", path=request.url.path, error=repr(exc))
        return problem(
            500,
            "Internal error",
            "an unexpected error occurred; it was logged",
            code="internal",
            key="errors.internal",
        )
