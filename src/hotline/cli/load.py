"""`hotline load`: drive a running hotline with simulated agents and callers, print the report."""

from __future__ import annotations

import os

import typer

from hotline.core.errors import HotlineError
from hotline.domains.routing.simulation import ArrivalProfile, CallbackPolicy, Dist
from hotline.infra import demo as demo_data
from hotline.load.driver import LoadError, run_sync
from hotline.load.plan import LoadPlan, LoadPlanError, OfferMode


def demo_plan(url: str, users: demo_data.SimUsers, *, rate: float) -> LoadPlan:
    """The gentle traffic `hotline demo` runs against itself for a week at most: a few
    contacts a minute per agent, handled in about 40 s, some callers giving up or asking for
    a callback, now and then a break, so the wallboard moves."""
    return LoadPlan(
        url=url,
        agents=users.agents,
        password=users.password,
        gateway=users.gateway,
        monitor=users.monitor,
        profile=ArrivalProfile.from_rate(rate, hours=7 * 24, interval_seconds=3600.0),
        think=Dist.lognormal(3.0, 0.5),
        handle=Dist.lognormal(40.0, 0.6),
        patience=Dist.exponential(120.0),
        callback=CallbackPolicy(after_seconds=45.0, probability=0.2),
        break_probability=0.03,
        break_length=Dist.lognormal(60.0, 0.5),
        log_out_at_end=False,
        label="demo-load",
    )


def load(
    url: str = typer.Option("http://127.0.0.1:8266", help="hotline to drive (loopback only)."),
    agents: int = typer.Option(20, min=1, help="Simulated agents sim-agent001… to sign in."),
    rate: float = typer.Option(5.0, min=0.0, help="Contacts arriving per second (Poisson)."),
    duration: float = typer.Option(60.0, min=0.1, help="Seconds of arrivals."),
    profile: str = typer.Option(
        "", help="Contacts per interval, comma-separated (overrides --rate and --duration)."
    ),
    interval: float = typer.Option(60.0, min=0.1, help="Seconds per --profile interval."),
    count: int = typer.Option(0, min=0, help="Stop after this many contacts (0: no limit)."),
    think: float = typer.Option(0.05, min=0.0, help="Mean seconds before accepting (exp.)."),
    handle: float = typer.Option(0.5, min=0.0, help="Mean handle seconds (exponential)."),
    patience: float = typer.Option(60.0, min=0.0, help="Mean caller patience seconds (exp.)."),
    callback_after: float = typer.Option(
        0.0, min=0.0, help="Callers still waiting after this many seconds may ask for a callback."
    ),
    callback_probability: float = typer.Option(0.0, min=0.0, max=1.0),
    breaks: float = typer.Option(0.0, min=0.0, max=1.0, help="Break chance after a contact."),
    break_length: float = typer.Option(30.0, min=0.0, help="Mean break seconds (exp.)."),
    offers: OfferMode = typer.Option(OfferMode.stream, help="How agents learn of offers."),
    poll_ms: float = typer.Option(50.0, min=1.0, help="Poll interval (--offers poll)."),
    drain: float = typer.Option(30.0, min=0.0, help="Seconds to let agents finish at the end."),
    verify: int = typer.Option(-1, help="Contacts read back for the lost check (-1: all)."),
    gateway: str = typer.Option(demo_data.SIM_GATEWAY, help="Account the callers arrive by."),
    monitor: str = typer.Option(demo_data.SIM_MONITOR, help="Account that reads contacts back."),
    seed: int = typer.Option(1, help="Random seed."),
) -> None:
    """Simulated agents (sim-agent001…, password from HOTLINE_LOAD_PASSWORD, default the demo
    password) and callers against a running hotline; `hotline demo` creates the accounts.
    Prints contacts/s, arrival→offer percentiles, HTTP errors and the lost check; exit code 1
    if a contact was lost or hotline answered 5xx."""
    if profile:
        calls = tuple(float(x) for x in profile.split(",") if x.strip())
        arrivals = ArrivalProfile(calls, interval)
    else:
        arrivals = ArrivalProfile.from_rate(rate, hours=duration / 3600, interval_seconds=duration)
    try:
        plan = LoadPlan(
            url=url,
            agents=demo_data.sim_agent_names(agents),
            password=os.environ.get("HOTLINE_LOAD_PASSWORD", demo_data.DEMO_PASSWORD),
            gateway=gateway,
            monitor=monitor,
            profile=arrivals,
            max_contacts=count or None,
            think=Dist.exponential(think),
            handle=Dist.exponential(handle),
            patience=Dist.exponential(patience),
            callback=CallbackPolicy(callback_after, callback_probability)
            if callback_probability > 0
            else None,
            break_probability=breaks,
            break_length=Dist.exponential(break_length),
            offers=offers,
            poll_seconds=poll_ms / 1000,
            drain_seconds=drain,
            verify=None if verify < 0 else verify,
            seed=seed,
        )
        report = run_sync(plan)
    except (LoadPlanError, LoadError, HotlineError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    typer.echo(report.format())
    if not report.ok:
        raise typer.Exit(1)
