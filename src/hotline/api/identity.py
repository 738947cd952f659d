"""HTTP routes of the identity domain: sign-in, the signed-in user, users, org units, grants,
API tokens and the security policy. Handlers parse, call one action or query, render.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hotline.api.security import (
    AUTHENTICATED,
    PUBLIC,
    SESSION_COOKIE,
    ActorDep,
    RuntimeDep,
    SecureRouter,
    client_ip,
)
from hotline.core.context import Actor, system_actor
from hotline.core.errors import HotlineError, Locked, Unauthenticated
from hotline.domains.identity import actions, queries
from hotline.domains.identity.model import (
    PERMISSIONS,
    ROLE_NAMES_ZH,
    ROLES,
    OrgUnit,
    OrgUnitKind,
    PasswordPolicy,
    SessionKind,
    session_lifetime,
)
from hotline.infra.db.stores.identity import SqlIdentityStore

router = SecureRouter(prefix="/api", tags=["identity"])

Str64 = Annotated[str, Field(min_length=1, max_length=64)]
Str200 = Annotated[str, Field(min_length=1, max_length=200)]
Password = Annotated[str, Field(min_length=1, max_length=256)]
Limit = Annotated[int, Query(ge=1, le=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- models --------------------------------------------------------------------------------
class LoginIn(Strict):
    username: Str64
    password: Password
    totp_code: Annotated[str, Field(max_length=16)] | None = None


class RoleOut(BaseModel):
    id: str
    role: str
    org_unit_id: str


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    org_unit_id: str
    status: Literal["active", "disabled"]
    locked: bool
    totp_enabled: bool
    must_change_password: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    roles: list[RoleOut]


class LoginOut(BaseModel):
    token: str
    user: UserOut
    mfa_enrollment_required: bool
    # None: this session has no idle timeout (a display session, see `session_kind`).
    idle_timeout_seconds: int | None
    session_kind: SessionKind


class MeOut(BaseModel):
    user: UserOut
    permissions: list[str]
    roles: list[str]
    mfa_enrollment_required: bool
    password_change_required: bool
    # None: this session has no idle timeout (a display session, see `session_kind`).
    idle_timeout_seconds: int | None
    session_kind: SessionKind


class PasswordChangeIn(Strict):
    current_password: Password
    new_password: Password


class TotpBeginOut(BaseModel):
    otpauth_uri: str


class TotpConfirmIn(Strict):
    code: Annotated[str, Field(min_length=6, max_length=8)]


class TokenIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Str64], Field(min_length=1, max_length=50)]
    expires_at: AwareDatetime | None = None


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str


class OrgUnitIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    name: Str200
    kind: OrgUnitKind
    parent_id: Annotated[str, Field(max_length=36)] | None = None


class OrgUnitPatch(Strict):
    name: Str200


class OrgUnitOut(BaseModel):
    id: str
    parent_id: str | None
    kind: OrgUnitKind
    code: str
    name: str
    path: str
    active: bool


class UserIn(Strict):
    username: Str64
    display_name: Str200
    org_unit_id: Annotated[str, Field(max_length=36)]
    password: Password


class PasswordResetIn(Strict):
    new_password: Password


class GrantIn(Strict):
    role: Annotated[str, Field(min_length=1, max_length=32)]
    org_unit_id: Annotated[str, Field(max_length=36)]


class GrantOut(BaseModel):
    id: str
    user_id: str
    role: str
    org_unit_id: str


class RoleInfo(BaseModel):
    name: str
    name_zh: str
    permissions: list[str]


class UserPage(BaseModel):
    items: list[UserOut]
    next_after: str | None


class PolicyOut(BaseModel):
    min_length: int
    min_classes: int
    history: int
    lockout_threshold: int
    lockout_minutes: int
    session_idle_minutes: int
    session_max_hours: int
    display_session_hours: int


class PolicyPatch(Strict):
    min_length: Annotated[int, Field(ge=8, le=128)] | None = None
    min_classes: Annotated[int, Field(ge=1, le=4)] | None = None
    history: Annotated[int, Field(ge=0, le=24)] | None = None
    lockout_threshold: Annotated[int, Field(ge=1, le=100)] | None = None
    lockout_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None
    session_idle_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None
    session_max_hours: Annotated[int, Field(ge=1, le=72)] | None = None
    display_session_hours: Annotated[int, Field(ge=1, le=720)] | None = None


def _unit_out(u: OrgUnit) -> OrgUnitOut:
    return OrgUnitOut(
        id=u.id,
        parent_id=u.parent_id,
        kind=u.kind,
        code=u.code,
        name=u.name,
        path=u.path,
        active=u.active,
    )


def _idle_timeout(kind: SessionKind, policy: PasswordPolicy) -> int | None:
    return None if kind is SessionKind.display else policy.session_idle_minutes * 60


def _me(rt: RuntimeDep, actor: Actor) -> MeOut:
    now = rt.clock.now()
    with rt.db.read() as conn:
        store = SqlIdentityStore(conn)
        assert actor.user_id is not None
        user = store.user(actor.user_id)
        if user is None:
            raise Unauthenticated("account no longer exists")
        view = queries.user_view(user, store.grants_of(user.id), now=now)
        session = store.session(actor.session_id) if actor.session_id else None
    # An API token is no session: it has no idle timeout either, but is not a display.
    kind = session.kind if session else SessionKind.interactive
    needs = bool(actor.roles & set(rt.settings.mfa_required_roles)) and not user.totp_enabled
    return MeOut(
        user=UserOut(**view),
        permissions=sorted(actor.permissions),
        roles=sorted(actor.roles),
        mfa_enrollment_required=needs,
        password_change_required=user.must_change_password,
        idle_timeout_seconds=_idle_timeout(kind, rt.policy()),
        session_kind=kind,
    )


# --- sign-in -------------------------------------------------------------------------------
@router.post("/auth/login", permission=PUBLIC, response_model=LoginOut)
def login(body: LoginIn, request: Request, response: Response, rt: RuntimeDep) -> LoginOut:
    """Sign in with password (and TOTP code where enrolled); sets the session cookie."""
    anon = dataclasses.replace(system_actor("anonymous"), ip=client_ip(request), is_system=False)
    policy = rt.policy()
    with rt.db.transaction(actor=anon) as tx:
        result = actions.login(
            tx,
            policy,
            username=body.username,
            password=body.password,
            totp_code=body.totp_code,
            mfa_roles=rt.settings.mfa_required_roles,
            user_agent=request.headers.get("user-agent"),
        )
    if not result.ok:
        messages = {
            "bad_credentials": "wrong username or password",
            "locked": f"account locked after too many failed sign-ins; try again in "
            f"{policy.lockout_minutes} minutes or ask an administrator",
            "mfa_required": "enter the 6-digit code from your authenticator app",
            "mfa_invalid": "the authenticator code is wrong or was already used",
        }
        code = result.error or "bad_credentials"
        if code == "locked":
            raise Locked(messages[code], key="errors.locked")
        raise Unauthenticated(messages[code], key=f"errors.{code}")
    assert result.token and result.user and result.session
    kind = result.session.kind
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        httponly=True,
        samesite="strict",
        secure=rt.settings.secure_cookies,
        max_age=int(session_lifetime(kind, policy).total_seconds()),
    )
    with rt.db.read() as conn:
        store = SqlIdentityStore(conn)
        view = queries.user_view(result.user, store.grants_of(result.user.id), now=rt.clock.now())
    return LoginOut(
        token=result.token,
        user=UserOut(**view),
        mfa_enrollment_required=result.mfa_enrollment_required,
        idle_timeout_seconds=_idle_timeout(kind, policy),
        session_kind=kind,
    )


@router.post("/auth/logout", permission=AUTHENTICATED, status_code=204)
def logout(actor: ActorDep, response: Response, rt: RuntimeDep) -> None:
    """End the current session."""
    if actor.session_id:
        with rt.db.transaction(actor=actor) as tx:
            actions.logout(tx, session_id=actor.session_id)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me", permission=AUTHENTICATED, response_model=MeOut)
def me(actor: ActorDep, rt: RuntimeDep) -> MeOut:
    """The signed-in user, their roles and effective permissions."""
    return _me(rt, actor)


@router.post("/me/password", permission=AUTHENTICATED, status_code=204)
def change_password(body: PasswordChangeIn, actor: ActorDep, rt: RuntimeDep) -> None:
    with rt.db.transaction(actor=actor) as tx:
        actions.change_own_password(
            tx, rt.policy(), current_password=body.current_password, new_password=body.new_password
        )


@router.post("/me/totp", permission=AUTHENTICATED, response_model=TotpBeginOut)
def totp_begin(actor: ActorDep, rt: RuntimeDep) -> TotpBeginOut:
    """Start TOTP enrollment: the otpauth:// URI for an authenticator app (the same pending
    secret until it is confirmed or an administrator resets it)."""
    with rt.db.transaction(actor=actor) as tx:
        return TotpBeginOut(otpauth_uri=actions.begin_totp_enrollment(tx))


@router.post("/me/totp/confirm", permission=AUTHENTICATED, status_code=204)
def totp_confirm(body: TotpConfirmIn, actor: ActorDep, rt: RuntimeDep) -> None:
    with rt.db.transaction(actor=actor) as tx:
        actions.confirm_totp_enrollment(tx, code=body.code)


@router.get("/me/tokens", permission="token:manage", response_model=list[TokenOut])
def my_tokens(actor: ActorDep, rt: RuntimeDep) -> list[TokenOut]:
    assert actor.user_id is not None
    with rt.db.read() as conn:
        tokens = SqlIdentityStore(conn).tokens_of(actor.user_id)
    return [TokenOut(**{**dataclasses.asdict(t), "scopes": list(t.scopes)}) for t in tokens]


@router.post(
    "/me/tokens", permission="token:manage", response_model=TokenCreatedOut, status_code=201
)
def create_token(body: TokenIn, actor: ActorDep, rt: RuntimeDep) -> TokenCreatedOut:
    """Create an API token limited to `scopes`; the secret is shown only in this response."""
    with rt.db.transaction(actor=actor) as tx:
        token, secret = actions.create_api_token(
            tx, name=body.name, scopes=body.scopes, expires_at=body.expires_at
        )
    return TokenCreatedOut(
        **{**dataclasses.asdict(token), "scopes": list(token.scopes)}, token=secret
    )


@router.delete("/me/tokens/{token_id}", permission="token:manage", status_code=204)
def revoke_token(token_id: str, actor: ActorDep, rt: RuntimeDep) -> None:
    with rt.db.transaction(actor=actor) as tx:
        actions.revoke_api_token(tx, token_id=token_id)


# --- organisation --------------------------------------------------------------------------
@router.get("/org-units", permission="org:read", response_model=list[OrgUnitOut])
def list_org_units(actor: ActorDep, rt: RuntimeDep) -> list[OrgUnitOut]:
    """Organisation units in the caller's scope, in tree order."""
    with rt.db.read() as conn:
        return [_unit_out(u) for u in queries.list_org_units(SqlIdentityStore(conn), actor)]


@router.post("/org-units", permission="org:manage", response_model=OrgUnitOut, status_code=201)
def create_org_unit(body: OrgUnitIn, actor: ActorDep, rt: RuntimeDep) -> OrgUnitOut:
    with rt.db.transaction(actor=actor) as tx:
        unit = actions.create_org_unit(
            tx, code=body.code, name=body.name, kind=body.kind, parent_id=body.parent_id
        )
    return _unit_out(unit)


@router.patch("/org-units/{org_unit_id}", permission="org:manage", response_model=OrgUnitOut)
def rename_org_unit(
    org_unit_id: str, body: OrgUnitPatch, actor: ActorDep, rt: RuntimeDep
) -> OrgUnitOut:
    with rt.db.transaction(actor=actor) as tx:
        return _unit_out(actions.rename_org_unit(tx, org_unit_id=org_unit_id, name=body.name))


# --- users and grants ----------------------------------------------------------------------
@router.get("/users", permission="user:read", response_model=UserPage)
def list_users(
    actor: ActorDep,
    rt: RuntimeDep,
    limit: Limit = 50,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> UserPage:
    """Users in the caller's scope, by username; pass `next_after` back as `after`."""
    with rt.db.read() as conn:
        rows = queries.list_users(
            SqlIdentityStore(conn), actor, now=rt.clock.now(), limit=limit + 1, after=after
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return UserPage(
        items=[UserOut(**r) for r in rows], next_after=rows[-1]["username"] if more else None
    )


@router.post("/users", permission="user:manage", response_model=UserOut, status_code=201)
def create_user(body: UserIn, actor: ActorDep, rt: RuntimeDep) -> UserOut:
    """Create an account; the user must change the password at first sign-in."""
    with rt.db.transaction(actor=actor) as tx:
        user = actions.create_user(
            tx,
            rt.policy(),
            username=body.username,
            display_name=body.display_name,
            org_unit_id=body.org_unit_id,
            password=body.password,
        )
    return UserOut(**queries.user_view(user, [], now=rt.clock.now()))


@router.get("/users/{user_id}", permission="user:read", response_model=UserOut)
def get_user(user_id: str, actor: ActorDep, rt: RuntimeDep) -> UserOut:
    with rt.db.read() as conn:
        return UserOut(
            **queries.get_user(SqlIdentityStore(conn), actor, user_id, now=rt.clock.now())
        )


def _user_action(rt: RuntimeDep, actor: Actor, user_id: str, fn: Any, **kw: Any) -> UserOut:
    with rt.db.transaction(actor=actor) as tx:
        fn(tx, user_id=user_id, **kw)
    with rt.db.read() as conn:
        return UserOut(
            **queries.get_user(SqlIdentityStore(conn), system_actor(), user_id, now=rt.clock.now())
        )


@router.post("/users/{user_id}/disable", permission="user:manage", response_model=UserOut)
def disable_user(user_id: str, actor: ActorDep, rt: RuntimeDep) -> UserOut:
    """离职: disable the account; its sessions and API tokens end at once, and a logged-in
    agent leaves routing (offers go back in line; one handling a contact goes not-ready and
    is logged out when done)."""
    out = _user_action(rt, actor, user_id, actions.disable_user)
    # After the commit; the routing ticker sweeps too, so a node that does not route (or a
    # failure here) only delays this by a few seconds.
    with contextlib.suppress(HotlineError):
        rt.routing.retire_disabled()
    return out


@router.post("/users/{user_id}/enable", permission="user:manage", response_model=UserOut)
def enable_user(user_id: str, actor: ActorDep, rt: RuntimeDep) -> UserOut:
    return _user_action(rt, actor, user_id, actions.enable_user)


@router.post("/users/{user_id}/unlock", permission="user:manage", response_model=UserOut)
def unlock_user(user_id: str, actor: ActorDep, rt: RuntimeDep) -> UserOut:
    return _user_action(rt, actor, user_id, actions.unlock_user)


@router.post("/users/{user_id}/reset-totp", permission="user:manage", response_model=UserOut)
def reset_totp(user_id: str, actor: ActorDep, rt: RuntimeDep) -> UserOut:
    return _user_action(rt, actor, user_id, actions.reset_totp)


@router.post("/users/{user_id}/password", permission="user:manage", response_model=UserOut)
def reset_password(user_id: str, body: PasswordResetIn, actor: ActorDep, rt: RuntimeDep) -> UserOut:
    with rt.db.transaction(actor=actor) as tx:
        actions.reset_password(tx, rt.policy(), user_id=user_id, new_password=body.new_password)
    with rt.db.read() as conn:
        return UserOut(
            **queries.get_user(SqlIdentityStore(conn), system_actor(), user_id, now=rt.clock.now())
        )


@router.post(
    "/users/{user_id}/grants", permission="role:grant", response_model=GrantOut, status_code=201
)
def grant_role(user_id: str, body: GrantIn, actor: ActorDep, rt: RuntimeDep) -> GrantOut:
    """Give a role over an organisation subtree (separation of duties enforced)."""
    with rt.db.transaction(actor=actor) as tx:
        g = actions.grant_role(tx, user_id=user_id, role=body.role, org_unit_id=body.org_unit_id)
    return GrantOut(id=g.id, user_id=g.user_id, role=g.role, org_unit_id=g.org_unit_id)


@router.delete("/grants/{grant_id}", permission="role:grant", status_code=204)
def revoke_grant(grant_id: str, actor: ActorDep, rt: RuntimeDep) -> None:
    with rt.db.transaction(actor=actor) as tx:
        actions.revoke_grant(tx, grant_id=grant_id)


@router.get("/roles", permission=AUTHENTICATED, response_model=list[RoleInfo])
def list_roles() -> list[RoleInfo]:
    """The fixed roles and their permissions."""
    return [
        RoleInfo(name=r, name_zh=ROLE_NAMES_ZH[r], permissions=sorted(p))
        for r, p in sorted(ROLES.items())
    ]


@router.get("/permissions", permission=AUTHENTICATED, response_model=dict[str, str])
def list_permissions() -> dict[str, str]:
    return dict(sorted(PERMISSIONS.items()))


# --- security policy -----------------------------------------------------------------------
@router.get("/security-policy", permission="policy:read", response_model=PolicyOut)
def get_policy(rt: RuntimeDep) -> PolicyOut:
    return PolicyOut(**dataclasses.asdict(rt.policy()))


@router.patch("/security-policy", permission="policy:manage", response_model=PolicyOut)
def update_policy(body: PolicyPatch, actor: ActorDep, rt: RuntimeDep) -> PolicyOut:
    """security_admin only (separation of duties: not system_admin)."""
    changes = body.model_dump(exclude_none=True)
    with rt.db.transaction(actor=actor) as tx:
        policy: PasswordPolicy = actions.update_policy(tx, rt.policy(), changes)
    return PolicyOut(**dataclasses.asdict(policy))
