"""Wakes live streams when new outbox rows may exist.

The outbox table is the event log and the only source of truth; the notifier just says "look
again". In one process a commit pokes it directly; with several processes on PostgreSQL a
LISTEN thread pokes it for the others' commits (see `pg_listener.py`). It counts pokes
(a generation number), so a stream that read the log at generation g sleeps until g changes.
"""

from __future__ import annotations

import asyncio
import threading


def _set_all(events: list[asyncio.Event]) -> None:
    for ev in events:
        ev.set()


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
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Event]] = {}
        with self._lock:
            self._generation += 1
            for loop, ev in self._waiters:
                by_loop.setdefault(loop, []).append(ev)
        # One wake-up per loop, not per stream: each call_soon_threadsafe writes to the loop's
        # self-pipe, and a commit would otherwise pay one system call per open stream.
        for loop, events in by_loop.items():
            try:
                loop.call_soon_threadsafe(_set_all, events)
            except RuntimeError:  # that loop is closed; its streams are gone
                with self._lock:
                    self._waiters.difference_update((loop, ev) for ev in events)

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
