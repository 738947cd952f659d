"""The routing floor of the routing API tests (queues, entry points, agents, lead, gateway)."""

from __future__ import annotations

from routing_api.conftest import engine_matches_database, fast_argon2, floor

__all__ = ["engine_matches_database", "fast_argon2", "floor"]
