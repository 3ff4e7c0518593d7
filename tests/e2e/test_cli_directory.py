"""``warden user|group|app|sp`` (directory commands) against a real server, in-process via Typer."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from support.server import WardenServer
from warden.cli.main import app

runner = CliRunner()
PASSWORD = "correct-horse-battery-staple-42"


def warden(server: WardenServer, *args: str, code: int | None = 0) -> Result:
    """Run ``warden ARGS`` in-process; check the exit code (``None``: any non-zero) and that no
    traceback, bootstrap secret or token was printed."""
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        result = runner.invoke(app, [*args, "--data-dir", str(server.data_dir)])
    finally:
        os.umask(umask)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"warden {' '.join(args)} raised {result.exception!r}\n{result.output}")
    if code is None:
        assert result.exit_code != 0, result.output
    else:
        assert result.exit_code == code, result.output
    assert server.bootstrap["clientSecret"] not in result.output and "eyJ" not in result.output
    assert "Traceback" not in result.output and PASSWORD not in result.output
    return result


def warden_json(server: WardenServer, *args: str) -> Any:
    return json.loads(warden(server, *args, "--output", "json").stdout)


def test_user_commands(warden_server: WardenServer) -> None:
    upn = f"cli{uuid.uuid4().hex[:6]}@contoso.example"
    created = warden_json(
        warden_server, "user", "create", "--upn", upn, "--display-name", "Cli User", "--password", PASSWORD
    )
    assert created["userPrincipalName"] == upn and created["accountEnabled"] is True
    weak = warden(
        warden_server, "user", "create", "--upn", f"x{upn}", "--display-name", "X", "--password", "abc", code=1
    )
    assert "password" in weak.output.lower()
    assert upn in [u["userPrincipalName"] for u in warden_json(warden_server, "user", "list")]
    assert upn in warden(warden_server, "user", "list").stdout  # table
    filtered = warden_json(warden_server, "user", "list", "--filter", f"userPrincipalName eq '{upn}'")
    assert [u["id"] for u in filtered] == [created["id"]]
    updated = warden_json(warden_server, "user", "update", upn, "--display-name", "Renamed", "--disabled")
    assert (updated["displayName"], updated["accountEnabled"]) == ("Renamed", False)
    assert warden_json(warden_server, "user", "show", created["id"])["displayName"] == "Renamed"
    assert "changed" in warden(warden_server, "user", "set-password", upn, "--password", PASSWORD + "!").stderr
    warden(warden_server, "user", "delete", upn)
    assert "Request_ResourceNotFound" in warden(warden_server, "user", "show", upn, code=1).output


def test_group_commands_with_nesting_and_owners(warden_server: WardenServer) -> None:
    upn = f"gm{uuid.uuid4().hex[:6]}@contoso.example"
    user = warden_json(warden_server, "user", "create", "--upn", upn, "--display-name", "Gm", "--password", PASSWORD)
    outer_name, inner_name = f"outer-{uuid.uuid4().hex[:6]}", f"inner-{uuid.uuid4().hex[:6]}"
    outer = warden_json(warden_server, "group", "create", outer_name, "--description", "ops")
    inner = warden_json(warden_server, "group", "create", inner_name)
    warden(warden_server, "group", "add-member", outer_name, "--member", inner["id"])
    warden(warden_server, "group", "add-member", inner_name, "--member", upn)
    direct = warden_json(warden_server, "group", "members", outer_name)
    assert [m["id"] for m in direct] == [inner["id"]]
    transitive = warden_json(warden_server, "group", "members", outer["id"], "--transitive")
    assert {m["id"] for m in transitive} == {inner["id"], user["id"]}
    warden(warden_server, "group", "add-owner", outer_name, "--owner", upn)
    assert [o["id"] for o in warden_json(warden_server, "group", "owners", outer_name)] == [user["id"]]
    assert warden_json(warden_server, "group", "show", outer_name)["description"] == "ops"
    assert outer["id"] in [g["id"] for g in warden_json(warden_server, "group", "list")]
    warden(warden_server, "group", "remove-member", inner_name, "--member", user["id"])
    assert warden_json(warden_server, "group", "members", inner_name) == []
    warden(warden_server, "group", "delete", inner_name)
    warden(warden_server, "group", "delete", outer["id"])
    assert "no group is named" in warden(warden_server, "group", "show", outer_name, code=1).output


def test_app_commands_and_the_linked_service_principal(warden_server: WardenServer) -> None:
    name = f"cli-app-{uuid.uuid4().hex[:6]}"
    created = warden_json(warden_server, "app", "create", "--name", name, "--web-redirect-uri", "https://a.example/cb")
    assert created["web"]["redirectUris"] == ["https://a.example/cb"]
    updated = warden_json(
        warden_server,
        "app",
        "add-redirect-uri",
        created["appId"],
        "--uri",
        "http://localhost:8400/",
        "--platform",
        "spa",
    )
    assert updated["spa"]["redirectUris"] == ["http://localhost:8400/"]
    bad = warden(warden_server, "app", "add-redirect-uri", created["id"], "--uri", "http://insecure.example/", code=1)
    assert "https" in bad.output
    secret = warden_json(warden_server, "app", "add-secret", created["id"], "--name", "ci")
    assert secret["clientId"] == created["appId"] and secret["clientSecret"]
    assert warden_server.token(warden_server.admin.__class__(created["appId"], secret["clientSecret"], ""))
    principals = [p for p in warden_json(warden_server, "sp", "list") if p["appId"] == created["appId"]]
    assert len(principals) == 1
    shown = warden_json(warden_server, "sp", "show", principals[0]["id"])
    assert shown["applicationObjectId"] == created["id"]
    assert name in [a["displayName"] for a in warden_json(warden_server, "app", "list")]
    assert warden_json(warden_server, "app", "show", created["id"])["appId"] == created["appId"]
    warden(warden_server, "app", "delete", created["appId"])
    assert created["appId"] not in [p["appId"] for p in warden_json(warden_server, "sp", "list")]
