"""A team lead moves and cancels several scheduled callbacks at once in the team view
(批量改约 / 批量取消): selects rows, moves two to one new time, sees a refused batch change
nothing (the dialog names the callback that stopped it), and cancels one.

The server runs on the test's ManualClock (2026-01-05 08:00 UTC, a Monday); the browser is in
Asia/Shanghai (UTC+8), so 17:00 there is 09:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from floor import callback_floor
from test_browser import TIMEOUT, assert_accessible, expect, open_select, sign_in
from test_callback_list import row, schedule

from hotline.core.context import system_actor
from hotline.domains.calendars import actions as calendar_actions
from hotline.domains.routing import actions as routing_actions
from hotline.domains.routing.model import Channel

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_argon2")]

UTC = dt.UTC


@pytest.fixture
def floor(runtime: Any, org: Any) -> dict[str, str]:
    return callback_floor(runtime, org)


def close_evenings(runtime: Any) -> None:
    """96266 answers on weekdays 08:30–19:00 Shanghai time from now on."""

    def configure(tx: Any, engine: Any) -> None:
        weekly = {d: [["08:30", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
        cal = calendar_actions.create_calendar(
            tx, code="hotline", name="营业时间", timezone="Asia/Shanghai", weekly=weekly
        )
        entry = tx.routing.entry_point_at(Channel.sms, "96266")
        routing_actions.update_entry_point(tx, entry_point_id=entry.id, calendar_id=cal.id)

    runtime.routing.execute(system_actor("fixture"), configure)


def test_lead_moves_and_cancels_selected_callbacks(
    open_page: Any, floor: dict[str, str], login: Any, runtime: Any, shot: Any
) -> None:
    agent = login("agent1")
    r = agent.post("/api/me/agent", json={"action": "login", "seat": "A-01", "ready": True})
    assert r.status_code == 200, r.text
    first = schedule(login, "13900001111", dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "故障复核")
    second = schedule(login, "13812345678", dt.datetime(2026, 1, 5, 9, 30, tzinfo=UTC), "账单")
    third = schedule(login, "13700002222", dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC), "回访")

    page = open_page(timezone_id="Asia/Shanghai")
    sign_in(page, "lead")
    expect(page).to_have_url(re.compile(r"/desk$"))  # (a team lead's landing page)
    page.goto("/team")
    team = page.get_by_test_id("callbacks-queue")
    dues = team.get_by_test_id("callbacks-queue-due")
    expect(dues).to_have_count(3, timeout=TIMEOUT)
    # The browser learns the server's (test) clock from live events: agent1 takes a break.
    state = page.get_by_test_id("team-state-agent1")
    expect(state).to_have_attribute("data-state", "ready")
    r = agent.post("/api/me/agent", json={"action": "not_ready", "reason": "break"})
    assert r.status_code == 200, r.text
    expect(state).to_have_attribute("data-state", "not_ready")
    move_many = team.get_by_test_id("callbacks-bulk-move")
    cancel_many = team.get_by_test_id("callbacks-bulk-cancel")
    # nothing selected: both disabled, and they say so
    expect(move_many).to_have_text("批量改约（0）")
    expect(move_many).to_be_disabled()
    expect(cancel_many).to_be_disabled()

    def select(contact_id: str) -> None:
        line = team.locator(".el-table__row").filter(
            has=page.locator(f'[data-callback="{contact_id}"]')
        )
        line.locator(".el-checkbox").click()

    # The 17:00 and 17:30 ones to 19:30, together.
    select(first)
    select(second)
    expect(move_many).to_have_text("批量改约（2）")
    expect(cancel_many).to_have_text("批量取消（2）")
    assert_accessible(page, "team view with callbacks selected")
    move_many.click()
    dialog = page.get_by_role("dialog", name="批量改约预约回呼")
    expect(dialog).to_contain_text("选中的 2 个预约回呼")
    assert_accessible(page, "bulk move dialog", within=[".el-dialog"], modal=True)
    due = dialog.get_by_label("新的回呼时间（本机时间）")
    due.click()
    due.fill("2026-01-05 15:00")  # the past: refused in the dialog first, as a single move
    due.press("Enter")
    dialog.get_by_test_id("callbacks-bulk-move-submit").click()
    expect(dialog.get_by_test_id("dialog-error")).to_contain_text("回呼时间必须晚于现在")
    due.fill("2026-01-05 19:30")
    due.press("Enter")
    shot(page, "team-view-callbacks-bulk-move")
    dialog.get_by_test_id("callbacks-bulk-move-submit").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".el-message").last).to_contain_text("已将 2 个预约回呼改约到")
    # by time: the 18:00 one first now, then both at 19:30; the selection is cleared
    expect(dues.nth(0)).to_have_attribute("data-callback", third)
    expect(dues.nth(1)).to_contain_text("19:30")
    expect(dues.nth(2)).to_contain_text("19:30")
    expect(move_many).to_have_text("批量改约（0）")
    for cid in (first, second):
        moved = row(runtime, cid)
        assert moved.status == "scheduled"
        assert moved.callback_due_at == dt.datetime(2026, 1, 5, 11, 30, tzinfo=UTC)

    # The center now closes at 19:00: moving the 18:00 one and one at 19:30 to 19:45 is
    # refused as a whole; the dialog names the callback that stopped it; nothing changes.
    close_evenings(runtime)
    select(third)
    select(first)
    move_many.click()
    dialog = page.get_by_role("dialog", name="批量改约预约回呼")
    due = dialog.get_by_label("新的回呼时间（本机时间）")
    due.click()
    due.fill("2026-01-05 19:45")
    due.press("Enter")
    dialog.get_by_test_id("callbacks-bulk-move-submit").click()
    error = dialog.get_by_test_id("dialog-error")
    expect(error).to_contain_text("未做任何更改")
    expect(error).to_contain_text("137****2222")  # the first of them, in list order
    expect(error).to_contain_text("营业时间")
    assert_accessible(page, "bulk move refused", within=[".el-dialog"], modal=True)
    dialog.get_by_role("button", name="取消", exact=True).click()
    expect(dialog).to_be_hidden()
    assert row(runtime, third).callback_due_at == dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert row(runtime, first).callback_due_at == dt.datetime(2026, 1, 5, 11, 30, tzinfo=UTC)
    expect(move_many).to_have_text("批量改约（2）")  # still selected, to try again

    # Cancel only the 18:00 one, with a reason.
    select(first)  # (unselect)
    expect(cancel_many).to_have_text("批量取消（1）")
    cancel_many.click()
    dialog = page.get_by_role("dialog", name="批量取消预约回呼")
    expect(dialog).to_contain_text("选中的 1 位客户")
    assert_accessible(page, "bulk cancel dialog", within=[".el-dialog"], modal=True)
    dialog.get_by_label("取消原因（可选）").fill("晚间停电")
    dialog.get_by_test_id("callbacks-bulk-cancel-submit").click()
    expect(dialog).to_be_hidden()
    expect(dues).to_have_count(2)
    expect(dues.nth(0)).to_contain_text("19:30")
    cancelled = row(runtime, third)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    assert row(runtime, first).status == row(runtime, second).status == "scheduled"
    expect(cancel_many).to_have_text("批量取消（0）")
    expect(page.locator(".el-overlay:visible")).to_have_count(0)  # (axe: not while it fades)
    assert_accessible(page, "team view after bulk changes")

    # Only the callbacks one agent promised (the server filters: here agent1 promised both).
    with page.expect_request(lambda r: f"requested_by={floor['agent1']}" in r.url):
        open_select(page, "callbacks-queue-by-agent")
        page.get_by_role("option", name="Agent1").click()
    expect(dues).to_have_count(2)
    expect(team.get_by_test_id("callbacks-queue-by").nth(1)).to_have_text("Agent1")
