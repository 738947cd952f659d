"""SQL implementation of `hotline.domains.identity.ports.IdentityStore`."""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from hotline.domains.identity.model import (
    ApiToken,
    OrgUnit,
    OrgUnitKind,
    RoleGrant,
    Session,
    SessionKind,
    User,
    UserStatus,
)
from hotline.domains.identity.ports import Holder
from hotline.infra.db.schema import (
    api_tokens,
    org_units,
    password_history,
    role_grants,
    security_policy,
    sessions,
    users,
)
from hotline.infra.db.scope import in_scopes

# --- credential memory --------------------------------------------------------------------------
# Authentication reads a credential's rows (token or session → user → unit → grants) on every
# request. `CredentialMemory` keeps what was read for a short while, under two rules:
#  1. Exact for this process: every identity write through `SqlIdentityStore` (disable, grants,
#     org units, policy, ended sessions, revoked tokens …; not the idle-timer touches) empties it
#     at once and again when its connection goes back to the pool (after COMMIT or ROLLBACK), and
#     a read only fills it if no such write happened since the read began. So a change made
#     through this process is seen by the very next request.
#  2. Bounded for other processes (another node on PostgreSQL, the `hotline` command next to a
#     running server): an entry is used for at most `CREDENTIAL_TTL_SECONDS` after its read.
# Time rules (expiry, idle and absolute session limits) are decided afresh on every request
# from the remembered rows, and unknown credentials are never remembered.
CREDENTIAL_TTL_SECONDS = 1.0
_CHANGED = "hotline_identity_changed"  # flag in the pooled connection's `info`
# User fields that sign-in keeps up to date and authentication of an issued credential does
# not read (it reads status, must_change_password, the unit and the grants).
_SIGN_IN_BOOKKEEPING = frozenset(
    {"failed_logins", "locked_until", "last_login_at", "totp_last_step"}
)


class CredentialMemory:
    """Recently read credential rows by token hash (thread-safe; see the rules above)."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float = CREDENTIAL_TTL_SECONDS) -> None:
        self._lock = threading.Lock()
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Any]] = {}
        self.generation = 0

    def changed(self) -> None:
        """An identity write: forget everything, and refuse reads that began before it."""
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] >= self._ttl:
            return None
        return entry[1]

    def put(self, key: str, value: Any, *, generation: int, read_at: float) -> None:
        """Remember `value`, read from `read_at` on, unless the generation moved meanwhile."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (read_at, value)

    def forget(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


_MEMORIES: weakref.WeakKeyDictionary[sa.Engine, CredentialMemory] = weakref.WeakKeyDictionary()
_MEMORIES_LOCK = threading.Lock()


def identity_transaction_ended(conn: sa.Connection) -> None:
    """Call when a transaction on `conn` has committed or rolled back: if it wrote identity
    rows, forget what was read meanwhile (before the after-commit work runs, so no other
    request uses a credential the commit just revoked). The pool check-in does it too, as a
    backstop for connections used outside `Database.transaction`."""
    if conn.info.pop(_CHANGED, False):
        credential_memory(conn.engine).changed()


def credential_memory(engine: sa.Engine) -> CredentialMemory:
    """This process's `CredentialMemory` for one database engine."""
    memory = _MEMORIES.get(engine)
    if memory is not None:
        return memory
    with _MEMORIES_LOCK:
        memory = _MEMORIES.get(engine)
        if memory is None:
            memory = _MEMORIES[engine] = CredentialMemory()

            @sa.event.listens_for(engine, "checkin")
            def _after_transaction(_dbapi: Any, record: Any) -> None:
                # The write's transaction has ended (committed or rolled back): forget again,
                # so nothing read while it was open stays.
                if record is not None and record.info.pop(_CHANGED, False):
                    memory.changed()

        return memory


def _unit(row: sa.Row[Any]) -> OrgUnit:
    return OrgUnit(
        id=row.id,
        parent_id=row.parent_id,
        kind=OrgUnitKind(row.kind),
        code=row.code,
        name=row.name,
        path=row.path,
        active=row.active,
        created_at=row.created_at,
    )


_USER_COLS = [c for c in users.c if c.name != "totp_secret"]


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        org_unit_id=row.org_unit_id,
        status=UserStatus(row.status),
        password_hash=row.password_hash,
        password_changed_at=row.password_changed_at,
        must_change_password=row.must_change_password,
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        totp_enabled=row.totp_enabled,
        totp_last_step=row.totp_last_step,
        last_login_at=row.last_login_at,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def _session(row: Any) -> Session:
    return Session(
        id=row.id,
        user_id=row.user_id,
        mfa_passed=row.mfa_passed,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        ip=row.ip,
        kind=SessionKind(row.kind),
    )


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


_GRANT_SELECT = sa.select(role_grants, org_units.c.path.label("org_unit_path")).join(
    org_units, org_units.c.id == role_grants.c.org_unit_id
)


# Statements of the per-request authentication, built once (cache key and compiled form reused).
_ORG_UNIT_BY_ID = sa.select(org_units).where(org_units.c.id == sa.bindparam("id"))
_USER_BY_ID = sa.select(*_USER_COLS).where(users.c.id == sa.bindparam("id"))
_GRANTS_OF = _GRANT_SELECT.where(role_grants.c.user_id == sa.bindparam("user_id")).order_by(
    role_grants.c.role, role_grants.c.id
)
_SESSION_BY_HASH = sa.select(sessions).where(sessions.c.token_hash == sa.bindparam("hash"))
_TOKEN_BY_HASH = sa.select(api_tokens).where(api_tokens.c.token_hash == sa.bindparam("hash"))


class _Part:
    """One table's columns of a joined row, read without their label prefix."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: sa.Row[Any], prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)


def _holder_select(credential: sa.Table) -> sa.Select[Any]:
    """Credential → user → home unit → grants (one row per grant), by token hash."""
    home = org_units.alias("home_unit")
    grant_unit = org_units.alias("grant_unit")
    return (
        sa.select(
            *(c.label("c_" + c.name) for c in credential.c),
            *(c.label("u_" + c.name) for c in _USER_COLS),
            home.c.path.label("home_path"),
            *(c.label("g_" + c.name) for c in role_grants.c),
            grant_unit.c.path.label("g_org_unit_path"),
        )
        .select_from(credential)
        .outerjoin(users, users.c.id == credential.c.user_id)
        .outerjoin(home, home.c.id == users.c.org_unit_id)
        .outerjoin(role_grants, role_grants.c.user_id == users.c.id)
        .outerjoin(grant_unit, grant_unit.c.id == role_grants.c.org_unit_id)
        .where(credential.c.token_hash == sa.bindparam("hash"))
        .order_by(role_grants.c.role, role_grants.c.id)
    )


_TOKEN_HOLDER = _holder_select(api_tokens)
_SESSION_HOLDER = _holder_select(sessions)


def _holder(rows: Sequence[sa.Row[Any]]) -> Holder | None:
    first = rows[0]
    if first.u_id is None:
        return None
    grants = tuple(
        _grant(_Part(r, "g_")) for r in rows if r.g_id is not None and r.g_org_unit_path is not None
    )
    return Holder(_user(_Part(first, "u_")), first.home_path, grants)


def _grant(row: Any) -> RoleGrant:
    return RoleGrant(
        id=row.id,
        user_id=row.user_id,
        role=row.role,
        org_unit_id=row.org_unit_id,
        org_unit_path=row.org_unit_path,
        granted_by=row.granted_by,
        created_at=row.created_at,
    )


class SqlIdentityStore:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _changed(self) -> None:
        """Before an identity write that can change who may do what (see `CredentialMemory`)."""
        memory = credential_memory(self.conn.engine)
        self.conn.info[_CHANGED] = True
        memory.changed()

    # organisation
    def org_unit(self, org_unit_id: str) -> OrgUnit | None:
        row = self.conn.execute(_ORG_UNIT_BY_ID, {"id": org_unit_id}).first()
        return _unit(row) if row else None

    def org_unit_by_code(self, code: str) -> OrgUnit | None:
        row = self.conn.execute(sa.select(org_units).where(org_units.c.code == code)).first()
        return _unit(row) if row else None

    def org_units(self, *, scopes: Sequence[str]) -> list[OrgUnit]:
        rows = self.conn.execute(
            sa.select(org_units)
            .where(in_scopes(org_units.c.path, scopes))
            .order_by(org_units.c.path)
        ).all()
        return [_unit(r) for r in rows]

    def insert_org_unit(self, unit: OrgUnit) -> None:
        self._changed()
        self.conn.execute(
            org_units.insert().values(
                id=unit.id,
                parent_id=unit.parent_id,
                kind=unit.kind.value,
                code=unit.code,
                name=unit.name,
                path=unit.path,
                active=unit.active,
                created_at=unit.created_at,
            )
        )

    def update_org_unit(self, org_unit_id: str, **fields: Any) -> None:
        self._changed()
        self.conn.execute(org_units.update().where(org_units.c.id == org_unit_id).values(**fields))

    def org_unit_has_members(self, org_unit_id: str) -> bool:
        q = sa.select(sa.func.count()).select_from(users).where(users.c.org_unit_id == org_unit_id)
        return bool(self.conn.execute(q).scalar_one())

    # users
    def user(self, user_id: str) -> User | None:
        row = self.conn.execute(_USER_BY_ID, {"id": user_id}).first()
        return _user(row) if row else None

    def user_by_username(self, username: str, *, for_update: bool = False) -> User | None:
        q = sa.select(*_USER_COLS).where(users.c.username == username)
        if for_update:
            # PostgreSQL: lock the row until commit (SQLite writers are serialised already).
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return _user(row) if row else None

    def users(
        self, *, scopes: Sequence[str], limit: int, after: str | None
    ) -> list[tuple[User, str]]:
        q = (
            sa.select(*_USER_COLS, org_units.c.path.label("org_unit_path"))
            .join(org_units, org_units.c.id == users.c.org_unit_id)
            .where(in_scopes(org_units.c.path, scopes))
            .order_by(users.c.username)
            .limit(limit)
        )
        if after is not None:
            q = q.where(users.c.username > after)
        return [(_user(r), r.org_unit_path) for r in self.conn.execute(q).all()]

    def insert_user(self, user: User) -> None:
        self._changed()
        self.conn.execute(
            users.insert().values(
                id=user.id,
                username=user.username,
                display_name=user.display_name,
                org_unit_id=user.org_unit_id,
                status=user.status.value,
                password_hash=user.password_hash,
                password_changed_at=user.password_changed_at,
                must_change_password=user.must_change_password,
                failed_logins=user.failed_logins,
                locked_until=user.locked_until,
                totp_enabled=user.totp_enabled,
                totp_last_step=user.totp_last_step,
                last_login_at=user.last_login_at,
                created_at=user.created_at,
                disabled_at=user.disabled_at,
            )
        )

    def update_user(self, user_id: str, **fields: Any) -> None:
        # Sign-in bookkeeping decides nothing for a credential already issued: it must not
        # empty the memory (a shift's sign-ins, or a password spray, would do so constantly).
        if not fields.keys() <= _SIGN_IN_BOOKKEEPING:
            self._changed()
        self.conn.execute(users.update().where(users.c.id == user_id).values(**fields))

    def totp_secret(self, user_id: str) -> str | None:
        q = sa.select(users.c.totp_secret).where(users.c.id == user_id)
        value = self.conn.execute(q).scalar_one_or_none()
        return str(value) if value else None

    def set_totp_secret(self, user_id: str, secret: str | None) -> None:
        self._changed()
        self.conn.execute(users.update().where(users.c.id == user_id).values(totp_secret=secret))

    def recent_password_hashes(self, user_id: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        q = (
            sa.select(password_history.c.password_hash)
            .where(password_history.c.user_id == user_id)
            .order_by(password_history.c.id.desc())
            .limit(limit)
        )
        return [str(h) for h in self.conn.execute(q).scalars()]

    def add_password_history(self, user_id: str, password_hash: str, at: dt.datetime) -> None:
        self.conn.execute(
            password_history.insert().values(
                user_id=user_id, password_hash=password_hash, created_at=at
            )
        )

    # grants
    def grants_of(self, user_id: str) -> list[RoleGrant]:
        return [_grant(r) for r in self.conn.execute(_GRANTS_OF, {"user_id": user_id}).all()]

    def grants_of_many(self, user_ids: Sequence[str]) -> dict[str, list[RoleGrant]]:
        out: dict[str, list[RoleGrant]] = {}
        if not user_ids:
            return out
        q = _GRANT_SELECT.where(role_grants.c.user_id.in_(list(user_ids))).order_by(
            role_grants.c.user_id, role_grants.c.role, role_grants.c.id
        )
        for r in self.conn.execute(q).all():
            out.setdefault(r.user_id, []).append(_grant(r))
        return out

    def insert_grant(self, grant: RoleGrant) -> None:
        self._changed()
        self.conn.execute(
            role_grants.insert().values(
                id=grant.id,
                user_id=grant.user_id,
                role=grant.role,
                org_unit_id=grant.org_unit_id,
                granted_by=grant.granted_by,
                created_at=grant.created_at,
            )
        )

    def grant(self, grant_id: str) -> RoleGrant | None:
        row = self.conn.execute(_GRANT_SELECT.where(role_grants.c.id == grant_id)).first()
        return _grant(row) if row else None

    def delete_grant(self, grant_id: str) -> None:
        self._changed()
        self.conn.execute(role_grants.delete().where(role_grants.c.id == grant_id))

    # sessions and tokens
    def insert_session(self, session: Session, token_hash: str, user_agent: str | None) -> None:
        self.conn.execute(
            sessions.insert().values(
                id=session.id,
                user_id=session.user_id,
                token_hash=token_hash,
                mfa_passed=session.mfa_passed,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                ip=session.ip,
                user_agent=(user_agent or "")[:300] or None,
                kind=session.kind.value,
            )
        )

    def session(self, session_id: str) -> Session | None:
        row = self.conn.execute(sa.select(sessions).where(sessions.c.id == session_id)).first()
        return _session(row) if row else None

    def session_by_token_hash(self, token_hash: str) -> Session | None:
        row = self.conn.execute(_SESSION_BY_HASH, {"hash": token_hash}).first()
        return _session(row) if row else None

    def touch_session(self, session_id: str, at: dt.datetime) -> None:
        self.conn.execute(
            sessions.update().where(sessions.c.id == session_id).values(last_seen_at=at)
        )

    def update_session_mfa(self, session_id: str) -> None:
        self._changed()
        self.conn.execute(
            sessions.update().where(sessions.c.id == session_id).values(mfa_passed=True)
        )

    def end_session(self, session_id: str, at: dt.datetime, reason: str) -> None:
        self._changed()
        self.conn.execute(
            sessions.update()
            .where(sessions.c.id == session_id, sessions.c.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
        )

    def end_sessions_of(self, user_id: str, at: dt.datetime, reason: str) -> int:
        self._changed()
        res = self.conn.execute(
            sessions.update()
            .where(sessions.c.user_id == user_id, sessions.c.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
        )
        return int(res.rowcount)

    def insert_token(self, token: ApiToken, token_hash: str) -> None:
        self.conn.execute(
            api_tokens.insert().values(
                id=token.id,
                user_id=token.user_id,
                name=token.name,
                prefix=token.prefix,
                token_hash=token_hash,
                scopes=list(token.scopes),
                created_at=token.created_at,
                expires_at=token.expires_at,
            )
        )

    def token_by_hash(self, token_hash: str) -> ApiToken | None:
        row = self.conn.execute(_TOKEN_BY_HASH, {"hash": token_hash}).first()
        return _token(row) if row else None

    def token_holder(self, token_hash: str) -> tuple[ApiToken, Holder | None] | None:
        rows = self.conn.execute(_TOKEN_HOLDER, {"hash": token_hash}).all()
        if not rows:
            return None
        return _token(_Part(rows[0], "c_")), _holder(rows)

    def session_holder(self, token_hash: str) -> tuple[Session, Holder | None] | None:
        rows = self.conn.execute(_SESSION_HOLDER, {"hash": token_hash}).all()
        if not rows:
            return None
        return _session(_Part(rows[0], "c_")), _holder(rows)

    def token(self, token_id: str) -> ApiToken | None:
        row = self.conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).first()
        return _token(row) if row else None

    def tokens_of(self, user_id: str) -> list[ApiToken]:
        q = (
            sa.select(api_tokens)
            .where(api_tokens.c.user_id == user_id)
            .order_by(api_tokens.c.created_at, api_tokens.c.id)
        )
        return [_token(r) for r in self.conn.execute(q).all()]

    def revoke_token(self, token_id: str, at: dt.datetime) -> None:
        self._changed()
        self.conn.execute(
            api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=at)
        )

    def revoke_tokens_of(self, user_id: str, at: dt.datetime) -> int:
        self._changed()
        res = self.conn.execute(
            api_tokens.update()
            .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(res.rowcount)

    def touch_token(self, token_id: str, at: dt.datetime) -> None:
        self.conn.execute(
            api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=at)
        )

    # policy
    def policy_overrides(self) -> dict[str, Any]:
        rows = self.conn.execute(sa.select(security_policy).order_by(security_policy.c.key))
        return {r.key: r.value for r in rows}

    def set_policy(self, key: str, value: Any, at: dt.datetime, by: str) -> None:
        self._changed()
        self.conn.execute(security_policy.delete().where(security_policy.c.key == key))
        self.conn.execute(
            security_policy.insert().values(key=key, value=value, updated_at=at, updated_by=by)
        )
