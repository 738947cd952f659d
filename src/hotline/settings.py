"""The one settings object. Built once by an entry point and passed in; never read at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """hotline's configuration; every field can be set as `HOTLINE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./var/hotline.db",
        description="SQLAlchemy URL: sqlite:///path (embedded default) or postgresql://…",
    )
    var_dir: Path = Field(default=Path("./var"), description="Runtime files: keys, recordings.")
    master_key_file: Path | None = Field(
        default=None,
        description="File holding the master key(s) that wrap data keys; default var/keys/master.",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="Ed25519 key that signs audit checkpoints; default var/keys/audit_signing.",
    )
    audit_checkpoint_every: int = Field(default=1000, ge=1, description="Rows per checkpoint.")
    audit_checkpoint_seconds: float = Field(
        default=60.0, gt=0, description="How often the worker checks whether to checkpoint."
    )
    password_min_length: int = Field(default=12, ge=8)
    password_min_classes: int = Field(default=3, ge=1, le=4)
    password_history: int = Field(default=5, ge=0)
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=30, ge=1)
    session_idle_minutes: int = Field(default=15, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    display_session_hours: int = Field(
        default=168,
        ge=1,
        description="Lifetime of a wall screen's display session (no idle timeout; ADR 0009).",
    )
    mfa_required_roles: tuple[str, ...] = (
        "system_admin",
        "security_admin",
        "auditor",
    )
    log_level: str = Field(
        default="info", description="debug, info, warning or error (the CLI's log output)."
    )
    host: str = "127.0.0.1"
    port: int = 8266
    public_url: str | None = None
    node_url: str | None = Field(
        default=None,
        description="Where the other hotline nodes reach this one (http://10.0.0.5:8266): the "
        "routing leader publishes it so that standby nodes forward routing writes to it. "
        "Default: http://host:port when host is a concrete address.",
    )
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    job_lease_seconds: float = Field(default=60.0, gt=0)
    worker_poll_seconds: float = Field(default=1.0, gt=0)
    run_worker: bool = True
    secure_cookies: bool = False
    stats_interval_minutes: int = Field(
        default=15, description="Length of an interval row of the statistics (15 or 30 minutes)."
    )
    stats_timezone: str = Field(
        default="Asia/Shanghai",
        description="The center's time zone (IANA name): decides 'today' and where statistics "
        "intervals start (local midnight).",
    )

    stats_minute_retention_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="Days to keep the one-minute queue rows behind the rolling 15/30-minute "
        "figures; interval rows are kept.",
    )

    @field_validator("stats_interval_minutes")
    @classmethod
    def _check_interval(cls, value: int) -> int:
        if value not in (15, 30):
            raise ValueError("stats_interval_minutes must be 15 or 30")
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        # psycopg 3 is the only PostgreSQL driver we ship.
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @property
    def advertised_url(self) -> str | None:
        """`node_url`, or http://host:port unless the host is a wildcard address."""
        if self.node_url:
            return self.node_url.rstrip("/")
        if self.host in ("0.0.0.0", "::", ""):  # noqa: S104 - recognising, not binding
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def keys_dir(self) -> Path:
        return self.var_dir / "keys"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.keys_dir / "master.json"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.keys_dir / "audit_signing.pem"
