"""What a load run measured: one trace per contact, and the report built from them."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# Statuses after which hotline holds a contact no more (domains/contacts/model.FINISHED).
FINAL = frozenset({"ended", "abandoned", "overflowed", "called_back", "closed", "cancelled"})
# Statuses of a contact hotline still routes or an agent still holds.
LIVE = frozenset({"queued", "transferred", "offered", "connected", "wrap_up"})
WAITING = frozenset({"queued", "transferred"})


@dataclass(slots=True)
class ContactTrace:
    """One simulated contact as the client saw it. `t_*` are monotonic seconds since the run
    started; server times are the contact's own timestamps."""

    t_sent: float
    channel: str
    address: str
    id: str | None = None
    t_answer: float | None = None
    arrive_status: int | None = None
    arrived_at: dt.datetime | None = None
    offered_at: dt.datetime | None = None  # the first offer the client saw a timestamp of
    agent: str | None = None
    t_offer_seen: float | None = None
    t_accepted: float | None = None
    t_ended: float | None = None
    t_done: float | None = None  # wrapped up, abandoned, or ended by the caller
    abandoned: bool = False
    callback: bool = False
    status: str | None = None  # the last status hotline answered
    verified_status: str | None = None  # read back in the lost check

    def note(self, body: Mapping[str, object]) -> None:
        """Take the status and times from a contact hotline answered."""
        status = body.get("status")
        if isinstance(status, str):
            self.status = status
        if self.arrived_at is None and isinstance(body.get("arrived_at"), str):
            self.arrived_at = dt.datetime.fromisoformat(str(body["arrived_at"]))
        if self.offered_at is None and isinstance(body.get("offered_at"), str):
            self.offered_at = dt.datetime.fromisoformat(str(body["offered_at"]))

    @property
    def server_offer_ms(self) -> float | None:
        if self.arrived_at is None or self.offered_at is None:
            return None
        return (self.offered_at - self.arrived_at).total_seconds() * 1000

    @property
    def client_offer_ms(self) -> float | None:
        if self.t_offer_seen is None:
            return None
        return (self.t_offer_seen - self.t_sent) * 1000

    @property
    def arrival_ms(self) -> float | None:
        return None if self.t_answer is None else (self.t_answer - self.t_sent) * 1000


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0–100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Latency:
        xs = [v for v in values if v is not None]
        return cls(
            len(xs),
            percentile(xs, 50),
            percentile(xs, 95),
            percentile(xs, 99),
            max(xs) if xs else None,
        )

    def row(self) -> str:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v:.1f}"

        return (
            f"p50 {ms(self.p50)}  p95 {ms(self.p95)}  p99 {ms(self.p99)}  max {ms(self.max)} ms"
            f"  (n={self.count})"
        )


@dataclass(frozen=True, slots=True)
class LoadReport:
    """The figures of one run. `lost` must be empty: every contact hotline accepted ended up
    in a final state, or (only if the drain time ran out) in a live state hotline reports."""

    offers: str
    agents: int
    target_rate: float
    arrival_seconds: float
    run_seconds: float
    sent: int
    created: int
    arrivals_failed: int
    served: int
    abandoned: int
    callbacks: int
    finished: int
    live_at_end: int
    verified: int
    lost: tuple[str, ...]
    mismatched: tuple[str, ...]
    waiting_at_end: int
    server_offer: Latency
    client_offer: Latency
    arrival_rtt: Latency
    http: Mapping[str, int]
    errors_5xx: int
    errors_other: int
    races: int
    transport_errors: int
    max_lag_ms: float
    client_cpu_seconds: float
    statuses: Mapping[str, int] = field(default_factory=dict)
    samples: tuple[str, ...] = ()  # the first distinct error answers, for the reader

    @property
    def contacts_per_second(self) -> float:
        """Contacts hotline accepted per second of the arrival window."""
        return self.created / self.arrival_seconds if self.arrival_seconds > 0 else 0.0

    @property
    def served_per_second(self) -> float:
        return self.served / self.run_seconds if self.run_seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """Nothing lost, no 5xx, no transport errors, the counts add up."""
        return (
            not self.lost
            and not self.mismatched
            and self.errors_5xx == 0
            and self.transport_errors == 0
            and self.arrivals_failed == 0
            and self.counts_add_up
        )

    @property
    def counts_add_up(self) -> bool:
        """The outcome counts agree with each other and with the HTTP answers: every 201 of
        an arrival is a created contact, and no contact was served without an accepted
        offer."""
        accepted = self.http.get("accept 2xx", 0)
        return (
            self.sent == self.created + self.arrivals_failed
            and self.created == self.http.get("arrive 2xx", 0)
            and self.created == self.finished + self.live_at_end
            and self.finished == self.served + self.abandoned
            and self.served <= accepted <= self.created
        )

    def format(self) -> str:
        lines = [
            f"load: {self.agents} agents ({self.offers}), target {self.target_rate:g}/s, "
            f"arrivals for {self.arrival_seconds:.1f}s, run {self.run_seconds:.1f}s",
            f"  contacts   sent {self.sent}  created {self.created}  "
            f"failed {self.arrivals_failed}  → {self.contacts_per_second:.1f}/s sustained",
            f"  outcome    served {self.served}  abandoned {self.abandoned}  "
            f"(callbacks asked {self.callbacks})  live at end {self.live_at_end}",
            f"  arrival→offer, server (offered_at − arrived_at): {self.server_offer.row()}",
            f"  arrival→offer, client (sent → offer seen):        {self.client_offer.row()}",
            f"  arrival request round trip:                       {self.arrival_rtt.row()}",
            f"  HTTP       5xx {self.errors_5xx}  other errors {self.errors_other}  "
            f"races (409/404 after the other side acted) {self.races}  "
            f"transport {self.transport_errors}",
            f"  client     max arrival lag {self.max_lag_ms:.0f} ms, "
            f"CPU {self.client_cpu_seconds:.1f}s",
            f"  lost check read back {self.verified}: lost {len(self.lost)}, "
            f"status differs {len(self.mismatched)}, waiting in queues at end "
            f"{self.waiting_at_end}  → {'OK' if self.ok else 'FAILED'}",
        ]
        if self.http:
            lines.append(
                "  responses  " + "  ".join(f"{k} {v}" for k, v in sorted(self.http.items()))
            )
        for cid in self.lost[:10]:
            lines.append(f"  lost: {cid}")
        for text in self.samples:
            lines.append(f"  error: {text}")
        return "\n".join(lines)


def summarise(
    traces: Sequence[ContactTrace],
    *,
    offers: str,
    agents: int,
    target_rate: float,
    arrival_seconds: float,
    run_seconds: float,
    http: Counter[str],
    races: int,
    transport_errors: int,
    max_lag_ms: float,
    client_cpu_seconds: float,
    verified: int,
    waiting_at_end: int,
    agents_idle: bool,
    samples: tuple[str, ...] = (),
) -> LoadReport:
    """Build the report. A contact is lost if hotline accepted it and, read back at the end,
    it is neither final nor in a live state (or cannot be read), or it still waits in line
    although every simulated agent sits idle; it counts as mismatched if the client's last
    view is final but the server's differs."""
    created = [t for t in traces if t.id is not None]
    lost: list[str] = []
    mismatched: list[str] = []
    for t in created:
        assert t.id is not None
        if t.verified_status is None:
            continue
        if t.verified_status not in FINAL | LIVE or (agents_idle and t.verified_status in WAITING):
            lost.append(t.id)
        elif t.status in FINAL and t.verified_status != t.status:
            mismatched.append(t.id)
    final_status = [(t.verified_status or t.status) for t in created]
    served = sum(1 for s in final_status if s in ("ended", "called_back"))
    abandoned = sum(1 for s in final_status if s in ("abandoned", "overflowed"))
    finished = served + abandoned
    five = sum(v for k, v in http.items() if k.endswith(" 5xx"))
    other = sum(v for k, v in http.items() if k.endswith(" 4xx"))
    return LoadReport(
        offers=offers,
        agents=agents,
        target_rate=target_rate,
        arrival_seconds=arrival_seconds,
        run_seconds=run_seconds,
        sent=len(traces),
        created=len(created),
        arrivals_failed=len(traces) - len(created),
        served=served,
        abandoned=abandoned,
        callbacks=sum(1 for t in created if t.callback),
        finished=finished,
        live_at_end=len(created) - finished,
        verified=verified,
        lost=tuple(lost),
        mismatched=tuple(mismatched),
        waiting_at_end=waiting_at_end,
        server_offer=Latency.of(t.server_offer_ms for t in created),
        client_offer=Latency.of(t.client_offer_ms for t in created),
        arrival_rtt=Latency.of(t.arrival_ms for t in created),
        http=dict(http),
        errors_5xx=five,
        errors_other=other,
        races=races,
        transport_errors=transport_errors,
        max_lag_ms=max_lag_ms,
        client_cpu_seconds=client_cpu_seconds,
        statuses=dict(Counter(s or "unknown" for s in final_status)),
        samples=samples,
    )
