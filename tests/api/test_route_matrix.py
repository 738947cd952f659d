"""Every route × every role: no route without a declared permission, none reachable by a role
that lacks it, and none that answers 500.
"""

from __future__ import annotations

import re

import pytest

from hotline.api.app import api_routes
from hotline.api.security import AUTHENTICATED, PUBLIC
from hotline.domains.identity.model import ROLES

DUMMY = "00000000-0000-7000-8000-000000000000"


def _routes(app):  # type: ignore[no-untyped-def]
    routes = api_routes()
    # Nothing is served that is not in api_routes(): compare with the OpenAPI document.
    documented = {(m, p) for p, ops in app.openapi()["paths"].items() for m in ops}
    listed = {(m.lower(), r.path) for r in routes for m in r.methods}
    assert documented == listed
    return routes


def test_every_route_declares_a_permission(app) -> None:  # type: ignore[no-untyped-def]
    missing = [
        f"{sorted(r.methods)} {r.path}"
        for r in _routes(app)
        if not (r.openapi_extra or {}).get("x-permission")
    ]
    assert missing == [], f"routes without a permission: {missing}"


def test_routes_without_login_get_401(client, app) -> None:  # type: ignore[no-untyped-def]
    for route in _routes(app):
        perm = route.openapi_extra["x-permission"]
        if perm == PUBLIC:
            continue
        path = re.sub(r"\{[^}]+\}", DUMMY, route.path)
        for method in route.methods:
            r = client.request(method, path, json={})
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("role", sorted(ROLES))
def test_role_matrix(role: str, app, org, login) -> None:  # type: ignore[no-untyped-def]
    org.user("subject", role)
    c = login("subject")
    held = ROLES[role]
    # Sign-out last: it ends the session the rest of the walk uses.
    for route in sorted(_routes(app), key=lambda r: r.path == "/api/auth/logout"):
        perm = route.openapi_extra["x-permission"]
        if route.path == "/api/events":
            continue  # a stream; covered in test_events.py
        path = re.sub(r"\{[^}]+\}", DUMMY, route.path)
        for method in sorted(route.methods):
            r = c.request(method, path, json={})
            assert r.status_code < 500, (role, method, path, r.text)
            if perm in (PUBLIC, AUTHENTICATED):
                assert r.status_code != 401, (role, method, path)
            elif perm in held:
                assert r.status_code not in (401, 403), (role, method, path, r.text)
            else:
                assert r.status_code == 403, (role, method, path, r.status_code, r.text)
