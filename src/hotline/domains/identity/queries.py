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
    ApiToken,
    OrgUnit,
    PasswordPolicy,
    RoleGrant,
    Session,
    User,
    UserStatus,
    session_expired,
)
from hotline.domains.identity.ports import Holder, IdentityStore


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
    unit = store.org_unit(user.org_unit_id)
    holder = Holder(user, unit.path if unit else None, tuple(store.grants_of(user.id)))
    return _actor(
        holder,
        ip=ip,
        session_id=session_id,
        token_id=token_id,
        token_scopes=token_scopes,
        mfa_ok=mfa_ok,
    )


def _actor(
    holder: Holder,
    *,
    ip: str | None,
    session_id: str | None = None,
    token_id: str | None = None,
    token_scopes: frozenset[str] | None = None,
    mfa_ok: bool = True,
) -> Actor:
    user, grants = holder.user, holder.grants
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
        home_org_unit_path=holder.home_org_unit_path,
        roles=frozenset(g.role for g in grants),
    )


def _active(holder: Holder | None) -> Holder:
    if holder is None or holder.user.status is not UserStatus.active:
        raise Unauthenticated("account disabled", key="errors.account_disabled")
    return holder


def resolve_session(
    store: IdentityStore,
    token_hash: str,
    policy: PasswordPolicy,
    *,
    now: dt.datetime,
    ip: str | None,
) -> tuple[Actor, str, bool]:
    """(actor, session id, needs touch) for a live session token of an active user, else 401.

    Read afresh on every request (one query), so an ended session or a disabled user stops
    at once. Until a temporary password is changed (and TOTP enrolled where required), the
    session can do nothing but that: the actor has no grants at all.
    """
    return session_actor(store.session_holder(token_hash), policy, now=now, ip=ip)


def session_actor(
    found: tuple[Session, Holder | None] | None,
    policy: PasswordPolicy,
    *,
    now: dt.datetime,
    ip: str | None,
) -> tuple[Actor, str, bool]:
    """`resolve_session` on rows already read (`store.session_holder`): the same rules."""
    roles = {g.role for g in found[1].grants} if found is not None and found[1] else set()
    if found is None or session_expired(found[0], policy, now, roles):
        raise Unauthenticated(
            "session expired or unknown; sign in again", key="errors.session_expired"
        )
    session, holder = found[0], _active(found[1])
    stale = (now - session.last_seen_at).total_seconds() > 30
    mfa_ok = session.mfa_passed and not holder.user.must_change_password
    actor = _actor(holder, ip=ip, session_id=session.id, mfa_ok=mfa_ok)
    return actor, session.id, stale


def resolve_token(
    store: IdentityStore, token_hash: str, *, now: dt.datetime, ip: str | None
) -> tuple[Actor, str, bool]:
    """(actor, token id, needs touch) for a live API token of an active user, else 401.

    Read afresh on every request (one query), so a revoked token or a disabled user stops
    at once.
    """
    return token_actor(store.token_holder(token_hash), now=now, ip=ip)


def token_actor(
    found: tuple[ApiToken, Holder | None] | None, *, now: dt.datetime, ip: str | None
) -> tuple[Actor, str, bool]:
    """`resolve_token` on rows already read (`store.token_holder`): the same rules."""
    token = found[0] if found is not None else None
    if (
        found is None
        or token is None
        or token.revoked_at is not None
        or (token.expires_at is not None and token.expires_at <= now)
    ):
        raise Unauthenticated("API token unknown, expired or revoked", key="errors.token_invalid")
    holder = _active(found[1])
    stale = token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60
    actor = _actor(holder, ip=ip, token_id=token.id, token_scopes=frozenset(token.scopes))
    return actor, token.id, stale
