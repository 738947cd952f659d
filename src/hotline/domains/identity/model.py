"""Roles, permissions, and the rules of identity (R-C1, R-E1, R-E5). Pure: no I/O.

Permissions are `resource:action` strings. A role is a fixed set of them; a grant gives a role
to a user over one organisation subtree. Separation of duties (等保 level 3 三员分立):
system_admin runs accounts and configuration but never reads audit or sets security policy;
security_admin manages grants and policy but no business data; auditor only reads audit.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import string
from dataclasses import dataclass

from hotline.core.errors import InvalidInput


class OrgUnitKind(enum.StrEnum):
    group = "group"  # 集团
    branch = "branch"  # 分公司
    dispatch_center = "dispatch_center"  # 调度中心
    department = "department"  # 部门
    team = "team"  # 班组


# Which kinds may sit under which: the group at the top, teams at the leaves.
ALLOWED_CHILDREN: dict[OrgUnitKind, frozenset[OrgUnitKind]] = {
    OrgUnitKind.group: frozenset(
        {OrgUnitKind.branch, OrgUnitKind.department, OrgUnitKind.dispatch_center}
    ),
    OrgUnitKind.branch: frozenset(
        {OrgUnitKind.dispatch_center, OrgUnitKind.department, OrgUnitKind.team}
    ),
    OrgUnitKind.dispatch_center: frozenset({OrgUnitKind.team, OrgUnitKind.department}),
    OrgUnitKind.department: frozenset({OrgUnitKind.team, OrgUnitKind.department}),
    OrgUnitKind.team: frozenset(),
}


class UserStatus(enum.StrEnum):
    active = "active"
    disabled = "disabled"


# Every permission hotline knows, with what it allows. New domains add theirs here.
PERMISSIONS: dict[str, str] = {
    "org:read": "see organisation units",
    "org:manage": "create and change organisation units",
    "user:read": "see user accounts",
    "user:manage": "create, change, disable user accounts, reset passwords",
    "role:read": "see role grants",
    "role:grant": "grant and revoke roles",
    "policy:read": "see the security policy",
    "policy:manage": "change the security policy",
    "audit:read": "read the audit log",
    "customer:read": "see customer profiles (masked)",
    "customer:read_pii": "see customers' phone, ID and address unmasked",
    "customer:write": "create and change customer profiles",
    "contact:handle": "handle contacts offered to oneself",
    "contact:read": "see contacts and their history",
    "contact:supervise": "move contacts, change priorities",
    "contact:route": "report arriving contacts and what callers do (channel gateways, media)",
    "agent:self": "change one's own agent state",
    "agent:supervise": "see and change agents' states, approve logouts",
    "queue:read": "see queues and live statistics",
    "queue:manage": "configure queues, skills and routing",
    "stats:read": "see live statistics and reports",
    "job:read": "see background jobs",
    "system:manage": "operate the system: keys, health",
    "token:manage": "create and revoke one's own API tokens",
}

_AGENT = {
    "contact:handle",
    "agent:self",
    "customer:read",
    "customer:write",
    "queue:read",
    "org:read",
    "token:manage",
}
_TEAM_LEAD = _AGENT | {
    "contact:read",
    "contact:supervise",
    "agent:supervise",
    "stats:read",
    "user:read",
}

ROLES: dict[str, frozenset[str]] = {
    "agent": frozenset(_AGENT),
    "team_lead": frozenset(_TEAM_LEAD),
    "qa": frozenset({"contact:read", "customer:read", "queue:read", "stats:read", "org:read"}),
    "duty_manager": frozenset(_TEAM_LEAD | {"customer:read_pii"}),
    "center_manager": frozenset(_TEAM_LEAD | {"customer:read_pii", "queue:manage", "job:read"}),
    "tech_support": frozenset({"job:read", "org:read", "queue:read", "stats:read"}),
    "security_admin": frozenset(
        {"role:read", "role:grant", "policy:read", "policy:manage", "user:read", "org:read"}
    ),
    "auditor": frozenset({"audit:read"}),
    # A service account of a chat/email/SMS gateway (uses an API token): registers contacts.
    "channel_gateway": frozenset({"contact:route", "token:manage"}),
    # The account of a wall screen (ADR 0009): what /wallboard reads (live rows, today's
    # intervals and the events that update them), nothing it could change, no customer data.
    "wallboard_display": frozenset({"stats:read"}),
    "system_admin": frozenset(
        {
            "org:read",
            "org:manage",
            "user:read",
            "user:manage",
            "role:read",
            "policy:read",
            "queue:read",
            "queue:manage",
            "job:read",
            "system:manage",
            "token:manage",
        }
    ),
}

ROLE_NAMES_ZH: dict[str, str] = {
    "agent": "坐席",
    "team_lead": "班长席",
    "qa": "质检席",
    "duty_manager": "值班经理",
    "center_manager": "中心经理",
    "tech_support": "技术支持",
    "security_admin": "安全管理员",
    "auditor": "审计员",
    "system_admin": "系统管理员",
    "channel_gateway": "渠道接入",
    "wallboard_display": "大屏账号",
}

# 三员分立: one person may hold at most one of these.
ADMIN_TRIAD = frozenset({"system_admin", "security_admin", "auditor"})
BUSINESS_DATA = frozenset(
    p for p in PERMISSIONS if p.split(":")[0] in {"customer", "contact", "agent", "stats"}
)
# A display account holds this role and nothing else; its sessions have no idle timeout.
DISPLAY_ROLE = "wallboard_display"


def check_separation_of_duties(roles: set[str]) -> None:
    """Refuse a set of roles that one user must not hold together.

    The display role goes with no other: a display account's sessions escape the idle
    timeout, so a person with real powers must never get one (ADR 0009).
    """
    if DISPLAY_ROLE in roles and len(roles) > 1:
        other = sorted(roles - {DISPLAY_ROLE})[0]
        raise InvalidInput(
            f"a {DISPLAY_ROLE} account holds no other role (it has no idle timeout): "
            f"{DISPLAY_ROLE} and {other} cannot go together",
            key="errors.display_role_exclusive",
            params={"role": other},
            field="role",
        )
    triad = sorted(roles & ADMIN_TRIAD)
    if len(triad) > 1:
        raise InvalidInput(
            f"separation of duties: one user cannot hold both {triad[0]} and {triad[1]}",
            key="errors.separation_of_duties",
            params={"roles": triad},
        )
    if roles & ADMIN_TRIAD and roles - ADMIN_TRIAD:
        other = sorted(roles - ADMIN_TRIAD)[0]
        admin = sorted(roles & ADMIN_TRIAD)[0]
        raise InvalidInput(
            f"separation of duties: {admin} cannot also hold the business role {other}",
            key="errors.separation_of_duties",
            params={"roles": [admin, other]},
        )


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = 12
    min_classes: int = 3
    history: int = 5
    lockout_threshold: int = 5
    lockout_minutes: int = 30
    session_idle_minutes: int = 15
    session_max_hours: int = 12
    # Absolute lifetime of a display session (wall screens: no idle timeout, ADR 0009).
    display_session_hours: int = 168


def character_classes(password: str) -> int:
    classes = 0
    classes += any(c.islower() for c in password)
    classes += any(c.isupper() for c in password)
    classes += any(c.isdigit() for c in password)
    classes += any(not c.isalnum() for c in password)
    return classes


_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "username must be 2–64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter",
            key="errors.username_invalid",
            field="username",
        )
    return username


def check_password(password: str, policy: PasswordPolicy, *, username: str) -> None:
    """Raise InvalidInput naming the rule a password breaks (R-E5: no weak passwords)."""
    if len(password) < policy.min_length:
        raise InvalidInput(
            f"password must have at least {policy.min_length} characters",
            key="errors.password_too_short",
            params={"min": policy.min_length},
            field="password",
        )
    if len(password) > 256:
        raise InvalidInput("password is longer than 256 characters", field="password")
    if character_classes(password) < policy.min_classes:
        raise InvalidInput(
            f"password must mix at least {policy.min_classes} of: lower-case, upper-case, "
            "digits, symbols",
            key="errors.password_classes",
            params={"min": policy.min_classes},
            field="password",
        )
    if username.lower() in password.lower():
        raise InvalidInput(
            "password must not contain the username",
            key="errors.password_contains_username",
            field="password",
        )
    if len(set(password)) <= 3 or password.strip(string.digits) == "":
        raise InvalidInput(
            "password is too simple", key="errors.password_simple", field="password"
        )


def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
    return locked_until is not None and locked_until > now


def next_lock(failed_logins: int, policy: PasswordPolicy, now: dt.datetime) -> dt.datetime | None:
    """After the Nth consecutive failure the account locks for the policy's minutes."""
    if failed_logins >= policy.lockout_threshold:
        return now + dt.timedelta(minutes=policy.lockout_minutes)
    return None


def needs_mfa(roles: set[str], mfa_roles: tuple[str, ...]) -> bool:
    return bool(roles & set(mfa_roles))


@dataclass(frozen=True, slots=True)
class OrgUnit:
    id: str
    parent_id: str | None
    kind: OrgUnitKind
    code: str
    name: str
    path: str
    active: bool
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    display_name: str
    org_unit_id: str
    status: UserStatus
    password_hash: str | None
    password_changed_at: dt.datetime | None
    must_change_password: bool
    failed_logins: int
    locked_until: dt.datetime | None
    totp_enabled: bool
    totp_last_step: int | None
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    disabled_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class RoleGrant:
    id: str
    user_id: str
    role: str
    org_unit_id: str
    org_unit_path: str
    granted_by: str
    created_at: dt.datetime


class SessionKind(enum.StrEnum):
    interactive = "interactive"  # a person: idle timeout and the normal lifetime
    display = "display"  # a wall screen's display account: no idle timeout (ADR 0009)


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user_id: str
    mfa_passed: bool
    created_at: dt.datetime
    last_seen_at: dt.datetime
    expires_at: dt.datetime
    ended_at: dt.datetime | None
    ip: str | None
    kind: SessionKind = SessionKind.interactive


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    user_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def is_display_account(roles: set[str]) -> bool:
    """Holds the display role and nothing else (the grant rules keep it that way)."""
    return roles == {DISPLAY_ROLE}


def session_kind_for(roles: set[str]) -> SessionKind:
    """The kind of session a sign-in with these roles gets."""
    return SessionKind.display if is_display_account(roles) else SessionKind.interactive


def session_lifetime(kind: SessionKind, policy: PasswordPolicy) -> dt.timedelta:
    """Absolute lifetime of a new session of this kind."""
    if kind is SessionKind.display:
        return dt.timedelta(hours=policy.display_session_hours)
    return dt.timedelta(hours=policy.session_max_hours)


def session_expired(
    session: Session, policy: PasswordPolicy, now: dt.datetime, roles: set[str] | None = None
) -> bool:
    """Ended, past its absolute lifetime, or idle longer than the policy allows.

    A display session has no idle limit, but only while its holder is still a display account
    (`roles`, the holder's roles now): given other roles, it ends (ADR 0009).
    """
    if session.ended_at is not None or session.expires_at <= now:
        return True
    if session.kind is SessionKind.display:
        return roles is None or not is_display_account(roles)
    return now - session.last_seen_at > dt.timedelta(minutes=policy.session_idle_minutes)


def check_scopes(scopes: list[str]) -> tuple[str, ...]:
    unknown = sorted(set(scopes) - set(PERMISSIONS))
    if unknown:
        raise InvalidInput(
            f"unknown permission scope(s): {', '.join(unknown)}",
            key="errors.unknown_scopes",
            params={"scopes": unknown},
            field="scopes",
        )
    if not scopes:
        raise InvalidInput("an API token needs at least one scope", field="scopes")
    return tuple(sorted(set(scopes)))
