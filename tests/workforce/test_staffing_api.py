"""Staffing through the API and the CLI: the published 100 calls / 180 s / 80-20 → 14 agents."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hotline.cli.main import app as cli


def test_staffing_api(org, login) -> None:  # type: ignore[no-untyped-def]
    org.user("lead", "team_lead", unit="team-a")
    c = login("lead")
    r = c.post("/api/workforce/staffing", json={"calls": [100, 0], "aht_seconds": 180})
    assert r.status_code == 200, r.text
    first, idle = r.json()["intervals"]
    assert first["agents"] == 14 and first["p_wait"] == pytest.approx(0.1741, abs=1e-4)
    assert first["service_level"] == pytest.approx(0.8884, abs=1e-4)
    assert idle["agents"] == 0
    erlang_a = c.post("/api/workforce/staffing",
                      json={"calls": [100], "aht_seconds": 180, "patience_seconds": 120})
    assert erlang_a.json()["model"] == "erlang_a"
    assert erlang_a.json()["intervals"][0]["agents"] <= 14  # abandonment relieves the queue
    bad = c.post("/api/workforce/staffing", json={"calls": [], "aht_seconds": 180})
    assert bad.status_code == 422


def test_staff_cli() -> None:
    result = CliRunner().invoke(cli, ["staff", "100", "--aht", "180", "--sl", "80/20"])
    assert result.exit_code == 0, result.output
    assert " 14 " in result.output and "0.1741" in result.output
    bad = CliRunner().invoke(cli, ["staff", "100", "--sl", "eighty"])
    assert bad.exit_code == 2
