"""Two real hotline server processes on one PostgreSQL database: an event committed through one
process (or by any other writer) reaches the other's subscribers through LISTEN/NOTIFY.

The servers run with a 30 s heartbeat, so a delivery within a couple of seconds cannot be the
heartbeat's periodic re-read of the log: it must be the NOTIFY waking the stream.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from hotline.core.context import system_actor
from hotline.core.events import Event
from hotline.domains.identity import actions
from hotline.infra.runtime import Runtime
from hotline.settings import Settings

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("HOTLINE_TEST_DATABASE_URL", "").startswith("postgres"),
        reason="several processes share one database only on PostgreSQL; SQLite is single-node",
    ),
]

PASSWORD = "Str0ng-Passw0rd!"
HEARTBEAT = 30.0
DELIVERY = 3.0  # seconds: well under the heartbeat

# A server process: the app on an ephemeral loopback port, which it prints once listening.
SERVER_SCRIPT = """
import asyncio
import uvicorn
from hotline.api.app import create_app
from hotline.infra.runtime import build_runtime
from hotline.settings import Settings

settings = Settings()  # HOTLINE_* from the environment
rt = build_runtime(settings, upgrade=False)
server = uvicorn.Server(uvicorn.Config(create_app(settings, runtime=rt), host="127.0.0.1",
                                       port=0, log_level="warning", timeout_graceful_shutdown=2))

async def main():
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            return await serving
        await asyncio.sleep(0.05)
    print("PORT=%d" % server.servers[0].sockets[0].getsockname()[1], flush=True)
    await serving

asyncio.run(main())
"""


# --- a tiny SSE reader -------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    event: str
    id: int | None
    data: Any


def parse_sse(lines: Iterable[str]) -> Iterator[Message | None]:
    """Messages as dispatched; None for a comment line (heartbeat, connected)."""
    event: str | None = None
    data: list[str] = []
    msg_id: int | None = None
    for line in lines:
        if line == "":
            if data or event is not None:
                yield Message(event or "message", msg_id, json.loads("\n".join(data) or "null"))
            event, data, msg_id = None, [], None
        elif line.startswith(":"):
            yield None
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                msg_id = int(value)


class Subscriber:
    def __init__(self, base_url: str, token: str, last_event_id: int | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        # No read may block longer than DELIVERY + 2 s: a missing NOTIFY fails, never hangs.
        self._client = httpx.Client(
            base_url=base_url, timeout=httpx.Timeout(5.0, read=DELIVERY + 2)
        )
        self._cm = self._client.stream("GET", "/api/events", headers=headers)
        response = self._cm.__enter__()
        assert response.status_code == 200, response.read()
        self._items = parse_sse(response.iter_lines())
        assert next(self._items) is None  # ": connected at …"

    def next_message(self, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = next(self._items)
            except httpx.ReadTimeout:
                break
            if item is not None:
                return item
        raise AssertionError(f"no event within {timeout}s")

    def close(self) -> None:
        self._cm.__exit__(None, None, None)
        self._client.close()


# --- server processes ----------------------------------------------------------------------------
class ServerProcess:
    def __init__(self, name: str, settings: Settings, tmp_path: Path) -> None:
        self.name = name
        self._port_file = tmp_path / f"{name}.port"
        self._log_file = tmp_path / f"{name}.log"
        env = {
            **os.environ,
            "HOTLINE_DATABASE_URL": settings.database_url,
            "HOTLINE_VAR_DIR": str(settings.var_dir),  # the same master key as the test's
            "HOTLINE_SSE_HEARTBEAT_SECONDS": str(HEARTBEAT),
            "HOTLINE_RUN_WORKER": "false",
        }
        with self._port_file.open("wb") as out, self._log_file.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVER_SCRIPT], stdout=out, stderr=log, env=env
            )
        self.url = ""

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # The server also logs to stdout; the port is the line marked PORT=.
            for line in self._port_file.read_text().splitlines():
                if line.startswith("PORT="):
                    self.url = f"http://127.0.0.1:{int(line[5:])}"
                    return
            if self.proc.poll() is not None:
                pytest.fail(f"server {self.name} exited: {self._log_file.read_text()}")
            time.sleep(0.05)
        pytest.fail(f"server {self.name} did not start within {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def servers(settings: Settings, runtime: Runtime, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    # `runtime` first: it created the master key file in var_dir that the servers will load.
    procs = [ServerProcess(n, settings, tmp_path) for n in ("a", "b")]
    try:
        for p in procs:
            p.wait_listening()
        yield procs
    finally:
        for p in procs:
            p.stop()


def sign_in(url: str, username: str, totp_secret: str | None = None) -> str:
    body = {"username": username, "password": PASSWORD}
    if totp_secret:
        body["totp_code"] = pyotp.TOTP(totp_secret).now()  # the servers use the wall clock
    r = httpx.post(f"{url}/api/auth/login", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def test_event_committed_in_one_process_reaches_a_subscriber_of_another(
    servers: list[ServerProcess], org: Any, runtime: Runtime
) -> None:
    a, b = servers
    org.user("root", "system_admin")
    org.user("lead", "team_lead", unit="group")
    admin_token = sign_in(a.url, "root", org.totp_secrets["root"])
    lead_token = sign_in(b.url, "lead")
    on_b = Subscriber(b.url, lead_token)
    on_a = Subscriber(a.url, lead_token)  # the same session works on either node
    subscribers = [on_a, on_b]
    try:
        # 1. An action through process A's HTTP API.
        t0 = time.monotonic()
        r = httpx.post(
            f"{a.url}/api/users",
            headers={"Authorization": f"Bearer {admin_token}"},
            json={
                "username": "alice",
                "display_name": "Alice",
                "org_unit_id": org.team_a.id,
                "password": PASSWORD,
            },
            timeout=10,
        )
        assert r.status_code == 201, r.text
        alice = r.json()["id"]
        m = on_b.next_message(DELIVERY)
        assert (m.event, m.data["object_id"]) == ("user.created", alice)
        assert time.monotonic() - t0 < DELIVERY
        assert on_a.next_message(DELIVERY).id == m.id  # and locally, once
        first_id = m.id

        # 2. A third writer (this test process) on the same database wakes both servers.
        t0 = time.monotonic()
        with runtime.db.transaction(actor=system_actor("test")) as tx:
            bob = actions.create_user(
                tx,
                runtime.policy(),
                username="bob",
                display_name="Bob",
                org_unit_id=org.team_b.id,
                password=PASSWORD,
            ).id
        for sub in (on_b, on_a):
            m = sub.next_message(DELIVERY)
            assert (m.event, m.data["object_id"]) == ("user.created", bob)
        assert time.monotonic() - t0 < DELIVERY
        assert m.id is not None and first_id is not None and m.id > first_id
        last_seen = m.id

        # 3. Resume on the other node: disconnect from B, commit through A, reconnect to A
        #    with B's last id: exactly the missed event (ids are the database's, not a node's).
        on_b.close()
        subscribers.remove(on_b)
        on_a.close()
        subscribers.remove(on_a)
        r = httpx.post(
            f"{a.url}/api/users",
            headers={"Authorization": f"Bearer {admin_token}"},
            json={
                "username": "carol",
                "display_name": "Carol",
                "org_unit_id": org.team_a.id,
                "password": PASSWORD,
            },
            timeout=10,
        )
        assert r.status_code == 201, r.text
        resumed = Subscriber(a.url, lead_token, last_event_id=last_seen)
        subscribers.append(resumed)
        m = resumed.next_message(DELIVERY)
        assert (m.event, m.data["object_id"]) == ("user.created", r.json()["id"])
        assert m.id is not None and m.id > last_seen
        with runtime.db.transaction(actor=system_actor("test")) as tx:
            tx.emit(Event(type="test.marker", payload={}, permission="org:read"))
        assert resumed.next_message(DELIVERY).event == "test.marker"  # nothing else between
    finally:
        for sub in subscribers:
            sub.close()
