"""``warden identity``: sign-in and audit logs, risky users and the application usage report.

Reads Graph's ``/v1.0/auditLogs/signIns``, ``/v1.0/auditLogs/directoryAudits``,
``/v1.0/identityProtection/riskyUsers`` and ``/v1.0/reports/getAzureADApplicationSignInSummary``
(the caller needs Security Reader, Security Administrator, Reports Reader or Global Administrator).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, field, render

app = typer.Typer(help="Sign-in and audit logs, risky users and reports.", no_args_is_help=True)
report_app = typer.Typer(help="Identity reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")

GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
Top = typer.Option(50, "--top", min=1, max=1000, help="At most this many entries (newest first).")

SIGNIN_COLUMNS = [
    ("Time", "createdDateTime"),
    ("User", "userPrincipalName"),
    ("App", "appDisplayName"),
    ("IP address", "ipAddress"),
    ("Error", field("status.errorCode")),
    ("Failure reason", field("status.failureReason")),
    ("Risk", "riskLevelDuringSignIn"),
]
AUDIT_COLUMNS = [
    ("Time", "activityDateTime"),
    ("Category", "category"),
    ("Activity", "activityDisplayName"),
    ("Result", "result"),
    ("Service", "loggedByService"),
]
RISKY_COLUMNS = [
    ("User", "userPrincipalName"),
    ("Risk level", "riskLevel"),
    ("Risk state", "riskState"),
    ("Detail", "riskDetail"),
    ("Updated", "riskLastUpdatedDateTime"),
    ("Object ID", "id"),
]
USAGE_COLUMNS = [
    ("Application", "appDisplayName"),
    ("App ID", "id"),
    ("Successes", "successfulSignInCount"),
    ("Failures", "failedSignInCount"),
    ("Success %", "successPercentage"),
    ("Users", "distinctUserCount"),
]


def _literal(value: str) -> str:
    """An OData string literal (quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def signin_filter(user: str | None, app_name: str | None, failures: bool) -> str | None:
    """The ``$filter`` for the options: a GUID matches the object/app ID, anything else the name."""
    clauses = []
    if user:
        name = "userId" if GUID.match(user) else "userPrincipalName"
        clauses.append(f"{name} eq {_literal(user.lower() if name == 'userId' else user)}")
    if app_name:
        name = "appId" if GUID.match(app_name) else "appDisplayName"
        clauses.append(f"{name} eq {_literal(app_name)}")
    if failures:
        clauses.append("status/errorCode ne 0")
    return " and ".join(clauses) or None


def _list(path: str, data_dir: Path | None, top: int, query: str | None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"$top": str(top)}
    if query:
        params["$filter"] = query
    with WardenClient.from_data_dir(data_dir) as client:
        return client.list(path, params=params, limit=top)


@app.command("signins")
@handle_errors
def signins(
    user: str | None = typer.Option(None, "--user", help="User object ID or user principal name."),
    app_name: str | None = typer.Option(None, "--app", help="Application (client) ID or display name."),
    failures: bool = typer.Option(False, "--failures", help="Only failed sign-ins."),
    top: int = Top,
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """List sign-ins, newest first."""
    render(
        _list("/v1.0/auditLogs/signIns", data_dir, top, signin_filter(user, app_name, failures)), output, SIGNIN_COLUMNS
    )


@app.command("audits")
@handle_errors
def audits(
    category: str | None = typer.Option(None, "--category", help="e.g. UserManagement, GroupManagement."),
    top: int = Top,
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """List directory audit events, newest first."""
    query = f"category eq {_literal(category)}" if category else None
    render(_list("/v1.0/auditLogs/directoryAudits", data_dir, top, query), output, AUDIT_COLUMNS)


@app.command("risky-users")
@handle_errors
def risky_users(
    level: str | None = typer.Option(None, "--level", help="Only this risk level (low, medium, high)."),
    top: int = Top,
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """List users with risk (highest first) and their state."""
    if level is not None and level.lower() not in ("none", "low", "medium", "high"):
        raise typer.BadParameter("expected none, low, medium or high.", param_hint="--level")
    query = f"riskLevel eq {_literal(level.lower())}" if level else None
    render(_list("/v1.0/identityProtection/riskyUsers", data_dir, top, query), output, RISKY_COLUMNS)


@report_app.command("app-usage")
@handle_errors
def app_usage(
    days: int = typer.Option(7, "--days", min=1, max=90, help="The period: the last N days."),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Sign-ins per application (successes, failures, distinct users) over the last N days."""
    with WardenClient.from_data_dir(data_dir) as client:
        items = client.list(f"/v1.0/reports/getAzureADApplicationSignInSummary(period='D{days}')")
    render(items, output, USAGE_COLUMNS)
