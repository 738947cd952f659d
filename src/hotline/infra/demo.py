"""Demo data: an organisation like the seed's 96266 center, and a user for every role."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.core.context import system_actor
from hotline.domains.identity import actions
from hotline.domains.identity.model import OrgUnitKind
from hotline.infra.db.stores.identity import SqlIdentityStore
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
    ("lead1", "陈静 (班长)", "team-a", "team_lead", "team-a"),
    ("qa1", "刘洋 (质检)", "cs-center", "qa", "cs-center"),
    ("duty1", "赵磊 (值班经理)", "cs-center", "duty_manager", "group"),
    ("manager1", "孙丽 (中心经理)", "cs-center", "center_manager", "group"),
    ("tech1", "周强 (技术支持)", "it", "tech_support", "group"),
    ("sysadmin", "吴刚 (系统管理员)", "it", "system_admin", "group"),
    ("secadmin", "郑敏 (安全管理员)", "it", "security_admin", "group"),
    ("auditor", "冯涛 (审计员)", "it", "auditor", "group"),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str


def seed(rt: Runtime) -> list[DemoUser]:
    """Create the demo organisation and users once; returns their credentials."""
    with rt.db.read() as conn:
        if SqlIdentityStore(conn).org_unit_by_code("group") is not None:
            return [DemoUser(u[0], u[3], DEMO_PASSWORD) for u in USERS]
    policy = rt.policy()
    actor = system_actor("demo")
    with rt.db.transaction(actor=actor) as tx:
        units: dict[str, str] = {}
        for code, name, kind, parent in ORG:
            unit = actions.create_org_unit(
                tx,
                code=code,
                name=name,
                kind=kind,
                parent_id=units[parent] if parent else None,
            )
            units[code] = unit.id
        for username, display, home, role, scope in USERS:
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
    return [DemoUser(u[0], u[3], DEMO_PASSWORD) for u in USERS]
