"""Wakes live streams when new outbox rows may exist.

The outbox table is the event log and the only source of truth; the notifier just says "look
again". In one process a commit pokes it directly; with several processes on PostgreSQL a
LISTEN thread pokes it for the others' commits (see `pg_listener.py`). It counts pokes
(a generation number), so a stream that read the log at generation g sleeps until g changes.
"""

from __future__ import annotations

import asyncio
import threading


class Notifier:
    """Thread-safe: actions run in worker threads, streams wait on asyncio loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self, event_id: int | None = None) -> None:
        """Something was committed (`event_id` is informational)."""
        with self._lock:
            self._generation += 1
            waiters = list(self._waiters)
        for loop, ev in waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # that loop is closed; its stream is gone
                with self._lock:
                    self._waiters.discard((loop, ev))

    async def wait(self, generation: int, timeout: float) -> bool:
        """Wait until the generation moves past `generation`, or `timeout` passes."""
        loop = asyncio.get_running_loop()
        ev = asyncio.Event()
        key = (loop, ev)
        with self._lock:
            if self._generation != generation:
                return True
            self._waiters.add(key)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(key)
