"""Simulation KPIs over several seeds: mean and Student-t confidence interval per queue.

Each seed is an independent replication of the whole scenario, so a KPI's per-seed values are
i.i.d. and `mean ± t(0.975, n−1)·s/√n` is a proper 95 % interval for its expectation (ratios
such as service level are averaged per seed, not pooled). Pure: no I/O; `format_table`
returns text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from scipy import special

from hotline.domains.routing.simulation import QueueKpis, Scenario, SimulationResult, simulate

__all__ = [
    "KPIS",
    "Estimate",
    "Kpi",
    "QueueReport",
    "SimulationReport",
    "aggregate",
    "estimate",
    "format_table",
    "run_seeds",
]


@dataclass(frozen=True, slots=True)
class Kpi:
    """How to read one KPI from a run and how to show it (`percent`: a fraction shown ×100)."""

    key: str
    label: str
    read: Callable[[QueueKpis], float]
    unit: str = ""
    percent: bool = False
    digits: int = 1


KPIS: Final[tuple[Kpi, ...]] = (
    Kpi("offered", "offered", lambda k: k.offered, digits=0),
    Kpi("answered", "answered", lambda k: k.answered, digits=0),
    Kpi("abandoned", "abandoned", lambda k: k.abandoned, digits=0),
    Kpi("abandon_rate", "abandoned / offered", lambda k: k.abandon_rate, "%", True),
    Kpi("p_wait", "P(wait)", lambda k: k.p_wait, "%", True),
    Kpi("service_level", "service level", lambda k: k.service_level, "%", True),
    Kpi(
        "answered_in_target",
        "answered in target / offered",
        lambda k: k.answered_in_target,
        "%",
        True,
    ),
    Kpi("asa", "ASA", lambda k: k.asa, "s"),
    Kpi("aht", "AHT (talk + wrap-up)", lambda k: k.aht, "s"),
    Kpi("occupancy", "occupancy", lambda k: k.occupancy, "%", True),
    Kpi("longest_wait", "longest wait", lambda k: k.longest_wait_seconds, "s", digits=0),
    Kpi("callbacks", "callbacks requested", lambda k: k.callbacks, digits=0),
    Kpi("overflowed", "reached an overflow step", lambda k: k.overflowed, digits=0),
    Kpi("removed", "removed at max wait", lambda k: k.removed, digits=0),
    Kpi("unfinished", "unfinished at the end", lambda k: k.unfinished, digits=0),
)
_BY_KEY: Final = {k.key: k for k in KPIS}


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean over the seeds where the KPI is defined and the half-width of its confidence
    interval (NaN with fewer than two values; 0 when every seed agrees)."""

    mean: float
    half_width: float
    n: int
    confidence: float = 0.95

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def estimate(values: Iterable[float], confidence: float = 0.95) -> Estimate:
    """Mean and Student-t interval of the finite values (NaN, undefined, ones are skipped)."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie in (0, 1)")
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(xs)
    if n == 0:
        return Estimate(math.nan, math.nan, 0, confidence)
    mean = math.fsum(xs) / n
    if n == 1:
        return Estimate(mean, math.nan, 1, confidence)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    t = float(special.stdtrit(n - 1, 0.5 + confidence / 2))
    return Estimate(mean, t * math.sqrt(var / n), n, confidence)


@dataclass(frozen=True, slots=True)
class QueueReport:
    queue_id: str
    kpis: Mapping[str, Estimate]

    def __getitem__(self, key: str) -> Estimate:
        return self.kpis[key]


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """Per-queue estimates in scenario order, the all-queues row ("*") and the runs."""

    seeds: tuple[int, ...]
    queues: tuple[QueueReport, ...]
    total: QueueReport
    runs: tuple[SimulationResult, ...]
    confidence: float = 0.95

    def queue(self, queue_id: str) -> QueueReport:
        for q in (*self.queues, self.total):
            if q.queue_id == queue_id:
                return q
        raise KeyError(queue_id)


def _queue_report(queue_id: str, rows: Sequence[QueueKpis], confidence: float) -> QueueReport:
    return QueueReport(
        queue_id,
        {k.key: estimate((k.read(r) for r in rows), confidence) for k in KPIS},
    )


def aggregate(results: Sequence[SimulationResult], confidence: float = 0.95) -> SimulationReport:
    """Estimates over runs of one scenario (one run per seed)."""
    if not results:
        raise ValueError("no runs to aggregate")
    ids = [q.queue_id for q in results[0].queues]
    queues = tuple(_queue_report(qid, [r.queue(qid) for r in results], confidence) for qid in ids)
    total = _queue_report("*", [r.total for r in results], confidence)
    return SimulationReport(
        tuple(r.seed for r in results), queues, total, tuple(results), confidence
    )


def run_seeds(
    scenario: Scenario, seeds: Iterable[int], *, confidence: float = 0.95
) -> SimulationReport:
    """Simulate `scenario` once per seed and aggregate."""
    return aggregate([simulate(scenario, s) for s in seeds], confidence)


def _fmt(kpi: Kpi, value: float) -> str:
    if not math.isfinite(value):
        return "–"
    v = value * 100 if kpi.percent else value
    return f"{v:,.{kpi.digits}f}"


def _cell(kpi: Kpi, est: Estimate) -> str:
    if est.n == 0:
        return "–"
    if math.isfinite(est.half_width) and est.half_width > 0:
        return f"{_fmt(kpi, est.mean)} ± {_fmt(kpi, est.half_width)}"
    return _fmt(kpi, est.mean)


def format_table(
    report: SimulationReport,
    *,
    reference: Mapping[str, float] | None = None,
    reference_label: str = "reference",
    keys: Sequence[str] | None = None,
) -> str:
    """A markdown table: one row per KPI, one column per queue (plus "all queues" when there
    are several), cells "mean ± half-width". `reference` adds a column of exact values
    (e.g. Erlang C) by KPI key. KPIs that are zero in every run and every queue are left out
    unless named in `keys`."""
    cols = list(report.queues)
    if len(cols) > 1:
        cols.append(report.total)
    chosen = [_BY_KEY[k] for k in keys] if keys is not None else list(KPIS)
    if keys is None:
        chosen = [
            k
            for k in chosen
            if k.key in ("offered", "answered", "abandoned")
            or any(q[k.key].n and (q[k.key].mean != 0 or q[k.key].half_width) for q in cols)
        ]
    head = ["KPI", *("all queues" if q.queue_id == "*" else q.queue_id for q in cols)]
    if reference is not None:
        head.append(reference_label)
    pct = f"{report.confidence:.0%}"
    lines = [
        f"{len(report.seeds)} seed(s); cells: mean ± {pct} CI half-width (Student t)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---", *(["---:"] * (len(head) - 1))]) + "|",
    ]
    for k in chosen:
        label = f"{k.label} ({k.unit})" if k.unit else k.label
        row = [label, *(_cell(k, q[k.key]) for q in cols)]
        if reference is not None:
            ref = reference.get(k.key)
            row.append("" if ref is None else _fmt(k, ref))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
