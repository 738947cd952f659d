"""Workforce planning API: Erlang staffing for a list of interval volumes (R-C7)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from hotline.api.security import SecureRouter
from hotline.domains.workforce.queries import staffing_plan

router = SecureRouter(prefix="/api", tags=["workforce"])


class StaffingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    calls: Annotated[
        list[Annotated[float, Field(ge=0, le=1e7)]], Field(min_length=1, max_length=10_000)
    ]
    interval_seconds: Annotated[float, Field(ge=60, le=86_400)] = 1800
    aht_seconds: Annotated[float, Field(ge=1, le=86_400)]
    sl_seconds: Annotated[float, Field(ge=0, le=3600)] = 20
    sl_percent: Annotated[float, Field(ge=1, le=99.9)] = 80
    patience_seconds: Annotated[float, Field(ge=1, le=86_400)] | None = None
    max_occupancy_percent: Annotated[float, Field(ge=1, le=100)] | None = None


class StaffingRowOut(BaseModel):
    calls: float
    agents: int
    load_erlangs: float
    p_wait: float
    service_level: float
    asa_seconds: float
    occupancy: float
    p_abandon: float | None


class StaffingOut(BaseModel):
    model: str
    intervals: list[StaffingRowOut]


@router.post("/workforce/staffing", permission="stats:read", response_model=StaffingOut)
def staffing(body: StaffingIn) -> StaffingOut:
    """Required agents per interval: Erlang C, or Erlang A when `patience_seconds` is given."""
    rows = staffing_plan(**body.model_dump())
    return StaffingOut(
        model="erlang_a" if body.patience_seconds else "erlang_c",
        intervals=[StaffingRowOut(**dataclasses.asdict(r)) for r in rows],
    )
