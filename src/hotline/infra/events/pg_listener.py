"""Cross-process wake-ups on PostgreSQL: LISTEN on the channel the unit of work NOTIFYs."""

from __future__ import annotations

import threading

import psycopg
import structlog
from sqlalchemy.engine import make_url

from hotline.infra.db.database import PG_CHANNEL
from hotline.infra.events.notifier import Notifier

log = structlog.get_logger(__name__)


class PgListener:
    """A daemon thread holding one connection in LISTEN; reconnects after failures."""

    def __init__(self, database_url: str, notifier: Notifier) -> None:
        url = make_url(database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._notifier = notifier
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {PG_CHANNEL}")
                    # A wake-up after (re)connecting: streams re-read from their last id, so
                    # anything committed while we were away is still delivered.
                    self._notifier.notify()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0, stop_after=100):
                            try:
                                self._notifier.notify(int(note.payload))
                            except ValueError:
                                continue
            except psycopg.Error as exc:
                log.warning("event listener lost its connection; retrying", error=str(exc))
                self._stop.wait(1.0)
