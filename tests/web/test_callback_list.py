"""Scheduled callbacks on the agent desktop and in the team view (预约回呼, issues 3/4
follow-up): the agent sees "我的预约回呼" by time in its own time zone with the caller masked
and the note, moves one to another time, cancels another with a reason; the team lead sees
the queue's remaining one.

The server runs on the test's ManualClock (2026-01-05 08:00 UTC); the browser is in
Asia/Shanghai (UTC+8), so 17:00 there is 09:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa
from floor import callback_floor
from test_browser import TIMEOUT, assert_accessible, expect, sign_in

from hotline.infra.db.schema import contacts

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_argon2")]

UTC = dt.UTC


@pytest.fixture
def floor(runtime: Any, org: Any) -> dict[str, str]:
    return callback_floor(runtime, org)


def schedule(login: Any, caller: str, due: dt.datetime, note: str) -> str:
    """agent1 (over the API) takes an SMS from `caller`, promises a call back at `due`, codes
    the SMS. Returns the callback's id."""
    agent = login("agent1")
    r = login("gateway").post(
        "/api/contacts", json={"channel": "sms", "address": "96266", "caller": caller}
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert agent.post(f"/api/contacts/{cid}/accept").status_code == 200
    r = agent.post(
        f"/api/me/contacts/{cid}/callback", json={"due_at": due.isoformat(), "note": note}
    )
    assert r.status_code == 201, r.text
    assert agent.post(f"/api/contacts/{cid}/wrap-up", json={"code": "resolved"}).status_code == 200
    return str(r.json()["id"])


def row(runtime: Any, contact_id: str) -> Any:
    with runtime.db.read() as conn:
        return conn.execute(sa.select(contacts).where(contacts.c.id == contact_id)).one()


def test_agent_moves_and_cancels_its_callbacks_the_lead_sees_the_queue(
    open_page: Any, floor: dict[str, str], login: Any, runtime: Any, shot: Any
) -> None:
    agent = login("agent1")
    r = agent.post("/api/me/agent", json={"action": "login", "seat": "A-01", "ready": True})
    assert r.status_code == 200, r.text
    late = schedule(login, "13812345678", dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC), "账单")
    early = schedule(login, "13900001111", dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "故障复核")
    r = agent.post("/api/me/agent", json={"action": "not_ready", "reason": "break"})
    assert r.status_code == 200, r.text

    page = open_page(timezone_id="Asia/Shanghai")
    sign_in(page, "agent1")
    section = page.get_by_test_id("desk-callbacks")
    expect(section.get_by_role("heading")).to_have_text("我的预约回呼", timeout=TIMEOUT)
    dues = section.get_by_test_id("callbacks-mine-due")
    # by time, in the browser's zone (17:00 and 18:00 in Shanghai), callers masked, notes
    expect(dues).to_have_count(2)
    expect(dues.nth(0)).to_contain_text("17:00")
    expect(dues.nth(1)).to_contain_text("18:00")
    expect(dues.nth(0)).to_have_attribute("data-callback", early)
    table = section.get_by_test_id("callbacks-mine-table")
    expect(table).to_contain_text("139****1111")
    expect(table).to_contain_text("故障复核")
    expect(table).not_to_contain_text("13900001111")
    assert_accessible(page, "agent desktop with its callbacks")

    # Move the 17:00 one to 19:30 (a past time is refused in the dialog first).
    section.get_by_role("button", name="改约").first.click()
    dialog = page.get_by_role("dialog", name="改约回呼")
    expect(dialog).to_be_visible()
    due = dialog.get_by_label("新的回呼时间（本机时间）")
    assert_accessible(page, "move dialog", within=[".el-dialog"], modal=True)
    # Its calendar opens as a dialog of its own, named after the field.
    due.click()
    expect(page.locator(".el-picker__popper:visible")).to_have_attribute(
        "aria-label", "新的回呼时间（本机时间）"
    )
    assert_accessible(page, "the move dialog's calendar", within=[".el-picker__popper"])
    due.fill("2026-01-05 15:00")
    due.press("Enter")
    dialog.get_by_test_id("callbacks-mine-move-submit").click()
    expect(dialog.get_by_test_id("dialog-error")).to_contain_text("回呼时间必须晚于现在")
    due.fill("2026-01-05 19:30")
    due.press("Enter")
    shot(page, "agent-desktop-callback-move")
    dialog.get_by_test_id("callbacks-mine-move-submit").click()
    expect(dialog).to_be_hidden()
    expect(dues.nth(1)).to_contain_text("19:30")
    expect(dues.nth(1)).to_have_attribute("data-callback", early)
    assert row(runtime, early).callback_due_at == dt.datetime(2026, 1, 5, 11, 30, tzinfo=UTC)
    assert row(runtime, early).status == "scheduled"

    # Cancel the 18:00 one, with a reason.
    section.get_by_role("button", name="取消 ").first.click()
    dialog = page.get_by_role("dialog", name="取消预约回呼")
    expect(dialog).to_contain_text("138****5678")
    dialog.get_by_label("取消原因（可选）").fill("客户已自行解决")
    dialog.get_by_test_id("callbacks-mine-cancel-submit").click()
    expect(dialog).to_be_hidden()
    expect(dues).to_have_count(1)
    expect(dues.nth(0)).to_have_attribute("data-callback", early)
    cancelled = row(runtime, late)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    expect(page.locator(".el-overlay:visible")).to_have_count(0)  # (axe: not while it fades)
    assert_accessible(page, "agent desktop after moving and cancelling callbacks")

    # The team lead sees the queue's remaining callback, at 19:30 Shanghai time.
    lead = open_page(timezone_id="Asia/Shanghai")
    sign_in(lead, "lead")
    expect(lead).to_have_url(re.compile(r"/desk$"))  # (a team lead's landing page)
    lead.goto("/team")
    expect(lead.get_by_role("heading", name="预约回呼")).to_be_visible()
    team = lead.get_by_test_id("callbacks-queue")
    expect(team.get_by_test_id("callbacks-queue-due")).to_have_count(1, timeout=TIMEOUT)
    expect(team.get_by_test_id("callbacks-queue-due")).to_contain_text("19:30")
    expect(team).to_contain_text("139****1111")
    expect(team.get_by_test_id("callbacks-queue-by")).to_have_text("Agent1")  # who promised it
    assert_accessible(lead, "team view with the queue's callbacks")
