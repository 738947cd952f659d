"""A real hotline server (uvicorn in a thread, on a free loopback port) on the test database,
with the wall clock (load mode measures real time) and the routing ticker running, seeded with
the demo floor and a few simulated agents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from hotline.infra import demo
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings
from live_server import LiveServer


@dataclass
class Live:
    url: str
    runtime: Runtime
    users: demo.SimUsers


@pytest.fixture
def wall_runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings, upgrade=False)  # SystemClock: offers and timers in real time
    yield rt
    rt.close()


@pytest.fixture
def live(settings: Settings, wall_runtime: Runtime) -> Iterator[Live]:
    from hotline.api.app import create_app

    demo.seed(wall_runtime)
    users = demo.seed_simulated(wall_runtime, agents=4)
    with LiveServer(create_app(settings, runtime=wall_runtime)) as server:
        wall_runtime.routing.start_ticker()  # the test settings run no background loops
        yield Live(server.url, wall_runtime, users)
        wall_runtime.routing.stop_ticker()
