"""``warden policy``: Azure Policy offline (``test``, ``check``) and against a server (``import``, ``aliases``).

``test`` and ``check`` need no server: they run the pure engine on files, for CI. Exit codes:
0 evaluated (``check``: nothing denied), 1 a deny (``check``) or an unusable input (the message
names the file and, for a definition, the JSON path of the problem), 2 a usage error.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import typer

from warden.cli.client import CliError, Subscription, WardenClient, handle_errors
from warden.cli.common import DataDir, resolve_data_dir
from warden.cli.output import Output, OutputFormat, note, print_json
from warden.governance.alias_store import active_aliases, save_aliases
from warden.governance.baseline import baseline_directory
from warden.governance.enforcement import apply_changes
from warden.governance.policy import (
    AliasTable,
    AliasTableError,
    Effect,
    PolicyDefinition,
    PolicyDefinitionError,
    PolicyError,
    PolicySetDefinition,
    bind_parameters,
    default_aliases,
    evaluate,
    import_directory,
    load_aliases,
    load_definition,
    load_document,
    member_parameters,
)
from warden.governance.templates import DeploymentScope, TemplateError, expand_template

app = typer.Typer(help="Azure Policy: test definitions, check templates, import built-ins.", no_args_is_help=True)


def read_json(path: Path, what: str) -> Any:
    """The parsed JSON of ``path``; raise ``CliError`` naming the file when it can't be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise CliError(f"{what} file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {what} file {path}: {error.__class__.__name__}.") from None
    except ValueError as error:
        raise CliError(f"{what} file {path} is not valid JSON: {error}.") from None


def parameter_values(document: Any, path: Path) -> dict[str, Any]:
    """Assignment parameters from a file: ``{name: value}``, ``{name: {"value": v}}`` or an ARM
    parameters file (``{"$schema", "parameters": {...}}``)."""
    if not isinstance(document, dict):
        raise CliError(f"parameters file {path} must hold a JSON object.")
    inner = document.get("parameters")
    if "$schema" in document or ("parameters" in document and isinstance(inner, dict) and len(document) <= 3):
        document = inner if isinstance(inner, dict) else {}
    return document


def alias_table(path: Path | None) -> AliasTable:
    """The shipped alias table, extended by ``path`` when given."""
    if path is None:
        return default_aliases()
    try:
        return default_aliases().merged(load_aliases(path))
    except AliasTableError as error:
        raise CliError(str(error)) from None


AliasesOption = typer.Option(
    None, "--aliases", help="An alias table (e.g. aliases.json) extending the shipped one.", show_default=False
)


def _print_reasons(reasons: list[dict[str, Any]], indent: str = "  ") -> None:
    for reason in reasons:
        shown = dict(reason)
        if isinstance(shown.get("count"), dict):  # the array counted, not the whole 'where'
            shown["count"] = shown["count"].get("field") or shown["count"].get("value")
        text = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in shown.items() if k != "path")
        where = reason.get("path")
        typer.echo(f"{indent}{where + ': ' if where else ''}{text}")


@app.command("test")
@handle_errors
def test(
    definition: Path = typer.Option(..., "--definition", help="Policy definition JSON (bare, wrapped or built-in)."),
    resource: Path = typer.Option(..., "--resource", help="The resource's ARM JSON."),
    parameters: Path | None = typer.Option(None, "--parameters", help="Assignment parameters JSON."),
    request: Path | None = typer.Option(
        None, "--request", help="Request context JSON for requestContext() (apiVersion, ...)."
    ),
    aliases: Path | None = AliasesOption,
    output: OutputFormat = Output,
) -> None:
    """Evaluate one policy definition on one resource: print the effect, compliance state and reasons."""
    try:
        compiled = load_definition(read_json(definition, "definition"))
    except PolicyDefinitionError as error:
        raise CliError(f"{definition}: {error}", code="InvalidPolicyRule") from None
    subject = read_json(resource, "resource")
    if not isinstance(subject, dict):
        raise CliError(f"resource file {resource} must hold a JSON object.")
    values = parameter_values(read_json(parameters, "parameters"), parameters) if parameters else None
    context = read_json(request, "request") if request else None
    if context is not None and not isinstance(context, dict):
        raise CliError(f"request file {request} must hold a JSON object.")
    try:
        result = evaluate(compiled, subject, values, context, aliases=alias_table(aliases))
    except PolicyError as error:
        raise CliError(str(error), code="InvalidPolicyParameters") from None
    data = result.to_dict()
    if output == OutputFormat.json:
        print_json(data)
        return
    typer.echo(f"effect: {data['effect']}")
    typer.echo(f"complianceState: {data['complianceState']}")
    if data.get("error"):
        typer.echo(f"error: {data['error']}")
    typer.echo("reasons:" if data["reasons"] else "reasons: (none)")
    _print_reasons(data["reasons"])


# --- warden policy check ---------------------------------------------------------------------


@dataclass
class _Policy:
    """One definition to evaluate: an assignment's (or an initiative member's) definition and values."""

    label: str
    definition: PolicyDefinition
    parameters: dict[str, Any] | None
    enforced: bool = True
    set_name: str | None = None
    reference_id: str | None = None
    not_scopes: tuple[str, ...] = ()


def _catalog_keys(loaded: PolicyDefinition | PolicySetDefinition, path: Path) -> list[str]:
    keys = [path.stem.lower()]
    for value in (loaded.name, loaded.id):
        if value:
            keys.extend((value.lower(), value.lower().rstrip("/").rsplit("/", 1)[-1]))
    return keys


def _is_assignment(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    props = document.get("properties") if isinstance(document.get("properties"), dict) else document
    return isinstance(props, dict) and "policyDefinitionId" in props and "policyRule" not in props


def load_policies(directory: Path) -> list[_Policy]:
    """The policies a directory assigns: its assignment files, plus every definition or initiative no
    assignment names (assigned with default parameters). Raises ``CliError`` naming a bad file."""
    if not directory.is_dir():
        raise CliError(f"{directory} is not a directory.")
    catalog: dict[str, PolicyDefinition | PolicySetDefinition] = {}
    order: list[tuple[Path, PolicyDefinition | PolicySetDefinition]] = []
    assignments: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(directory.rglob("*.json")):
        document = read_json(path, "policy")
        if _is_assignment(document):
            assignments.append((path, document))
            continue
        try:
            loaded = load_document(document)
        except PolicyDefinitionError as error:
            raise CliError(f"{path}: {error}", code="InvalidPolicyRule") from None
        order.append((path, loaded))
        for name in _catalog_keys(loaded, path):
            catalog.setdefault(name, loaded)
    policies: list[_Policy] = []
    used: set[int] = set()
    for path, document in assignments:
        props = document.get("properties") if isinstance(document.get("properties"), dict) else document
        wanted = str(props["policyDefinitionId"]).lower()
        target = catalog.get(wanted) or catalog.get(wanted.rstrip("/").rsplit("/", 1)[-1])
        if target is None:
            raise CliError(f"{path}: the assignment names {props['policyDefinitionId']}, not found in {directory}.")
        used.add(id(target))
        label = str(document.get("name") or props.get("displayName") or path.stem)
        policies.extend(
            _members(
                target,
                catalog,
                label,
                props.get("parameters"),
                path,
                enforced=props.get("enforcementMode", "Default") != "DoNotEnforce",
                not_scopes=tuple(str(s).lower() for s in props.get("notScopes") or []),
            )
        )
    members_of_sets = {
        id(catalog.get(r.definition_id.lower()) or catalog.get(r.definition_name.lower()))
        for _, loaded in order
        if isinstance(loaded, PolicySetDefinition)
        for r in loaded.definitions
    }
    for path, loaded in order:
        if id(loaded) in used or (isinstance(loaded, PolicyDefinition) and id(loaded) in members_of_sets):
            continue
        try:
            policies.extend(_members(loaded, catalog, path.stem, None, path))
        except CliError as error:
            note(f"skipped {path.name}: {error.message}")
    return policies


def _members(
    target: PolicyDefinition | PolicySetDefinition,
    catalog: dict[str, Any],
    label: str,
    parameters: Any,
    path: Path,
    *,
    enforced: bool = True,
    not_scopes: tuple[str, ...] = (),
) -> list[_Policy]:
    if isinstance(target, PolicyDefinition):
        try:
            bind_parameters(target.parameters, parameters)
        except PolicyError as error:
            raise CliError(f"{path}: {error}", code="InvalidPolicyParameters") from None
        return [_Policy(label, target, parameters, enforced, not_scopes=not_scopes)]
    found = []
    for reference in target.definitions:
        member = catalog.get(reference.definition_id.lower()) or catalog.get(reference.definition_name.lower())
        if not isinstance(member, PolicyDefinition):
            raise CliError(f"{path}: initiative member {reference.definition_id} is not in the directory.")
        try:
            values = member_parameters(target, reference, parameters)
        except PolicyError as error:
            raise CliError(f"{path}: {error}", code="InvalidPolicyParameters") from None
        found.append(
            _Policy(label, member, values, enforced, target.name or path.stem, reference.reference_id, not_scopes)
        )
    return found


_REPORTED = {
    Effect.DENY,
    Effect.AUDIT,
    Effect.APPEND,
    Effect.MODIFY,
    Effect.AUDIT_IF_NOT_EXISTS,
    Effect.DEPLOY_IF_NOT_EXISTS,
    Effect.MANUAL,
    Effect.DENY_ACTION,
}


@app.command("check")
@handle_errors
def check(
    template: Path = typer.Argument(..., help="ARM template JSON."),
    assignments: Path | None = typer.Option(
        None,
        "--assignments",
        help="Directory of policy definitions, initiatives and assignment JSON files (default: Warden's baseline).",
    ),
    parameters: Path | None = typer.Option(None, "--parameters", help="Template parameters (ARM parameters file)."),
    resource_group: str = typer.Option("rg-template-check", "--resource-group", help="resourceGroup() name."),
    location: str = typer.Option("westeurope", "--location", help="resourceGroup().location."),
    subscription: str = typer.Option(
        "00000000-0000-0000-0000-000000000000", "--subscription", help="subscription().subscriptionId."
    ),
    aliases: Path | None = AliasesOption,
    output: OutputFormat = Output,
) -> None:
    """Check every resource of an ARM template against policies before deploying it; exit 1 on a deny."""
    document = read_json(template, "template")
    values = parameter_values(read_json(parameters, "parameters"), parameters) if parameters else None
    try:
        expanded = expand_template(document, values, DeploymentScope(subscription, resource_group, location))
    except TemplateError as error:
        raise CliError(f"{template}: {error}", code="InvalidTemplate") from None
    policies = load_policies(assignments or baseline_directory())
    table = alias_table(aliases)
    documents = [e.document for e in expanded]
    findings: list[dict[str, Any]] = []
    for item in expanded:
        if "id" not in item.document:
            continue  # a copy loop that could not be expanded: reported with the unresolved expressions
        resource_key = str(item.document.get("id", "")).lower()
        applying = [
            p
            for p in policies
            if not any(resource_key == s or resource_key.startswith(s.rstrip("/") + "/") for s in p.not_scopes)
        ]
        request = {"apiVersion": str(_raw_api_version(document, item.path) or "")}

        def run(subject: dict[str, Any], applying: list[_Policy] = applying, request: dict = request) -> list:
            return [
                (p, evaluate(p.definition, subject, p.parameters, request, aliases=table, related=documents))
                for p in applying
            ]

        results = run(item.document)
        # As at write time: enforced modify/append change the resource, then everything is evaluated
        # again on the result (a deny may depend on a tag a modify adds).
        changers = [(p, r) for p, r in results if r.effect in (Effect.MODIFY, Effect.APPEND) and p.enforced]
        if changers:
            modified = copy.deepcopy(item.document)
            if apply_changes(modified, [SimpleNamespace(result=r) for _, r in changers], table):
                results = changers + [
                    (p, r) for p, r in run(modified) if r.effect not in (Effect.MODIFY, Effect.APPEND)
                ]
        for policy, result in results:
            if result.effect not in _REPORTED:
                continue
            effect = result.effect
            if effect is Effect.DENY and not policy.enforced:
                effect = Effect.AUDIT  # DoNotEnforce: what would be denied is audited
            findings.append(
                {
                    "resource": item.document.get("id"),
                    "type": item.document.get("type"),
                    "name": item.document.get("name"),
                    "templatePath": item.path,
                    "assignment": policy.label,
                    "policySetDefinition": policy.set_name,
                    "policyDefinitionReferenceId": policy.reference_id,
                    "policyDefinition": policy.definition.name or policy.definition.display_name,
                    "displayName": policy.definition.display_name,
                    "effect": effect.value,
                    "complianceState": result.compliance_state.value,
                    "reasons": result.reasons,
                }
            )
    denied = [f for f in findings if f["effect"] == Effect.DENY.value]
    unresolved = [{"templatePath": e.path, "expressions": e.unresolved} for e in expanded if e.unresolved]
    summary = {
        "template": str(template),
        "resources": len(expanded),
        "policies": len(policies),
        "denied": len(denied),
        "findings": findings,
        "unresolved": unresolved,
    }
    if output == OutputFormat.json:
        print_json(summary)
    else:
        for finding in findings:
            typer.echo(
                f"{finding['effect'].upper()}: {finding['type']} '{finding['name']}' ({finding['templatePath']}) "
                f"- {finding['assignment']}: {finding['displayName'] or finding['policyDefinition']}"
            )
            _print_reasons(finding["reasons"], "    ")
        for entry in unresolved:
            typer.echo(
                f"note: {entry['templatePath']}: {len(entry['expressions'])} expression(s) left unevaluated "
                f"(first: {entry['expressions'][0]})"
            )
        typer.echo(
            f"{len(expanded)} resources checked against {len(policies)} policies: {len(denied)} denied, "
            f"{len(findings) - len(denied)} other findings."
        )
    if denied:
        raise typer.Exit(1)


def _raw_api_version(template: Any, path: str) -> Any:
    """The apiVersion written on the template resource at ``path`` (top-level resources only)."""
    resources = template.get("resources") if isinstance(template, dict) else None
    head = path.split(".")[0].split("[copy")[0]
    if isinstance(resources, list) and head.startswith("resources["):
        index = int(head[len("resources[") : head.index("]")])
        entry = resources[index] if index < len(resources) else None
        return entry.get("apiVersion") if isinstance(entry, dict) else None
    return None


# --- warden policy import / aliases import ---------------------------------------------------

POLICY_API = "2023-04-01"
ROOT_PROVIDER = "/providers/Microsoft.Authorization"
aliases_app = typer.Typer(help="The alias table policy evaluation resolves fields with.", no_args_is_help=True)
app.add_typer(aliases_app, name="aliases")


def _resource_name(loaded: PolicyDefinition | PolicySetDefinition, path: Path) -> str:
    name = loaded.name or (loaded.id or "").rstrip("/").rsplit("/", 1)[-1] or path.stem
    return name


@app.command("import")
@handle_errors
def import_(
    directory: Path | None = typer.Argument(None, help="Directory of built-in definition and initiative JSON files."),
    baseline: bool = typer.Option(False, "--baseline", help="Import Warden's security baseline initiative."),
    data_dir: Path | None = DataDir,
    subscription: str | None = Subscription,
    output: OutputFormat = Output,
) -> None:
    """Import policy definitions and initiatives (e.g. Azure's built-ins) into the server, at the tenant root.

    They keep their names, so their IDs are Azure's (``/providers/Microsoft.Authorization/
    policyDefinitions/{name}``) and initiatives find their members. Files that fail static
    validation are listed and skipped; the exit code is 1 if anything was not imported.
    """
    if (directory is None) == (not baseline):
        raise CliError("give either a DIRECTORY or --baseline.")
    directory = baseline_directory() if baseline else directory
    assert directory is not None
    if not directory.is_dir():
        raise CliError(f"{directory} is not a directory.")
    report = import_directory(directory, check_members=False)
    failures: list[dict[str, str]] = [{"file": f, "reason": r} for f, r in report.failures]
    imported = {"policyDefinitions": 0, "policySetDefinitions": 0}
    with WardenClient.from_data_dir(data_dir, subscription) as client:
        # definitions first: an initiative can only be stored once its members exist
        for kind, items in (
            ("policyDefinitions", report.definitions),
            ("policySetDefinitions", report.set_definitions),
        ):
            for key in sorted(items):
                loaded = items[key]
                name = _resource_name(loaded, Path(report.files[key]))
                try:
                    client.put(f"{ROOT_PROVIDER}/{kind}/{name}", POLICY_API, {"properties": dict(loaded.properties)})
                except CliError as error:
                    failures.append({"file": report.files[key], "reason": str(error)})
                    continue
                imported[kind] += 1
    result = {**imported, "failures": failures}
    if output == OutputFormat.json:
        print_json(result)
    else:
        for failure in failures:
            typer.echo(f"failed: {failure['file']}: {failure['reason']}")
        typer.echo(
            f"imported {imported['policyDefinitions']} definitions and {imported['policySetDefinitions']} "
            f"initiatives; {len(failures)} failed."
        )
    if failures:
        raise typer.Exit(1)


@aliases_app.command("import")
@handle_errors
def aliases_import(
    file: Path = typer.Argument(..., help="Alias table: Warden's/the corpus's shape or Azure's provider listing."),
    data_dir: Path | None = DataDir,
) -> None:
    """Load a full alias table into the data dir; the server uses it (with the shipped one) from then on."""
    try:
        table = load_aliases(file)
    except AliasTableError as error:
        raise CliError(str(error), code="InvalidAliasTable") from None
    if len(table) == 0:
        raise CliError(f"{file} holds no aliases.", code="InvalidAliasTable")
    path = save_aliases(resolve_data_dir(data_dir), table)
    note(f"Imported {len(table)} aliases into {path}.")


@aliases_app.command("show")
@handle_errors
def aliases_show(
    alias: str = typer.Argument(..., help="Alias name, e.g. Microsoft.Network/networkSecurityGroups/securityRules"),
    resource_type: str | None = typer.Option(None, "--type", help="Resource type (default: the alias's own)."),
    data_dir: Path | None = DataDir,
) -> None:
    """Print the path an alias resolves to in the data dir's table (shipped + imported)."""
    table = active_aliases(resolve_data_dir(data_dir))
    owner = resource_type or "/".join(alias.split("/")[:-1])
    path = table.path(alias, owner)
    if path is None:
        raise CliError(f"the alias {alias} does not apply to {owner}.", code="AliasNotFound")
    typer.echo(".".join(path).replace(".[*]", "[*]"))
