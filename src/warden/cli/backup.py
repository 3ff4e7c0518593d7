"""``warden backup``: Recovery Services vaults, policies, protection, backups and restores of this machine.

Every command talks to the server over HTTPS as the data dir's bootstrap principal. Commands that
start a job (``now``, ``restore``, ``check``) wait for it and show its progress as a bar on stderr;
with ``--output json`` stdout carries only the result.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, note, print_json, render, resource_group_of, stderr

API = "2025-02-01"
GROUPS_API = "2021-04-01"
VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
DEFAULT_GROUP = "warden-backup"
JOB_TIMEOUT = 3600.0
FINISHED = {"Completed", "CompletedWithWarnings", "Failed", "Cancelled"}

app = typer.Typer(help="Backups of this machine's files into Recovery Services vaults.", no_args_is_help=True)
vault_app = typer.Typer(help="Recovery Services vaults.", no_args_is_help=True)
policy_app = typer.Typer(help="Backup policies (schedule and retention).", no_args_is_help=True)
app.add_typer(vault_app, name="vault")
app.add_typer(policy_app, name="policy")

Vault = typer.Option(..., "--vault", help="Vault name or resource ID.")
VAULT_COLUMNS = [
    ("Name", "name"),
    ("Resource group", lambda v: resource_group_of(v.get("id"))),
    ("Location", "location"),
    ("Soft delete", "properties.securitySettings.softDeleteSettings.softDeleteState"),
    ("Soft delete days", "properties.securitySettings.softDeleteSettings.softDeleteRetentionPeriodInDays"),
    ("Immutability", "properties.securitySettings.immutabilitySettings.state"),
    ("ID", "id"),
]
POLICY_COLUMNS = [
    ("Name", "name"),
    ("Frequency", "properties.schedulePolicy.scheduleRunFrequency"),
    ("Times", "properties.schedulePolicy.scheduleRunTimes"),
    ("Time zone", "properties.timeZone"),
    ("Daily", "properties.retentionPolicy.dailySchedule.retentionDuration.count"),
    ("Weekly", "properties.retentionPolicy.weeklySchedule.retentionDuration.count"),
    ("Monthly", "properties.retentionPolicy.monthlySchedule.retentionDuration.count"),
    ("Yearly", "properties.retentionPolicy.yearlySchedule.retentionDuration.count"),
]
ITEM_COLUMNS = [
    ("Path", "properties.friendlyName"),
    ("State", "properties.protectionState"),
    ("Last backup", "properties.lastBackupTime"),
    ("Status", "properties.lastBackupStatus"),
]
POINT_COLUMNS = [
    ("Recovery point", "name"),
    ("Path", "path"),
    ("Time", "properties.recoveryPointTime"),
    ("State", "properties.recoveryPointState"),
    ("Retain until", "properties.recoveryPointExpiryTimeInUTC"),
]
JOB_COLUMNS = [
    ("Job", "name"),
    ("Operation", "properties.operation"),
    ("Item", "properties.entityFriendlyName"),
    ("Status", "properties.status"),
    ("Progress %", "properties.extendedInfo.progressPercentage"),
    ("Start", "properties.startTime"),
    ("Duration", "properties.duration"),
]


def resolve_vault(client: WardenClient, ref: str) -> dict[str, Any]:
    """Return the vault named by a resource ID or by a name unique in the subscription; raise CliError."""
    if ref.startswith("/"):
        return client.get(ref.rstrip("/"), API)
    found = [
        v
        for v in client.list(f"{client.subscription_scope}/providers/{VAULT_TYPE}", API)
        if str(v.get("name", "")).lower() == ref.lower()
    ]
    if not found:
        raise CliError(f"no vault '{ref}' in subscription {client.subscription_id}.", code="ResourceNotFound")
    if len(found) > 1:
        raise CliError(f"several vaults are named '{ref}': pass its resource ID.")
    return found[0]


def _item_name(path: str) -> str:
    import base64

    return "FileFolder;" + base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def item_id(vault_id: str, path: str) -> str:
    """The protected item ID of an absolute path of this machine (see warden.backup.naming)."""
    container = f"{vault_id}/backupFabrics/Azure/protectionContainers/{socket.gethostname()}"
    return f"{container}/protectedItems/{_item_name(path)}"


def absolute(path: Path) -> str:
    """The absolute path as the server stores it (symlinks in parents resolved, the last part kept)."""
    return str(path.expanduser().absolute().parent.resolve() / path.name) if path.name else str(path.resolve())


@vault_app.command("create")
@handle_errors
def vault_create(
    name: str = typer.Argument(..., help="Vault name."),
    resource_group: str = typer.Option(
        DEFAULT_GROUP, "--resource-group", "-g", help="Resource group (created if missing)."
    ),
    location: str = typer.Option("westeurope", "--location", "-l", help="Location of a new resource group and vault."),
    soft_delete_days: int | None = typer.Option(None, "--soft-delete-days", help="Soft-delete period, 14-180 days."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Create a Recovery Services vault (soft delete on, 14 days, unless told otherwise)."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        group = client.group_scope(resource_group)
        response = client.request("GET", group, api_version=GROUPS_API, ok=(404,))
        if response.status_code == 404:
            client.put(group, GROUPS_API, {"location": location})
        body: dict[str, Any] = {"location": location, "sku": {"name": "RS0", "tier": "Standard"}, "properties": {}}
        if soft_delete_days is not None:
            body["properties"] = {
                "securitySettings": {"softDeleteSettings": {"softDeleteRetentionPeriodInDays": soft_delete_days}}
            }
        render(client.put(f"{group}/providers/{VAULT_TYPE}/{name}", API, body), output, VAULT_COLUMNS)


@policy_app.command("create")
@handle_errors
def policy_create(
    name: str = typer.Argument(..., help="Policy name."),
    vault: str = Vault,
    at: str = typer.Option("02:00", "--time", help="Daily run time, HH:MM on the hour or half hour."),
    time_zone: str = typer.Option("UTC", "--time-zone", help="IANA time zone of --time."),
    retain_daily: int = typer.Option(30, "--retain-daily", help="Keep daily points this many days."),
    retain_weekly: int | None = typer.Option(None, "--retain-weekly", help="Keep one point a week this many weeks."),
    retain_monthly: int | None = typer.Option(None, "--retain-monthly", help="Keep one a month this many months."),
    retain_yearly: int | None = typer.Option(None, "--retain-yearly", help="Keep one a year this many years."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Create or update a daily backup policy with grandfather-father-son retention."""
    try:
        hour, minute = (int(part) for part in at.split(":"))
        run_time = datetime(2026, 1, 1, hour, minute).isoformat() + "Z"
    except ValueError:
        raise CliError(f"--time '{at}' is not HH:MM.") from None
    times = [run_time]
    retention: dict[str, Any] = {
        "retentionPolicyType": "LongTermRetentionPolicy",
        "dailySchedule": {
            "retentionTimes": times,
            "retentionDuration": {"count": retain_daily, "durationType": "Days"},
        },
    }
    if retain_weekly:
        retention["weeklySchedule"] = {
            "daysOfTheWeek": ["Sunday"],
            "retentionTimes": times,
            "retentionDuration": {"count": retain_weekly, "durationType": "Weeks"},
        }
    if retain_monthly:
        retention["monthlySchedule"] = {
            "retentionScheduleFormatType": "Daily",
            "retentionTimes": times,
            "retentionDuration": {"count": retain_monthly, "durationType": "Months"},
        }
    if retain_yearly:
        retention["yearlySchedule"] = {
            "retentionScheduleFormatType": "Daily",
            "retentionTimes": times,
            "retentionDuration": {"count": retain_yearly, "durationType": "Years"},
        }
    body = {
        "properties": {
            "backupManagementType": "MAB",
            "schedulePolicy": {
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily",
                "scheduleRunTimes": times,
            },
            "retentionPolicy": retention,
            "timeZone": time_zone,
        }
    }
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        vault_id = resolve_vault(client, vault)["id"]
        render(client.put(f"{vault_id}/backupPolicies/{name}", API, body), output, POLICY_COLUMNS)


@app.command("protect")
@handle_errors
def protect(
    path: Path = typer.Argument(..., help="File or directory of this machine."),
    vault: str = Vault,
    policy: str = typer.Option(..., "--policy", help="Policy name."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Protect PATH under a policy: it is backed up at the policy's times."""
    target = absolute(path)
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        vault_id = resolve_vault(client, vault)["id"]
        body = {
            "properties": {
                "protectedItemType": "MabFileFolderProtectedItem",
                "friendlyName": target,
                "policyId": f"{vault_id}/backupPolicies/{policy}",
            }
        }
        render(client.put(item_id(vault_id, target), API, body), output, ITEM_COLUMNS)


def wait_for_job(client: WardenClient, job_id: str, title: str, output: OutputFormat) -> dict[str, Any]:
    """Poll a job until it finishes, drawing a progress bar on stderr; return the final job."""
    deadline = time.monotonic() + JOB_TIMEOUT
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=output == OutputFormat.json,
    ) as bar:
        task = bar.add_task(title, total=100.0, status="InProgress")
        while True:
            job = client.get(job_id, API)
            properties = job["properties"]
            percent = float(properties.get("extendedInfo", {}).get("progressPercentage") or 0.0)
            bar.update(task, completed=percent, status=properties["status"])
            if properties["status"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise CliError(f"the job did not finish within {JOB_TIMEOUT:g} seconds; it continues on the server.")
            time.sleep(0.3)


def _job_result(job: dict[str, Any]) -> dict[str, Any]:
    properties = job["properties"]
    bag = properties.get("extendedInfo", {}).get("propertyBag", {})
    return {"jobId": job["name"], "status": properties["status"], "recoveryPointId": bag.get("Recovery Point Name")}


def _end(job: dict[str, Any], output: OutputFormat, result: dict[str, Any]) -> None:
    if output == OutputFormat.json:
        print_json(result)
    else:
        render(result, output, [(k, k) for k in result])
    errors = job["properties"].get("errorDetails") or []
    if errors:
        note(f"{errors[0].get('errorCode')}: {' '.join(errors[0].get('errorString') or [])}")
    if job["properties"]["status"] in ("Failed", "Cancelled"):
        raise typer.Exit(1)


@app.command("now")
@handle_errors
def backup_now(
    path: Path = typer.Argument(..., help="A protected file or directory of this machine."),
    vault: str = Vault,
    retain_days: int | None = typer.Option(None, "--retain-days", help="Keep this point at least this many days."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Back up PATH now and wait for the job. JSON: {"jobId", "status", "recoveryPointId"}."""
    target = absolute(path)
    properties: dict[str, Any] = {"objectType": "MabBackupRequest"}
    if retain_days:
        until = datetime.now().astimezone() + timedelta(days=retain_days)
        properties["recoveryPointExpiryTimeInUTC"] = until.isoformat()
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        vault_id = resolve_vault(client, vault)["id"]
        accepted = client.post(f"{item_id(vault_id, target)}/backup", API, {"properties": properties})
        job = wait_for_job(client, accepted["id"], f"Backing up {target}", output)
    _end(job, output, _job_result(job))


def _points(client: WardenClient, vault_id: str) -> list[dict[str, Any]]:
    points = []
    for item in client.list(f"{vault_id}/backupProtectedItems", API):
        for point in client.list(f"{item['id']}/recoveryPoints", API):
            points.append({**point, "path": item["properties"]["friendlyName"]})
    return points


@app.command("list")
@handle_errors
def list_points(
    vault: str = Vault,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List the vault's recovery points (newest first per protected path)."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        render(_points(client, resolve_vault(client, vault)["id"]), output, POINT_COLUMNS)


@app.command("jobs")
@handle_errors
def list_jobs(
    vault: str = Vault,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List the vault's jobs, newest first."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        render(client.list(f"{resolve_vault(client, vault)['id']}/backupJobs", API), output, JOB_COLUMNS)


@app.command("restore")
@handle_errors
def restore(
    recovery_point: str = typer.Argument(..., help="Recovery point name (or a unique prefix) or resource ID."),
    vault: str = Vault,
    target: Path = typer.Option(..., "--target", help="Directory to restore into (the path's base name goes below)."),
    item: str | None = typer.Option(
        None, "--item", help="Only this file or directory (absolute, or relative to the protected path)."
    ),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Restore a recovery point, whole or one item of it, into --target; waits for the job."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        vault_id = resolve_vault(client, vault)["id"]
        matches = [
            p
            for p in _points(client, vault_id)
            if p["id"].lower() == recovery_point.lower() or p["name"].startswith(recovery_point)
        ]
        if len(matches) != 1:
            raise CliError(f"'{recovery_point}' matches {len(matches)} recovery points of the vault.")
        point = matches[0]
        request: dict[str, Any] = {
            "objectType": "FileFolderRestoreRequest",
            "recoveryType": "AlternateLocation",
            "targetDirectory": str(target.expanduser().absolute()),
            "restoreRequestType": "FullRestore",
        }
        if item:
            relative = os.path.relpath(item, point["path"]) if os.path.isabs(item) else item
            if relative.startswith(".."):
                raise CliError(f"--item {item} is not inside the protected path {point['path']}.")
            request["restoreRequestType"] = "ItemLevelRestore"
            request["restoreFileSpecs"] = [{"path": relative}]
        accepted = client.post(f"{point['id']}/restore", API, {"properties": request})
        job = wait_for_job(client, accepted["id"], f"Restoring {point['name'][:12]}", output)
    bag = job["properties"].get("extendedInfo", {}).get("propertyBag", {})
    result = {
        "jobId": job["name"],
        "status": job["properties"]["status"],
        "files": bag.get("Files"),
        "target": bag.get("Target"),
    }
    _end(job, output, result)


@app.command("check")
@handle_errors
def check(
    vault: str = Vault,
    read_data: bool = typer.Option(False, "--read-data", help="Also decrypt and verify every stored blob."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Check the vault's repository (structure; every blob with --read-data); exit 1 on damage."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        vault_id = resolve_vault(client, vault)["id"]
        accepted = client.post(f"{vault_id}/checkIntegrity", API, {"readData": read_data})
        job = wait_for_job(client, accepted["id"], "Checking the repository", output)
    bag = job["properties"].get("extendedInfo", {}).get("propertyBag", {})
    result = {"jobId": job["name"], "status": job["properties"]["status"], **{k: v for k, v in bag.items()}}
    _end(job, output, result)
