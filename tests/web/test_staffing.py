"""The staffing calculator page (人力测算, R-C7) in a real browser: the published Erlang C check,
a bad token in the volume list, Erlang A with the abandon rate, "fill from a day" from a
queue's interval statistics, accessibility, English.

Contacts are created and handled through the API (the `login` fixture) on the test's
ManualClock, set to a fixed morning in the center's time zone (Asia/Shanghai), so the day's
intervals and the AHT are known.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from floor import build_floor
from test_browser import TIMEOUT, assert_accessible, expect, open_select, sign_in

from hotline.core.clock import UTC

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_argon2")]

FAULTS = {"skills": [["fault_repair", 1]], "channels": ["sms", "chat"]}
DAY = "2026-11-20"
# 08:00 in Shanghai on DAY
MORNING = dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


@pytest.fixture
def floor(runtime: Any, org: Any, clock: Any) -> dict[str, str]:
    """Queue faults (SMS 96266) served by agent1; a duty manager (plans, stats:read) over the
    center; a channel gateway."""
    clock.set(MORNING)
    return build_floor(
        runtime,
        org,
        {
            "agent1": ("agent", "team-a"),
            "planner": ("duty_manager", "center"),
            "gateway": ("channel_gateway", "center"),
        },
        queues={"faults": FAULTS},
        entry_points=[("96266", "96266", "faults")],
        agents={"agent1": {"fault_repair": 5}},
    )


def accessible(page: Any, what: str) -> None:
    """axe once the page is still: a field error zooms in (a CSS transition), and axe would
    measure its contrast at part opacity."""
    for _ in range(50):  # the page's CSP forbids wait_for_function's eval: poll instead
        if page.evaluate("() => document.getAnimations().length === 0"):
            break
        page.wait_for_timeout(100)
    assert_accessible(page, what)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def open_staffing(page: Any) -> None:
    sign_in(page, "planner")
    nav = page.get_by_test_id("nav-staffing")
    expect(nav).to_have_text("人力测算")
    expect(page.locator("#nav-group-planning")).to_have_text("计划与排班")
    nav.click()
    expect(page).to_have_url(re.compile(r"/workforce/staffing$"))
    expect(page.get_by_role("heading", name="人力测算", exact=True)).to_be_visible()


def choose_interval(page: Any, name: str) -> None:
    """Element Plus draws the radio over its input: click the label, as a person would."""
    page.locator("label.el-radio", has_text=name).click()
    expect(page.get_by_role("radio", name=name)).to_be_checked()


def calculate(page: Any, volumes: str) -> None:
    page.locator("#staffing-volumes").fill(volumes)
    page.get_by_test_id("staffing-submit").click()


def cell(page: Any, row: int, col: str) -> Any:
    return page.get_by_test_id(f"staffing-row-{row}").locator(f"[data-col={col}]")


def test_planner_checks_erlang_c_and_a(open_page: Any, floor: dict[str, str], shot: Any) -> None:
    page = open_page()
    open_staffing(page)
    # The interval length starts at the server's statistics interval (15 minutes by default).
    expect(page.get_by_role("radio", name="15 分钟")).to_be_checked(timeout=TIMEOUT)

    # The published check: 100 calls per 30 minutes, AHT 180 s, 80/20 → 14 agents,
    # P(wait) 17.4 %, service level 88.8 %.
    choose_interval(page, "30 分钟")
    expect(page.locator("#staffing-aht")).to_have_value("180")
    expect(page.locator("#staffing-sl-percent")).to_have_value("80")
    expect(page.locator("#staffing-sl-seconds")).to_have_value("20")
    calculate(page, "100")
    expect(cell(page, 0, "agents")).to_have_text("14")
    expect(cell(page, 0, "p_wait")).to_have_text("17.4%")
    expect(cell(page, 0, "sl")).to_have_text("88.8%")
    expect(cell(page, 0, "load")).to_have_text("10.00")
    expect(cell(page, 0, "occupancy")).to_have_text("71.4%")
    expect(cell(page, 0, "asa")).to_have_text("7.8 秒")
    expect(page.get_by_test_id("staffing-row-0").locator("th")).to_have_text("#1")
    expect(page.get_by_test_id("staffing-peak")).to_have_text("14")
    expect(page.get_by_test_id("staffing-agent-hours")).to_have_text("7 小时")
    expect(page.get_by_test_id("staffing-model")).to_have_text("Erlang C")
    expect(page.locator("table caption")).to_have_text("各时段所需坐席人数")
    expect(page.get_by_test_id("staffing-chart").locator("canvas")).to_have_count(
        1, timeout=TIMEOUT
    )
    # The keyboard lands on the result.
    expect(page.locator("#staffing-result-title")).to_be_focused()
    accessible(page, "staffing (Erlang C)")
    # For the docs: a day-shaped half-hour profile, the whole page in view.
    calculate(page, "60 90 140 180 210 190\n170 160 185 200 175 150\n120 100 80 60")
    expect(page.get_by_test_id("staffing-row-15")).to_be_visible()
    expect(page.get_by_test_id("staffing-peak")).not_to_have_text("14")
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "staffing")
    page.set_viewport_size({"width": 1280, "height": 800})

    # A bad token: the message says which and where; the list gets the focus.
    calculate(page, "100 120\n95 abc 80")
    error = page.locator(".el-form-item:has(#staffing-volumes) .el-form-item__error")
    expect(error).to_have_text(
        "第 4 个数“abc”（第 2 行第 4 列）不是有效的来电量："
        "只能填不小于 0 的数字，用空格、逗号或换行分隔。"
    )
    expect(page.get_by_test_id("staffing-form-error")).to_contain_text("有 1 项输入需要修改")
    expect(page.locator("#staffing-volumes")).to_be_focused()
    # The previous result stays, marked as not matching the inputs any more.
    expect(page.get_by_test_id("staffing-stale")).to_be_visible()
    accessible(page, "staffing (bad token)")

    # Erlang A: with a patience time the callers abandon; fewer agents, P(abandon) shown.
    page.locator("#staffing-patience").fill("120")
    page.locator("#staffing-patience").press("Tab")
    calculate(page, "100, 50")
    expect(page.get_by_test_id("staffing-model")).to_have_text("Erlang A（含放弃）")
    expect(page.get_by_role("columnheader", name="放弃率")).to_be_visible()
    expect(cell(page, 0, "agents")).to_have_text("12")
    expect(cell(page, 0, "p_abandon")).to_have_text("6.2%")
    expect(page.get_by_test_id("staffing-row-1").locator("th")).to_have_text("#2")
    expect(page.get_by_test_id("staffing-form-error")).to_have_count(0)
    expect(page.get_by_test_id("staffing-stale")).to_have_count(0)
    accessible(page, "staffing (Erlang A)")


def test_planner_fills_from_a_day_and_reads_it_in_english(
    open_page: Any, floor: dict[str, str], login: Any, clock: Any
) -> None:
    # The ManualClock jumps between arrivals further than the idle sign-out: each step signs in
    # afresh (as the gateway's and the desk's own sessions would be kept alive).
    def arrive(hh: int, mm: int, caller: str) -> str:
        clock.set(MORNING.replace(hour=hh - 8, minute=mm))
        body = {"channel": "sms", "address": "96266", "caller": caller}
        return str(ok(login("gateway").post("/api/contacts", json=body), 201)["id"])

    def handle(contact: str, talk: int, wrap: int) -> None:
        agent1 = login("agent1")
        clock.advance(5)
        ok(agent1.post(f"/api/contacts/{contact}/accept"))
        clock.advance(talk)
        ok(agent1.post(f"/api/contacts/{contact}/end"))
        clock.advance(wrap)
        ok(agent1.post(f"/api/contacts/{contact}/wrap-up", json={"code": "resolved"}))

    desk = {"action": "login", "seat": "A-01", "ready": True}
    ok(login("agent1").post("/api/me/agent", json=desk))
    handle(arrive(8, 5, "13800000001"), talk=150, wrap=30)  # 180 s
    handle(arrive(8, 20, "13800000002"), talk=100, wrap=20)  # 120 s
    ok(login("agent1").post("/api/me/agent", json={"action": "not_ready"}))
    for hh, mm, caller in [(8, 40, "13800000003"), (9, 10, "13800000004")]:
        waiting = arrive(hh, mm, caller)
        clock.advance(30)
        ok(login("gateway").post(f"/api/contacts/{waiting}/abandon"))

    page = open_page()
    open_staffing(page)
    expect(page.get_by_role("radio", name="15 分钟")).to_be_checked(timeout=TIMEOUT)
    # Hourly: the server's 15-minute rows are summed per hour.
    choose_interval(page, "60 分钟")
    page.get_by_test_id("staffing-fill").click()
    expect(page.get_by_test_id("staffing-fill-error")).to_have_text("请选择技能组。")
    open_select(page, "staffing-queue")
    page.get_by_role("option", name=re.compile(r"^故障报修")).click()
    page.locator("#staffing-date").fill(DAY)
    page.locator("#staffing-date").press("Enter")
    page.get_by_test_id("staffing-fill").click()
    notes = page.get_by_test_id("staffing-fill-notes")
    expect(notes).to_contain_text(f"已填入 故障报修 {DAY} 的 24 个时段，共 4 通来电。")
    expect(notes).to_contain_text("平均处理时长按当天已处理的 2 通来电计为 150 秒。")
    expect(page.locator("#staffing-aht")).to_have_value("150")
    volumes = page.locator("#staffing-volumes").input_value().split("\n")
    assert len(volumes) == 24 and volumes[8] == "3" and volumes[9] == "1", volumes
    assert sum(int(v) for v in volumes) == 4

    page.get_by_test_id("staffing-submit").click()
    row8 = page.get_by_test_id("staffing-row-8")
    expect(row8.locator("th")).to_have_text("08:00")
    expect(cell(page, 8, "calls")).to_have_text("3")
    expect(cell(page, 8, "agents")).to_have_text("1")
    expect(page.get_by_test_id("staffing-row-9").locator("th")).to_have_text("09:00")
    expect(cell(page, 0, "agents")).to_have_text("0")
    accessible(page, "staffing (filled from a day)")

    # Editing the list drops the time labels (the intervals are no longer the day's).
    page.locator("#staffing-volumes").fill("3 1")
    page.get_by_test_id("staffing-submit").click()
    expect(page.get_by_test_id("staffing-row-0").locator("th")).to_have_text("#1")

    # English: the page, the result and its numbers follow the language switch.
    calculate(page, "1500.5")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", name="Staffing", exact=True)).to_be_visible()
    expect(page.get_by_role("columnheader", name="P(wait)")).to_be_visible()
    expect(cell(page, 0, "calls")).to_have_text("1,500.5")
    expect(page.get_by_test_id("staffing-agent-hours")).to_contain_text(" h")
    calculate(page, "12 x")
    expect(page.locator(".el-form-item:has(#staffing-volumes) .el-form-item__error")).to_have_text(
        re.compile(r"^Number 2, “x” \(line 1, column 4\), is not a call volume")
    )
    accessible(page, "staffing (English)")
