"""``warden mfa``, ``warden password reset`` and ``warden directory settings``.

``warden mfa`` manages the signed-in user's methods (``warden login`` first: the bootstrap service
principal has none), or with ``--user`` another user's as an administrator. ``warden password
reset`` runs self-service password reset against the server's ``/{tenant}/sspr`` API and needs no
sign-in. ``warden directory settings`` reads and changes the tenant's directory settings (Global
Administrator).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import typer

from warden.cli.client import CliError, WardenClient, error_from_response, handle_errors, read_bootstrap
from warden.cli.common import DataDir, resolve_data_dir
from warden.cli.directory import user_id
from warden.cli.output import Output, OutputFormat, note, print_table, render

app = typer.Typer(help="Your authentication methods (TOTP apps, recovery codes).", no_args_is_help=True)
password_app = typer.Typer(help="Passwords: self-service reset.", no_args_is_help=True)
directory_app = typer.Typer(help="Directory-wide settings.", no_args_is_help=True)
settings_app = typer.Typer(help="The tenant's directory settings (Global Administrator).", no_args_is_help=True)
directory_app.add_typer(settings_app, name="settings")

METHOD_COLUMNS = [("Type", "type"), ("Name", "name"), ("ID", "id")]
SETTINGS = "/v1.0/policies/warden/directorySettings"
UserOption = typer.Option(
    None, "--user", help="Another user's object ID or UPN (administrators only).", show_default=False
)


def _methods_path(client: WardenClient, user: str | None) -> str:
    return f"/v1.0/users/{user_id(client, user)}/authentication" if user else "/v1.0/me/authentication"


def _row(method: dict[str, Any]) -> dict[str, Any]:
    kind = str(method.get("@odata.type", "")).rsplit(".", 1)[-1].removesuffix("AuthenticationMethod")
    name = method.get("displayName") or method.get("emailAddress") or ""
    if "remainingCodes" in method:
        name = f"{method['remainingCodes']} unused"
    return {"type": kind, "name": name, "id": method.get("id", "")}


@app.command("list")
@handle_errors
def list_methods(user: str | None = UserOption, data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """List the authentication methods (never their secrets)."""
    with WardenClient.from_data_dir(data_dir) as client:
        found = client.list(f"{_methods_path(client, user)}/methods")
    if output == OutputFormat.json:
        render(found, output, [])
    else:
        print_table([_row(m) for m in found], METHOD_COLUMNS)


@app.command("remove")
@handle_errors
def remove(
    method_id: str = typer.Argument(..., metavar="ID", help="The method's ID (from `warden mfa list`)."),
    user: str | None = UserOption,
    data_dir: Path | None = DataDir,
) -> None:
    """Remove an authentication method (the recovery-codes ID removes all codes)."""
    with WardenClient.from_data_dir(data_dir) as client:
        client.delete(f"{_methods_path(client, user)}/methods/{method_id}")
    note(f"Removed {method_id}.")


def qr_text(data: str) -> str:
    """Return ``data`` as a QR code drawn with text blocks, or "" when the qrcode package is missing."""
    try:
        import qrcode
    except ImportError:
        return ""
    code = qrcode.QRCode(border=2)
    code.add_data(data)
    out = io.StringIO()
    code.print_ascii(out=out, invert=True)
    return out.getvalue()


@app.command("enroll-totp")
@handle_errors
def enroll_totp(
    name: str = typer.Option("Authenticator app", "--name", help="A name to recognise the app by."),
    code: str | None = typer.Option(
        None, "--code", help="The app's current code (prompted for when left out).", show_default=False
    ),
    no_qr: bool = typer.Option(False, "--no-qr", help="Do not draw the QR code."),
    no_verify: bool = typer.Option(
        False, "--no-verify", help="Only print the key; finish later with `warden mfa verify-totp ID CODE`."
    ),
    data_dir: Path | None = DataDir,
) -> None:
    """Register an authenticator app: scan the QR code (or type the key), then enter its code."""
    with WardenClient.from_data_dir(data_dir) as client:
        enrolment = client.post("/v1.0/me/authentication/softwareOathMethods", body={"displayName": name})
        if not no_qr and (drawing := qr_text(enrolment["otpauthUri"])):
            typer.echo(drawing)
        typer.echo(f"ID:   {enrolment['id']}")
        typer.echo(f"Key:  {enrolment['secretKey']}")
        typer.echo(f"URI:  {enrolment['otpauthUri']}")
        if no_verify:
            note("Not usable until verified: warden mfa verify-totp ID CODE")
            return
        answer = code if code is not None else typer.prompt("Code from the app")
        client.post(f"/v1.0/me/authentication/softwareOathMethods/{enrolment['id']}/verify", body={"code": answer})
    note(f"Authenticator app '{name}' registered ({enrolment['id']}).")


@app.command("verify-totp")
@handle_errors
def verify_totp(
    method_id: str = typer.Argument(..., metavar="ID", help="The ID `enroll-totp --no-verify` printed."),
    code: str = typer.Argument(..., metavar="CODE", help="The app's current code."),
    data_dir: Path | None = DataDir,
) -> None:
    """Finish registering an authenticator app with its current code."""
    with WardenClient.from_data_dir(data_dir) as client:
        client.post(f"/v1.0/me/authentication/softwareOathMethods/{method_id}/verify", body={"code": code})
    note(f"Authenticator app {method_id} registered.")


@app.command("recovery-codes")
@handle_errors
def recovery_codes(data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """Make ten new single-use recovery codes (earlier codes stop working); shown this once."""
    with WardenClient.from_data_dir(data_dir) as client:
        codes = client.post("/v1.0/me/authentication/recoveryCodes")["codes"]
    if output == OutputFormat.json:
        render(codes, output, [])
        return
    for item in codes:
        typer.echo(item)
    note("Each code works once. Store them somewhere safe now: they are not shown again.")


@app.command("unlock")
@handle_errors
def unlock(
    user: str = typer.Argument(..., metavar="USER", help="The user's object ID or UPN."),
    data_dir: Path | None = DataDir,
) -> None:
    """End a smart-lockout of a user now (administrators)."""
    with WardenClient.from_data_dir(data_dir) as client:
        client.post(f"/v1.0/users/{user_id(client, user)}/unlock")
    note(f"{user} is unlocked.")


# --- directory settings ---------------------------------------------------------------------------


def parse_setting(text: str) -> tuple[str, Any]:
    """Return (name, value) from ``name=value``; the value is read as JSON when it parses, else as text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise typer.BadParameter(f"'{text}' is not NAME=VALUE.")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return name.strip(), value


@settings_app.command("show")
@handle_errors
def settings_show(data_dir: Path | None = DataDir, output: OutputFormat = Output) -> None:
    """Show the tenant's directory settings."""
    with WardenClient.from_data_dir(data_dir) as client:
        current = client.get(SETTINGS)
    _print_settings(current, output)


@settings_app.command("set")
@handle_errors
def settings_set(
    changes: list[str] = typer.Argument(
        ..., metavar="NAME=VALUE...", help="e.g. mfaRequirement=everyone lockoutThreshold=5 bannedPasswords='[\"x\"]'"
    ),
    data_dir: Path | None = DataDir,
    output: OutputFormat = Output,
) -> None:
    """Change directory settings; all are checked before any is applied."""
    body = dict(parse_setting(item) for item in changes)
    with WardenClient.from_data_dir(data_dir) as client:
        updated = client.patch(SETTINGS, body=body)
    _print_settings(updated, output)


def _print_settings(settings: dict[str, Any], output: OutputFormat) -> None:
    shown = {k: v for k, v in settings.items() if not k.startswith("@") and k != "id"}
    if output == OutputFormat.json:
        render(shown, output, [])
    else:
        print_table(
            [{"name": k, "value": json.dumps(v)} for k, v in shown.items()], [("Setting", "name"), ("Value", "value")]
        )


# --- self-service password reset ------------------------------------------------------------------


@password_app.command("reset")
@handle_errors
def password_reset(
    upn: str = typer.Argument(..., metavar="UPN", help="Your user name, e.g. ann@contoso.example."),
    data_dir: Path | None = DataDir,
) -> None:
    """Reset your password by proving your methods (email code, authenticator app or recovery code)."""
    bootstrap = read_bootstrap(resolve_data_dir(data_dir))
    base = f"{bootstrap['endpoint'].rstrip('/')}/{bootstrap['tenantId']}/sspr/"
    verify: Any = bootstrap.get("caCertPath") or True
    with httpx.Client(base_url=base, verify=_ssl(verify), timeout=30) as http:
        started = _sspr(http, "start", {"userPrincipalName": upn})
        challenge = started["challengeId"]
        kinds = {m["methodType"]: m.get("hint") for m in started["methods"]}
        remaining: int | None = None
        while remaining != 0:
            kind = typer.prompt("Method (" + ", ".join(kinds) + ")", default=next(iter(kinds)))
            if kind not in kinds:
                typer.echo(f"Choose one of: {', '.join(kinds)}", err=True)
                continue
            if kind == "email":
                sent = _sspr(http, f"{challenge}/email", {})
                typer.echo(f"A code was sent to {sent['hint']}.")
            answer = typer.prompt("Code")
            try:
                result = _sspr(http, f"{challenge}/verify", {"methodType": kind, "code": answer})
            except CliError as error:
                if error.code == "ChallengeExpired":
                    raise
                typer.echo(f"Error: {error}", err=True)
                continue
            remaining = result["remainingMethods"]
            kinds.pop(kind, None)
            if remaining:
                typer.echo(f"Verified. {remaining} more method(s) needed.")
        new_password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
        _sspr(http, f"{challenge}/password", {"newPassword": new_password})
    note("Your password has been reset; other sessions were signed out.")


def _ssl(verify: Any) -> Any:
    if isinstance(verify, str):
        import ssl

        return ssl.create_default_context(cafile=verify)
    return verify


def _sspr(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    if response.status_code >= 400:
        raise error_from_response(response)
    return response.json() if response.content else {}
