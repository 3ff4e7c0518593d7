"""azure-identity and azure-mgmt-resource, unchanged, against a real Warden server."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.resource.resources import ResourceManagementClient

from support.server import ARM_SCOPE

IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"


@pytest.fixture(scope="module")
def resources(warden_server):  # type: ignore[no-untyped-def]
    return ResourceManagementClient(
        warden_server.credential(),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
    )


def test_azure_identity_token_is_accepted(warden_server, arm) -> None:  # type: ignore[no-untyped-def]
    token = warden_server.credential().get_token(ARM_SCOPE)
    assert token.expires_on > 0
    response = arm.get(
        f"/subscriptions/{warden_server.subscription}",
        params={"api-version": "2022-12-01"},
        headers={"Authorization": f"Bearer {token.token}"},
    )
    assert response.status_code == 200
    assert response.json()["subscriptionId"] == warden_server.subscription


def test_resource_group_lifecycle_through_sdk(resources) -> None:  # type: ignore[no-untyped-def]
    name = f"RG-Sdk-{uuid.uuid4().hex[:6]}"
    created = resources.resource_groups.create_or_update(name, {"location": "West Europe", "tags": {"env": "test"}})
    assert created.name == name and created.location == "westeurope" and created.tags == {"env": "test"}
    assert created.properties.provisioning_state == "Succeeded"
    assert name in [group.name for group in resources.resource_groups.list()]
    tagged = [group.name for group in resources.resource_groups.list(filter="tagName eq 'env' and tagValue eq 'test'")]
    assert name in tagged and all(resources.resource_groups.get(g).tags.get("env") == "test" for g in tagged)
    with pytest.raises(HttpResponseError) as bad_filter:
        list(resources.resource_groups.list(filter="this is garbage"))
    assert bad_filter.value.status_code == 400
    # IDs are case-insensitive on lookup and keep their original spelling on output.
    fetched = resources.resource_groups.get(name.lower())
    assert fetched.name == name
    updated = resources.resource_groups.update(name, {"tags": {"env": "prod", "owner": "ops"}})
    assert updated.tags == {"env": "prod", "owner": "ops"}
    assert resources.resource_groups.check_existence(name) is True
    resources.resource_groups.begin_delete(name).result()
    assert resources.resource_groups.check_existence(name) is False
    with pytest.raises(ResourceNotFoundError):
        resources.resource_groups.get(name)


def test_deleting_a_group_deletes_its_resources(resources, warden_server) -> None:  # type: ignore[no-untyped-def]
    name = f"rg-cascade-{uuid.uuid4().hex[:6]}"
    resources.resource_groups.create_or_update(name, {"location": "westeurope"})
    identity_id = f"/subscriptions/{warden_server.subscription}/resourceGroups/{name}/providers/{IDENTITY_TYPE}/id1"
    created = resources.resources.begin_create_or_update_by_id(
        identity_id, api_version="2023-01-31", parameters={"location": "westeurope"}
    ).result()
    principal_id = created.properties["principalId"]
    assert created.id == identity_id
    resources.resource_groups.begin_delete(name).result()
    with pytest.raises(HttpResponseError):
        resources.resources.get_by_id(identity_id, api_version="2023-01-31")
    # The identity's service principal went with it.
    with warden_server.client() as http:
        assert http.get(f"/v1.0/servicePrincipals/{principal_id}").status_code == 404


def test_generic_resources_list_filter_and_paging(resources, warden_server) -> None:  # type: ignore[no-untyped-def]
    group = f"rg-list-{uuid.uuid4().hex[:6]}"
    resources.resource_groups.create_or_update(group, {"location": "westeurope"})
    base = f"/subscriptions/{warden_server.subscription}/resourceGroups/{group}/providers/{IDENTITY_TYPE}"
    for index in range(5):
        resources.resources.begin_create_or_update_by_id(
            f"{base}/id{index}",
            api_version="2023-01-31",
            parameters={"location": "westeurope", "tags": {"tier": "gold" if index % 2 else "silver"}},
        ).result()
    everything = list(resources.resources.list_by_resource_group(group, top=2))
    assert sorted(r.name for r in everything) == [f"id{i}" for i in range(5)]  # nextLink followed
    gold = list(resources.resources.list_by_resource_group(group, filter="tagName eq 'tier' and tagValue eq 'gold'"))
    assert sorted(r.name for r in gold) == ["id1", "id3"]
    typed = list(resources.resources.list(filter=f"resourceType eq '{IDENTITY_TYPE}'"))
    assert {f"id{i}" for i in range(5)} <= {r.name for r in typed}
    resources.resource_groups.begin_delete(group).result()


def test_etags_guard_concurrent_updates(arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    identity = f"{resource_group}/providers/{IDENTITY_TYPE}/etagged"
    params = {"api-version": "2023-01-31"}
    first = arm.put(identity, params=params, json={"location": "westeurope"})
    assert first.status_code == 201
    etag = first.json()["etag"]
    assert first.headers["ETag"] == etag
    system = first.json()["systemData"]
    assert system["createdByType"] == "Application" and system["createdAt"].endswith("Z")
    # If-None-Match: * refuses to overwrite an existing resource.
    assert (
        arm.put(identity, params=params, json={"location": "westeurope"}, headers={"If-None-Match": "*"}).status_code
        == 412
    )
    second = arm.patch(identity, params=params, json={"tags": {"a": "b"}}, headers={"If-Match": etag})
    assert second.status_code == 200 and second.json()["etag"] != etag
    stale = arm.patch(identity, params=params, json={"tags": {"c": "d"}}, headers={"If-Match": etag})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "PreconditionFailed"
    assert arm.get(identity, params=params).json()["tags"] == {"a": "b"}


def test_providers_and_operations_listing(arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    providers = arm.get(f"/subscriptions/{warden_server.subscription}/providers", params={"api-version": "2021-04-01"})
    namespaces = {p["namespace"] for p in providers.json()["value"]}
    assert {"Microsoft.Authorization", "Microsoft.ManagedIdentity"} <= namespaces
    operations = arm.get("/providers/Microsoft.Authorization/operations", params={"api-version": "2022-04-01"})
    names = {op["name"] for op in operations.json()["value"]}
    assert "Microsoft.Authorization/roleAssignments/write" in names
    assert "Microsoft.Authorization/locks/delete" in names
    fixed = arm.get("/providers/Microsoft.Resources/operations", params={"api-version": "2021-04-01"}).json()
    assert "Microsoft.Resources/subscriptions/resourceGroups/delete" in {op["name"] for op in fixed["value"]}
    registered = arm.post(
        f"/subscriptions/{warden_server.subscription}/providers/Microsoft.ManagedIdentity/register",
        params={"api-version": "2021-04-01"},
    )
    assert registered.status_code == 200 and registered.json()["registrationState"] == "Registered"


def test_tags_api_at_scope(resources, warden_server, arm) -> None:  # type: ignore[no-untyped-def]
    group = f"rg-tags-{uuid.uuid4().hex[:6]}"
    scope = resources.resource_groups.create_or_update(group, {"location": "westeurope", "tags": {"a": "1"}}).id
    tags = resources.tags.begin_create_or_update_at_scope(
        scope, {"properties": {"tags": {"b": "2", "c": "3"}}}
    ).result()
    assert tags.properties.tags == {"b": "2", "c": "3"} and tags.name == "default"
    merged = resources.tags.begin_update_at_scope(scope, {"operation": "Merge", "properties": {"tags": {"d": "4"}}})
    assert merged.result().properties.tags == {"b": "2", "c": "3", "d": "4"}
    removed = resources.tags.begin_update_at_scope(scope, {"operation": "Delete", "properties": {"tags": {"c": ""}}})
    assert removed.result().properties.tags == {"b": "2", "d": "4"}
    assert resources.resource_groups.get(group).tags == {"b": "2", "d": "4"}
    assert resources.tags.get_at_scope(scope).properties.tags == {"b": "2", "d": "4"}
    resources.tags.begin_delete_at_scope(scope).result()
    assert resources.resource_groups.get(group).tags == {}
    bad = arm.patch(
        f"{scope}/providers/Microsoft.Resources/tags/default",
        params={"api-version": "2021-04-01"},
        json={"operation": "Shuffle", "properties": {"tags": {}}},
    )
    assert bad.status_code == 400
    resources.resource_groups.begin_delete(group).result()


def test_a_type_lists_at_its_group_and_at_the_subscription(arm, warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    identity = f"{resource_group}/providers/{IDENTITY_TYPE}/listed"
    assert arm.put(identity, params={"api-version": "2023-01-31"}, json={"location": "westeurope"}).status_code == 201
    in_group = arm.get(f"{resource_group}/providers/{IDENTITY_TYPE}", params={"api-version": "2023-01-31"})
    assert [item["id"] for item in in_group.json()["value"]] == [identity]
    in_sub = arm.get(f"{warden_server.sub_scope()}/providers/{IDENTITY_TYPE}", params={"api-version": "2023-01-31"})
    assert identity in [item["id"] for item in in_sub.json()["value"]]
    # Creating one directly in a subscription is refused: the type lives in resource groups.
    direct = arm.put(
        f"{warden_server.sub_scope()}/providers/{IDENTITY_TYPE}/x",
        params={"api-version": "2023-01-31"},
        json={"location": "westeurope"},
    )
    assert direct.status_code == 400 and direct.json()["error"]["code"] == "InvalidResourceType"
