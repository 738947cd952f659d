"""SQL implementation of `hotline.domains.routing.ports.RoutingStore`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from hotline.domains.routing.model import (
    Agent,
    AgentState,
    Channel,
    NotReadyReason,
    QueueConfig,
    QueueState,
)
from hotline.domains.routing.ports import (
    AgentProfile,
    AgentUser,
    EntryPoint,
    LogoutRequest,
    Queue,
    Skill,
    StateLogEntry,
    WrapUpCode,
)
from hotline.infra.db.schema import (
    agent_profiles,
    agent_state_log,
    agent_states,
    entry_points,
    logout_requests,
    org_units,
    queue_counters,
    queues,
    routing_flags,
    skills,
    users,
    wrap_up_codes,
)
from hotline.infra.db.scope import in_scopes

_CONFIG_COLUMNS = (
    "skills",
    "channels",
    "priority",
    "service_level_seconds",
    "service_level_percent",
    "max_wait_seconds",
    "max_wait_action",
    "strategy",
    "overflow",
    "offer_timeout_seconds",
    "wrap_up_seconds",
    "ageing_per_minute",
)

_QUEUE_SELECT: sa.Select[Any] = sa.select(*queues.c, org_units.c.path.label("org_unit_path")).join(
    org_units, org_units.c.id == queues.c.org_unit_id
)
_USER_SELECT: sa.Select[Any] = sa.select(
    users.c.id,
    users.c.username,
    users.c.display_name,
    users.c.org_unit_id,
    users.c.status,
    org_units.c.path.label("org_unit_path"),
).join(org_units, org_units.c.id == users.c.org_unit_id)


# Hot statements are built once: SQLAlchemy then reuses their cache key and compiled form
# instead of constructing and hashing a new statement on every call. UPDATEs without
# `.values()` take their SET clause from the parameter keys (compiled once per key set).
_USER_BY_ID = _USER_SELECT.where(users.c.id == sa.bindparam("id"))
_USERS_BY_IDS = _USER_SELECT.where(users.c.id.in_(sa.bindparam("ids", expanding=True)))
_QUEUE_BY_ID = _QUEUE_SELECT.where(queues.c.id == sa.bindparam("id"))
_QUEUE_PATHS_SELECT = sa.select(queues.c.id, org_units.c.path).join(
    org_units, org_units.c.id == queues.c.org_unit_id
)
_QUEUE_PATHS = _QUEUE_PATHS_SELECT.where(queues.c.id.in_(sa.bindparam("ids", expanding=True)))
# One id (the usual case of a live action): an equality is compiled once, while an expanding
# IN list is rendered anew on every execution.
_QUEUE_PATH = _QUEUE_PATHS_SELECT.where(queues.c.id == sa.bindparam("id"))
_QUEUE_COUNTERS_UPDATE = queue_counters.update().where(
    queue_counters.c.queue_id == sa.bindparam("_queue_id")
)
_QUEUE_COUNTERS_INSERT = queue_counters.insert()
_ENTRY_POINT_AT = sa.select(entry_points).where(
    entry_points.c.channel == sa.bindparam("channel"),
    entry_points.c.address == sa.bindparam("address"),
)
_WRAP_UP_CODE_BY_CODE = sa.select(wrap_up_codes).where(wrap_up_codes.c.code == sa.bindparam("code"))
_PROFILE_BY_USER = sa.select(agent_profiles).where(
    agent_profiles.c.user_id == sa.bindparam("user_id")
)
_AGENT_STATE_BY_USER = sa.select(agent_states).where(
    agent_states.c.user_id == sa.bindparam("user_id")
)
_AGENT_STATE_UPDATE = agent_states.update().where(
    agent_states.c.user_id == sa.bindparam("_user_id")
)
_AGENT_STATE_INSERT = agent_states.insert()
_STATE_LOG_INSERT = agent_state_log.insert()
_PENDING_LOGOUT = (
    sa.select(logout_requests)
    .where(
        logout_requests.c.user_id == sa.bindparam("user_id"),
        logout_requests.c.status == "pending",
    )
    .order_by(logout_requests.c.requested_at.desc(), logout_requests.c.id.desc())
    .limit(1)
)
# An agent's own desktop (polled): user, profile, state and pending logout in one read,
# one row per pending logout request (normally none or one).
_AGENT_CARD = (
    _USER_SELECT.add_columns(
        *(c.label("p_" + c.name) for c in agent_profiles.c),
        *(c.label("s_" + c.name) for c in agent_states.c),
        *(c.label("l_" + c.name) for c in logout_requests.c),
    )
    .outerjoin(agent_profiles, agent_profiles.c.user_id == users.c.id)
    .outerjoin(agent_states, agent_states.c.user_id == users.c.id)
    .outerjoin(
        logout_requests,
        sa.and_(logout_requests.c.user_id == users.c.id, logout_requests.c.status == "pending"),
    )
    .where(users.c.id == sa.bindparam("id"))
)
_FLAG = sa.select(routing_flags.c.value).where(routing_flags.c.key == sa.bindparam("key"))
_FLAG_UPDATE = routing_flags.update().where(routing_flags.c.key == sa.bindparam("_key"))
_FLAG_INSERT = routing_flags.insert()


def _skill(row: Any) -> Skill:
    return Skill(row.id, row.code, row.name, row.active, row.created_at, row.updated_at)


def _code(row: Any) -> WrapUpCode:
    return WrapUpCode(row.id, row.code, row.name, row.active, row.created_at, row.updated_at)


def _queue(row: Any) -> Queue:
    data = {name: getattr(row, name) for name in _CONFIG_COLUMNS}
    return Queue(
        code=row.code,
        name=row.name,
        org_unit_id=row.org_unit_id,
        org_unit_path=row.org_unit_path,
        config=QueueConfig.from_dict({"id": row.id, **data}),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _config_values(config: QueueConfig) -> dict[str, Any]:
    data = config.to_dict()
    return {name: data[name] for name in _CONFIG_COLUMNS}


def _entry_point(row: Any) -> EntryPoint:
    return EntryPoint(
        id=row.id,
        channel=Channel(row.channel),
        address=row.address,
        name=row.name,
        queue_id=row.queue_id,
        priority=row.priority,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
        calendar_id=row.calendar_id,
    )


class _Prefixed:
    """The columns of one joined table in a row, by their names without the label prefix."""

    def __init__(self, row: Any, prefix: str) -> None:
        self._row, self._prefix = row, prefix

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, self._prefix + name)


def _profile(row: Any) -> AgentProfile:
    return AgentProfile(
        user_id=row.user_id,
        skills=dict(row.skills),
        capacity={Channel(c): n for c, n in row.capacity.items()},
        group=row.group_name,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _agent(row: Any) -> Agent:
    return Agent(
        id=row.user_id,
        skills=dict(row.skills),
        capacity={Channel(c): n for c, n in row.capacity.items()},
        state=AgentState(row.state),
        state_since=row.state_since,
        reason=None if row.reason is None else NotReadyReason(row.reason),
        seat=row.seat,
        group=row.group_name,
        idle_since=row.idle_since,
        pending_reason=None if row.pending_reason is None else NotReadyReason(row.pending_reason),
        wrap_up_until=row.wrap_up_until,
        handled_seconds=row.handled_seconds,
    )


def _user(row: Any) -> AgentUser:
    return AgentUser(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        org_unit_id=row.org_unit_id,
        org_unit_path=row.org_unit_path,
        active=row.status == "active",
    )


def _logout(row: Any) -> LogoutRequest:
    return LogoutRequest(
        id=row.id,
        user_id=row.user_id,
        requested_at=row.requested_at,
        cause=row.cause,
        status=row.status,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )


def _log(row: Any) -> StateLogEntry:
    return StateLogEntry(
        user_id=row.user_id,
        at=row.at,
        kind=row.kind,
        from_state=row.from_state,
        to_state=row.to_state,
        reason=row.reason,
        seat=row.seat,
        from_seat=row.from_seat,
        approved_by=row.approved_by,
    )


class SqlRoutingStore:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # organisation and users
    def org_unit_path(self, org_unit_id: str) -> str | None:
        q = sa.select(org_units.c.path).where(org_units.c.id == org_unit_id)
        value = self.conn.execute(q).scalar_one_or_none()
        return str(value) if value is not None else None

    def agent_user(self, user_id: str) -> AgentUser | None:
        row = self.conn.execute(_USER_BY_ID, {"id": user_id}).first()
        return _user(row) if row else None

    def agent_card(
        self, user_id: str
    ) -> tuple[AgentUser, AgentProfile | None, Agent | None, LogoutRequest | None] | None:
        """`agent_user`, `agent_profile`, `agent_state` and `pending_logout` in one read."""
        rows = self.conn.execute(_AGENT_CARD, {"id": user_id}).all()
        if not rows:
            return None
        first = rows[0]
        profile = _profile(_Prefixed(first, "p_")) if first.p_user_id is not None else None
        state = _agent(_Prefixed(first, "s_")) if first.s_user_id is not None else None
        pending = [r for r in rows if r.l_id is not None]
        latest = max(pending, key=lambda r: (r.l_requested_at, r.l_id), default=None)
        logout = _logout(_Prefixed(latest, "l_")) if latest is not None else None
        return _user(first), profile, state, logout

    def agent_users(self, user_ids: Collection[str]) -> dict[str, AgentUser]:
        if not user_ids:
            return {}
        rows = self.conn.execute(_USERS_BY_IDS, {"ids": list(user_ids)}).all()
        return {r.id: _user(r) for r in rows}

    def user_paths(self, user_ids: Collection[str]) -> dict[str, str]:
        if not user_ids:
            return {}
        ids = list(user_ids)
        if len(ids) == 1:
            rows = self.conn.execute(_USER_BY_ID, {"id": ids[0]}).all()
        else:
            rows = self.conn.execute(_USERS_BY_IDS, {"ids": ids}).all()
        return {r.id: r.org_unit_path for r in rows}

    # skills
    def skill(self, skill_id: str) -> Skill | None:
        row = self.conn.execute(sa.select(skills).where(skills.c.id == skill_id)).first()
        return _skill(row) if row else None

    def skill_by_code(self, code: str) -> Skill | None:
        row = self.conn.execute(sa.select(skills).where(skills.c.code == code)).first()
        return _skill(row) if row else None

    def skills(self, *, limit: int, after: str | None) -> list[Skill]:
        q = sa.select(skills).order_by(skills.c.code).limit(limit)
        if after is not None:
            q = q.where(skills.c.code > after)
        return [_skill(r) for r in self.conn.execute(q).all()]

    def skill_codes(self) -> set[str]:
        return set(self.conn.execute(sa.select(skills.c.code)).scalars().all())

    def insert_skill(self, skill: Skill) -> None:
        self.conn.execute(
            skills.insert().values(
                id=skill.id,
                code=skill.code,
                name=skill.name,
                active=skill.active,
                created_at=skill.created_at,
                updated_at=skill.updated_at,
            )
        )

    def update_skill(self, skill_id: str, **fields: Any) -> None:
        self.conn.execute(skills.update().where(skills.c.id == skill_id).values(**fields))

    # queues
    def queue(self, queue_id: str) -> Queue | None:
        row = self.conn.execute(_QUEUE_BY_ID, {"id": queue_id}).first()
        return _queue(row) if row else None

    def queue_by_code(self, code: str) -> Queue | None:
        row = self.conn.execute(_QUEUE_SELECT.where(queues.c.code == code)).first()
        return _queue(row) if row else None

    def queues(self, *, limit: int, after: str | None) -> list[Queue]:
        q = _QUEUE_SELECT.order_by(queues.c.code).limit(limit)
        if after is not None:
            q = q.where(queues.c.code > after)
        return [_queue(r) for r in self.conn.execute(q).all()]

    def all_queues(self) -> list[Queue]:
        return [_queue(r) for r in self.conn.execute(_QUEUE_SELECT.order_by(queues.c.id)).all()]

    def queue_paths(self, queue_ids: Collection[str]) -> dict[str, str]:
        if not queue_ids:
            return {}
        ids = list(queue_ids)
        if len(ids) == 1:
            rows = self.conn.execute(_QUEUE_PATH, {"id": ids[0]}).all()
        else:
            rows = self.conn.execute(_QUEUE_PATHS, {"ids": ids}).all()
        return {r.id: r.path for r in rows}

    def insert_queue(self, queue: Queue) -> None:
        self.conn.execute(
            queues.insert().values(
                id=queue.id,
                code=queue.code,
                name=queue.name,
                org_unit_id=queue.org_unit_id,
                created_at=queue.created_at,
                updated_at=queue.updated_at,
                **_config_values(queue.config),
            )
        )

    def update_queue(self, queue: Queue) -> None:
        self.conn.execute(
            queues.update()
            .where(queues.c.id == queue.id)
            .values(name=queue.name, updated_at=queue.updated_at, **_config_values(queue.config))
        )

    def queue_states(self) -> list[QueueState]:
        rows = self.conn.execute(sa.select(queue_counters).order_by(queue_counters.c.queue_id))
        return [
            QueueState(
                queue_id=r.queue_id,
                answered=r.answered,
                answered_within_target=r.answered_within_target,
                abandoned=r.abandoned,
                abandoned_after_target=r.abandoned_after_target,
                rr_counter=r.rr_counter,
                rr_last=dict(r.rr_last),
            )
            for r in rows.all()
        ]

    def save_queue_state(self, state: QueueState, at: dt.datetime) -> None:
        values = {
            "answered": state.answered,
            "answered_within_target": state.answered_within_target,
            "abandoned": state.abandoned,
            "abandoned_after_target": state.abandoned_after_target,
            "rr_counter": state.rr_counter,
            "rr_last": dict(state.rr_last),
            "updated_at": at,
        }
        done = self.conn.execute(_QUEUE_COUNTERS_UPDATE, {**values, "_queue_id": state.queue_id})
        if done.rowcount == 0:
            self.conn.execute(_QUEUE_COUNTERS_INSERT, {"queue_id": state.queue_id, **values})

    # entry points
    def entry_point(self, entry_point_id: str) -> EntryPoint | None:
        q = sa.select(entry_points).where(entry_points.c.id == entry_point_id)
        row = self.conn.execute(q).first()
        return _entry_point(row) if row else None

    def entry_point_at(self, channel: Channel, address: str) -> EntryPoint | None:
        params = {"channel": channel.value, "address": address}
        row = self.conn.execute(_ENTRY_POINT_AT, params).first()
        return _entry_point(row) if row else None

    def entry_points(self, *, limit: int, after: str | None) -> list[EntryPoint]:
        q = sa.select(entry_points).order_by(entry_points.c.id).limit(limit)
        if after is not None:
            q = q.where(entry_points.c.id > after)
        return [_entry_point(r) for r in self.conn.execute(q).all()]

    def entry_points_of(self, queue_id: str) -> list[EntryPoint]:
        q = (
            sa.select(entry_points)
            .where(entry_points.c.queue_id == queue_id)
            .order_by(entry_points.c.id)
        )
        return [_entry_point(r) for r in self.conn.execute(q).all()]

    def insert_entry_point(self, entry: EntryPoint) -> None:
        self.conn.execute(
            entry_points.insert().values(
                id=entry.id,
                channel=entry.channel.value,
                address=entry.address,
                name=entry.name,
                queue_id=entry.queue_id,
                priority=entry.priority,
                active=entry.active,
                created_at=entry.created_at,
                updated_at=entry.updated_at,
                calendar_id=entry.calendar_id,
            )
        )

    def update_entry_point(self, entry_point_id: str, **fields: Any) -> None:
        self.conn.execute(
            entry_points.update().where(entry_points.c.id == entry_point_id).values(**fields)
        )

    # wrap-up codes
    def wrap_up_code(self, code_id: str) -> WrapUpCode | None:
        q = sa.select(wrap_up_codes).where(wrap_up_codes.c.id == code_id)
        row = self.conn.execute(q).first()
        return _code(row) if row else None

    def wrap_up_code_by_code(self, code: str) -> WrapUpCode | None:
        row = self.conn.execute(_WRAP_UP_CODE_BY_CODE, {"code": code}).first()
        return _code(row) if row else None

    def wrap_up_codes(self, *, limit: int, after: str | None) -> list[WrapUpCode]:
        q = sa.select(wrap_up_codes).order_by(wrap_up_codes.c.code).limit(limit)
        if after is not None:
            q = q.where(wrap_up_codes.c.code > after)
        return [_code(r) for r in self.conn.execute(q).all()]

    def insert_wrap_up_code(self, code: WrapUpCode) -> None:
        self.conn.execute(
            wrap_up_codes.insert().values(
                id=code.id,
                code=code.code,
                name=code.name,
                active=code.active,
                created_at=code.created_at,
                updated_at=code.updated_at,
            )
        )

    def update_wrap_up_code(self, code_id: str, **fields: Any) -> None:
        self.conn.execute(
            wrap_up_codes.update().where(wrap_up_codes.c.id == code_id).values(**fields)
        )

    # agents
    def agent_profile(self, user_id: str) -> AgentProfile | None:
        row = self.conn.execute(_PROFILE_BY_USER, {"user_id": user_id}).first()
        return _profile(row) if row else None

    def save_agent_profile(self, profile: AgentProfile) -> None:
        values = {
            "skills": dict(profile.skills),
            "capacity": {c.value: n for c, n in profile.capacity.items()},
            "group_name": profile.group,
            "updated_at": profile.updated_at,
        }
        done = self.conn.execute(
            agent_profiles.update()
            .where(agent_profiles.c.user_id == profile.user_id)
            .values(**values)
        )
        if done.rowcount == 0:
            self.conn.execute(
                agent_profiles.insert().values(
                    user_id=profile.user_id, created_at=profile.created_at, **values
                )
            )

    def agent_state(self, user_id: str) -> Agent | None:
        row = self.conn.execute(_AGENT_STATE_BY_USER, {"user_id": user_id}).first()
        return _agent(row) if row else None

    def disabled_agents_logged_in(self) -> list[str]:
        q = (
            sa.select(agent_states.c.user_id)
            .join(users, users.c.id == agent_states.c.user_id)
            .where(users.c.status == "disabled", agent_states.c.state != "logged_out")
            .order_by(agent_states.c.user_id)
        )
        return [str(r) for r in self.conn.execute(q).scalars()]

    def agent_states(self) -> list[Agent]:
        q = sa.select(agent_states).order_by(agent_states.c.user_id)
        return [_agent(r) for r in self.conn.execute(q).all()]

    def save_agent_state(self, agent: Agent, at: dt.datetime) -> None:
        values = {
            "state": agent.state.value,
            "reason": None if agent.reason is None else agent.reason.value,
            "state_since": agent.state_since,
            "seat": agent.seat,
            "group_name": agent.group,
            "idle_since": agent.idle_since,
            "pending_reason": None if agent.pending_reason is None else agent.pending_reason.value,
            "wrap_up_until": agent.wrap_up_until,
            "handled_seconds": agent.handled_seconds,
            "skills": dict(agent.skills),
            "capacity": {c.value: n for c, n in agent.capacity.items()},
            "updated_at": at,
        }
        done = self.conn.execute(_AGENT_STATE_UPDATE, {**values, "_user_id": agent.id})
        if done.rowcount == 0:
            self.conn.execute(_AGENT_STATE_INSERT, {"user_id": agent.id, **values})

    def agents(
        self, *, scopes: Sequence[str], limit: int, after: str | None
    ) -> list[tuple[AgentUser, AgentProfile | None, Agent | None]]:
        has_profile = sa.exists().where(agent_profiles.c.user_id == users.c.id)
        has_state = sa.exists().where(agent_states.c.user_id == users.c.id)
        q = (
            _USER_SELECT.where(in_scopes(org_units.c.path, scopes), sa.or_(has_profile, has_state))
            .order_by(users.c.username)
            .limit(limit)
        )
        if after is not None:
            q = q.where(users.c.username > after)
        people = [_user(r) for r in self.conn.execute(q).all()]
        ids = [u.id for u in people]
        if not ids:
            return []
        profiles = {
            r.user_id: _profile(r)
            for r in self.conn.execute(
                sa.select(agent_profiles).where(agent_profiles.c.user_id.in_(ids))
            ).all()
        }
        states = {
            r.user_id: _agent(r)
            for r in self.conn.execute(
                sa.select(agent_states).where(agent_states.c.user_id.in_(ids))
            ).all()
        }
        return [(u, profiles.get(u.id), states.get(u.id)) for u in people]

    def append_state_log(self, entries: Sequence[StateLogEntry]) -> None:
        self.conn.execute(
            _STATE_LOG_INSERT,
            [
                {
                    "user_id": e.user_id,
                    "at": e.at,
                    "kind": e.kind,
                    "from_state": e.from_state,
                    "to_state": e.to_state,
                    "reason": e.reason,
                    "seat": e.seat,
                    "from_seat": e.from_seat,
                    "approved_by": e.approved_by,
                }
                for e in entries
            ],
        )

    def state_log(self, user_id: str, *, limit: int) -> list[StateLogEntry]:
        q = (
            sa.select(agent_state_log)
            .where(agent_state_log.c.user_id == user_id)
            .order_by(agent_state_log.c.id.desc())
            .limit(limit)
        )
        return [_log(r) for r in self.conn.execute(q).all()]

    # logout requests
    def pending_logout(self, user_id: str) -> LogoutRequest | None:
        row = self.conn.execute(_PENDING_LOGOUT, {"user_id": user_id}).first()
        return _logout(row) if row else None

    def pending_logouts(self, user_ids: Collection[str]) -> dict[str, LogoutRequest]:
        if not user_ids:
            return {}
        q = sa.select(logout_requests).where(
            logout_requests.c.user_id.in_(list(user_ids)), logout_requests.c.status == "pending"
        )
        return {r.user_id: _logout(r) for r in self.conn.execute(q).all()}

    def insert_logout_request(self, request: LogoutRequest) -> None:
        self.conn.execute(
            logout_requests.insert().values(
                id=request.id,
                user_id=request.user_id,
                requested_at=request.requested_at,
                cause=request.cause,
                status=request.status,
            )
        )

    def decide_logout_request(
        self, request_id: str, *, status: str, at: dt.datetime, by: str | None
    ) -> None:
        self.conn.execute(
            logout_requests.update()
            .where(logout_requests.c.id == request_id)
            .values(status=status, decided_at=at, decided_by=by)
        )

    # flags
    def flag(self, key: str) -> Any:
        return self.conn.execute(_FLAG, {"key": key}).scalar_one_or_none()

    def set_flag(self, key: str, value: Any, at: dt.datetime) -> None:
        done = self.conn.execute(_FLAG_UPDATE, {"value": value, "updated_at": at, "_key": key})
        if done.rowcount == 0:
            self.conn.execute(_FLAG_INSERT, {"key": key, "value": value, "updated_at": at})
