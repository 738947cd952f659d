"""`hotline serve` as a real process: a stop (SIGTERM, as systemd sends) ends it promptly even
while browsers hold event streams open — they never end by themselves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from hotline.infra.runtime import Runtime
from hotline.settings import Settings

PASSWORD = "Str0ng-Passw0rd!"
STOP_WITHIN = 10.0  # seconds; systemd's default before SIGKILL is 90


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_ends_serve_with_open_event_streams(
    settings: Settings, runtime: Runtime, org: Any, tmp_path: Path
) -> None:
    org.user("lead", "team_lead", unit="group")  # password: tests/conftest.py PASSWORD
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_DATABASE_URL": settings.database_url,
        "HOTLINE_VAR_DIR": str(settings.var_dir),  # the master key the test's runtime made
        "HOTLINE_RUN_WORKER": "false",
    }
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from hotline.cli.main import app; app()", "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    streams: list[Any] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "hotline serve did not start"
            time.sleep(0.1)
        r = httpx.post(
            f"{url}/api/auth/login", json={"username": "lead", "password": PASSWORD}, timeout=10
        )
        assert r.status_code == 200, r.text
        headers = {"authorization": f"Bearer {r.json()['token']}"}
        for _ in range(3):  # three open desks / wallboards
            client = httpx.Client(base_url=url, headers=headers, timeout=30)
            opened = client.stream("GET", "/api/events")  # kept: dropping it closes the stream
            response = opened.__enter__()
            streams.append((client, opened))
            assert response.status_code == 200
            next(response.iter_lines())  # the stream is open and has said hello

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=STOP_WITHIN + 5)
        took = time.monotonic() - started
        # uvicorn shuts down cleanly, then re-raises the signal: a stop by SIGTERM
        assert code in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()
        assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
        assert took < STOP_WITHIN, took
    finally:
        for client, opened in streams:
            opened.__exit__(None, None, None)
            client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
