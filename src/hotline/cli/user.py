"""`hotline user …`: accounts from the command line (first administrator, 离职)."""

from __future__ import annotations

import typer

from hotline.cli.context import runtime
from hotline.core.context import system_actor
from hotline.core.errors import NotFound
from hotline.domains.identity import actions
from hotline.domains.identity.model import ROLES

app = typer.Typer(no_args_is_help=True)


@app.command()
def create(
    username: str = typer.Argument(..., help="Login name (lower-case)."),
    org: str = typer.Option(..., "--org", help="Code of the user's organisation unit."),
    role: list[str] = typer.Option([], "--role", help=f"Role(s): {', '.join(sorted(ROLES))}."),
    display_name: str = typer.Option(None, help="Name shown in the UI (default: username)."),
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Initial password (asked for when not given).",
    ),
) -> None:
    """Create a user in org unit ORG and grant roles over that unit."""
    with runtime(upgrade=True) as rt:
        with rt.db.transaction(actor=system_actor("cli")) as tx:
            unit = tx.identity.org_unit_by_code(org)
            if unit is None:
                raise NotFound(f"no organisation unit with code {org!r}")
            user = actions.create_user(
                tx,
                rt.policy(),
                username=username,
                display_name=display_name or username,
                org_unit_id=unit.id,
                password=password,
            )
            for r in role:
                actions.grant_role(tx, user_id=user.id, role=r, org_unit_id=unit.id)
        typer.echo(f"created {user.username} ({user.id}) in {org} with roles {role or '—'}")


@app.command()
def disable(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Disable a user (离职): sessions and API tokens end at once."""
    with runtime() as rt:
        with rt.db.transaction(actor=system_actor("cli")) as tx:
            user = tx.identity.user_by_username(username)
            if user is None:
                raise NotFound(f"no user {username!r}")
            actions.disable_user(tx, user_id=user.id)
        typer.echo(f"disabled {username}; sessions and tokens ended")


@app.command("reset-password")
def reset_password(
    username: str = typer.Argument(..., help="Login name."),
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Temporary password; the user must change it at next sign-in.",
    ),
) -> None:
    """Set a temporary password (also for administrators, auditors and security admins)."""
    with runtime() as rt:
        with rt.db.transaction(actor=system_actor("cli")) as tx:
            user = tx.identity.user_by_username(username)
            if user is None:
                raise NotFound(f"no user {username!r}")
            actions.reset_password(tx, rt.policy(), user_id=user.id, new_password=password)
        typer.echo(f"temporary password set for {username}; their sessions ended")


@app.command("reset-totp")
def reset_totp(username: str = typer.Argument(..., help="Login name.")) -> None:
    """Clear a lost authenticator; the user enrolls again at next sign-in."""
    with runtime() as rt:
        with rt.db.transaction(actor=system_actor("cli")) as tx:
            user = tx.identity.user_by_username(username)
            if user is None:
                raise NotFound(f"no user {username!r}")
            actions.reset_totp(tx, user_id=user.id)
        typer.echo(f"two-factor reset for {username}; they enroll again at next sign-in")
