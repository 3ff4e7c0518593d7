"""azure-mgmt-recoveryservicesbackup, unchanged, against a real Warden server: MAB protection policies,
protected items, backup jobs and recovery points where the SDK's shapes fit files and folders."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservices import models as rs
from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient
from azure.mgmt.recoveryservicesbackup import models as bk

from support.server import ARM_SCOPE

pytestmark = pytest.mark.e2e


def clients(warden_server):  # type: ignore[no-untyped-def]
    common = {
        "base_url": warden_server.endpoint,
        "connection_verify": warden_server.ca,
        "credential_scopes": [ARM_SCOPE],
    }
    credential = warden_server.credential()
    return (
        RecoveryServicesClient(credential, warden_server.subscription, **common),
        RecoveryServicesBackupClient(credential, warden_server.subscription, **common),
    )


def mab_policy(days: int) -> bk.ProtectionPolicyResource:
    at = datetime(2026, 1, 1, 2, 30, tzinfo=UTC)
    return bk.ProtectionPolicyResource(
        properties=bk.MabProtectionPolicy(
            schedule_policy=bk.SimpleSchedulePolicy(schedule_run_frequency="Daily", schedule_run_times=[at]),
            retention_policy=bk.LongTermRetentionPolicy(
                daily_schedule=bk.DailyRetentionSchedule(
                    retention_times=[at], retention_duration=bk.RetentionDuration(count=days, duration_type="Days")
                ),
                monthly_schedule=bk.MonthlyRetentionSchedule(
                    retention_schedule_format_type="Daily",
                    retention_times=[at],
                    retention_duration=bk.RetentionDuration(count=12, duration_type="Months"),
                ),
            ),
        )
    )


def test_policies_items_jobs_and_recovery_points_through_the_sdk(warden_server, resource_group, tmp_path) -> None:  # type: ignore[no-untyped-def]
    vaults, backup = clients(warden_server)
    group = resource_group.rsplit("/", 1)[1]
    vault_name = f"sdk-{uuid.uuid4().hex[:6]}"
    vault = rs.Vault(location="westeurope", sku=rs.Sku(name="RS0", tier="Standard"), properties=rs.VaultProperties())
    vaults.vaults.begin_create_or_update(group, vault_name, vault).result()

    created = backup.protection_policies.create_or_update(vault_name, group, "files-daily", mab_policy(14))
    assert isinstance(created.properties, bk.MabProtectionPolicy)
    fetched = backup.protection_policies.get(vault_name, group, "files-daily")
    retention = fetched.properties.retention_policy
    assert retention.daily_schedule.retention_duration.count == 14
    assert retention.monthly_schedule.retention_duration.count == 12
    assert fetched.properties.schedule_policy.schedule_run_frequency == "Daily"
    with pytest.raises(HttpResponseError) as refused:
        backup.protection_policies.create_or_update(vault_name, group, "too-long", mab_policy(10000))
    assert refused.value.status_code == 400

    source = tmp_path / "sdk-files"
    source.mkdir()
    (source / "report.csv").write_text("a,b\n1,2\n")
    import base64

    item_name = "FileFolder;" + base64.urlsafe_b64encode(str(source).encode()).decode().rstrip("=")
    container = socket.gethostname()
    item = bk.ProtectedItemResource(
        properties=bk.MabFileFolderProtectedItem(friendly_name=str(source), policy_id=fetched.id)
    )
    backup.protected_items.begin_create_or_update(vault_name, group, "Azure", container, item_name, item).result()
    got = backup.protected_items.get(vault_name, group, "Azure", container, item_name)
    assert isinstance(got.properties, bk.MabFileFolderProtectedItem)
    assert got.properties.friendly_name == str(source) and got.properties.protection_state == "Protected"
    listed = list(backup.backup_protected_items.list(vault_name, group))
    assert [i.name for i in listed] == [item_name]

    backup.backups.trigger(
        vault_name, group, "Azure", container, item_name, bk.BackupRequestResource(properties=bk.IaasVMBackupRequest())
    )
    deadline = time.monotonic() + 60
    while True:
        jobs = list(backup.backup_jobs.list(vault_name, group))
        if jobs and jobs[0].properties.status not in ("InProgress", "Cancelling"):
            break
        assert time.monotonic() < deadline, "backup job did not finish"
        time.sleep(0.3)
    assert [(j.properties.operation, j.properties.status) for j in jobs] == [("Backup", "Completed")]
    assert jobs[0].properties.entity_friendly_name == str(source)
    points = list(backup.recovery_points.list(vault_name, group, "Azure", container, item_name))
    assert len(points) == 1 and isinstance(points[0].properties, bk.GenericRecoveryPoint)
    assert points[0].properties.recovery_point_time is not None
    one = backup.recovery_points.get(vault_name, group, "Azure", container, item_name, points[0].name)
    assert one.id == points[0].id


def test_vault_config_is_a_window_onto_the_vaults_soft_delete_settings(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    vaults, backup = clients(warden_server)
    group = resource_group.rsplit("/", 1)[1]
    name = f"cfg-{uuid.uuid4().hex[:6]}"
    vault = rs.Vault(location="westeurope", sku=rs.Sku(name="RS0", tier="Standard"), properties=rs.VaultProperties())
    vaults.vaults.begin_create_or_update(group, name, vault).result()
    config = backup.backup_resource_vault_configs.get(name, group)
    assert config.properties.soft_delete_feature_state == "Enabled"
    assert config.properties.soft_delete_retention_period_in_days == 14
    off = bk.BackupResourceVaultConfigResource(
        properties=bk.BackupResourceVaultConfig(soft_delete_feature_state="Disabled")
    )
    assert (
        backup.backup_resource_vault_configs.update(name, group, off).properties.soft_delete_feature_state == "Disabled"
    )
    soft = vaults.vaults.get(group, name).properties.security_settings.soft_delete_settings
    assert soft.soft_delete_state == "Disabled"
    always = bk.BackupResourceVaultConfigResource(
        properties=bk.BackupResourceVaultConfig(soft_delete_feature_state="AlwaysON")
    )
    answer = backup.backup_resource_vault_configs.update(name, group, always)
    assert answer.properties.is_soft_delete_feature_state_editable is False
    with pytest.raises(HttpResponseError) as refused:
        backup.backup_resource_vault_configs.update(name, group, off)
    assert refused.value.error.code == "UserErrorSoftDeleteAlwaysOnCannotBeChanged"
    storage = backup.backup_resource_storage_configs_non_crr.get(name, group)
    assert storage.properties.storage_model_type == "LocallyRedundant"
