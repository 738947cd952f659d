"""Staffing answers for planners: how many agents each interval needs, and what they achieve."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hotline.core.errors import InvalidInput
from hotline.domains.workforce import erlang


@dataclass(frozen=True, slots=True)
class StaffingRow:
    """One interval: required agents and the KPIs they reach (Erlang C, or A with patience)."""

    calls: float
    agents: int
    load_erlangs: float
    p_wait: float
    service_level: float
    asa_seconds: float
    occupancy: float
    p_abandon: float | None


def staffing_plan(
    calls: Sequence[float],
    *,
    interval_seconds: float,
    aht_seconds: float,
    sl_seconds: float,
    sl_percent: float,
    patience_seconds: float | None = None,
    max_occupancy_percent: float | None = None,
) -> list[StaffingRow]:
    """Required agents per interval for a service-level target (R-C7).

    With `patience_seconds` the model is Erlang A (callers abandon after an exponential
    patience), otherwise Erlang C. All intervals are computed in one vectorised call.
    """
    if not calls or len(calls) > 10_000:
        raise InvalidInput("give between 1 and 10,000 interval volumes", field="calls")
    if any((not math.isfinite(c)) or c < 0 or c > 1e7 for c in calls):
        raise InvalidInput("interval volumes must be between 0 and 10,000,000", field="calls")
    if not 60 <= interval_seconds <= 86_400:
        raise InvalidInput("interval must be 60–86,400 seconds", field="interval_seconds")
    if not 1 <= aht_seconds <= 86_400:
        raise InvalidInput("AHT must be 1–86,400 seconds", field="aht_seconds")
    if not 0 < sl_percent < 100:
        raise InvalidInput(
            "service-level percent must be above 0 and below 100", field="sl_percent"
        )
    if not 0 <= sl_seconds <= 3_600:
        raise InvalidInput("service-level seconds must be 0–3,600", field="sl_seconds")
    if patience_seconds is not None and not 1 <= patience_seconds <= 86_400:
        raise InvalidInput("patience must be 1–86,400 seconds", field="patience_seconds")
    if max_occupancy_percent is not None and not 1 <= max_occupancy_percent <= 100:
        raise InvalidInput("max occupancy must be 1–100 %", field="max_occupancy_percent")
    try:
        return _plan(calls, interval_seconds, aht_seconds, sl_seconds, sl_percent,
                     patience_seconds, max_occupancy_percent)
    except (ValueError, ArithmeticError, RuntimeError) as exc:
        # The maths refuses inputs it cannot solve (e.g. a target no staffing reaches).
        raise InvalidInput(f"no staffing solves these inputs: {exc}") from exc


def _plan(
    calls: Sequence[float],
    interval_seconds: float,
    aht_seconds: float,
    sl_seconds: float,
    sl_percent: float,
    patience_seconds: float | None,
    max_occupancy_percent: float | None,
) -> list[StaffingRow]:
    # A volume below a millionth of a call is no traffic; denormal rates overflow the maths.
    volume = np.asarray(calls, dtype=float)
    volume = np.where(volume < 1e-6, 0.0, volume)
    rate = erlang.calls_per_second(volume, interval_seconds)
    target = sl_percent / 100.0
    occ = None if max_occupancy_percent is None else max_occupancy_percent / 100.0
    if patience_seconds is None:
        n = erlang.erlang_c_staffing(
            rate, aht_seconds, target_sl=target, target_time=sl_seconds, max_occupancy=occ
        )
        pw = erlang.erlang_c_p_wait(n, rate, aht_seconds)
        sl = erlang.erlang_c_service_level(n, rate, aht_seconds, sl_seconds)
        asa = erlang.erlang_c_asa(n, rate, aht_seconds)
        occupancy = erlang.erlang_c_occupancy(n, rate, aht_seconds)
        abandon: list[float | None] = [None] * len(calls)
    else:
        n = erlang.erlang_a_staffing(
            rate,
            aht_seconds,
            patience_seconds,
            target_sl=target,
            target_time=sl_seconds,
            max_occupancy=occ,
        )
        pw = erlang.erlang_a_p_wait(n, rate, aht_seconds, patience_seconds)
        sl = erlang.erlang_a_service_level(n, rate, aht_seconds, patience_seconds, sl_seconds)
        asa = erlang.erlang_a_mean_wait(n, rate, aht_seconds, patience_seconds)
        occupancy = erlang.erlang_a_occupancy(n, rate, aht_seconds, patience_seconds)
        abandon = [
            float(x) for x in erlang.erlang_a_p_abandon(n, rate, aht_seconds, patience_seconds)
        ]
    load = erlang.offered_load(rate, aht_seconds)
    return [
        StaffingRow(
            calls=float(volume[i]),
            agents=int(n[i]),
            load_erlangs=float(load[i]),
            p_wait=float(pw[i]),
            service_level=float(sl[i]),
            asa_seconds=float(asa[i]),
            occupancy=float(occupancy[i]),
            p_abandon=abandon[i],
        )
        for i in range(len(calls))
    ]
