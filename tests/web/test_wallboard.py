"""The supervisor wallboard and the team view in a real browser (issue 4): live queue tiles and
agents, today's interval chart, TV mode, the team lead's controls (force a state, approve a
logout, move a waiting contact, change its priority), accessibility, and how long an event
takes to reach the screen (printed, not asserted: it depends on the machine).

Agents and the channel gateway act through the API (the `login` fixture: a TestClient on the
same runtime as the live server), as their own desktops and gateways would. The test's
ManualClock is first set to the real time, so the board's ticking durations and "today" match
the browser's clock.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time
from typing import Any

import pytest
from floor import build_floor
from test_browser import TIMEOUT, assert_accessible, choose, expect, open_select, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_argon2")]

FAULTS = {
    "skills": [["fault_repair", 3]],
    "channels": ["sms", "chat"],
    "service_level_seconds": 20.0,
    "service_level_percent": 80.0,
}
BILLING = {"skills": [["billing", 1]], "channels": ["sms", "chat"]}
SAMPLES = 9


@pytest.fixture
def floor(runtime: Any, org: Any, clock: Any) -> dict[str, str]:
    """Queues faults (SMS 96266) and billing (SMS 95588); agent1 serves faults, agent2 billing;
    a team lead over the center; a channel gateway."""
    clock.advance((dt.datetime.now(dt.UTC) - clock.now()).total_seconds())
    return build_floor(
        runtime,
        org,
        {
            "agent1": ("agent", "team-a"),
            "agent2": ("agent", "team-a"),
            "lead": ("team_lead", "center"),
            "gateway": ("channel_gateway", "center"),
        },
        queues={"faults": FAULTS, "billing": BILLING},
        entry_points=[("96266", "96266", "faults"), ("95588", "95588", "billing")],
        agents={"agent1": {"fault_repair": 5}, "agent2": {"billing": 5}},
    )


def agent_action(client: Any, action: str, expect_status: int = 200, **body: Any) -> Any:
    r = client.post("/api/me/agent", json={"action": action, **body})
    assert r.status_code == expect_status, r.text
    return r.json()


WATCH = """([selector, want]) => {
  // Resolves with the epoch ms at which `selector`'s text first equals `want` (fails after 10 s).
  window.__seen = new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error(`${selector} never showed ${want}`)), 10000)
    const done = () => {
      const el = document.querySelector(selector)
      if (el && el.textContent.trim() === want) {
        observer.disconnect()
        resolve(performance.timeOrigin + performance.now())
        return true
      }
      return false
    }
    const observer = new MutationObserver(done)
    observer.observe(document.body, { subtree: true, childList: true, characterData: true })
    done()
  })
}"""


def latency(page: Any, selector: str, want: str, act: Any) -> tuple[float, float]:
    """Milliseconds from just before `act()` (an API call) to the DOM showing `want`, and how
    long the API call itself took."""
    page.evaluate(WATCH, [selector, want])
    start = time.time() * 1000
    act()
    answered = time.time() * 1000
    seen = float(page.evaluate("window.__seen"))
    return seen - start, answered - start


def summary(samples: list[tuple[float, float]]) -> str:
    total = [s[0] for s in samples]
    call = [s[1] for s in samples]
    return (
        f"median {statistics.median(total):.0f} (min {min(total):.0f}, max {max(total):.0f}; "
        f"the API call itself median {statistics.median(call):.0f})"
    )


def test_wallboard_follows_contacts_and_agents_live(
    open_page: Any, floor: dict[str, str], login: Any, shot: Any
) -> None:
    gateway = login("gateway")
    agent1, agent2 = login("agent1"), login("agent2")
    # agent1 (faults) logs in not ready: contacts wait in faults. agent2 (billing) is ready.
    agent_action(agent1, "login", seat="A-01", ready=False)
    agent_action(agent2, "login", seat="A-02", ready=True)

    page = open_page()
    sign_in(page, "lead")
    expect(page.get_by_test_id("nav-wallboard")).to_have_text("监控大屏")
    page.get_by_test_id("nav-wallboard").click()
    expect(page).to_have_url(re.compile(r"/wallboard$"))
    expect(page.get_by_role("heading", name="监控大屏")).to_be_visible()
    expect(page.get_by_test_id("wallboard-live")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )
    faults = page.get_by_test_id("queue-faults")
    waiting = faults.get_by_test_id("queue-waiting")
    expect(waiting).to_have_text("0")
    expect(page.get_by_test_id("agent-agent1").get_by_test_id("agent-state")).to_have_text("示忙")
    expect(page.get_by_test_id("agent-agent2").get_by_test_id("agent-state")).to_have_text("空闲")

    # Contacts arrive through the API: the waiting count follows without a reload.
    selector = "[data-testid=queue-faults] [data-testid=queue-waiting]"
    arrivals: list[tuple[float, float]] = []
    for n in range(1, SAMPLES + 1):

        def arrive(n: int = n) -> None:
            r = gateway.post(
                "/api/contacts",
                json={"channel": "sms", "address": "96266", "caller": f"1381234{n:04d}"},
            )
            assert r.status_code == 201, r.text

        arrivals.append(latency(page, selector, str(n), arrive))
        page.wait_for_timeout(300)  # one event at a time (bursts are read at most 4 times/s)
    expect(waiting).to_have_text(str(SAMPLES))
    # The longest wait ticks in the browser from the oldest contact's queue time.
    longest = faults.get_by_test_id("queue-longest-wait")
    expect(longest).to_contain_text(re.compile(r"\d:\d\d"))
    before = longest.inner_text()
    page.wait_for_timeout(1100)
    expect(longest).not_to_have_text(before)
    expect(faults.get_by_test_id("queue-offered")).to_have_text(str(SAMPLES))

    # Agent state changes (agent2 toggles ready / not ready at its desk).
    states: list[tuple[float, float]] = []
    state_sel = "[data-testid=agent-agent2] [data-testid=agent-state]"
    for i in range(SAMPLES):
        action, label = ("not_ready", "示忙") if i % 2 == 0 else ("ready", "空闲")
        states.append(latency(page, state_sel, label, lambda a=action: agent_action(agent2, a)))
        page.wait_for_timeout(300)
    # The queues count their agents per state: billing has no ready agent now.
    billing_ready = page.get_by_test_id("queue-billing").get_by_test_id("queue-agents-ready")
    expect(billing_ready).to_have_text("0 / 0")
    agent_action(agent2, "ready")
    expect(billing_ready).to_have_text("1 / 1")
    print(
        f"\nwallboard event→screen latency (ms, {SAMPLES} samples each): "
        f"contact arrival → waiting count {summary(arrivals)}; "
        f"agent state → card {summary(states)}"
    )

    # Today's intervals: the chart (ECharts, its own chunk) and its table for screen readers.
    # (read again at most every 5 s after queue rows change)
    expect(page.get_by_test_id("interval-chart").locator("canvas")).to_have_count(
        1, timeout=TIMEOUT
    )
    expect(page.locator("table caption")).to_have_text("今日分时段话务数据")
    expect(page.get_by_test_id("agent-counts")).to_contain_text("空闲：1")
    expect(page.get_by_test_id("agent-counts")).to_contain_text("示忙：1")
    assert_accessible(page, "wallboard")
    shot(page, "wallboard")

    # TV mode, with the keyboard: no header or menu, large type; Esc leaves it.
    page.get_by_test_id("tv-enter").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/wallboard\?tv=1$"))
    board = page.get_by_test_id("wallboard")
    expect(board).to_have_attribute("data-tv", "1")
    expect(page.get_by_test_id("sign-out")).to_be_hidden()
    expect(page.get_by_test_id("nav-wallboard")).to_be_hidden()
    size = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector("
        "'[data-testid=queue-faults] [data-testid=queue-waiting]')).fontSize)"
    )
    assert size >= 48, size
    # A reloaded TV comes back in TV mode, live.
    page.reload()
    expect(board).to_have_attribute("data-tv", "1")
    expect(waiting).to_have_text(str(SAMPLES))
    expect(page.get_by_test_id("wallboard-live")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )
    r = gateway.post(
        "/api/contacts", json={"channel": "sms", "address": "96266", "caller": "13900000000"}
    )
    assert r.status_code == 201, r.text
    expect(waiting).to_have_text(str(SAMPLES + 1))
    page.set_viewport_size({"width": 1920, "height": 1080})
    assert_accessible(page, "wallboard (TV)")
    shot(page, "wallboard-tv")
    page.keyboard.press("Escape")
    expect(board).to_have_attribute("data-tv", "0")
    expect(page.get_by_test_id("sign-out")).to_be_visible()

    # English.
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", name="Wallboard")).to_be_visible()
    expect(faults).to_contain_text("Longest wait")


def test_team_lead_controls_agents_and_waiting_contacts(
    open_page: Any, floor: dict[str, str], login: Any, shot: Any
) -> None:
    gateway = login("gateway")
    agent1, agent2 = login("agent1"), login("agent2")
    agent_action(agent1, "login", seat="A-01", ready=False)
    agent_action(agent2, "login", seat="A-02", ready=True)
    contacts = []
    for caller in ["13800000001", "13800000002", "13800000003"]:
        r = gateway.post(
            "/api/contacts", json={"channel": "sms", "address": "96266", "caller": caller}
        )
        assert r.status_code == 201, r.text
        contacts.append(r.json()["id"])

    page = open_page()
    sign_in(page, "lead")
    # A team lead takes contacts too: the agent desktop is the landing page.
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.goto("/team")
    expect(page.get_by_role("heading", name="班组管理")).to_be_visible()
    expect(page.get_by_test_id("live-indicator")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )

    # Force agent2 not ready, with a reason; the board shows it at once.
    agent2_state = page.get_by_test_id("team-state-agent2")
    expect(agent2_state).to_have_text("空闲")
    page.get_by_test_id("set-not-ready-agent2").click()
    dialog = page.get_by_role("dialog", name="将 Agent2 设为示忙")
    expect(dialog).to_be_visible()
    assert_accessible(page, "set not ready dialog", within=[".el-dialog"], modal=True)
    choose(page, "team-reason", "会议")
    dialog.get_by_test_id("not-ready-submit").click()
    expect(agent2_state).to_have_text("示忙")
    expect(page.get_by_test_id("team-notice")).to_contain_text("已更新 Agent2 的状态")
    assert agent2.get("/api/me/agent").json()["reason"] == "meeting"

    # agent2 logs out at its desk: no controls for a logged-out agent.
    agent_action(agent2, "logout")
    expect(agent2_state).to_have_text("未签入")
    expect(page.get_by_test_id("set-ready-agent2")).to_have_count(0)

    # agent1 asks to log out while contacts wait: the request shows; the lead approves.
    body = agent_action(agent1, "logout", expect_status=202)
    assert body["logout_request"]["status"] == "pending"
    request = page.get_by_test_id("logout-request-agent1")
    expect(request).to_contain_text("技能组仍有来电排队")
    page.get_by_test_id("approve-agent1").click()
    page.get_by_role("dialog").get_by_role("button", name="确定").click()
    expect(request).to_have_count(0)
    expect(page.get_by_test_id("no-logout-requests")).to_be_visible()
    expect(page.get_by_test_id("team-state-agent1")).to_have_text("未签入")
    assert agent1.get("/api/me/agent").json()["state"] == "logged_out"

    # The waiting line of faults (the first queue by code is billing: choose faults).
    open_select(page, "team-queue")
    page.get_by_role("option", name=re.compile(r"^故障报修")).click()
    line = page.get_by_test_id("waiting-line")
    for cid in contacts:
        expect(line.get_by_test_id(f"line-caller-{cid}")).to_contain_text("138****")
    assert_accessible(page, "team view")
    shot(page, "team-view")

    # Change the last contact's priority.
    last = contacts[-1]
    page.get_by_test_id(f"priority-{last}").click()
    page.locator("#team-priority").fill("7")
    page.get_by_test_id("priority-submit").click()
    expect(page.get_by_test_id("team-notice")).to_contain_text("优先级已调整为 7")
    expect(line.get_by_test_id(f"line-priority-{last}")).to_have_text("7")
    # Higher priority goes first: it now heads the line.
    expect(line.locator("tbody tr").first).to_contain_text("7")

    # Move the first contact to billing, keeping its place.
    first = contacts[0]
    page.get_by_test_id(f"move-{first}").click()
    move = page.get_by_role("dialog", name="调度来电到其他技能组")
    expect(move).to_be_visible()
    assert_accessible(page, "move contact dialog", within=[".el-dialog"], modal=True)
    move.get_by_test_id("move-submit").click()
    expect(page.get_by_test_id("team-notice")).to_contain_text("来电已调度到 账单查询")
    expect(line.get_by_test_id(f"line-caller-{first}")).to_have_count(0)
    moved = login("lead").get(f"/api/contacts/{first}").json()
    assert moved["queue_id"] == floor["billing"]

    # A refused step shows the API's message, translated: the caller hangs up while the lead
    # is about to move the contact.
    gone = contacts[1]
    page.get_by_test_id(f"move-{gone}").click()
    expect(move).to_be_visible()
    r = gateway.post(f"/api/contacts/{gone}/abandon")
    assert r.status_code == 200, r.text
    expect(line.get_by_test_id(f"line-caller-{gone}")).to_have_count(0)
    move.get_by_test_id("move-submit").click()
    # (the key errors.contact.not_waiting, translated; shown in the dialog, then on the page)
    expect(move.get_by_test_id("dialog-error")).to_have_text("只有排队中的来电才能调度。")
    page.keyboard.press("Escape")
    expect(move).to_be_hidden()
    expect(page.get_by_test_id("team-error")).to_have_text("只有排队中的来电才能调度。")
    assert_accessible(page, "team view (after changes)")
