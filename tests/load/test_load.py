"""Load mode end to end: a real server, simulated agents and callers over HTTP. Not timed:
it checks that every contact ends served or abandoned, that nothing answered 5xx, and that
the report's counts add up."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hotline.domains.routing.simulation import ArrivalProfile, CallbackPolicy, Dist
from hotline.load.driver import run
from hotline.load.plan import LoadPlan, LoadPlanError, OfferMode


def plan(live: Any, **changes: object) -> LoadPlan:
    base: dict[str, object] = {
        "url": live.url,
        "agents": live.users.agents,
        "password": live.users.password,
        "gateway": live.users.gateway,
        "monitor": live.users.monitor,
        "profile": ArrivalProfile.from_rate(8.0, hours=3 / 3600, interval_seconds=3.0),
        "think": Dist.exponential(0.02),
        "handle": Dist.exponential(0.1),
        "patience": Dist.exponential(2.0),
        "callback": CallbackPolicy(after_seconds=0.5, probability=0.2),
        "break_probability": 0.1,
        "break_length": Dist.constant(0.2),
        "drain_seconds": 20.0,
    }
    base.update(changes)
    return LoadPlan(**base)  # type: ignore[arg-type]


def test_every_contact_is_served_or_abandoned(live: Any) -> None:
    """Agents on the event stream; callers who give up, ask for callbacks; agents on breaks."""
    report = asyncio.run(run(plan(live)))
    text = report.format()
    assert report.created > 0, text
    assert report.errors_5xx == 0 and report.transport_errors == 0, text
    assert report.arrivals_failed == 0, text
    assert report.verified == report.created, text  # read back every one
    assert not report.lost and not report.mismatched, text
    assert report.live_at_end == 0 and report.waiting_at_end == 0, text
    assert report.counts_add_up and report.ok, text
    assert report.served + report.abandoned == report.created, text
    assert report.server_offer.count > 0 and report.client_offer.count > 0, text
    assert sum(report.statuses.values()) == report.created, text


def test_polling_agents_and_a_contact_count(live: Any) -> None:
    """Agents polling `/api/me/agent`; the run stops after exactly 5 contacts, all served."""
    report = asyncio.run(
        run(
            plan(
                live,
                offers=OfferMode.poll,
                max_contacts=5,
                break_probability=0.0,
                patience=Dist.constant(60.0),
                callback=None,
            )
        )
    )
    text = report.format()
    assert report.sent == 5 and report.created == 5, text
    assert report.served == 5 and report.ok, text
    assert report.client_offer.count == 5, text


def test_loopback_only() -> None:
    with pytest.raises(LoadPlanError, match="loopback"):
        LoadPlan(
            url="http://example.org:8266",
            agents=("a",),
            password="x",
            gateway="g",
            monitor="m",
            profile=ArrivalProfile.from_rate(1.0, hours=1.0),
        )
