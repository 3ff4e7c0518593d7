"""Groups in RBAC, the directory-role matrix, and group self-service, against the real HTTPS server."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from support.graph import (
    GRAPH,
    add_member,
    assign_directory_role,
    create_group,
    create_user,
    graph,
    server_platform,
    user_client,
)
from support.server import READER
from warden.identity.schema import directory_audit_events

RG_API = {"api-version": "2021-04-01"}


@pytest.fixture(scope="module")
def platform(warden_server):  # type: ignore[no-untyped-def]
    with server_platform(warden_server) as p:
        yield p


def test_nested_group_role_assignment_grants_its_transitive_members(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    member = warden_server.new_principal()
    with graph(warden_server) as admin:
        inner, outer = create_group(admin), create_group(admin)
        assert add_member(admin, inner, member.object_id).status_code == 204
        assert add_member(admin, outer, inner).status_code == 204
        # a cycle must not break authentication or authorization
        assert add_member(admin, inner, outer).status_code == 204
        transitive = admin.get(f"/v1.0/groups/{outer}/transitiveMembers").json()["value"]
        assert {m["id"] for m in transitive} == {inner, member.object_id}
    with warden_server.client(member) as http:
        assert http.get(resource_group, params=RG_API).status_code == 403
    with warden_server.client() as arm:
        name = "5b0a6f0e-4c8e-4a55-9d1c-7d2f1f6a0b11"
        assignment = f"{resource_group}/providers/Microsoft.Authorization/roleAssignments/{name}"
        wrong_type = arm.put(
            assignment,
            params={"api-version": "2022-04-01"},
            json={
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                    "principalId": outer,
                    "principalType": "User",
                }
            },
        )
        assert wrong_type.status_code == 400 and wrong_type.json()["error"]["code"] == "PrincipalTypeNotSupported"
        created = arm.put(
            assignment,
            params={"api-version": "2022-04-01"},
            json={
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                    "principalId": outer,
                    "principalType": "Group",
                }
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["properties"]["principalType"] == "Group"
        inherited = arm.get(
            f"{resource_group}/providers/Microsoft.Authorization/roleAssignments",
            params={"api-version": "2022-04-01", "$filter": f"assignedTo('{member.object_id}')"},
        ).json()["value"]
        assert [a["id"] for a in inherited] == [created.json()["id"]]  # inherited through the nested groups
    with warden_server.client(member) as http:
        assert http.get(resource_group, params=RG_API).status_code == 200
        # Reader, not Contributor: the group's role is exactly what the member gets.
        assert http.patch(resource_group, params=RG_API, json={"tags": {"a": "b"}}).status_code == 403
    with graph(warden_server) as admin:
        assert admin.delete(f"/v1.0/groups/{inner}/members/{member.object_id}/$ref").status_code == 204
    with warden_server.client(member) as http:
        assert http.get(resource_group, params=RG_API).status_code == 403


# What each directory role may do: (create user, create group, create application, assign a role, read users)
MATRIX = {
    "User Administrator": (True, True, False, False, True),
    "Groups Administrator": (False, True, False, False, True),
    "Application Administrator": (False, False, True, False, True),
    "Security Administrator": (False, False, False, False, True),
    "Security Reader": (False, False, False, False, True),
    None: (False, False, False, False, False),
}


@pytest.mark.parametrize("role", list(MATRIX), ids=lambda r: str(r))
def test_directory_role_matrix(warden_server, role) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    if role:
        with graph(warden_server) as admin:
            assign_directory_role(admin, role, principal.object_id)
    with graph(warden_server, principal) as http:
        user = http.post(
            "/v1.0/users",
            json={
                "accountEnabled": True,
                "displayName": "m",
                "mailNickname": "m",
                "userPrincipalName": f"m{principal.object_id[:8]}@contoso.example",
                "passwordProfile": {"password": "correct-horse-battery-staple-42"},
            },
        )
        group = http.post("/v1.0/groups", json={"displayName": "g", "mailNickname": "g", "securityEnabled": True})
        application = http.post("/v1.0/applications", json={"displayName": "a"})
        assigned = http.post(
            "/v1.0/roleManagement/directory/roleAssignments",
            # elevating itself to Global Administrator: no role below it may
            json={"roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10", "principalId": principal.object_id},
        )
        read = http.get("/v1.0/users")
    outcome = tuple(r.status_code in (200, 201) for r in (user, group, application, assigned, read))
    assert outcome == MATRIX[role], [r.text[:120] for r in (user, group, application, assigned, read)]
    for response in (user, group, application, assigned, read):
        if response.status_code == 403:
            assert response.json()["error"] == {
                **response.json()["error"],
                "code": "Authorization_RequestDenied",
                "message": "Insufficient privileges to complete the operation.",
            }


def test_user_administrator_cannot_reset_an_administrators_password(warden_server) -> None:  # type: ignore[no-untyped-def]
    helpdesk = warden_server.new_principal()
    with graph(warden_server) as admin:
        assign_directory_role(admin, "User Administrator", helpdesk.object_id)
        plain, privileged = create_user(admin), create_user(admin)
        assign_directory_role(admin, "Security Reader", privileged.object_id)
    reset = {"passwordProfile": {"password": "another-long-passphrase-77", "forceChangePasswordNextSignIn": True}}
    with graph(warden_server, helpdesk) as http:
        assert http.patch(f"/v1.0/users/{plain.object_id}", json=reset).status_code == 204
        refused = http.patch(f"/v1.0/users/{privileged.object_id}", json=reset)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
        assert http.delete(f"/v1.0/users/{privileged.object_id}").status_code == 403
    with graph(warden_server) as admin:  # the Global Administrator may
        assert admin.patch(f"/v1.0/users/{privileged.object_id}", json=reset).status_code == 204


def test_application_administrator_cannot_add_secrets_to_an_administrator_principal(warden_server) -> None:  # type: ignore[no-untyped-def]
    app_admin, plain, privileged = (warden_server.new_principal() for _ in range(3))
    with graph(warden_server) as admin:
        assign_directory_role(admin, "Application Administrator", app_admin.object_id)
        assign_directory_role(admin, "Security Reader", privileged.object_id)
    with graph(warden_server, app_admin) as http:
        assert http.post(f"/v1.0/servicePrincipals/{plain.object_id}/addPassword", json={}).status_code == 200
        refused = http.post(f"/v1.0/servicePrincipals/{privileged.object_id}/addPassword", json={})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
        assert http.delete(f"/v1.0/servicePrincipals/{privileged.object_id}").status_code == 403
        # nor to the bootstrap administrator, which is a Global Administrator
        bootstrap = http.get(
            "/v1.0/servicePrincipals", params={"$filter": f"appId eq '{warden_server.bootstrap['clientId']}'"}
        ).json()["value"][0]["id"]
        assert http.post(f"/v1.0/servicePrincipals/{bootstrap}/addPassword", json={}).status_code == 403


def test_group_self_service_owners_decide_join_requests(warden_server, platform) -> None:  # type: ignore[no-untyped-def]
    groups_admin = warden_server.new_principal()
    with graph(warden_server) as admin:
        owner, joiner, other = create_user(admin), create_user(admin), create_user(admin)
        assign_directory_role(admin, "Groups Administrator", groups_admin.object_id)
    with user_client(warden_server, platform, owner) as as_owner:
        group = create_group(as_owner)  # member users may create security groups (tenant default)
        owners = as_owner.get(f"/v1.0/groups/{group}/owners").json()["value"]
        assert [o["id"] for o in owners] == [owner.object_id]
    with user_client(warden_server, platform, joiner) as as_joiner:
        requested = as_joiner.post(f"/v1.0/groups/{group}/joinRequests", json={"justification": "on-call rota"})
        assert requested.status_code == 201, requested.text
        request = requested.json()
        assert request["status"] == "Pending" and request["userId"] == joiner.object_id
        # a requester cannot add itself or decide its own request
        assert add_member(as_joiner, group, joiner.object_id).status_code == 403
        assert as_joiner.post(f"/v1.0/groups/{group}/joinRequests/{request['id']}/approve").status_code == 403
    with user_client(warden_server, platform, other) as as_other:
        assert as_other.post(f"/v1.0/groups/{group}/joinRequests/{request['id']}/approve").status_code == 403
    with graph(warden_server, groups_admin) as as_admin:  # administrators manage members, owners decide requests
        assert as_admin.post(f"/v1.0/groups/{group}/joinRequests/{request['id']}/approve").status_code == 403
    with user_client(warden_server, platform, owner) as as_owner:
        pending = as_owner.get(f"/v1.0/groups/{group}/joinRequests").json()["value"]
        assert [r["id"] for r in pending] == [request["id"]]
        approved = as_owner.post(f"/v1.0/groups/{group}/joinRequests/{request['id']}/approve")
        assert approved.status_code == 200 and approved.json()["status"] == "Approved"
        again = as_owner.post(f"/v1.0/groups/{group}/joinRequests/{request['id']}/deny")
        assert again.status_code == 400
        # owners manage members directly too
        assert add_member(as_owner, group, other.object_id).status_code == 204
        duplicate = as_owner.post(
            f"/v1.0/groups/{group}/members/$ref", json={"@odata.id": f"{GRAPH}/v1.0/users/{other.object_id}"}
        )
        assert duplicate.status_code == 400
    with user_client(warden_server, platform, joiner) as as_joiner:
        member_of = as_joiner.get("/v1.0/me/memberOf").json()["value"]
        assert [g["id"] for g in member_of] == [group]
    with graph(warden_server) as admin:
        members = admin.get(f"/v1.0/groups/{group}/members").json()["value"]
        assert {m["id"] for m in members} == {joiner.object_id, other.object_id}
    with platform.db.read() as conn:
        rows = conn.execute(select(directory_audit_events).order_by(directory_audit_events.c.seq)).all()
    about_group = [r.record for r in rows if any(t["id"] == group for t in r.record["targetResources"])]
    assert [r["activityDisplayName"] for r in about_group] == [
        "Add group",
        "Add owner to group",
        "Request to join group",
        "Add member to group",
        "Approve request to join group",
        "Add member to group",
    ]
    assert {r["category"] for r in about_group} == {"GroupManagement"}
    assert about_group[0]["initiatedBy"]["user"]["id"] == owner.object_id


def test_tenant_setting_can_forbid_user_group_creation(warden_server, platform) -> None:  # type: ignore[no-untyped-def]
    from warden.identity.tenant_settings import get_settings, update_settings

    with graph(warden_server) as admin:
        user = create_user(admin)
    with platform.db.write() as conn:
        before = get_settings(conn, warden_server.tenant).users_can_create_groups
        update_settings(conn, warden_server.tenant, {"usersCanCreateGroups": False})
    try:
        with user_client(warden_server, platform, user) as as_user:
            refused = as_user.post("/v1.0/groups", json={"displayName": "x", "mailNickname": "x"})
            assert refused.status_code == 403
    finally:
        with platform.db.write() as conn:
            update_settings(conn, warden_server.tenant, {"usersCanCreateGroups": before})


def test_a_group_carrying_a_directory_role_is_managed_only_by_global_administrators(warden_server, platform) -> None:  # type: ignore[no-untyped-def]
    groups_admin = warden_server.new_principal()
    with graph(warden_server) as admin:
        owner, outsider = create_user(admin), create_user(admin)
        assign_directory_role(admin, "Groups Administrator", groups_admin.object_id)
    with user_client(warden_server, platform, owner) as as_owner:
        privileged, nested = create_group(as_owner), create_group(as_owner)
        assert add_member(as_owner, privileged, nested).status_code == 204
    with graph(warden_server) as admin:
        assign_directory_role(admin, "Security Administrator", privileged)
    # Neither the owner nor a Groups Administrator may now hand the role out, not even through
    # the group nested inside it.
    with user_client(warden_server, platform, owner) as as_owner:
        for group in (privileged, nested):
            refused = add_member(as_owner, group, outsider.object_id)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
    with graph(warden_server, groups_admin) as as_groups_admin:
        assert add_member(as_groups_admin, nested, outsider.object_id).status_code == 403
    with graph(warden_server) as admin:
        assert add_member(admin, nested, outsider.object_id).status_code == 204
        held = admin.get(
            "/v1.0/roleManagement/directory/roleAssignments", params={"$filter": f"principalId eq '{privileged}'"}
        ).json()["value"]
        assert [a["roleDefinitionId"] for a in held] == ["194ae4cb-b126-40b2-bd5b-6091b380977d"]
