"""A wall screen's display account in a real browser (ADR 0009): it signs in, lands on the
wallboard in TV mode, and stays signed in and live long after the idle timeout that signs a
person out — no idle warning. The browser's clock is Playwright's (fast-forwarded); the
server's is the test's ManualClock, first set to the real time and advanced alike.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from test_browser import TIMEOUT, choose, expect, open_select, sign_in

from hotline.core.context import system_actor
from hotline.domains.routing import actions as routing
from hotline.domains.routing.model import Channel
from hotline.domains.stats.actions import publish

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_argon2")]


@pytest.fixture
def wall(runtime: Any, org: Any, clock: Any) -> None:
    """The queue faults (SMS 96266) over the center, its wall screen, a team lead, a gateway."""
    clock.advance((dt.datetime.now(dt.UTC) - clock.now()).total_seconds())
    org.user("screen", "wallboard_display", unit="center")
    org.user("lead", "team_lead", unit="center")
    org.user("gateway", "channel_gateway", unit="center")

    def configure(tx: Any, engine: Any) -> None:
        routing.create_skill(tx, code="fault_repair", name="故障报修")
        faults = routing.create_queue(
            tx,
            engine,
            code="faults",
            name="故障报修",
            org_unit_id=org.center.id,
            settings={"skills": [["fault_repair", 3]], "channels": ["sms"]},
        )
        routing.create_entry_point(
            tx, channel=Channel.sms, address="96266", name="96266", queue_id=faults.id
        )

    runtime.routing.execute(system_actor("fixture"), configure)


def test_display_account_stays_signed_in_on_the_tv_wallboard(
    open_page: Any, wall: None, login: Any, clock: Any, runtime: Any
) -> None:
    # The SMS gateway works with an API token, as in production (no session to idle out).
    r = login("gateway").post("/api/me/tokens", json={"name": "sms", "scopes": ["contact:route"]})
    assert r.status_code == 201, r.text
    gateway = login("gateway")
    gateway.cookies.clear()
    gateway.headers["Authorization"] = f"Bearer {r.json()['token']}"

    def arrive(caller: str) -> None:
        r = gateway.post(
            "/api/contacts", json={"channel": "sms", "address": "96266", "caller": caller}
        )
        assert r.status_code == 201, r.text
        # What the worker's `stats.publish` job does every second (no worker in tests): the
        # display account sees statistics events only, not the contacts themselves.
        with runtime.db.transaction(actor=system_actor("worker")) as tx:
            assert publish(tx) >= 1

    screen = open_page()
    screen.clock.install()
    sign_in(screen, "screen")
    # A display account's home: the wallboard in TV mode (no menu, no header).
    expect(screen).to_have_url(re.compile(r"/wallboard\?tv=1$"))
    expect(screen.get_by_test_id("wallboard")).to_have_attribute("data-tv", "1")
    expect(screen.get_by_test_id("nav-wallboard")).to_be_hidden()
    live = screen.get_by_test_id("wallboard-live")
    expect(live).to_have_attribute("data-state", "connected", timeout=TIMEOUT)
    waiting = screen.get_by_test_id("queue-faults").get_by_test_id("queue-waiting")
    expect(waiting).to_have_text("0", timeout=TIMEOUT)
    arrive("13812340001")
    expect(waiting).to_have_text("1", timeout=TIMEOUT)

    # A person next to it, for comparison: the same idle time signs them out.
    person = open_page()
    person.clock.install()
    sign_in(person, "lead")
    expect(person).to_have_url(re.compile(r"/desk$"))

    # 20 minutes nobody touches either screen (the idle timeout is 15), on both clocks.
    clock.advance(20 * 60)
    person.clock.fast_forward("20:00")
    screen.clock.fast_forward("20:00")
    # (signed out by the page's idle timer, or, when one of its requests reaches the server
    # first, by the server's idle rule: both end the session; which comes first is a race)
    expect(person).to_have_url(re.compile(r"/login\?(idle|expired)=1"), timeout=TIMEOUT)

    # The wall screen: no idle warning, still on the TV wallboard, still live.
    expect(screen.get_by_test_id("idle-dialog")).to_be_hidden()
    expect(screen).to_have_url(re.compile(r"/wallboard\?tv=1$"))
    arrive("13812340002")
    expect(waiting).to_have_text("2", timeout=TIMEOUT)
    expect(live).to_have_attribute("data-state", "connected")

    # A weekend later (the display session lives 7 days), a reload is still signed in.
    clock.advance(2 * 24 * 3600)
    screen.clock.fast_forward("48:00:00")
    expect(screen.get_by_test_id("idle-dialog")).to_be_hidden()
    screen.reload()
    expect(screen).to_have_url(re.compile(r"/wallboard\?tv=1$"))
    expect(waiting).to_have_text("2", timeout=TIMEOUT)
    expect(live).to_have_attribute("data-state", "connected", timeout=TIMEOUT)
    arrive("13812340003")
    expect(waiting).to_have_text("3", timeout=TIMEOUT)


def test_security_admin_grants_the_display_role_alone(open_page: Any, org: Any) -> None:
    org.user("sec1", "security_admin")
    org.user("agent1", "agent", unit="team-a")
    org.user("tv-hall", None, home="center")
    page = open_page()
    sign_in(page, "sec1", totp=org.totp("sec1"))
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    table = page.get_by_test_id("users-table")
    dialog = page.get_by_role("dialog", name="授予角色")

    def grant(username: str, scope: str) -> None:
        table.locator("tr", has_text=username).get_by_role("button", name="授予角色").click()
        choose(page, "grant-role", "大屏账号")
        open_select(page, "grant-scope")
        page.get_by_role("treeitem", name=scope, exact=True).click()
        dialog.get_by_role("button", name="授予角色").click()

    # An account without roles becomes a wall screen's…
    grant("tv-hall", "二班")
    expect(table.locator("tr", has_text="tv-hall")).to_contain_text("大屏账号 · 二班")
    # …a person with a role does not: explained from the problem's key and parameters.
    grant("agent1", "一班")
    expect(dialog.get_by_role("alert")).to_contain_text("大屏账号不能兼任其他角色（坐席）")
    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_be_hidden()

    # Its session lifetime is part of the security policy.
    page.get_by_test_id("nav-security-policy").click()
    expect(page.locator("#policy-display_session_hours")).to_have_value("168")
    expect(page.get_by_text("大屏会话有效期（小时）")).to_be_visible()
