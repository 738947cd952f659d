"""The web UI in a real browser against a real server (issue 4).

Debian's Chromium through Playwright for Python; the server is uvicorn in a thread with the
test's app, runtime, database and ManualClock (so TOTP codes are computed at that clock).
"""

from __future__ import annotations

import re
from typing import Any

import pyotp
import pytest

from hotline.core.context import system_actor
from hotline.domains.identity import actions, secrets

pytestmark = pytest.mark.browser

PASSWORD = "Str0ng-Passw0rd!"  # the `org` fixture's password (tests/conftest.py)

TIMEOUT = 10_000


def expect(target: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(target)


def sign_in(page: Any, username: str, password: str = PASSWORD, totp: str | None = None) -> None:
    page.goto("/")
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    if totp is not None:
        expect(page.locator("#login-totp")).to_be_visible()
        page.locator("#login-totp").fill(totp)
        page.get_by_test_id("login-submit").click()


def open_select(page: Any, input_id: str) -> None:
    """Open an Element Plus select (its input sits under the placeholder)."""
    page.locator(f".el-select:has(#{input_id})").click()


def choose(page: Any, input_id: str, option: str) -> None:
    """Pick `option` in the select whose input has id `input_id`, and see its list closed: an
    open list covers the fields below it (seen once in CI: the next field's click landed on
    a list that had stayed open), so a list still open once the choice shows is closed by a
    click on its field."""
    open_select(page, input_id)
    page.get_by_role("option", name=option, exact=True).click()
    field = page.locator(f".el-select:has(#{input_id})")
    expect(field).to_contain_text(option)
    if page.locator(f"#{input_id}").get_attribute("aria-expanded") == "true":
        field.click()
    expect(page.locator(f"#{input_id}")).to_have_attribute("aria-expanded", "false")


# Axe measures what is on screen: a toast at part opacity or a dialog, picker or popup still in
# its enter/leave transition is judged half-drawn (low contrast, a dialog with its name gone).
_SETTLED = (
    "[...document.querySelectorAll('.el-message')]"
    ".every((e) => getComputedStyle(e).opacity === '1')"
    ' && !document.querySelector(\'[class*="-enter-active"], [class*="-leave-active"]\')'
)


def assert_accessible(
    page: Any, what: str, within: list[str] | None = None, modal: bool = False
) -> None:
    """axe-core: no serious or critical violations, once nothing is fading in or out.

    Toasts are left out (they fade out after 3 s, possibly while axe runs) unless `within`
    names them; `within` limits the check to those selectors. `modal=True` leaves out colour
    contrast: axe composites a modal's dimmed backdrop into the modal's own content (#808080
    behind dark text the browser draws on white), its open false positive
    dequelabs/axe-core#3464.
    """
    from axe_playwright_python.sync_playwright import Axe

    for _ in range(50):  # the page's CSP forbids wait_for_function's eval: poll instead
        if page.evaluate(_SETTLED):
            unsettled = ""
            break
        page.wait_for_timeout(100)
    else:  # said with a failure below, which it may explain
        unsettled = page.evaluate(
            '() => [...document.querySelectorAll(\'[class*="-enter-active"],'
            " [class*=\"-leave-active\"], .el-message')].map((e) => e.className).join('; ')"
        )
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if modal:
        options["rules"] = {"color-contrast": {"enabled": False}}
    context = {"include": [[s] for s in within]} if within else {"exclude": [[".el-message"]]}
    results = Axe().run(page, context, options)

    def node(n: dict[str, Any]) -> str:
        why = (n.get("any") or [{}])[0].get("message", "")
        return f"{n['target'][0]} {n.get('html', '')[:200]} [{why}]"

    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(node(n) for n in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    note = f"\n(still moving after 5 s: {unsettled})" if unsettled else ""
    assert not bad, f"axe on {what}:\n" + "\n".join(bad) + note


def test_agent_sees_chinese_ui_and_switches_to_english(open_page: Any, org: Any, shot: Any) -> None:
    org.user("agent1", "agent", unit="team-a")
    org.user("agent9", "agent", unit="team-a")
    page = open_page()

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    shot(page, "login-zh")
    assert_accessible(page, "login")

    # Wrong password: the problem's key, translated.
    page.locator("#login-username").fill("agent1")
    page.locator("#login-password").fill("wrong-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_have_text("用户名或密码错误。")

    page.locator("#login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()

    # An agent lands on the agent desktop; the organisation units are in the menu.
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.get_by_test_id("nav-org-units").click()
    expect(page).to_have_url(re.compile(r"/admin/org-units$"))
    expect(page.get_by_role("heading", name="组织机构", exact=True)).to_be_visible()
    expect(page.get_by_test_id("nav-org-units")).to_have_text("组织机构")
    expect(page.get_by_test_id("nav-account")).to_have_text("我的账户")
    expect(page.get_by_test_id("nav-users")).to_have_count(0)
    expect(page.get_by_test_id("nav-audit")).to_have_count(0)
    expect(page.get_by_test_id("sign-out")).to_have_text("退出登录")
    expect(page.get_by_test_id("user-name")).to_contain_text("Agent1")
    expect(page.get_by_test_id("live-indicator")).to_have_attribute(
        "data-state", "connected", timeout=TIMEOUT
    )
    expect(page.get_by_test_id("live-indicator")).to_contain_text("已连接")
    expect(page.get_by_test_id("org-tree")).to_contain_text("一班")
    # Read-only for an agent: no create/rename buttons.
    expect(page.get_by_role("button", name="重命名")).to_have_count(0)
    shot(page, "org-units-agent-zh")

    # A page the agent may not open sends them back to their landing page.
    page.goto("/admin/users")
    expect(page).to_have_url(re.compile(r"/desk$"))
    page.get_by_test_id("nav-org-units").click()

    # English, remembered across a reload.
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_role("heading", name="Organisation units")).to_be_visible()
    expect(page.get_by_test_id("sign-out")).to_have_text("Sign out")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_test_id("nav-account")).to_have_text("My account")
    expect(page.get_by_test_id("live-indicator")).to_contain_text("Connected", timeout=TIMEOUT)
    shot(page, "org-units-agent-en")

    # API tokens: create with a scope, the secret shown once, then revoke.
    page.get_by_test_id("nav-account").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_test_id("token-create").click()
    page.locator("#token-name").fill("crm-sync")
    open_select(page, "token-scopes")
    page.get_by_role("option", name="See customer profiles (masked) (customer:read)").click()
    page.keyboard.press("Escape")
    page.get_by_role("dialog", name="New token").get_by_role("button", name="Create").click()
    secret = page.get_by_test_id("token-secret")
    expect(secret).to_have_text(re.compile(r"^hlt_"))
    page.get_by_role("dialog", name="Save your token").get_by_role(
        "button", name="Close", exact=True
    ).click()
    expect(secret).to_be_hidden()
    tokens = page.get_by_test_id("tokens-table")
    expect(tokens).to_contain_text("crm-sync")
    expect(tokens).to_contain_text("See customer profiles (masked)")
    tokens.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="OK").click()
    expect(tokens.get_by_text("Revoked")).to_be_visible()

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_test_id("login-notice")).to_have_text("You have signed out.")

    # Five wrong passwords lock the account; the message says so (in English now).
    for _ in range(5):
        page.locator("#login-username").fill("agent9")
        page.locator("#login-password").fill("wrong-password")
        page.get_by_test_id("login-submit").click()
        expect(page.get_by_test_id("login-submit")).not_to_have_class(re.compile("is-loading"))
    expect(page.get_by_test_id("login-error")).to_contain_text("The account is locked")


def test_admin_creates_user_and_auditor_finds_it(
    open_page: Any, org: Any, clock: Any, shot: Any
) -> None:
    org.user("admin1", "system_admin")
    org.user("audit1", "auditor")
    page = open_page()

    # Password, then the TOTP step the API asks for (errors.mfa_required).
    sign_in(page, "admin1")
    expect(page.get_by_role("heading", name="两步验证")).to_be_visible()
    shot(page, "login-totp-zh")
    page.locator("#login-totp").fill("000000")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("验证码错误")
    page.locator("#login-totp").fill(org.totp("admin1"))
    page.get_by_test_id("login-submit").click()

    expect(page).to_have_url(re.compile(r"/admin/users$"))
    table = page.get_by_test_id("users-table")
    expect(table).to_contain_text("admin1")
    expect(table).to_contain_text("audit1")
    expect(page.get_by_test_id("nav-audit")).to_have_count(0)  # 三员分立
    assert_accessible(page, "users")

    page.get_by_test_id("user-create").click()
    dialog = page.get_by_test_id("user-create-dialog")
    expect(dialog).to_be_visible()
    page.locator("#new-username").fill("newagent")
    page.locator("#new-display-name").fill("新坐席")
    open_select(page, "new-org-unit")
    page.get_by_role("treeitem", name="一班", exact=True).click()
    page.locator("#new-password").fill("weak")
    page.get_by_test_id("user-create-submit").click()
    expect(dialog.get_by_role("alert")).to_contain_text("密码长度至少为 12 个字符")
    page.locator("#new-password").fill("Temp-Passw0rd-1")
    shot(page, "user-create-zh")
    page.get_by_test_id("user-create-submit").click()
    expect(dialog).to_be_hidden()
    row = table.locator("tr", has_text="newagent")
    expect(row).to_contain_text("新坐席")
    expect(row).to_contain_text("一班")
    expect(row).to_contain_text("待改密码")
    shot(page, "users-zh")

    # The auditor (another browser, own session) finds the creation in the audit log.
    clock.advance(30)
    auditor = open_page()
    sign_in(auditor, "audit1", totp=org.totp("audit1"))
    expect(auditor).to_have_url(re.compile(r"/audit$"))
    expect(auditor.get_by_test_id("nav-users")).to_have_count(0)
    audit = auditor.get_by_test_id("audit-table")
    expect(audit).to_contain_text("user.create")

    select = auditor.locator("#audit-action")
    select.click()
    select.fill("user.create")
    auditor.keyboard.press("Enter")
    auditor.locator("#audit-actor").fill("admin1")
    auditor.get_by_test_id("audit-search").click()
    expect(auditor.get_by_test_id("audit-action")).to_have_count(1)
    expect(auditor.get_by_test_id("audit-action").first).to_have_text("user.create")
    expect(audit).to_contain_text("创建用户")
    expect(audit).to_contain_text("admin1")
    audit.get_by_test_id("audit-toggle").first.click()
    details = auditor.get_by_test_id("audit-details").first
    expect(details).to_contain_text('"newagent"')
    shot(auditor, "audit-zh")
    assert_accessible(auditor, "audit")


def test_forced_password_change_then_totp_enrollment(
    open_page: Any, org: Any, runtime: Any, clock: Any, shot: Any
) -> None:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        user = actions.create_user(
            tx,
            runtime.policy(),
            username="admin2",
            display_name="新管理员",
            org_unit_id=org.group.id,
            password="Temp-Passw0rd-1",
        )
        actions.grant_role(tx, user_id=user.id, role="system_admin", org_unit_id=org.group.id)
    page = open_page()
    sign_in(page, "admin2", password="Temp-Passw0rd-1")

    expect(page).to_have_url(re.compile(r"/password$"))
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    page.locator("#pw-current").fill("Temp-Passw0rd-1")
    page.locator("#pw-new").fill("Own-Passw0rd-22")
    page.locator("#pw-confirm").fill("Own-Passw0rd-23")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_have_text("两次输入的新密码不一致")
    page.locator("#pw-confirm").fill("Own-Passw0rd-22")
    # (the enrolment page asks for a secret when it opens: wait for it before reloading, so two
    # requests do not race to be the pending one)
    with page.expect_response(
        lambda r: r.url.endswith("/api/me/totp") and r.request.method == "POST"
    ):
        page.get_by_test_id("password-submit").click()

    # An administrator must enrol TOTP before anything else.
    expect(page).to_have_url(re.compile(r"/mfa-setup$"))
    page.goto("/admin/users")  # not before enrolling
    expect(page).to_have_url(re.compile(r"/mfa-setup$"))
    expect(page.get_by_role("img", name="两步验证配置二维码")).to_be_visible()
    uri = page.get_by_test_id("mfa-uri").inner_text()
    assert uri.startswith("otpauth://totp/hotline:admin2?")
    secret = re.search(r"secret=([A-Z2-7]+)", uri)
    assert secret
    shot(page, "mfa-setup-zh")
    code = pyotp.TOTP(secret.group(1)).at(int(clock.now().timestamp()))
    page.locator("#mfa-code").fill(code)
    page.get_by_test_id("mfa-confirm").click()
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    expect(page.get_by_test_id("users-table")).to_contain_text("admin2")

    # Organisation units: a child under the group, then renamed.
    page.get_by_test_id("nav-org-units").click()
    tree = page.get_by_test_id("org-tree")
    group = tree.get_by_role("treeitem").filter(has_text="集团").first
    group.get_by_role("button", name="新建下级机构").first.click()
    dialog = page.get_by_role("dialog", name="新建下级机构")
    expect(dialog).to_contain_text("上级机构：集团")
    assert_accessible(page, "new org unit dialog", within=[".el-dialog"], modal=True)
    page.locator("#unit-name").fill("城东分公司")
    page.locator("#unit-code").fill("branch-east")
    open_select(page, "unit-kind")
    page.get_by_role("option", name="分公司").click()
    dialog.get_by_role("button", name="新建").click()
    expect(tree).to_contain_text("城东分公司")
    node = tree.get_by_role("treeitem", name=re.compile("^城东分公司"))
    node.get_by_role("button", name="重命名").click()
    page.locator("#rename-name").fill("城东分公司（新）")
    page.get_by_role("dialog", name="重命名").get_by_role("button", name="保存").click()
    expect(tree).to_contain_text("城东分公司（新）")


def test_live_indicator_recovers_after_server_restart(
    open_page: Any, org: Any, live: Any, runtime: Any
) -> None:
    org.user("admin1", "system_admin")
    page = open_page()
    sign_in(page, "admin1", totp=org.totp("admin1"))
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    indicator = page.get_by_test_id("live-indicator")
    expect(indicator).to_have_attribute("data-state", "connected", timeout=TIMEOUT)
    page.evaluate("window.__sameDocument = true")

    live.stop()
    expect(indicator).to_have_attribute("data-state", "disconnected", timeout=TIMEOUT)
    expect(indicator).to_contain_text("已断开")

    live.start()  # same port, same database
    expect(indicator).to_have_attribute("data-state", "connected", timeout=30_000)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # Events flow again: a user created elsewhere appears in the list by itself.
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        actions.create_user(
            tx,
            runtime.policy(),
            username="zz-late",
            display_name="后来的用户",
            org_unit_id=org.team_a.id,
            password="Temp-Passw0rd-1",
        )
    expect(page.get_by_test_id("users-table")).to_contain_text("后来的用户", timeout=TIMEOUT)


def test_idle_warning_and_sign_out(open_page: Any, org: Any, shot: Any) -> None:
    org.user("agent1", "agent", unit="team-a")
    page = open_page()
    page.clock.install()
    sign_in(page, "agent1")
    expect(page).to_have_url(re.compile(r"/desk$"))
    dialog = page.get_by_test_id("idle-dialog")
    expect(dialog).to_be_hidden()

    # 15 minutes idle timeout (the policy's default): warned 60 s before.
    page.clock.fast_forward("14:05")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("即将自动退出登录")
    shot(page, "idle-warning-zh")
    with page.expect_response(lambda r: r.url.endswith("/api/me") and r.ok):
        page.get_by_test_id("idle-stay").click()
    expect(dialog).to_be_hidden()

    # Activity (a click) restarts the count.
    page.clock.fast_forward("10:00")
    page.get_by_role("heading", name="坐席工作台", exact=True).click()
    page.clock.fast_forward("10:00")
    expect(dialog).to_be_hidden()

    page.clock.fast_forward("15:01")
    expect(page).to_have_url(re.compile(r"/login\?idle=1"))
    expect(page.get_by_test_id("login-notice")).to_contain_text("由于长时间没有操作")


def test_security_admin_grants_roles_pages_users_and_edits_policy(
    open_page: Any, org: Any, shot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org.user("sec1", "security_admin")
    org.user("agent1", "agent", unit="team-a")
    # 50 more accounts that never sign in: skip the (deliberately slow) password hashing.
    hashed = secrets.hash_password(PASSWORD)
    with monkeypatch.context() as m:
        m.setattr(secrets, "hash_password", lambda _password: hashed)
        for i in range(50):
            org.user(f"bulk{i:02d}", None, unit="team-b")
    page = open_page()
    sign_in(page, "sec1", totp=org.totp("sec1"))
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    table = page.get_by_test_id("users-table")

    # Keyset paging: 50 a page, then "load more".
    expect(table.locator("tbody tr")).to_have_count(50)
    expect(table).not_to_contain_text("sec1")
    page.get_by_test_id("users-more").click()
    expect(table.locator("tbody tr")).to_have_count(52)
    expect(page.get_by_test_id("users-more")).to_have_count(0)

    # A security admin grants roles but does not manage accounts.
    expect(page.get_by_test_id("user-create")).to_have_count(0)
    expect(page.get_by_role("button", name="停用")).to_have_count(0)
    row = table.locator("tr", has_text="agent1")
    row.get_by_role("button", name="授予角色").click()
    choose(page, "grant-role", "班长席")
    open_select(page, "grant-scope")
    page.get_by_role("treeitem", name="一班", exact=True).click()
    page.get_by_role("dialog", name="授予角色").get_by_role("button", name="授予角色").click()
    expect(row).to_contain_text("班长席 · 一班")

    # Separation of duties, explained from the problem's key and parameters.
    row.get_by_role("button", name="授予角色").click()
    choose(page, "grant-role", "审计员")
    open_select(page, "grant-scope")
    page.get_by_role("treeitem", name="集团", exact=True).click()
    dialog = page.get_by_role("dialog", name="授予角色")
    dialog.get_by_role("button", name="授予角色").click()
    expect(dialog.get_by_role("alert")).to_contain_text("三员分立")
    expect(dialog.get_by_role("alert")).to_contain_text("审计员")
    assert_accessible(page, "grant dialog refusing", within=[".el-dialog"], modal=True)
    dialog.get_by_role("button", name="取消").click()

    row.get_by_role("button", name="撤销角色 班长席（一班）").click()
    page.get_by_role("dialog").get_by_role("button", name="确定").click()
    expect(row).not_to_contain_text("班长席")
    expect(row).to_contain_text("坐席 · 一班")

    # The security policy is editable for the security admin.
    page.get_by_test_id("nav-security-policy").click()
    field = page.locator("#policy-session_idle_minutes")
    expect(field).to_have_value("15")
    field.fill("20")
    field.press("Tab")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("安全策略已保存")).to_be_visible()
    page.reload()
    expect(page.locator("#policy-session_idle_minutes")).to_have_value("20")
    shot(page, "security-policy-zh")
    assert_accessible(page, "security policy")
