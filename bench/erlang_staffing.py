"""Benchmark: vectorised Erlang C staffing (hotline) against pyworkforce's per-cell ErlangC.

Run from the repository root:

    uv run python bench/erlang_staffing.py

Inputs: 96 half-hour intervals × 50 queues, fixed seed; volume uniform in 0–2000 calls per
30 min, AHT uniform in 120–600 s, target 80 % answered within 20 s, no shrinkage, no
occupancy cap. hotline is timed as the median of REPEATS runs over the whole grid; pyworkforce
is timed over **all** 4800 cells (a Python loop calling ``ErlangC.required_positions`` per
cell), median of PWF_REPEATS full passes, so nothing is extrapolated. Prints a markdown report.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version

import numpy as np
from numpy.typing import NDArray
from pyworkforce.queuing import ErlangC

from hotline.domains.workforce import erlang

SEED = 20240601
INTERVALS, QUEUES = 96, 50
INTERVAL_S = 1800.0
TARGET_SL, TARGET_T = 0.8, 20.0
PATIENCE_S = 180.0  # for the extra Erlang A row
REPEATS = 21
PWF_REPEATS = 3
OCC_CAP = 0.85


def _inputs() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    rng = np.random.default_rng(SEED)
    calls = rng.uniform(0.0, 2000.0, (INTERVALS, QUEUES))
    aht = rng.uniform(120.0, 600.0, (INTERVALS, QUEUES))
    return calls, aht


def _timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Median wall-clock and median CPU seconds of ``repeats`` calls, after one warm-up call.

    CPU time is reported too because the benchmark may share the machine with other jobs;
    the CPU figure is the less noisy one then.
    """
    result = fn()  # warm-up (imports, caches); also the answer we compare
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), result


def _pyworkforce_all(
    calls: NDArray[np.float64], aht: NDArray[np.float64], max_occupancy: float = 1.0
) -> NDArray[np.int64]:
    out = np.zeros(calls.shape, dtype=np.int64)
    for idx in np.ndindex(calls.shape):
        if calls[idx] <= 0:  # pyworkforce rejects zero volume; no traffic needs no agents
            continue
        model = ErlangC(
            transactions=float(calls[idx]),
            aht=float(aht[idx]) / 60.0,  # pyworkforce works in minutes
            asa=TARGET_T / 60.0,  # its "asa" is the service-level answer time
            interval=int(INTERVAL_S / 60),
        )
        res = model.required_positions(service_level=TARGET_SL, max_occupancy=max_occupancy)
        out[idx] = res["raw_positions"]
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _loadavg() -> str:
    # Other jobs on the machine inflate wall-clock time; show how busy it was.
    try:
        return " / ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.2f} ms"


def main() -> None:
    calls, aht = _inputs()
    lam = erlang.calls_per_second(calls, INTERVAL_S)
    load = lam * aht
    cells = calls.size

    t_c, c_c, res_c = _timed(
        lambda: erlang.erlang_c_staffing(lam, aht, target_sl=TARGET_SL, target_time=TARGET_T),
        REPEATS,
    )
    t_a, c_a, _ = _timed(
        lambda: erlang.erlang_a_staffing(
            lam, aht, PATIENCE_S, target_sl=TARGET_SL, target_time=TARGET_T
        ),
        REPEATS,
    )
    hot = np.asarray(res_c, dtype=np.int64)
    # pyworkforce is ~1 ms per cell, so a few full passes; the first pass is the warm-up.
    t_p, c_p, res_p = _timed(lambda: _pyworkforce_all(calls, aht), PWF_REPEATS - 1)
    pwf = np.asarray(res_p, dtype=np.int64)
    # Second scenario, answers only: the same target plus an 85 % occupancy cap.
    hot_occ = erlang.erlang_c_staffing(
        lam, aht, target_sl=TARGET_SL, target_time=TARGET_T, max_occupancy=OCC_CAP
    )
    pwf_occ = _pyworkforce_all(calls, aht, max_occupancy=OCC_CAP)
    occ_agree = int(np.sum(hot_occ == pwf_occ))
    occ_bound = int(np.sum(hot_occ == np.ceil(load / OCC_CAP)))

    # Agreement, and why cells disagree.
    agree = int(np.sum(pwf == hot))
    diff = np.flatnonzero(pwf != hot)
    # pyworkforce starts its upward search at round(A + 1), which skips N = ceil(A) whenever
    # frac(A) ≥ 0.5 even if that N already meets the target.
    start_n = np.floor(load + 1.5).ravel()
    skipped = [i for i in diff if hot.ravel()[i] < start_n[i] and pwf.ravel()[i] == start_n[i]]
    other = [i for i in diff if i not in set(skipped)]

    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print("## Erlang C staffing: hotline (vectorised) vs pyworkforce (per cell)\n")
    print("| item | value |")
    print("|---|---|")
    print("| command | `uv run python bench/erlang_staffing.py` |")
    print(f"| machine | nproc={nproc}, CPU: {_cpu_model()}, load average {_loadavg()} |")
    print(
        f"| versions | python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {version('scipy')}, pyworkforce {version('pyworkforce')} |"
    )
    print(
        f"| inputs | {INTERVALS}×{QUEUES} = {cells} cells, seed {SEED}, 0–2000 calls/30 min, "
        f"AHT 120–600 s, {TARGET_SL:.0%} in {TARGET_T:.0f} s, "
        f"load {load.min():.2f}–{load.max():.1f} Erl |"
    )
    print()
    print("| implementation | timing basis | median wall | median CPU | per cell (CPU) | ratio |")
    print("|---|---|---|---|---|---|")
    print(
        f"| hotline `erlang_c_staffing` | whole grid, median of {REPEATS} | {_fmt_ms(t_c)} "
        f"| {_fmt_ms(c_c)} | {c_c / cells * 1e6:.2f} µs | 1.0× |"
    )
    print(
        f"| hotline `erlang_a_staffing` (patience {PATIENCE_S:.0f} s) | whole grid, median of "
        f"{REPEATS} | {_fmt_ms(t_a)} | {_fmt_ms(c_a)} | {c_a / cells * 1e6:.2f} µs "
        f"| {c_a / c_c:.1f}× hotline C |"
    )
    print(
        f"| pyworkforce `ErlangC.required_positions` | Python loop over all {cells} cells, "
        f"median of {PWF_REPEATS - 1} (after 1 warm-up pass) | {_fmt_ms(t_p)} | {_fmt_ms(c_p)} "
        f"| {c_p / cells * 1e6:.1f} µs | {c_p / c_c:,.0f}× slower (CPU), "
        f"{t_p / t_c:,.0f}× (wall) |"
    )
    print()
    print("| answers (required agents, Erlang C) | cells |")
    print("|---|---|")
    print(f"| identical | {agree} / {cells} ({agree / cells:.2%}) |")
    print(f"| pyworkforce +1: its search starts at round(A+1) > minimal N | {len(skipped)} |")
    print(f"| other disagreements | {len(other)} |")
    print(
        f"| with max occupancy {OCC_CAP:.0%} too: identical | {occ_agree} / {cells} "
        f"(cap binding in {occ_bound} cells) |"
    )
    for i in other[:10]:
        n_h, n_p = int(hot.ravel()[i]), int(pwf.ravel()[i])
        lam_i, aht_i = float(lam.ravel()[i]), float(aht.ravel()[i])
        sl_h = float(erlang.erlang_c_service_level(n_h, lam_i, aht_i, TARGET_T))
        sl_hm1 = float(erlang.erlang_c_service_level(n_h - 1, lam_i, aht_i, TARGET_T))
        print(
            f"|  cell {i}: A={load.ravel()[i]:.4f}, hotline {n_h} (SL {sl_h:.6f}; "
            f"{n_h - 1} → {sl_hm1:.6f}), pyworkforce {n_p} | |"
        )
    if skipped:
        i = skipped[0]
        n_h = int(hot.ravel()[i])
        sl = float(
            erlang.erlang_c_service_level(n_h, float(lam.ravel()[i]), float(aht.ravel()[i]), 20)
        )
        print(
            f"\nExample of the +1 case: cell {i}, A = {load.ravel()[i]:.3f} Erl; "
            f"{n_h} agents already give SL {sl:.4f} ≥ {TARGET_SL}, but pyworkforce never tests "
            f"below round(A+1) = {math.floor(load.ravel()[i] + 1.5)}."
        )
    print(
        "\npyworkforce defaults used: shrinkage = 0 (raw_positions = positions), "
        "max_occupancy = 1.0 (no cap); its `asa` argument is the service-level answer time, "
        "not an average-speed-of-answer target."
    )


if __name__ == "__main__":
    main()
