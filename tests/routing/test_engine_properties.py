"""Stateful property tests of the routing engine: random sequences of everything that can
happen in a contact center, checked after every step against brute-force invariants.

A twin engine, rebuilt from a JSON round trip of the snapshot at random points, receives the
same operations; its events and snapshots must stay identical (restart loses nothing, and
there is no hidden state a rebuild would not reproduce).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hotline.core.clock import ManualClock
from hotline.core.errors import HotlineError
from hotline.domains.routing import events as ev
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import (
    OFFERABLE_STATES,
    ActivateGroup,
    AddQueueAgents,
    AgentState,
    Channel,
    Contact,
    ContactStatus,
    LowerSkillLevel,
    MaxWaitAction,
    NotReadyReason,
    QueueConfig,
    SkillRequirement,
    Strategy,
    can_take,
    is_eligible,
)

V, C = Channel.voice, Channel.chat

QUEUES = [
    QueueConfig(
        "q_en",
        skills=(SkillRequirement("en", 5),),
        channels=frozenset({V, C}),
        overflow=(LowerSkillLevel(30, 2), ActivateGroup(60, "standby")),
        max_wait_seconds=200,
        max_wait_action=MaxWaitAction.callback,
        offer_timeout_seconds=15,
        wrap_up_seconds=10,
    ),
    QueueConfig(
        "q_fr",
        skills=(SkillRequirement("fr", 3),),
        channels=frozenset({V}),
        overflow=(AddQueueAgents(20, "q_en"),),
        strategy=Strategy.most_skilled,
        max_wait_seconds=150,
        wrap_up_seconds=0,
        offer_timeout_seconds=10,
    ),
    QueueConfig(
        "q_vip",
        skills=(SkillRequirement("en", 3), SkillRequirement("fr", 3)),
        channels=frozenset({V, C}),
        priority=5,
        overflow=(LowerSkillLevel(10, 1, "fr"), LowerSkillLevel(40, 1)),
        strategy=Strategy.round_robin,
        wrap_up_seconds=5,
    ),
    QueueConfig(
        "q_chat",
        channels=frozenset({C}),
        strategy=Strategy.least_occupied,
        ageing_per_minute=6.0,
        overflow=(ActivateGroup(0, "standby"),),
        wrap_up_seconds=20,
    ),
]
# Reconfigurations applied at random: stricter or looser skills, another strategy, steps moved.
VARIANTS = [
    dataclasses.replace(QUEUES[0], skills=(SkillRequirement("en", 3),)),
    dataclasses.replace(QUEUES[0], strategy=Strategy.most_skilled, overflow=()),
    QUEUES[0],
    dataclasses.replace(QUEUES[2], overflow=(LowerSkillLevel(5, 1),), priority=0),
    QUEUES[2],
    dataclasses.replace(QUEUES[3], channels=frozenset({V, C}), ageing_per_minute=0.0),
    QUEUES[3],
]
AGENTS = [f"a{i}" for i in range(6)]
REASONS = [NotReadyReason.break_, NotReadyReason.meal, NotReadyReason.training]

# Mostly skilled enough for some queue, sometimes not: both sides of every rule get exercised.
skills_st = st.fixed_dictionaries(
    {"en": st.integers(1, 10)},
    optional={"fr": st.integers(1, 10)},
) | st.fixed_dictionaries({}, optional={"fr": st.integers(1, 10)})


class RoutingMachine(RuleBasedStateMachine):
    """Drives an engine (and its rebuilt twin) through random operations."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.engine = RoutingEngine(clock=self.clock, queues=QUEUES)
        self.twin: RoutingEngine | None = None
        self.n = 0
        # Mirror rebuilt from the events alone.
        self.m_agent: dict[str, AgentState] = {}
        self.m_pending: dict[str, NotReadyReason | None] = {}
        self.m_contact: dict[str, tuple[ContactStatus, str | None]] = {}
        self.last_events: list[Any] = []

    # ---------------------------------------------------------------- plumbing

    def apply(self, op: Callable[[RoutingEngine], list[Any]]) -> None:
        before = self.engine.snapshot()
        try:
            events = op(self.engine)
        except HotlineError as exc:
            # A refused operation changes nothing, and the twin refuses it the same way.
            assert self.engine.snapshot() == before, "failed operation changed state"
            if self.twin is not None:
                try:
                    op(self.twin)
                except HotlineError as exc2:
                    assert (type(exc2), exc2.message) == (type(exc), exc.message)
                else:
                    raise AssertionError("twin accepted what the engine refused") from exc
            self.last_events = []
            return
        if self.twin is not None:
            assert op(self.twin) == events, "twin diverged (events)"
            assert self.twin.snapshot() == self.engine.snapshot(), "twin diverged (state)"
        self.last_events = events
        self.replay(events)
        self.check_offers(events)

    def replay(self, events: list[Any]) -> None:
        ma, mc = self.m_agent, self.m_contact
        for e in events:
            if isinstance(e, ev.AgentStateChanged):
                assert ma.get(e.agent_id, AgentState.logged_out) == e.old, e
                ma[e.agent_id] = e.new
                if e.new in (AgentState.ready, AgentState.not_ready, AgentState.logged_out):
                    self.m_pending[e.agent_id] = None
            elif isinstance(e, ev.AgentNotReadyPending):
                assert ma[e.agent_id] in (AgentState.busy, AgentState.reserved), e
                self.m_pending[e.agent_id] = e.reason
            elif isinstance(e, ev.ContactQueued):
                assert e.contact_id not in mc
                mc[e.contact_id] = (ContactStatus.waiting, None)
            elif isinstance(e, ev.ContactOffered):
                assert mc[e.contact_id] == (ContactStatus.waiting, None), ("offered twice", e)
                assert ma.get(e.agent_id) in OFFERABLE_STATES, ("offered to", ma.get(e.agent_id))
                assert self.m_pending.get(e.agent_id) is None, "offered despite pending"
                mc[e.contact_id] = (ContactStatus.offered, e.agent_id)
            elif isinstance(e, ev.OfferDeclined | ev.OfferTimedOut | ev.OfferWithdrawn):
                assert mc[e.contact_id] == (ContactStatus.offered, e.agent_id), e
                mc[e.contact_id] = (ContactStatus.waiting, None)
            elif isinstance(e, ev.ContactConnected):
                assert mc[e.contact_id] == (ContactStatus.offered, e.agent_id), e
                mc[e.contact_id] = (ContactStatus.connected, e.agent_id)
            elif isinstance(e, ev.ContactEnded):
                assert mc.pop(e.contact_id) == (ContactStatus.connected, e.agent_id), e
            elif isinstance(e, ev.ContactAbandoned):
                assert mc.pop(e.contact_id)[0] is ContactStatus.waiting, e
            elif isinstance(e, ev.ContactMoved):
                prev = mc[e.contact_id]
                if e.from_agent_id is None:
                    assert prev[0] is ContactStatus.waiting
                else:
                    assert prev == (ContactStatus.connected, e.from_agent_id)
                mc[e.contact_id] = (ContactStatus.waiting, None)
            elif isinstance(e, ev.ContactMaxWaitExceeded):
                assert mc[e.contact_id][0] is ContactStatus.waiting
                if e.action is MaxWaitAction.remove:
                    del mc[e.contact_id]
            elif isinstance(
                e, ev.CallbackRequested | ev.ContactOverflowed | ev.ContactPriorityChanged
            ):
                assert e.contact_id in mc

    def check_offers(self, events: list[Any]) -> None:
        """Capacity and FIFO at the moment of each offer (checked on the state after it);
        a missed offer sends the agent to not-ready(missed), at once or after its work."""
        contacts = {c.id: c for c in self.engine.contacts()}
        agents = {a.id: a for a in self.engine.agents()}
        groups = self.engine.active_groups
        live = {q.id: q for q in self.engine.queues()}
        for e in events:
            if isinstance(e, ev.OfferDeclined | ev.OfferTimedOut):
                a = agents[e.agent_id]
                assert (a.state, a.reason) == (AgentState.not_ready, NotReadyReason.missed) or (
                    a.state in (AgentState.busy, AgentState.reserved)
                    and a.pending_reason is not None
                ), ("missed offer", a)
            if not isinstance(e, ev.ContactOffered):
                continue
            a = agents[e.agent_id]
            c = contacts.get(e.contact_id)
            if c is None:
                continue
            load = self.engine.load(a.id)
            assert load.get(c.channel, 0) <= a.capacity.get(c.channel, 0), "beyond capacity"
            if load.get(V):
                assert sum(load.values()) == 1, "voice is exclusive"
            # FIFO within a priority class: no earlier contact of the same class waits that
            # this agent could have served.
            for d in contacts.values():
                if (
                    d.status is ContactStatus.waiting
                    and d.queue_id == c.queue_id
                    and d.channel == c.channel
                    and d.priority == c.priority
                    and (d.enqueued_at, d.seq or 0) < (c.enqueued_at, c.seq or 0)
                ):
                    assert not is_eligible(
                        a.skills, a.group, live[d.queue_id], d.stage, live, groups
                    ), f"FIFO broken: {c.id} offered to {a.id} while {d.id} waits"

    def pick(self, index: int, status: ContactStatus | None = None) -> Contact | None:
        items = [c for c in self.engine.contacts() if status is None or c.status is status]
        return items[index % len(items)] if items else None

    # ---------------------------------------------------------------- rules

    def logged(self, index: int, logged_in: bool) -> str | None:
        items = [
            a.id for a in self.engine.agents() if (a.state != AgentState.logged_out) == logged_in
        ]
        if logged_in is False:
            known = {a.id for a in self.engine.agents()}
            items += [a for a in AGENTS if a not in known]
        return items[index % len(items)] if items else None

    @initialize(skills=st.lists(skills_st, min_size=3, max_size=3), chat=st.integers(0, 3))
    def start(self, skills: list[dict[str, int]], chat: int) -> None:
        for agent, sk in zip(AGENTS, skills, strict=False):
            self.apply(
                lambda e, a=agent, k=sk: e.login(a, skills=k, capacity={V: 1, C: chat}, ready=True)
            )

    @rule(
        i=st.integers(0, 10),
        skills=skills_st,
        chat=st.integers(0, 3),
        standby=st.booleans(),
        ready=st.booleans(),
    )
    def login(self, i: int, skills: dict[str, int], chat: int, standby: bool, ready: bool):
        agent = self.logged(i, False)
        if agent is None:
            return
        self.apply(
            lambda e: e.login(
                agent,
                skills=skills,
                capacity={V: 1, C: chat},
                group="standby" if standby else None,
                ready=ready,
                seat=f"seat-{agent}",
            )
        )

    @rule(agent=st.sampled_from(AGENTS))
    def set_ready(self, agent: str) -> None:
        self.apply(lambda e: e.set_ready(agent))

    @rule(i=st.integers(0, 10))
    def set_ready_not_ready_agent(self, i: int) -> None:
        items = [a.id for a in self.engine.agents() if a.state is not AgentState.ready]
        if items:
            self.apply(lambda e: e.set_ready(items[i % len(items)]))

    @rule(agent=st.sampled_from(AGENTS), reason=st.sampled_from(REASONS))
    def set_not_ready(self, agent: str, reason: NotReadyReason) -> None:
        self.apply(lambda e: e.set_not_ready(agent, reason))

    @rule(agent=st.sampled_from(AGENTS))
    def finish_wrap_up(self, agent: str) -> None:
        self.apply(lambda e: e.finish_wrap_up(agent))

    @rule(agent=st.sampled_from(AGENTS), approved=st.booleans())
    def logout(self, agent: str, approved: bool) -> None:
        self.apply(lambda e: e.logout(agent, approved_by="sup1" if approved else None))

    @rule(agent=st.sampled_from(AGENTS), skills=skills_st)
    def set_skills(self, agent: str, skills: dict[str, int]) -> None:
        self.apply(lambda e: e.set_skills(agent, skills))

    @rule(agent=st.sampled_from(AGENTS), n=st.integers(0, 3))
    def set_chat_capacity(self, agent: str, n: int) -> None:
        self.apply(lambda e: e.set_capacity(agent, C, n))

    @rule(agent=st.sampled_from(AGENTS), seat=st.sampled_from(["s1", "s2"]))
    def change_seat(self, agent: str, seat: str) -> None:
        self.apply(lambda e: e.change_seat(agent, seat))

    @rule(active=st.booleans())
    def standby_group(self, active: bool) -> None:
        self.apply(lambda e: e.set_group_active("standby", active))

    @rule(active=st.booleans())
    def incident(self, active: bool) -> None:
        self.apply(lambda e: e.set_incident(active, "storm" if active else None))

    @rule(
        queue=st.sampled_from(QUEUES),
        chat=st.booleans(),
        priority=st.integers(0, 2),
        callback=st.booleans(),
    )
    def enqueue(self, queue: QueueConfig, chat: bool, priority: int, callback: bool) -> None:
        self._enqueue(queue, chat, priority, callback)

    @rule(
        queues=st.lists(st.sampled_from(QUEUES), min_size=1, max_size=4),
        chat=st.booleans(),
        priority=st.integers(0, 2),
    )
    def burst(self, queues: list[QueueConfig], chat: bool, priority: int) -> None:
        for q in queues:
            self._enqueue(q, chat, priority, False)

    def _enqueue(self, queue: QueueConfig, chat: bool, priority: int, callback: bool) -> None:
        self.n += 1
        cid = f"c{self.n}"
        channel = C if chat else V
        self.apply(
            lambda e: e.enqueue(
                queue.id, channel, contact_id=cid, priority=priority, callback=callback
            )
        )

    @rule(i=st.integers(0, 50))
    def abandon(self, i: int) -> None:
        c = self.pick(i)
        if c is not None:
            self.apply(lambda e: e.abandon(c.id))

    @rule(i=st.integers(0, 50))
    def accept(self, i: int) -> None:
        self._accept(i)

    @rule(i=st.integers(0, 50))
    def accept_again(self, i: int) -> None:
        self._accept(i)

    def _accept(self, i: int) -> None:
        c = self.pick(i, ContactStatus.offered)
        if c is not None and c.agent_id is not None:
            aid = c.agent_id
            self.apply(lambda e: e.accept(c.id, aid))

    @rule()
    def accept_all(self) -> None:
        for c in self.engine.contacts():
            if c.status is ContactStatus.offered and c.agent_id is not None:
                aid = c.agent_id
                self.apply(lambda e, c=c, aid=aid: e.accept(c.id, aid))

    @rule(i=st.integers(0, 50))
    def decline(self, i: int) -> None:
        c = self.pick(i, ContactStatus.offered)
        if c is not None and c.agent_id is not None:
            aid = c.agent_id
            self.apply(lambda e: e.decline(c.id, aid))

    @rule(i=st.integers(0, 50), wrong=st.sampled_from(AGENTS))
    def accept_wrong_agent(self, i: int, wrong: str) -> None:
        c = self.pick(i)
        if c is not None:
            self.apply(lambda e: e.accept(c.id, wrong))

    @rule(i=st.integers(0, 50))
    def end_contact(self, i: int) -> None:
        self._end(i)

    @rule(i=st.integers(0, 50))
    def end_contact_again(self, i: int) -> None:
        self._end(i)

    def _end(self, i: int) -> None:
        c = self.pick(i, ContactStatus.connected)
        if c is not None:
            self.apply(lambda e: e.end_contact(c.id))

    @rule(i=st.integers(0, 50))
    def request_callback(self, i: int) -> None:
        c = self.pick(i)
        if c is not None:
            self.apply(lambda e: e.request_callback(c.id))

    @rule(i=st.integers(0, 50), queue=st.sampled_from(QUEUES), keep=st.booleans())
    def move(self, i: int, queue: QueueConfig, keep: bool) -> None:
        c = self.pick(i)
        if c is not None:
            self.apply(lambda e: e.move_to_queue(c.id, queue.id, keep_place=keep))

    @rule(i=st.integers(0, 50), priority=st.integers(0, 3))
    def change_priority(self, i: int, priority: int) -> None:
        c = self.pick(i)
        if c is not None:
            self.apply(lambda e: e.change_priority(c.id, priority))

    @rule(seconds=st.sampled_from([0, 1, 5, 9, 10, 15, 21, 30, 45, 61, 120, 200]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.apply(lambda e: e.tick())

    @rule(variant=st.sampled_from(VARIANTS))
    def reconfigure(self, variant: QueueConfig) -> None:
        self.apply(lambda e: e.upsert_queue(variant))

    @rule()
    def restart(self) -> None:
        data = json.loads(json.dumps(self.engine.snapshot()))
        self.twin = RoutingEngine.from_snapshot(data, clock=self.clock)

    # ---------------------------------------------------------------- invariants

    @invariant()
    def events_tell_the_whole_story(self) -> None:
        agents = {a.id: a for a in self.engine.agents()}
        for aid, state in self.m_agent.items():
            assert agents[aid].state == state, (aid, agents[aid].state, state)
            assert agents[aid].pending_reason == self.m_pending.get(aid), aid
        contacts = {c.id: c for c in self.engine.contacts()}
        # No contact lost: the engine holds exactly those not removed by an event.
        assert set(contacts) == set(self.m_contact)
        for cid, (status, agent) in self.m_contact.items():
            assert (contacts[cid].status, contacts[cid].agent_id) == (status, agent), cid

    @invariant()
    def agents_and_work_agree(self) -> None:
        holders: dict[str, str] = {}
        for a in self.engine.agents():
            work = self.engine.work(a.id)
            for cid in work:
                assert cid not in holders, f"{cid} held by {holders[cid]} and {a.id}"
                holders[cid] = a.id
            mine = [self.engine.contact(cid) for cid in work]
            connected = [c for c in mine if c.status is ContactStatus.connected]
            assert all(c.agent_id == a.id for c in mine)
            if connected:
                assert a.state is AgentState.busy, (a.id, a.state)
            elif mine:
                assert a.state is AgentState.reserved, (a.id, a.state)
            else:
                assert a.state not in (AgentState.busy, AgentState.reserved), (a.id, a.state)
            assert (a.reason is not None) == (a.state is AgentState.not_ready)
            assert (a.wrap_up_until is not None) == (a.state is AgentState.wrap_up)
            load = self.engine.load(a.id)
            assert load.get(V, 0) <= 1 and (not load.get(V) or sum(load.values()) == 1)
        for c in self.engine.contacts():
            if c.status is ContactStatus.waiting:
                assert c.agent_id is None and c.id not in holders
            else:
                assert holders.get(c.id) == c.agent_id

    @invariant()
    def distribution_never_halts(self) -> None:
        """No waiting contact has an eligible agent with room for it."""
        agents = self.engine.agents()
        groups = self.engine.active_groups
        live = {q.id: q for q in self.engine.queues()}
        for c in self.engine.contacts():
            if c.status is not ContactStatus.waiting:
                continue
            for a in agents:
                load = self.engine.load(a.id)
                ok = can_take(a.state, a.pending_reason, load, a.capacity, c.channel)
                assert not (
                    ok and is_eligible(a.skills, a.group, live[c.queue_id], c.stage, live, groups)
                ), f"halted: {c.id} waits in {c.queue_id} (stage {c.stage}) while {a.id} is free"

    @invariant()
    def stages_follow_waiting_time(self) -> None:
        now = self.clock.now()
        live = {q.id: q for q in self.engine.queues()}
        for c in self.engine.contacts():
            if c.status is ContactStatus.waiting:
                assert c.queue_entered_at is not None
                waited = (now - c.queue_entered_at).total_seconds()
                assert c.stage == live[c.queue_id].stage_after(waited), c

    @invariant()
    def snapshot_rebuilds_equal(self) -> None:
        snap = self.engine.snapshot()
        data = json.loads(json.dumps(snap))
        assert RoutingEngine.from_snapshot(data, clock=self.clock).snapshot() == snap

    @invariant()
    def queue_lines_are_consistent(self) -> None:
        total = 0
        for q in self.engine.queues():
            line = self.engine.waiting(q.id)
            total += len(line)
            assert all(c.status is ContactStatus.waiting and c.queue_id == q.id for c in line)
            if q.ageing_per_minute == 0:
                keys = [(-c.priority, c.enqueued_at, c.seq) for c in line]
                assert keys == sorted(keys)
        assert total == self.engine.waiting_count


RoutingMachine.TestCase.settings = settings(
    max_examples=250,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRouting = RoutingMachine.TestCase
