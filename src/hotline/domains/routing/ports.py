"""What routing stores, and what it needs from storage (implemented in `infra/db/stores`).

The engine's own model (queue configurations, agents and contacts as the engine sees them)
lives in `model.py`; the records here are the configuration around it: skills with their
names, queues with their code and owning unit, entry points, wrap-up codes, agent profiles,
logout requests and the agent state log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hotline.domains.calendars.ports import CalendarStore
from hotline.domains.contacts.ports import ContactsTx
from hotline.domains.routing.model import Agent, Channel, QueueConfig, QueueState
from hotline.domains.stats.ports import StatsTx


@dataclass(frozen=True, slots=True)
class Skill:
    """A skill agents hold at a level 1–10 and queues require (故障报修, 账单查询…)."""

    id: str
    code: str
    name: str
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue: its routing configuration (`config.id` is the queue id), name, owning unit."""

    code: str
    name: str
    org_unit_id: str
    org_unit_path: str
    config: QueueConfig
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def id(self) -> str:
        return self.config.id


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """Where contacts come in: a dialled number (96266), a chat widget, a mailbox… → a queue."""

    id: str
    channel: Channel
    address: str
    name: str
    queue_id: str
    priority: int
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    calendar_id: str | None = None  # business hours; None: always open


@dataclass(frozen=True, slots=True)
class WrapUpCode:
    """A wrap-up (disposition) code an agent gives a contact after handling it."""

    id: str
    code: str
    name: str
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """How a user routes when logged in: skill levels, capacity per channel, call-up group
    (on-site / standby / off-site staff, R-D3). Applied at login; skills and capacity also at
    once to a logged-in agent."""

    user_id: str
    skills: Mapping[str, int]
    capacity: Mapping[Channel, int]
    group: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AgentUser:
    """The user behind an agent, with the path of their unit (for permission checks)."""

    id: str
    username: str
    display_name: str
    org_unit_id: str
    org_unit_path: str
    active: bool


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    """An agent asked to log out while contacts wait or the incident flag is set (R-D6):
    a team lead approves (the agent is logged out) or rejects it."""

    id: str
    user_id: str
    requested_at: dt.datetime
    cause: str
    status: str  # pending | approved | rejected | withdrawn
    decided_at: dt.datetime | None = None
    decided_by: str | None = None


@dataclass(frozen=True, slots=True)
class StateLogEntry:
    """One row of the agent state log: a state change, a seat change (with its time, for the
    R-D6 re-login rule) or a pending not-ready set or cleared."""

    user_id: str
    at: dt.datetime
    kind: str  # state | seat | pending
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    seat: str | None = None
    from_seat: str | None = None
    approved_by: str | None = None


class RoutingStore(Protocol):
    # organisation and users
    def org_unit_path(self, org_unit_id: str) -> str | None: ...
    def agent_user(self, user_id: str) -> AgentUser | None: ...
    def agent_users(self, user_ids: Collection[str]) -> dict[str, AgentUser]: ...
    def user_paths(self, user_ids: Collection[str]) -> dict[str, str]: ...
    def disabled_agents_logged_in(self) -> list[str]: ...

    # skills
    def skill(self, skill_id: str) -> Skill | None: ...
    def skill_by_code(self, code: str) -> Skill | None: ...
    def skills(self, *, limit: int, after: str | None) -> list[Skill]: ...
    def skill_codes(self) -> set[str]: ...
    def insert_skill(self, skill: Skill) -> None: ...
    def update_skill(self, skill_id: str, **fields: Any) -> None: ...

    # queues
    def queue(self, queue_id: str) -> Queue | None: ...
    def queue_by_code(self, code: str) -> Queue | None: ...
    def queues(self, *, limit: int, after: str | None) -> list[Queue]: ...
    def all_queues(self) -> list[Queue]: ...
    def queue_paths(self, queue_ids: Collection[str]) -> dict[str, str]: ...
    def insert_queue(self, queue: Queue) -> None: ...
    def update_queue(self, queue: Queue) -> None: ...
    def queue_states(self) -> list[QueueState]: ...
    def save_queue_state(self, state: QueueState, at: dt.datetime) -> None: ...

    # entry points
    def entry_point(self, entry_point_id: str) -> EntryPoint | None: ...
    def entry_point_at(self, channel: Channel, address: str) -> EntryPoint | None: ...
    def entry_points(self, *, limit: int, after: str | None) -> list[EntryPoint]: ...
    def entry_points_of(self, queue_id: str) -> list[EntryPoint]: ...
    def insert_entry_point(self, entry: EntryPoint) -> None: ...
    def update_entry_point(self, entry_point_id: str, **fields: Any) -> None: ...

    # wrap-up codes
    def wrap_up_code(self, code_id: str) -> WrapUpCode | None: ...
    def wrap_up_code_by_code(self, code: str) -> WrapUpCode | None: ...
    def wrap_up_codes(self, *, limit: int, after: str | None) -> list[WrapUpCode]: ...
    def insert_wrap_up_code(self, code: WrapUpCode) -> None: ...
    def update_wrap_up_code(self, code_id: str, **fields: Any) -> None: ...

    # agents
    def agent_profile(self, user_id: str) -> AgentProfile | None: ...
    def save_agent_profile(self, profile: AgentProfile) -> None: ...
    def agent_state(self, user_id: str) -> Agent | None: ...
    def agent_states(self) -> list[Agent]: ...
    def save_agent_state(self, agent: Agent, at: dt.datetime) -> None: ...
    def agents(
        self, *, scopes: Sequence[str], limit: int, after: str | None
    ) -> list[tuple[AgentUser, AgentProfile | None, Agent | None]]: ...
    def append_state_log(self, entries: Sequence[StateLogEntry]) -> None: ...
    def state_log(self, user_id: str, *, limit: int) -> list[StateLogEntry]: ...

    # logout requests
    def pending_logout(self, user_id: str) -> LogoutRequest | None: ...
    def pending_logouts(self, user_ids: Collection[str]) -> dict[str, LogoutRequest]: ...
    def insert_logout_request(self, request: LogoutRequest) -> None: ...
    def decide_logout_request(
        self, request_id: str, *, status: str, at: dt.datetime, by: str | None
    ) -> None: ...

    # engine-wide flags and counters (incident flag, active groups, sequence numbers)
    def flag(self, key: str) -> Any: ...
    def set_flag(self, key: str, value: Any, at: dt.datetime) -> None: ...


class RoutingTx(ContactsTx, StatsTx, Protocol):
    """The unit of work as routing sees it: its store and the contacts it routes."""

    @property
    def routing(self) -> RoutingStore: ...
    @property
    def calendars(self) -> CalendarStore: ...
