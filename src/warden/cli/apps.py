"""``warden app``: application registrations (``/v1.0/applications``), redirect URIs and secrets."""

from __future__ import annotations

from pathlib import Path

import typer

from warden.cli.client import WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.directory import application
from warden.cli.output import Output, OutputFormat, note, print_table, render

COLUMNS = [
    ("Display name", "displayName"),
    ("App (client) ID", "appId"),
    ("Audience", "signInAudience"),
    ("Redirect URIs", lambda item: " ".join(_redirect_uris(item))),
    ("Object ID", "id"),
]
PLATFORMS = {"web": "web", "spa": "spa", "public-client": "publicClient"}

app = typer.Typer(help="Application registrations.", no_args_is_help=True)

AppRef = typer.Argument(..., metavar="APP", help="The application's object ID or app (client) ID.")


def _redirect_uris(item: dict) -> list[str]:
    return [uri for key in PLATFORMS.values() for uri in (item.get(key) or {}).get("redirectUris", [])]


@app.command("create")
@handle_errors
def create(
    name: str = typer.Option(..., "--name", help="Display name."),
    web: list[str] | None = typer.Option(None, "--web-redirect-uri", help="A web redirect URI; repeat for more."),
    spa: list[str] | None = typer.Option(None, "--spa-redirect-uri", help="A single-page-app redirect URI."),
    public: list[str] | None = typer.Option(
        None, "--public-client-redirect-uri", help="A public (native) client redirect URI."
    ),
    public_client: bool = typer.Option(False, "--public-client", help="Allow public client flows (device code)."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Register an application (its service principal is created with it)."""
    body = {
        "displayName": name,
        "web": {"redirectUris": web or []},
        "spa": {"redirectUris": spa or []},
        "publicClient": {"redirectUris": public or []},
        "isFallbackPublicClient": public_client,
    }
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.post("/v1.0/applications", body=body), output, COLUMNS)


@app.command("list")
@handle_errors
def list_apps(data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """List the tenant's applications."""
    with WardenClient.from_data_dir(data_dir) as client:
        render(client.list("/v1.0/applications"), output, COLUMNS)


@app.command("show")
@handle_errors
def show(app_ref: str = AppRef, data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """Show an application."""
    with WardenClient.from_data_dir(data_dir) as client:
        render(application(client, app_ref), output, COLUMNS)


@app.command("delete")
@handle_errors
def delete(app_ref: str = AppRef, data_dir: Path | None = DataDir) -> None:
    """Delete an application with its service principal, secrets and role assignments."""
    with WardenClient.from_data_dir(data_dir) as client:
        client.delete(f"/v1.0/applications/{application(client, app_ref)['id']}")
    note(f"Deleted application {app_ref}.")


@app.command("add-redirect-uri")
@handle_errors
def add_redirect_uri(
    app_ref: str = AppRef,
    uri: str = typer.Option(..., "--uri", help="The redirect URI."),
    platform: str = typer.Option("web", "--platform", help="web, spa or public-client."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Add a redirect URI for one platform."""
    key = PLATFORMS.get(platform)
    if key is None:
        raise typer.BadParameter(f"must be one of {', '.join(PLATFORMS)}.", param_hint="--platform")
    with WardenClient.from_data_dir(data_dir) as client:
        found = application(client, app_ref)
        uris = list((found.get(key) or {}).get("redirectUris", []))
        if uri not in uris:
            uris.append(uri)
        client.patch(f"/v1.0/applications/{found['id']}", body={key: {"redirectUris": uris}})
        render(client.get(f"/v1.0/applications/{found['id']}"), output, COLUMNS)


@app.command("add-secret")
@handle_errors
def add_secret(
    app_ref: str = AppRef,
    name: str = typer.Option("", "--name", help="A description of the secret."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Add a client secret; it is shown this once."""
    with WardenClient.from_data_dir(data_dir) as client:
        found = application(client, app_ref)
        secret = client.post(
            f"/v1.0/applications/{found['id']}/addPassword", body={"passwordCredential": {"displayName": name}}
        )
    result = {
        "clientId": found["appId"],
        "clientSecret": secret["secretText"],
        "keyId": secret["keyId"],
        "endDateTime": secret["endDateTime"],
    }
    if output == OutputFormat.json:
        render(result, output, [])
        return
    print_table([{"field": k, "value": v} for k, v in result.items()], [("Field", "field"), ("Value", "value")])
    note("The client secret is shown only this once: store it now.")
