"""A real Warden server on loopback HTTPS for end-to-end tests.

``start_server`` runs ``warden init`` and ``warden serve`` as subprocesses on a free port;
``WardenServer`` gives the endpoint, CA and bootstrap credentials, plus helpers that create
principals and role assignments through the REST API (never through the database).
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
ARM_SCOPE = "https://management.azure.com/.default"
LOGS_SCOPE = "https://api.loganalytics.io/.default"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Principal:
    client_id: str
    secret: str
    object_id: str


@dataclass
class WardenServer:
    data_dir: Path
    endpoint: str
    ca: str
    bootstrap: dict[str, Any]
    process: subprocess.Popen
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts exactly the server's CA."""
        return ssl.create_default_context(cafile=self.ca)

    @property
    def tenant(self) -> str:
        return self.bootstrap["tenantId"]

    @property
    def subscription(self) -> str:
        return self.bootstrap["subscriptionId"]

    @property
    def admin(self) -> Principal:
        return Principal(self.bootstrap["clientId"], self.bootstrap["clientSecret"], "")

    def credential(self, principal: Principal | None = None):  # type: ignore[no-untyped-def]
        from azure.identity import ClientSecretCredential

        p = principal or self.admin
        return ClientSecretCredential(
            self.tenant,
            p.client_id,
            p.secret,
            authority=self.endpoint,
            disable_instance_discovery=True,
            connection_verify=self.ca,
        )

    def token(self, principal: Principal | None = None, scope: str = ARM_SCOPE) -> str:
        p = principal or self.admin
        cached = self._tokens.get((p.client_id, scope))
        if cached:
            return cached
        response = httpx.post(
            f"{self.endpoint}/{self.tenant}/oauth2/v2.0/token",
            verify=self.ssl_context(),
            data={
                "grant_type": "client_credentials",
                "client_id": p.client_id,
                "client_secret": p.secret,
                "scope": scope,
            },
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        self._tokens[(p.client_id, scope)] = token
        return token

    def client(self, principal: Principal | None = None, scope: str = ARM_SCOPE) -> httpx.Client:
        """An HTTP client authenticated as ``principal`` (default: the bootstrap Owner) with a token
        for ``scope`` (default: ARM; the Log Analytics query API wants ``LOGS_SCOPE``)."""
        return httpx.Client(
            base_url=self.endpoint,
            verify=self.ssl_context(),
            timeout=30,
            headers={"Authorization": f"Bearer {self.token(principal, scope)}"},
        )

    def new_principal(self, name: str | None = None) -> Principal:
        with self.client() as http:
            created = http.post("/v1.0/servicePrincipals", json={"displayName": name or f"sp-{uuid.uuid4().hex[:8]}"})
            created.raise_for_status()
            object_id = created.json()["id"]
            secret = http.post(f"/v1.0/servicePrincipals/{object_id}/addPassword", json={})
            secret.raise_for_status()
        return Principal(created.json()["appId"], secret.json()["secretText"], object_id)

    def assign(self, principal: Principal, role_guid: str, scope: str) -> str:
        name = str(uuid.uuid4())
        assignment_id = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}"
        with self.client() as http:
            response = http.put(
                assignment_id,
                params={"api-version": "2022-04-01"},
                json={
                    "properties": {
                        "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
                        "principalId": principal.object_id,
                        "principalType": "ServicePrincipal",
                    }
                },
            )
            assert response.status_code == 201, response.text
        return assignment_id

    def sub_scope(self) -> str:
        return f"/subscriptions/{self.subscription}"


def start_server(data_dir: Path, *extra: str) -> WardenServer:
    port = free_port()
    env = {**os.environ, "WARDEN_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-m", "warden.cli.main"]
    # Backups may reach the system temp dir, where tests keep the files they protect and restore.
    roots = ("--backup-root", tempfile.gettempdir())
    subprocess.run(
        [*cli, "init", "--data-dir", str(data_dir), "--port", str(port), *roots, *extra],
        check=True,
        env=env,
        capture_output=True,
    )
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115 - kept open for the server's lifetime
    process = subprocess.Popen(
        [*cli, "serve", "--data-dir", str(data_dir), "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    bootstrap = json.loads((data_dir / "bootstrap.json").read_text())
    context = ssl.create_default_context(cafile=bootstrap["caCertPath"])
    deadline = time.monotonic() + 30
    while True:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((data_dir / "server.log").read_text()) from None
            time.sleep(0.1)
    return WardenServer(data_dir, bootstrap["endpoint"], bootstrap["caCertPath"], bootstrap, process)


def stop_server(server: WardenServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def restart_server(server: WardenServer, *, timeout: float = 30) -> WardenServer:
    """Run ``warden serve`` again on the same data dir and port (after the old process died or was
    killed); ``server.process`` becomes the new process. Returns ``server`` once it answers TLS.

    Raises RuntimeError with the server log if it exits or does not listen within ``timeout``.
    """
    port = int(server.endpoint.rsplit(":", 1)[1].rstrip("/"))
    env = {**os.environ, "WARDEN_DATA_DIR": str(server.data_dir)}
    log = open(server.data_dir / "server.log", "ab")  # noqa: SIM115 - kept open for the server's lifetime
    server.process = subprocess.Popen(
        [sys.executable, "-m", "warden.cli.main", "serve", "--data-dir", str(server.data_dir), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    context = server.ssl_context()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return server
        except OSError:
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((server.data_dir / "server.log").read_text(errors="replace")) from None
            time.sleep(0.1)
