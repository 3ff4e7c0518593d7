"""The ``warden`` command."""

from __future__ import annotations

import os

import typer

from warden.cli import activity, admin, kql, locks, resources, roles, sp, subscriptions
from warden.cli import apps as apps_cli
from warden.cli import backup as backup_cli
from warden.cli import dcr as dcr_cli
from warden.cli import directory_groups as directory_groups_cli
from warden.cli import identity as identity_cli
from warden.cli import login as login_cli
from warden.cli import logs as logs_cli
from warden.cli import mfa as mfa_cli
from warden.cli import network as network_cli
from warden.cli import pim as pim_cli
from warden.cli import policy as policy_cli
from warden.cli import resource_groups as resource_groups_cli
from warden.cli import users as users_cli
from warden.cli import workspaces as workspaces_cli

app = typer.Typer(
    name="warden",
    help="Warden: self-hosted operational security.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _private_files() -> None:
    # Databases, WAL files and keys the server creates must not be readable by other users.
    os.umask(0o077)


app.command()(admin.init)
app.command()(admin.serve)
app.command()(admin.up)
app.add_typer(admin.keys_app, name="keys")
app.add_typer(resource_groups_cli.app, name="rg")
app.add_typer(directory_groups_cli.app, name="group")
app.add_typer(users_cli.app, name="user")
app.add_typer(apps_cli.app, name="app")
app.add_typer(resources.app, name="resource")
app.add_typer(roles.app, name="role")
app.add_typer(locks.app, name="lock")
app.add_typer(activity.app, name="activity")
app.add_typer(sp.app, name="sp")
app.add_typer(subscriptions.app, name="subscription")
app.command("kql")(kql.kql)
app.add_typer(policy_cli.app, name="policy")
app.add_typer(network_cli.app, name="network")
app.add_typer(workspaces_cli.app, name="workspace")
app.add_typer(logs_cli.app, name="logs")
app.add_typer(dcr_cli.app, name="dcr")
app.command("login")(login_cli.login)
app.command("logout")(login_cli.logout)
app.add_typer(identity_cli.app, name="identity")
app.add_typer(backup_cli.app, name="backup")
app.add_typer(pim_cli.app, name="pim")

app.add_typer(mfa_cli.app, name="mfa")
app.add_typer(mfa_cli.password_app, name="password")
app.add_typer(mfa_cli.directory_app, name="directory")

if __name__ == "__main__":
    app()
