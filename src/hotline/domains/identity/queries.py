"""Reads of identity data, and the permission-checked accessors every caller goes through.

An accessor loads one object and checks the actor's permission over the object's place in the
organisation tree. An object outside the actor's scope is reported as not found, so its
existence does not leak.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from hotline.core.context import Actor, Grant
from hotline.core.errors import NotFound, Unauthenticated
from hotline.domains.identity.model import (
    ROLES,
    OrgUnit,
    PasswordPolicy,
    RoleGrant,
    User,
    UserStatus,
    session_expired,
)
from hotline.domains.identity.ports import IdentityStore


def access_org_unit(
    store: IdentityStore, actor: Actor, org_unit_id: str, permission: str
) -> OrgUnit:
    """Load an organisation unit the actor holds `permission` over."""
    actor.require(permission)
    unit = store.org_unit(org_unit_id)
    if unit is None or not actor.can(permission, unit.path):
        raise NotFound("no such organisation unit", key="errors.org_unit_not_found")
    return unit


def access_user(
    store: IdentityStore, actor: Actor, user_id: str, permission: str
) -> tuple[User, str]:
    """Load a user (and their unit's path) the actor holds `permission` over."""
    actor.require(permission)
    user = store.user(user_id)
    unit = store.org_unit(user.org_unit_id) if user else None
    if user is None or unit is None or not actor.can(permission, unit.path):
        raise NotFound("no such user", key="errors.user_not_found")
    return user, unit.path


def user_view(user: User, grants: Sequence[RoleGrant], *, now: dt.datetime) -> dict[str, Any]:
    """The public shape of a user: never the password hash or TOTP secret."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "org_unit_id": user.org_unit_id,
        "status": user.status.value,
        "locked": user.locked_until is not None and user.locked_until > now,
        "totp_enabled": user.totp_enabled,
        "must_change_password": user.must_change_password,
        "last_login_at": user.last_login_at,
        "created_at": user.created_at,
        "roles": [
            {"id": g.id, "role": g.role, "org_unit_id": g.org_unit_id}
            for g in sorted(grants, key=lambda g: (g.role, g.org_unit_path, g.id))
        ],
    }


def list_users(
    store: IdentityStore, actor: Actor, *, now: dt.datetime, limit: int, after: str | None
) -> list[dict[str, Any]]:
    """Users in the actor's `user:read` scope, ordered by username (keyset pagination)."""
    actor.require("user:read")
    rows = store.users(scopes=actor.scopes_for("user:read"), limit=limit, after=after)
    grants = store.grants_of_many([u.id for u, _ in rows])
    return [user_view(u, grants.get(u.id, []), now=now) for u, _ in rows]


def get_user(
    store: IdentityStore, actor: Actor, user_id: str, *, now: dt.datetime
) -> dict[str, Any]:
    user, _ = access_user(store, actor, user_id, "user:read")
    return user_view(user, store.grants_of(user.id), now=now)


def list_org_units(store: IdentityStore, actor: Actor) -> list[OrgUnit]:
    actor.require("org:read")
    return store.org_units(scopes=actor.scopes_for("org:read"))


def effective_policy(store: IdentityStore, defaults: PasswordPolicy) -> PasswordPolicy:
    """Settings give the defaults; a security admin's overrides in the database win."""
    import dataclasses

    overrides = {
        k: v
        for k, v in store.policy_overrides().items()
        if k in {f.name for f in dataclasses.fields(PasswordPolicy)}
    }
    return dataclasses.replace(defaults, **overrides)


def actor_for(
    store: IdentityStore,
    user: User,
    *,
    ip: str | None,
    session_id: str | None = None,
    token_id: str | None = None,
    token_scopes: frozenset[str] | None = None,
    mfa_ok: bool = True,
) -> Actor:
    """Build the Actor of a signed-in user from their grants."""
    grants = store.grants_of(user.id)
    unit = store.org_unit(user.org_unit_id)
    return Actor(
        user_id=user.id,
        username=user.username,
        grants=tuple(
            Grant(g.role, g.org_unit_path, ROLES[g.role]) for g in grants if g.role in ROLES
        )
        if mfa_ok
        else (),
        ip=ip,
        session_id=session_id,
        token_id=token_id,
        token_scopes=token_scopes,
        home_org_unit_path=unit.path if unit else None,
        roles=frozenset(g.role for g in grants),
    )


def resolve_session(
    store: IdentityStore, token_hash: str, policy: PasswordPolicy, *, now: dt.datetime
) -> tuple[User, str, bool, bool]:
    """(user, session id, mfa passed, needs touch) for a live session token, else 401."""
    session = store.session_by_token_hash(token_hash)
    if session is None or session_expired(session, policy, now):
        raise Unauthenticated(
            "session expired or unknown; sign in again", key="errors.session_expired"
        )
    user = store.user(session.user_id)
    if user is None or user.status is not UserStatus.active:
        raise Unauthenticated("account disabled", key="errors.account_disabled")
    stale = (now - session.last_seen_at).total_seconds() > 30
    return user, session.id, session.mfa_passed, stale


def resolve_token(
    store: IdentityStore, token_hash: str, *, now: dt.datetime
) -> tuple[User, str, frozenset[str], bool]:
    token = store.token_by_hash(token_hash)
    if (
        token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
    ):
        raise Unauthenticated("API token unknown, expired or revoked", key="errors.token_invalid")
    user = store.user(token.user_id)
    if user is None or user.status is not UserStatus.active:
        raise Unauthenticated("account disabled", key="errors.account_disabled")
    stale = token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60
    return user, token.id, frozenset(token.scopes), stale
