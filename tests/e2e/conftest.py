"""Session fixtures for end-to-end tests: one real server, an Owner client, a scratch group."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from support.server import WardenServer, start_server, stop_server
from support.signin import Directory


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warden_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One server per control-plane backend: every end-to-end test runs on SQLite and PostgreSQL."""
    extra: tuple[str, ...] = ()
    if request.param == "postgresql":
        extra = ("--database-url", request.getfixturevalue("postgres_session_database"))
    server = start_server(tmp_path_factory.mktemp(f"warden-e2e-{request.param}"), *extra)
    yield server
    stop_server(server)


@pytest.fixture
def arm(warden_server: WardenServer):  # type: ignore[no-untyped-def]
    """An httpx client authenticated as the bootstrap Owner."""
    with warden_server.client() as http:
        yield http


@pytest.fixture
def resource_group(warden_server: WardenServer, arm: httpx.Client):  # type: ignore[no-untyped-def]
    """A fresh resource group, deleted afterwards if still present."""
    name = f"rg-{uuid.uuid4().hex[:8]}"
    group_id = f"{warden_server.sub_scope()}/resourceGroups/{name}"
    response = arm.put(group_id, params={"api-version": "2021-04-01"}, json={"location": "westeurope"})
    assert response.status_code == 201, response.text
    yield group_id
    for lock in (
        arm.get(f"{group_id}/providers/Microsoft.Authorization/locks", params={"api-version": "2016-09-01"})
        .json()
        .get("value", [])
    ):
        arm.delete(lock["id"], params={"api-version": "2016-09-01"})
    deleted = arm.delete(group_id, params={"api-version": "2021-04-01"})
    # Wait for the long-running delete, so later tests see a settled subscription.
    deadline = time.monotonic() + 30
    while deleted.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
        deleted = arm.get(deleted.headers["Location"])


@pytest.fixture(scope="module")
def directory(warden_server: WardenServer):  # type: ignore[no-untyped-def]
    """Direct access to the server's directory (users, MFA methods, settings) for sign-in tests."""
    d = Directory(warden_server.data_dir, warden_server.tenant)
    yield d
    d.close()


@pytest.fixture
def browser(warden_server: WardenServer):  # type: ignore[no-untyped-def]
    """A cookie-keeping HTTPS client without credentials, as a browser meets the sign-in pages."""
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context(), timeout=120) as client:
        yield client
