"""The ``warden`` service commands against a real server.

Most commands run in-process through Typer's ``CliRunner`` (fast); one test runs the real entry
point as a subprocess. Every invocation is checked for tracebacks and for leaking the bootstrap
secret or a bearer token. The tamper test uses its own server so the session server's activity
log stays intact for everyone else.
"""

from __future__ import annotations

import json
import os
import sqlite3
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from support.server import WardenServer, start_server, stop_server
from warden.cli.client import CliError, WardenClient
from warden.cli.main import app

pytestmark = pytest.mark.e2e
runner = CliRunner()
MI_API = "2023-01-31"
ANY = -1  # warden(..., code=ANY): do not check the exit code


def warden(server: WardenServer, *args: str, code: int | None = 0, data_dir: Path | None = None) -> Result:
    """Run ``warden ARGS --data-dir DATA_DIR`` in-process; check the exit code (``None``: any
    non-zero; ``ANY``: unchecked), that no traceback escaped and that no secret or token was printed."""
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        result = runner.invoke(app, [*args, "--data-dir", str(data_dir or server.data_dir)])
    finally:
        os.umask(umask)  # the CLI's callback tightens the umask; keep the test process unchanged
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"warden {' '.join(args)} raised {result.exception!r}\n{result.output}")
    if code is None:
        assert result.exit_code != 0, result.output
    elif code != ANY:
        assert result.exit_code == code, result.output
    assert server.bootstrap["clientSecret"] not in result.output
    assert "eyJ" not in result.output  # no JWT
    assert "Traceback" not in result.output
    return result


def warden_json(server: WardenServer, *args: str) -> Any:
    return json.loads(warden(server, *args, "--output", "json").stdout)


def group_name() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}"


# --- resource groups -------------------------------------------------------------------------


def test_group_create_list_update_delete(warden_server: WardenServer) -> None:
    name = group_name()
    created = warden_json(warden_server, "rg", "create", name, "--location", "westeurope", "--tag", "env=dev")
    assert created["name"] == name
    assert created["tags"] == {"env": "dev"}
    assert created["id"] == f"/subscriptions/{warden_server.subscription}/resourceGroups/{name}"

    listed = warden_json(warden_server, "rg", "list")
    assert name in [g["name"] for g in listed]
    assert name in warden(warden_server, "rg", "list").stdout  # table
    assert [g["name"] for g in warden_json(warden_server, "rg", "list", "--tag", "env=dev")].count(name) == 1
    assert name not in [g["name"] for g in warden_json(warden_server, "rg", "list", "--tag", "env=prod")]

    updated = warden_json(warden_server, "rg", "update", name, "--tag", "env=prod", "--tag", "owner=ops")
    assert updated["tags"] == {"env": "prod", "owner": "ops"}
    assert warden_json(warden_server, "rg", "show", name)["tags"] == {"env": "prod", "owner": "ops"}

    deleted = warden(warden_server, "rg", "delete", name)
    assert f"Deleted resource group {name}" in deleted.stderr
    missing = warden(warden_server, "rg", "show", name, code=1)
    assert "ResourceGroupNotFound" in missing.stderr
    assert name not in [g["name"] for g in warden_json(warden_server, "rg", "list")]


def test_group_delete_no_wait_returns_before_the_job(warden_server: WardenServer) -> None:
    name = group_name()
    warden(warden_server, "rg", "create", name, "--location", "westeurope")
    result = warden(warden_server, "rg", "delete", name, "--no-wait")
    assert "accepted" in result.stderr
    deadline = time.monotonic() + 10
    while warden(warden_server, "rg", "show", name, code=ANY).exit_code == 0:
        assert time.monotonic() < deadline, "the group was never deleted"
        time.sleep(0.2)
    # Deleting what is gone is not an error.
    assert "nothing to delete" in warden(warden_server, "rg", "delete", name).stderr


# --- service principals and role assignments -------------------------------------------------


def test_sp_create_prints_a_working_secret(warden_server: WardenServer) -> None:
    created = warden_json(warden_server, "sp", "create", "--name", f"cli-sp-{uuid.uuid4().hex[:6]}")
    assert set(created) == {"clientId", "clientSecret", "objectId"}
    token = httpx.post(
        f"{warden_server.endpoint}/{warden_server.tenant}/oauth2/v2.0/token",
        verify=ssl.create_default_context(cafile=warden_server.ca),
        data={
            "grant_type": "client_credentials",
            "client_id": created["clientId"],
            "client_secret": created["clientSecret"],
            "scope": "https://management.azure.com/.default",
        },
    )
    assert token.status_code == 200, token.text
    assert token.json()["access_token"]
    assert created["objectId"] in [p["id"] for p in warden_json(warden_server, "sp", "list")]

    table = warden(warden_server, "sp", "create", "--name", "cli-sp-table")
    assert "clientSecret" in table.stdout
    assert "shown only this once" in table.stderr


def test_role_assignment_create_list_delete(warden_server: WardenServer, resource_group: str) -> None:
    principal = warden_server.new_principal()
    with warden_server.client(principal) as http:
        assert http.get(resource_group, params={"api-version": "2021-04-01"}).status_code == 403

    created = warden_json(
        warden_server,
        "role", "assignment", "create",
        "--assignee", principal.object_id, "--role", "Reader", "--scope", resource_group,
    )  # fmt: skip
    assignment_id = created["id"]
    assert created["properties"]["roleDefinitionId"].endswith("/acdd72a7-3385-48ef-bd42-f606fba81ae7")
    assert created["properties"]["principalId"] == principal.object_id
    with warden_server.client(principal) as http:
        assert http.get(resource_group, params={"api-version": "2021-04-01"}).status_code == 200

    mine = warden_json(warden_server, "role", "assignment", "list", "--assignee", principal.object_id)
    assert [a["id"] for a in mine] == [assignment_id]
    at_group = warden_json(warden_server, "role", "assignment", "list", "--scope", resource_group, "--at-scope")
    assert assignment_id in [a["id"] for a in at_group]
    table = warden(warden_server, "role", "assignment", "list", "--assignee", principal.object_id).stdout
    assert "Reader" in table and principal.object_id in table

    warden(warden_server, "role", "assignment", "delete", assignment_id)
    assert warden_json(warden_server, "role", "assignment", "list", "--assignee", principal.object_id) == []
    with warden_server.client(principal) as http:
        assert http.get(resource_group, params={"api-version": "2021-04-01"}).status_code == 403


def test_role_definition_from_az_and_arm_json(warden_server: WardenServer, tmp_path: Path) -> None:
    sub = warden_server.sub_scope()
    flat_name, arm_name = f"CLI flat {uuid.uuid4().hex[:6]}", f"CLI arm {uuid.uuid4().hex[:6]}"
    flat = tmp_path / "flat.json"  # what `az role definition create --role-definition` reads
    flat.write_text(json.dumps({
        "Name": flat_name, "IsCustom": True, "Description": "flat",
        "Actions": ["Microsoft.Resources/subscriptions/resourceGroups/read"], "NotActions": [],
        "AssignableScopes": [sub],
    }))  # fmt: skip
    guid = str(uuid.uuid4())
    arm = tmp_path / "arm.json"
    arm.write_text(json.dumps({"name": guid, "properties": {
        "roleName": arm_name, "description": "arm", "assignableScopes": [sub],
        "permissions": [{"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}],
    }}))  # fmt: skip

    created_flat = warden_json(warden_server, "role", "definition", "create", "--file", str(flat))
    assert created_flat["properties"]["roleName"] == flat_name
    assert created_flat["properties"]["permissions"][0]["actions"] == [
        "Microsoft.Resources/subscriptions/resourceGroups/read"
    ]
    uuid.UUID(created_flat["name"])  # a generated GUID
    assert warden_json(warden_server, "role", "definition", "create", "--file", str(arm))["name"] == guid

    custom = warden_json(warden_server, "role", "definition", "list", "--custom-only")
    assert {flat_name, arm_name} <= {d["properties"]["roleName"] for d in custom}
    assert all(d["properties"]["type"] == "CustomRole" for d in custom)
    assert [d["name"] for d in warden_json(warden_server, "role", "definition", "list", "--name", "Reader")] == [
        "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    ]

    # A custom role is assignable by name.
    principal = warden_server.new_principal()
    assignment = warden_json(
        warden_server, "role", "assignment", "create", "--assignee", principal.object_id, "--role", flat_name
    )
    busy = warden(warden_server, "role", "definition", "delete", flat_name, code=1)
    assert "RoleDefinitionHasAssignments" in busy.stderr
    warden(warden_server, "role", "assignment", "delete", assignment["id"])
    warden(warden_server, "role", "definition", "delete", flat_name)
    warden(warden_server, "role", "definition", "delete", guid)
    assert warden_json(warden_server, "role", "definition", "list", "--name", flat_name) == []
    assert "built-in" in warden(warden_server, "role", "definition", "delete", "Reader", code=1).stderr


# --- locks -----------------------------------------------------------------------------------


def test_lock_blocks_group_delete_until_removed(warden_server: WardenServer) -> None:
    name = group_name()
    warden(warden_server, "rg", "create", name, "--location", "westeurope")
    lock = warden_json(
        warden_server, "lock", "create", "keep", "--level", "CanNotDelete", "--resource-group", name, "--notes", "prod"
    )
    assert lock["properties"] == {"level": "CanNotDelete", "notes": "prod"}
    assert "keep" in [item["name"] for item in warden_json(warden_server, "lock", "list", "--resource-group", name)]

    refused = warden(warden_server, "rg", "delete", name, code=1)
    assert "ScopeLocked" in refused.stderr
    assert warden_json(warden_server, "rg", "show", name)["name"] == name

    warden(warden_server, "lock", "delete", "keep", "--resource-group", name)
    assert warden_json(warden_server, "lock", "list", "--resource-group", name) == []
    warden(warden_server, "rg", "delete", name)
    warden(warden_server, "rg", "show", name, code=1)


# --- generic resources and subscriptions ---------------------------------------------------


def test_resource_create_show_list_delete(warden_server: WardenServer, resource_group: str, tmp_path: Path) -> None:
    identity_id = f"{resource_group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cli-id"
    body = tmp_path / "identity.json"
    body.write_text(json.dumps({"location": "westeurope", "tags": {"app": "cli"}}))
    created = warden_json(
        warden_server, "resource", "create", identity_id, "--api-version", MI_API, "--body", f"@{body}"
    )
    assert created["id"].lower() == identity_id.lower()
    # Without --api-version the CLI asks the server's provider metadata for one.
    assert warden_json(warden_server, "resource", "show", identity_id)["tags"] == {"app": "cli"}

    group = resource_group.rsplit("/", 1)[-1]
    kind = "Microsoft.ManagedIdentity/userAssignedIdentities"
    by_type = warden_json(warden_server, "resource", "list", "--resource-group", group, "--resource-type", kind)
    assert [r["name"] for r in by_type] == ["cli-id"]
    assert [r["name"] for r in warden_json(warden_server, "resource", "list", "--tag", "app=cli")] == ["cli-id"]
    assert [r["name"] for r in warden_json(warden_server, "resource", "list", "--tag", "app")] == ["cli-id"]
    assert warden_json(warden_server, "resource", "list", "--tag", "app=other") == []

    warden(warden_server, "resource", "delete", identity_id)
    assert "ResourceNotFound" in warden(warden_server, "resource", "show", identity_id, code=1).stderr


def test_subscription_list_show_create(warden_server: WardenServer) -> None:
    listed = warden_json(warden_server, "subscription", "list")
    assert warden_server.subscription in [s["subscriptionId"] for s in listed]
    assert warden_json(warden_server, "subscription", "show")["subscriptionId"] == warden_server.subscription

    created = warden_json(warden_server, "subscription", "create", "--name", "CLI test subscription")
    assert created["displayName"] == "CLI test subscription"
    new = created["subscriptionId"]
    assert new != warden_server.subscription
    assert warden_json(warden_server, "subscription", "show", new)["displayName"] == "CLI test subscription"
    # --subscription points every command at another subscription.
    warden(warden_server, "rg", "create", "in-new-sub", "--location", "westeurope", "--subscription", new)
    assert [g["name"] for g in warden_json(warden_server, "rg", "list", "--subscription", new)] == ["in-new-sub"]
    assert "in-new-sub" not in [g["name"] for g in warden_json(warden_server, "rg", "list")]
    warden(warden_server, "rg", "delete", "in-new-sub", "--subscription", new)


# --- activity log ----------------------------------------------------------------------------


def test_activity_list_shows_the_group_write(warden_server: WardenServer) -> None:
    name = group_name()
    warden(warden_server, "rg", "create", name, "--location", "westeurope")
    events = warden_json(warden_server, "activity", "list", "--resource-group", name, "--since", "1h")
    writes = [
        e for e in events if e["operationName"]["value"] == "Microsoft.Resources/subscriptions/resourceGroups/write"
    ]
    assert {e["status"]["value"] for e in writes} == {"Started", "Succeeded"}
    assert all(e["resourceGroupName"].lower() == name for e in events)
    assert all(e["caller"] == warden_server.bootstrap["clientId"] for e in writes)

    correlation = writes[0]["correlationId"]
    same = warden_json(warden_server, "activity", "list", "--correlation-id", correlation)
    assert {e["correlationId"] for e in same} == {correlation}
    assert len(warden_json(warden_server, "activity", "list", "--max", "1")) == 1
    table = warden(warden_server, "activity", "list", "--resource-group", name).stdout
    assert "resourceGroups/write" in table and "Succeeded" in table
    warden(warden_server, "rg", "delete", name, "--no-wait")


def test_activity_verify_names_an_altered_event(tmp_path: Path) -> None:
    server = start_server(tmp_path / "tamper")
    try:
        warden(server, "rg", "create", "audited", "--location", "westeurope")
        intact = warden(server, "activity", "verify")
        assert "Activity log intact: 1 tenant chain(s)" in intact.stdout
        assert warden_json(server, "activity", "verify") == {"intact": True, "chains": 1, "problems": []}

        with sqlite3.connect(server.data_dir / "warden.db") as db:
            seq, event_id, body = db.execute(
                "SELECT seq, event_data_id, body FROM activity_events ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            db.execute("UPDATE activity_events SET body = ? WHERE seq = ?", (body.replace("audited", "innocent"), seq))

        broken = warden(server, "activity", "verify", code=1)
        assert event_id in broken.stdout
        assert "altered" in broken.stdout
        report = json.loads(warden(server, "activity", "verify", "--output", "json", code=1).stdout)
        assert report["intact"] is False
        assert [p["eventDataId"] for p in report["problems"]] == [event_id]
    finally:
        stop_server(server)


# --- bad input and the real entry point ------------------------------------------------------


def test_bad_input_gives_a_clean_error(warden_server: WardenServer, tmp_path: Path) -> None:
    level = warden(warden_server, "lock", "create", "x", "--level", "Sometimes", code=None)
    assert "Sometimes" in level.output
    some_id = (
        f"{warden_server.sub_scope()}/resourceGroups/nope/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x"
    )
    body = warden(warden_server, "resource", "create", some_id, "--api-version", MI_API, "--body", "{bad", code=None)
    assert "not valid JSON" in body.output
    missing_file = warden(
        warden_server, "resource", "create", some_id, "--body", f"@{tmp_path / 'none.json'}", code=None
    )
    assert "cannot read" in missing_file.output
    assert (
        "key=value" in warden(warden_server, "rg", "create", "g", "--location", "x", "--tag", "oops", code=None).output
    )
    assert "--since" in warden(warden_server, "activity", "list", "--since", "yesterday", code=None).output
    role = tmp_path / "role.json"
    role.write_text(json.dumps({"properties": {"description": "no name"}}))
    assert (
        "InvalidRoleDefinition"
        in warden(warden_server, "role", "definition", "create", "--file", str(role), code=1).stderr
    )
    unknown_role = warden(
        warden_server, "role", "assignment", "create", "--assignee", str(uuid.uuid4()), "--role", "No Such Role", code=1
    )
    assert "RoleDefinitionDoesNotExist" in unknown_role.stderr
    server_side = warden(warden_server, "rg", "create", "bad?name", "--location", "westeurope", code=1)
    assert server_side.stderr.startswith("Error: (InvalidResourceGroupName)")

    assert "warden init" in warden(warden_server, "rg", "list", code=1, data_dir=tmp_path / "empty").stderr


def test_real_entry_point(warden_server: WardenServer) -> None:
    cli = [sys.executable, "-m", "warden.cli.main"]
    data_dir = ["--data-dir", str(warden_server.data_dir)]
    listed = subprocess.run([*cli, "subscription", "list", "-o", "json", *data_dir], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert warden_server.subscription in [s["subscriptionId"] for s in json.loads(listed.stdout)]
    missing = subprocess.run([*cli, "rg", "show", "no-such-group", *data_dir], capture_output=True, text=True)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: (ResourceGroupNotFound) Resource group 'no-such-group' could not be found."
    assert missing.stdout == ""


# --- client helpers (no server: a mock transport) --------------------------------------------

BOOTSTRAP = {
    "tenantId": "t1",
    "subscriptionId": "00000000-0000-0000-0000-000000000001",
    "clientId": "app",
    "clientSecret": "s3cret-value",
    "endpoint": "https://warden.test",
    "caCertPath": None,
}


def mock_client(handler: Any) -> tuple[WardenClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def route(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/oauth2/v2.0/token"):
            return httpx.Response(200, json={"access_token": f"tok{len(seen)}", "expires_in": 3600})
        return handler(request)

    return WardenClient(BOOTSTRAP, transport=httpx.MockTransport(route)), seen


def test_client_follows_next_links_and_stops_at_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "0"))
        body: dict[str, Any] = {"value": [{"n": page * 2}, {"n": page * 2 + 1}]}
        if page < 2:
            key = "@odata.nextLink" if page == 1 else "nextLink"
            body[key] = f"https://warden.test/items?api-version=1&page={page + 1}"
        return httpx.Response(200, json=body)

    client, seen = mock_client(handler)
    assert [i["n"] for i in client.list("/items", "1")] == [0, 1, 2, 3, 4, 5]
    assert sum(1 for r in seen if "token" not in r.url.path) == 3
    assert len([r for r in seen if "token" in r.url.path]) == 1  # the token is cached
    seen.clear()
    assert [i["n"] for i in client.list("/items", "1", limit=2)] == [0, 1]
    assert len(seen) == 1  # no page fetched beyond the limit


def test_client_refuses_to_send_its_token_elsewhere() -> None:
    client, seen = mock_client(lambda r: httpx.Response(200, json={"value": [], "nextLink": "https://evil.test/x"}))
    with pytest.raises(CliError, match="another origin"):
        client.list("/items", "1")
    assert all(r.url.host == "warden.test" for r in seen)


def test_client_polls_location_honouring_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []
    monkeypatch.setattr("warden.cli.client.time.sleep", delays.append)
    polls = iter([202, 202, 204])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(202, headers={"Location": "https://warden.test/op?x=1", "Retry-After": "3"})
        status = next(polls)
        return httpx.Response(status, headers={"Retry-After": "2"} if status == 202 else {})

    client, _ = mock_client(handler)
    assert client.delete("/thing", "1") is None
    assert delays == [3.0, 2.0, 2.0]


def test_client_lro_timeout_and_errors_are_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("warden.cli.client.time.sleep", lambda s: None)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(202, headers={"Location": "https://warden.test/op", "Retry-After": "30"})
        return httpx.Response(409, json={"error": {"code": "ScopeLocked", "message": "locked"}})

    client, _ = mock_client(handler)
    with pytest.raises(CliError, match="did not finish within 5 seconds"):
        client.delete("/thing", "1", timeout=5)
    with pytest.raises(CliError) as failed:
        client.delete("/thing", "1")
    assert str(failed.value) == "(ScopeLocked) locked"
    assert "s3cret" not in repr(client) and "tok" not in repr(client)


def test_client_retries_once_with_a_fresh_token_on_401() -> None:
    answers = iter([httpx.Response(401, json={"error": {"code": "ExpiredAuthenticationToken", "message": "x"}})])

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json={"ok": request.headers["authorization"]}))

    client, _ = mock_client(handler)
    assert client.get("/x", "1") == {"ok": "Bearer tok3"}
