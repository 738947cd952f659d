"""Who is acting: the actor and its grants. Passed explicitly (keyword `actor`) to every action."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hotline.core.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Grant:
    """A role's permissions in one organisation subtree (`path` like `/g/b1/`)."""

    role: str
    org_unit_path: str
    permissions: frozenset[str]


@dataclass(frozen=True, slots=True)
class Actor:
    """The user (or system process) on whose behalf an action runs."""

    user_id: str | None
    username: str
    grants: tuple[Grant, ...] = ()
    ip: str | None = None
    session_id: str | None = None
    token_id: str | None = None
    # An API token narrows its user's permissions to these (None: the user's own).
    token_scopes: frozenset[str] | None = None
    is_system: bool = False
    home_org_unit_path: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str, org_unit_path: str | None = None) -> bool:
        """True when a grant gives `permission` over `org_unit_path` (or anywhere, if None)."""
        if self.is_system:
            return True
        if self.token_scopes is not None and permission not in self.token_scopes:
            return False
        for grant in self.grants:
            if permission not in grant.permissions:
                continue
            if org_unit_path is None or org_unit_path.startswith(grant.org_unit_path):
                return True
        return False

    def require(self, permission: str, org_unit_path: str | None = None) -> None:
        """Raise PermissionDenied unless `can(permission, org_unit_path)`."""
        if not self.can(permission, org_unit_path):
            raise PermissionDenied(
                f"permission {permission!r} is required",
                key="errors.permission_required",
                params={"permission": permission},
            )

    def require_root(self, permission: str) -> None:
        """Require `permission` over a whole top-level unit (for global settings)."""
        top = [s for s in self.scopes_for(permission) if s.count("/") <= 2]
        if not top:
            raise PermissionDenied(
                f"permission {permission!r} over the whole organisation is required",
                key="errors.permission_required_root",
                params={"permission": permission},
            )

    def scopes_for(self, permission: str) -> list[str]:
        """The org subtrees in which the actor holds `permission` (for filtered lists)."""
        if self.is_system:
            return ["/"]
        if self.token_scopes is not None and permission not in self.token_scopes:
            return []
        return sorted({g.org_unit_path for g in self.grants if permission in g.permissions})

    @property
    def permissions(self) -> frozenset[str]:
        perms: set[str] = set()
        for g in self.grants:
            perms |= g.permissions
        if self.token_scopes is not None:
            perms &= self.token_scopes
        return frozenset(perms)


def system_actor(name: str = "system") -> Actor:
    """The actor for jobs and CLI maintenance: all permissions, still audited by name."""
    return Actor(user_id=None, username=name, is_system=True)


def paths_cover(scopes: Iterable[str], path: str) -> bool:
    return any(path.startswith(s) for s in scopes)
