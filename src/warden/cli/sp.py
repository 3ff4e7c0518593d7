"""``warden sp``: service principals (the Graph-shaped ``/v1.0/servicePrincipals`` API)."""

from __future__ import annotations

from pathlib import Path

import typer

from warden.cli.client import CliError, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, note, print_table, render

COLUMNS = [("Display name", "displayName"), ("App (client) ID", "appId"), ("Object ID", "id")]

app = typer.Typer(help="Service principals.", no_args_is_help=True)


@app.command("create")
@handle_errors
def create(
    name: str = typer.Option(..., "--name", help="Display name."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Create a service principal with a client secret; the secret is shown this once."""
    if not name.strip():
        raise typer.BadParameter("the name must not be empty.", param_hint="--name")
    with WardenClient.from_data_dir(data_dir) as client:
        principal = client.post("/v1.0/servicePrincipals", body={"displayName": name})
        try:
            secret = client.post(f"/v1.0/servicePrincipals/{principal['id']}/addPassword", body={})
        except CliError as error:
            raise CliError(
                f"service principal {principal['id']} was created but has no secret: {error.message}", code=error.code
            ) from None
    result = {"clientId": principal["appId"], "clientSecret": secret["secretText"], "objectId": principal["id"]}
    if output == OutputFormat.json:
        render(result, output, [])
        return
    print_table(
        [{"field": key, "value": value} for key, value in (*result.items(), ("tenantId", client.tenant_id))],
        [("Field", "field"), ("Value", "value")],
    )
    note("The client secret is shown only this once: store it now.")


@app.command("list")
@handle_errors
def list_principals(data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """List the tenant's service principals."""
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.list("/v1.0/servicePrincipals"), output, COLUMNS)


@app.command("delete")
@handle_errors
def delete(
    object_id: str = typer.Argument(..., metavar="OBJECT_ID", help="The service principal's object ID."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Delete a service principal, its secrets and its role assignments."""
    with WardenClient.from_data_dir(data_dir) as client:
        client.delete(f"/v1.0/servicePrincipals/{object_id}")
    note(f"Deleted service principal {object_id}.")


@app.command("show")
@handle_errors
def show(
    object_id: str = typer.Argument(..., metavar="OBJECT_ID", help="The service principal's object ID."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Show a service principal and the application registration it belongs to, if any."""
    with WardenClient.from_data_dir(data_dir) as client:
        principal = client.get(f"/v1.0/servicePrincipals/{object_id}")
        apps = client.list("/v1.0/applications", params={"$filter": f"appId eq '{principal['appId']}'"})
    principal = {**principal, "applicationObjectId": apps[0]["id"] if apps else None}
    render(principal, output, [*COLUMNS, ("Application object ID", "applicationObjectId")])
