"""The floor under the end-to-end benchmark: what one HTTP request costs on this machine with
no hotline logic at all, in the server and in a Python client like the load driver.

Starts uvicorn (one process, access log off, as `hotline serve`) with a do-nothing app —
plain Starlette, and FastAPI with a pydantic body and answer like a contact write — and sends
POST requests from an asyncio httpx client (as `hotline.load` does) over keep-alive
connections for a few seconds. Prints requests/s and the CPU time per request of the server
process and of the client process (CPU time is steadier than wall time on a shared machine).

The end-to-end target (500 contacts/s, 4 writes each, plus the agents' reads) needs about
2,000 write requests/s; this shows what the interpreter, the ASGI server and the client cost
for that before any database work:

    uv run python bench/http_floor.py --seconds 5 --concurrency 16
    uv run --with aiohttp python bench/http_floor.py --client both
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import textwrap
import time

import httpx

APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    from pydantic import BaseModel, ConfigDict
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    class ArrivalIn(BaseModel):
        model_config = ConfigDict(extra="forbid")
        channel: str
        address: str
        caller: str | None = None

    class ContactOut(BaseModel):
        id: str
        channel: str
        address: str
        caller: str | None
        status: str

    api = FastAPI()

    @api.post("/api/contacts", status_code=201)
    async def arrive(body: ArrivalIn) -> ContactOut:
        return ContactOut(id="c1", channel=body.channel, address=body.address,
                          caller=body.caller, status="queued")

    async def plain(request):
        body = await request.json()
        return JSONResponse({"id": "c1", **body, "status": "queued"}, status_code=201)

    starlette = Starlette(routes=[Route("/api/contacts", plain, methods=["POST"])])
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


async def _drive(url: str, seconds: float, concurrency: int) -> int:
    body = {"channel": "chat", "address": "web-chat", "caller": "13812345678"}
    done = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        end = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < end:
                r = await client.post("/api/contacts", json=body)
                assert r.status_code == 201, r.text
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


async def _drive_aiohttp(url: str, seconds: float, concurrency: int) -> int:
    import aiohttp  # optional: uv run --with aiohttp python bench/http_floor.py --client aiohttp

    body = {"channel": "chat", "address": "web-chat", "caller": "13812345678"}
    done = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as client:
        end = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < end:
                async with client.post("/api/contacts", json=body) as r:
                    assert r.status == 201, await r.text()
                    await r.read()
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


DRIVERS = {"httpx": _drive, "aiohttp": _drive_aiohttp}


def run(
    app: str, seconds: float, concurrency: int, workdir: str, client: str = "httpx"
) -> dict[str, float]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"floor_app:{app}", "--port", str(port),
         "--no-access-log", "--log-level", "warning"],
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        drive = DRIVERS[client]
        asyncio.run(drive(url, 0.5, concurrency))  # warm up: connections, imports
        s0, c0, t0 = _cpu_seconds(server.pid), time.process_time(), time.monotonic()
        n = asyncio.run(drive(url, seconds, concurrency))
        s1, c1, t1 = _cpu_seconds(server.pid), time.process_time(), time.monotonic()
    finally:
        server.terminate()
        server.wait(10)
    return {
        "rps": n / (t1 - t0),
        "server_ms": (s1 - s0) / n * 1000,
        "client_ms": (c1 - c0) / n * 1000,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--client", default="httpx", help="httpx (as hotline.load), aiohttp or both")
    args = p.parse_args()
    clients = ["httpx", "aiohttp"] if args.client == "both" else [args.client]
    import statistics
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "floor_app.py"), "w") as f:
            f.write(APP)
        print(f"# {' '.join(sys.argv)}")
        print(
            f"# {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
            f" load average {os.getloadavg()[0]:.1f} at start"
        )
        print(
            "| server app | client | requests/s | server CPU ms/request "
            "| client CPU ms/request |"
        )
        print("|---|---|---:|---:|---:|")
        for client in clients:
            for app in ("starlette", "api"):
                runs = [
                    run(app, args.seconds, args.concurrency, tmp, client)
                    for _ in range(args.repeat)
                ]
                med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                name = "Starlette, JSON" if app == "starlette" else "FastAPI, pydantic"
                print(
                    f"| {name} | {client} | {med['rps']:,.0f} | {med['server_ms']:.3f} | "
                    f"{med['client_ms']:.3f} |"
                )
        print(f"# load average {os.getloadavg()[0]:.1f} at end; medians of {args.repeat} runs")


if __name__ == "__main__":
    main()
