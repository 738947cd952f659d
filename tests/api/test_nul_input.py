"""NUL characters in text are refused with a 4xx on both databases (PostgreSQL cannot store
them), wherever they come: path, query or body."""

from __future__ import annotations


def test_nul_is_refused_everywhere(org, login) -> None:  # type: ignore[no-untyped-def]
    org.user("admin1", "system_admin")
    c = login("admin1")
    r = c.post("/api/org-units", json={"code": "x", "name": "a\u0000b", "kind": "department",
                                       "parent_id": org.group.id})
    assert r.status_code == 422 and r.json()["key"] == "errors.nul_character"
    assert c.get("/api/users/a%00b").status_code == 422
    assert c.get("/api/users", params={"after": "a\u0000"}).status_code == 422
    assert len(c.get("/api/org-units").json()) == 5  # nothing was written


def test_ids_beyond_64_bits_are_refused_not_crashed(login, org) -> None:  # type: ignore[no-untyped-def]
    """A sequence number or event id no database column can hold is a 422, not a 500."""
    org.user("auditor1", "auditor")
    client = login("auditor1")
    r = client.get("/api/audit", params={"before_seq": 2**63})
    assert r.status_code == 422, r.text
    r = client.get("/api/events", params={"since": 2**64})
    assert r.status_code == 422, r.text
