"""Organisation scope as SQL: a row is visible when its unit's path lies under a scope path."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa


def in_scopes(path: sa.ColumnElement[str], scopes: Sequence[str]) -> sa.ColumnElement[bool]:
    """`path` starts with one of `scopes` (materialised paths like `/g/b/`); none → nothing."""
    if not scopes:
        return sa.false()
    if "/" in scopes:
        return sa.true()
    return sa.or_(*(path.startswith(s, autoescape=True) for s in scopes))
