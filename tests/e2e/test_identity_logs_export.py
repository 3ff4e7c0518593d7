"""Entra's diagnostic setting sends sign-in and audit events to a workspace's SigninLogs,
AADNonInteractiveUserSignInLogs and AuditLogs tables (the server's background loop exports), once
each, also after a crash between the append and the cursor update."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from support.server import LOGS_SCOPE, WardenServer
from warden.identity.events import record_directory_audit, record_signin
from warden.identity.log_export import SIGNIN_STREAM
from warden.identity.risk_store import set_cursor
from warden.identity.schema import identity_log_exports, signin_events
from warden.kernel.db import Database
from warden.kernel.settings import load_settings

WS_API = {"api-version": "2022-10-01"}
AAD_API = {"api-version": "2017-04-01"}


@pytest.fixture(scope="module")
def control_db(warden_server: WardenServer) -> Iterator[Database]:
    db = Database(load_settings(warden_server.data_dir).resolved_database_url)
    yield db
    db.dispose()


def _query(server: WardenServer, customer_id: str, query: str) -> list[list[Any]]:
    with server.client(scope=LOGS_SCOPE) as http:
        response = http.post(f"/v1/workspaces/{customer_id}/query", json={"query": query})
    assert response.status_code == 200, response.text
    return response.json()["tables"][0]["rows"]


def _poll(server: WardenServer, customer_id: str, query: str, want: int, timeout: float = 20) -> list[list[Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = _query(server, customer_id, query)
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


def _signin(db: Database, tenant_id: str, **record: Any) -> dict[str, Any]:
    with db.write() as conn:
        return record_signin(conn, tenant_id, record)


def test_sign_ins_and_audits_reach_the_workspace_once(  # type: ignore[no-untyped-def]
    warden_server: WardenServer, control_db: Database, resource_group: str
) -> None:
    tenant = warden_server.tenant
    setting_id = f"/providers/microsoft.aadiam/diagnosticSettings/to-ws-{uuid.uuid4().hex[:6]}"
    with warden_server.client() as http:
        ws_id = f"{resource_group}/providers/Microsoft.OperationalInsights/workspaces/identity-logs"
        workspace = http.put(ws_id, params=WS_API, json={"location": "westeurope"})
        assert workspace.status_code in (200, 201), workspace.text
        customer_id = workspace.json()["properties"]["customerId"]
        before = _signin(control_db, tenant, userId=str(uuid.uuid4()), ipAddress="192.0.2.200")
        logs = [{"category": c, "enabled": True} for c in ("SignInLogs", "NonInteractiveUserSignInLogs", "AuditLogs")]
        bad = http.put(
            setting_id,
            params=AAD_API,
            json={"properties": {"workspaceId": ws_id, "logs": [{"category": "Nope", "enabled": True}]}},
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidDiagnosticSettings"
        missing = http.put(setting_id, params=AAD_API, json={"properties": {"workspaceId": ws_id + "x", "logs": logs}})
        assert missing.status_code == 400
        created = http.put(setting_id, params=AAD_API, json={"properties": {"workspaceId": ws_id, "logs": logs}})
        assert created.status_code == 201, created.text
        user = str(uuid.uuid4())
        interactive = _signin(
            control_db,
            tenant,
            userId=user,
            userPrincipalName="grace@contoso.test",
            appId=str(uuid.uuid4()),
            appDisplayName="Portal",
            ipAddress="203.0.113.77",
            status={"errorCode": 50126, "failureReason": "Invalid username or password."},
            location={"city": "Oslo", "countryOrRegion": "NO"},
        )
        background = _signin(control_db, tenant, userId=user, isInteractive=False, ipAddress="203.0.113.77")
        service = _signin(control_db, tenant, servicePrincipalId=str(uuid.uuid4()), appId=str(uuid.uuid4()))
        with control_db.write() as conn:
            audit = record_directory_audit(
                conn,
                tenant,
                {"category": "GroupManagement", "activityDisplayName": "Add group", "operationType": "Add"},
            )
        rows = _poll(
            warden_server,
            customer_id,
            f"SigninLogs | where Id == '{interactive['id']}' "
            "| project UserPrincipalName, ResultType, IPAddress, Location, AppDisplayName, IsInteractive, Category",
            1,
        )
        assert rows == [["grace@contoso.test", "50126", "203.0.113.77", "NO", "Portal", True, "SignInLogs"]]
        quiet = f"AADNonInteractiveUserSignInLogs | where Id == '{background['id']}' | project UserId, IsInteractive"
        assert _poll(warden_server, customer_id, quiet, 1) == [[user, False]]
        audit_rows = _poll(
            warden_server,
            customer_id,
            f"AuditLogs | where Id == '{audit['id']}' | project ActivityDisplayName, Category, AADOperationType",
            1,
        )
        assert audit_rows == [["Add group", "GroupManagement", "Add"]]
        # Not exported: events from before the setting, and a category the setting does not enable.
        assert _query(warden_server, customer_id, f"SigninLogs | where Id == '{before['id']}' | count") == [[0]]
        assert _query(
            warden_server, customer_id, f"AADServicePrincipalSignInLogs | where Id == '{service['id']}' | count"
        ) == [[0]]

        # A crash after the append and before the cursor moved: the loop finds the pending batch,
        # takes its rows back out and sends it again, so each event is still there once.
        with control_db.write() as conn:
            seq = conn.execute(select(signin_events.c.seq).where(signin_events.c.id == interactive["id"])).scalar()
            newest = conn.execute(
                select(identity_log_exports.c.last_seq).where(
                    identity_log_exports.c.tenant_id == tenant, identity_log_exports.c.stream == SIGNIN_STREAM
                )
            ).scalar()
            set_cursor(conn, tenant, SIGNIN_STREAM, seq - 1)
            set_cursor(conn, tenant, f"{SIGNIN_STREAM}:pending", newest)
        # A restarted server recovers on its first pass; a running one on the next event.
        later = _signin(control_db, tenant, userId=user, ipAddress="203.0.113.78")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with control_db.read() as conn:
                pending = conn.execute(
                    select(identity_log_exports.c.last_seq).where(
                        identity_log_exports.c.tenant_id == tenant,
                        identity_log_exports.c.stream == f"{SIGNIN_STREAM}:pending",
                    )
                ).scalar()
            if pending is None:
                break
            time.sleep(0.3)
        assert pending is None
        assert _query(warden_server, customer_id, f"SigninLogs | where Id == '{later['id']}' | count") == [[1]]
        for table, event in (("SigninLogs", interactive), ("AADNonInteractiveUserSignInLogs", background)):
            assert _query(warden_server, customer_id, f"{table} | where Id == '{event['id']}' | count") == [[1]]
        assert http.delete(setting_id, params=AAD_API).status_code == 200
