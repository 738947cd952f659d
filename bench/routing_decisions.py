"""Routing decisions per second: the indexed RoutingEngine against a naive linear scan.

A decision is one offer: made when a contact arrives and an agent is free, or when an agent
becomes ready (wrap-up done) and a contact waits. Both implementations run the same seeded
discrete-event simulation of a voice contact center (32 skills, one queue per skill, agents
with 3–6 skills, Poisson arrivals spread over queues in proportion to the staff who can serve
them, exponential handle times, fixed wrap-up) at a target occupancy, and we time every call
that makes an offer. decisions/s = decisions / total time spent in those calls.

The baseline keeps a FIFO deque per queue and, on each arrival, scans all agents for the
ready, skilled one idle the longest. It builds the same event objects as the engine, so the
comparison is about finding the match, not about bookkeeping.

    uv run python bench/routing_decisions.py            # full table (a few minutes)
    uv run python bench/routing_decisions.py --quick    # smaller run
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import heapq
import os
import platform
import random
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass

from hotline.core.clock import UTC, ManualClock
from hotline.domains.routing import events as ev
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import (
    AgentState,
    Channel,
    QueueConfig,
    SkillRequirement,
)

V = Channel.voice
SKILLS = 32
HANDLE_MEAN = 120.0  # seconds
WRAP = 10.0  # seconds, ended by the agent (finish_wrap_up), never by the engine's timer
START = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


# ------------------------------------------------------------------ the naive baseline


@dataclass(slots=True)
class _NAgent:
    id: str
    skills: dict[str, int]
    queues: list[str]
    state: AgentState
    idle_since: float


class NaiveACD:
    """Longest-idle routing by a linear scan over every agent; FIFO deque per queue."""

    def __init__(self, agents: list[tuple[str, dict[str, int]]], queues: list[QueueConfig]):
        self.req = {q.id: (q.skills[0].skill, q.skills[0].min_level) for q in queues}
        self.lines: dict[str, deque[tuple[float, str]]] = {q.id: deque() for q in queues}
        self.agents = [
            _NAgent(
                aid,
                sk,
                [qid for qid, (s, lvl) in self.req.items() if sk.get(s, 0) >= lvl],
                AgentState.ready,
                0.0,
            )
            for aid, sk in agents
        ]
        self.by_id = {a.id: a for a in self.agents}
        self.contact_queue: dict[str, str] = {}

    def _offer(self, cid: str, a: _NAgent, qid: str, now: float, at: dt.datetime) -> list[object]:
        old = a.state
        a.state = AgentState.reserved
        return [
            ev.ContactOffered(at, cid, a.id, qid, 0, at, False),
            ev.AgentStateChanged(at, a.id, old, AgentState.reserved),
        ]

    def enqueue(self, cid: str, qid: str, now: float, at: dt.datetime) -> list[object]:
        out: list[object] = [ev.ContactQueued(at, cid, qid, V, 0, False, 0)]
        skill, level = self.req[qid]
        best: _NAgent | None = None
        ready = AgentState.ready
        for a in self.agents:  # the linear scan
            if (
                a.state is ready
                and a.skills.get(skill, 0) >= level
                and (best is None or a.idle_since < best.idle_since)
            ):
                best = a
        self.contact_queue[cid] = qid
        if best is None:
            self.lines[qid].append((now, cid))
            return out
        return out + self._offer(cid, best, qid, now, at)

    def accept(self, cid: str, aid: str, at: dt.datetime) -> None:
        self.by_id[aid].state = AgentState.busy

    def end(self, cid: str, aid: str, at: dt.datetime) -> None:
        self.by_id[aid].state = AgentState.wrap_up
        del self.contact_queue[cid]

    def finish_wrap_up(self, aid: str, now: float, at: dt.datetime) -> list[object]:
        a = self.by_id[aid]
        a.state = AgentState.ready
        a.idle_since = now
        out: list[object] = [ev.AgentStateChanged(at, aid, AgentState.wrap_up, a.state)]
        best_q = None
        best_t = 0.0
        for qid in a.queues:
            line = self.lines[qid]
            if line and (best_q is None or line[0][0] < best_t):
                best_q, best_t = qid, line[0][0]
        if best_q is None:
            return out
        _, cid = self.lines[best_q].popleft()
        return out + self._offer(cid, a, best_q, now, at)

    def tick(self, at: dt.datetime) -> None:
        return None


# ------------------------------------------------------------------ the engine, same interface


class EngineACD:
    def __init__(self, agents: list[tuple[str, dict[str, int]]], queues: list[QueueConfig]) -> None:
        self.clock = ManualClock(START)
        self.engine = RoutingEngine(clock=self.clock, queues=queues)
        for aid, sk in agents:
            self.engine.login(aid, skills=sk, ready=True)

    def enqueue(self, cid: str, qid: str, now: float, at: dt.datetime) -> list[object]:
        return list(self.engine.enqueue(qid, V, contact_id=cid))

    def accept(self, cid: str, aid: str, at: dt.datetime) -> None:
        self.engine.accept(cid, aid)

    def end(self, cid: str, aid: str, at: dt.datetime) -> None:
        self.engine.end_contact(cid)

    def finish_wrap_up(self, aid: str, now: float, at: dt.datetime) -> list[object]:
        return list(self.engine.finish_wrap_up(aid))

    def tick(self, at: dt.datetime) -> None:
        self.engine.tick()


# ------------------------------------------------------------------ the simulation


def make_center(
    n_agents: int, seed: int
) -> tuple[list[tuple[str, dict[str, int]]], list[QueueConfig]]:
    rng = random.Random(seed)
    names = [f"s{i:02d}" for i in range(SKILLS)]
    agents = [
        (
            f"a{i:05d}",
            {
                names[j]: rng.randint(1, 10)
                for j in sorted(rng.sample(range(SKILLS), rng.randint(3, 6)))
            },
        )
        for i in range(n_agents)
    ]
    # A few queues ask for experienced staff: not every skilled agent qualifies.
    queues = [
        QueueConfig(
            f"q{i:02d}",
            skills=(SkillRequirement(names[i], 4 if i % 8 == 0 else 1),),
            channels=frozenset({V}),
            wrap_up_seconds=3600,  # the agent ends wrap-up itself (finish_wrap_up)
        )
        for i in range(SKILLS)
    ]
    return agents, queues


@dataclass
class Result:
    decisions: int
    times_ns: list[int]
    occupancy: float
    other_calls: int
    other_ns: int


def simulate(
    impl_cls: type[NaiveACD] | type[EngineACD],
    n_agents: int,
    occupancy: float,
    decisions: int,
    seed: int,
) -> Result:
    agents, queues = make_center(n_agents, seed)
    impl = impl_cls(agents, queues)
    qualified = {
        q.id: sum(1 for _, sk in agents if sk.get(q.skills[0].skill, 0) >= q.skills[0].min_level)
        for q in queues
    }
    qids = [q.id for q in queues]
    weights = [qualified[qid] for qid in qids]
    rate = occupancy * n_agents / (HANDLE_MEAN + WRAP)  # arrivals per second
    rng = random.Random(seed + 1)
    gc.collect()
    gc.freeze()  # the agents are long-lived: keep the collector off them, as a server would
    perf = time.perf_counter_ns
    # (time, seq, kind, a, b): 0 = arrival, 1 = end of contact, 2 = end of wrap-up.
    todo: list[tuple[float, int, int, str, str]] = [(rng.expovariate(rate), 0, 0, "", "")]
    seq = 0
    n_contacts = 0
    busy = 0
    measuring = False
    warm_until = 2 * (HANDLE_MEAN + WRAP)  # seconds simulated before measuring
    made = 0
    times: list[int] = []
    other_calls = 0
    other_ns = 0
    busy_samples = 0.0
    samples = 0
    next_tick = 10.0

    def handle(out: list[object], now: float, dur: int) -> None:
        nonlocal seq, busy, made, measuring
        n_off = 0
        for e in out:
            if isinstance(e, ev.ContactOffered):
                n_off += 1
                busy += 1
                impl.accept(e.contact_id, e.agent_id, at)
                seq += 1
                heapq.heappush(
                    todo, (now + rng.expovariate(1 / HANDLE_MEAN), seq, 1, e.contact_id, e.agent_id)
                )
        if n_off:
            made += n_off
            if measuring:
                times.extend([dur // n_off] * n_off)

    # Warm start: the target share of agents already busy (handle times are memoryless, so
    # the remaining ones are exponential too). Not measured.
    at = START
    for _ in range(round(occupancy * n_agents)):
        n_contacts += 1
        handle(impl.enqueue(f"c{n_contacts}", rng.choices(qids, weights)[0], 0.0, at), 0.0, 0)
    while len(times) < decisions:
        now, _, kind, a, b = heapq.heappop(todo)
        at = START + dt.timedelta(seconds=now)
        measuring = now >= warm_until
        if isinstance(impl, EngineACD):
            impl.clock.set(at)
        if now >= next_tick:
            t0 = perf()
            impl.tick(at)
            other_ns += perf() - t0
            other_calls += 1
            next_tick += 10.0
        if measuring:
            busy_samples += busy / n_agents
            samples += 1
        if kind == 0:
            n_contacts += 1
            qid = rng.choices(qids, weights)[0]
            t0 = perf()
            out = impl.enqueue(f"c{n_contacts}", qid, now, at)
            dur = perf() - t0
            if not any(isinstance(e, ev.ContactOffered) for e in out) and measuring:
                other_calls += 1
                other_ns += dur
            handle(out, now, dur)
            seq += 1
            heapq.heappush(todo, (now + rng.expovariate(rate), seq, 0, "", ""))
        elif kind == 1:
            t0 = perf()
            impl.end(a, b, at)
            if measuring:
                other_calls += 1
                other_ns += perf() - t0
            seq += 1
            heapq.heappush(todo, (now + WRAP, seq, 2, b, ""))
        else:
            busy -= 1
            t0 = perf()
            out = impl.finish_wrap_up(a, now, at)
            dur = perf() - t0
            handle(out, now, dur)
    gc.unfreeze()
    return Result(len(times), times, busy_samples / max(samples, 1), other_calls, other_ns)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pct(values: list[int], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, nargs="*", default=[200, 2000, 10000])
    ap.add_argument("--occupancy", type=float, nargs="*", default=[0.85, 0.97])
    ap.add_argument("--decisions", type=int, default=20000, help="measured per engine run")
    ap.add_argument("--naive-decisions", type=int, default=5000, help="measured per naive run")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer decisions, fewer sizes")
    a = ap.parse_args()
    if a.quick:
        a.agents, a.decisions, a.naive_decisions = [200, 2000], 3000, 1000
    rows = []
    for n in a.agents:
        for occ in a.occupancy:
            res = {}
            for name, cls, k in (
                ("engine", EngineACD, a.decisions),
                ("naive scan", NaiveACD, a.naive_decisions),
            ):
                t0 = time.perf_counter()
                r = simulate(cls, n, occ, k, a.seed)
                wall = time.perf_counter() - t0
                res[name] = r
                print(
                    f"  {n} agents, {occ:.0%}: {name} done in {wall:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
            rows.append((n, occ, res))
    cmd = "uv run python bench/routing_decisions.py " + " ".join(sys.argv[1:])
    print(f"command: `{cmd.strip()}`")
    print(
        f"machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, Python "
        f"{platform.python_version()}, load average at end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"setup: {SKILLS} skills, {SKILLS} queues (longest idle), agents with 3–6 skills, "
        f"handle time exp(mean {HANDLE_MEAN:.0f} s), wrap-up {WRAP:.0f} s, seed {a.seed}"
    )
    print()
    print(
        "| agents | occupancy target (measured) | implementation | decisions | decisions/s "
        "| median µs | p99 µs | speed-up (decisions/s) | speed-up (median) |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for n, occ, res in rows:
        rates = {name: r.decisions / (sum(r.times_ns) / 1e9) for name, r in res.items()}
        medians = {name: statistics.median(r.times_ns) / 1000 for name, r in res.items()}
        for name, r in res.items():
            ratio = rates[name] / rates["naive scan"]
            mratio = medians["naive scan"] / medians[name]
            print(
                f"| {n:,} | {occ:.0%} ({r.occupancy:.1%}) | {name} | {r.decisions:,} "
                f"| {rates[name]:,.0f} | {medians[name]:.1f} "
                f"| {pct(r.times_ns, 0.99):.1f} | {ratio:.1f}× | {mratio:.1f}× |"
            )


if __name__ == "__main__":
    main()
