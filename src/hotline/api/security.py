"""Authentication and the permission gate every route must pass.

Routes are registered through `SecureRouter`, which refuses a route that does not say which
permission it needs (or that it is public / for any signed-in user). So an endpoint that
forgets authorisation cannot be written by accident; `tests/api/test_route_matrix.py` walks
every route × role.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette._utils import get_route_path  # the path routes match (FastAPI uses it too)
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import Scope

from hotline.core.context import Actor
from hotline.core.errors import InvalidInput, PermissionDenied, Unauthenticated
from hotline.domains.identity import secrets as sec
from hotline.domains.identity.model import PasswordPolicy
from hotline.domains.identity.queries import effective_policy, session_actor, token_actor
from hotline.infra.db.stores.identity import SqlIdentityStore, credential_memory
from hotline.infra.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC = "public"
AUTHENTICATED = "authenticated"
SESSION_COOKIE = "hotline_session"


def get_runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def authenticate(request: Request, *, activity: bool = True) -> Actor:
    """The actor behind the session cookie or `Authorization: Bearer` token, else 401.

    `activity=False` checks without counting as user activity, so an open event stream does
    not keep an unattended session from reaching its idle timeout.
    """
    actor = _authenticate(request, activity=activity, io=True)
    assert actor is not None  # with io, it reads what it needs
    return actor


def authenticate_without_io(request: Request) -> Actor | None:
    """`authenticate` if it needs no database (the credential is remembered and needs no
    touch), else None: the caller then runs `authenticate` in a worker thread."""
    return _authenticate(request, activity=True, io=False)


def _authenticate(request: Request, *, activity: bool, io: bool) -> Actor | None:
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    rt = get_runtime(request)
    token = _bearer(request)
    if not token:
        raise Unauthenticated("sign in first", key="errors.unauthenticated")
    now = rt.clock.now()
    digest = sec.token_hash(token)
    ip = client_ip(request)
    # The credential's rows (token or session → user → unit → grants, and the policy for a
    # session), read in one read transaction or taken from the credential memory: exact for
    # identity writes of this process, at most a second old for other processes' writes (see
    # `CredentialMemory`). The rules (revoked, expired, idle, disabled) are applied afresh.
    memory = credential_memory(rt.engine)
    is_token = token.startswith("hlt_")
    rows: tuple[Any, PasswordPolicy | None] | None = memory.get(digest)
    if rows is None:
        if not io:
            return None
        generation, read_at = memory.generation, time.monotonic()
        found: Any
        policy: PasswordPolicy | None = None
        with rt.db.read() as conn:
            store = SqlIdentityStore(conn)
            if is_token:
                found = store.token_holder(digest)
            else:
                # The policy as `rt.policy()` gives it, read on this connection.
                policy = effective_policy(store, rt.default_policy())
                found = store.session_holder(digest)
        rows = (found, policy)
        if rows[0] is not None:
            memory.put(digest, rows, generation=generation, read_at=read_at)
    session_id: str | None = None
    token_id: str | None = None
    if is_token:
        actor, token_id, stale = token_actor(rows[0], now=now, ip=ip)
    else:
        assert rows[1] is not None  # read with the session
        actor, session_id, stale = session_actor(rows[0], rows[1], now=now, ip=ip)
    if stale and activity:
        if not io:
            return None
        # Bookkeeping only (idle timer): no audit row, and not on every request. The
        # remembered rows have the old time: read them again next time.
        memory.forget(digest)
        with rt.engine.begin() as conn:
            store = SqlIdentityStore(conn)
            if token_id is not None:
                store.touch_token(token_id, now)
            elif session_id is not None:
                store.touch_session(session_id, now)
    request.state.actor = actor
    return actor


async def reject_nul(request: Request) -> None:
    """Text with NUL characters cannot be stored (PostgreSQL refuses it): say so up front."""
    values = [*request.path_params.values(), *request.query_params.values()]
    if any("\x00" in str(v) for v in values):
        raise InvalidInput(
            "text must not contain NUL (\\u0000) characters", key="errors.nul_character"
        )
    if request.method in ("POST", "PUT", "PATCH"):
        body = await request.body()
        if b"\x00" in body or b"\\u0000" in body:
            raise InvalidInput(
                "text must not contain NUL (\\u0000) characters", key="errors.nul_character"
            )


def require(permission: str) -> Callable[..., Any]:
    # Async: a remembered credential is checked on the event loop (no worker-thread hop);
    # one that must be read (or touched) is checked in a worker thread.
    async def dependency(request: Request) -> Actor | None:
        if permission == PUBLIC:
            return None
        actor = authenticate_without_io(request)
        if actor is None:
            actor = await run_in_threadpool(authenticate, request)
        if permission != AUTHENTICATED and not actor.can(permission):
            raise PermissionDenied(
                f"permission {permission!r} is required",
                key="errors.permission_required",
                params={"permission": permission},
            )
        return actor

    return dependency


class Problem(BaseModel):
    """An RFC 9457 problem document; `key` is the i18n key of the message."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    key: str
    params: dict[str, Any] | None = None
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {**_PROBLEM, "description": text}
    for code, text in {
        400: "Bad request",
        401: "Not signed in, or the session expired",
        403: "Permission missing",
        404: "Not found (or outside the caller's scope)",
        409: "Conflict with the object's state",
        422: "Invalid input",
        423: "Account locked",
    }.items()
}


def _head(path: str) -> str:
    """The first two segments of a path: `/api/contacts/1/accept` → `/api/contacts`."""
    return "/".join(path.split("/", 3)[:3])


class SecureRouter(APIRouter):
    """An APIRouter whose routes must declare `permission=` (keyword-only, no default)."""

    _heads: tuple[int, frozenset[str] | None] = (-1, None)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # The app asks every included router in turn and each tries all its routes: a router
        # none of whose routes starts like the path answers at once (trying the routes of the
        # routers before the right one was about a tenth of a request's CPU).
        heads = self._route_heads()
        http = scope["type"] == "http"
        if heads is not None and http and _head(get_route_path(scope)) not in heads:
            return Match.NONE, {}
        return super().matches(scope)

    def _route_heads(self) -> frozenset[str] | None:
        """The heads of this router's route paths; None (no shortcut) if one is a parameter."""
        count, heads = self._heads
        if count != len(self.routes):
            paths = [getattr(r, "path", None) for r in self.routes]
            found = {_head(p) for p in paths if isinstance(p, str)}
            ok = all(isinstance(p, str) for p in paths) and not any("{" in h for h in found)
            heads = frozenset(found) if ok else None
            self._heads = (len(self.routes), heads)
        return heads

    def route_with(
        self, method: str, path: str, *, permission: str, **kwargs: Any
    ) -> Callable[[F], F]:
        if not permission:
            raise TypeError(f"route {method} {path} must declare a permission")
        deps = list(kwargs.pop("dependencies", None) or [])
        deps.insert(0, Depends(require(permission)))
        deps.insert(1, Depends(reject_nul))
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        extra["x-permission"] = permission
        kwargs["responses"] = {**PROBLEM_RESPONSES, **(kwargs.get("responses") or {})}

        def decorate(fn: F) -> F:
            self.add_api_route(
                path, fn, methods=[method], dependencies=deps, openapi_extra=extra, **kwargs
            )
            return fn

        return decorate

    def get(  # type: ignore[override]
        self, path: str, *, permission: str, **kwargs: Any
    ) -> Callable[[F], F]:
        return self.route_with("GET", path, permission=permission, **kwargs)

    def post(  # type: ignore[override]
        self, path: str, *, permission: str, **kwargs: Any
    ) -> Callable[[F], F]:
        return self.route_with("POST", path, permission=permission, **kwargs)

    def put(  # type: ignore[override]
        self, path: str, *, permission: str, **kwargs: Any
    ) -> Callable[[F], F]:
        return self.route_with("PUT", path, permission=permission, **kwargs)

    def patch(  # type: ignore[override]
        self, path: str, *, permission: str, **kwargs: Any
    ) -> Callable[[F], F]:
        return self.route_with("PATCH", path, permission=permission, **kwargs)

    def delete(  # type: ignore[override]
        self, path: str, *, permission: str, **kwargs: Any
    ) -> Callable[[F], F]:
        return self.route_with("DELETE", path, permission=permission, **kwargs)


async def _current_actor(request: Request) -> Actor:
    # A sync dependency costs a worker-thread hop per request; the route's permission gate
    # has already authenticated, so this is a lookup (else `authenticate` in a thread).
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    return await run_in_threadpool(authenticate, request)


async def _runtime(request: Request) -> Runtime:
    return get_runtime(request)  # no I/O: no worker thread


ActorDep = Annotated[Actor, Depends(_current_actor)]
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
