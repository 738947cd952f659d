"""Every change to identity state. Each function runs inside one unit of work (`tx`), checks the
actor's permission, writes an audit entry and emits events; the caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from hotline.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hotline.core.events import Event
from hotline.core.ids import new_id
from hotline.domains.identity import secrets as sec
from hotline.domains.identity.model import (
    ADMIN_TRIAD,
    ALLOWED_CHILDREN,
    DISPLAY_ROLE,
    ROLES,
    ApiToken,
    OrgUnit,
    OrgUnitKind,
    PasswordPolicy,
    RoleGrant,
    Session,
    User,
    UserStatus,
    check_password,
    check_scopes,
    check_separation_of_duties,
    check_username,
    is_locked,
    needs_mfa,
    next_lock,
    session_kind_for,
    session_lifetime,
)
from hotline.domains.identity.ports import IdentityTx
from hotline.domains.identity.queries import access_org_unit, access_user, user_view


def _user_event(kind: str, user: User, path: str) -> Event:
    return Event(
        type=f"user.{kind}",
        payload={"id": user.id, "username": user.username, "status": user.status.value},
        permission="user:read",
        org_unit_path=path,
        object_type="user",
        object_id=user.id,
    )


# --- organisation --------------------------------------------------------------------------
def create_org_unit(
    tx: IdentityTx, *, code: str, name: str, kind: OrgUnitKind, parent_id: str | None
) -> OrgUnit:
    """Add a unit to the tree: a group at the root, branches and centers below (R-C1)."""
    store = tx.identity
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise InvalidInput("code and name must not be empty", field="code")
    if parent_id is None:
        tx.actor.require_root("org:manage")
        if kind is not OrgUnitKind.group:
            raise InvalidInput("a root unit must be of kind 'group'", field="kind")
        parent_path = "/"
    else:
        parent = access_org_unit(tx.identity, tx.actor, parent_id, "org:manage")
        if kind not in ALLOWED_CHILDREN[parent.kind]:
            raise InvalidInput(
                f"a {kind.value} cannot be placed under a {parent.kind.value}",
                key="errors.org_kind_not_allowed",
                params={"kind": kind.value, "parent": parent.kind.value},
                field="kind",
            )
        parent_path = parent.path
    if store.org_unit_by_code(code) is not None:
        raise Conflict(f"an organisation unit with code {code!r} exists", field="code")
    unit_id = new_id()
    unit = OrgUnit(
        id=unit_id,
        parent_id=parent_id,
        kind=kind,
        code=code,
        name=name,
        path=f"{parent_path}{unit_id}/",
        active=True,
        created_at=tx.clock.now(),
    )
    store.insert_org_unit(unit)
    tx.audit(
        "org_unit.create",
        "org_unit",
        unit.id,
        org_unit_path=unit.path,
        after={"code": code, "name": name, "kind": kind.value, "parent_id": parent_id},
    )
    tx.emit(
        Event(
            type="org_unit.created",
            payload={"id": unit.id, "code": code, "name": name, "kind": kind.value},
            permission="org:read",
            org_unit_path=unit.path,
            object_type="org_unit",
            object_id=unit.id,
        )
    )
    return unit


def rename_org_unit(tx: IdentityTx, *, org_unit_id: str, name: str) -> OrgUnit:
    unit = access_org_unit(tx.identity, tx.actor, org_unit_id, "org:manage")
    name = name.strip()
    if not name:
        raise InvalidInput("name must not be empty", field="name")
    tx.identity.update_org_unit(unit.id, name=name)
    tx.audit(
        "org_unit.update",
        "org_unit",
        unit.id,
        org_unit_path=unit.path,
        before={"name": unit.name},
        after={"name": name},
    )
    return dataclasses.replace(unit, name=name)


# --- users ---------------------------------------------------------------------------------
def create_user(
    tx: IdentityTx,
    policy: PasswordPolicy,
    *,
    username: str,
    display_name: str,
    org_unit_id: str,
    password: str,
    must_change_password: bool = True,
) -> User:
    """Create an active account in a unit the actor manages; password checked by policy."""
    unit = access_org_unit(tx.identity, tx.actor, org_unit_id, "user:manage")
    username = check_username(username.strip().lower())
    display_name = display_name.strip()
    if not display_name:
        raise InvalidInput("display name must not be empty", field="display_name")
    check_password(password, policy, username=username)
    if tx.identity.user_by_username(username) is not None:
        raise Conflict(f"username {username!r} is taken", field="username")
    now = tx.clock.now()
    pw_hash = sec.hash_password(password)
    user = User(
        id=new_id(),
        username=username,
        display_name=display_name,
        org_unit_id=unit.id,
        status=UserStatus.active,
        password_hash=pw_hash,
        password_changed_at=now,
        must_change_password=must_change_password,
        failed_logins=0,
        locked_until=None,
        totp_enabled=False,
        totp_last_step=None,
        last_login_at=None,
        created_at=now,
        disabled_at=None,
    )
    tx.identity.insert_user(user)
    tx.identity.add_password_history(user.id, pw_hash, now)
    tx.audit(
        "user.create",
        "user",
        user.id,
        org_unit_path=unit.path,
        after={
            "username": username,
            "display_name": display_name,
            "org_unit_id": unit.id,
            "password": "set",
        },
        sensitive=("password",),
    )
    tx.emit(_user_event("created", user, unit.path))
    return user


def disable_user(tx: IdentityTx, *, user_id: str) -> User:
    """离职: disable the account and end its sessions and API tokens at once (R-E1)."""
    user, path = access_user(tx.identity, tx.actor, user_id, "user:manage")
    if user.id == tx.actor.user_id:
        raise Conflict("you cannot disable your own account")
    if user.status is UserStatus.disabled:
        return user
    now = tx.clock.now()
    tx.identity.update_user(user.id, status=UserStatus.disabled.value, disabled_at=now)
    sessions = tx.identity.end_sessions_of(user.id, now, "user_disabled")
    tokens = tx.identity.revoke_tokens_of(user.id, now)
    tx.audit(
        "user.disable",
        "user",
        user.id,
        org_unit_path=path,
        before={"status": user.status.value},
        after={"status": UserStatus.disabled.value},
        details={"sessions_ended": sessions, "tokens_revoked": tokens},
    )
    user = dataclasses.replace(user, status=UserStatus.disabled, disabled_at=now)
    tx.emit(_user_event("disabled", user, path))
    return user


def enable_user(tx: IdentityTx, *, user_id: str) -> User:
    user, path = access_user(tx.identity, tx.actor, user_id, "user:manage")
    if user.status is UserStatus.active:
        return user
    tx.identity.update_user(
        user.id,
        status=UserStatus.active.value,
        disabled_at=None,
        failed_logins=0,
        locked_until=None,
    )
    tx.audit(
        "user.enable",
        "user",
        user.id,
        org_unit_path=path,
        before={"status": user.status.value},
        after={"status": "active"},
    )
    user = dataclasses.replace(user, status=UserStatus.active, disabled_at=None)
    tx.emit(_user_event("enabled", user, path))
    return user


def unlock_user(tx: IdentityTx, *, user_id: str) -> User:
    user, path = access_user(tx.identity, tx.actor, user_id, "user:manage")
    tx.identity.update_user(user.id, failed_logins=0, locked_until=None)
    tx.audit(
        "user.unlock",
        "user",
        user.id,
        org_unit_path=path,
        before={"locked_until": user.locked_until},
        after={"locked_until": None},
    )
    return dataclasses.replace(user, failed_logins=0, locked_until=None)


def _set_password(
    tx: IdentityTx, policy: PasswordPolicy, user: User, password: str, *, must_change: bool
) -> None:
    check_password(password, policy, username=user.username)
    for old in tx.identity.recent_password_hashes(user.id, policy.history):
        if sec.verify_password(old, password):
            raise InvalidInput(
                f"password was used recently; choose one not among the last {policy.history}",
                key="errors.password_reused",
                params={"history": policy.history},
                field="password",
            )
    now = tx.clock.now()
    pw_hash = sec.hash_password(password)
    tx.identity.update_user(
        user.id,
        password_hash=pw_hash,
        password_changed_at=now,
        must_change_password=must_change,
    )
    tx.identity.add_password_history(user.id, pw_hash, now)
    if not user.totp_enabled:
        # A pending TOTP secret is shown again until confirmed (begin_totp_enrollment); whoever
        # knew the old password may have read it, so a new password starts enrolment afresh.
        tx.identity.set_totp_secret(user.id, None)


def change_own_password(
    tx: IdentityTx, policy: PasswordPolicy, *, current_password: str, new_password: str
) -> None:
    """A user changes their own password (needs the current one; no reuse of the last N)."""
    user = _self(tx)
    if not sec.verify_password(user.password_hash, current_password):
        raise InvalidInput(
            "current password is wrong", key="errors.password_wrong", field="current_password"
        )
    _set_password(tx, policy, user, new_password, must_change=False)
    tx.audit("user.password_change", "user", user.id, details={"by": "self"})


def reset_password(
    tx: IdentityTx, policy: PasswordPolicy, *, user_id: str, new_password: str
) -> None:
    """An administrator sets a temporary password; the user must change it at next login."""
    user, path = access_user(tx.identity, tx.actor, user_id, "user:manage")
    _refuse_admin_takeover(tx, user)
    _set_password(tx, policy, user, new_password, must_change=True)
    now = tx.clock.now()
    tx.identity.end_sessions_of(user.id, now, "password_reset")
    tx.identity.update_user(user.id, failed_logins=0, locked_until=None)
    tx.audit("user.password_reset", "user", user.id, org_unit_path=path)


# --- grants --------------------------------------------------------------------------------
def grant_role(tx: IdentityTx, *, user_id: str, role: str, org_unit_id: str) -> RoleGrant:
    """Give a role over a subtree; refused where it breaks separation of duties."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}", key="errors.unknown_role", field="role")
    unit = access_org_unit(tx.identity, tx.actor, org_unit_id, "role:grant")
    user, _ = access_user(tx.identity, tx.actor, user_id, "role:grant")
    if user.id == tx.actor.user_id:
        raise PermissionDenied("you cannot grant roles to yourself", key="errors.self_grant")
    existing = tx.identity.grants_of(user.id)
    if any(g.role == role and g.org_unit_id == unit.id for g in existing):
        raise Conflict(f"{user.username} already holds {role} there")
    check_separation_of_duties({g.role for g in existing} | {role})
    grant = RoleGrant(
        id=new_id(),
        user_id=user.id,
        role=role,
        org_unit_id=unit.id,
        org_unit_path=unit.path,
        granted_by=tx.actor.username,
        created_at=tx.clock.now(),
    )
    tx.identity.insert_grant(grant)
    tx.audit(
        "role.grant",
        "user",
        user.id,
        org_unit_path=unit.path,
        details={"role": role, "org_unit_id": unit.id, "grant_id": grant.id},
    )
    tx.emit(
        Event(
            type="role.granted",
            payload={"user_id": user.id, "role": role, "org_unit_id": unit.id},
            permission="role:read",
            org_unit_path=unit.path,
            object_type="user",
            object_id=user.id,
        )
    )
    return grant


def revoke_grant(tx: IdentityTx, *, grant_id: str) -> None:
    grant = tx.identity.grant(grant_id)
    if grant is None or not tx.actor.can("role:grant", grant.org_unit_path):
        raise NotFound("no such grant")
    if grant.user_id == tx.actor.user_id:
        raise PermissionDenied("you cannot revoke your own roles", key="errors.self_grant")
    tx.identity.delete_grant(grant.id)
    details: dict[str, Any] = {
        "role": grant.role,
        "org_unit_id": grant.org_unit_id,
        "grant_id": grant.id,
    }
    remaining = {g.role for g in tx.identity.grants_of(grant.user_id)}
    if grant.role == DISPLAY_ROLE and DISPLAY_ROLE not in remaining:
        # No longer a display account: its wall screens' sessions (no idle timeout) end now.
        details["sessions_ended"] = tx.identity.end_sessions_of(
            grant.user_id, tx.clock.now(), "role_revoked"
        )
    tx.audit(
        "role.revoke",
        "user",
        grant.user_id,
        org_unit_path=grant.org_unit_path,
        details=details,
    )
    tx.emit(
        Event(
            type="role.revoked",
            payload={"user_id": grant.user_id, "role": grant.role},
            permission="role:read",
            org_unit_path=grant.org_unit_path,
            object_type="user",
            object_id=grant.user_id,
        )
    )


# --- login, sessions, MFA ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LoginResult:
    """Failures are results, not exceptions: the failed attempt must still be committed."""

    ok: bool
    error: str | None = None  # i18n code: bad_credentials, locked, mfa_required, mfa_invalid
    token: str | None = None
    session: Session | None = None
    user: User | None = None
    mfa_enrollment_required: bool = False


def login(
    tx: IdentityTx,
    policy: PasswordPolicy,
    *,
    username: str,
    password: str,
    totp_code: str | None,
    mfa_roles: tuple[str, ...],
    user_agent: str | None = None,
) -> LoginResult:
    """Check credentials (and TOTP where required), count failures, lock after N (R-E5)."""
    now = tx.clock.now()
    # Locked until commit: concurrent attempts must not lose failure counts or replay a TOTP step.
    user = tx.identity.user_by_username(username.strip().lower(), for_update=True)
    if user is None or user.status is not UserStatus.active:
        sec.verify_password(None, password)
        tx.audit(
            "auth.login_failed",
            "user",
            user.id if user else None,
            details={"username": username[:64], "reason": "unknown_or_disabled"},
        )
        return LoginResult(ok=False, error="bad_credentials")
    if is_locked(user.locked_until, now):
        tx.audit("auth.login_failed", "user", user.id, details={"reason": "locked"})
        return LoginResult(ok=False, error="locked")
    if not sec.verify_password(user.password_hash, password):
        failed = user.failed_logins + 1
        lock = next_lock(failed, policy, now)
        tx.identity.update_user(user.id, failed_logins=0 if lock else failed, locked_until=lock)
        tx.audit(
            "auth.login_failed",
            "user",
            user.id,
            details={"reason": "bad_password", "failed_logins": failed},
        )
        if lock:
            tx.audit("user.locked", "user", user.id, details={"until": lock.isoformat()})
            return LoginResult(ok=False, error="locked")
        return LoginResult(ok=False, error="bad_credentials")
    roles = {g.role for g in tx.identity.grants_of(user.id)}
    mfa_required = needs_mfa(roles, mfa_roles) or user.totp_enabled
    mfa_passed = False
    if user.totp_enabled:
        if not totp_code:
            return LoginResult(ok=False, error="mfa_required")
        secret = tx.identity.totp_secret(user.id)
        step = (
            sec.totp_match(
                tx.decrypt("totp", secret), totp_code, now.timestamp(), user.totp_last_step
            )
            if secret
            else None
        )
        if step is None:
            failed = user.failed_logins + 1
            lock = next_lock(failed, policy, now)
            tx.identity.update_user(user.id, failed_logins=0 if lock else failed, locked_until=lock)
            tx.audit("auth.login_failed", "user", user.id, details={"reason": "bad_totp"})
            if lock:
                tx.audit("user.locked", "user", user.id, details={"until": lock.isoformat()})
                return LoginResult(ok=False, error="locked")
            return LoginResult(ok=False, error="mfa_invalid")
        tx.identity.update_user(user.id, totp_last_step=step)
        mfa_passed = True
    token = sec.new_token("hls")
    # A display account (only the wallboard role) gets a display session: no idle timeout.
    kind = session_kind_for(roles)
    session = Session(
        id=new_id(),
        user_id=user.id,
        mfa_passed=mfa_passed or not mfa_required,
        created_at=now,
        last_seen_at=now,
        expires_at=now + session_lifetime(kind, policy),
        ended_at=None,
        ip=tx.actor.ip,
        kind=kind,
    )
    tx.identity.insert_session(session, sec.token_hash(token), user_agent)
    tx.identity.update_user(user.id, failed_logins=0, locked_until=None, last_login_at=now)
    tx.audit(
        "auth.login",
        "user",
        user.id,
        details={"session_id": session.id, "mfa": mfa_passed, "kind": kind.value},
    )
    return LoginResult(
        ok=True,
        token=token,
        session=session,
        user=user,
        mfa_enrollment_required=mfa_required and not user.totp_enabled,
    )


def logout(tx: IdentityTx, *, session_id: str) -> None:
    tx.identity.end_session(session_id, tx.clock.now(), "logout")
    tx.audit("auth.logout", "session", session_id)


def begin_totp_enrollment(tx: IdentityTx) -> str:
    """The caller's pending TOTP secret as an otpauth:// URI, created on the first call.

    A pending secret is shown again rather than replaced: someone who scanned the code and then
    reloaded the page (or whose first request was cut off) keeps a working authenticator entry.
    A new password (changed or reset) and an administrator's TOTP reset drop it.
    """
    user = _self(tx)
    if user.totp_enabled:
        raise Conflict("two-factor authentication is already on", key="errors.totp_enabled")
    pending = tx.identity.totp_secret(user.id)
    if pending is not None:
        secret = tx.decrypt("totp", pending)
    else:
        secret = sec.new_totp_secret()
        tx.identity.set_totp_secret(user.id, tx.encrypt("totp", secret))
    tx.audit("user.totp_begin", "user", user.id, details={"again": pending is not None})
    return sec.totp_uri(secret, user.username)


def confirm_totp_enrollment(tx: IdentityTx, *, code: str) -> None:
    """Turn TOTP on once the user proves their authenticator shows the right code."""
    user = _self(tx)
    secret = tx.identity.totp_secret(user.id)
    if user.totp_enabled or secret is None:
        raise Conflict("no pending two-factor enrollment; start one first")
    step = sec.totp_match(tx.decrypt("totp", secret), code, tx.clock.now().timestamp(), None)
    if step is None:
        raise InvalidInput("the code does not match", key="errors.totp_invalid", field="code")
    tx.identity.update_user(user.id, totp_enabled=True, totp_last_step=step)
    if tx.actor.session_id:
        tx.identity.update_session_mfa(tx.actor.session_id)
    tx.audit("user.totp_enable", "user", user.id)


def reset_totp(tx: IdentityTx, *, user_id: str) -> None:
    """An administrator clears a user's lost authenticator; they enroll again at next login."""
    user, path = access_user(tx.identity, tx.actor, user_id, "user:manage")
    _refuse_admin_takeover(tx, user)
    tx.identity.update_user(user.id, totp_enabled=False, totp_last_step=None)
    tx.identity.set_totp_secret(user.id, None)
    tx.identity.end_sessions_of(user.id, tx.clock.now(), "totp_reset")
    tx.audit("user.totp_reset", "user", user.id, org_unit_path=path)


# --- API tokens ----------------------------------------------------------------------------
def create_api_token(
    tx: IdentityTx, *, name: str, scopes: list[str], expires_at: dt.datetime | None
) -> tuple[ApiToken, str]:
    """A token for integrations, limited to `scopes` (which the user must hold). Shown once."""
    tx.actor.require("token:manage")
    user = _self(tx)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("token name must be 1–100 characters", field="name")
    clean = check_scopes(scopes)
    missing = sorted(set(clean) - tx.actor.permissions)
    if missing:
        raise PermissionDenied(
            f"you cannot give a token permissions you do not hold: {', '.join(missing)}",
            key="errors.scope_not_held",
            params={"scopes": missing},
        )
    now = tx.clock.now()
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expiry must be in the future", field="expires_at")
    secret = sec.new_token("hlt")
    token = ApiToken(
        id=new_id(),
        user_id=user.id,
        name=name,
        prefix=secret[:8],
        scopes=clean,
        created_at=now,
        expires_at=expires_at,
        revoked_at=None,
        last_used_at=None,
    )
    tx.identity.insert_token(token, sec.token_hash(secret))
    tx.audit("token.create", "api_token", token.id, details={"name": name, "scopes": list(clean)})
    return token, secret


def revoke_api_token(tx: IdentityTx, *, token_id: str) -> None:
    token = tx.identity.token(token_id)
    if token is None:
        raise NotFound("no such token")
    if token.user_id != tx.actor.user_id:
        # Someone else's token: only an administrator over that user's unit may revoke it.
        try:
            access_user(tx.identity, tx.actor, token.user_id, "user:manage")
        except (NotFound, PermissionDenied):
            raise NotFound("no such token") from None
    if token.revoked_at is None:
        tx.identity.revoke_token(token.id, tx.clock.now())
        tx.audit("token.revoke", "api_token", token.id, details={"user_id": token.user_id})


# --- security policy -----------------------------------------------------------------------
POLICY_FIELDS = {f.name for f in dataclasses.fields(PasswordPolicy)}


def update_policy(
    tx: IdentityTx, current: PasswordPolicy, changes: dict[str, Any]
) -> PasswordPolicy:
    """security_admin changes the password/lockout/session policy (not system_admin)."""
    tx.actor.require_root("policy:manage")
    unknown = sorted(set(changes) - POLICY_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown policy field(s): {', '.join(unknown)}")
    new = dataclasses.replace(current, **changes)
    if new.min_length < 8 or not 1 <= new.min_classes <= 4 or new.lockout_threshold < 1:
        raise InvalidInput(
            "policy too weak: at least 8 characters, 1–4 classes, lockout after ≥ 1 failure"
        )
    if (
        new.session_idle_minutes < 1
        or new.lockout_minutes < 1
        or new.history < 0
        or new.display_session_hours < 1
    ):
        raise InvalidInput("policy values must be positive")
    now = tx.clock.now()
    for key, value in sorted(changes.items()):
        tx.identity.set_policy(key, value, now, tx.actor.username)
    tx.audit(
        "policy.update",
        "policy",
        None,
        before={k: getattr(current, k) for k in changes},
        after=changes,
    )
    return new


def _refuse_admin_takeover(tx: IdentityTx, user: User) -> None:
    """A system admin who could reset an auditor's or security admin's credentials could sign
    in as them and gain the other duty. Resets of a user holding an administrator role the
    actor does not hold need the server's operator
    (`hotline user reset-password|reset-totp`, audited as the CLI)."""
    if tx.actor.is_system or user.id == tx.actor.user_id:
        return
    held = ({g.role for g in tx.identity.grants_of(user.id)} & ADMIN_TRIAD) - tx.actor.roles
    if held:
        raise PermissionDenied(
            f"credentials of a {sorted(held)[0]} can only be reset on the server with "
            "`hotline user reset-password` / `reset-totp` (separation of duties)",
            key="errors.admin_credentials_reset",
            params={"role": sorted(held)[0]},
        )


def _self(tx: IdentityTx) -> User:
    if tx.actor.user_id is None:
        raise PermissionDenied("this needs a signed-in user")
    user = tx.identity.user(tx.actor.user_id)
    if user is None or user.status is not UserStatus.active:
        raise PermissionDenied("account is not active")
    return user


__all__ = [
    "LoginResult",
    "begin_totp_enrollment",
    "change_own_password",
    "confirm_totp_enrollment",
    "create_api_token",
    "create_org_unit",
    "create_user",
    "disable_user",
    "enable_user",
    "grant_role",
    "login",
    "logout",
    "rename_org_unit",
    "reset_password",
    "reset_totp",
    "revoke_api_token",
    "revoke_grant",
    "unlock_user",
    "update_policy",
    "user_view",
]
