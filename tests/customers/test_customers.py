"""The customers domain through the unit of work: encryption at rest, masking per permission,
audited PII reads, org scope, validation (R-B1, R-E2, R-E3, R-E4)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from hotline.core.context import Actor, Grant, system_actor
from hotline.core.errors import InvalidInput, NotFound, PermissionDenied
from hotline.domains.customers import actions, jobs, queries
from hotline.domains.customers.model import check_id_number, check_phone, id_check_digit
from hotline.domains.identity import actions as identity
from hotline.domains.identity.model import ROLES, OrgUnit, OrgUnitKind
from hotline.infra.db.schema import audit_log, customers, outbox
from hotline.infra.runtime import Runtime

PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"
ADDRESS = "北京市朝阳区建国路88号院3号楼"


@dataclass
class Org:
    group: OrgUnit
    center: OrgUnit
    team_a: OrgUnit
    team_b: OrgUnit


@pytest.fixture
def org(runtime: Runtime) -> Org:
    with runtime.db.transaction(actor=system_actor("test")) as tx:
        group = identity.create_org_unit(
            tx, code="G", name="集团", kind=OrgUnitKind.group, parent_id=None
        )
        center = identity.create_org_unit(
            tx, code="C", name="中心", kind=OrgUnitKind.dispatch_center, parent_id=group.id
        )
        team_a = identity.create_org_unit(
            tx, code="A", name="一班", kind=OrgUnitKind.team, parent_id=center.id
        )
        team_b = identity.create_org_unit(
            tx, code="B", name="二班", kind=OrgUnitKind.team, parent_id=center.id
        )
    return Org(group, center, team_a, team_b)


def actor(name: str, role: str, unit: OrgUnit) -> Actor:
    return Actor(
        user_id=f"u-{name}",
        username=name,
        grants=(Grant(role, unit.path, ROLES[role]),),
        roles=frozenset({role}),
    )


def create(runtime: Runtime, who: Actor, unit: OrgUnit, **fields: str | None) -> str:
    values: dict[str, str | None] = {
        "name": "张三",
        "phone": PHONE,
        "id_number": ID_NUMBER,
        "address": ADDRESS,
        "area": "朝阳区",
    }
    values.update(fields)
    with runtime.db.transaction(actor=who) as tx:
        view = actions.create_customer(tx, org_unit_id=unit.id, **values)  # type: ignore[arg-type]
    return view.id


def audit_rows(runtime: Runtime, action: str) -> list[sa.Row]:  # type: ignore[type-arg]
    with runtime.db.read() as conn:
        return list(
            conn.execute(
                sa.select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.seq)
            ).all()
        )


# --- create, masking, audited reads ------------------------------------------------------
def test_create_and_read_masked_for_agent(runtime: Runtime, org: Org) -> None:
    agent = actor("agent", "agent", org.team_a)
    cid = create(runtime, agent, org.team_a)
    with runtime.db.transaction(actor=agent) as tx:
        view = queries.get_customer(tx, cid)
    assert view.masked
    assert view.name == "张三"
    assert view.phone == "138****5678"
    assert view.id_number == "110***********002X"
    assert view.address == "北京市朝阳区****"
    assert view.area == "朝阳区"
    assert audit_rows(runtime, "customer.read_pii") == []


def test_read_pii_unmasked_and_audited(runtime: Runtime, org: Org) -> None:
    cid = create(runtime, actor("agent", "agent", org.team_a), org.team_a)
    manager = actor("boss", "duty_manager", org.center)
    with runtime.db.transaction(actor=manager) as tx:
        view = queries.get_customer(tx, cid)
    assert not view.masked
    assert (view.phone, view.id_number, view.address) == (PHONE, ID_NUMBER, ADDRESS)
    rows = audit_rows(runtime, "customer.read_pii")
    assert len(rows) == 1
    row = rows[0]
    assert (row.actor_name, row.object_type, row.object_id) == ("boss", "customer", cid)
    assert row.org_unit_path == org.team_a.path
    assert row.details == {"fields": ["phone", "id_number", "address"], "via": "get"}
    # the audit row itself holds no personal data
    assert PHONE not in str(row.details) and ID_NUMBER not in str(row.details)


def test_reveal_false_gives_masked_without_audit(runtime: Runtime, org: Org) -> None:
    cid = create(runtime, actor("agent", "agent", org.team_a), org.team_a)
    manager = actor("boss", "duty_manager", org.center)
    with runtime.db.transaction(actor=manager) as tx:
        view = queries.get_customer(tx, cid, reveal=False)
        listed = queries.list_customers(tx)
    assert view.masked and view.phone == "138****5678"
    assert [c.id for c in listed] == [cid] and listed[0].masked
    assert audit_rows(runtime, "customer.read_pii") == []


def test_pii_read_audit_rolls_back_with_failed_transaction(runtime: Runtime, org: Org) -> None:
    """Audit and read commit together: a read whose audit row cannot be kept is refused."""
    cid = create(runtime, actor("agent", "agent", org.team_a), org.team_a)
    manager = actor("boss", "duty_manager", org.center)
    with pytest.raises(RuntimeError), runtime.db.transaction(actor=manager) as tx:
        queries.get_customer(tx, cid)
        raise RuntimeError("boom")
    assert audit_rows(runtime, "customer.read_pii") == []


def test_pii_permission_is_scoped(runtime: Runtime, org: Org) -> None:
    """read_pii over team A only: team B's customer (readable via customer:read over the
    center) comes back masked."""
    a_id = create(runtime, actor("a", "agent", org.team_a), org.team_a)
    b_id = create(runtime, actor("b", "agent", org.team_b), org.team_b, phone="13900001111")
    who = Actor(
        user_id="u-mixed",
        username="mixed",
        grants=(
            Grant("duty_manager", org.team_a.path, ROLES["duty_manager"]),
            Grant("qa", org.center.path, ROLES["qa"]),
        ),
    )
    with runtime.db.transaction(actor=who) as tx:
        a = queries.get_customer(tx, a_id)
        b = queries.get_customer(tx, b_id)
    assert not a.masked and a.phone == PHONE
    assert b.masked and b.phone == "139****1111"
    assert [r.object_id for r in audit_rows(runtime, "customer.read_pii")] == [a_id]


def test_list_reveal_audits_each_customer(runtime: Runtime, org: Org) -> None:
    ids = [
        create(runtime, actor("a", "agent", org.team_a), org.team_a, phone=f"1380000000{i}")
        for i in range(3)
    ]
    manager = actor("boss", "center_manager", org.center)
    with runtime.db.transaction(actor=manager) as tx:
        page1 = queries.list_customers(tx, limit=2, reveal=True)
        page2 = queries.list_customers(tx, limit=2, after=page1[-1].id, reveal=True)
    assert [c.id for c in page1 + page2] == ids
    assert all(not c.masked for c in page1 + page2)
    assert sorted(r.object_id for r in audit_rows(runtime, "customer.read_pii")) == sorted(ids)


def test_list_by_name_prefix(runtime: Runtime, org: Org) -> None:
    agent = actor("a", "agent", org.team_a)
    create(runtime, agent, org.team_a, name="张三")
    other = create(runtime, agent, org.team_a, name="李四", phone=None, id_number=None)
    with runtime.db.transaction(actor=agent) as tx:
        found = queries.list_customers(tx, name="李")
    assert [c.id for c in found] == [other]
    assert found[0].phone is None and found[0].id_number is None


# --- scope and permissions -----------------------------------------------------------------
def test_out_of_scope_is_not_found(runtime: Runtime, org: Org) -> None:
    cid = create(runtime, actor("a", "agent", org.team_a), org.team_a)
    other_team = actor("b", "agent", org.team_b)
    with runtime.db.transaction(actor=other_team) as tx:
        with pytest.raises(NotFound):
            queries.get_customer(tx, cid)
        with pytest.raises(NotFound):
            actions.update_customer(tx, customer_id=cid, changes={"name": "x"})
        with pytest.raises(NotFound):
            queries.get_customer(tx, "no-such-id")
        assert queries.find_by_phone(tx, PHONE) == []
        assert queries.find_by_id_number(tx, ID_NUMBER) == []
        assert queries.list_customers(tx) == []


def test_create_in_unit_outside_scope_is_not_found(runtime: Runtime, org: Org) -> None:
    with (
        pytest.raises(NotFound),
        runtime.db.transaction(actor=actor("a", "agent", org.team_a)) as tx,
    ):
        actions.create_customer(tx, org_unit_id=org.team_b.id, name="x")


def test_permission_required(runtime: Runtime, org: Org) -> None:
    cid = create(runtime, actor("a", "agent", org.team_a), org.team_a)
    auditor = actor("aud", "auditor", org.group)
    with runtime.db.transaction(actor=auditor) as tx:
        with pytest.raises(PermissionDenied):
            queries.get_customer(tx, cid)
        with pytest.raises(PermissionDenied):
            queries.find_by_phone(tx, PHONE)
        with pytest.raises(PermissionDenied):
            actions.create_customer(tx, org_unit_id=org.team_a.id, name="x")
    qa = actor("qa", "qa", org.group)  # may read (masked), may not write
    with runtime.db.transaction(actor=qa) as tx:
        assert queries.get_customer(tx, cid).masked
        with pytest.raises(PermissionDenied):
            actions.update_customer(tx, customer_id=cid, changes={"name": "x"})


# --- lookup (screen pop) -----------------------------------------------------------------
@pytest.mark.parametrize(
    "caller", ["13812345678", "+86 138 1234 5678", "+86-138-1234-5678", "008613812345678"]
)
def test_find_by_phone_normalises(runtime: Runtime, org: Org, caller: str) -> None:
    agent = actor("a", "agent", org.team_a)
    cid = create(runtime, agent, org.team_a, phone="138-1234-5678")
    create(runtime, agent, org.team_a, phone="13900000000", id_number=None)
    with runtime.db.transaction(actor=agent) as tx:
        found = queries.find_by_phone(tx, caller)
        assert queries.find_by_phone(tx, "no digits") == []
    assert [c.id for c in found] == [cid]
    assert found[0].masked and found[0].phone == "138****5678"


def test_find_by_id_number(runtime: Runtime, org: Org) -> None:
    agent = actor("a", "agent", org.team_a)
    cid = create(runtime, agent, org.team_a)
    with runtime.db.transaction(actor=actor("m", "duty_manager", org.center)) as tx:
        found = queries.find_by_id_number(tx, ID_NUMBER.lower())
    assert [c.id for c in found] == [cid]
    assert found[0].id_number == ID_NUMBER
    assert [r.details["via"] for r in audit_rows(runtime, "customer.read_pii")] == [
        "find_by_id_number"
    ]


# --- update --------------------------------------------------------------------------------
def test_update_audits_masked_before_after(runtime: Runtime, org: Org) -> None:
    agent = actor("a", "agent", org.team_a)
    cid = create(runtime, agent, org.team_a)
    with runtime.db.transaction(actor=agent) as tx:
        view = actions.update_customer(
            tx,
            customer_id=cid,
            changes={"phone": "+86 139 0000 1111", "name": "张三丰", "area": "", "notes": "VIP"},
        )
    assert view.masked and view.phone == "+86*******1111" and view.name == "张三丰"
    (row,) = audit_rows(runtime, "customer.update")
    assert row.details["changes"] == {
        "phone": {"before": "***", "after": "***"},
        "name": {"before": "张三", "after": "张三丰"},
        "area": {"before": "朝阳区", "after": None},
        "notes": {"before": None, "after": "VIP"},
    }
    (created,) = audit_rows(runtime, "customer.create")
    assert created.details["changes"]["id_number"] == {"before": None, "after": "***"}
    with runtime.db.transaction(actor=agent) as tx:
        assert [c.id for c in queries.find_by_phone(tx, "13900001111")] == [cid]
        assert queries.find_by_phone(tx, PHONE) == []
    with runtime.db.read() as conn:
        events = conn.execute(sa.select(outbox).order_by(outbox.c.id)).all()
    types = [e.type for e in events if e.object_type == "customer"]
    assert types == ["customer.created", "customer.updated"]
    assert events[-1].payload["fields"] == ["area", "name", "notes", "phone"]
    for e in events:
        assert PHONE not in str(e.payload) and "1111" not in str(e.payload)


def test_update_clears_and_noop(runtime: Runtime, org: Org) -> None:
    agent = actor("a", "agent", org.team_a)
    cid = create(runtime, agent, org.team_a)
    with runtime.db.transaction(actor=agent) as tx:
        actions.update_customer(tx, customer_id=cid, changes={"phone": None, "address": ""})
        same = actions.update_customer(tx, customer_id=cid, changes={"name": " 张三 "})
    assert same.phone is None and same.address is None
    with runtime.db.read() as conn:
        row = conn.execute(sa.select(customers).where(customers.c.id == cid)).one()
    assert row.phone is None and row.phone_index is None and row.address is None
    assert row.id_number is not None and row.id_number_index is not None
    assert len(audit_rows(runtime, "customer.update")) == 1  # the no-op wrote nothing


def test_move_between_units_needs_write_on_both(runtime: Runtime, org: Org) -> None:
    cid = create(runtime, actor("a", "agent", org.team_a), org.team_a)
    with (
        pytest.raises(NotFound),
        runtime.db.transaction(actor=actor("a", "agent", org.team_a)) as tx,
    ):
        actions.update_customer(tx, customer_id=cid, changes={"org_unit_id": org.team_b.id})
    lead = actor("lead", "team_lead", org.center)
    with runtime.db.transaction(actor=lead) as tx:
        actions.update_customer(tx, customer_id=cid, changes={"org_unit_id": org.team_b.id})
    (row,) = audit_rows(runtime, "customer.update")
    assert row.org_unit_path == org.team_b.path
    assert row.details["moved_from"] == org.team_a.path
    with runtime.db.transaction(actor=actor("b", "agent", org.team_b)) as tx:
        assert queries.get_customer(tx, cid).org_unit_id == org.team_b.id


# --- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "  "}, "name must not be empty"),
        ({"name": "x" * 201}, "at most 200"),
        ({"phone": "1234"}, "5–20 digits"),
        ({"phone": "1" * 21}, "5–20 digits"),
        ({"phone": "138abc45678"}, "5–20 digits"),
        ({"phone": "++8613812345678"}, "5–20 digits"),
        ({"id_number": "110105194912310021"}, "check digit"),
        ({"id_number": "1101051949123100"}, "18 characters"),
        ({"id_number": "11010519491331002" + id_check_digit("11010519491331002")}, "birth"),
        ({"id_number": "1101051949123100Y"}, "18 characters"),
        ({"id_number": "11010519491231A02X"}, "17 digits"),
        ({"id_number": "110105491331002"}, "15 digits"),
        ({"address": "x" * 501}, "at most 500"),
        ({"notes": "x" * 2001}, "at most 2000"),
    ],
)
def test_validation(runtime: Runtime, org: Org, fields: dict[str, str], message: str) -> None:
    with (
        pytest.raises(InvalidInput, match=message) as err,
        runtime.db.transaction(actor=actor("a", "agent", org.team_a)) as tx,
    ):
        actions.create_customer(tx, org_unit_id=org.team_a.id, **{"name": "n", **fields})
    assert err.value.field in {*fields, "name"}
    # the rejected value is not echoed back (it is personal data)
    for value in fields.values():
        if len(value) > 5:
            assert value not in err.value.message


def test_valid_inputs_normalised() -> None:
    assert check_phone(" +86 138-1234-5678 ") == "+8613812345678"
    assert check_phone("(010) 6552.1234") == "01065521234"
    assert check_phone("") is None and check_phone(None) is None
    assert check_id_number("11010519491231002x") == "11010519491231002X"
    assert check_id_number(" 440301199001011234 ") == "440301199001011234"
    assert check_id_number("110105491231002") == "110105491231002"  # first-generation ID


def test_update_rejects_unknown_fields(runtime: Runtime, org: Org) -> None:
    agent = actor("a", "agent", org.team_a)
    cid = create(runtime, agent, org.team_a)
    with runtime.db.transaction(actor=agent) as tx:
        with pytest.raises(InvalidInput, match="unknown customer field"):
            actions.update_customer(tx, customer_id=cid, changes={"phone_index": "x"})
        with pytest.raises(InvalidInput, match="must not be empty"):
            actions.update_customer(tx, customer_id=cid, changes={"name": None})


# --- nothing readable at rest ------------------------------------------------------------
def _raw_database_bytes(runtime: Runtime) -> bytes:
    url = sa.make_url(runtime.settings.database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        data = b""
        for suffix in ("", "-wal", "-journal"):
            path = Path(url.database + suffix)
            if path.exists():
                data += path.read_bytes()
        return data
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed")
    cmd = [pg_dump, "-h", url.host or "127.0.0.1", "-U", url.username or "postgres"]
    if url.port:
        cmd += ["-p", str(url.port)]
    cmd.append(str(url.database))
    env = {"PGPASSWORD": url.password} if url.password else {}
    import os

    result = subprocess.run(
        cmd, capture_output=True, check=True, timeout=120, env={**os.environ, **env}
    )
    return result.stdout


def test_no_plaintext_pii_at_rest(runtime: Runtime, org: Org) -> None:
    agent = actor("a", "agent", org.team_a)
    phones = ["13912345678", "18687654321", "+8615011112222"]
    ids = ["44030119900101123" + id_check_digit("44030119900101123"), ID_NUMBER]
    addresses = ["上海市浦东新区世纪大道100号", "广州市天河区体育西路191号"]
    cids = [
        create(runtime, agent, org.team_a, name=f"Known-{i}", phone=p, id_number=n, address=a)
        for i, (p, n, a) in enumerate(zip(phones, ids, addresses, strict=False))
    ]
    with runtime.db.transaction(actor=agent) as tx:
        actions.update_customer(tx, customer_id=cids[0], changes={"address": "深圳市南山区科技园"})
    with runtime.db.transaction(actor=actor("m", "duty_manager", org.center)) as tx:
        for cid in cids:
            queries.get_customer(tx, cid)  # audited reads must not copy PII either
    raw = _raw_database_bytes(runtime)
    assert b"Known-1" in raw  # the search works: plaintext columns are found
    secrets = [p.removeprefix("+86") for p in phones] + ids + addresses + ["深圳市南山区科技园"]
    for secret in secrets:
        assert secret.encode() not in raw, secret
    # masked forms are not stored either (they are computed on read)
    assert b"139****5678" not in raw


# --- jobs ----------------------------------------------------------------------------------
def test_reindex_job_repairs_blind_indexes(runtime: Runtime, org: Org) -> None:
    agent = actor("a", "agent", org.team_a)
    cids = [
        create(runtime, agent, org.team_a, phone=f"1380000000{i}", id_number=None) for i in range(5)
    ]
    with runtime.db.transaction(actor=system_actor()) as tx:
        tx.conn.execute(customers.update().values(phone_index="stale"))
    with runtime.db.transaction(actor=agent) as tx:
        assert queries.find_by_phone(tx, "13800000003") == []
        with pytest.raises(PermissionDenied):
            jobs.reindex_blind_indexes(tx, after=None)
    after: str | None = None
    batches = 0
    while True:
        with runtime.db.transaction(actor=system_actor("job")) as tx:
            after = jobs.reindex_blind_indexes(tx, after=after, limit=2)
        batches += 1
        if after is None:
            break
    assert batches == 3
    with runtime.db.transaction(actor=agent) as tx:
        assert [c.id for c in queries.find_by_phone(tx, "13800000003")] == [cids[3]]
