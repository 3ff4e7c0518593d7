"""``warden pim``: Privileged Identity Management for Azure roles (eligibility, activation,
approval, policies, alerts), over the same ARM API the Azure SDK uses."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, note, render
from warden.cli.roles import find_role, is_guid, scope_path

API = "2020-10-01"
APPROVAL_API = "2021-01-01-preview"
ALERT_API = "2022-08-01-preview"
PROVIDER = "providers/Microsoft.Authorization"

app = typer.Typer(help="Privileged Identity Management: eligible roles, activation and approval.", no_args_is_help=True)
policy_app = typer.Typer(help="Activation policy of a role at a scope.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

Scope = typer.Option(
    None, "--scope", help="Scope: a subscription, resource group or resource ID (default: the subscription)."
)

REQUEST_COLUMNS = [
    ("Name", "name"),
    ("Request", "properties.requestType"),
    ("Status", "properties.status"),
    ("Principal", "properties.principalId"),
    ("Role", "properties.roleDefinitionId"),
    ("Approval", "properties.approvalId"),
]
INSTANCE_COLUMNS = [
    ("Kind", "kind"),
    ("Role", "role"),
    ("Principal", "properties.principalId"),
    ("Scope", "properties.scope"),
    ("Start", "properties.startDateTime"),
    ("End", "properties.endDateTime"),
    ("Status", "properties.status"),
]
ALERT_COLUMNS = [
    ("Alert", "name"),
    ("Severity", "properties.alertDefinition.properties.severityLevel"),
    ("Active", "properties.isActive"),
    ("Incidents", "properties.incidentCount"),
]
POLICY_COLUMNS = [
    ("Policy", "name"),
    ("Max activation", "maximumDuration"),
    ("Require", "enabledRules"),
    ("Approval", "approval"),
    ("Approvers", "approvers"),
]


def _role_guid(client: WardenClient, role: str, scope: str) -> str:
    guid = role.rstrip("/").rsplit("/", 1)[-1]
    return guid.lower() if is_guid(guid) else str(find_role(client, role, scope)["name"]).lower()


def _guid_of(item: dict[str, Any]) -> str:
    return str(item.get("properties", {}).get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()


def _matches(item: dict[str, Any], role: str) -> bool:
    name = item.get("properties", {}).get("expandedProperties", {}).get("roleDefinition", {}).get("displayName") or ""
    wanted = role.rstrip("/").rsplit("/", 1)[-1].lower()
    return _guid_of(item) == wanted or name.lower() == role.lower()


@app.command("eligible")
@handle_errors
def eligible(
    role: str = typer.Argument(..., help="Role name, GUID or definition ID."),
    assignee: str = typer.Option(..., "--assignee", help="Object ID of the principal to make eligible."),
    scope: str | None = Scope,
    duration: str = typer.Option("P365D", "--duration", help="How long the eligibility lasts (ISO 8601)."),
    justification: str | None = typer.Option(None, "--justification", help="Why."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Make a principal eligible to activate a role at a scope."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        guid = _role_guid(client, role, path)
        properties = {
            "principalId": assignee,
            "roleDefinitionId": f"/{PROVIDER}/roleDefinitions/{guid}",
            "requestType": "AdminAssign",
            "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": duration}},
            "justification": justification,
        }
        url = f"{path}/{PROVIDER}/roleEligibilityScheduleRequests/{uuid.uuid4()}"
        render(client.put(url, API, {"properties": properties}), output, REQUEST_COLUMNS)


@app.command("activate")
@handle_errors
def activate(
    role: str = typer.Argument(..., help="Role name, GUID or definition ID you are eligible for."),
    scope: str | None = Scope,
    duration: str = typer.Option("PT1H", "--duration", help="How long to hold the role (ISO 8601, e.g. PT2H)."),
    justification: str | None = typer.Option(None, "--justification", help="Why you need the role."),
    ticket: str | None = typer.Option(None, "--ticket", help="Ticket number, when the policy asks for one."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Activate one of your eligible roles (it may wait for approval)."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        mine = client.list(f"{path}/{PROVIDER}/roleEligibilityScheduleInstances", API, {"$filter": "asTarget()"})
        found = [item for item in mine if _matches(item, role)]
        if not found:
            raise CliError(f"you are not eligible for '{role}' at '{path or '/'}'.", code="EligibilityRule")
        properties: dict[str, Any] = {
            "principalId": found[0]["properties"]["principalId"],
            "roleDefinitionId": f"/{PROVIDER}/roleDefinitions/{_guid_of(found[0])}",
            "requestType": "SelfActivate",
            "linkedRoleEligibilityScheduleId": found[0]["properties"]["roleEligibilityScheduleId"],
            "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": duration}},
            "justification": justification,
        }
        if ticket is not None:
            properties["ticketInfo"] = {"ticketNumber": ticket, "ticketSystem": "warden"}
        url = f"{path}/{PROVIDER}/roleAssignmentScheduleRequests/{uuid.uuid4()}"
        result = client.put(url, API, {"properties": properties})
        if result.get("properties", {}).get("status") == "PendingApproval":
            note(f"Waiting for approval: {result['properties']['approvalId']}")
        render(result, output, REQUEST_COLUMNS)


@app.command("approve")
@handle_errors
def approve(
    request_or_approval: str = typer.Argument(..., help="Approval GUID or ID, or the pending request's ID."),
    deny: bool = typer.Option(False, "--deny", help="Deny instead of approve."),
    justification: str = typer.Option(..., "--justification", help="Why (required)."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Approve (or deny) an activation waiting for you."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        target = request_or_approval.rstrip("/")
        if "schedulerequests/" in target.lower():
            target = client.get(target, API).get("properties", {}).get("approvalId") or ""
            if not target:
                raise CliError("that request is not waiting for approval.", code="NoApproval")
        approval = target.rsplit("/", 1)[-1]
        if not is_guid(approval):
            raise typer.BadParameter(f"'{request_or_approval}' names no approval.", param_hint="REQUEST_OR_APPROVAL")
        body = {"properties": {"reviewResult": "Deny" if deny else "Approve", "justification": justification}}
        url = f"/{PROVIDER}/roleAssignmentApprovals/{approval}/stages/{approval}"
        render(
            client.put(url, APPROVAL_API, body),
            output,
            [("Stage", "name"), ("Status", "properties.status"), ("Result", "properties.reviewResult")],
        )


@app.command("list")
@handle_errors
def list_instances(
    scope: str | None = Scope,
    mine: bool = typer.Option(False, "--mine", help="Only your own eligible and active roles."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Eligible and active (PIM) role assignments at, above and below a scope."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        params = {"$filter": "asTarget()"} if mine else None
        items = []
        for kind, collection in (
            ("Eligible", "roleEligibilityScheduleInstances"),
            ("Active", "roleAssignmentScheduleInstances"),
        ):
            for item in client.list(f"{path}/{PROVIDER}/{collection}", API, params):
                expanded = item.get("properties", {}).get("expandedProperties", {})
                role = expanded.get("roleDefinition", {}).get("displayName") or _guid_of(item)
                items.append({**item, "kind": kind, "role": role})
        render(items, output, INSTANCE_COLUMNS)


def _policy(client: WardenClient, path: str, guid: str) -> dict[str, Any]:
    assignment = client.list(f"{path}/{PROVIDER}/roleManagementPolicyAssignments", API)
    for item in assignment:
        if _guid_of(item) == guid:
            return client.get(item["properties"]["policyId"], API)
    raise CliError(f"no policy for role '{guid}' at '{path or '/'}'.", code="RoleManagementPolicyNotFound")


def _policy_summary(policy: dict[str, Any]) -> dict[str, Any]:
    rules = {rule["id"]: rule for rule in policy.get("properties", {}).get("rules", [])}
    setting = rules.get("Approval_EndUser_Assignment", {}).get("setting", {})
    stages = setting.get("approvalStages") or [{}]
    return {
        **policy,
        "maximumDuration": rules.get("Expiration_EndUser_Assignment", {}).get("maximumDuration"),
        "enabledRules": ", ".join(rules.get("Enablement_EndUser_Assignment", {}).get("enabledRules", [])),
        "approval": bool(setting.get("isApprovalRequired")),
        "approvers": ", ".join(a["id"] for a in stages[0].get("primaryApprovers") or []),
    }


@policy_app.command("show")
@handle_errors
def policy_show(
    role: str = typer.Argument(..., help="Role name, GUID or definition ID."),
    scope: str | None = Scope,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """The activation policy of a role at a scope."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        policy = _policy(client, path, _role_guid(client, role, path))
        render(policy if output == OutputFormat.json else _policy_summary(policy), output, POLICY_COLUMNS)


@policy_app.command("set")
@handle_errors
def policy_set(
    role: str = typer.Argument(..., help="Role name, GUID or definition ID."),
    scope: str | None = Scope,
    max_duration: str | None = typer.Option(None, "--max-duration", help="Longest activation, PT1H to PT24H."),
    require_approval: bool | None = typer.Option(None, "--require-approval/--no-require-approval"),
    approver: list[str] = typer.Option([], "--approver", help="Approver object ID (repeat for several)."),
    require_mfa: bool | None = typer.Option(None, "--require-mfa/--no-require-mfa"),
    require_justification: bool | None = typer.Option(None, "--require-justification/--no-require-justification"),
    require_ticket: bool | None = typer.Option(None, "--require-ticket/--no-require-ticket"),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Change the activation policy of a role at a scope (switches left out keep their value)."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        policy = _policy(client, path, _role_guid(client, role, path))
        rules = {rule["id"]: rule for rule in policy["properties"]["rules"]}
        changes = []
        if max_duration is not None:
            changes.append({**rules["Expiration_EndUser_Assignment"], "maximumDuration": max_duration})
        enabled = list(rules["Enablement_EndUser_Assignment"]["enabledRules"])
        for flag, name in (
            (require_justification, "Justification"),
            (require_ticket, "Ticketing"),
            (require_mfa, "MultiFactorAuthentication"),
        ):
            if flag is True and name not in enabled:
                enabled.append(name)
            elif flag is False and name in enabled:
                enabled.remove(name)
        if enabled != rules["Enablement_EndUser_Assignment"]["enabledRules"]:
            changes.append({**rules["Enablement_EndUser_Assignment"], "enabledRules": enabled})
        if require_approval is not None or approver:
            setting = dict(rules["Approval_EndUser_Assignment"]["setting"])
            if require_approval is not None:
                setting["isApprovalRequired"] = require_approval
            if approver:
                stage = dict(setting["approvalStages"][0])
                stage["primaryApprovers"] = [{"id": a, "userType": "User"} for a in approver]
                setting["approvalStages"] = [stage]
            changes.append({**rules["Approval_EndUser_Assignment"], "setting": setting})
        if not changes:
            raise typer.BadParameter("nothing to change: give at least one option.", param_hint="--max-duration")
        updated = client.patch(policy["id"], API, {"properties": {"rules": changes}})
        render(updated if output == OutputFormat.json else _policy_summary(updated), output, POLICY_COLUMNS)


@app.command("alerts")
@handle_errors
def alerts(
    scope: str | None = Scope,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """PIM alerts at a scope: too many owners, permanent owners, roles assigned outside PIM, stale eligibility."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        render(client.list(f"{path}/{PROVIDER}/roleManagementAlerts", ALERT_API), output, ALERT_COLUMNS)
