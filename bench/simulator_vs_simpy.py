"""Simulator speed: calls per second through the production routing engine vs SimPy.

Every implementation simulates the same M/M/N (+M) contact center — Poisson arrivals, exponential
handle times, optional exponential patience, FIFO, no wrap-up, instant answer — for the same
number of calls, and reports its KPIs next to the exact Erlang C / A values, so that the speed
comparison is between models that agree:

- hotline simulator: `hotline.domains.routing.simulation.simulate`, i.e. the heap-based loop
  driving the real `RoutingEngine` (every offer, accept, end and abandon is an engine call that
  builds events, which the loop mirrors to schedule what happens next and to keep KPIs);
- engine floor: the least any driver of this engine can do — the same heap loop with no KPIs,
  no mirroring, no schedules, only the engine calls (enqueue, accept, end_contact, abandon);
- SimPy: `simpy.Resource(capacity=N)`; a process per call, patience as `request | timeout`;
- bare heap loop: a counter of free agents and a FIFO deque (what a loop without an ACD costs).

calls/s = arrivals simulated / wall time of the run (median of --repeat runs, after one
untimed warm-up run of each). CPU time is reported too: the machine is shared, CPU time is the
steadier figure. KPIs count arrivals after the first 10 % of the horizon.

    uv run python bench/simulator_vs_simpy.py                       # M/M/100, 90 Erlangs
    uv run python bench/simulator_vs_simpy.py --patience 180        # M/M/100+M
    uv run python bench/simulator_vs_simpy.py --profile             # + cProfile of hotline
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import heapq
import io
import math
import os
import platform
import pstats
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import simpy

from hotline.core.clock import UTC
from hotline.domains.routing import events as ev
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import Channel, QueueConfig, SkillRequirement
from hotline.domains.routing.simulation import (
    ArrivalProfile,
    Dist,
    Scenario,
    SimQueue,
    simulate,
    team,
)
from hotline.domains.workforce import erlang

SL_SECONDS = 20.0
WARM_SHARE = 0.1


@dataclass
class Kpis:
    offered: int = 0
    waited: int = 0
    answered: int = 0
    answered_in: int = 0
    abandoned: int = 0
    wait_sum: float = 0.0

    def row(self) -> tuple[float, float, float, float]:
        n = max(self.offered, 1)
        asa = self.wait_sum / self.answered if self.answered else math.nan
        return self.waited / n, asa, self.answered_in / n, self.abandoned / n


@dataclass
class Params:
    agents: int
    load: float
    aht: float
    patience: float | None
    calls: int

    @property
    def rate(self) -> float:
        return self.load / self.aht

    @property
    def horizon(self) -> float:
        return self.calls / self.rate


# ------------------------------------------------------------------ hotline simulator


def run_hotline(p: Params, seed: int) -> tuple[int, Kpis]:
    cfg = QueueConfig("q", skills=(SkillRequirement("s", 1),), wrap_up_seconds=0)
    sc = Scenario(
        queues=(
            SimQueue(
                cfg,
                ArrivalProfile.from_rate(p.rate, p.horizon / 3600, p.horizon),
                Dist.exponential(p.aht),
                patience=None if p.patience is None else Dist.exponential(p.patience),
            ),
        ),
        agents=team("a", p.agents, {"s": 1}),
        warmup_seconds=WARM_SHARE * p.horizon,
        duration_seconds=p.horizon,
    )
    r = simulate(sc, seed)
    k = r.queue("q")
    return r.arrivals, Kpis(
        k.offered, k.waited, k.answered, k.answered_within_target, k.abandoned,
        k.wait_answered_seconds,
    )  # fmt: skip


# ------------------------------------------------------------------ engine floor


class _Clock:
    """The cheapest clock the engine accepts (Clock protocol)."""

    def __init__(self) -> None:
        self.t = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def now(self) -> dt.datetime:
        return self.t


def run_engine_floor(p: Params, seed: int) -> tuple[int, Kpis]:
    clock = _Clock()
    start = clock.t
    engine = RoutingEngine(
        clock=clock,
        queues=[QueueConfig("q", skills=(SkillRequirement("s", 1),), wrap_up_seconds=0)],
    )
    for i in range(p.agents):
        engine.login(f"a{i}", skills={"s": 1}, ready=True)
    rng = random.Random(seed)
    expo = rng.expovariate
    lam, mu = p.rate, 1.0 / p.aht
    theta = None if p.patience is None else 1.0 / p.patience
    heap: list[tuple[float, int, int, str]] = [(expo(lam), 0, 0, "")]
    push, pop = heapq.heappush, heapq.heappop
    seq = 0
    n = 0
    connected: set[str] = set()
    in_engine: set[str] = set()
    offered_t = ev.ContactOffered
    voice = Channel.voice
    td = dt.timedelta
    accept, end, enqueue, abandon = (
        engine.accept, engine.end_contact, engine.enqueue, engine.abandon,
    )  # fmt: skip

    def take(events: list[Any], t: float) -> None:
        nonlocal seq
        for e in events:
            if type(e) is offered_t:
                accept(e.contact_id, e.agent_id)
                connected.add(e.contact_id)
                seq += 1
                push(heap, (t + expo(mu), seq, 1, e.contact_id))

    while heap:
        t, _, kind, cid = pop(heap)
        clock.t = start + td(seconds=t)
        if kind == 0:
            n += 1
            cid = str(n)
            in_engine.add(cid)
            take(enqueue("q", voice, contact_id=cid), t)
            if theta is not None and cid not in connected:
                seq += 1
                push(heap, (t + expo(theta), seq, 2, cid))
            if n < p.calls:
                seq += 1
                push(heap, (t + expo(lam), seq, 0, ""))
        elif kind == 1:
            connected.discard(cid)
            in_engine.discard(cid)
            take(end(cid), t)
        elif cid in in_engine and cid not in connected:
            in_engine.discard(cid)
            take(abandon(cid), t)
    return n, Kpis()


# ------------------------------------------------------------------ SimPy


def run_simpy(p: Params, seed: int) -> tuple[int, Kpis]:
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=p.agents)
    rng = random.Random(seed)
    expo = rng.expovariate
    lam, mu = p.rate, 1.0 / p.aht
    theta = None if p.patience is None else 1.0 / p.patience
    warm = WARM_SHARE * p.horizon
    k = Kpis()

    def call(arrived: float) -> Any:
        measured = arrived >= warm
        req = agents.request()
        if measured:
            k.offered += 1
            if not req.triggered:
                k.waited += 1
        if theta is not None and not req.triggered:
            result = yield req | env.timeout(expo(theta))
            if req not in result:
                req.cancel()
                if measured:
                    k.abandoned += 1
                return
        else:
            yield req
        wait = env.now - arrived
        if measured:
            k.answered += 1
            k.wait_sum += wait
            if wait <= SL_SECONDS:
                k.answered_in += 1
        yield env.timeout(expo(mu))
        agents.release(req)

    def source() -> Any:
        for _ in range(p.calls):
            yield env.timeout(expo(lam))
            env.process(call(env.now))

    env.process(source())
    env.run()
    return p.calls, k


# ------------------------------------------------------------------ bare heap loop


def run_bare(p: Params, seed: int) -> tuple[int, Kpis]:
    rng = random.Random(seed)
    expo = rng.expovariate
    lam, mu = p.rate, 1.0 / p.aht
    theta = None if p.patience is None else 1.0 / p.patience
    warm = WARM_SHARE * p.horizon
    free = p.agents
    line: deque[tuple[float, float]] = deque()  # (arrival, gives up at)
    heap: list[tuple[float, int, int]] = [(expo(lam), 0, 0)]
    push, pop = heapq.heappush, heapq.heappop
    seq = 0
    n = 0
    k = Kpis()
    inf = math.inf
    while heap:
        t, _, kind = pop(heap)
        if kind == 0:
            n += 1
            if n < p.calls:
                seq += 1
                push(heap, (t + expo(lam), seq, 0))
            measured = t >= warm
            if measured:
                k.offered += 1
            if free:
                free -= 1
                if measured:
                    k.answered += 1
                    k.answered_in += 1
                seq += 1
                push(heap, (t + expo(mu), seq, 1))
            else:
                if measured:
                    k.waited += 1
                line.append((t, inf if theta is None else t + expo(theta)))
        else:
            while line:
                arrived, gives_up = line.popleft()
                if gives_up <= t:  # hung up while waiting, before this agent got free
                    if arrived >= warm:
                        k.abandoned += 1
                    continue
                if arrived >= warm:
                    wait = t - arrived
                    k.answered += 1
                    k.wait_sum += wait
                    if wait <= SL_SECONDS:
                        k.answered_in += 1
                seq += 1
                push(heap, (t + expo(mu), seq, 1))
                break
            else:
                free += 1
    k.abandoned += sum(1 for a, _ in line if a >= warm)
    return n, k


# ------------------------------------------------------------------ harness


def timed(
    fn: Callable[[Params, int], tuple[int, Kpis]], p: Params, seed: int
) -> tuple[float, float, int, Kpis]:
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    n, k = fn(p, seed)
    return time.perf_counter() - w0, time.process_time() - c0, n, k


def exact(p: Params) -> tuple[float, float, float, float]:
    lam = p.rate
    if p.patience is None:
        return (
            float(erlang.erlang_c_p_wait(p.agents, lam, p.aht)),
            float(erlang.erlang_c_asa(p.agents, lam, p.aht)),
            float(erlang.erlang_c_service_level(p.agents, lam, p.aht, SL_SECONDS)),
            0.0,
        )
    a = (p.agents, lam, p.aht, p.patience)
    return (
        float(erlang.erlang_a_p_wait(*a)),
        float(erlang.erlang_a_asa(*a)),
        float(erlang.erlang_a_service_level(*a, SL_SECONDS)),
        float(erlang.erlang_a_p_abandon(*a)),
    )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def profile_hotline(p: Params, top: int) -> None:
    prof = cProfile.Profile()
    prof.enable()
    run_hotline(p, 99)
    prof.disable()
    st = pstats.Stats(prof)
    by_file: dict[str, float] = {}
    total = 0.0
    for (filename, _, _), (_, _, tt, _, _) in st.stats.items():  # type: ignore[attr-defined]
        name = os.path.basename(filename) if filename.startswith("/") else filename
        by_file[name] = by_file.get(name, 0.0) + tt
        total += tt
    print(f"\n### cProfile of the hotline simulator ({p.calls:,} calls), own time by file\n")
    print("| file | own time s | share |")
    print("|---|---:|---:|")
    for name, tt in sorted(by_file.items(), key=lambda kv: -kv[1])[:10]:
        print(f"| {name} | {tt:.2f} | {tt / total:.0%} |")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    print(f"\n### top {top} functions by own time\n")
    print("```")
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    for line in lines[start:]:
        if line.strip():
            print(line.replace(os.getcwd() + "/", ""))
    print("```")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--load", type=float, default=90.0, help="offered load, Erlangs")
    ap.add_argument("--aht", type=float, default=180.0)
    ap.add_argument("--patience", type=float, default=None, help="mean, s (default: none)")
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="cProfile the hotline simulator")
    ap.add_argument("--profile-calls", type=int, default=50_000)
    a = ap.parse_args()
    p = Params(a.agents, a.load, a.aht, a.patience, a.calls)
    impls: list[tuple[str, Callable[[Params, int], tuple[int, Kpis]]]] = [
        ("hotline simulator (production engine)", run_hotline),
        ("engine floor (engine calls only, no KPIs)", run_engine_floor),
        (f"SimPy {version('simpy')}", run_simpy),
        ("bare heap loop (no ACD)", run_bare),
    ]
    small = Params(a.agents, a.load, a.aht, a.patience, max(2_000, a.calls // 50))
    results: dict[str, list[tuple[float, float, int, Kpis]]] = {}
    for _, fn in impls:
        fn(small, a.seed)  # warm-up: imports, caches
    for r in range(a.repeat):
        for name, fn in impls:  # interleaved, so that load changes hit all alike
            res = timed(fn, p, a.seed + r)
            results.setdefault(name, []).append(res)
            print(f"  run {r + 1}: {name}: {res[2] / res[0]:,.0f} calls/s", file=sys.stderr)
    cmd = "uv run python bench/simulator_vs_simpy.py " + " ".join(sys.argv[1:])
    load_avg = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    model = f"M/M/{p.agents}" + ("" if p.patience is None else "+M")
    print(f"command: `{cmd.strip()}`\n")
    print(
        f"machine: nproc={os.cpu_count()}, CPU: {cpu_model()}, Python "
        f"{platform.python_version()}, load average at end {load_avg}\n"
    )
    print(
        f"model: {model}, {p.load:g} Erlangs (ρ = {p.load / p.agents:.2f}), AHT {p.aht:g} s, "
        + ("no abandonment" if p.patience is None else f"patience {p.patience:g} s")
        + f", {p.calls:,} calls per run, {a.repeat} runs (seeds {a.seed}..{a.seed + a.repeat - 1})"
        ", KPIs count arrivals after a 10 % warm-up\n"
    )
    rates = {n: statistics.median(x[2] / x[0] for x in rs) for n, rs in results.items()}
    cpu_rates = {n: statistics.median(x[2] / x[1] for x in rs) for n, rs in results.items()}
    base = next(n for n in rates if n.startswith("SimPy"))
    print(
        "| implementation | calls/s (median wall) | min–max | calls/s (median CPU) "
        "| × SimPy (wall) | × SimPy (CPU) | P(wait) | ASA s | answered ≤ 20 s / offered "
        "| abandoned |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, rs in results.items():
        speeds = sorted(x[2] / x[0] for x in rs)
        rows = [x[3].row() for x in rs if x[3].offered]
        if rows:
            pw, asa, sl, ab = (statistics.fmean(col) for col in zip(*rows, strict=True))
            kp = f"| {pw:.2%} | {asa:.2f} | {sl:.2%} | {ab:.2%}"
        else:
            kp = "| – | – | – | –"
        print(
            f"| {name} | {rates[name]:,.0f} | {speeds[0]:,.0f}–{speeds[-1]:,.0f} "
            f"| {cpu_rates[name]:,.0f} | {rates[name] / rates[base]:.2f}× "
            f"| {cpu_rates[name] / cpu_rates[base]:.2f}× {kp} |"
        )
    pw, asa, sl, ab = exact(p)
    label = "Erlang C" if p.patience is None else "Erlang A"
    print(f"| exact ({label}) | | | | | | {pw:.2%} | {asa:.2f} | {sl:.2%} | {ab:.2%} |")
    print(
        f"\nKPIs: mean over the {a.repeat} runs of each implementation (each draws its own "
        "random numbers; SimPy and the bare loop draw theirs in the same order, hence equal KPIs)."
    )
    if a.profile:
        profile_hotline(Params(a.agents, a.load, a.aht, a.patience, a.profile_calls), 30)


if __name__ == "__main__":
    main()
