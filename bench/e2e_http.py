"""End to end through the HTTP API: sustained contacts/s and arrival→offer latency.

Starts hotline as a real server process (uvicorn, one process, access log off) on a fresh
database in a temp directory — SQLite, and with `--postgres` also a temporary PostgreSQL
database — seeded with the demo floor and simulated agents, then runs the load driver
(`hotline.load`) at increasing arrival rates, `--repeat` runs per rate, and prints a table
of medians: contacts/s accepted, p50/p99 arrival→offer (server: offered_at − arrived_at;
client: request sent → offer seen on the event stream), HTTP errors, lost contacts.

A rate is *sustained* when every run at it has every arrival accepted, loses nothing, gets
no 5xx and finishes every contact within the drain, and the median p99 arrival→offer stays
under 1 s (above, a backlog grows through the run); the target is p99 ≤ 50 ms.

Every run also prints the server's CPU while the contacts arrived (first to last arrival),
per contact and by thread (event loop, worker threads, ticker, job worker) and in the garbage
collector, sampled from /proc inside the server without a profiler.

`--profile` runs the server under yappi (CPU clock, all threads) for one run at
`--profile-rate` and prints where the server's time goes (`--profile-out` keeps all of it).
`--breakdown` measures, in process and one request at a time, the server CPU and SQL
statements of each request of a contact's life and of one event-stream wake-up (steadier
than wall time on a busy machine); with `--calendar` the entry point has business hours:

    uv run python bench/e2e_http.py                        # SQLite, default rates
    uv run python bench/e2e_http.py --postgres --rates 25,50,100
    uv run --with yappi python bench/e2e_http.py --profile --profile-rate 100
    uv run python bench/e2e_http.py --breakdown 200 --calendar
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hotline.domains.routing.simulation import ArrivalProfile, Dist
from hotline.load.driver import run_sync
from hotline.load.plan import Entry, LoadPlan, OfferMode
from hotline.load.report import LoadReport

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# A floor where the agents are never the bottleneck: capacity 4 chats each.
CAPACITY = {"chat": 4}
ENTRIES = (Entry("chat", "web-chat"),)  # → the faults queue
KEEPS_UP_MS = 1000.0  # a median p99 arrival→offer above this means a growing backlog


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the server process --------------------------------------------------------------------
SERVER = r"""
import os, signal, sys
from hotline.api.app import create_app
from hotline.infra.runtime import build_runtime
from hotline.settings import Settings
import uvicorn

settings = Settings()
rt = build_runtime(settings)
profile = os.environ.get("BENCH_PROFILE")
if profile:
    import yappi
    yappi.set_clock_type("cpu")
    yappi.start()
config = uvicorn.Config(create_app(settings, runtime=rt), host="127.0.0.1",
                        port=settings.port, log_level="warning", access_log=False)
server = uvicorn.Server(config)

# Where the server's CPU goes, without a profiler: CPU per thread (from /proc, sampled so
# that worker threads that end are still counted) and time in the garbage collector.
import gc, json, threading, time
_gc = {"seconds": 0.0, "collections": 0, "start": 0.0}

def _gc_callback(phase, info):
    # CPU of the collecting thread (wall time would count waiting for a busy machine's cores)
    if phase == "start":
        _gc["start"] = time.thread_time()
    else:
        _gc["seconds"] += time.thread_time() - _gc["start"]
        _gc["collections"] += 1

gc.callbacks.append(_gc_callback)
_threads = {}  # native id -> (name, CPU seconds)
_TICKS = os.sysconf("SC_CLK_TCK")

def _sample():
    names = {t.native_id: t.name for t in threading.enumerate()}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                comm, rest = f.read().split(" (", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        name = names.get(int(tid)) or _threads.get(int(tid), (f"native {comm}",))[0]
        _threads[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / _TICKS)

_series = []  # (wall time, process CPU, CPU per thread kind, GC seconds, GC collections)

def _sampler():
    while True:
        _sample()
        kinds = {}
        for name, cpu in list(_threads.values()):
            kind = "job worker" if name.startswith("hotline-worker") else name
            kinds[kind] = kinds.get(kind, 0.0) + cpu
        t = os.times()
        _series.append((time.time(), t.user + t.system, kinds, _gc["seconds"], _gc["collections"]))
        time.sleep(0.5)

def _snapshot(path):
    with open(path, "w") as out:
        json.dump(_series, out)

def _watch_stdin():
    # "snapshot PATH" lines ask for the CPU split so far; the bench stops us by closing our
    # stdin: a normal return from run(), so the profile is written (uvicorn re-raises SIGTERM
    # after its shutdown).
    for line in sys.stdin:
        if line.startswith("snapshot "):
            _snapshot(line.split(" ", 1)[1].strip())
    server.should_exit = True

threading.Thread(target=_sampler, name="bench-sampler", daemon=True).start()
threading.Thread(target=_watch_stdin, name="bench-stdin", daemon=True).start()
server.run()
if profile:
    yappi.stop()
    cols = {0: ("name", 90), 1: ("ncall", 10), 2: ("tsub", 9), 3: ("ttot", 9), 4: ("tavg", 9)}
    with open(profile, "w") as out:
        threads = {}
        for t in yappi.get_thread_stats():
            kind = "job worker" if t.name.startswith("hotline-worker") else t.name
            threads[kind] = threads.get(kind, 0.0) + t.ttot
        out.write("== CPU per thread kind (yappi) ==\n")
        for kind, cpu in sorted(threads.items(), key=lambda kv: -kv[1]):
            out.write(f"{kind:40s} {cpu:9.2f} s\n")
        stats = yappi.get_func_stats()
        ours = yappi.get_func_stats(filter_callback=lambda f: "/src/hotline/" in f.module)
        ours.sort("ttot")
        out.write("== hotline functions by total CPU (with callees) ==\n")
        ours.print_all(out=out, columns=cols)
        stats.sort("tsub")
        out.write("\n== all functions by own CPU ==\n")
        stats.print_all(out=out, columns=cols)
"""


def seed(env: dict[str, str], agents: int) -> None:
    """Migrate, seed the demo floor and the simulated users (in a process of its own)."""
    code = (
        "from hotline.infra import demo\n"
        "from hotline.infra.runtime import build_runtime\n"
        "from hotline.settings import Settings\n"
        "rt = build_runtime(Settings())\n"
        "demo.seed(rt)\n"
        f"demo.seed_simulated(rt, agents={agents}, capacity={CAPACITY!r})\n"
        "rt.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]

    def cpu(self) -> list[Any]:
        """The server's CPU every 0.5 s: (wall time, process, per thread name, in the garbage
        collector: seconds, collections)."""
        assert self.proc.stdin is not None
        with tempfile.TemporaryDirectory(prefix="hotline-cpu-") as tmp:
            path = Path(tmp) / "cpu.json"
            self.proc.stdin.write(f"snapshot {path}\n".encode())
            self.proc.stdin.flush()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    return json.loads(path.read_text())  # type: ignore[no-any-return]
                except (OSError, ValueError):  # not (completely) written yet
                    time.sleep(0.05)
        raise SystemExit("the server did not report its CPU")

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(300)  # a profiled server writes its profile first
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(env: dict[str, str], profile: Path | None = None) -> Server:
    port = _free_port()
    env = {**env, "HOTLINE_PORT": str(port)}
    if profile:
        env["BENCH_PROFILE"] = str(profile)
    proc = subprocess.Popen([sys.executable, "-c", SERVER], env=env, stdin=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return Server(url, proc)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("hotline did not start")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("hotline did not answer in 60 s")


# --- runs ----------------------------------------------------------------------------------
def plan(url: str, agents: int, rate: float, seconds: float, offers: OfferMode) -> LoadPlan:
    names = tuple(f"sim-agent{i:03d}" for i in range(1, agents + 1))
    return LoadPlan(
        url=url,
        agents=names,
        password="Hotline-96266!",  # noqa: S106 - the demo password of the seeded accounts
        gateway="sim-gateway",
        monitor="sim-monitor",
        profile=ArrivalProfile.from_rate(rate, hours=seconds / 3600, interval_seconds=seconds),
        entries=ENTRIES,
        think=Dist.constant(0.0),
        handle=Dist.exponential(0.2),
        patience=Dist.constant(600.0),  # nobody abandons: every contact must be offered
        offers=offers,
        drain_seconds=60.0,
        verify=300,  # the unfinished ones and a sample of 300 finished ones
        log_out_at_end=True,
    )


@dataclass
class Row:
    database: str
    offers: str
    rate: float
    reports: list[LoadReport]

    def med(self, f: object) -> float:
        values = [v for v in (f(r) for r in self.reports) if v is not None]  # type: ignore[operator]
        return statistics.median(values) if values else float("nan")

    @property
    def sustained(self) -> bool:
        """hotline keeps up: every run accepted every arrival, lost nothing, answered no 5xx
        and finished every contact within the drain, and the median p99 arrival→offer stays
        under KEEPS_UP_MS (beyond that a backlog grows through the run)."""
        return (
            all(
                r.ok and r.live_at_end == 0 and r.created == r.sent and r.errors_5xx == 0
                for r in self.reports
            )
            and self.med(lambda r: r.server_offer.p99) <= KEEPS_UP_MS
        )

    def line(self) -> str:
        return (
            f"| {self.database} | {self.offers} | {self.rate:g} "
            f"| {self.med(lambda r: r.contacts_per_second):.1f} "
            f"| {self.med(lambda r: r.server_offer.p50):.1f} "
            f"| {self.med(lambda r: r.server_offer.p99):.1f} "
            f"| {self.med(lambda r: r.client_offer.p50):.1f} "
            f"| {self.med(lambda r: r.client_offer.p99):.1f} "
            f"| {self.med(lambda r: r.arrival_rtt.p99):.1f} "
            f"| {sum(r.errors_5xx for r in self.reports)} "
            f"| {sum(len(r.lost) for r in self.reports)} "
            f"| {self.med(lambda r: r.client_cpu_seconds / r.run_seconds * 100):.0f} % "
            f"| {'yes' if self.sustained else 'no'} |"
        )


HEADER = (
    "| database | offers via | target /s | contacts/s | server p50 ms | server p99 ms "
    "| client p50 ms | client p99 ms | arrival RTT p99 ms | 5xx | lost | driver CPU "
    "| sustained |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


THREAD_KINDS = (
    ("MainThread", "event loop"),
    ("AnyIO worker thread", "worker threads"),
    ("routing-ticker", "routing ticker"),
    ("job worker", "job worker"),
)


def arrival_times(env: dict[str, str], since: float) -> list[float]:
    """When the contacts that arrived after `since` (wall clock) arrived, from the database."""
    import sqlalchemy as sa

    from hotline.infra.db.schema import contacts

    url = env["HOTLINE_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(contacts.c.arrived_at)).scalars().all()
    finally:
        engine.dispose()
    return sorted(t for t in (r.timestamp() for r in rows) if t >= since)


def cpu_split(series: list[Any], arrivals: list[float]) -> str:
    """One line: the server's CPU while the contacts arrived (from the first arrival to the
    last, which leaves out the agents' logins and the drain), per contact and by thread."""
    if len(arrivals) < 2:
        return "#   server CPU: no arrivals"
    inside = [s for s in series if arrivals[0] <= s[0] <= arrivals[-1]]
    if len(inside) < 2:
        return "#   server CPU: window too short"
    (t0, p0, k0, g0, n0), (t1, p1, k1, g1, n1) = inside[0], inside[-1]
    seconds, total = t1 - t0, p1 - p0
    count = sum(1 for a in arrivals if t0 <= a < t1)
    parts = []
    named = 0.0
    for key, label in THREAD_KINDS:
        used = k1.get(key, 0.0) - k0.get(key, 0.0)
        named += used
        parts.append(f"{label} {100 * used / total:.0f} %")
    for key in sorted(set(k1) - {k for k, _ in THREAD_KINDS}):
        used = k1[key] - k0.get(key, 0.0)
        if used >= 0.05:
            named += used
            parts.append(f"{key} {100 * used / total:.0f} %")
    parts.append(f"unattributed {100 * (total - named) / total:.0f} %")
    return (
        f"#   server CPU while contacts arrived ({seconds:.1f} s, {count} contacts): "
        f"{100 * total / seconds:.0f} % of a core, {1000 * total / max(count, 1):.1f} ms per "
        f"contact; {', '.join(parts)}; GC {100 * (g1 - g0) / total:.0f} % ({n1 - n0} "
        f"collections)"
    )


def sweep(
    database: str, env: dict[str, str], args: argparse.Namespace, offers: OfferMode
) -> list[Row]:
    rows: list[Row] = []
    server = start_server(env)
    try:
        for rate in args.rates:
            row = Row(database, offers.value, rate, [])
            for i in range(args.repeat):
                since = time.time()
                report = run_sync(plan(server.url, args.agents, rate, args.seconds, offers))
                row.reports.append(report)
                print(cpu_split(server.cpu(), arrival_times(env, since)), flush=True)
                print(
                    f"# {database} {offers.value} {rate:g}/s run {i + 1}: "
                    f"{report.contacts_per_second:.1f}/s, server p99 "
                    f"{report.server_offer.p99}, client p99 {report.client_offer.p99}, "
                    f"lost {len(report.lost)}, 5xx {report.errors_5xx}, "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                if not report.ok:
                    print(report.format(), flush=True)
            rows.append(row)
            print(row.line(), flush=True)
            if not row.sustained and not args.all_rates:
                break
    finally:
        server.stop()
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--rates", default="25,50,100,200,400,500", type=lambda s: [float(x) for x in s.split(",")]
    )
    p.add_argument("--seconds", type=float, default=15.0, help="arrival window per run")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--agents", type=int, default=40)
    p.add_argument("--offers", default="stream", help="stream, poll or both")
    p.add_argument("--postgres", action="store_true", help="also on a temporary PG database")
    p.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--all-rates", action="store_true", help="go on after a failed rate")
    p.add_argument("--profile", action="store_true", help="one profiled run (needs yappi)")
    p.add_argument("--profile-rate", type=float, default=100.0)
    p.add_argument("--profile-out", help="also write the whole profile to this file")
    p.add_argument("--breakdown", type=int, default=0, help="N contacts, one request at a time")
    p.add_argument(
        "--calendar",
        action="store_true",
        help="with --breakdown: the entry point has business hours (open now, 30 overrides)",
    )
    args = p.parse_args()
    if args.breakdown:
        with tempfile.TemporaryDirectory(prefix="hotline-e2e-") as tmp:
            print(f"# command: {' '.join(sys.argv)}; load average {os.getloadavg()[0]:.2f}")
            breakdown(args.breakdown, tmp, calendar=args.calendar)
        return
    modes = (
        [OfferMode.stream, OfferMode.poll] if args.offers == "both" else [OfferMode(args.offers)]
    )

    print(f"# command: {' '.join(sys.argv)}")
    print(
        f"# machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="hotline-e2e-") as tmp:
        base = {**os.environ, "HOTLINE_VAR_DIR": tmp, "HOTLINE_RUN_WORKER": "true"}
        targets: list[tuple[str, dict[str, str], str | None]] = []
        if args.sqlite:
            targets.append(
                ("SQLite", {**base, "HOTLINE_DATABASE_URL": f"sqlite:///{tmp}/hotline.db"}, None)
            )
        if args.postgres:
            name = f"hotline_e2e_{uuid.uuid4().hex[:8]}"
            targets.append(
                (
                    "PostgreSQL",
                    {**base, "HOTLINE_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name},
                    name,
                )
            )
        for database, env, pg_name in targets:
            if pg_name:
                _pg("CREATE", pg_name)
            try:
                seed(env, args.agents)
                if args.profile:
                    out = Path(tmp) / "profile.txt"
                    server = start_server(env, profile=out)
                    try:
                        since = time.time()
                        report = run_sync(
                            plan(server.url, args.agents, args.profile_rate, args.seconds, modes[0])
                        )
                        split = cpu_split(server.cpu(), arrival_times(env, since))
                    finally:
                        server.stop()
                    print(report.format())
                    print(split)
                    text = out.read_text()
                    if args.profile_out:
                        Path(args.profile_out).write_text(text)
                    print(text[:20000])
                    continue
                for mode in modes:
                    rows += sweep(database, env, args, mode)
            finally:
                if pg_name:
                    _pg("DROP", pg_name)
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if rows:
        print(HEADER)
        for row in rows:
            print(row.line())


def open_calendar(rt: Any, address: str) -> None:
    """Give the entry point at `address` business hours that are open now: every day around
    the clock, with 30 date overrides (a year's public holidays and make-up days) from 60 days
    on, so that reading and parsing it costs what a real one does."""
    import datetime as dt

    from hotline.core.context import system_actor
    from hotline.domains.calendars import actions as calendars
    from hotline.domains.routing import actions as routing
    from hotline.domains.routing.model import Channel

    first = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=60)
    overrides = [
        {
            "date": (first + dt.timedelta(days=3 * i)).isoformat(),
            "hours": [] if i % 3 else [["08:30", "18:00"]],
            "note": "节假日" if i % 3 else "调休上班",
        }
        for i in range(30)
    ]
    with rt.db.transaction(actor=system_actor("bench")) as tx:
        cal = calendars.create_calendar(
            tx,
            code="bench-hours",
            name="bench",
            timezone="Asia/Shanghai",
            weekly={
                d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
            overrides=overrides,
        )
        entry = tx.routing.entry_point_at(Channel.chat, address)
        assert entry is not None
        routing.update_entry_point(tx, entry_point_id=entry.id, calendar_id=cal.id)


def breakdown(n: int, tmp: str, *, calendar: bool = False) -> None:
    """Server CPU (process time) and statements per request, sequential, in process."""
    from collections import Counter, defaultdict

    import sqlalchemy as sa
    from fastapi.testclient import TestClient

    from hotline.api.app import create_app
    from hotline.domains.identity.queries import actor_for
    from hotline.infra import demo
    from hotline.infra.db.schema import outbox
    from hotline.infra.db.stores.identity import SqlIdentityStore
    from hotline.infra.events.stream import fetch_after, latest_id
    from hotline.infra.runtime import build_runtime
    from hotline.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tmp}/breakdown.db", var_dir=tmp, run_worker=False)
    rt = build_runtime(settings)
    demo.seed(rt)
    sim = demo.seed_simulated(rt, agents=1, capacity=CAPACITY)
    if calendar:
        open_calendar(rt, ENTRIES[0].address)
    statements: Counter[str] = Counter()
    current = ["setup"]

    @sa.event.listens_for(rt.engine, "before_cursor_execute")
    def _count(*_: object) -> None:
        statements[current[0]] += 1

    # The routing transaction of each write, split around the action: before it (connection,
    # BEGIN IMMEDIATE, lease check) and after it (audit tail, seal and insert, outbox insert,
    # COMMIT, notify): the per-transaction part that group commit could share.
    split: Counter[str] = Counter()
    execute = rt.routing.execute

    def timed_execute(actor: Any, fn: Any) -> Any:
        marks: dict[str, float] = {}

        def action(tx: Any, engine: Any) -> Any:
            marks["start"] = time.process_time()
            try:
                return fn(tx, engine)
            finally:
                marks["end"] = time.process_time()

        begin = time.process_time()
        try:
            return execute(actor, action)
        finally:
            if "end" in marks:
                done = time.process_time()
                split["writes"] += 1
                split["whole"] += done - begin
                split["before"] += marks["start"] - begin
                split["after"] += done - marks["end"]

    rt.routing.execute = timed_execute  # type: ignore[method-assign]
    cpu: dict[str, list[float]] = defaultdict(list)
    with TestClient(create_app(settings, runtime=rt)) as c:

        def bearer(username: str, scopes: list[str]) -> tuple[dict[str, str], str]:
            r = c.post("/api/auth/login", json={"username": username, "password": sim.password})
            session = {"authorization": "Bearer " + r.json()["token"]}
            t = c.post("/api/me/tokens", json={"name": "b", "scopes": scopes}, headers=session)
            c.cookies.clear()
            return {"authorization": "Bearer " + t.json()["token"]}, r.json()["user"]["id"]

        gateway, _ = bearer(sim.gateway, ["contact:route"])
        agent, agent_id = bearer(sim.agents[0], ["agent:self", "contact:handle"])
        c.post(
            "/api/me/agent", json={"action": "login", "seat": "B1", "ready": True}, headers=agent
        )

        def step(name: str, method: str, path: str, headers: dict[str, str], **kw: object) -> dict:
            current[0] = name
            t = time.process_time()
            r = c.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
            cpu[name].append((time.process_time() - t) * 1000)
            assert r.status_code < 300, (name, r.status_code, r.text)
            return r.json()  # type: ignore[no-any-return]

        body = {"channel": "chat", "address": "web-chat", "caller": "13800001234"}
        first = latest_id(rt.db)
        for _ in range(n):
            cid = step("arrive", "POST", "/api/contacts", gateway, json=body)["id"]
            step("GET /api/me/agent (a poll)", "GET", "/api/me/agent", agent)
            step("accept", "POST", f"/api/contacts/{cid}/accept", agent)
            step("end", "POST", f"/api/contacts/{cid}/end", agent)
            step(
                "wrap-up", "POST", f"/api/contacts/{cid}/wrap-up", agent, json={"code": "resolved"}
            )
        current[0] = "other"
        with rt.db.read() as conn:
            rows = conn.execute(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.id > first)
            ).scalar_one()
            store = SqlIdentityStore(conn)
            user = store.user(agent_id)
            assert user is not None
            actor = actor_for(store, user, ip=None)
        last = latest_id(rt.db)
        wakes = []
        for _ in range(300):
            t = time.process_time()
            fetch_after(rt.db, actor, last - 6)
            wakes.append((time.process_time() - t) * 1000)
    rt.close()
    print("| request | server CPU median ms | p95 ms | SQL statements |\n|---|---:|---:|---:|")
    total = 0.0
    for name, values in cpu.items():
        values.sort()
        if "poll" not in name:
            total += statistics.mean(values)
        print(
            f"| {name} | {statistics.median(values):.1f} | {values[int(len(values) * 0.95)]:.1f} "
            f"| {statements[name] / n:.0f} |"
        )
    print(
        f"| event stream wake-up (`fetch_after`, 6 new rows) | {statistics.median(wakes):.2f} | "
        f"| 1 |"
    )
    print(
        f"\nwrite path per contact (4 requests, mean CPU): {total:.1f} ms → at most "
        f"{1000 / total:.0f} contacts/s per core without event streams; outbox rows per contact "
        f"≈ {rows / n:.1f}"
    )
    if split["writes"]:
        per = {k: 1000 * split[k] / split["writes"] for k in ("whole", "before", "after")}
        print(
            f"routing transaction per write (mean CPU): {per['whole']:.2f} ms, of which "
            f"{per['before']:.2f} before the action (connection, BEGIN IMMEDIATE, lease check) "
            f"and {per['after']:.2f} after it (audit tail, seal and insert, outbox insert, "
            f"COMMIT, notify)"
        )


def _pg(verb: str, name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(
        PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        suffix = " WITH (FORCE)" if verb == "DROP" else ""
        c.exec_driver_sql(f'{verb} DATABASE "{name}"{suffix}')
    admin.dispose()


if __name__ == "__main__":
    main()
