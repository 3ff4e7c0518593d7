"""``warden identity signins|audits|risky-users|report app-usage`` against the real server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from support.server import WardenServer
from warden.cli.identity import signin_filter
from warden.cli.main import app
from warden.identity.events import record_directory_audit, record_signin
from warden.identity.users import create_user
from warden.kernel.db import Database
from warden.kernel.settings import load_settings

runner = CliRunner()


@pytest.fixture(scope="module")
def control_db(warden_server: WardenServer) -> Iterator[Database]:
    db = Database(load_settings(warden_server.data_dir).resolved_database_url)
    yield db
    db.dispose()


def warden_json(server: WardenServer, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--output", "json", "--data-dir", str(server.data_dir)])
    assert result.exit_code == 0, result.output
    assert server.bootstrap["clientSecret"] not in result.output
    return json.loads(result.output)


def test_filter_building() -> None:
    guid = str(uuid.uuid4())
    assert signin_filter(guid.upper(), "O'Brien App", True) == (
        f"userId eq '{guid}' and appDisplayName eq 'O''Brien App' and status/errorCode ne 0"
    )
    assert signin_filter("a@b.test", None, False) == "userPrincipalName eq 'a@b.test'"
    assert signin_filter(None, None, False) is None


def test_identity_commands(warden_server: WardenServer, control_db: Database) -> None:
    tenant = warden_server.tenant
    app_id = str(uuid.uuid4())
    with control_db.write() as conn:
        user = create_user(conn, tenant, f"heidi-{uuid.uuid4().hex[:6]}@contoso.test", "Heidi")
        ok = record_signin(
            conn,
            tenant,
            {
                "userId": user.object_id,
                "userPrincipalName": user.user_principal_name,
                "appId": app_id,
                "appDisplayName": "Docs",
            },
        )
        failed = record_signin(
            conn,
            tenant,
            {
                "userId": user.object_id,
                "userPrincipalName": user.user_principal_name,
                "appId": app_id,
                "status": {"errorCode": 50126},
            },
        )
        record_directory_audit(
            conn, tenant, {"category": "ApplicationManagement", "activityDisplayName": "Add application"}
        )
    listed = warden_json(warden_server, "identity", "signins", "--user", user.user_principal_name)
    assert [s["id"] for s in listed] == [failed["id"], ok["id"]]
    only_failed = warden_json(warden_server, "identity", "signins", "--app", app_id, "--failures")
    assert [s["id"] for s in only_failed] == [failed["id"]]
    assert len(warden_json(warden_server, "identity", "signins", "--user", user.object_id, "--top", "1")) == 1
    audits = warden_json(warden_server, "identity", "audits", "--category", "ApplicationManagement")
    assert "Add application" in {a["activityDisplayName"] for a in audits}
    assert isinstance(warden_json(warden_server, "identity", "risky-users"), list)
    usage = warden_json(warden_server, "identity", "report", "app-usage", "--days", "1")
    (docs,) = [a for a in usage if a["id"] == app_id]
    assert (docs["successfulSignInCount"], docs["failedSignInCount"], docs["distinctUserCount"]) == (1, 1, 1)
    table = runner.invoke(app, ["identity", "report", "app-usage", "--data-dir", str(warden_server.data_dir)])
    assert table.exit_code == 0 and "Docs" in table.output
    bad = runner.invoke(
        app, ["identity", "risky-users", "--level", "extreme", "--data-dir", str(warden_server.data_dir)]
    )
    assert bad.exit_code != 0 and "Traceback" not in bad.output
