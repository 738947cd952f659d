"""The routing floor the browser tests stand on: skills faults/billing, wrap-up codes, queues,
SMS entry points and agent profiles, set up in one routing transaction as an administrator
would. Each test file says which queues, entry points and agents it needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hotline.core.context import system_actor
from hotline.domains.routing import actions as routing
from hotline.domains.routing.model import Channel

SKILLS = [("fault_repair", "故障报修"), ("billing", "账单查询")]
WRAP_UP_CODES = [("resolved", "已解决"), ("escalated", "转工单")]
QUEUE_NAMES = {"faults": "故障报修", "billing": "账单查询"}
SMS_CHAT = {"sms": 1, "chat": 1}


def build_floor(
    runtime: Any,
    org: Any,
    users: Mapping[str, tuple[str, str]],
    *,
    queues: Mapping[str, Mapping[str, Any]],
    entry_points: Sequence[tuple[str, str, str]],
    agents: Mapping[str, Mapping[str, int]],
    capacity: Mapping[str, int] = SMS_CHAT,
) -> dict[str, str]:
    """users: username → (role, unit); queues: code → settings (all in the center);
    entry_points: (SMS address, name, queue code); agents: username → skills. Returns the ids
    of the users and queues by name."""
    ids = {name: org.user(name, role, unit=unit) for name, (role, unit) in users.items()}

    def configure(tx: Any, engine: Any) -> None:
        for code, name in SKILLS:
            routing.create_skill(tx, code=code, name=name)
        for code, name in WRAP_UP_CODES:
            routing.create_wrap_up_code(tx, code=code, name=name)
        for code, settings in queues.items():
            queue = routing.create_queue(
                tx,
                engine,
                code=code,
                name=QUEUE_NAMES[code],
                org_unit_id=org.center.id,
                settings=dict(settings),
            )
            ids[code] = queue.id
        for address, name, queue_code in entry_points:
            routing.create_entry_point(
                tx, channel=Channel.sms, address=address, name=name, queue_id=ids[queue_code]
            )
        for user, skills in agents.items():
            routing.set_agent_profile(
                tx,
                engine,
                user_id=ids[user],
                skills=dict(skills),
                capacity=dict(capacity),
                group=None,
            )

    runtime.routing.execute(system_actor("fixture"), configure)
    return ids


def callback_floor(runtime: Any, org: Any) -> dict[str, str]:
    """The callback pages' floor: a faults queue for SMS and calls (a callback is a call), SMS
    entry point 96266, agent1, a team lead and a channel gateway."""
    return build_floor(
        runtime,
        org,
        {
            "agent1": ("agent", "team-a"),
            "lead": ("team_lead", "center"),
            "gateway": ("channel_gateway", "center"),
        },
        queues={
            "faults": {
                "skills": [["fault_repair", 3]],
                "channels": ["sms", "voice"],
                "offer_timeout_seconds": 60.0,
                "wrap_up_seconds": 120.0,
            }
        },
        entry_points=[("96266", "服务热线", "faults")],
        agents={"agent1": {"fault_repair": 5}},
        capacity={"sms": 1, "voice": 1},
    )
