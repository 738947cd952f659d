"""The whole of issue 4 in one story, in a real browser against a real server: a team lead
watches the wallboard while an agent (a second browser context) signs in at the desktop; a
channel gateway reports contacts over the HTTP API with its API token; the agent takes one,
the server restarts mid-conversation (a fresh runtime on the same database: the routing engine
is rebuilt from storage) and both pages recover by themselves; the agent transfers the contact
to the billing queue, where a second agent (driven over HTTP) takes it, then handles a second
contact to the end with a wrap-up code and a note; the team lead forces the agent not ready
from the team view and the desktop follows. The wallboard is checked along the way.

Everybody but the two browser users acts over real HTTP (httpx against the live server's
port), so they carry on across the restart as real clients would. The server runs on the test's
ManualClock without a routing ticker; `catch_up` moves that clock to the real time before
each step whose durations the pages show (countdowns, waits), so they read as in production.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from floor import build_floor
from test_browser import PASSWORD, assert_accessible, choose, expect, sign_in
from test_wallboard import agent_action

from hotline.core.clock import ManualClock
from hotline.infra.runtime import Runtime, build_runtime
from hotline.settings import Settings
from live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_argon2")]

# Generous: CI runs this on a loaded 2-core machine. Nothing waits longer than its condition.
SLOW = 15_000
RECONNECT = 30_000  # the stream retries with a growing delay (1 s, 2 s, 4 s…)

FAULTS = {
    "skills": [["fault_repair", 3]],
    "channels": ["sms", "chat"],
    "offer_timeout_seconds": 20.0,
    "wrap_up_seconds": 60.0,
    "service_level_seconds": 20.0,
}
BILLING = {
    "skills": [["billing", 1]],
    "channels": ["sms", "chat"],
    "offer_timeout_seconds": 20.0,
    "wrap_up_seconds": 30.0,
}


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Every `expect` here waits up to SLOW (overrides conftest's 10 s)."""
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=SLOW)
    yield
    playwright_expect.set_options(timeout=None)


def catch_up(clock: ManualClock) -> None:
    """Move the server's clock to the real time (never back): the pages tick on the browser's."""
    behind = (dt.datetime.now(dt.UTC) - clock.now()).total_seconds()
    if behind > 0:
        clock.advance(behind)


@pytest.fixture
def floor(runtime: Runtime, org: Any, clock: ManualClock) -> dict[str, str]:
    """Queues faults (SMS 96266 服务热线) and billing; agent1 serves faults, agent2 billing;
    a team lead over the center; a channel gateway; wrap-up codes."""
    catch_up(clock)
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
        entry_points=[("96266", "服务热线", "faults")],
        agents={"agent1": {"fault_repair": 5}, "agent2": {"billing": 5}},
    )


@pytest.fixture
def http(live: LiveServer) -> Iterator[Callable[[str], httpx.Client]]:
    """http(username) → an httpx client signed in on the live server (a real client: it keeps
    working across a restart, its session being in the database)."""
    clients: list[httpx.Client] = []

    def _signed_in(username: str) -> httpx.Client:
        client = httpx.Client(base_url=live.url, timeout=30)
        clients.append(client)
        r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return client

    yield _signed_in
    for client in clients:
        client.close()


@pytest.fixture
def restart(
    live: LiveServer, settings: Settings, clock: ManualClock, ui_built: Path
) -> Iterator[Callable[[Runtime], Runtime]]:
    """restart(old) → the new runtime: after `live.stop()`, the old process's routing engine is
    gone; a fresh runtime on the same database (its engine rebuilt from storage) serves on the
    same port, as after a real restart."""
    from hotline.api.app import create_app
    from hotline.api.web import mount_web

    started: list[Runtime] = []

    def _restart(old: Runtime) -> Runtime:
        old.routing.close()
        rt = build_runtime(settings, clock=clock, upgrade=False)
        started.append(rt)
        app = create_app(settings, runtime=rt)
        mount_web(app, ui_built)
        live.app = app
        live.start()
        return rt

    yield _restart
    live.stop()  # before its runtime goes (the live fixture's stop is then a no-op)
    for rt in started:
        rt.close()


def gateway_token(http: Callable[[str], httpx.Client], base_url: str) -> httpx.Client:
    """The channel gateway's own client: an API token limited to routing contacts."""
    r = http("gateway").post("/api/me/tokens", json={"name": "sms-gw", "scopes": ["contact:route"]})
    assert r.status_code == 201, r.text
    return httpx.Client(
        base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {r.json()['token']}"}
    )


def sms(gateway: httpx.Client, caller: str) -> str:
    """An SMS to 96266 as the gateway reports it; the new contact's id."""
    r = gateway.post("/api/contacts", json={"channel": "sms", "address": "96266", "caller": caller})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def figure(tile: Any, label: str) -> Any:
    """A queue tile's figure by its label (今日 · 呼入, 接通, 通话中…)."""
    return tile.locator(".wb-fig").filter(has=tile.page.locator("dt", has_text=label)).locator("dd")


def test_contact_center_day_across_a_server_restart(
    open_page: Any,
    floor: dict[str, str],
    http: Callable[[str], httpx.Client],
    restart: Callable[[Runtime], Runtime],
    runtime: Runtime,
    live: LiveServer,
    clock: ManualClock,
    shot: Any,
) -> None:
    started = time.monotonic()
    gateway = gateway_token(http, live.url)
    agent2 = http("agent2")
    lead_api = http("lead")
    agent_action(agent2, "login", seat="B-02", ready=True)

    # 1. The team lead opens the wallboard (from the menu: a team lead lands on the desktop).
    board = open_page()
    sign_in(board, "lead")
    expect(board).to_have_url(re.compile(r"/desk$"))
    board.get_by_test_id("nav-wallboard").click()
    expect(board).to_have_url(re.compile(r"/wallboard$"))
    board_live = board.get_by_test_id("wallboard-live")
    expect(board_live).to_have_attribute("data-state", "connected")
    faults = board.get_by_test_id("queue-faults")
    billing = board.get_by_test_id("queue-billing")
    waiting = faults.get_by_test_id("queue-waiting")
    offered = faults.get_by_test_id("queue-offered")
    answered = figure(faults, "接通")
    connected = figure(faults, "通话中")
    card1 = board.get_by_test_id("agent-agent1").get_by_test_id("agent-state")
    card2 = board.get_by_test_id("agent-agent2").get_by_test_id("agent-state")
    expect(waiting).to_have_text("0")
    expect(offered).to_have_text("0")
    expect(card2).to_have_text("空闲")

    # …and the agent signs in at the desktop, in its own browser context, at seat A-01.
    desk = open_page()
    sign_in(desk, "agent1")
    expect(desk).to_have_url(re.compile(r"/desk$"))
    indicator = desk.get_by_test_id("live-indicator")
    expect(indicator).to_have_attribute("data-state", "connected")
    state = desk.get_by_test_id("desk-state")
    expect(state).to_have_attribute("data-state", "logged_out")
    desk.locator("#desk-seat-input").fill("A-01")
    desk.get_by_test_id("desk-login").click()
    expect(state).to_have_attribute("data-state", "not_ready")
    expect(card1).to_have_text("示忙")

    # 2. A caller texts 96266 while the agent is not ready yet: the board counts it waiting.
    catch_up(clock)
    first = sms(gateway, "13812345678")
    expect(waiting).to_have_text("1")
    expect(offered).to_have_text("1")
    expect(faults.get_by_test_id("queue-longest-wait")).to_contain_text(re.compile(r"\d:\d\d"))

    # 3. The agent goes ready: the contact is offered, with its countdown; the board follows.
    catch_up(clock)
    desk.get_by_test_id("desk-ready").click()
    offer = desk.get_by_test_id("desk-offer")
    expect(offer).to_be_visible()
    expect(offer).to_have_attribute("data-contact", first)
    expect(state).to_have_attribute("data-state", "reserved")
    expect(desk.get_by_test_id("desk-offer-caller")).to_contain_text("138****5678")
    expect(desk.get_by_test_id("desk-offer-queue")).to_have_text("故障报修")
    countdown = desk.get_by_test_id("desk-offer-countdown")
    expect(countdown).to_contain_text(re.compile(r"剩余 \d+ 秒应答"))
    # Counting down from the queue's 20 s. (Right after the server clock jumped, the page may
    # show one frame from its older estimate of that clock: wait for the current one.)
    expect(countdown).to_have_attribute("data-seconds", re.compile(r"^([1-9]|1\d|20)$"))
    expect(waiting).to_have_text("0")
    expect(card1).to_have_text("振铃中")
    shot(desk, "e2e-1-offer")

    desk.get_by_test_id("desk-accept").click()
    contact = desk.get_by_test_id("desk-contact")
    expect(contact).to_have_attribute("data-contact", first)
    expect(contact).to_have_attribute("data-status", "connected")
    expect(offer).to_have_count(0)
    expect(state).to_have_attribute("data-state", "busy")
    expect(desk.get_by_test_id("desk-contact-caller")).to_contain_text("138****5678")
    expect(desk.get_by_test_id("desk-contact-entry")).to_have_text("服务热线 (96266)")
    expect(desk.get_by_test_id("desk-contact-queue")).to_have_text("故障报修")
    waited = contact.locator(".facts > div").filter(has=desk.locator("dt", has_text="排队等待"))
    expect(waited.locator("dd")).to_have_text(re.compile(r"^\s*\d+:\d\d\s*$"))
    expect(card1).to_have_text("处理中")
    expect(answered).to_have_text("1")
    expect(connected).to_have_text("1")
    assert_accessible(desk, "agent desktop (with a contact)")
    shot(desk, "e2e-2-desk-contact")
    shot(board, "e2e-2-wallboard-busy")

    # 4. The server restarts mid-conversation: a new process (new runtime, engine rebuilt from
    # the database) on the same port. Both pages notice, and come back without a reload.
    for page in (desk, board):
        page.evaluate("window.__sameDocument = true")
    live.stop()
    expect(indicator).to_have_attribute("data-state", "disconnected")
    expect(board_live).to_have_attribute("data-state", "disconnected")
    expect(indicator).to_contain_text("已断开")
    shot(board, "e2e-3-wallboard-offline")
    new = restart(runtime)
    assert new is not runtime and new.routing is not runtime.routing
    assert new.routing.snapshot() == new.routing.snapshot_from_db()
    # A second caller texts while the pages are (probably still) reconnecting: it waits, the
    # agent being busy. Whether the stream brings it or the resync on reconnect, it shows.
    catch_up(clock)
    second = sms(gateway, "13900001111")
    expect(indicator).to_have_attribute("data-state", "connected", timeout=RECONNECT)
    expect(board_live).to_have_attribute("data-state", "connected", timeout=RECONNECT)
    for page in (desk, board):
        assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    # What they show is right: the agent still has the first caller; the board counts the
    # second one waiting, the first still answered.
    expect(contact).to_have_attribute("data-contact", first)
    expect(contact).to_have_attribute("data-status", "connected")
    expect(state).to_have_attribute("data-state", "busy")
    expect(card1).to_have_text("处理中")
    expect(waiting).to_have_text("1")
    expect(offered).to_have_text("2")
    expect(answered).to_have_text("1")
    expect(connected).to_have_text("1")
    shot(board, "e2e-4-wallboard-after-restart")

    # 5. The agent transfers the first caller to billing: agent2 (ready there) is offered it
    # and takes it over HTTP; the agent goes to wrap-up. Live on both pages.
    catch_up(clock)
    desk.get_by_test_id("desk-transfer").click()
    dialog = desk.get_by_role("dialog", name="转接来电")
    expect(dialog).to_be_visible()
    choose(desk, "desk-transfer-queue", "账单查询")
    dialog.get_by_test_id("desk-transfer-submit").click()
    expect(contact).to_have_count(0)
    expect(state).to_have_attribute("data-state", "wrap_up")
    expect(card1).to_have_text("话后处理")
    expect(card2).to_have_text("振铃中")
    expect(connected).to_have_text("0")
    r = agent2.post(f"/api/contacts/{first}/accept")
    assert r.status_code == 200, r.text
    expect(card2).to_have_text("处理中")
    expect(figure(billing, "通话中")).to_have_text("1")
    expect(dialog).to_be_hidden()  # (the shortcuts are off while a dialog is open)

    # The agent ends the wrap-up early ("R"): ready, so the waiting second caller is offered,
    # accepted with the keyboard, ended, and wrapped up with a code and a note.
    catch_up(clock)
    desk.locator("h1").click()
    desk.keyboard.press("r")
    expect(offer).to_have_attribute("data-contact", second)
    expect(state).to_have_attribute("data-state", "reserved")
    expect(countdown).to_have_attribute("data-seconds", re.compile(r"^([1-9]|1\d|20)$"))
    expect(waiting).to_have_text("0")
    expect(offered).to_have_text("2")
    expect(card1).to_have_text("振铃中")
    desk.locator("h1").click()
    desk.keyboard.press("a")
    expect(contact).to_have_attribute("data-contact", second)
    expect(desk.get_by_test_id("desk-contact-caller")).to_contain_text("139****1111")
    expect(answered).to_have_text("2")
    expect(card1).to_have_text("处理中")
    catch_up(clock)
    desk.get_by_test_id("desk-end").click()
    expect(contact).to_have_attribute("data-status", "wrap_up")
    expect(state).to_have_attribute("data-state", "wrap_up")
    expect(desk.get_by_test_id("desk-wrap-up-timer")).to_contain_text("话后处理剩余")
    expect(card1).to_have_text("话后处理")
    choose(desk, "desk-wrapup-code", "已解决")
    desk.locator("#desk-wrapup-notes").fill("光猫重启后恢复")
    shot(desk, "e2e-5-desk-wrap-up")
    desk.get_by_test_id("desk-wrapup-submit").click()
    expect(contact).to_have_count(0)
    expect(state).to_have_attribute("data-state", "ready")
    expect(card1).to_have_text("空闲")
    done = lead_api.get(f"/api/contacts/{second}").json()
    assert (done["status"], done["wrap_up_code"], done["wrap_up_notes"]) == (
        "ended",
        "resolved",
        "光猫重启后恢复",
    ), done
    assert done["finished_at"] is not None, done
    moved = lead_api.get(f"/api/contacts/{first}").json()
    assert (moved["status"], moved["queue_id"], moved["agent_id"]) == (
        "connected",
        floor["billing"],
        floor["agent2"],
    ), moved
    # The interval chart kept its bars through the outage and reads again by itself.
    expect(board.get_by_test_id("interval-chart").locator("canvas")).to_have_count(1)
    assert_accessible(board, "wallboard (after the restart)")
    shot(board, "e2e-6-wallboard")

    # 6. The team lead forces the agent not ready (meeting) from the team view; the desktop
    # shows it at once.
    board.get_by_test_id("nav-team").click()
    expect(board).to_have_url(re.compile(r"/team(\?queue=[^&]+)?$"))  # it picks a queue
    team_state = board.get_by_test_id("team-state-agent1")
    expect(team_state).to_have_text("空闲")
    board.get_by_test_id("set-not-ready-agent1").click()
    not_ready = board.get_by_role("dialog", name="将 Agent1 设为示忙")
    expect(not_ready).to_be_visible()
    choose(board, "team-reason", "会议")
    catch_up(clock)
    not_ready.get_by_test_id("not-ready-submit").click()
    expect(team_state).to_have_text("示忙")
    expect(board.get_by_test_id("team-notice")).to_contain_text("已更新 Agent1 的状态")
    expect(state).to_have_attribute("data-state", "not_ready")
    expect(state).to_have_attribute("data-reason", "meeting")
    expect(state).to_contain_text("示忙：会议")
    # Let the dialog finish fading out before axe looks (its title is cleared as it starts to
    # close: a nameless, half-transparent dialog until then).
    expect(board.get_by_role("dialog")).to_have_count(0)
    assert_accessible(board, "team view")
    assert_accessible(desk, "agent desktop (forced not ready)")
    shot(board, "e2e-7-team-view")
    shot(desk, "e2e-7-desk-not-ready")
    # Memory and storage agree after the whole story.
    assert new.routing.snapshot() == new.routing.snapshot_from_db()
    print(f"\ne2e flow: {time.monotonic() - started:.1f} s in the test body")
