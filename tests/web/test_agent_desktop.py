"""The agent desktop in a real browser (issue 4): state bar, offers with a countdown, the
contact panel, controls, keyboard shortcuts, live updates (also across a server restart),
translated API errors, accessibility, first-load time.

The server runs on the test's ManualClock without a routing ticker: offer timeouts happen when
the test advances the clock and calls `runtime.routing.tick()`. Contacts arrive through the API
as a channel gateway would send them.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from floor import build_floor
from test_browser import TIMEOUT, assert_accessible, choose, expect, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_argon2")]

FAULTS = {
    "skills": [["fault_repair", 3]],
    "channels": ["sms", "chat"],
    "offer_timeout_seconds": 20.0,
    "wrap_up_seconds": 60.0,
}
BILLING = {
    "skills": [["billing", 1]],
    "channels": ["sms", "chat"],
    "offer_timeout_seconds": 20.0,
    "wrap_up_seconds": 30.0,
}


@pytest.fixture
def floor(runtime: Any, org: Any) -> dict[str, str]:
    """Two queues (faults, billing), an SMS entry point 96266, wrap-up codes, an agent who
    serves faults only, a team lead, a duty manager who also takes contacts, a gateway."""
    return build_floor(
        runtime,
        org,
        {
            "agent1": ("agent", "team-a"),
            "lead": ("team_lead", "center"),
            "duty": ("duty_manager", "group"),
            "gateway": ("channel_gateway", "center"),
        },
        queues={"faults": FAULTS, "billing": BILLING},
        entry_points=[("96266", "服务热线", "faults")],
        agents={"agent1": {"fault_repair": 5}, "duty": {"fault_repair": 9}},
    )


def arrive(login: Any, caller: str = "13812345678") -> str:
    """An SMS to 96266, reported by the channel gateway through the API."""
    r = login("gateway").post(
        "/api/contacts", json={"channel": "sms", "address": "96266", "caller": caller}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def first_load(page: Any) -> dict[str, float]:
    """Open /desk with an empty HTTP cache (the session cookie stays) and read the Navigation
    Timing figures, plus when the state bar was first on screen."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.clearBrowserCache")
    page.goto("/desk")
    ready = page.wait_for_function(
        "() => document.querySelector('[data-testid=desk-state]') && performance.now()",
        polling="raf",
    ).json_value()
    timing: dict[str, float] = page.evaluate(
        """() => {
          const n = performance.getEntriesByType('navigation')[0]
          const res = performance.getEntriesByType('resource')
          return {
            responseEnd: n.responseEnd,
            domContentLoaded: n.domContentLoadedEventEnd,
            load: n.loadEventEnd,
            requests: res.length + 1,
            transferKB: (n.transferSize + res.reduce((s, r) => s + r.transferSize, 0)) / 1024,
          }
        }"""
    )
    timing["stateBarVisible"] = float(ready)
    return timing


def test_agent_handles_contacts_from_the_desktop(
    open_page: Any, floor: dict[str, str], login: Any, shot: Any, clock: Any
) -> None:
    page = open_page()
    sign_in(page, "agent1")
    # The desktop is the agent's landing page.
    expect(page).to_have_url(re.compile(r"/desk$"))
    expect(page.get_by_test_id("live-indicator")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )

    timing = first_load(page)
    print(
        "\nagent desktop first load, cold cache (ms): "
        + ", ".join(
            f"{k}={v:.0f}" if k != "transferKB" else f"{k}={v:.1f}" for k, v in timing.items()
        )
    )
    state = page.get_by_test_id("desk-state")
    expect(state).to_have_attribute("data-state", "logged_out")
    expect(page.get_by_test_id("desk-idle")).to_contain_text("请先在座席位签入")

    # Log in at a seat (not ready, reason "just logged in"), then ready.
    page.locator("#desk-seat-input").fill("A-01")
    page.get_by_test_id("desk-login").click()
    expect(state).to_have_attribute("data-state", "not_ready")
    expect(state).to_contain_text("示忙：刚签入")
    expect(page.get_by_test_id("desk-seat")).to_have_text("A-01")
    page.get_by_test_id("desk-ready").click()
    expect(state).to_have_attribute("data-state", "ready")
    loaded = time.monotonic()  # the page has read the server's clock (the answer to "ready")
    expect(page.get_by_test_id("desk-time-in-state")).to_contain_text("持续")
    assert_accessible(page, "agent desktop (idle)")
    shot(page, "agent-desktop")

    # The shortcuts are listed in a popover ("?").
    page.keyboard.press("?")
    help_ = page.get_by_test_id("desk-shortcuts-help")
    expect(help_).to_be_visible()
    expect(help_).to_contain_text("接听来电")
    page.keyboard.press("?")
    expect(help_).to_be_hidden()

    # A contact arrives: the offer appears with its countdown, caller masked. The page reckons
    # server time as the clock it last heard plus the real time since, so the server's clock
    # catches up on the real seconds spent above (a slow machine may spend the whole 20 s).
    clock.advance(time.monotonic() - loaded)
    arrive(login)
    offer = page.get_by_test_id("desk-offer")
    expect(offer).to_be_visible(timeout=TIMEOUT)
    expect(state).to_have_attribute("data-state", "reserved")
    expect(page.get_by_test_id("desk-offer-caller")).to_contain_text("138****5678")
    expect(page.get_by_test_id("desk-offer-queue")).to_have_text("故障报修")
    expect(offer).to_contain_text("服务热线 (96266)")
    countdown = page.get_by_test_id("desk-offer-countdown")
    expect(countdown).to_contain_text(re.compile(r"剩余 \d+ 秒应答"))
    seconds = int(countdown.get_attribute("data-seconds") or "0")
    assert 0 < seconds <= 20, seconds
    shot(page, "agent-desktop-offer")

    # Typing in a field does not trigger the shortcuts…
    page.get_by_test_id("desk-reason").click()
    page.keyboard.press("Escape")
    # …while "A" on the page accepts the offer.
    page.locator("h1").click()
    page.keyboard.press("a")
    contact = page.get_by_test_id("desk-contact")
    expect(contact).to_be_visible()
    expect(offer).to_have_count(0)
    expect(state).to_have_attribute("data-state", "busy")
    caller = page.get_by_test_id("desk-contact-caller")
    expect(caller).to_contain_text("138****5678")
    expect(caller).to_have_attribute("data-masked", "true")
    expect(page.get_by_test_id("desk-contact-queue")).to_have_text("故障报修")
    expect(page.get_by_test_id("desk-contact-entry")).to_have_text("服务热线 (96266)")
    # The agent reads its own contact's history (GET /api/me/contacts/{id}).
    expect(page.get_by_test_id("desk-history")).to_contain_text("排队")
    # No feature fills the named slots yet: they render nothing.
    expect(contact.locator("[data-slot]")).to_have_count(0)
    assert_accessible(page, "agent desktop (with a contact)")
    shot(page, "agent-desktop-contact")

    # The API's errors are shown with their translated message: no logging out while busy.
    page.get_by_test_id("desk-logout").click()
    page.get_by_role("tooltip").get_by_role("button", name="确定").click()
    expect(page.get_by_test_id("desk-error")).to_contain_text("请先结束或转接正在处理的来电")
    expect(state).to_have_attribute("data-state", "busy")
    # (the confirmation closes with a transition, then gives the focus back to its button)
    expect(page.get_by_role("tooltip")).to_be_hidden()
    page.locator("h1").click()

    # End with the keyboard, then the wrap-up code and notes.
    page.keyboard.press("e")
    expect(contact).to_have_attribute("data-status", "wrap_up")
    expect(state).to_have_attribute("data-state", "wrap_up")
    expect(page.get_by_test_id("desk-wrap-up-timer")).to_contain_text("话后处理剩余")
    page.keyboard.press("w")
    expect(page.locator("#desk-wrapup-code")).to_be_focused()
    page.keyboard.press("Escape")
    choose(page, "desk-wrapup-code", "已解决")
    page.locator("#desk-wrapup-notes").fill("光猫重启后恢复")
    page.keyboard.press("r")  # typing in the notes: no shortcut fires
    expect(page.locator("#desk-wrapup-notes")).to_have_value("光猫重启后恢复r")
    page.get_by_test_id("desk-wrapup-submit").click()
    expect(contact).to_have_count(0)
    expect(state).to_have_attribute("data-state", "ready")

    # A second contact: accepted with the button, transferred to another queue.
    arrive(login, caller="13900001111")
    expect(offer).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("desk-accept").click()
    expect(contact).to_be_visible()
    page.get_by_test_id("desk-transfer").click()
    dialog = page.get_by_role("dialog", name="转接来电")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("desk-transfer-submit").click()
    expect(dialog.get_by_role("alert")).to_have_text("此项为必填项")
    assert_accessible(page, "transfer dialog with an error", within=[".el-dialog"], modal=True)
    choose(page, "desk-transfer-queue", "账单查询")
    dialog.get_by_test_id("desk-transfer-submit").click()
    expect(contact).to_have_count(0)
    expect(state).to_have_attribute("data-state", "wrap_up")
    page.locator("h1").click()
    page.keyboard.press("r")  # ends wrap-up early
    expect(state).to_have_attribute("data-state", "ready")

    # Change seat (equipment failure).
    page.get_by_test_id("desk-change-seat").click()
    page.locator("#desk-new-seat").fill("B-02")
    page.get_by_test_id("desk-seat-save").click()
    expect(page.get_by_test_id("desk-seat")).to_have_text("B-02")

    # English.
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", name="Agent desktop")).to_be_visible()
    expect(state).to_contain_text("Ready")
    shot(page, "agent-desktop-en")


def test_duty_manager_sees_caller_and_history_and_transfers_to_an_agent(
    open_page: Any, floor: dict[str, str], login: Any, clock: Any
) -> None:
    """With customer:read_pii the caller is shown in the clear; with contact:read the history
    is there; with agent:supervise a contact can go straight to another agent."""
    page = open_page()
    sign_in(page, "duty")
    expect(page).to_have_url(re.compile(r"/desk$"))
    expect(page.get_by_test_id("live-indicator")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )
    page.locator("#desk-seat-input").fill("D-01")
    page.get_by_test_id("desk-login").click()
    state = page.get_by_test_id("desk-state")
    expect(state).to_have_attribute("data-state", "not_ready")
    page.get_by_test_id("desk-ready").click()
    expect(state).to_have_attribute("data-state", "ready")
    clock.advance(5)
    agent1 = login("agent1")  # ready after the duty manager: the offer goes to the latter
    r = agent1.post("/api/me/agent", json={"action": "login", "seat": "A-01", "ready": True})
    assert r.status_code == 200, r.text

    arrive(login)
    expect(page.get_by_test_id("desk-offer")).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("desk-accept").click()
    caller = page.get_by_test_id("desk-contact-caller")
    expect(caller).to_contain_text("13812345678")
    expect(caller).to_have_attribute("data-masked", "false")
    history = page.get_by_test_id("desk-history")
    for step in ("到达", "进入排队", "分配给坐席", "接通"):
        expect(history).to_contain_text(step)
    assert_accessible(page, "agent desktop (duty manager, with history)")

    page.get_by_test_id("desk-transfer").click()
    dialog = page.get_by_role("dialog", name="转接来电")
    dialog.locator("label.el-radio", has_text="坐席").click()
    expect(dialog.get_by_role("radio", name="坐席")).to_be_checked()
    choose(page, "desk-transfer-agent", "Agent1 (agent1)")
    dialog.get_by_test_id("desk-transfer-submit").click()
    expect(page.get_by_test_id("desk-contact")).to_have_count(0)
    expect(state).to_have_attribute("data-state", "wrap_up")
    me = agent1.get("/api/me/agent").json()
    assert me["state"] == "reserved" and me["work"][0]["status"] == "offered"


def test_missed_offer_then_logout_needs_approval(
    open_page: Any, floor: dict[str, str], login: Any, runtime: Any, clock: Any, live: Any
) -> None:
    page = open_page()
    sign_in(page, "agent1")
    expect(page).to_have_url(re.compile(r"/desk$"))
    expect(page.get_by_test_id("live-indicator")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )
    page.locator("#desk-seat-input").fill("A-07")
    page.get_by_test_id("desk-login").click()
    state = page.get_by_test_id("desk-state")
    expect(state).to_have_attribute("data-state", "not_ready")
    page.get_by_test_id("desk-ready").click()
    expect(state).to_have_attribute("data-state", "ready")

    # The offer comes while the desktop's server is down: it shows once the stream is back.
    indicator = page.get_by_test_id("live-indicator")
    live.stop()
    expect(indicator).to_have_attribute("data-state", "disconnected", timeout=TIMEOUT)
    arrive(login)
    live.start()
    expect(indicator).to_have_attribute("data-state", "connected", timeout=30_000)
    expect(page.get_by_test_id("desk-offer")).to_be_visible(timeout=TIMEOUT)
    expect(state).to_have_attribute("data-state", "reserved")

    # Nobody answers: the offer times out on the server's clock.
    clock.advance(21)
    assert runtime.routing.tick(), "the offer should have timed out"
    notice = page.get_by_test_id("desk-notice")
    expect(notice).to_have_attribute("data-kind", "missed", timeout=TIMEOUT)
    expect(notice).to_contain_text("已退回排队")
    expect(page.get_by_test_id("desk-offer")).to_have_count(0)
    expect(state).to_have_attribute("data-state", "not_ready")
    expect(state).to_have_attribute("data-reason", "missed")
    expect(state).to_contain_text("示忙：未接来电")

    # The contact still waits in the agent's queue: logging out needs a team lead (202).
    page.get_by_test_id("desk-logout").click()
    page.get_by_role("tooltip").get_by_role("button", name="确定").click()
    pending = page.get_by_test_id("desk-logout-pending")
    expect(pending).to_contain_text("正在等待班长审批")
    expect(pending).to_contain_text("技能组仍有来电排队")
    expect(page.get_by_test_id("desk-logout")).to_be_disabled()

    # The team lead approves elsewhere: the desktop updates from the event stream.
    r = login("lead").post(f"/api/agents/{floor['agent1']}/logout-approval", json={"approve": True})
    assert r.status_code == 200, r.text
    expect(state).to_have_attribute("data-state", "logged_out", timeout=TIMEOUT)
    expect(notice).to_have_attribute("data-kind", "logout")
    expect(notice).to_contain_text("班长已批准签出")
    expect(pending).to_have_count(0)
    expect(page.locator("#desk-seat-input")).to_be_visible()
