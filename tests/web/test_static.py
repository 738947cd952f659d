"""Serving the built web UI: assets, pre-compressed variants, SPA fallback, and what stays 404.

Runs against a small fake build in a temporary directory (no Node needed).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hotline.api.app import create_app
from hotline.api.web import mount_web
from hotline.web.static import accepted_encodings, is_app_route, resolve

INDEX = "<!doctype html><title>hotline</title><div id=app></div>"
JS = "console.log('hotline');\n" * 100


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "assets" / "index-abc123.js").write_text(JS)
    (root / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(JS.encode()))
    (root / "assets" / "index-abc123.js.br").write_bytes(b"fake-brotli")
    (root / "assets" / "plain-1.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


@pytest.fixture
def web(settings: Any, runtime: Any, dist: Path) -> Any:
    app = create_app(settings, runtime=runtime)
    mount_web(app, dist)
    mount_web(app, dist)  # again: only the directory changes (create_app may mount it too)
    with TestClient(app) as c:
        yield c


def _is_problem(r: Any, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == status


def test_app_routes_get_the_shell(web: Any) -> None:
    for path in ("/", "/login", "/admin/users", "/admin/users/", "/audit?action=user.create"):
        r = web.get(path)
        assert r.status_code == 200, path
        assert r.text == INDEX
        assert r.headers["cache-control"] == "no-cache"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["content-type"].startswith("text/html")
    assert web.head("/admin/users").status_code == 200


def test_assets_are_cached_and_precompressed(web: Any) -> None:
    r = web.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and r.text == JS
    assert "content-encoding" not in r.headers
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["content-type"].startswith("text/javascript")

    r = web.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip, deflate"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.text == JS  # httpx decodes it
    assert int(r.headers["content-length"]) < len(JS)

    r = web.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip;q=0.5, br"})
    assert r.headers["content-encoding"] == "br"
    assert r.headers["content-type"].startswith("text/javascript")

    r = web.get("/assets/plain-1.css", headers={"Accept-Encoding": "gzip, br"})
    assert r.status_code == 200 and "content-encoding" not in r.headers
    assert "vary" not in r.headers


def test_missing_files_and_api_paths_stay_404(web: Any) -> None:
    for path in (
        "/assets/nope.js",
        "/assets/",
        "/assets/../index.html",
        "/assets/%2e%2e/index.html",
        "/assets/..%2fsecret.txt",
        "/favicon.ico",
        "/robots.txt",
        "/api",
        "/api/nope",
        "/api/users/x/nope",
        "/admin/users/report.csv",
    ):
        _is_problem(web.get(path), 404)
    _is_problem(web.post("/admin/users"), 404)
    _is_problem(web.post("/api/nope"), 404)
    _is_problem(web.post("/assets/index-abc123.js"), 404)


def test_top_level_build_files_are_served(web: Any) -> None:
    r = web.get("/favicon.svg")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.headers["cache-control"] == "public, max-age=3600"


def test_api_still_works_with_the_ui_mounted(web: Any) -> None:
    assert web.get("/healthz").json() == {"status": "ok"}
    _is_problem(web.get("/api/me"), 401)


def test_without_a_build_the_root_explains(settings: Any, runtime: Any, tmp_path: Path) -> None:
    app = create_app(settings, runtime=runtime)
    mount_web(app, tmp_path / "missing")
    with TestClient(app) as c:
        r = c.get("/")
        _is_problem(r, 404)
        assert "npm run build" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200


def test_helpers(tmp_path: Path) -> None:
    assert accepted_encodings("gzip, br;q=0") == {"gzip"}
    assert accepted_encodings("*") >= {"br", "gzip"}
    assert accepted_encodings(None) == set()
    assert is_app_route("/admin/users") and is_app_route("/")
    assert not is_app_route("/api/users") and not is_app_route("/x/file.js")
    (tmp_path / "a.txt").write_text("a")
    assert resolve(tmp_path, "a.txt") == (tmp_path / "a.txt").resolve()
    assert resolve(tmp_path, "../a.txt") is None
    assert resolve(tmp_path, "/etc/passwd") is None
    assert resolve(tmp_path, "") is None
