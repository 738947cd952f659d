"""Demo data: an organisation like the seed's 96266 center, a user for every role, and a
routing floor (skills, queues, the 96266 entry points, wrap-up codes, agent profiles)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotline.core.context import system_actor
from hotline.domains.calendars import actions as calendars
from hotline.domains.identity import actions
from hotline.domains.identity.model import OrgUnitKind
from hotline.domains.routing import actions as routing
from hotline.domains.routing.engine import RoutingEngine
from hotline.domains.routing.model import Channel
from hotline.infra.db.database import Tx
from hotline.infra.db.stores.identity import SqlIdentityStore
from hotline.infra.db.stores.routing import SqlRoutingStore
from hotline.infra.runtime import Runtime

DEMO_PASSWORD = "Hotline-96266!"  # noqa: S105 - printed at start, demo only

ORG = [
    # code, name, kind, parent code
    ("group", "广电网络集团", OrgUnitKind.group, None),
    ("cs-center", "客服中心", OrgUnitKind.department, "group"),
    ("team-a", "坐席一班", OrgUnitKind.team, "cs-center"),
    ("team-b", "坐席二班", OrgUnitKind.team, "cs-center"),
    ("branch-east", "城东分公司", OrgUnitKind.branch, "group"),
    ("dispatch-east", "城东调度中心", OrgUnitKind.dispatch_center, "branch-east"),
    ("branch-west", "城西分公司", OrgUnitKind.branch, "group"),
    ("dispatch-west", "城西调度中心", OrgUnitKind.dispatch_center, "branch-west"),
    ("it", "信息技术部", OrgUnitKind.department, "group"),
]

USERS = [
    # username, display name, home unit, role, scope unit
    ("agent1", "王小明 (坐席)", "team-a", "agent", "team-a"),
    ("agent2", "李娜 (坐席)", "team-a", "agent", "team-a"),
    ("agent3", "张伟 (坐席)", "team-b", "agent", "team-b"),
    # The team lead on the floor supervises the center's queues and both teams.
    ("lead1", "陈静 (班长)", "team-a", "team_lead", "cs-center"),
    ("qa1", "刘洋 (质检)", "cs-center", "qa", "cs-center"),
    ("duty1", "赵磊 (值班经理)", "cs-center", "duty_manager", "group"),
    ("manager1", "孙丽 (中心经理)", "cs-center", "center_manager", "group"),
    ("tech1", "周强 (技术支持)", "it", "tech_support", "group"),
    ("sysadmin", "吴刚 (系统管理员)", "it", "system_admin", "group"),
    ("secadmin", "郑敏 (安全管理员)", "it", "security_admin", "group"),
    ("auditor", "冯涛 (审计员)", "it", "auditor", "group"),
    # A service account for chat/email/SMS gateways (signs in for an API token).
    ("gateway", "渠道接入网关", "it", "channel_gateway", "cs-center"),
    # The wall screen of the center: opens the wallboard in TV mode, no idle sign-out.
    ("wallboard", "客服中心大屏", "cs-center", "wallboard_display", "cs-center"),
]

# --- the routing floor (R-A3) ----------------------------------------------------------------
SKILLS = [
    ("fault_repair", "故障报修"),
    ("billing", "账单查询"),
    ("new_install", "新装"),
    ("complaint", "投诉"),
]

WRAP_UP_CODES = [
    ("resolved", "已解决"),
    ("info_given", "咨询已答复"),
    ("ticket_created", "已转工单"),
    ("callback_promised", "已约回访"),
    ("complaint_recorded", "投诉已登记"),
    ("not_our_business", "非本业务"),
]

# code, name, settings (QueueConfig.to_dict shape without the id). Overflow steps that add
# another queue's agents name that queue by code here; `seed_routing` resolves the id.
QUEUES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "faults",
        "故障报修",
        {
            "skills": [["fault_repair", 3]],
            "channels": ["chat", "sms", "social", "voice"],
            "service_level_seconds": 20.0,
            "service_level_percent": 80.0,
            "max_wait_seconds": 600.0,
            "max_wait_action": "callback",
            # after a minute anyone with the skill, after two the standby staff (R-D3)
            "overflow": [
                {"kind": "lower_skill_level", "after_seconds": 60.0, "min_level": 1},
                {"kind": "activate_group", "after_seconds": 120.0, "group": "standby"},
            ],
            "offer_timeout_seconds": 20.0,
            "wrap_up_seconds": 60.0,
            "ageing_per_minute": 1.0,
        },
    ),
    (
        "billing",
        "账单查询",
        {
            "skills": [["billing", 1]],
            "channels": ["chat", "email", "sms", "voice"],
            "service_level_seconds": 20.0,
            "service_level_percent": 80.0,
            "offer_timeout_seconds": 20.0,
            "wrap_up_seconds": 30.0,
        },
    ),
    (
        "new_install",
        "新装",
        {
            "skills": [["new_install", 2]],
            "channels": ["chat", "email", "voice", "work_item"],
            "service_level_seconds": 30.0,
            "service_level_percent": 80.0,
            "overflow": [{"kind": "add_queue_agents", "after_seconds": 90.0, "queue": "billing"}],
            "offer_timeout_seconds": 30.0,
            "wrap_up_seconds": 60.0,
        },
    ),
    (
        "complaints",
        "投诉",
        {
            "skills": [["complaint", 5]],
            "channels": ["chat", "email", "social", "voice"],
            "priority": 5,
            "service_level_seconds": 15.0,
            "service_level_percent": 90.0,
            "strategy": "most_skilled",
            "offer_timeout_seconds": 20.0,
            "wrap_up_seconds": 120.0,
        },
    ),
]

# channel, address, name, queue code
ENTRY_POINTS = [
    ("voice", "96266", "96266 热线", "faults"),
    ("sms", "96266", "96266 短信", "billing"),
    ("chat", "web-chat", "网站在线客服", "faults"),
    ("email", "service@96266.example", "客服邮箱", "billing"),
    ("social", "wechat-96266", "微信公众号", "complaints"),
    ("work_item", "install-orders", "新装工单", "new_install"),
]

# username, skills, capacity, call-up group
PROFILES: list[tuple[str, dict[str, int], dict[str, int], str | None]] = [
    ("agent1", {"fault_repair": 7, "billing": 5}, {"voice": 1, "chat": 2, "sms": 2}, None),
    (
        "agent2",
        {"fault_repair": 4, "new_install": 6, "billing": 3},
        {"voice": 1, "chat": 2, "email": 2, "work_item": 1},
        None,
    ),
    (
        "agent3",
        {"billing": 8, "complaint": 6, "new_install": 3},
        {"voice": 1, "chat": 3, "email": 2, "social": 2},
        None,
    ),
    # the team lead takes contacts when the standby tier is called up (第二级: 备班人员)
    (
        "lead1",
        {"fault_repair": 9, "billing": 8, "new_install": 8, "complaint": 9},
        {"voice": 1, "chat": 2, "social": 1},
        "standby",
    ),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str


def seed(rt: Runtime) -> list[DemoUser]:
    """Create what is missing of the demo organisation, users and routing floor; returns the
    credentials. Safe to run again on an existing demo database."""
    policy = rt.policy()
    actor = system_actor("demo")
    with rt.db.transaction(actor=actor) as tx:
        units: dict[str, str] = {}
        for code, name, kind, parent in ORG:
            unit = tx.identity.org_unit_by_code(code)
            if unit is None:
                unit = actions.create_org_unit(
                    tx,
                    code=code,
                    name=name,
                    kind=kind,
                    parent_id=units[parent] if parent else None,
                )
            units[code] = unit.id
        for username, display, home, role, scope in USERS:
            if tx.identity.user_by_username(username) is not None:
                continue
            user = actions.create_user(
                tx,
                policy,
                username=username,
                display_name=display,
                org_unit_id=units[home],
                password=DEMO_PASSWORD,
                must_change_password=False,
            )
            actions.grant_role(tx, user_id=user.id, role=role, org_unit_id=units[scope])
    seed_routing(rt)
    seed_calendars(rt)
    return [DemoUser(u[0], u[3], DEMO_PASSWORD) for u in USERS]


def seed_routing(rt: Runtime) -> None:
    """Skills, queues owned by the customer-service center, the 96266 entry points, wrap-up
    codes, and agent profiles for agent1..3 and the team lead (once)."""
    with rt.db.read() as conn:
        if SqlRoutingStore(conn).skill_by_code(SKILLS[0][0]) is not None:
            return
        identity = SqlIdentityStore(conn)
        center = identity.org_unit_by_code("cs-center")
        user_ids = {u[0]: identity.user_by_username(u[0]) for u in PROFILES}
    assert center is not None

    def configure(tx: Tx, engine: RoutingEngine) -> None:
        for code, name in SKILLS:
            routing.create_skill(tx, code=code, name=name)
        for code, name in WRAP_UP_CODES:
            routing.create_wrap_up_code(tx, code=code, name=name)
        queue_ids: dict[str, str] = {}
        for code, name, settings in QUEUES:
            steps = [
                {
                    "kind": s["kind"],
                    "after_seconds": s["after_seconds"],
                    "queue_id": queue_ids[s["queue"]],
                }
                if s["kind"] == "add_queue_agents"
                else s
                for s in settings.get("overflow", [])
            ]
            queue = routing.create_queue(
                tx,
                engine,
                code=code,
                name=name,
                org_unit_id=center.id,
                settings={**settings, "overflow": steps},
            )
            queue_ids[code] = queue.id
        for channel, address, name, queue_code in ENTRY_POINTS:
            routing.create_entry_point(
                tx,
                channel=Channel(channel),
                address=address,
                name=name,
                queue_id=queue_ids[queue_code],
            )
        for username, skills, capacity, group in PROFILES:
            user = user_ids[username]
            if user is not None:
                routing.set_agent_profile(
                    tx, engine, user_id=user.id, skills=skills, capacity=capacity, group=group
                )

    rt.routing.execute(system_actor("demo"), configure)


# Office hours (营业时间): weekdays 08:30–18:00, Saturday mornings, closed on New Year's Day.
# Attached to no entry point: the 96266 lines run 24/7, and a closed entry point finishes
# arrivals as `closed` (an e-mail would go unanswered; the load driver counts them as lost).
OFFICE_HOURS: dict[str, Any] = {
    "code": "office-hours",
    "name": "工作日营业时间",
    "timezone": "Asia/Shanghai",
    "weekly": {
        **{day: [["08:30", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [["09:00", "12:00"]],
    },
    "overrides": [{"date": "2027-01-01", "hours": [], "note": "元旦"}],
}


def seed_calendars(rt: Runtime) -> None:
    """The demo business calendar (once)."""
    with rt.db.transaction(actor=system_actor("demo")) as tx:
        if tx.calendars.calendar_by_code(OFFICE_HOURS["code"]) is None:
            calendars.create_calendar(tx, **OFFICE_HOURS)


# --- simulated traffic (`hotline demo`, `hotline load`, the end-to-end benchmark) ------------
SIM_AGENT_PREFIX = "sim-agent"
SIM_GATEWAY = "sim-gateway"  # the simulated callers arrive through this gateway account
SIM_MONITOR = "sim-monitor"  # reads contacts back for the load run's lost check
# Every simulated agent can take every demo queue, so no contact waits for a missing skill.
SIM_SKILLS = {"fault_repair": 6, "billing": 6, "new_install": 6, "complaint": 6}
SIM_CAPACITY = {"chat": 2, "sms": 2, "email": 2, "social": 1, "work_item": 1}


@dataclass(frozen=True)
class SimUsers:
    agents: tuple[str, ...]
    gateway: str
    monitor: str
    password: str


def sim_agent_names(count: int) -> tuple[str, ...]:
    return tuple(f"{SIM_AGENT_PREFIX}{i:03d}" for i in range(1, count + 1))


def seed_simulated(
    rt: Runtime, agents: int = 20, *, capacity: dict[str, int] | None = None
) -> SimUsers:
    """Users for the load driver: `agents` plain agents (alternately in team-a and team-b)
    with profiles for every demo queue, a gateway and a monitor (qa). Needs `seed` first.
    Creates only what is missing; profiles already set are kept."""
    policy = rt.policy()
    names = sim_agent_names(agents)
    with rt.db.transaction(actor=system_actor("demo")) as tx:
        unit = {c: tx.identity.org_unit_by_code(c) for c in ("team-a", "team-b", "cs-center")}
        wanted = [(n, "agent", "team-a" if i % 2 == 0 else "team-b") for i, n in enumerate(names)]
        wanted += [(SIM_GATEWAY, "channel_gateway", "cs-center"), (SIM_MONITOR, "qa", "cs-center")]
        for username, role, home in wanted:
            if tx.identity.user_by_username(username) is not None:
                continue
            home_unit = unit[home]
            assert home_unit is not None, "run demo.seed first"
            user = actions.create_user(
                tx,
                policy,
                username=username,
                display_name=f"模拟 {username}",
                org_unit_id=home_unit.id,
                password=DEMO_PASSWORD,
                must_change_password=False,
            )
            actions.grant_role(tx, user_id=user.id, role=role, org_unit_id=home_unit.id)
    with rt.db.read() as conn:
        store = SqlRoutingStore(conn)
        identity = SqlIdentityStore(conn)
        missing = []
        for n in names:
            sim = identity.user_by_username(n)
            if sim is not None and store.agent_profile(sim.id) is None:
                missing.append(sim.id)

    def configure(tx: Tx, engine: RoutingEngine) -> None:
        for user_id in missing:
            routing.set_agent_profile(
                tx,
                engine,
                user_id=user_id,
                skills=SIM_SKILLS,
                capacity=capacity or SIM_CAPACITY,
                group=None,
            )

    if missing:
        rt.routing.execute(system_actor("demo"), configure)
    return SimUsers(names, SIM_GATEWAY, SIM_MONITOR, DEMO_PASSWORD)
