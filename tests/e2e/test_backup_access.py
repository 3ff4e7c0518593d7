"""Who may do what with a vault: the Backup built-in roles, multi-user authorization and tenant isolation,
all through the real server."""

from __future__ import annotations

import base64
import socket
import time
import uuid
from pathlib import Path

import httpx
import pytest

from support.server import OWNER, Principal, WardenServer

pytestmark = pytest.mark.e2e
API = {"api-version": "2025-02-01"}
GUARD_API = {"api-version": "2025-07-01"}
BACKUP_CONTRIBUTOR = "5e467623-bb1f-42f4-a55d-6e525e11384b"
BACKUP_OPERATOR = "00c29273-979b-4161-815c-10b084fb9324"
BACKUP_READER = "a795c7a0-d4a2-40c1-ae25-d81f01202912"
BACKUP_MUA_OPERATOR = "f54b6d04-23c6-443e-b462-9c16ab7b4a52"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
RUN_TIME = "2026-01-01T02:00:00Z"


def policy_body(daily: int) -> dict:
    return {
        "properties": {
            "backupManagementType": "MAB",
            "schedulePolicy": {
                "schedulePolicyType": "SimpleSchedulePolicy",
                "scheduleRunFrequency": "Daily",
                "scheduleRunTimes": [RUN_TIME],
            },
            "retentionPolicy": {
                "retentionPolicyType": "LongTermRetentionPolicy",
                "dailySchedule": {
                    "retentionTimes": [RUN_TIME],
                    "retentionDuration": {"count": daily, "durationType": "Days"},
                },
            },
        }
    }


def item_id(vault_id: str, path: str) -> str:
    name = "FileFolder;" + base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")
    return f"{vault_id}/backupFabrics/Azure/protectionContainers/{socket.gethostname()}/protectedItems/{name}"


def wait_job(http: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = http.get(job_id, params=API).json()
        if job["properties"]["status"] not in ("InProgress", "Cancelling"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture
def protected(warden_server: WardenServer, arm: httpx.Client, resource_group: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A vault with a policy, one protected directory and one recovery point."""
    vault_id = f"{resource_group}/providers/Microsoft.RecoveryServices/vaults/vault-{uuid.uuid4().hex[:6]}"
    assert arm.put(vault_id, params=API, json={"location": "westeurope"}).status_code == 201
    assert arm.put(f"{vault_id}/backupPolicies/daily", params=API, json=policy_body(30)).status_code == 200
    source = tmp_path / "files"
    source.mkdir()
    (source / "a.txt").write_text("data")
    item = item_id(vault_id, str(source))
    body = {"properties": {"friendlyName": str(source), "policyId": f"{vault_id}/backupPolicies/daily"}}
    assert arm.put(item, params=API, json=body).status_code == 200
    accepted = arm.post(f"{item}/backup", params=API, json={"properties": {"objectType": "MabBackupRequest"}})
    assert accepted.status_code == 202, accepted.text
    assert wait_job(arm, accepted.json()["id"])["properties"]["status"] == "Completed"
    point = arm.get(f"{item}/recoveryPoints", params=API).json()["value"][0]["id"]
    return {"vault": vault_id, "item": item, "point": point, "group": resource_group, "source": source}


def as_role(server: WardenServer, role: str, scope: str) -> httpx.Client:
    principal = server.new_principal()
    server.assign(principal, role, scope)
    return server.client(principal)


def test_backup_roles_matrix(warden_server: WardenServer, protected: dict, tmp_path: Path) -> None:
    vault, item, point, group = protected["vault"], protected["item"], protected["point"], protected["group"]
    restore = {"properties": {"recoveryType": "AlternateLocation", "targetDirectory": str(tmp_path / "out")}}
    with as_role(warden_server, BACKUP_READER, group) as reader:
        for path in (
            vault,
            f"{vault}/backupPolicies",
            f"{vault}/backupProtectedItems",
            f"{vault}/backupJobs",
            f"{item}/recoveryPoints",
            point,
        ):
            assert reader.get(path, params=API).status_code == 200, path
        for method, path, body in (
            ("POST", f"{item}/backup", {"properties": {}}),
            ("POST", f"{point}/restore", restore),
            ("PUT", f"{vault}/backupPolicies/daily", policy_body(40)),
            ("DELETE", item, None),
        ):
            refused = reader.request(method, path, params=API, json=body)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "AuthorizationFailed", path
    with as_role(warden_server, BACKUP_OPERATOR, group) as operator:
        backed = operator.post(f"{item}/backup", params=API, json={"properties": {}})
        assert (
            backed.status_code == 202 and wait_job(operator, backed.json()["id"])["properties"]["status"] == "Completed"
        )
        restored = operator.post(f"{point}/restore", params=API, json=restore)
        assert (
            restored.status_code == 202
            and wait_job(operator, restored.json()["id"])["properties"]["status"] == "Completed"
        )
        assert (tmp_path / "out" / "files" / "a.txt").read_text() == "data"
        for method, path, body in (
            ("PUT", f"{vault}/backupPolicies/daily", policy_body(40)),
            ("DELETE", item, None),
            ("DELETE", point, None),
            ("DELETE", vault, None),
        ):
            refused = operator.request(method, path, params=API, json=body)
            assert refused.status_code == 403, (method, path, refused.text)
    with as_role(warden_server, BACKUP_CONTRIBUTOR, group) as contributor:
        assert contributor.put(f"{vault}/backupPolicies/daily", params=API, json=policy_body(40)).status_code == 200
        assignment = f"{group}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        grant = contributor.put(
            assignment,
            params={"api-version": "2022-04-01"},
            json={
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
                    "principalId": str(uuid.uuid4()),
                    "principalType": "ServicePrincipal",
                }
            },
        )
        assert grant.status_code == 403  # no access management
        assert contributor.delete(vault, params=API).status_code == 403  # Azure's role cannot delete vaults
        assert contributor.delete(item, params=API).status_code == 200  # stop protection, delete data (soft)


def _guard(warden_server: WardenServer, arm: httpx.Client, duration: str) -> tuple[str, str]:
    group = f"{warden_server.sub_scope()}/resourceGroups/guards-{uuid.uuid4().hex[:6]}"
    assert arm.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).status_code == 201
    guard = f"{group}/providers/Microsoft.DataProtection/resourceGuards/guard"
    created = arm.put(
        guard, params=GUARD_API, json={"location": "westeurope", "properties": {"approvalDuration": duration}}
    )
    assert created.status_code == 201, created.text
    operations = {
        o["vaultCriticalOperation"].rsplit("/", 1)[1] for o in created.json()["properties"]["resourceGuardOperations"]
    }
    assert {"disableSoftDeleteRequests", "deleteProtectedItemRequests", "updateProtectionPolicyRequests"} <= operations
    return group, guard


def test_mua_operations_need_a_current_approval_from_the_guard_owner(warden_server, arm, protected) -> None:  # type: ignore[no-untyped-def]
    vault, item, group = protected["vault"], protected["item"], protected["group"]
    guard_group, guard = _guard(warden_server, arm, "PT4S")
    admin: Principal = warden_server.new_principal()
    warden_server.assign(admin, BACKUP_CONTRIBUTOR, group)
    warden_server.assign(admin, "acdd72a7-3385-48ef-bd42-f606fba81ae7", guard_group)  # Reader: may see the guard
    soft_off = {"properties": {"securitySettings": {"softDeleteSettings": {"softDeleteState": "Disabled"}}}}
    with warden_server.client(admin) as http:
        # The backup admin cannot approve for itself: it may not write the guard.
        mine = http.put(
            guard,
            params=GUARD_API,
            json={
                "location": "westeurope",
                "properties": {"vaultCriticalOperationExclusionList": ["disableSoftDeleteRequests"]},
            },
        )
        assert mine.status_code == 403
        linked = http.put(
            f"{vault}/backupResourceGuardProxies/VaultProxy",
            params=API,
            json={"properties": {"resourceGuardResourceId": guard}},
        )
        assert linked.status_code == 200, linked.text
        state = http.get(vault, params=API).json()["properties"]["securitySettings"]
        assert state["multiUserAuthorization"] == "Enabled"

        for method, path, body in (
            ("PATCH", vault, soft_off),
            ("DELETE", item, None),
            ("PUT", f"{vault}/backupPolicies/daily", policy_body(7)),
            ("DELETE", f"{vault}/backupResourceGuardProxies/VaultProxy", None),
        ):
            refused = http.request(method, path, params=API, json=body)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "UserErrorMUAViolation", (
                path,
                refused.text,
            )
        # Raising retention is not critical; nothing refused above changed anything.
        assert http.put(f"{vault}/backupPolicies/daily", params=API, json=policy_body(60)).status_code == 200
        soft = http.get(vault, params=API).json()["properties"]["securitySettings"]["softDeleteSettings"]
        assert soft["softDeleteState"] == "Enabled"
        assert http.get(item, params=API).json()["properties"]["protectionState"] == "Protected"

        warden_server.assign(admin, BACKUP_MUA_OPERATOR, guard)  # the guard owner approves, time-boxed
        lowered = http.put(f"{vault}/backupPolicies/daily", params=API, json=policy_body(10))
        assert lowered.status_code == 200, lowered.text
        disabled = http.patch(vault, params=API, json=soft_off)
        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["properties"]["securitySettings"]["softDeleteSettings"]["softDeleteState"] == "Disabled"

        time.sleep(4.5)  # the approval window ends
        again = http.put(f"{vault}/backupPolicies/daily", params=API, json=policy_body(5))
        assert again.status_code == 403 and again.json()["error"]["code"] == "UserErrorMUAViolation"


def test_immutable_vault_refuses_lower_retention_and_point_deletion(arm, protected) -> None:  # type: ignore[no-untyped-def]
    vault, item, point = protected["vault"], protected["item"], protected["point"]
    locked = {"properties": {"securitySettings": {"immutabilitySettings": {"state": "Unlocked"}}}}
    assert arm.patch(vault, params=API, json=locked).status_code == 200
    lowered = arm.put(f"{vault}/backupPolicies/daily", params=API, json=policy_body(7))
    assert (
        lowered.status_code == 409
        and lowered.json()["error"]["code"] == "UserErrorCannotReduceRetentionForImmutableVault"
    )
    deleted = arm.delete(point, params=API)
    assert (
        deleted.status_code == 409
        and deleted.json()["error"]["code"] == "UserErrorCannotDeleteRecoveryPointFromImmutableVault"
    )
    stopped = arm.delete(item, params=API)
    assert stopped.status_code == 409
    assert arm.get(point, params=API).json()["properties"]["recoveryPointState"] == "Active"
    assert arm.put(f"{vault}/backupPolicies/short", params=API, json=policy_body(7)).status_code == 200
    moved = arm.put(
        item,
        params=API,
        json={"properties": {"friendlyName": str(protected["source"]), "policyId": f"{vault}/backupPolicies/short"}},
    )
    assert (
        moved.status_code == 409 and moved.json()["error"]["code"] == "UserErrorCannotReduceRetentionForImmutableVault"
    )
    assert arm.get(item, params=API).json()["properties"]["policyId"].endswith("/daily")
    assert arm.put(f"{vault}/backupPolicies/daily", params=API, json=policy_body(45)).status_code == 200


def test_another_tenants_owner_reaches_nothing(warden_server: WardenServer, protected: dict) -> None:
    from warden.bootstrap import add_tenant
    from warden.kernel.settings import load_settings
    from warden.platform import Platform

    platform = Platform(load_settings(warden_server.data_dir))
    try:
        tenant, _subscription, principal, secret = add_tenant(platform, "backup intruder")
    finally:
        platform.stop()
    token = httpx.post(
        f"{warden_server.endpoint}/{tenant}/oauth2/v2.0/token",
        verify=warden_server.ssl_context(),
        data={
            "grant_type": "client_credentials",
            "client_id": principal.app_id,
            "client_secret": secret.secret_text,
            "scope": "https://management.azure.com/.default",
        },
    ).json()["access_token"]
    with httpx.Client(
        base_url=warden_server.endpoint,
        verify=warden_server.ssl_context(),
        headers={"Authorization": f"Bearer {token}"},
    ) as other:
        for method, path, body in (
            ("GET", protected["vault"], None),
            ("GET", f"{protected['item']}/recoveryPoints", None),
            ("POST", f"{protected['item']}/backup", {"properties": {}}),
            ("POST", f"{protected['point']}/restore", {"properties": {"targetDirectory": "/tmp/x"}}),
            ("DELETE", protected["vault"], None),
        ):
            response = other.request(method, path, params=API, json=body)
            assert response.status_code in (403, 404), (path, response.text)
            assert "recoveryPoint" not in response.text or response.status_code == 404
