"""`hotline simulate`: traffic through the production routing engine, KPIs with confidence
intervals over seeds (and the exact Erlang C / A values where the model is the textbook one)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import typer

from hotline.core.errors import HotlineError
from hotline.domains.routing.model import QueueConfig, SkillRequirement
from hotline.domains.routing.simulation import (
    ArrivalProfile,
    Dist,
    Scenario,
    SimQueue,
    scenario_from_dict,
    team,
)
from hotline.domains.routing.simulation import (
    simulate as simulate_once,
)
from hotline.domains.routing.simulation_report import aggregate, format_table
from hotline.domains.workforce import erlang


def simulate(
    agents: int = typer.Option(20, "--agents", min=1, help="Agents, all skilled, whole run."),
    calls_per_interval: float | None = typer.Option(
        None, "--calls-per-interval", min=0, help="Expected calls per interval (Poisson)."
    ),
    rate: float | None = typer.Option(
        None, "--rate", min=0, help="Calls per hour (instead of --calls-per-interval)."
    ),
    aht: float = typer.Option(180.0, "--aht", min=0.001, help="Mean handle time, s (exp.)."),
    patience: float | None = typer.Option(
        None,
        "--patience",
        min=0.001,
        help="Mean caller patience, s (exponential). Omitted: nobody abandons.",
    ),
    hours: float = typer.Option(8.0, "--hours", min=0.01, help="Hours of arrivals."),
    seeds: int = typer.Option(10, "--seeds", min=1, help="Runs (seeds 0..n-1)."),
    interval_minutes: float = typer.Option(30.0, "--interval-minutes", min=1),
    sl_seconds: float = typer.Option(20.0, "--sl-seconds", min=0, help="Service level target."),
    warmup_minutes: float = typer.Option(
        30.0, "--warmup-minutes", min=0, help="Arrivals before this are not measured."
    ),
    wrap_up: float = typer.Option(0.0, "--wrap-up", min=0, help="Wrap-up after each call, s."),
    answer_delay: float = typer.Option(
        0.0, "--answer-delay", min=0, help="Seconds an agent takes to accept an offer."
    ),
    scenario: Path | None = typer.Option(
        None,
        "--scenario",
        exists=True,
        dir_okay=False,
        help="JSON scenario (queues, overflow, callbacks, agents with shifts and breaks); "
        "replaces the single-queue options. Format: hotline.domains.routing.simulation."
        "scenario_from_dict.",
    ),
) -> None:
    """Simulate a contact center through the production routing engine and print KPIs per
    queue with 95 % confidence intervals over seeds."""
    reference: dict[str, float] | None = None
    label = "exact"
    try:
        if scenario is not None:
            sc = scenario_from_dict(json.loads(scenario.read_text(encoding="utf-8")))
            what = f"scenario {scenario.name}"
        else:
            if (calls_per_interval is None) == (rate is None):
                raise typer.BadParameter("give exactly one of --calls-per-interval and --rate")
            interval = interval_minutes * 60
            per_second = (rate / 3600) if rate is not None else (calls_per_interval or 0) / interval
            cfg = QueueConfig(
                "queue",
                skills=(SkillRequirement("voice", 1),),
                service_level_seconds=sl_seconds,
                wrap_up_seconds=wrap_up,
                offer_timeout_seconds=max(20.0, 2 * answer_delay + 1),
            )
            sc = Scenario(
                queues=(
                    SimQueue(
                        cfg,
                        ArrivalProfile.from_rate(per_second, hours, interval),
                        Dist.exponential(aht),
                        patience=None if patience is None else Dist.exponential(patience),
                        wrap_up=None if wrap_up == 0 else Dist.constant(wrap_up),
                    ),
                ),
                agents=team("agent", agents, {"voice": 1}),
                warmup_seconds=warmup_minutes * 60,
                duration_seconds=hours * 3600,
                answer_delay=Dist.constant(answer_delay),
            )
            what = (
                f"{agents} agents, {per_second * 3600:,.1f} calls/h "
                f"({per_second * aht:.1f} Erlangs), AHT {aht:g} s, "
                + ("no abandonment" if patience is None else f"patience {patience:g} s")
                + f", {hours:g} h of arrivals, first {warmup_minutes:g} min not measured"
            )
            if wrap_up == 0 and answer_delay == 0:
                reference, label = _erlang(agents, per_second, aht, patience, sl_seconds)
        t0 = time.perf_counter()
        runs = [simulate_once(sc, s) for s in range(seeds)]
        wall = time.perf_counter() - t0
    except HotlineError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    report = aggregate(runs)
    typer.echo(what)
    typer.echo("")
    typer.echo(format_table(report, reference=reference, reference_label=label))
    calls = sum(r.arrivals for r in runs)
    typer.echo("")
    typer.echo(
        f"{calls:,} calls through the routing engine in {wall:.2f} s "
        f"({calls / wall if wall else math.inf:,.0f} calls/s)"
    )


def _erlang(
    n: int, lam: float, aht: float, patience: float | None, sl: float
) -> tuple[dict[str, float], str]:
    if lam <= 0:
        return {}, "exact"
    if patience is None:
        return {
            "p_wait": float(erlang.erlang_c_p_wait(n, lam, aht)),
            "service_level": float(erlang.erlang_c_service_level(n, lam, aht, sl)),
            "answered_in_target": float(erlang.erlang_c_service_level(n, lam, aht, sl)),
            "asa": float(erlang.erlang_c_asa(n, lam, aht)),
            "occupancy": float(erlang.erlang_c_occupancy(n, lam, aht)),
            "abandon_rate": 0.0,
            "aht": aht,
        }, "Erlang C"
    return {
        "p_wait": float(erlang.erlang_a_p_wait(n, lam, aht, patience)),
        "abandon_rate": float(erlang.erlang_a_p_abandon(n, lam, aht, patience)),
        "answered_in_target": float(erlang.erlang_a_service_level(n, lam, aht, patience, sl)),
        "asa": float(erlang.erlang_a_asa(n, lam, aht, patience)),
        "occupancy": float(erlang.erlang_a_occupancy(n, lam, aht, patience)),
        "aht": aht,
    }, "Erlang A"
