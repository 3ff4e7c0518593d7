"""Sign-in and audit logs, Identity Protection and app usage through Graph on the real server.

Events are written with ``record_signin`` / ``record_directory_audit`` into the server's own
database (as the sign-in page and the directory do); everything is read back over HTTPS.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.server import WardenServer
from warden.identity.events import record_directory_audit, record_signin
from warden.identity.users import create_user
from warden.kernel.db import Database
from warden.kernel.settings import load_settings

SECURITY_READER = "5d6b6bb7-de71-4623-b4af-96380a352509"


@pytest.fixture(scope="module")
def control_db(warden_server: WardenServer) -> Iterator[Database]:
    db = Database(load_settings(warden_server.data_dir).resolved_database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def reader(warden_server: WardenServer):  # type: ignore[no-untyped-def]
    """A service principal holding the Security Reader directory role (and no RBAC role)."""
    principal = warden_server.new_principal()
    with warden_server.client() as http:
        assigned = http.post(
            "/v1.0/roleManagement/directory/roleAssignments",
            json={"principalId": principal.object_id, "roleDefinitionId": SECURITY_READER, "directoryScopeId": "/"},
        )
        assert assigned.status_code == 201, assigned.text
    return principal


def _users(db: Database, tenant_id: str, *names: str) -> list[str]:
    suffix = uuid.uuid4().hex[:6]
    with db.write() as conn:
        return [create_user(conn, tenant_id, f"{n}-{suffix}@contoso.test", n.title()).object_id for n in names]


def _signin(db: Database, tenant_id: str, **record: Any) -> dict[str, Any]:
    with db.write() as conn:
        return record_signin(conn, tenant_id, record)


def _wait_for(fetch, check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_signins_filtered_by_reader_refused_to_others(warden_server: WardenServer, control_db: Database, reader):  # type: ignore[no-untyped-def]
    tenant = warden_server.tenant
    alice, bob = _users(control_db, tenant, "alice", "bob")
    app_a, app_b = str(uuid.uuid4()), str(uuid.uuid4())
    ok = _signin(control_db, tenant, userId=alice, appId=app_a, appDisplayName="Payroll", ipAddress="203.0.113.4")
    failed = _signin(
        control_db,
        tenant,
        userId=alice,
        appId=app_a,
        ipAddress="203.0.113.4",
        status={"errorCode": 50126, "failureReason": "Invalid username or password."},
    )
    _signin(control_db, tenant, userId=bob, appId=app_b, ipAddress="198.51.100.9")
    with control_db.write() as conn:
        audit = record_directory_audit(
            conn, tenant, {"category": "UserManagement", "activityDisplayName": "Add user", "operationType": "Add"}
        )
    with warden_server.client(reader) as http:
        listed = http.get("/v1.0/auditLogs/signIns", params={"$filter": f"userId eq '{alice}'"})
        assert listed.status_code == 200, listed.text
        values = listed.json()["value"]
        assert [v["id"] for v in values] == [failed["id"], ok["id"]]  # newest first
        first = values[1]
        assert first["appDisplayName"] == "Payroll" and first["status"]["errorCode"] == 0
        assert set(first) >= {"riskLevelDuringSignIn", "riskEventTypes_v2", "deviceDetail", "location", "isInteractive"}
        assert first["location"]["geoCoordinates"] == {"altitude": None, "latitude": None, "longitude": None}
        failures = http.get(
            "/v1.0/auditLogs/signIns", params={"$filter": f"appId eq '{app_a}' and status/errorCode ne 0"}
        ).json()["value"]
        assert [(v["id"], v["status"]["errorCode"]) for v in failures] == [(failed["id"], 50126)]
        future = http.get(
            "/v1.0/auditLogs/signIns",
            params={"$filter": f"userId eq '{alice}' and createdDateTime ge 2999-01-01T00:00:00Z"},
        )
        assert future.json()["value"] == []
        page = http.get("/v1.0/auditLogs/signIns", params={"$filter": f"userId eq '{alice}'", "$top": "1"}).json()
        assert len(page["value"]) == 1 and "@odata.nextLink" in page
        assert http.get(f"/v1.0/auditLogs/signIns/{ok['id']}").json()["userId"] == alice
        bad = http.get("/v1.0/auditLogs/signIns", params={"$filter": "password eq 'x'"})
        assert bad.status_code == 400 and "innerError" in bad.json()["error"], bad.text
        bad_or = http.get("/v1.0/auditLogs/signIns", params={"$filter": f"userId eq '{alice}' or userId eq 'x'"})
        assert bad_or.status_code == 400
        audits = http.get(
            "/v1.0/auditLogs/directoryAudits", params={"$filter": "activityDisplayName eq 'Add user'"}
        ).json()["value"]
        assert audit["id"] in [a["id"] for a in audits]
    stranger = warden_server.new_principal()
    with warden_server.client(stranger) as http:
        refused = http.get("/v1.0/auditLogs/signIns")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "Authorization_RequestDenied"
        assert http.get("/v1.0/identityProtection/riskyUsers").status_code == 403
    with warden_server.client() as http:  # the bootstrap Owner at "/" may read too
        assert http.get("/v1.0/auditLogs/signIns/" + failed["id"]).status_code == 200


def test_other_tenant_sees_only_its_own(warden_server: WardenServer, control_db: Database) -> None:
    from warden.bootstrap import add_tenant
    from warden.platform import Platform

    platform = Platform(load_settings(warden_server.data_dir))
    try:
        other, _sub, principal, secret = add_tenant(platform, "identity-logs-other")
    finally:
        platform.stop()
    mine = _signin(control_db, warden_server.tenant, userId=str(uuid.uuid4()), ipAddress="192.0.2.1")
    theirs = _signin(control_db, other, userId=str(uuid.uuid4()), ipAddress="192.0.2.2")
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as http:
        token = http.post(
            f"/{other}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": principal.app_id,
                "client_secret": secret.secret_text,
                "scope": "https://graph.microsoft.com/.default",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        seen = {s["id"] for s in http.get("/v1.0/auditLogs/signIns", headers=headers).json()["value"]}
        # Their event (and the token grant's own sign-in record, if the token endpoint writes one); never ours.
        assert theirs["id"] in seen and mine["id"] not in seen
        assert http.get(f"/v1.0/auditLogs/signIns/{mine['id']}", headers=headers).status_code == 404
        assert http.get("/v1.0/identityProtection/riskDetections", headers=headers).json()["value"] == []


def test_spray_and_leaked_credentials_to_risky_users_alerts_and_dismiss(  # type: ignore[no-untyped-def]
    warden_server: WardenServer, control_db: Database, reader
) -> None:
    tenant = warden_server.tenant
    ip = f"192.0.2.{uuid.uuid4().int % 200 + 20}"
    sprayed = _users(control_db, tenant, *[f"spray{i}" for i in range(10)])
    for user_id in sprayed:
        _signin(control_db, tenant, userId=user_id, ipAddress=ip, status={"errorCode": 50126})
    (dave,) = _users(control_db, tenant, "dave")
    _signin(control_db, tenant, userId=dave, ipAddress="203.0.113.50", riskEventTypes_v2=["leakedCredentials"])
    with warden_server.client(reader) as http:
        spray = _wait_for(
            lambda: http.get(
                "/v1.0/identityProtection/riskDetections",
                params={"$filter": f"riskEventType eq 'passwordSpray' and ipAddress eq '{ip}'"},
            ).json()["value"],
            lambda v: len(v) >= 10,
        )
        assert sorted(d["userId"] for d in spray) == sorted(sprayed)
        assert {(d["riskLevel"], d["detectionTimingType"], d["activity"]) for d in spray} == {
            ("medium", "offline", "signin")
        }
        risky = _wait_for(
            lambda: http.get(f"/v1.0/identityProtection/riskyUsers/{dave}").json(),
            lambda v: v.get("riskLevel") == "high",
        )
        assert (risky["riskLevel"], risky["riskState"], risky["riskDetail"]) == ("high", "atRisk", "none")
        alerts = http.get("/v1.0/security/alerts_v2", params={"$filter": "detectorId eq 'leakedCredentials'"})
        mine = [a for a in alerts.json()["value"] if a["evidence"][0]["userAccount"]["azureAdUserId"] == dave]
        assert len(mine) == 1 and mine[0]["status"] == "new" and mine[0]["severity"] == "high"
        assert mine[0]["evidence"][1]["ipAddress"] == "203.0.113.50"
        # A Security Reader reads but may not dismiss.
        assert http.post("/v1.0/identityProtection/riskyUsers/dismiss", json={"userIds": [dave]}).status_code == 403
    with warden_server.client() as http:
        assert http.post("/v1.0/identityProtection/riskyUsers/dismiss", json={"userIds": "x"}).status_code == 400
        unknown = http.post("/v1.0/identityProtection/riskyUsers/dismiss", json={"userIds": [dave, str(uuid.uuid4())]})
        assert unknown.status_code == 404  # and nothing changed:
        assert http.get(f"/v1.0/identityProtection/riskyUsers/{dave}").json()["riskState"] == "atRisk"
        assert http.post("/v1.0/identityProtection/riskyUsers/dismiss", json={"userIds": [dave]}).status_code == 204
        after = http.get(f"/v1.0/identityProtection/riskyUsers/{dave}").json()
        assert (after["riskLevel"], after["riskState"], after["riskDetail"]) == (
            "none",
            "dismissed",
            "adminDismissedAllRiskForUser",
        )
        alert = http.get(f"/v1.0/security/alerts_v2/{mine[0]['id']}").json()
        assert alert["status"] == "resolved"
        confirmed = http.post("/v1.0/identityProtection/riskyUsers/confirmCompromised", json={"userIds": [sprayed[0]]})
        assert confirmed.status_code == 204
        assert http.get(f"/v1.0/identityProtection/riskyUsers/{sprayed[0]}").json()["riskState"] == (
            "confirmedCompromised"
        )
        audits = http.get(
            "/v1.0/auditLogs/directoryAudits", params={"$filter": "loggedByService eq 'Identity Protection'"}
        ).json()["value"]
        assert {"DismissUser", "ConfirmAccountCompromised"} <= {a["activityDisplayName"] for a in audits}


def test_app_usage_report(warden_server: WardenServer, control_db: Database, reader) -> None:  # type: ignore[no-untyped-def]
    tenant = warden_server.tenant
    app = str(uuid.uuid4())
    erin, frank = _users(control_db, tenant, "erin", "frank")
    for user_id, code in ((erin, 0), (erin, 0), (erin, 50126), (frank, 0)):
        _signin(control_db, tenant, userId=user_id, appId=app, appDisplayName="Wiki", status={"errorCode": code})
    with warden_server.client(reader) as http:
        report = http.get("/v1.0/reports/getAzureADApplicationSignInSummary(period='D7')")
        assert report.status_code == 200, report.text
        (wiki,) = [a for a in report.json()["value"] if a["id"] == app]
        assert (wiki["appDisplayName"], wiki["successfulSignInCount"], wiki["failedSignInCount"]) == ("Wiki", 3, 1)
        assert wiki["successPercentage"] == 75.0 and wiki["distinctUserCount"] == 2
        per_user = {u["userId"]: (u["successfulSignInCount"], u["failedSignInCount"]) for u in wiki["users"]}
        assert per_user == {erin: (2, 1), frank: (1, 0)}
        bad = http.get("/v1.0/reports/getAzureADApplicationSignInSummary(period='D400')")
        assert bad.status_code == 400
