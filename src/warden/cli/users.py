"""``warden user``: directory users (the Graph-shaped ``/v1.0/users`` API)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import typer

from warden.cli.client import WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.directory import user_id
from warden.cli.output import Output, OutputFormat, note, render

COLUMNS = [
    ("User principal name", "userPrincipalName"),
    ("Display name", "displayName"),
    ("Enabled", "accountEnabled"),
    ("Type", "userType"),
    ("Object ID", "id"),
]

app = typer.Typer(help="Directory users.", no_args_is_help=True)

UserRef = typer.Argument(..., metavar="USER", help="The user's object ID or userPrincipalName.")
Password = typer.Option(
    None, "--password", help="The password (prompted for, hidden, when left out).", show_default=False
)


def _password(value: str | None) -> str:
    if value is not None:
        return value
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("create")
@handle_errors
def create(
    upn: str = typer.Option(..., "--upn", help="userPrincipalName, e.g. ann@contoso.example."),
    display_name: str = typer.Option(..., "--display-name", help="Display name."),
    password: str | None = Password,
    force_change: bool = typer.Option(False, "--force-change-password", help="Require a new password at sign-in."),
    disabled: bool = typer.Option(False, "--disabled", help="Create the account disabled."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Create a user; the password must meet the tenant's policy (NIST 800-63B)."""
    if "@" not in upn:
        raise typer.BadParameter("a userPrincipalName looks like name@domain.", param_hint="--upn")
    body = {
        "accountEnabled": not disabled,
        "displayName": display_name,
        "mailNickname": upn.split("@")[0],
        "userPrincipalName": upn,
        "passwordProfile": {"password": _password(password), "forceChangePasswordNextSignIn": force_change},
    }
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.post("/v1.0/users", body=body), output, COLUMNS)


@app.command("list")
@handle_errors
def list_users(
    filter_text: str | None = typer.Option(
        None, "--filter", help="An OData $filter, e.g. \"startswith(displayName,'A')\"."
    ),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """List the tenant's users."""
    params = {"$filter": filter_text} if filter_text else None
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.list("/v1.0/users", params=params), output, COLUMNS)


@app.command("show")
@handle_errors
def show(user: str = UserRef, data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """Show a user."""
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.get(f"/v1.0/users/{quote(user, safe='@')}"), output, COLUMNS)


@app.command("update")
@handle_errors
def update(
    user: str = UserRef,
    display_name: str | None = typer.Option(None, "--display-name", help="New display name."),
    enabled: bool | None = typer.Option(None, "--enabled/--disabled", help="Enable or disable sign-in."),
    job_title: str | None = typer.Option(None, "--job-title", help="Job title."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Change a user's display name, job title or whether it may sign in."""
    body: dict[str, object] = {}
    if display_name is not None:
        body["displayName"] = display_name
    if enabled is not None:
        body["accountEnabled"] = enabled
    if job_title is not None:
        body["jobTitle"] = job_title
    if not body:
        raise typer.BadParameter("nothing to change: give --display-name, --enabled/--disabled or --job-title.")
    with WardenClient.from_data_dir(data_dir) as client:
        object_id = user_id(client, user)
        client.patch(f"/v1.0/users/{object_id}", body=body)
        render(client.get(f"/v1.0/users/{object_id}"), output, COLUMNS)


@app.command("delete")
@handle_errors
def delete(user: str = UserRef, data_dir: Path | None = DataDir) -> None:
    """Delete a user, its group memberships and its role assignments."""
    with WardenClient.from_data_dir(data_dir) as client:
        object_id = user_id(client, user)
        client.delete(f"/v1.0/users/{object_id}")
    note(f"Deleted user {user}.")


@app.command("set-password")
@handle_errors
def set_password(
    user: str = UserRef,
    password: str | None = Password,
    force_change: bool = typer.Option(False, "--force-change-password", help="Require a new password at sign-in."),
    data_dir: Path | None = DataDir,
) -> None:
    """Reset a user's password (User Administrators: only users without a directory role)."""
    body = {"passwordProfile": {"password": _password(password), "forceChangePasswordNextSignIn": force_change}}
    with WardenClient.from_data_dir(data_dir) as client:
        client.patch(f"/v1.0/users/{user_id(client, user)}", body=body)
    note(f"Password of {user} changed.")
