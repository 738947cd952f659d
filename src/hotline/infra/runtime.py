"""The running system's parts, built once from the settings and handed to entry points."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from hotline.core.clock import Clock, SystemClock
from hotline.domains.identity.model import PasswordPolicy
from hotline.domains.identity.queries import effective_policy
from hotline.domains.stats.model import StatsConfig
from hotline.infra.crypto import keyfile
from hotline.infra.crypto.envelope import FieldCipher
from hotline.infra.db import migrate
from hotline.infra.db.database import Database
from hotline.infra.db.engine import make_engine
from hotline.infra.db.stores.identity import SqlIdentityStore
from hotline.infra.events.notifier import Notifier
from hotline.infra.events.stream import OutboxTail
from hotline.infra.routing.service import RoutingService
from hotline.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    db: Database
    cipher: FieldCipher
    notifier: Notifier
    clock: Clock
    # The process's routing engine; it rebuilds from the database on first use (or start()).
    routing: RoutingService
    # The one reader of the event log that every live stream of this process shares.
    outbox_tail: OutboxTail

    def default_policy(self) -> PasswordPolicy:
        s = self.settings
        return PasswordPolicy(
            min_length=s.password_min_length,
            min_classes=s.password_min_classes,
            history=s.password_history,
            lockout_threshold=s.lockout_threshold,
            lockout_minutes=s.lockout_minutes,
            session_idle_minutes=s.session_idle_minutes,
            session_max_hours=s.session_max_hours,
            display_session_hours=s.display_session_hours,
        )

    def policy(self) -> PasswordPolicy:
        """The security policy in force (settings, overridden by the security admin)."""
        with self.db.read() as conn:
            return effective_policy(SqlIdentityStore(conn), self.default_policy())

    def close(self) -> None:
        self.routing.close()
        self.engine.dispose()


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    upgrade: bool = True,
) -> Runtime:
    """Open the database (migrating it unless `upgrade=False`) and load the keys."""
    clock = clock or SystemClock()
    engine = engine or make_engine(settings)
    if upgrade:
        migrate.upgrade(engine)
    master = keyfile.load_or_create(settings.resolved_master_key_file)
    cipher = FieldCipher(master)
    with engine.begin() as conn:
        cipher.load(conn, clock=clock)
    notifier = Notifier()
    stats_config = StatsConfig(
        settings.stats_interval_minutes,
        settings.stats_timezone,
        settings.stats_minute_retention_days,
    )
    db = Database(engine, clock=clock, cipher=cipher, notifier=notifier, stats_config=stats_config)
    routing = RoutingService(db, clock=clock, node_url=settings.advertised_url)
    return Runtime(settings, engine, db, cipher, notifier, clock, routing, OutboxTail(db, notifier))


def replace_settings(rt: Runtime, **changes: object) -> Runtime:
    return dataclasses.replace(rt, settings=rt.settings.model_copy(update=changes))
