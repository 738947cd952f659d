"""Identity actions through the unit of work (pure domain + real database)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hotline.core.context import system_actor
from hotline.core.errors import InvalidInput
from hotline.domains.identity import actions
from hotline.domains.identity.model import OrgUnitKind
from hotline.infra.runtime import Runtime

PASSWORD = "Str0ng-Passw0rd!"


def test_failed_create_writes_nothing(runtime: Runtime) -> None:
    with runtime.db.transaction(actor=system_actor()) as tx:
        group = actions.create_org_unit(
            tx, code="G", name="集团", kind=OrgUnitKind.group, parent_id=None
        )
    with pytest.raises(InvalidInput), runtime.db.transaction(actor=system_actor()) as tx:
        actions.create_user(
            tx, runtime.policy(), username="bob", display_name="Bob",
            org_unit_id=group.id, password="short",
        )
    with runtime.db.read() as conn:
        assert conn.execute(sa.text("select count(*) from users")).scalar_one() == 0
        # only the org unit's audit row and event exist
        assert conn.execute(sa.text("select count(*) from audit_log")).scalar_one() == 1
        assert conn.execute(sa.text("select count(*) from outbox")).scalar_one() == 1
