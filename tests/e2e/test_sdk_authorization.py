"""azure-mgmt-authorization against Warden, and RBAC enforced on real requests."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient

from support.server import ARM_SCOPE, CONTRIBUTOR, OWNER, READER, USER_ACCESS_ADMINISTRATOR

RG_API = {"api-version": "2021-04-01"}


def _auth_client(server, principal=None):  # type: ignore[no-untyped-def]
    return AuthorizationManagementClient(
        server.credential(principal),
        server.subscription,
        base_url=server.endpoint,
        connection_verify=server.ca,
        credential_scopes=[ARM_SCOPE],
    )


def _resource_client(server, principal=None):  # type: ignore[no-untyped-def]
    return ResourceManagementClient(
        server.credential(principal),
        server.subscription,
        base_url=server.endpoint,
        connection_verify=server.ca,
        credential_scopes=[ARM_SCOPE],
    )


def test_role_assignment_create_list_delete(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    client = _auth_client(warden_server)
    principal = warden_server.new_principal()
    reader = next(iter(client.role_definitions.list(resource_group, filter="roleName eq 'Reader'")))
    assert reader.name == READER and reader.role_type == "BuiltInRole"
    name = str(uuid.uuid4())
    created = client.role_assignments.create(
        resource_group,
        name,
        {"role_definition_id": reader.id, "principal_id": principal.object_id, "principal_type": "ServicePrincipal"},
    )
    assert created.principal_id == principal.object_id and created.scope == resource_group
    assert created.role_definition_id.endswith(READER)
    listed = list(
        client.role_assignments.list_for_scope(resource_group, filter=f"principalId eq '{principal.object_id}'")
    )
    assert [a.name for a in listed] == [name]
    # atScope() at the subscription does not include assignments below it.
    at_sub = list(client.role_assignments.list_for_scope(warden_server.sub_scope(), filter="atScope()"))
    assert name not in {a.name for a in at_sub}
    # Unfiltered listing at the subscription includes assignments below it, as in Azure.
    below = list(client.role_assignments.list_for_scope(warden_server.sub_scope()))
    assert name in {a.name for a in below}
    with pytest.raises(HttpResponseError) as duplicate:
        client.role_assignments.create(
            resource_group, str(uuid.uuid4()), {"role_definition_id": reader.id, "principal_id": principal.object_id}
        )
    assert duplicate.value.error.code == "RoleAssignmentExists"
    client.role_assignments.delete(resource_group, name)
    assert (
        list(client.role_assignments.list_for_scope(resource_group, filter=f"principalId eq '{principal.object_id}'"))
        == []
    )


def test_custom_role_definition_grants_exactly_its_actions(warden_server, resource_group, arm) -> None:  # type: ignore[no-untyped-def]
    client = _auth_client(warden_server)
    guid = str(uuid.uuid4())
    role_name = f"Group tagger {guid[:6]}"
    definition = client.role_definitions.create_or_update(
        warden_server.sub_scope(),
        guid,
        {
            "role_name": role_name,
            "description": "Reads and writes resource groups, nothing else",
            "role_type": "CustomRole",
            "permissions": [
                {
                    "actions": ["Microsoft.Resources/subscriptions/resourceGroups/*"],
                    "not_actions": ["Microsoft.Resources/subscriptions/resourceGroups/delete"],
                }
            ],
            "assignable_scopes": [warden_server.sub_scope()],
        },
    )
    assert definition.role_name == role_name and definition.role_type == "CustomRole"
    found = list(client.role_definitions.list(warden_server.sub_scope(), filter=f"roleName eq '{role_name}'"))
    assert [d.name for d in found] == [guid]
    principal = warden_server.new_principal()
    warden_server.assign(principal, guid, resource_group)
    with warden_server.client(principal) as http:
        tagged = http.patch(resource_group, params=RG_API, json={"tags": {"team": "blue"}})
        assert tagged.status_code == 200, tagged.text
        assert http.delete(resource_group, params=RG_API).status_code == 403
        identity = f"{resource_group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x"
        assert (
            http.put(identity, params={"api-version": "2023-01-31"}, json={"location": "westeurope"}).status_code == 403
        )
    # A role still in use cannot be deleted.
    with pytest.raises(HttpResponseError) as in_use:
        client.role_definitions.delete(warden_server.sub_scope(), guid)
    assert in_use.value.error.code == "RoleDefinitionHasAssignments"


def test_reader_cannot_write(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    reader = warden_server.new_principal()
    warden_server.assign(reader, READER, resource_group)
    client = _resource_client(warden_server, reader)
    group_name = resource_group.rsplit("/", 1)[-1]
    assert client.resource_groups.get(group_name).name == group_name
    with pytest.raises(HttpResponseError) as refused:
        client.resource_groups.update(group_name, {"tags": {"x": "y"}})
    assert refused.value.status_code == 403 and refused.value.error.code == "AuthorizationFailed"
    # The group list is filtered to what the reader may see.
    assert [g.name for g in client.resource_groups.list()] == [group_name]


def test_contributor_cannot_assign_roles_but_can_manage_resources(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    contributor = warden_server.new_principal()
    warden_server.assign(contributor, CONTRIBUTOR, resource_group)
    with warden_server.client(contributor) as http:
        identity = f"{resource_group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/by-contributor"
        assert (
            http.put(identity, params={"api-version": "2023-01-31"}, json={"location": "westeurope"}).status_code == 201
        )
        other = warden_server.new_principal()
        response = http.put(
            f"{resource_group}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            params={"api-version": "2022-04-01"},
            json={
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                    "principalId": other.object_id,
                }
            },
        )
        assert response.status_code == 403
        assert "Microsoft.Authorization/roleAssignments/write" in response.json()["error"]["message"]
        lock = http.put(
            f"{resource_group}/providers/Microsoft.Authorization/locks/nope",
            params={"api-version": "2016-09-01"},
            json={"properties": {"level": "ReadOnly"}},
        )
        assert lock.status_code == 403


def test_user_access_administrator_assigns_roles_but_cannot_write_resources(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    admin = warden_server.new_principal()
    warden_server.assign(admin, USER_ACCESS_ADMINISTRATOR, resource_group)
    target = warden_server.new_principal()
    with warden_server.client(admin) as http:
        response = http.put(
            f"{resource_group}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            params={"api-version": "2022-04-01"},
            json={
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
                    "principalId": target.object_id,
                }
            },
        )
        assert response.status_code == 201, response.text
        denied = http.patch(resource_group, params=RG_API, json={"tags": {"a": "b"}})
        assert denied.status_code == 403
    # The new Owner (at the group) can now write there.
    with warden_server.client(target) as http:
        assert http.patch(resource_group, params=RG_API, json={"tags": {"a": "b"}}).status_code == 200


def test_permissions_endpoint_reports_the_callers_roles(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    reader = warden_server.new_principal()
    warden_server.assign(reader, READER, resource_group)
    client = _auth_client(warden_server, reader)
    group_name = resource_group.rsplit("/", 1)[-1]
    permissions = list(client.permissions.list_for_resource_group(group_name))
    assert [p.actions for p in permissions] == [["*/read"]]
    with warden_server.client(reader) as http:
        other = http.get(
            f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/permissions",
            params={"api-version": "2022-04-01"},
        )
        assert other.status_code == 403


def test_deny_assignment_beats_owner(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    """Deny assignments are created by the platform itself; this uses the platform API on the
    server's own data dir, then checks the running server enforces it."""
    from warden.authz.deny_assignments import create_deny_assignment
    from warden.authz.engine import Permission
    from warden.kernel.settings import load_settings
    from warden.platform import Platform

    owner = warden_server.new_principal()
    warden_server.assign(owner, OWNER, resource_group)
    exempt = warden_server.new_principal()
    warden_server.assign(exempt, OWNER, resource_group)
    platform = Platform(load_settings(warden_server.data_dir))
    try:
        with platform.db.write() as conn:
            create_deny_assignment(
                conn,
                warden_server.tenant,
                resource_group,
                "no tag changes",
                [Permission(actions=("Microsoft.Resources/subscriptions/resourceGroups/write",))],
                [owner.object_id, exempt.object_id],
                exclude_principal_ids=[exempt.object_id],
            )
    finally:
        platform.stop()
    with warden_server.client(owner) as http:
        refused = http.patch(resource_group, params=RG_API, json={"tags": {"x": "1"}})
        assert refused.status_code == 403 and "deny assignment" in refused.json()["error"]["message"]
        assert http.get(resource_group, params=RG_API).status_code == 200  # reads are not denied
        listed = http.get(
            f"{resource_group}/providers/Microsoft.Authorization/denyAssignments", params={"api-version": "2022-04-01"}
        ).json()["value"]
        assert [d["properties"]["denyAssignmentName"] for d in listed] == ["no tag changes"]
    with warden_server.client(exempt) as http:
        assert http.patch(resource_group, params=RG_API, json={"tags": {"x": "1"}}).status_code == 200
