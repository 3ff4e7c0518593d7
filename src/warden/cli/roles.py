"""``warden role definition|assignment``: Azure RBAC role definitions and assignments."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir
from warden.cli.output import Output, OutputFormat, note, render

API = "2022-04-01"
PROVIDER = "providers/Microsoft.Authorization"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PERMISSION_KEYS = ("actions", "notActions", "dataActions", "notDataActions")

DEFINITION_COLUMNS = [
    ("Role name", "properties.roleName"),
    ("Name", "name"),
    ("Type", "properties.type"),
    ("Description", "properties.description"),
]

app = typer.Typer(help="Role-based access control.", no_args_is_help=True)
definition_app = typer.Typer(help="Role definitions.", no_args_is_help=True)
assignment_app = typer.Typer(help="Role assignments.", no_args_is_help=True)
app.add_typer(definition_app, name="definition")
app.add_typer(assignment_app, name="assignment")

Scope = typer.Option(
    None, "--scope", help="Scope: '/', a subscription, resource group or resource ID (default: the subscription)."
)


def is_guid(text: str) -> bool:
    return bool(_GUID.match(text))


def scope_path(client: WardenClient, scope: str | None) -> str:
    """The scope as a path prefix: ``""`` for the tenant root, else the ID without a trailing slash."""
    if scope is None:
        return client.subscription_scope
    if not scope.startswith("/") or scope.startswith("//"):
        raise typer.BadParameter(f"'{scope}' is not a scope: it must be '/' or start with '/'.", param_hint="--scope")
    return scope.rstrip("/")


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- role definitions ------------------------------------------------------------------------


def _lower_keys(document: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in document.items()}


def _string_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CliError(f"{where} must be a list of strings.", code="InvalidRoleDefinition")
    return list(value)


def _permission(entry: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(entry, dict):
        raise CliError(f"{where} must be an object.", code="InvalidRoleDefinition")
    lowered = _lower_keys(entry)
    return {name: _string_list(lowered.get(name.lower()), f"{where}.{name}") for name in _PERMISSION_KEYS}


def normalize_role(document: Any, default_scope: str) -> tuple[str, dict[str, Any]]:
    """``(guid, properties)`` for ``PUT .../roleDefinitions/{guid}`` from Azure role JSON.

    Accepts the ARM shape (``{"name": guid, "properties": {"roleName", ...}}``), the flat shape
    ``az role definition list`` prints (``roleName``, ``permissions`` at the top level) and the
    one ``az role definition create`` reads (``Name`` as the role name, ``Actions``,
    ``NotActions``, ``AssignableScopes``...). A missing GUID is generated; missing
    ``assignableScopes`` mean ``[default_scope]``. Raises ``CliError`` when malformed.
    """
    if not isinstance(document, dict):
        raise CliError("the role definition must be a JSON object.", code="InvalidRoleDefinition")
    top = _lower_keys(document)
    properties = top.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise CliError("'properties' must be an object.", code="InvalidRoleDefinition")
    props = _lower_keys(properties) if properties is not None else top
    guid = None
    name = top.get("name")
    if isinstance(name, str) and is_guid(name):
        guid = name
    elif isinstance(top.get("id"), str) and is_guid(top["id"].rstrip("/").rsplit("/", 1)[-1]):
        guid = top["id"].rstrip("/").rsplit("/", 1)[-1]
    role_name = props.get("rolename")
    if role_name is None and properties is None and isinstance(name, str) and not is_guid(name):
        role_name = name  # az role definition create: "Name" is the role's display name
    if not isinstance(role_name, str) or not role_name.strip():
        raise CliError("the role definition needs a non-empty 'roleName'.", code="InvalidRoleDefinition")
    role_type = props.get("roletype", props.get("type"))
    if role_type == "BuiltInRole":
        raise CliError("only custom roles can be created.", code="InvalidRoleDefinition")
    description = props.get("description")
    if description is not None and not isinstance(description, str):
        raise CliError("'description' must be a string.", code="InvalidRoleDefinition")
    raw = props.get("permissions")
    if raw is None:
        flat = {key: props.get(key.lower()) for key in _PERMISSION_KEYS}
        raw = [flat] if any(v is not None for v in flat.values()) else []
    if not isinstance(raw, list):
        raise CliError("'permissions' must be a list.", code="InvalidRoleDefinition")
    permissions = [_permission(entry, f"permissions[{i}]") for i, entry in enumerate(raw)]
    scopes = _string_list(props.get("assignablescopes"), "assignableScopes") or [default_scope]
    return guid or str(uuid.uuid4()), {
        "roleName": role_name.strip(),
        "description": description or "",
        "type": "CustomRole",
        "permissions": permissions,
        "assignableScopes": scopes,
    }


def find_role(client: WardenClient, role: str, scope: str) -> dict[str, Any]:
    """The role definition named ``role`` (its roleName, GUID or ID) as listed at ``scope``."""
    guid = role.rstrip("/").rsplit("/", 1)[-1]
    if is_guid(guid):
        return client.get(f"{scope}/{PROVIDER}/roleDefinitions/{guid}", API)
    found = client.list(f"{scope}/{PROVIDER}/roleDefinitions", API, {"$filter": f"roleName eq {quote(role)}"})
    if not found:
        raise CliError(
            f"no role definition named '{role}' at scope '{scope or '/'}'.", code="RoleDefinitionDoesNotExist"
        )
    return found[0]


@definition_app.command("list")
@handle_errors
def list_definitions(
    name: str | None = typer.Option(None, "--name", help="Only the role with this name."),
    custom_only: bool = typer.Option(False, "--custom-only", help="Only custom roles."),
    scope: str | None = Scope,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List the role definitions assignable at a scope."""
    clauses = []
    if name:
        clauses.append(f"roleName eq {quote(name)}")
    if custom_only:
        clauses.append("type eq 'CustomRole'")
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = f"{scope_path(client, scope)}/{PROVIDER}/roleDefinitions"
        items = client.list(path, API, {"$filter": " and ".join(clauses)} if clauses else None)
    render(items, output, DEFINITION_COLUMNS)


@definition_app.command("create")
@handle_errors
def create_definition(
    file: Path = typer.Option(..., "--file", "-f", help="Role definition JSON (ARM or az CLI shape)."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Create or update a custom role from a JSON file."""
    try:
        document = json.loads(file.read_text())
    except OSError as error:
        raise typer.BadParameter(f"cannot read {file}: {error.strerror or error}.", param_hint="--file") from None
    except ValueError as error:
        raise typer.BadParameter(f"{file} is not valid JSON: {error}.", param_hint="--file") from None
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        guid, properties = normalize_role(document, client.subscription_scope)
        # As az does: write the role at its first assignable scope.
        scope = properties["assignableScopes"][0].rstrip("/")
        result = client.put(f"{scope}/{PROVIDER}/roleDefinitions/{guid}", API, {"properties": properties})
    render(result, output, DEFINITION_COLUMNS)


@definition_app.command("delete")
@handle_errors
def delete_definition(
    role: str = typer.Argument(..., metavar="NAME_OR_GUID", help="The custom role's name or GUID."),
    scope: str | None = Scope,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Delete a custom role (it must have no assignments)."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        definition = find_role(client, role, path)
        if definition.get("properties", {}).get("type") != "CustomRole":
            raise CliError(f"'{role}' is a built-in role; only custom roles can be deleted.", code="InvalidRole")
        result = client.delete(f"{path}/{PROVIDER}/roleDefinitions/{definition['name']}", API)
    note(f"Deleted role definition {definition.get('properties', {}).get('roleName', role)}.")
    if result is not None and output == OutputFormat.json:
        render(result, output, DEFINITION_COLUMNS)


# --- role assignments ------------------------------------------------------------------------


def _assignment_columns(role_names: dict[str, str]) -> list[Any]:
    def role(item: dict[str, Any]) -> str:
        guid = str(item.get("properties", {}).get("roleDefinitionId", "")).rsplit("/", 1)[-1]
        return role_names.get(guid.lower(), guid)

    return [
        ("Principal", "properties.principalId"),
        ("Type", "properties.principalType"),
        ("Role", role),
        ("Scope", "properties.scope"),
        ("Name", "name"),
    ]


def _role_names(client: WardenClient, scope: str) -> dict[str, str]:
    """GUID → roleName for the table; an empty map (GUIDs shown) if the caller cannot list them."""
    try:
        definitions = client.list(f"{scope}/{PROVIDER}/roleDefinitions", API)
    except CliError:
        return {}
    return {str(d.get("name", "")).lower(): d.get("properties", {}).get("roleName", "") for d in definitions}


@assignment_app.command("create")
@handle_errors
def create_assignment(
    assignee: str = typer.Option(..., "--assignee", help="Object ID of the principal."),
    role: str = typer.Option(..., "--role", help="Role name or role definition GUID."),
    scope: str | None = Scope,
    principal_type: str | None = typer.Option(
        None, "--assignee-principal-type", help="User, Group or ServicePrincipal (checked by the server)."
    ),
    description: str | None = typer.Option(None, "--description", help="Why the assignment exists."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Assign a role to a principal at a scope."""
    if not is_guid(assignee):
        raise typer.BadParameter(f"'{assignee}' is not an object ID (a GUID).", param_hint="--assignee")
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        definition = find_role(client, role, path)
        guid = definition["name"]
        parts = path.split("/")
        prefix = f"/subscriptions/{parts[2]}" if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""
        properties: dict[str, Any] = {
            "roleDefinitionId": f"{prefix}/{PROVIDER}/roleDefinitions/{guid}",
            "principalId": assignee,
        }
        if principal_type:
            properties["principalType"] = principal_type
        if description:
            properties["description"] = description
        result = client.put(f"{path}/{PROVIDER}/roleAssignments/{uuid.uuid4()}", API, {"properties": properties})
    render(result, output, _assignment_columns({guid.lower(): definition.get("properties", {}).get("roleName", "")}))


@assignment_app.command("list")
@handle_errors
def list_assignments(
    scope: str | None = Scope,
    assignee: str | None = typer.Option(None, "--assignee", help="Only this principal's assignments (object ID)."),
    at_scope: bool = typer.Option(False, "--at-scope", help="Only assignments at the scope or above it."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """List role assignments at, above and below a scope."""
    clauses = []
    if at_scope:
        clauses.append("atScope()")
    if assignee:
        clauses.append(f"principalId eq {quote(assignee)}")
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        path = scope_path(client, scope)
        items = client.list(
            f"{path}/{PROVIDER}/roleAssignments", API, {"$filter": " and ".join(clauses)} if clauses else None
        )
        names = _role_names(client, path) if output == OutputFormat.table else {}
    render(items, output, _assignment_columns(names))


@assignment_app.command("delete")
@handle_errors
def delete_assignment(
    assignment: str = typer.Argument(..., metavar="ID", help="Role assignment ID (or its GUID with --scope)."),
    scope: str | None = Scope,
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Delete a role assignment."""
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        if assignment.startswith("/"):
            assignment_id = assignment.rstrip("/")
        elif is_guid(assignment):
            assignment_id = f"{scope_path(client, scope)}/{PROVIDER}/roleAssignments/{assignment}"
        else:
            raise typer.BadParameter(f"'{assignment}' is neither an assignment ID nor a GUID.", param_hint="ID")
        result = client.delete(assignment_id, API)
    if result is None:
        note(f"Role assignment {assignment} does not exist; nothing to delete.")
        return
    note(f"Deleted role assignment {assignment_id}.")
    if output == OutputFormat.json:
        render(result, output, _assignment_columns({}))
