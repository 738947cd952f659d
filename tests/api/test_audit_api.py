"""The audit log viewer: auditors read it, nobody else does; every write left a row."""

from __future__ import annotations


def test_auditor_pages_through_the_log(org, login) -> None:  # type: ignore[no-untyped-def]
    org.user("auditor1", "auditor")
    org.user("admin1", "system_admin")
    auditor = login("auditor1")
    admin = login("admin1")
    assert admin.get("/api/audit").status_code == 403

    seen: list[int] = []
    before = None
    while True:
        params = {"limit": 3, **({"before_seq": before} if before else {})}
        page = auditor.get("/api/audit", params=params).json()
        seen += [row["seq"] for row in page["items"]]
        before = page["next_before_seq"]
        if before is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert seen == list(range(max(seen), 0, -1))  # complete, no gaps, newest first

    logins = auditor.get("/api/audit", params={"action": "auth.login"}).json()["items"]
    assert len(logins) == 2  # the auditor's and the admin's sign-ins
    assert all(row["action"] == "auth.login" for row in logins)
    created = auditor.get("/api/audit", params={"action": "user.create"}).json()["items"]
    # passwords never reach the audit log
    assert all(row["details"]["changes"]["password"]["after"] == "***" for row in created)
