"""Health, readiness and metrics endpoints."""

from __future__ import annotations


def test_health_ready_metrics(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    client.get("/api/me")  # a 401, counted under its route template
    text = client.get("/metrics").text
    assert 'hotline_http_requests_total{method="GET",route="/api/me",status="401"} 1.0' in text
    assert "hotline_http_request_seconds_bucket" in text


def test_unknown_paths_are_problem_404(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/nope")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
