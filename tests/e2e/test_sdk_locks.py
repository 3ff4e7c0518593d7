"""azure-mgmt-resource-locks against Warden: CanNotDelete and ReadOnly, inherited downward."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resource.locks import ManagementLockClient
from azure.mgmt.resource.resources import ResourceManagementClient

from support.server import ARM_SCOPE


@pytest.fixture(scope="module")
def clients(warden_server):  # type: ignore[no-untyped-def]
    common = {
        "base_url": warden_server.endpoint,
        "connection_verify": warden_server.ca,
        "credential_scopes": [ARM_SCOPE],
    }
    credential = warden_server.credential()
    return (
        ManagementLockClient(credential, warden_server.subscription, **common),
        ResourceManagementClient(credential, warden_server.subscription, **common),
    )


def test_can_not_delete_lock_blocks_group_deletion(clients) -> None:  # type: ignore[no-untyped-def]
    locks, resources = clients
    group = f"rg-locked-{uuid.uuid4().hex[:6]}"
    resources.resource_groups.create_or_update(group, {"location": "westeurope"})
    lock = locks.management_locks.create_or_update_at_resource_group_level(
        group, "keep", {"level": "CanNotDelete", "notes": "production"}
    )
    assert lock.level == "CanNotDelete" and lock.notes == "production"
    assert [item.name for item in locks.management_locks.list_at_resource_group_level(group)] == ["keep"]
    with pytest.raises(HttpResponseError) as refused:
        resources.resource_groups.begin_delete(group).result()
    assert refused.value.error.code == "ScopeLocked"
    # CanNotDelete still allows updates.
    assert resources.resource_groups.update(group, {"tags": {"x": "y"}}).tags == {"x": "y"}
    locks.management_locks.delete_at_resource_group_level(group, "keep")
    resources.resource_groups.begin_delete(group).result()
    assert resources.resource_groups.check_existence(group) is False


def test_read_only_lock_on_subscription_is_inherited(clients, warden_server) -> None:  # type: ignore[no-untyped-def]
    locks, resources = clients
    group = f"rg-ro-{uuid.uuid4().hex[:6]}"
    resources.resource_groups.create_or_update(group, {"location": "westeurope"})
    locks.management_locks.create_or_update_at_subscription_level("freeze", {"level": "ReadOnly"})
    try:
        with pytest.raises(HttpResponseError) as refused:
            resources.resource_groups.update(group, {"tags": {"changed": "yes"}})
        assert refused.value.error.code == "ScopeLocked"
        with pytest.raises(HttpResponseError):
            resources.resource_groups.create_or_update(f"{group}-new", {"location": "westeurope"})
        # Reads still work under a ReadOnly lock.
        assert resources.resource_groups.get(group).tags in ({}, None)
    finally:
        locks.management_locks.delete_at_subscription_level("freeze")
    assert resources.resource_groups.update(group, {"tags": {"changed": "yes"}}).tags == {"changed": "yes"}
    resources.resource_groups.begin_delete(group).result()


def test_lock_on_a_resource_blocks_deleting_it_and_its_group(clients, warden_server, arm) -> None:  # type: ignore[no-untyped-def]
    locks, resources = clients
    group = f"rg-reslock-{uuid.uuid4().hex[:6]}"
    resources.resource_groups.create_or_update(group, {"location": "westeurope"})
    identity = (
        f"/subscriptions/{warden_server.subscription}/resourceGroups/{group}/providers/"
        "Microsoft.ManagedIdentity/userAssignedIdentities/locked-id"
    )
    resources.resources.begin_create_or_update_by_id(
        identity, api_version="2023-01-31", parameters={"location": "westeurope"}
    ).result()
    locks.management_locks.create_or_update_by_scope(identity, "nodelete", {"level": "CanNotDelete"})
    deleted = arm.delete(identity, params={"api-version": "2023-01-31"})
    assert deleted.status_code == 409 and deleted.json()["error"]["code"] == "ScopeLocked"
    with pytest.raises(HttpResponseError):
        resources.resource_groups.begin_delete(group).result()
    locks.management_locks.delete_by_scope(identity, "nodelete")
    resources.resource_groups.begin_delete(group).result()


def test_invalid_lock_level_is_rejected(arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    response = arm.put(
        f"{resource_group}/providers/Microsoft.Authorization/locks/bad",
        params={"api-version": "2016-09-01"},
        json={"properties": {"level": "Sometimes"}},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidLockLevel"
    listed = arm.get(f"{resource_group}/providers/Microsoft.Authorization/locks", params={"api-version": "2016-09-01"})
    assert listed.json()["value"] == []
