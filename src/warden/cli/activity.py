"""``warden activity``: read the activity log over REST, and verify its hash chains locally."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir, resolve_data_dir
from warden.cli.output import Output, OutputFormat, print_json, render

API = "2015-04-01"
MAX_PAGE = 200
_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
COLUMNS = [
    ("Time", "eventTimestamp"),
    ("Operation", "operationName.value"),
    ("Status", "status.value"),
    ("Caller", "caller"),
    ("Resource", "resourceId"),
]

app = typer.Typer(help="The activity log.", no_args_is_help=True)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``1h``/``30m``/``7d``/``2w`` before now, or an ISO 8601 time (UTC unless it says otherwise)."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text)
    if match:
        return now - timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is neither a duration such as 1h, 7d, 30m nor an ISO 8601 time.", param_hint="--since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _odata_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@app.command("list")
@handle_errors
def list_events(
    resource_group: str | None = typer.Option(None, "--resource-group", "-g", help="Only this resource group."),
    resource_id: str | None = typer.Option(None, "--resource-id", help="Only this resource."),
    correlation_id: str | None = typer.Option(None, "--correlation-id", help="Only this operation's events."),
    caller: str | None = typer.Option(None, "--caller", help="Only events by this caller (application ID)."),
    since: str = typer.Option("6h", "--since", help="Start: a duration back from now (1h, 7d) or an ISO time."),
    max_events: int = typer.Option(50, "--max", min=1, help="At most this many events, newest first."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List activity-log events of the subscription, newest first."""
    now = datetime.now(UTC)
    start = parse_since(since, now)
    if start > now:
        raise typer.BadParameter("the start time is in the future.", param_hint="--since")
    clauses = [f"eventTimestamp ge {_quote(_odata_time(start))}", f"eventTimestamp le {_quote(_odata_time(now))}"]
    for name, value in (
        ("resourceGroupName", resource_group),
        ("resourceUri", resource_id),
        ("correlationId", correlation_id),
        ("caller", caller),
    ):
        if value:
            clauses.append(f"{name} eq {_quote(value)}")
    params = {"$filter": " and ".join(clauses), "$top": str(min(max_events, MAX_PAGE))}
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = f"{client.subscription_scope}/providers/Microsoft.Insights/eventtypes/management/values"
        events = client.list(path, API, params, limit=max_events)
    render(events, output, COLUMNS)


def _open_platform(data_dir: Path) -> Any:
    """The data dir's ``Platform`` for a local check; refuse a dir that was never initialized
    (building a Platform there would create a fresh master key and database)."""
    from warden.kernel.secrets import MASTER_KEY_FILE
    from warden.kernel.settings import load_settings
    from warden.platform import Platform

    if not (data_dir / MASTER_KEY_FILE).is_file():
        raise CliError(f"{data_dir} is not an initialized Warden data dir (no {MASTER_KEY_FILE}).")
    settings = load_settings(data_dir)
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise CliError(f"{data_dir} has no database ({url.removeprefix('sqlite:///')}).")
    return Platform(settings)


@app.command("verify")
@handle_errors
def verify(data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """Check every tenant's activity-log hash chain in the data dir's database; exit 1 naming
    each altered, inserted or deleted event."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from warden.kernel.schema import activity_chains

    directory = resolve_data_dir(data_dir)
    platform = _open_platform(directory)
    try:
        with platform.db.read() as conn:
            problems = platform.activity.verify(conn)
            chains = conn.execute(select(func.count()).select_from(activity_chains)).scalar_one()
    except SQLAlchemyError as error:
        raise CliError(
            f"cannot read the activity log: {error.__class__.__name__}: {getattr(error, 'orig', None) or error}"
        ) from None
    finally:
        platform.stop()
    if output == OutputFormat.json:
        print_json(
            {
                "intact": not problems,
                "chains": chains,
                "problems": [
                    {"tenantId": p.tenant_id, "seq": p.seq, "eventDataId": p.event_data_id, "reason": p.reason}
                    for p in problems
                ],
            }
        )
    elif problems:
        typer.echo(f"Activity log BROKEN: {len(problems)} problem(s) in {chains} tenant chain(s)")
        for problem in problems:
            typer.echo(f"  {problem}")
    else:
        typer.echo(f"Activity log intact: {chains} tenant chain(s)")
    if problems:
        raise typer.Exit(1)
