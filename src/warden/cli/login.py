"""``warden login`` / ``warden logout``: sign a user in with the device code flow.

The CLI uses Azure CLI's well-known public client id, which every Warden tenant accepts. The
tokens are kept in ``login.json`` (mode 0600) in the CLI's config dir (``$WARDEN_CONFIG_DIR``, else
the user's config dir); while it exists, every other command calls the server as that user,
refreshing the access token with the (rotating) refresh token, instead of as the data dir's
bootstrap service principal.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from platformdirs import user_config_dir

from warden.cli.client import CliError, error_from_response, handle_errors, read_bootstrap
from warden.cli.common import DataDir, resolve_data_dir
from warden.kernel.secrets import write_private_file

CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
SCOPE = "https://management.azure.com/.default offline_access openid profile"
LOGIN_FILE = "login.json"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def config_dir() -> Path:
    """``$WARDEN_CONFIG_DIR``, else the user's config directory for Warden."""
    return Path(os.environ.get("WARDEN_CONFIG_DIR") or user_config_dir("warden")).expanduser()


def login_path() -> Path:
    return config_dir() / LOGIN_FILE


def _verify(ca: str | None) -> Any:
    if not ca:
        return True
    try:
        return ssl.create_default_context(cafile=ca)
    except (OSError, ssl.SSLError) as error:
        raise CliError(f"cannot load the CA certificate {ca}: {error}.") from None


class UserSession:
    """The signed-in user's tokens; ``bearer`` returns a live access token, refreshing it."""

    def __init__(self, path: Path, state: dict[str, Any]) -> None:
        self.path = path
        self.state = state

    @classmethod
    def load(cls) -> UserSession | None:
        path = login_path()
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise CliError(f"cannot read {path}: run 'warden login' again or 'warden logout'.") from None
        if not isinstance(state, dict) or not all(state.get(k) for k in ("endpoint", "tenantId", "refreshToken")):
            raise CliError(f"{path} is incomplete: run 'warden login' again.")
        return cls(path, state)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_file(self.path, json.dumps(self.state, indent=2))

    def bearer(self, http: httpx.Client, *, refresh: bool = False) -> str:
        """A current access token; refreshes (and stores the rotated refresh token) when needed."""
        if not refresh and self.state.get("accessToken") and time.time() < float(self.state.get("expiresAt", 0)) - 60:
            return str(self.state["accessToken"])
        response = http.post(
            f"/{self.state['tenantId']}/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "client_id": CLI_CLIENT_ID,
                "refresh_token": self.state["refreshToken"],
                "scope": SCOPE,
            },
        )
        if response.status_code != 200:
            error = error_from_response(response)
            raise CliError(f"your sign-in has expired ({error.code}): run 'warden login' again.")
        self._store(response.json())
        return str(self.state["accessToken"])

    def _store(self, body: dict[str, Any]) -> None:
        self.state["accessToken"] = body["access_token"]
        self.state["expiresAt"] = time.time() + float(body.get("expires_in", 3600))
        if body.get("refresh_token"):
            self.state["refreshToken"] = body["refresh_token"]
        self.save()


def logged_in_client(cls: type, data_dir: Path, subscription: str | None) -> Any:
    """A ``WardenClient`` acting as the signed-in user, or ``None`` when nobody is signed in."""
    session = UserSession.load()
    if session is None:
        return None
    try:
        bootstrap = read_bootstrap(data_dir)
    except CliError:
        bootstrap = {}
    same_server = bootstrap.get("endpoint", "").rstrip("/") == session.state["endpoint"]
    document = {
        "tenantId": session.state["tenantId"],
        "endpoint": session.state["endpoint"],
        "caCertPath": session.state.get("caCertPath"),
        "subscriptionId": bootstrap.get("subscriptionId") if same_server else None,
    }
    client = cls(document, subscription)
    client.user_session = session
    return client


def _device_flow(http: httpx.Client, tenant: str, *, timeout: float = 900) -> dict[str, Any]:
    response = http.post(f"/{tenant}/oauth2/v2.0/devicecode", data={"client_id": CLI_CLIENT_ID, "scope": SCOPE})
    if response.status_code != 200:
        raise error_from_response(response)
    flow = response.json()
    typer.echo(flow["message"], err=True)
    interval = float(flow.get("interval", 5))
    deadline = time.monotonic() + min(float(flow.get("expires_in", timeout)), timeout)
    while time.monotonic() < deadline:
        time.sleep(interval)
        answer = http.post(
            f"/{tenant}/oauth2/v2.0/token",
            data={"grant_type": DEVICE_GRANT, "client_id": CLI_CLIENT_ID, "device_code": flow["device_code"]},
        )
        if answer.status_code == 200:
            return answer.json()
        error = error_from_response(answer)
        if error.code == "authorization_pending":
            continue
        if error.code == "slow_down":  # RFC 8628 §3.5: back off by five seconds
            interval += 5
            continue
        raise CliError(f"sign-in failed: {error.message}", code=error.code)
    raise CliError("the code expired before the sign-in finished: run 'warden login' again.")


@handle_errors
def login(
    tenant: str = typer.Option(None, "--tenant", help="Tenant ID (default: the data dir's tenant)."),
    endpoint: str = typer.Option(None, "--endpoint", help="Server URL (default: the data dir's server)."),
    ca: str = typer.Option(None, "--ca", help="CA certificate that signs the server's TLS certificate."),
    data_dir: Path = DataDir,
) -> None:
    """Sign in as a user with a device code; later commands then act as that user."""
    try:
        bootstrap = read_bootstrap(resolve_data_dir(data_dir))
    except CliError:
        bootstrap = {}
    endpoint = (endpoint or bootstrap.get("endpoint") or "").rstrip("/")
    tenant = tenant or bootstrap.get("tenantId")
    if not endpoint or not tenant:
        raise CliError("pass --endpoint and --tenant (no data dir with a bootstrap.json was found).")
    if ca is None and bootstrap.get("endpoint", "").rstrip("/") == endpoint:
        ca = bootstrap.get("caCertPath")
    with httpx.Client(base_url=endpoint, verify=_verify(ca), timeout=30) as http:
        body = _device_flow(http, tenant)
    session = UserSession(login_path(), {"endpoint": endpoint, "tenantId": tenant, "caCertPath": ca})
    session.state["user"] = _username(body.get("id_token", ""))
    session._store(body)
    typer.echo(f"Signed in as {session.state['user'] or 'the user'} to tenant {tenant}.")


def _username(id_token: str) -> str:
    """preferred_username from the ID token, read only for display (the server already verified it)."""
    import base64

    try:
        payload = id_token.split(".")[1]
        return str(
            json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("preferred_username", "")
        )
    except (IndexError, ValueError):
        return ""


@handle_errors
def logout(data_dir: Path = DataDir) -> None:
    """Forget the signed-in user's tokens; commands act as the bootstrap principal again."""
    path = login_path()
    try:
        path.unlink()
    except FileNotFoundError:
        typer.echo("Nobody is signed in.")
        return
    typer.echo("Signed out.")
