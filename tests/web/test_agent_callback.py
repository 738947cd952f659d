"""Request a callback from the agent desktop (预约回呼, issues 3/4): the agent, on a contact,
opens the dialog (button or "C"), picks a time in its local time zone, and the contact's
history shows the callback; an "as soon as possible" one comes into the queue at once and is
offered, marked as a callback, with the note for whoever calls back.

The server runs on the test's ManualClock (2026-01-05 08:00 UTC); the browser is in
Asia/Shanghai (UTC+8), so 18:00 there is 10:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from floor import callback_floor
from test_browser import TIMEOUT, assert_accessible, choose, expect, sign_in

from hotline.infra.db.schema import contacts

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_argon2")]

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOTE = "客户 18 点后方便接听"


@pytest.fixture
def floor(runtime: Any, org: Any) -> dict[str, str]:
    return callback_floor(runtime, org)


def arrive(login: Any, caller: str) -> str:
    r = login("gateway").post(
        "/api/contacts", json={"channel": "sms", "address": "96266", "caller": caller}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def callbacks_of(runtime: Any, contact_id: str) -> list[Any]:
    with runtime.db.read() as conn:
        return list(conn.execute(sa.select(contacts).where(contacts.c.callback_of == contact_id)))


def test_agent_requests_callbacks_from_the_desktop(
    open_page: Any, floor: dict[str, str], login: Any, runtime: Any, shot: Any
) -> None:
    page = open_page(timezone_id="Asia/Shanghai")
    sign_in(page, "agent1")
    expect(page.get_by_test_id("live-indicator")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )
    state = page.get_by_test_id("desk-state")
    page.locator("#desk-seat-input").fill("A-01")
    page.get_by_test_id("desk-login").click()
    expect(state).to_have_attribute("data-state", "not_ready")
    page.get_by_test_id("desk-ready").click()
    expect(state).to_have_attribute("data-state", "ready")

    # "C" is listed among the shortcuts.
    page.keyboard.press("?")
    expect(page.get_by_test_id("desk-shortcuts-help")).to_contain_text("预约回呼")
    page.keyboard.press("?")

    # A contact arrives and is accepted.
    first = arrive(login, "13812345678")
    expect(page.get_by_test_id("desk-offer")).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("desk-accept").click()
    contact = page.get_by_test_id("desk-contact")
    expect(contact).to_have_attribute("data-status", "connected")

    # "C" opens the callback dialog; a time in the past is refused before it is sent.
    page.locator("h1").click()
    page.keyboard.press("c")
    dialog = page.get_by_role("dialog", name="预约回呼")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("预约后本次通话结束")
    assert_accessible(page, "callback dialog", within=[".el-dialog"], modal=True)
    # the contact's queue, which takes calls, is preselected
    expect(dialog.locator(".el-select:has([id^='desk-callback-queue'])")).to_contain_text(
        "故障报修"
    )
    dialog.get_by_text("指定时间").click()
    due = dialog.get_by_label("回呼时间（本机时间）")
    expect(due).to_be_visible()
    due.fill("2026-01-05 15:00")  # 07:00 UTC: before the server's 08:00
    due.press("Enter")
    dialog.get_by_test_id("desk-callback-submit").click()
    expect(dialog.get_by_test_id("desk-callback-error")).to_have_text("回呼时间必须晚于现在")
    assert callbacks_of(runtime, first) == []

    # 18:00 in Shanghai, with a note: the conversation ends, the history shows the callback.
    due.fill("2026-01-05 18:00")
    due.press("Enter")
    dialog.get_by_label("给回呼人员的备注").fill(NOTE)
    shot(page, "agent-desktop-callback")
    dialog.get_by_test_id("desk-callback-submit").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("alert").filter(has_text="已预约在")).to_contain_text("18:00")
    expect(contact).to_have_attribute("data-status", "wrap_up")
    expect(state).to_have_attribute("data-state", "wrap_up")
    entry = page.get_by_test_id("desk-history").locator('[data-type="callback_scheduled"]')
    expect(entry).to_contain_text("坐席预约回呼")
    expect(entry).to_contain_text("18:00")
    (scheduled,) = callbacks_of(runtime, first)
    assert scheduled.status == "scheduled" and scheduled.channel == "voice"
    assert scheduled.callback_due_at == dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
    assert scheduled.callback_note == NOTE

    # A second one for the same contact: the server's refusal is shown, translated.
    page.get_by_test_id("desk-callback").click()
    dialog.get_by_test_id("desk-callback-submit").click()
    expect(dialog.get_by_test_id("desk-callback-error")).to_have_text("这通来电已预约回呼。")
    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".el-overlay:visible")).to_have_count(0)  # (axe: not while it fades)
    assert_accessible(page, "agent desktop (wrap-up, callback scheduled)")

    # Wrap up; a second contact gets a callback as soon as possible (no time picked).
    choose(page, "desk-wrapup-code", "已解决")
    page.get_by_test_id("desk-wrapup-submit").click()
    expect(state).to_have_attribute("data-state", "ready")
    second = arrive(login, "13900001111")
    expect(page.get_by_test_id("desk-offer")).to_be_visible(timeout=TIMEOUT)
    page.get_by_test_id("desk-accept").click()
    expect(contact).to_have_attribute("data-status", "connected")
    page.get_by_test_id("desk-callback").click()
    dialog.get_by_label("给回呼人员的备注").fill("线路杂音，回拨确认")
    dialog.get_by_test_id("desk-callback-submit").click()
    expect(page.get_by_role("alert").filter(has_text="下一位空闲坐席")).to_be_visible()
    expect(contact).to_have_attribute("data-status", "wrap_up")
    (asap,) = callbacks_of(runtime, second)
    assert asap.status == "queued" and asap.callback is True

    # Once this one is coded the agent is ready again, and the callback waiting in the queue
    # is offered to it: a call, marked as a callback.
    choose(page, "desk-wrapup-code", "已解决")
    page.get_by_test_id("desk-wrapup-submit").click()
    offer = page.get_by_test_id("desk-offer")
    expect(offer).to_have_attribute("data-contact", asap.id, timeout=TIMEOUT)
    expect(page.get_by_test_id("desk-offer-channel")).to_have_text("语音")
    expect(page.get_by_test_id("desk-offer-caller")).to_contain_text("139****1111")
    expect(page.get_by_test_id("desk-offer-caller")).to_contain_text("回拨")
    shot(page, "agent-desktop-callback-offer")
    page.get_by_test_id("desk-accept").click()
    expect(contact).to_have_attribute("data-contact", asap.id)
    expect(page.get_by_test_id("desk-contact-callback-note")).to_have_text("线路杂音，回拨确认")
    # the timed one still waits for 18:00
    assert callbacks_of(runtime, first)[0].status == "scheduled"
