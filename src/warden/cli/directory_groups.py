"""``warden group``: directory security groups, their members and owners (``/v1.0/groups``).

Resource groups are ``warden rg``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from warden.cli.client import WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.directory import directory_object_id, group_id, reference
from warden.cli.output import Output, OutputFormat, note, render

COLUMNS = [("Display name", "displayName"), ("Description", "description"), ("Object ID", "id")]
MEMBER_COLUMNS = [
    ("Type", lambda item: str(item.get("@odata.type", "")).rsplit(".", 1)[-1]),
    ("Display name", "displayName"),
    ("User principal name", "userPrincipalName"),
    ("Object ID", "id"),
]

app = typer.Typer(help="Directory groups (security groups); resource groups are `warden rg`.", no_args_is_help=True)

GroupRef = typer.Argument(..., metavar="GROUP", help="The group's object ID or display name.")
Member = typer.Option(..., "--member", help="Object ID of a user, group or service principal, or a user's UPN.")
Owner = typer.Option(..., "--owner", help="Object ID of a user or service principal, or a user's UPN.")


@app.command("create")
@handle_errors
def create(
    name: str = typer.Argument(..., help="Display name."),
    description: str | None = typer.Option(None, "--description", help="Description."),
    mail_nickname: str | None = typer.Option(None, "--mail-nickname", help="Mail nickname (default: from the name)."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Create a security group (a user creating one becomes its owner)."""
    nickname = mail_nickname or "".join(c for c in name if c.isalnum() or c in "-_.")[:64] or "group"
    body: dict[str, object] = {
        "displayName": name,
        "mailNickname": nickname,
        "mailEnabled": False,
        "securityEnabled": True,
    }
    if description is not None:
        body["description"] = description
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.post("/v1.0/groups", body=body), output, COLUMNS)


@app.command("list")
@handle_errors
def list_groups(
    filter_text: str | None = typer.Option(None, "--filter", help="An OData $filter."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """List the tenant's groups."""
    params = {"$filter": filter_text} if filter_text else None
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.list("/v1.0/groups", params=params), output, COLUMNS)


@app.command("show")
@handle_errors
def show(group: str = GroupRef, data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """Show a group."""
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.get(f"/v1.0/groups/{group_id(client, group)}"), output, COLUMNS)


@app.command("delete")
@handle_errors
def delete(group: str = GroupRef, data_dir: Path | None = DataDir) -> None:
    """Delete a group, its memberships and the role assignments it held."""
    with WardenClient.from_data_dir(data_dir) as client:
        client.delete(f"/v1.0/groups/{group_id(client, group)}")
    note(f"Deleted group {group}.")


@app.command("add-member")
@handle_errors
def add_member(group: str = GroupRef, member: str = Member, data_dir: Path | None = DataDir) -> None:
    """Add a member (users, service principals, or a group to nest)."""
    with WardenClient.from_data_dir(data_dir) as client:
        gid = group_id(client, group)
        client.post(f"/v1.0/groups/{gid}/members/$ref", body=reference(directory_object_id(client, member)))
    note(f"Added {member} to {group}.")


@app.command("remove-member")
@handle_errors
def remove_member(group: str = GroupRef, member: str = Member, data_dir: Path | None = DataDir) -> None:
    """Remove a direct member."""
    with WardenClient.from_data_dir(data_dir) as client:
        gid = group_id(client, group)
        client.delete(f"/v1.0/groups/{gid}/members/{directory_object_id(client, member)}/$ref")
    note(f"Removed {member} from {group}.")


@app.command("members")
@handle_errors
def members(
    group: str = GroupRef,
    transitive: bool = typer.Option(False, "--transitive", help="Include members of nested groups."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """List a group's members."""
    relation = "transitiveMembers" if transitive else "members"
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.list(f"/v1.0/groups/{group_id(client, group)}/{relation}"), output, MEMBER_COLUMNS)


@app.command("owners")
@handle_errors
def owners(group: str = GroupRef, data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """List a group's owners."""
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.list(f"/v1.0/groups/{group_id(client, group)}/owners"), output, MEMBER_COLUMNS)


@app.command("add-owner")
@handle_errors
def add_owner(group: str = GroupRef, owner: str = Owner, data_dir: Path | None = DataDir) -> None:
    """Add an owner (owners manage the group's members and decide join requests)."""
    with WardenClient.from_data_dir(data_dir) as client:
        gid = group_id(client, group)
        client.post(f"/v1.0/groups/{gid}/owners/$ref", body=reference(directory_object_id(client, owner)))
    note(f"Added owner {owner} to {group}.")
