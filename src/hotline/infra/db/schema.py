"""The relational schema (SQLAlchemy Core). Migrations under `infra/db/migrations` build it.

`hotline db check` (and CI) compares this metadata with a migrated database, so the two cannot
drift apart.
"""

from __future__ import annotations

import sqlalchemy as sa

from hotline.infra.db.types import BigId, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)

Id = sa.String(36)

# --- organisation and identity (R-C1, R-E1, R-E5) -------------------------------------------
org_units = sa.Table(
    "org_units",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("parent_id", Id, sa.ForeignKey("org_units.id"), nullable=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("path", sa.String(1000), nullable=False, unique=True),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("org_unit_id", Id, sa.ForeignKey("org_units.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("password_changed_at", UtcDateTime, nullable=True),
    sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UtcDateTime, nullable=True),
    sa.Column("totp_secret", sa.Text, nullable=True),  # envelope-encrypted
    sa.Column("totp_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("totp_last_step", sa.BigInteger, nullable=True),
    sa.Column("last_login_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("disabled_at", UtcDateTime, nullable=True),
)

password_history = sa.Table(
    "password_history",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

role_grants = sa.Table(
    "role_grants",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("org_unit_id", Id, sa.ForeignKey("org_units.id"), nullable=False),
    sa.Column("granted_by", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "role", "org_unit_id"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("mfa_passed", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("end_reason", sa.String(32), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(300), nullable=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
)

security_policy = sa.Table(
    "security_policy",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
)

# --- audit log (R-E2) ----------------------------------------------------------------------
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("actor_id", Id, nullable=True),
    sa.Column("actor_name", sa.String(64), nullable=False),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("object_type", sa.String(64), nullable=True),
    sa.Column("object_id", sa.String(64), nullable=True),
    sa.Column("org_unit_path", sa.String(1000), nullable=True),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_object", "object_type", "object_id"),
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("audit_seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("signed_at", UtcDateTime, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
)

# --- outbox: the event log (architecture §3.2) ---------------------------------------------
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("permission", sa.String(64), nullable=False),
    sa.Column("org_unit_path", sa.String(1000), nullable=True),
    sa.Column("object_type", sa.String(64), nullable=True),
    sa.Column("object_id", sa.String(64), nullable=True),
    sa.Column("user_id", Id, nullable=True),
    sqlite_autoincrement=True,  # ids are stream positions (Last-Event-ID): never reused
)

# --- durable jobs and timers (architecture §3.3) -------------------------------------------
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="5"),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("dedupe_key", sa.String(200), nullable=True, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Index("ix_jobs_status_due_at", "status", "due_at"),
)

# --- field encryption keys (R-E3) ----------------------------------------------------------
data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("wrapped_key", sa.Text, nullable=False),
    sa.Column("master_key_id", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("retired_at", UtcDateTime, nullable=True),
)

# --- customers (R-B1; sensitive fields encrypted, R-E3/R-E4) -------------------------------
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("org_unit_id", Id, sa.ForeignKey("org_units.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phone", sa.Text, nullable=True),  # envelope-encrypted
    sa.Column("phone_index", sa.String(64), nullable=True, index=True),  # keyed blind index
    sa.Column("id_number", sa.Text, nullable=True),  # envelope-encrypted
    sa.Column("id_number_index", sa.String(64), nullable=True, index=True),
    sa.Column("address", sa.Text, nullable=True),  # envelope-encrypted
    sa.Column("area", sa.String(100), nullable=True),
    sa.Column("notes", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
