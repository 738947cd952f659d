"""A temporary password (new account or admin reset) allows nothing but changing it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from hotline.core.context import system_actor
from hotline.domains.identity import actions


def test_temporary_password_must_be_changed(
    app: Any, org: Any, login: Any, runtime: Any
) -> None:
    org.user("admin1", "system_admin")
    admin = login("admin1")
    r = admin.post("/api/users", json={"username": "newbie", "display_name": "New",
                                       "org_unit_id": org.team_a.id,
                                       "password": "Temp-Passw0rd-1"})
    assert r.status_code == 201 and r.json()["must_change_password"] is True
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        actions.grant_role(tx, user_id=r.json()["id"], role="agent", org_unit_id=org.team_a.id)

    with TestClient(app) as c:
        assert c.post("/api/auth/login", json={"username": "newbie",
                                               "password": "Temp-Passw0rd-1"}).status_code == 200
        me = c.get("/api/me").json()
        assert me["password_change_required"] is True and me["permissions"] == []
        assert c.get("/api/org-units").status_code == 403
        r = c.post("/api/me/password", json={"current_password": "Temp-Passw0rd-1",
                                             "new_password": "Own-Passw0rd-22"})
        assert r.status_code == 204
        me = c.get("/api/me").json()
        assert me["password_change_required"] is False and "agent:self" in me["permissions"]
        assert c.get("/api/org-units").status_code == 200
