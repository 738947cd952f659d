"""The routing service: one `RoutingEngine` per process, kept equal to the database.

The engine (pure, in memory) is the source of truth for live routing; the database is the
durable record. The service keeps the two equal:

- `execute(actor, fn)` runs `fn(tx, engine)` under the engine lock inside one
  `db.transaction(...)`. The action hands every event the engine returns to
  `domains.routing.actions.record`, in that transaction. If the transaction fails after the
  engine changed (its `generation` moved), the engine is rebuilt from the database, so memory
  never runs ahead of what committed. A failure before any engine change costs nothing.
- A ticker thread calls `tick()` about every 200 ms: `engine.tick()` (offer timeouts, wrap-up
  ends, overflow steps, max waits), and only when that produced events, one transaction that
  records them. A failed tick transaction also rebuilds; the rebuilt engine finds the same
  timers due and tries again on the next tick.
- Timers that act on the engine (`domains.contacts.jobs.ENGINE_JOBS`, e.g. a callback
  scheduled for 15:00 coming into its queue) are durable jobs that the service runs itself,
  about every second from the ticker (`run_due_jobs`): each job's handler, its engine events
  and its completion commit in one transaction under the engine lock, like `execute`. The
  general job worker never claims them (it has no engine).
- `start()` (or the first use) rebuilds the engine from the database (agents' last states,
  the contacts it held, queue configurations and counters, flags) and ticks once, so a
  process killed at any point comes back with the engine it had at its last commit
  (R-F1: restarts lose no call state).

Several nodes (ADR 0007): only one routes. On PostgreSQL the service takes a session-level
advisory lock (the routing lease) on a connection of its own at start; without it every
routing call answers 503 (`RoutingUnavailable`) and the ticker tries to take the lease every
few seconds, rebuilding from the database when it does (the leader may have died). Each
routing transaction checks, inside the transaction, that the lease session still holds the
lock, so a node whose lease connection silently dropped cannot write routing state after
another node took over. SQLite is single-node: the service always routes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
import structlog

from hotline.core.clock import Clock
from hotline.core.context import Actor, system_actor
from hotline.core.errors import HotlineError
from hotline.core.jobs import JobRegistry
from hotline.domains.contacts.jobs import ENGINE_JOB_RETRY, ENGINE_JOBS, EngineJobHandler
from hotline.domains.routing.actions import record, retire_disabled_agents
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.events import EngineEvent
from hotline.domains.routing.queries import load_engine
from hotline.infra.db.database import Database, Tx
from hotline.infra.db.engine import is_postgres
from hotline.infra.db.stores.calendars import calendar_memory
from hotline.infra.db.stores.contacts import SqlContactStore
from hotline.infra.db.stores.routing import SqlRoutingStore
from hotline.infra.db.stores.stats import fold_memory
from hotline.infra.jobs.store import SqlJobStore
from hotline.infra.jobs.worker import Outcome, Worker

log = structlog.get_logger(__name__)

T = TypeVar("T")

# The routing lease: a session-level advisory lock, "hotlrout" as a 64-bit key. (The audit
# chain's transaction-level lock uses a different key.)
LEASE_KEY = 0x686F746C726F7574
_LEASE_HI, _LEASE_LO = LEASE_KEY >> 32, LEASE_KEY & 0xFFFFFFFF
_HOLDS_LEASE = sa.text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = :pid AND classid = :hi AND objid = :lo AND objsubid = 1)"
)
ROUTING_ACTOR = "routing"
FLAG_LEADER = "leader"  # {"url": where the leader serves, "since": when it took the lease}


class RoutingUnavailable(HotlineError):
    """This node cannot route now: another node holds the routing lease, or the engine could
    not be rebuilt from the database. Retry shortly (or on the leader)."""

    status: ClassVar[int] = 503
    code: ClassVar[str] = "routing_unavailable"


class _Lease:
    """The PostgreSQL advisory lock that makes one node the router."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: sa.Connection | None = None
        self.pid: int | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self._db.engine.connect()
        try:
            got = bool(
                conn.execute(sa.select(sa.func.pg_try_advisory_lock(LEASE_KEY))).scalar_one()
            )
            pid = int(conn.execute(sa.select(sa.func.pg_backend_pid())).scalar_one())
            conn.commit()
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn, self.pid = conn, pid
        return True

    def alive(self) -> bool:
        """Whether the lease connection still answers (else the lock is gone with it)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(sa.text("SELECT 1")).scalar_one()
            self._conn.commit()
        except Exception:
            self.drop()
            return False
        return True

    def drop(self) -> None:
        """Let go of the lease: closing the session releases the lock. The connection is
        invalidated, not returned to the pool, so the lock cannot linger on a pooled one."""
        conn, self._conn, self.pid = self._conn, None, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # the connection may be dead already: nothing to release
                log.debug("routing lease connection was already gone")


class RoutingService:
    """Owns this process's routing engine. See the module docstring."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock,
        tick_seconds: float = 0.2,
        lease_retry_seconds: float = 3.0,
        retire_seconds: float = 5.0,
        jobs_seconds: float = 1.0,
        node_url: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.lease_retry_seconds = lease_retry_seconds
        self.retire_seconds = retire_seconds
        self.node_url = node_url
        self._leader_url: tuple[float, str | None] = (float("-inf"), None)
        self._retired_check = float("-inf")
        self.jobs_seconds = jobs_seconds
        self._jobs_checked = float("-inf")
        self._lock = threading.RLock()
        self._engine: RoutingEngine | None = None
        self._started = False
        self._lease = _Lease(db) if is_postgres(db.engine) else None
        self._lease_checked = 0.0
        self._problem: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._jobs = Worker(db, self._engine_job_registry(), actor=system_actor(ROUTING_ACTOR))

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> bool:
        """Take the lease (PostgreSQL), rebuild the engine, process what fell due meanwhile.
        Idempotent. True if this node routes."""
        with self._lock:
            if not self._started:
                self._started = True
                self._become_leader()
            return self._engine is not None

    @property
    def is_leader(self) -> bool:
        """Whether this node holds the routing lease (always on SQLite)."""
        return self._lease is None or self._lease.held

    @property
    def lease_pid(self) -> int | None:
        """The PostgreSQL backend holding this node's lease (None on SQLite or without it)."""
        return None if self._lease is None else self._lease.pid

    def start_ticker(self) -> None:
        """Run `tick()` every `tick_seconds` on a daemon thread until `stop_ticker()`."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="routing-ticker", daemon=True)
            self._thread.start()

    def stop_ticker(self) -> None:
        thread = self._thread
        self._stop.set()
        if thread is not None:
            thread.join(timeout=10)
        self._thread = None

    def close(self) -> None:
        """Stop the ticker and give up the lease (another node may then route)."""
        self.stop_ticker()
        with self._lock:
            self._engine = None
            self._started = False
            if self._lease is not None:
                self._lease.drop()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:
                log.exception("routing tick failed")

    # --- the engine ------------------------------------------------------------------------
    def execute(self, actor: Actor, fn: Callable[[Tx, RoutingEngine], T]) -> T:
        """Run `fn(tx, engine)` under the engine lock in one transaction as `actor`.

        503 (`RoutingUnavailable`) if this node does not route. If the transaction fails after
        the engine changed, the engine is rebuilt from the database before the error goes on.
        """
        with self._lock:
            engine = self._require_engine()
            generation = engine.generation
            try:
                with self.db.transaction(actor=actor) as tx:
                    self._check_lease(tx)
                    return fn(tx, engine)
            except BaseException:
                if engine.generation != generation:
                    self._rebuild_after_failure()
                raise

    def read(self, fn: Callable[[RoutingEngine], T]) -> T:
        """Run a read-only `fn(engine)` under the lock (503 if this node does not route)."""
        with self._lock:
            return fn(self._require_engine())

    def tick(self) -> list[EngineEvent]:
        """Process what is due (offer timeouts, wrap-up ends, overflow steps, max waits) and
        persist the events in one transaction. Returns them. On a node without the lease,
        tries to take it now and then instead."""
        with self._lock:
            if not self._started:
                self.start()
            self._maybe_check_lease()
            engine = self._engine
            if engine is None:
                return []
            generation = engine.generation
            try:
                events = engine.tick()
                if events:
                    with self.db.transaction(actor=system_actor(ROUTING_ACTOR)) as tx:
                        self._check_lease(tx)
                        record(tx, engine, events)
            except BaseException:
                if engine.generation != generation:
                    self._rebuild_after_failure()
                raise
            if time.monotonic() - self._retired_check >= self.retire_seconds:
                self.retire_disabled()
            if time.monotonic() - self._jobs_checked >= self.jobs_seconds:
                self.run_due_jobs()
            return events

    def run_due_jobs(self) -> int:
        """Run the due jobs that act on the engine (`ENGINE_JOBS`), each in one transaction
        under the engine lock that also marks it done; a failed one is retried later with
        backoff (and the engine rebuilt if it had changed). Returns how many were claimed;
        nothing on a node that does not route. The ticker calls this every `jobs_seconds`;
        tests call it after moving their clock."""
        with self._lock:
            self._jobs_checked = time.monotonic()
            if self._engine is None:
                return 0
            with self.db.read() as conn:  # usually nothing is due: no write transaction then
                due = SqlJobStore(conn, clock=self.clock).has_due(
                    self._jobs.registry.kinds(), self.clock.now()
                )
            if not due:
                return 0
            claimed = self._jobs.claim()
            for job in claimed:
                engine = self._engine
                if engine is None:  # the lease was lost: the claims expire, the leader runs them
                    break
                generation = engine.generation
                try:
                    outcome = self._jobs.execute(job)
                except BaseException:
                    if engine.generation != generation:
                        self._rebuild_after_failure()
                    raise
                if outcome is not Outcome.done and engine.generation != generation:
                    self._rebuild_after_failure()
            return len(claimed)

    def retire_disabled(self) -> list[str]:
        """Take agents whose account was disabled out of routing now (the ticker also does it
        every `retire_seconds`, so an agent disabled on another node or while this one did not
        route is caught up). Returns the agents logged out; nothing on a node that does not
        route."""
        with self._lock:
            self._retired_check = time.monotonic()
            if self._engine is None:
                return []
            with self.db.read() as conn:  # most sweeps find nobody: no write transaction then
                if not SqlRoutingStore(conn).disabled_agents_logged_in():
                    return []
            return self.execute(system_actor(ROUTING_ACTOR), retire_disabled_agents)

    def rebuild(self) -> None:
        """Replace the engine with one rebuilt from the database, then tick once."""
        with self._lock:
            if not self.is_leader:
                raise RoutingUnavailable(
                    "this node does not hold the routing lease",
                    key="errors.routing.unavailable",
                    params={"reason": self._problem},
                )
            self._engine = None
            self._engine = self._load()
            self._problem = None
            self.tick()

    def snapshot(self) -> dict[str, Any]:
        """The live engine's state as plain data (tests, diagnostics)."""
        return self.read(lambda engine: engine.snapshot())

    def snapshot_from_db(self) -> dict[str, Any]:
        """The state an engine rebuilt from the database now would have (the live engine is
        not touched): equal to `snapshot()` whenever memory and storage agree."""
        return self._load(live=False).snapshot()

    def leader_url(self, *, max_age: float = 1.0) -> str | None:
        """Where the routing leader says it can be reached (None: unknown, or this node
        leads). Read from the database at most every `max_age` seconds."""
        if self.is_leader and self._engine is not None:
            return None
        read_at, url = self._leader_url
        if time.monotonic() - read_at < max_age:
            return url
        with self.db.read() as conn:
            value = SqlRoutingStore(conn).flag(FLAG_LEADER) or {}
        url = value.get("url") if isinstance(value, dict) else None
        self._leader_url = (time.monotonic(), url)
        return url

    # --- internals -------------------------------------------------------------------------
    def _engine_job_registry(self) -> JobRegistry:
        registry = JobRegistry()
        for kind, handler in sorted(ENGINE_JOBS.items()):
            registry.register(kind, self._with_engine(handler), retry=ENGINE_JOB_RETRY)
        return registry

    def _with_engine(self, handler: EngineJobHandler) -> Callable[[Tx, Mapping[str, Any]], None]:
        """The job handler the worker calls: the routing transaction's checks, then `handler`
        with this node's engine (run_due_jobs holds the engine lock)."""

        def run(tx: Tx, payload: Mapping[str, Any]) -> None:
            self._check_lease(tx)
            handler(tx, self._require_engine(), payload)

        return run

    def _publish_leader(self) -> None:
        """Tell the standby nodes where to forward routing writes (None clears an old leader's
        address: clients then get 503 and retry)."""
        now = self.clock.now()
        with self.db.transaction(actor=system_actor(ROUTING_ACTOR)) as tx:
            tx.routing.set_flag(FLAG_LEADER, {"url": self.node_url, "since": now.isoformat()}, now)

    def _load(self, *, live: bool = True) -> RoutingEngine:
        if live:
            # A new live engine: history may have been written without this process (another
            # node routed meanwhile), so the counting memory starts afresh (ADR 0008); so do
            # the parsed calendars (another node may have changed them as the leader).
            fold_memory(self.db.engine).clear()
            calendar_memory(self.db.engine).clear()
        with self.db.read() as conn:
            return load_engine(SqlRoutingStore(conn), SqlContactStore(conn), clock=self.clock)

    def _become_leader(self) -> None:
        self._lease_checked = time.monotonic()
        if self._lease is not None:
            try:
                if not self._lease.try_acquire():
                    self._problem = "another node holds the routing lease"
                    return
            except Exception as exc:
                self._problem = f"cannot take the routing lease: {exc.__class__.__name__}"
                log.warning("routing lease", error=repr(exc))
                return
        try:
            self._engine = self._load()
        except Exception as exc:
            self._engine = None
            self._problem = f"cannot rebuild the routing engine: {exc}"
            log.exception("routing rebuild failed")
            return
        self._problem = None
        if self._lease is not None:
            self._publish_leader()
        log.info("routing engine rebuilt", leader=self.is_leader)
        try:
            self.tick()
        except Exception:
            log.exception("first routing tick after rebuild failed")

    def _require_engine(self) -> RoutingEngine:
        if not self._started:
            self.start()
        if self._engine is None and self.is_leader:
            self._become_leader()  # a rebuild failed earlier: try again
        if self._engine is None:
            raise RoutingUnavailable(
                f"this node does not route now ({self._problem or 'not started'}); retry shortly",
                key="errors.routing.unavailable",
                params={"reason": self._problem},
            )
        return self._engine

    def _check_lease(self, tx: Tx) -> None:
        """Inside the routing transaction: the lease session still holds the lock."""
        if self._lease is None:
            return
        pid = self._lease.pid
        ok = pid is not None and bool(
            tx.conn.execute(
                _HOLDS_LEASE, {"pid": pid, "hi": _LEASE_HI, "lo": _LEASE_LO}
            ).scalar_one()
        )
        if not ok:
            self._lose_lease()
            raise RoutingUnavailable(
                "this node lost the routing lease; retry shortly",
                key="errors.routing.unavailable",
                params={"reason": "lease lost"},
            )

    def _maybe_check_lease(self) -> None:
        """Now and then: check the lease is alive, or try to take it (or, on SQLite, retry a
        rebuild that failed)."""
        if self._lease is None and self._engine is not None:
            return
        now = time.monotonic()
        if now - self._lease_checked < self.lease_retry_seconds:
            return
        self._lease_checked = now
        if self._lease is None:
            self._become_leader()
        elif self._lease.held:
            if not self._lease.alive():
                self._lose_lease()
        else:
            self._become_leader()

    def _lose_lease(self) -> None:
        log.warning("routing lease lost; this node stops routing")
        if self._lease is not None:
            self._lease.drop()
        self._engine = None
        self._problem = "the routing lease was lost"

    def _rebuild_after_failure(self) -> None:
        if not self.is_leader:
            self._engine = None
            return
        try:
            self._engine = self._load()
            self._problem = None
            log.warning("routing transaction failed after an engine change; engine rebuilt")
        except Exception as exc:
            self._engine = None
            self._problem = f"cannot rebuild the routing engine: {exc}"
            log.exception("routing rebuild failed")
