"""Business calendars (营业时间) administration in a real browser (issue 4): the weekly editor,
special dates, client-side checks, the server's complaints on the right field, open-now status,
and the read-only view. What the page saved is read back through the API with the browser's own
session (`page.request`), so the check goes through the same permissions as the page.

The live server runs on the test's ManualClock: Monday 2026-01-05 08:00 UTC, 16:00 in Beijing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_browser import TIMEOUT, assert_accessible, expect, open_select, sign_in

from hotline.core.context import system_actor
from hotline.domains.calendars import actions as calendars

pytestmark = pytest.mark.browser

WORKDAY = [["08:30", "12:00"], ["13:30", "18:00"]]


def pick(page: Any, input_id: str, option: str) -> None:
    """Choose `option` in the Element Plus select whose input has id `input_id`."""
    open_select(page, input_id)
    page.get_by_role("option", name=option, exact=True).click()
    # the list closes with a transition: wait, or the next select's options are ambiguous
    expect(page.get_by_role("listbox")).to_have_count(0)


def calendar_by_code(page: Any, code: str) -> dict[str, Any]:
    r = page.request.get("/api/calendars?limit=200")
    assert r.ok, r.text()
    found = [c for c in r.json()["items"] if c["code"] == code]
    assert found, f"{code} not among the calendars"
    return dict(found[0])


def field_error(scope: Any, input_id: str) -> Any:
    return scope.locator(f".el-form-item:has(#{input_id}) .el-form-item__error")


def test_admin_creates_a_calendar_with_weekly_hours_and_special_dates(
    open_page: Any, org: Any, shot: Any
) -> None:
    org.user("admin1", "system_admin")
    page = open_page()
    page.set_default_timeout(TIMEOUT)
    sign_in(page, "admin1", totp=org.totp("admin1"))
    expect(page.get_by_test_id("sign-out")).to_be_visible()

    page.get_by_test_id("nav-routing-calendars").click()
    expect(page.get_by_role("heading", name="营业时间", exact=True)).to_be_visible()
    page.get_by_test_id("calendar-create").click()
    dialog = page.get_by_test_id("calendar-dialog")
    expect(dialog).to_be_visible()
    page.locator("#cal-code").fill("office")
    page.locator("#cal-name").fill("营业厅服务时间")
    expect(dialog.locator(".el-select:has(#cal-timezone)")).to_contain_text("Asia/Shanghai")

    # Monday 08:30–12:00 and 13:30–18:00, then copied to Tuesday–Friday.
    pick(page, "cal-mon-0-start", "08:30")
    pick(page, "cal-mon-0-end", "12:00")
    page.get_by_test_id("cal-mon-add").click()
    pick(page, "cal-mon-1-start", "13:30")
    pick(page, "cal-mon-1-end", "18:00")
    page.get_by_test_id("cal-copy-monday").click()
    expect(page.locator(".el-select:has(#cal-fri-1-start)")).to_contain_text("13:30")
    # Saturday morning.
    page.get_by_test_id("cal-sat-add").click()
    pick(page, "cal-sat-0-end", "12:00")

    # Overlapping spans on Sunday: refused on the page, nothing is sent.
    page.get_by_test_id("cal-sun-add").click()
    page.get_by_test_id("cal-sun-add").click()
    pick(page, "cal-sun-1-start", "17:00")
    page.get_by_test_id("calendar-submit").click()
    overlap = "时段 09:00–18:00 与 17:00–20:00 重叠"
    expect(page.get_by_test_id("cal-sun-error")).to_have_text(overlap)
    expect(page.get_by_test_id("calendar-form-error")).to_be_visible()
    page.get_by_test_id("cal-sun-remove-1").click()
    page.get_by_test_id("cal-sun-remove-0").click()
    expect(page.get_by_test_id("cal-sun-closed")).to_have_text("休息")
    # once fixed, the page's checks clear the complaint by themselves
    expect(page.get_by_test_id("cal-sun-error")).to_have_count(0)
    expect(page.get_by_test_id("calendar-form-error")).to_have_count(0)

    # Special dates: New Year's Day closed, a make-up Saturday open 09:00–17:00.
    page.get_by_test_id("cal-add-override").click()
    page.locator("#cal-ov-0-date").fill("2027-01-01")
    page.locator("#cal-ov-0-date").press("Enter")
    page.locator("#cal-ov-0-note").fill("元旦")
    page.get_by_test_id("cal-add-override").click()
    page.locator("#cal-ov-1-date").fill("2027-02-20")
    page.locator("#cal-ov-1-date").press("Enter")
    page.get_by_test_id("cal-ov-1-kind").get_by_text("营业（特殊时段）").click()
    pick(page, "cal-ov-1-0-end", "17:00")
    page.locator("#cal-ov-1-note").fill("调休上班")
    expect(page.get_by_test_id("cal-ov-1")).to_contain_text("2027-02-20")

    # The whole dialog on screen for axe (it misjudges colours behind the dialog's mask).
    page.set_viewport_size({"width": 1280, "height": 2400})
    page.locator(".el-overlay-dialog:has([data-testid=calendar-dialog])").evaluate(
        "e => e.scrollTo(0, 0)"
    )
    assert_accessible(page, "calendar editor")
    shot(page, "admin-calendar-edit")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Overlapping spans forced past the page's check: the server's complaint lands on Tuesday.
    def overlap_tuesday(route: Any) -> None:
        body = json.loads(route.request.post_data)
        body["weekly"]["tue"] = [["08:30", "12:00"], ["11:00", "18:00"]]
        route.continue_(post_data=json.dumps(body))

    page.route("**/api/calendars", overlap_tuesday)
    page.get_by_test_id("calendar-submit").click()
    expect(page.get_by_test_id("cal-tue-error")).to_have_text("营业时段相互重叠。")
    expect(page.get_by_test_id("calendar-form-error")).to_be_visible()
    expect(page.get_by_test_id("cal-mon-error")).to_have_count(0)
    page.unroute("**/api/calendars", overlap_tuesday)
    assert page.request.get("/api/calendars").json()["items"] == []

    page.get_by_test_id("calendar-submit").click()
    expect(dialog).to_be_hidden()

    saved = calendar_by_code(page, "office")
    assert {k: saved[k] for k in ("code", "name", "timezone", "weekly", "overrides")} == {
        "code": "office",
        "name": "营业厅服务时间",
        "timezone": "Asia/Shanghai",
        "weekly": {
            "mon": WORKDAY,
            "tue": WORKDAY,
            "wed": WORKDAY,
            "thu": WORKDAY,
            "fri": WORKDAY,
            "sat": [["09:00", "12:00"]],
            "sun": [],
        },
        "overrides": [
            {"date": "2027-01-01", "hours": [], "note": "元旦"},
            {"date": "2027-02-20", "hours": [["09:00", "17:00"]], "note": "调休上班"},
        ],
    }

    # The list: hours in words, open now (Monday 16:00 in Beijing), closing at 18:00.
    row = page.get_by_test_id("calendars-table").locator("tr", has_text="office")
    expect(row).to_contain_text("周一至周五 08:30–12:00、13:30–18:00")
    expect(row).to_contain_text("周六 09:00–12:00")
    expect(row).to_contain_text("2 个特殊日期")
    expect(page.get_by_test_id("calendar-status-office")).to_have_text("营业中")
    expect(page.get_by_test_id("calendar-next-office")).to_contain_text("18:00 结束营业")
    assert_accessible(page, "calendars")
    shot(page, "admin-calendars")

    # The same code again: the server's conflict shows on the code field.
    page.get_by_test_id("calendar-create").click()
    page.locator("#cal-code").fill("office")
    page.locator("#cal-name").fill("重复")
    page.get_by_test_id("calendar-submit").click()
    expect(field_error(dialog, "cal-code")).to_have_text("已有这个代码的营业时间。")
    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_be_hidden()

    # Edit: the code stays; Saturday closes, the make-up day goes; now closed at the weekend.
    page.get_by_test_id("calendar-edit-office").click()
    expect(page.locator("#cal-name")).to_have_value("营业厅服务时间")
    expect(page.locator("#cal-code")).to_be_disabled()
    page.get_by_test_id("cal-sat-remove-0").click()
    page.get_by_test_id("cal-ov-1-remove").click()
    page.get_by_test_id("calendar-submit").click()
    expect(dialog).to_be_hidden()
    saved = calendar_by_code(page, "office")
    assert saved["weekly"]["sat"] == []
    assert saved["overrides"] == [{"date": "2027-01-01", "hours": [], "note": "元旦"}]
    expect(row).not_to_contain_text("周六")


def test_queue_readers_see_calendars_read_only(open_page: Any, org: Any) -> None:
    with org.runtime.db.transaction(actor=system_actor("fixture")) as tx:
        calendars.create_calendar(
            tx,
            code="weekend",
            name="周末值守",
            timezone="Asia/Shanghai",
            weekly={"sat": [["09:00", "17:00"]], "sun": [["09:00", "17:00"]]},
            overrides=[],
        )
    org.user("qa1", "qa", unit="center")
    page = open_page()
    page.set_default_timeout(TIMEOUT)
    sign_in(page, "qa1")
    expect(page.get_by_test_id("sign-out")).to_be_visible()
    page.get_by_test_id("nav-routing-calendars").click()
    expect(page.get_by_role("heading", name="营业时间", exact=True)).to_be_visible()
    row = page.get_by_test_id("calendars-table").locator("tr", has_text="weekend")
    expect(row).to_contain_text("周六、周日 09:00–17:00")
    # Monday 16:00 in Beijing: closed until Saturday 09:00.
    expect(page.get_by_test_id("calendar-status-weekend")).to_have_text("休息中")
    expect(page.get_by_test_id("calendar-next-weekend")).to_contain_text("09:00 开始营业")
    expect(page.get_by_test_id("calendar-create")).to_have_count(0)
    expect(page.get_by_test_id("calendar-edit-weekend")).to_have_count(0)
    expect(page.get_by_text("只读")).to_be_visible()
    assert_accessible(page, "calendars (read only)")

    page.get_by_test_id("calendar-view-weekend").click()
    dialog = page.get_by_test_id("calendar-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#cal-name")).to_be_disabled()
    expect(page.locator("#cal-sat-0-start")).to_be_disabled()
    expect(page.get_by_test_id("calendar-submit")).to_have_count(0)
    expect(page.get_by_test_id("cal-add-override")).to_have_count(0)
    expect(page.get_by_test_id("cal-mon-closed")).to_have_text("休息")
    page.get_by_test_id("calendar-close").click()
    expect(dialog).to_be_hidden()

    # In English, times still in the calendar's own time zone.
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", name="Business hours", exact=True)).to_be_visible()
    expect(row).to_contain_text("Sat, Sun 09:00–17:00")
    expect(page.get_by_test_id("calendar-status-weekend")).to_have_text("Closed")
    expect(page.get_by_test_id("calendar-next-weekend")).to_have_text("opens Sat, Jan 10 09:00")
