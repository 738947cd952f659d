"""Routing administration pages in a real browser (issue 4): skills and wrap-up codes, queues
with their overflow steps, entry points and agent skills, checked against what the API stored.

Same set-up as test_browser.py: Debian's Chromium through Playwright, the server in a thread.
What the pages saved is read back through the API with the browser's own session
(`page.request`), so the check goes through the same permissions as the page.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_browser import assert_accessible

pytestmark = pytest.mark.browser

PASSWORD = "Str0ng-Passw0rd!"  # the `org` fixture's password (tests/conftest.py)
TIMEOUT = 10_000


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(target)


def sign_in(page: Any, username: str, totp: str | None = None) -> None:
    page.set_default_timeout(TIMEOUT)
    page.goto("/")
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    if totp is not None:
        expect(page.locator("#login-totp")).to_be_visible()
        page.locator("#login-totp").fill(totp)
        page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("sign-out")).to_be_visible(timeout=TIMEOUT)


def pick(page: Any, input_id: str, option: str) -> None:
    """Choose `option` in the Element Plus select whose input has id `input_id`."""
    page.locator(f".el-select:has(#{input_id})").click()
    page.locator("li[role=option]:visible").get_by_text(option, exact=True).click()
    # Closed before the next select opens (two lists may offer the same option).
    expect(page.locator("li[role=option]:visible")).to_have_count(0)


def pick_unit(page: Any, input_id: str, name: str) -> None:
    """Choose a unit in an OrgUnitPicker (the node's own label: a parent's row holds its
    children too)."""
    page.locator(f".el-select:has(#{input_id})").click()
    node = page.get_by_role("treeitem", name=name, exact=True)
    node.locator(".el-tree-node__content").first.click()


def number(page: Any, input_id: str, value: float) -> None:
    """Type into an el-input-number; it takes the value when the field loses focus."""
    field = page.locator(f"#{input_id}")
    field.fill(str(value))
    field.press("Tab")


def api_get(page: Any, path: str) -> Any:
    r = page.request.get(path)
    assert r.ok, r.text()
    return r.json()


def by_code(page: Any, path: str, code: str) -> dict[str, Any]:
    items = api_get(page, f"{path}?limit=200")["items"]
    found = [i for i in items if i.get("code", i.get("address")) == code]
    assert found, f"{code} not in {path}"
    return dict(found[0])


def field_error(scope: Any, input_id: str) -> Any:
    return scope.locator(f".el-form-item:has(#{input_id}) .el-form-item__error")


def test_admin_configures_routing(open_page: Any, org: Any, shot: Any) -> None:
    org.user("admin1", "system_admin")
    agent_id = org.user("agent1", "agent", unit="team-a")
    page = open_page()
    sign_in(page, "admin1", totp=org.totp("admin1"))

    # --- skills and wrap-up codes ------------------------------------------------------------
    page.get_by_test_id("nav-routing-skills").click()
    expect(page.get_by_role("heading", name="技能与小结码")).to_be_visible()
    for code, name in (("fault_repair", "故障报修"), ("billing", "账单查询")):
        page.get_by_test_id("skill-create").click()
        page.locator("#skill-code").fill(code)
        page.locator("#skill-name").fill(name)
        page.get_by_test_id("skill-submit").click()
        expect(page.get_by_test_id("skill-table")).to_contain_text(code)
    # The same code again: the server's conflict shows on the code field.
    page.get_by_test_id("skill-create").click()
    page.locator("#skill-code").fill("billing")
    page.locator("#skill-name").fill("重复")
    page.get_by_test_id("skill-submit").click()
    expect(field_error(page.get_by_test_id("skill-dialog"), "skill-code")).to_have_text(
        "技能编码已存在。"
    )
    page.get_by_test_id("skill-dialog").get_by_role("button", name="取消").click()
    # Rename: the code stays, the name changes.
    page.get_by_role("button", name="重命名 账单查询").click()
    page.locator("#skill-name").fill("账单")
    page.get_by_test_id("skill-submit").click()
    expect(page.get_by_test_id("skill-table")).to_contain_text("账单")

    page.get_by_test_id("wrap-up-create").click()
    page.locator("#wrap-up-code").fill("resolved")
    page.locator("#wrap-up-name").fill("已解决")
    page.get_by_test_id("wrap-up-submit").click()
    expect(page.get_by_test_id("wrap-up-table")).to_contain_text("resolved")
    page.get_by_role("button", name="停用 已解决").click()
    page.get_by_role("dialog").get_by_role("button", name="确定").click()
    expect(page.get_by_role("button", name="启用 已解决")).to_be_visible()
    expect(page.get_by_test_id("wrap-up-table").get_by_text("停用", exact=True)).to_be_visible()
    toast = page.locator(".el-message").last  # (earlier ones may be fading out)
    expect(toast).to_be_visible()
    toast.hover()  # a toast stays while the pointer is on it: axe finds it whole
    assert_accessible(page, "the toast", within=[f"#{toast.get_attribute('id')}"])
    # the confirm box fades out: axe must not measure its half-transparent colours
    expect(page.locator(".el-message-box")).to_have_count(0)
    assert_accessible(page, "skills")

    assert by_code(page, "/api/skills", "billing")["name"] == "账单"
    assert by_code(page, "/api/skills", "fault_repair")["name"] == "故障报修"
    wrap = by_code(page, "/api/wrap-up-codes", "resolved")
    assert (wrap["name"], wrap["active"]) == ("已解决", False)

    # --- queues --------------------------------------------------------------------------------
    page.get_by_test_id("nav-routing-queues").click()
    expect(page.get_by_role("heading", name="技能组", exact=True)).to_be_visible()
    dialog = page.get_by_test_id("queue-dialog")

    # A small queue first: the target of the main queue's "add another queue's agents" step.
    page.get_by_test_id("queue-create").click()
    page.locator("#queue-code").fill("billing")
    page.locator("#queue-name").fill("账单查询")
    pick_unit(page, "queue-org-unit", "客服中心")
    page.get_by_test_id("queue-submit").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("queues-table")).to_contain_text("billing")

    page.get_by_test_id("queue-create").click()
    expect(dialog).to_be_visible()
    page.locator("#queue-code").fill("faults")
    page.locator("#queue-name").fill("故障报修")
    pick_unit(page, "queue-org-unit", "客服中心")
    dialog.locator("label.el-checkbox", has_text="在线客服").click()
    expect(dialog.get_by_role("checkbox", name="在线客服")).to_be_checked()
    page.get_by_test_id("queue-add-skill").click()
    pick(page, "queue-skill-0", "故障报修 (fault_repair)")
    number(page, "queue-skill-level-0", 3)
    number(page, "queue-sl-seconds", 30)
    number(page, "queue-sl-percent", 85)
    number(page, "queue-priority", 5)
    pick(page, "queue-strategy", "技能最高优先")
    number(page, "queue-offer-timeout", 25)
    number(page, "queue-wrap-up", 90)
    number(page, "queue-ageing", 1.5)
    page.locator(".el-switch:has(#queue-max-wait-on)").click()
    number(page, "queue-max-wait", 600)
    pick(page, "queue-max-wait-action", "转为回呼（保留排位）")

    # Two overflow steps, entered in the wrong order: call up standby staff after 120 s,
    # lower the skill level after 60 s.
    page.get_by_test_id("overflow-add").click()
    pick(page, "step-0-kind", "调用备勤/场外分组")
    number(page, "step-0-after", 120)
    page.locator("#step-0-group").fill("standby")
    page.get_by_test_id("overflow-add").click()
    number(page, "step-1-after", 60)
    number(page, "step-1-level", 1)
    pick(page, "step-1-skill", "故障报修")
    page.get_by_test_id("queue-submit").click()
    expect(field_error(dialog, "step-1-after")).to_contain_text("不能早于上一步")
    expect(page.get_by_test_id("queue-form-error")).to_be_visible()
    # Reorder with the keyboard: the step moves up, the focus goes with it.
    page.get_by_test_id("overflow-up-1").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("overflow-step-0")).to_contain_text("降低技能等级要求")
    expect(page.get_by_test_id("overflow-step-1")).to_contain_text("调用备勤/场外分组")
    expect(page.get_by_test_id("overflow-down-0")).to_be_focused()
    page.get_by_test_id("queue-submit").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("queues-table").locator("tr", has_text="faults")
    expect(row).to_contain_text("故障报修")
    expect(row).to_contain_text("85% 在 30 秒内")
    expect(row).to_contain_text("60 秒后：fault_repair 等级 ≥ 1")
    expect(row).to_contain_text("120 秒后：调用分组 standby")

    faults = by_code(page, "/api/queues", "faults")
    billing = by_code(page, "/api/queues", "billing")
    assert {k: faults[k] for k in faults if k not in ("id", "created_at", "updated_at")} == {
        "code": "faults",
        "name": "故障报修",
        "org_unit_id": org.center.id,
        "skills": [{"skill": "fault_repair", "min_level": 3}],
        "channels": ["chat", "voice"],
        "priority": 5,
        "service_level_seconds": 30.0,
        "service_level_percent": 85.0,
        "max_wait_seconds": 600.0,
        "max_wait_action": "callback",
        "strategy": "most_skilled",
        "overflow": [
            {
                "kind": "lower_skill_level",
                "after_seconds": 60.0,
                "min_level": 1,
                "skill": "fault_repair",
            },
            {"kind": "activate_group", "after_seconds": 120.0, "group": "standby"},
        ],
        "offer_timeout_seconds": 25.0,
        "wrap_up_seconds": 90.0,
        "ageing_per_minute": 1.5,
        "stats": None,
    }
    assert_accessible(page, "queues")
    shot(page, "admin-queues")

    # Edit: a third step borrows the billing queue's agents after three minutes.
    page.get_by_test_id("queue-edit-faults").click()
    expect(page.locator("#queue-name")).to_have_value("故障报修")
    expect(page.locator("#queue-code")).to_be_disabled()
    page.get_by_test_id("overflow-add").click()
    pick(page, "step-2-kind", "借用其他技能组的坐席")
    number(page, "step-2-after", 180)
    pick(page, "step-2-queue", "账单查询 (billing)")
    shot(page, "admin-queue-edit")
    # The whole dialog on screen: axe misjudges the colours of what is scrolled out of view
    # behind the dialog's mask (it measures the mask, not the dialog).
    page.set_viewport_size({"width": 1280, "height": 2400})
    assert_accessible(page, "queue editor")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_test_id("queue-submit").click()
    expect(dialog).to_be_hidden()
    faults = by_code(page, "/api/queues", "faults")
    assert faults["overflow"][2] == {
        "kind": "add_queue_agents",
        "after_seconds": 180.0,
        "queue_id": billing["id"],
    }

    # A server refusal shows on its field: the code is taken.
    page.get_by_test_id("queue-create").click()
    page.locator("#queue-code").fill("faults")
    page.locator("#queue-name").fill("另一个")
    pick_unit(page, "queue-org-unit", "客服中心")
    page.get_by_test_id("queue-submit").click()
    expect(field_error(dialog, "queue-code")).to_have_text("技能组编码已存在。")
    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_be_hidden()

    # --- entry points -------------------------------------------------------------------------
    page.get_by_test_id("nav-routing-entry-points").click()
    page.get_by_test_id("entry-create").click()
    page.locator("#entry-address").fill("96266")
    page.locator("#entry-name").fill("96266 热线")
    pick(page, "entry-queue", "故障报修 (faults)")
    number(page, "entry-priority", 2)
    page.get_by_test_id("entry-submit").click()
    expect(page.get_by_test_id("entry-dialog")).to_be_hidden()
    expect(page.get_by_test_id("entry-points-table")).to_contain_text("96266 热线")
    assert_accessible(page, "entry points")
    entry = by_code(page, "/api/entry-points", "96266")
    assert {
        k: entry[k] for k in ("channel", "address", "name", "queue_id", "priority", "active")
    } == {
        "channel": "voice",
        "address": "96266",
        "name": "96266 热线",
        "queue_id": faults["id"],
        "priority": 2,
        "active": True,
    }

    # --- agent skills -------------------------------------------------------------------------
    page.get_by_test_id("nav-routing-agent-skills").click()
    page.get_by_test_id("agent-pick-agent1").click()
    profile = page.get_by_test_id("agent-profile")
    expect(profile).to_contain_text("还没有坐席档案")
    page.get_by_test_id("profile-add-skill").click()
    pick(page, "profile-skill-0", "故障报修 (fault_repair)")
    number(page, "profile-level-0", 7)
    page.get_by_test_id("profile-add-skill").click()
    pick(page, "profile-skill-1", "账单 (billing)")
    number(page, "profile-level-1", 2)
    number(page, "capacity-chat", 3)
    page.locator("#profile-group").fill("standby")
    page.get_by_test_id("profile-save").click()
    expect(profile).to_contain_text("最后修改")
    assert_accessible(page, "agent skills")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "admin-agent-skills")
    saved = api_get(page, f"/api/agents/{agent_id}/profile")
    assert saved["skills"] == {"billing": 2, "fault_repair": 7}
    assert saved["capacity"] == {
        "voice": 1,
        "chat": 3,
        "email": 0,
        "sms": 0,
        "social": 0,
        "work_item": 0,
    }
    assert saved["group"] == "standby"

    # English too: the same pages, the same data.
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("nav-routing-queues").click()
    expect(page.get_by_role("heading", name="Queues", exact=True)).to_be_visible()
    expect(page.get_by_test_id("queues-table")).to_contain_text("After 60 s: fault_repair")
    assert_accessible(page, "queues (en)")


def test_read_only_user_sees_no_edit_controls(open_page: Any, org: Any, runtime: Any) -> None:
    from hotline.core.context import system_actor
    from hotline.domains.routing import actions

    def configure(tx: Any, engine: Any) -> None:
        actions.create_skill(tx, code="billing", name="账单查询")
        actions.create_queue(
            tx,
            engine,
            code="billing",
            name="账单查询",
            org_unit_id=org.center.id,
            settings={"skills": [["billing", 1]], "channels": ["voice"]},
        )

    runtime.routing.execute(system_actor("fixture"), configure)
    org.user("qa1", "qa")  # queue:read without queue:manage
    page = open_page()
    sign_in(page, "qa1")

    expect(page.get_by_test_id("nav-routing-agent-skills")).to_have_count(0)
    page.get_by_test_id("nav-routing-queues").click()
    expect(page.get_by_role("heading", name="技能组", exact=True)).to_be_visible()
    expect(page.get_by_test_id("queues-table")).to_contain_text("账单查询")
    expect(page.get_by_text("只读")).to_be_visible()
    expect(page.get_by_test_id("queue-create")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^编辑"))).to_have_count(0)
    assert_accessible(page, "queues (read only)")

    page.get_by_test_id("nav-routing-skills").click()
    expect(page.get_by_test_id("skill-table")).to_contain_text("billing")
    expect(page.get_by_test_id("skill-create")).to_have_count(0)
    expect(page.get_by_test_id("wrap-up-create")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^(重命名|停用)"))).to_have_count(0)
    assert_accessible(page, "skills (read only)")

    page.get_by_test_id("nav-routing-entry-points").click()
    expect(page.get_by_test_id("entry-points-table")).to_be_visible()
    expect(page.get_by_test_id("entry-create")).to_have_count(0)
    assert_accessible(page, "entry points (read only)")

    # The agent-skills page needs queue:manage: its route leads back to the landing page.
    page.goto("/routing/agent-skills")
    expect(page).not_to_have_url(re.compile(r"/routing/agent-skills$"))
