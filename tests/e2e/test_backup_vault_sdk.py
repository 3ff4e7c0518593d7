"""azure-mgmt-recoveryservices, unchanged, against a real Warden server: vaults and their security settings."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservices import models as rs

from support.server import ARM_SCOPE

API = {"api-version": "2025-02-01"}


@pytest.fixture(scope="module")
def vaults_client(warden_server):  # type: ignore[no-untyped-def]
    return RecoveryServicesClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
    )


def _create(client: RecoveryServicesClient, group: str, name: str, **properties) -> rs.Vault:  # type: ignore[no-untyped-def]
    vault = rs.Vault(
        location="westeurope", sku=rs.Sku(name="RS0", tier="Standard"), properties=rs.VaultProperties(**properties)
    )
    return client.vaults.begin_create_or_update(group, name, vault).result()


def test_vault_defaults_soft_delete_on_for_14_days(vaults_client, resource_group) -> None:  # type: ignore[no-untyped-def]
    group = resource_group.rsplit("/", 1)[1]
    created = _create(vaults_client, group, "vault-defaults")
    assert created.sku.name == "RS0"
    soft = created.properties.security_settings.soft_delete_settings
    assert (soft.soft_delete_state, soft.soft_delete_retention_period_in_days) == ("Enabled", 14)
    assert created.properties.security_settings.immutability_settings.state == "Disabled"
    fetched = vaults_client.vaults.get(group, "vault-defaults")
    assert fetched.id == created.id and fetched.properties.provisioning_state == "Succeeded"
    assert [v.name for v in vaults_client.vaults.list_by_resource_group(group)] == ["vault-defaults"]


def test_soft_delete_update_and_always_on_is_permanent(vaults_client, resource_group, arm) -> None:  # type: ignore[no-untyped-def]
    group = resource_group.rsplit("/", 1)[1]
    _create(vaults_client, group, "vault-soft")
    patch = rs.PatchVault(
        properties=rs.VaultProperties(
            security_settings=rs.SecuritySettings(
                soft_delete_settings=rs.SoftDeleteSettings(
                    soft_delete_state="Enabled", soft_delete_retention_period_in_days=30
                )
            )
        )
    )
    updated = vaults_client.vaults.begin_update(group, "vault-soft", patch).result()
    assert updated.properties.security_settings.soft_delete_settings.soft_delete_retention_period_in_days == 30
    for days in (13, 181):
        bad = arm.patch(
            f"{resource_group}/providers/Microsoft.RecoveryServices/vaults/vault-soft",
            params=API,
            json={
                "properties": {"securitySettings": {"softDeleteSettings": {"softDeleteRetentionPeriodInDays": days}}}
            },
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidRequestContent", bad.text
    always = rs.PatchVault(
        properties=rs.VaultProperties(
            security_settings=rs.SecuritySettings(
                soft_delete_settings=rs.SoftDeleteSettings(soft_delete_state="AlwaysON")
            )
        )
    )
    assert (
        vaults_client.vaults.begin_update(group, "vault-soft", always)
        .result()
        .properties.security_settings.soft_delete_settings.soft_delete_state
        == "AlwaysON"
    )
    off = rs.PatchVault(
        properties=rs.VaultProperties(
            security_settings=rs.SecuritySettings(
                soft_delete_settings=rs.SoftDeleteSettings(soft_delete_state="Disabled")
            )
        )
    )
    with pytest.raises(HttpResponseError) as refused:
        vaults_client.vaults.begin_update(group, "vault-soft", off).result()
    assert refused.value.error.code == "UserErrorSoftDeleteAlwaysOnCannotBeChanged"
    after = vaults_client.vaults.get(group, "vault-soft").properties.security_settings.soft_delete_settings
    assert (after.soft_delete_state, after.soft_delete_retention_period_in_days) == ("AlwaysON", 30)


def test_locked_immutability_is_irreversible(vaults_client, resource_group) -> None:  # type: ignore[no-untyped-def]
    group = resource_group.rsplit("/", 1)[1]
    _create(vaults_client, group, "vault-immutable")

    def set_state(state: str) -> rs.Vault:
        patch = rs.PatchVault(
            properties=rs.VaultProperties(
                security_settings=rs.SecuritySettings(immutability_settings=rs.ImmutabilitySettings(state=state))
            )
        )
        return vaults_client.vaults.begin_update(group, "vault-immutable", patch).result()

    assert set_state("Unlocked").properties.security_settings.immutability_settings.state == "Unlocked"
    assert set_state("Disabled").properties.security_settings.immutability_settings.state == "Disabled"
    assert set_state("Locked").properties.security_settings.immutability_settings.state == "Locked"
    for state in ("Unlocked", "Disabled"):
        with pytest.raises(HttpResponseError) as refused:
            set_state(state)
        assert refused.value.error.code == "UserErrorImmutabilityLockedCannotBeChanged"
    assert (
        vaults_client.vaults.get(group, "vault-immutable").properties.security_settings.immutability_settings.state
        == "Locked"
    )


def test_bad_sku_is_refused_and_nothing_is_written(arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    vault_id = f"{resource_group}/providers/Microsoft.RecoveryServices/vaults/v-{uuid.uuid4().hex[:6]}"
    bad = arm.put(vault_id, params=API, json={"location": "westeurope", "sku": {"name": "Premium"}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidSku"
    assert arm.get(vault_id, params=API).status_code == 404


def test_empty_vault_deletes(vaults_client, resource_group, arm) -> None:  # type: ignore[no-untyped-def]
    group = resource_group.rsplit("/", 1)[1]
    _create(vaults_client, group, "vault-gone")
    vaults_client.vaults.begin_delete(group, "vault-gone").result()
    gone = arm.get(f"{resource_group}/providers/Microsoft.RecoveryServices/vaults/vault-gone", params=API)
    assert gone.status_code == 404
