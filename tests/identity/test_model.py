"""Pure tests of the identity rules in `hotline.domains.identity.model` (no database)."""

from __future__ import annotations

import datetime as dt
import string

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from hotline.core.errors import InvalidInput
from hotline.domains.identity.model import (
    ADMIN_TRIAD,
    ALLOWED_CHILDREN,
    BUSINESS_DATA,
    DISPLAY_ROLE,
    PERMISSIONS,
    ROLE_NAMES_ZH,
    ROLES,
    OrgUnitKind,
    PasswordPolicy,
    Session,
    character_classes,
    check_password,
    check_scopes,
    check_separation_of_duties,
    check_username,
    is_locked,
    needs_mfa,
    next_lock,
    session_expired,
)

POLICY = PasswordPolicy()
NOW = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)

LOWER, UPPER, DIGITS = string.ascii_lowercase, string.ascii_uppercase, string.digits
SYMBOLS = string.punctuation + " "
ASCII = LOWER + UPPER + DIGITS + SYMBOLS

usernames = st.from_regex(r"[a-z][a-z0-9._-]{1,11}", fullmatch=True)


def ascii_classes(password: str) -> int:
    """The rule as the policy states it, for ASCII: lower, upper, digits, symbols."""
    return sum(any(c in cls for c in password) for cls in (LOWER, UPPER, DIGITS, SYMBOLS))


def expected_error(password: str, username: str, policy: PasswordPolicy) -> str | None:
    """The i18n key of the first rule `password` breaks, or None (the oracle)."""
    if len(password) < policy.min_length:
        return "errors.password_too_short"
    if len(password) > 256:
        return "errors.invalid_input"
    if ascii_classes(password) < policy.min_classes:
        return "errors.password_classes"
    if username in password.lower():
        return "errors.password_contains_username"
    if len(set(password)) <= 3 or password.isdigit():
        return "errors.password_simple"
    return None


def outcome(password: str, username: str, policy: PasswordPolicy = POLICY) -> str | None:
    try:
        check_password(password, policy, username=username)
    except InvalidInput as e:
        return e.key
    return None


# --- character classes ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("password", "classes"),
    [
        ("", 0),
        ("abc", 1),
        ("ABC", 1),
        ("123", 1),
        ("!? ", 1),
        ("aB", 2),
        ("aB3", 3),
        ("aB3-", 4),
        ("密码", 0),  # CJK letters are neither cased letters, digits nor symbols
        ("Pässwörd", 2),
    ],
)
def test_character_classes_examples(password: str, classes: int) -> None:
    assert character_classes(password) == classes


@given(st.text(alphabet=ASCII, max_size=40))
def test_character_classes_ascii(password: str) -> None:
    assert character_classes(password) == ascii_classes(password)


@given(st.text(max_size=30), st.text(max_size=30))
def test_character_classes_bounded_and_monotone(a: str, b: str) -> None:
    assert 0 <= character_classes(a) <= 4
    assert character_classes(a + b) >= max(character_classes(a), character_classes(b))
    assert character_classes(a + b) == character_classes(b + a)


# --- passwords -----------------------------------------------------------------------------
@st.composite
def password_and_username(draw: st.DrawFn) -> tuple[str, str]:
    username = draw(usernames)
    parts = draw(st.lists(st.text(alphabet=ASCII, max_size=10), min_size=1, max_size=4))
    if draw(st.booleans()):
        # embed the username, in any letter case
        name = "".join(c.upper() if draw(st.booleans()) else c for c in username)
        parts.insert(draw(st.integers(0, len(parts))), name)
    return "".join(parts), username


@given(password_and_username())
@example(
    ("Abcdefghijk1", "zz"),
)  # exactly 12: accepted
@example(("Abcdefghij1", "zz"))  # 11: too short
@example(("aA1aA1aA1aA1", "zz"))  # three distinct characters
@example(("abcdefgh1234", "zz"))  # two classes
@example(("My-Bob-Passw0rd", "bob"))
@example(("My-BOB-Passw0rd", "bob"))
@example(("aA1-" * 65, "zz"))  # 260 characters
def test_check_password_matches_the_rules(case: tuple[str, str]) -> None:
    password, username = case
    assert outcome(password, username) == expected_error(password, username, POLICY)


@given(
    st.text(alphabet=ASCII, max_size=24),
    usernames,
    st.integers(8, 20),
    st.integers(1, 4),
)
def test_check_password_follows_the_policy(
    password: str, username: str, min_length: int, min_classes: int
) -> None:
    policy = PasswordPolicy(min_length=min_length, min_classes=min_classes)
    assert outcome(password, username, policy) == expected_error(password, username, policy)


@given(st.text(min_size=12, max_size=40), usernames)
def test_check_password_unicode_never_crashes(password: str, username: str) -> None:
    key = outcome(password, username)
    if key is None:
        assert len(password) >= 12 and character_classes(password) >= 3
        assert username not in password.lower()


def test_check_password_errors_name_the_field() -> None:
    for password in ("short", "abcdefghijklmn", "Bob-Passw0rd-1", "aA1aA1aA1aA1aA1"):
        with pytest.raises(InvalidInput) as e:
            check_password(password, POLICY, username="bob")
        assert e.value.field == "password"


# --- separation of duties ------------------------------------------------------------------
@given(st.sets(st.sampled_from(sorted(ROLES))))
def test_separation_of_duties(roles: set[str]) -> None:
    triad = roles & ADMIN_TRIAD
    display_alone = DISPLAY_ROLE not in roles or roles == {DISPLAY_ROLE}
    allowed = len(triad) <= 1 and not (triad and roles - ADMIN_TRIAD) and display_alone
    try:
        check_separation_of_duties(roles)
    except InvalidInput as e:
        assert not allowed
        if not display_alone:
            assert e.key == "errors.display_role_exclusive"
            assert e.params["role"] in roles - {DISPLAY_ROLE}
        else:
            assert e.key == "errors.separation_of_duties"
            assert set(e.params["roles"]) <= roles and len(e.params["roles"]) >= 2
    else:
        assert allowed


@given(st.sets(st.sampled_from(sorted(ROLES))), st.sets(st.sampled_from(sorted(ROLES))))
def test_separation_of_duties_is_monotone(a: set[str], b: set[str]) -> None:
    """A set that breaks the rule still breaks it with more roles added."""

    def ok(roles: set[str]) -> bool:
        try:
            check_separation_of_duties(roles)
        except InvalidInput:
            return False
        return True

    if not ok(a):
        assert not ok(a | b)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_any_single_role_is_allowed(role: str) -> None:
    check_separation_of_duties({role})
    check_separation_of_duties(set())


def test_role_contents_separate_duties() -> None:
    for role, perms in ROLES.items():
        assert perms <= set(PERMISSIONS), role
        assert role in ROLE_NAMES_ZH
    assert ROLES["auditor"] == {"audit:read"}
    assert not ROLES["system_admin"] & {"audit:read", "policy:manage", "role:grant"}
    assert not ROLES["security_admin"] & ({"user:manage", "audit:read"} | BUSINESS_DATA)
    assert not ROLES["system_admin"] & BUSINESS_DATA
    # audit is read only by the auditor, grants and policy only by the security admin
    assert [r for r, p in ROLES.items() if "audit:read" in p] == ["auditor"]
    assert [r for r, p in ROLES.items() if "role:grant" in p] == ["security_admin"]
    assert [r for r, p in ROLES.items() if "policy:manage" in p] == ["security_admin"]
    assert BUSINESS_DATA and all(
        p.split(":")[0] in {"customer", "contact", "agent", "stats"} for p in BUSINESS_DATA
    )


def test_needs_mfa() -> None:
    mfa = ("system_admin", "security_admin", "auditor")
    assert needs_mfa({"auditor"}, mfa)
    assert not needs_mfa({"agent", "team_lead"}, mfa)
    assert not needs_mfa(set(), mfa)


# --- usernames, scopes, org kinds ----------------------------------------------------------
@given(st.text(max_size=70))
@example("ab")
@example("a")
@example("a" * 64)
@example("a" * 65)
@example("Ab")
@example("1ab")
@example("a.b-c_d9")
@example("ab\n")
def test_check_username(name: str) -> None:
    valid = (
        2 <= len(name) <= 64 and name[0] in LOWER and all(c in LOWER + DIGITS + "._-" for c in name)
    )
    try:
        assert check_username(name) == name
    except InvalidInput as e:
        assert not valid, name
        assert e.field == "username"
    else:
        assert valid, name


@given(st.lists(st.sampled_from(sorted(PERMISSIONS)), min_size=1))
def test_check_scopes_known(scopes: list[str]) -> None:
    assert check_scopes(scopes) == tuple(sorted(set(scopes)))


@given(st.lists(st.sampled_from(sorted(PERMISSIONS))), st.text(min_size=1, max_size=20))
def test_check_scopes_unknown(scopes: list[str], bogus: str) -> None:
    assume(bogus not in PERMISSIONS)
    with pytest.raises(InvalidInput) as e:
        check_scopes([*scopes, bogus])
    assert e.value.key == "errors.unknown_scopes" and e.value.params["scopes"] == [bogus]


def test_check_scopes_empty() -> None:
    with pytest.raises(InvalidInput):
        check_scopes([])


def test_org_tree_shape() -> None:
    assert set(ALLOWED_CHILDREN) == set(OrgUnitKind)
    assert ALLOWED_CHILDREN[OrgUnitKind.team] == frozenset()
    assert all(OrgUnitKind.group not in kids for kids in ALLOWED_CHILDREN.values())
    assert OrgUnitKind.branch in ALLOWED_CHILDREN[OrgUnitKind.group]
    assert OrgUnitKind.dispatch_center in ALLOWED_CHILDREN[OrgUnitKind.branch]
    assert OrgUnitKind.team in ALLOWED_CHILDREN[OrgUnitKind.dispatch_center]
    assert OrgUnitKind.team not in ALLOWED_CHILDREN[OrgUnitKind.group]


# --- lockout and sessions ------------------------------------------------------------------
@given(st.integers(0, 20), st.integers(1, 10), st.integers(1, 120))
def test_next_lock(failed: int, threshold: int, minutes: int) -> None:
    policy = PasswordPolicy(lockout_threshold=threshold, lockout_minutes=minutes)
    lock = next_lock(failed, policy, NOW)
    if failed >= threshold:
        assert lock == NOW + dt.timedelta(minutes=minutes)
        assert is_locked(lock, NOW + dt.timedelta(minutes=minutes) - dt.timedelta(seconds=1))
        assert not is_locked(lock, NOW + dt.timedelta(minutes=minutes))
    else:
        assert lock is None
        assert not is_locked(lock, NOW)


def _session(last_seen: dt.datetime, *, hours: int = 12, ended: bool = False) -> Session:
    return Session(
        id="s",
        user_id="u",
        mfa_passed=True,
        created_at=NOW,
        last_seen_at=last_seen,
        expires_at=NOW + dt.timedelta(hours=hours),
        ended_at=NOW if ended else None,
        ip=None,
    )


@given(st.integers(0, 13 * 3600), st.integers(0, 13 * 3600))
def test_session_expired(seen_after: int, idle: int) -> None:
    last_seen = NOW + dt.timedelta(seconds=seen_after)
    now = last_seen + dt.timedelta(seconds=idle)
    expected = idle > 15 * 60 or now >= NOW + dt.timedelta(hours=12)
    assert session_expired(_session(last_seen), POLICY, now) is expected
    assert session_expired(_session(last_seen, ended=True), POLICY, now)
