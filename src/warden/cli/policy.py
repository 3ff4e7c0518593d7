"""``warden policy``: Azure Policy offline (``test``, ``check``) and against a server (``import``, ``aliases``).

``test`` and ``check`` need no server: they run the pure engine on files, for CI. Exit codes:
0 evaluated (``check``: nothing denied), 1 a deny (``check``) or an unusable input (the message
names the file and, for a definition, the JSON path of the problem), 2 a usage error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from warden.cli.client import CliError, handle_errors
from warden.cli.output import Output, OutputFormat, print_json
from warden.governance.policy import (
    AliasTable,
    AliasTableError,
    PolicyDefinitionError,
    PolicyError,
    default_aliases,
    evaluate,
    load_aliases,
    load_definition,
)

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
        text = ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in reason.items() if k != "path")
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
