"""Fixtures shared by the identity tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def new_client(app: Any) -> Iterator[Any]:
    """new_client() → a TestClient with its own (empty) cookie jar."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        c = TestClient(app)
        c.__enter__()
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)
