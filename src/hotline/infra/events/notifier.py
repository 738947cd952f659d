"""Wakes live streams when new outbox rows exist.

The outbox table is the event log and the only source of truth; the notifier just says "look
again". In one process a commit pokes it directly; with several processes on PostgreSQL a
LISTEN thread pokes it for the others' commits (see `pg_listener.py`).
"""

from __future__ import annotations

import asyncio
import threading


class Notifier:
    """Thread-safe: actions run in worker threads, streams wait on asyncio loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def latest(self) -> int:
        return self._latest

    def notify(self, event_id: int) -> None:
        with self._lock:
            if event_id > self._latest:
                self._latest = event_id
            waiters = list(self._waiters)
        for loop, ev in waiters:
            try:
                loop.call_soon_threadsafe(ev.set)
            except RuntimeError:  # that loop is closed; its stream is gone
                with self._lock:
                    self._waiters.discard((loop, ev))

    async def wait(self, after_id: int, timeout: float) -> bool:
        """Wait until an event newer than `after_id` is announced, or `timeout` passes."""
        if self._latest > after_id:
            return True
        loop = asyncio.get_running_loop()
        ev = asyncio.Event()
        key = (loop, ev)
        with self._lock:
            self._waiters.add(key)
        try:
            if self._latest > after_id:
                return True
            try:
                await asyncio.wait_for(ev.wait(), timeout)
            except TimeoutError:
                return False
            return True
        finally:
            with self._lock:
                self._waiters.discard(key)
