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
    # interactive (a person: idle timeout) or display (a wall screen's account, ADR 0009).
    sa.Column("kind", sa.String(16), nullable=False, server_default="interactive"),
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

# --- routing: skills, queues, entry points, wrap-up codes, agents (R-A3, R-D6) -------------
skills = sa.Table(
    "skills",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

queues = sa.Table(
    "queues",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("org_unit_id", Id, sa.ForeignKey("org_units.id"), nullable=False, index=True),
    # The routing configuration (domains.routing.model.QueueConfig), column by column.
    sa.Column("skills", sa.JSON, nullable=False),  # [[skill code, min level], …]
    sa.Column("channels", sa.JSON, nullable=False),  # sorted channel names
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("service_level_seconds", sa.Float, nullable=False),
    sa.Column("service_level_percent", sa.Float, nullable=False),
    sa.Column("max_wait_seconds", sa.Float, nullable=True),
    sa.Column("max_wait_action", sa.String(16), nullable=False),
    sa.Column("strategy", sa.String(32), nullable=False),
    sa.Column("overflow", sa.JSON, nullable=False),  # overflow steps as plain data
    sa.Column("offer_timeout_seconds", sa.Float, nullable=False),
    sa.Column("wrap_up_seconds", sa.Float, nullable=False),
    sa.Column("ageing_per_minute", sa.Float, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Counters the engine keeps per queue that must survive a restart (service level so far,
# round-robin memory).
queue_counters = sa.Table(
    "queue_counters",
    metadata,
    sa.Column("queue_id", Id, sa.ForeignKey("queues.id"), primary_key=True),
    sa.Column("answered", sa.BigInteger, nullable=False),
    sa.Column("answered_within_target", sa.BigInteger, nullable=False),
    sa.Column("abandoned", sa.BigInteger, nullable=False),
    sa.Column("abandoned_after_target", sa.BigInteger, nullable=False),
    sa.Column("rr_counter", sa.BigInteger, nullable=False),
    sa.Column("rr_last", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Business calendars (营业时间): weekly spans and date overrides as JSON (see
# domains/calendars/model.py `hours_to_dict`); read whole, never queried inside.
business_calendars = sa.Table(
    "business_calendars",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("weekly", sa.JSON, nullable=False),
    sa.Column("overrides", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

entry_points = sa.Table(
    "entry_points",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(100), nullable=False),  # dialled number, mailbox, widget
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("queue_id", Id, sa.ForeignKey("queues.id"), nullable=False, index=True),
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # open hours; none: always open (added by 0005)
    sa.Column(
        "calendar_id", Id, sa.ForeignKey("business_calendars.id"), nullable=True, index=True
    ),
    sa.UniqueConstraint("channel", "address"),
)

wrap_up_codes = sa.Table(
    "wrap_up_codes",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

agent_profiles = sa.Table(
    "agent_profiles",
    metadata,
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("skills", sa.JSON, nullable=False),  # {skill code: level 1–10}
    sa.Column("capacity", sa.JSON, nullable=False),  # {channel: contacts at once}
    sa.Column("group_name", sa.String(64), nullable=True),  # call-up group (R-D3)
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# An agent as the routing engine last held it (domains.routing.model.Agent): a row exists
# once the agent has logged in to routing; the engine is rebuilt from these rows.
agent_states = sa.Table(
    "agent_states",
    metadata,
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("state_since", UtcDateTime, nullable=True),
    sa.Column("seat", sa.String(64), nullable=True),
    sa.Column("group_name", sa.String(64), nullable=True),
    sa.Column("idle_since", UtcDateTime, nullable=True),
    sa.Column("pending_reason", sa.String(32), nullable=True),
    sa.Column("wrap_up_until", UtcDateTime, nullable=True),
    sa.Column("handled_seconds", sa.Float, nullable=False),
    sa.Column("skills", sa.JSON, nullable=False),  # as in force since login
    sa.Column("capacity", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Every agent state change, pending not-ready and seat change, with its time (R-D6: the
# five-minute re-login after a seat change is reported from here).
agent_state_log = sa.Table(
    "agent_state_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # state | seat | pending
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=True),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("seat", sa.String(64), nullable=True),
    sa.Column("from_seat", sa.String(64), nullable=True),
    sa.Column("approved_by", sa.String(64), nullable=True),
    sa.Index("ix_agent_state_log_user_id_at", "user_id", "at"),
)

logout_requests = sa.Table(
    "logout_requests",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("user_id", Id, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("cause", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending|approved|rejected|withdrawn
    sa.Column("decided_at", UtcDateTime, nullable=True),
    sa.Column("decided_by", sa.String(64), nullable=True),
)

# Engine-wide values: incident flag, active call-up groups, sequence counters.
routing_flags = sa.Table(
    "routing_flags",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# --- contacts (R-A7, R-B2; caller address encrypted, R-E3/R-E4) ------------------------------
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("entry_point_id", Id, sa.ForeignKey("entry_points.id"), nullable=True),
    sa.Column("address", sa.String(100), nullable=True),  # the entry point's address
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=True, index=True),
    sa.Column("caller", sa.Text, nullable=True),  # envelope-encrypted
    sa.Column("caller_index", sa.String(64), nullable=True, index=True),  # keyed blind index
    sa.Column("caller_area", sa.String(100), nullable=True),
    sa.Column("queue_id", Id, sa.ForeignKey("queues.id"), nullable=True, index=True),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("callback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("agent_id", Id, sa.ForeignKey("users.id"), nullable=True, index=True),
    # routing state: what the engine needs to rebuild the contact exactly
    sa.Column("seq", sa.BigInteger, nullable=True),
    sa.Column("stage", sa.Integer, nullable=False, server_default="0"),
    sa.Column("offer_id", sa.BigInteger, nullable=True),
    sa.Column("enqueued_at", UtcDateTime, nullable=True),
    sa.Column("queue_entered_at", UtcDateTime, nullable=True),
    sa.Column("offered_at", UtcDateTime, nullable=True),
    sa.Column("offer_deadline", UtcDateTime, nullable=True),
    sa.Column("connected_at", UtcDateTime, nullable=True),
    # when each stage was first reached
    sa.Column("arrived_at", UtcDateTime, nullable=False, index=True),
    sa.Column("queued_at", UtcDateTime, nullable=True),
    sa.Column("answered_at", UtcDateTime, nullable=True),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("wrap_up_code", sa.String(64), nullable=True),
    sa.Column("wrap_up_notes", sa.Text, nullable=True),
    sa.Column("wrapped_up_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # a callback an agent scheduled: the contact it calls back, when it is due (None: as soon
    # as possible) and the agent's note for whoever calls back (migration 0007)
    sa.Column("callback_of", Id, sa.ForeignKey("contacts.id"), nullable=True, index=True),
    sa.Column("callback_due_at", UtcDateTime, nullable=True),
    sa.Column("callback_note", sa.Text, nullable=True),
)

# Append-only history of every contact (rows are never updated): reports and the surge
# detector (R-D2) read it by time.
contact_events = sa.Table(
    "contact_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("contact_id", Id, sa.ForeignKey("contacts.id"), nullable=False, index=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("queue_id", Id, nullable=True),
    sa.Column("agent_id", Id, nullable=True),
    sa.Column("data", sa.JSON, nullable=False),
)

# --- statistics (R-C2, ADR 0008) -------------------------------------------------------------
# Interval rows: counted facts per (dimension, key, interval start), attributed to the interval
# of the contact's arrival. Written in the routing transaction; rebuildable from contact_events.
_COUNT_COLUMNS = (
    "offered",
    "answered",
    "answered_in_sl",
    "abandoned",
    "abandoned_short",
    "overflowed",
    "transferred",
    "callbacks",
    "wait_ms",
    "wait_max_ms",
    "handled",
    "handle_ms",
    "wrap_up_ms",
    "abandoned_ivr",
    "closed",
)
interval_stats = sa.Table(
    "interval_stats",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("interval_start", UtcDateTime, primary_key=True),
    sa.Column("minutes", sa.Integer, nullable=False),
    *(
        sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
        for name in _COUNT_COLUMNS
    ),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_interval_stats_kind_interval_start", "kind", "interval_start"),
)

# The live rows last published on the event stream (kind queue|agent), to emit only changes.
live_stats = sa.Table(
    "live_stats",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(36), primary_key=True),
    sa.Column("row", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
