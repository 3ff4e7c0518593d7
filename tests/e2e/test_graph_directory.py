"""The Graph directory subset against the real HTTPS server: users, queries, /me, applications,
audit events, and cross-tenant isolation (httpx with real tokens)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from support.graph import GRAPH_SCOPE, PASSWORD, create_user, graph, server_platform, user_client
from support.server import Principal
from warden.identity.schema import directory_audit_events


@pytest.fixture(scope="module")
def platform(warden_server):  # type: ignore[no-untyped-def]
    with server_platform(warden_server) as p:
        yield p


def _audits(platform, target_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Activities of the directory audit events naming ``target_id``, oldest first."""
    with platform.db.read() as conn:
        rows = conn.execute(select(directory_audit_events).order_by(directory_audit_events.c.seq)).all()
    return [
        row.activity for row in rows if any(t.get("id") == target_id for t in row.record.get("targetResources", []))
    ]


def test_user_lifecycle_with_password_policy_and_audit(warden_server, platform) -> None:  # type: ignore[no-untyped-def]
    name = f"ann{uuid.uuid4().hex[:6]}"
    body = {
        "accountEnabled": True,
        "displayName": "Ann",
        "mailNickname": name,
        "userPrincipalName": f"{name}@contoso.example",
        "passwordProfile": {"password": "short-pass", "forceChangePasswordNextSignIn": False},
    }
    with graph(warden_server) as admin:
        weak = admin.post("/v1.0/users", json=body)
        assert weak.status_code == 400, weak.text
        assert weak.json()["error"]["code"] == "Request_BadRequest" and "innerError" in weak.json()["error"]
        assert "15 characters" in weak.json()["error"]["message"]
        assert admin.get(f"/v1.0/users/{name}@contoso.example").status_code == 404  # nothing was created
        body["passwordProfile"]["password"] = PASSWORD
        created = admin.post("/v1.0/users", json=body)
        assert created.status_code == 201, created.text
        user = created.json()
        assert user["userPrincipalName"] == f"{name}@contoso.example" and "passwordProfile" not in user
        assert user["@odata.context"].endswith("/v1.0/$metadata#users/$entity")
        assert user["createdDateTime"].endswith("Z") and user["accountEnabled"] is True
        duplicate = admin.post("/v1.0/users", json={**body, "userPrincipalName": f"{name.upper()}@contoso.example"})
        assert duplicate.status_code == 400 and "already exists" in duplicate.json()["error"]["message"]
        by_upn = admin.get(f"/v1.0/users/{name.upper()}@CONTOSO.example")
        assert by_upn.status_code == 200 and by_upn.json()["id"] == user["id"]
        patched = admin.patch(f"/v1.0/users/{user['id']}", json={"displayName": "Ann B", "jobTitle": "SRE"})
        assert patched.status_code == 204, patched.text
        shown = admin.get(f"/v1.0/users/{user['id']}", params={"$select": "displayName,jobTitle"}).json()
        assert (shown["displayName"], shown["jobTitle"]) == ("Ann B", "SRE") and "userPrincipalName" not in shown
        unknown = admin.patch(f"/v1.0/users/{user['id']}", json={"favouriteColour": "blue"})
        assert unknown.status_code == 400
        for bad in ({"accountEnabled": None}, {"displayName": ""}, {"userPrincipalName": "no-at-sign"}, [1]):
            refused = admin.patch(f"/v1.0/users/{user['id']}", json=bad)
            assert refused.status_code == 400 and refused.json()["error"]["code"] == "Request_BadRequest", bad
        assert admin.get(f"/v1.0/users/{user['id']}").json()["displayName"] == "Ann B"  # nothing changed
        assert admin.patch("/v1.0/users", json={}).status_code == 405
        assert admin.delete(f"/v1.0/users/{user['id']}").status_code == 204
        gone = admin.get(f"/v1.0/users/{user['id']}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "Request_ResourceNotFound"
    assert _audits(platform, user["id"]) == ["Add user", "Update user", "Delete user"]
    with platform.db.read() as conn:
        record = next(
            r.record
            for r in conn.execute(select(directory_audit_events).where(directory_audit_events.c.activity == "Add user"))
            if r.record["targetResources"][0]["id"] == user["id"]
        )
    assert record["category"] == "UserManagement" and record["result"] == "success"
    assert record["initiatedBy"]["app"]["appId"] == warden_server.bootstrap["clientId"]


def test_filter_select_top_and_count(warden_server) -> None:  # type: ignore[no-untyped-def]
    prefix = f"q{uuid.uuid4().hex[:6]}"
    with graph(warden_server) as admin:
        made = [create_user(admin, f"{prefix}{i}") for i in range(3)]
        found = admin.get("/v1.0/users", params={"$filter": f"startswith(userPrincipalName,'{prefix}')"}).json()
        assert sorted(u["id"] for u in found["value"]) == sorted(u.object_id for u in made)
        either = admin.get(
            "/v1.0/users",
            params={"$filter": f"userPrincipalName eq '{made[0].upn}' or userPrincipalName eq '{made[2].upn}'"},
        ).json()["value"]
        assert sorted(u["id"] for u in either) == sorted([made[0].object_id, made[2].object_id])
        pages: list[str] = []
        response = admin.get(
            "/v1.0/users",
            params={"$filter": f"startswith(displayName,'{prefix}')", "$top": "2", "$select": "id"},
        ).json()
        pages += [u["id"] for u in response["value"]]
        assert all(set(u) == {"id"} for u in response["value"])
        next_link = response["@odata.nextLink"]
        second = admin.get(next_link).json()
        pages += [u["id"] for u in second["value"]]
        assert "@odata.nextLink" not in second and sorted(pages) == sorted(u.object_id for u in made)
        counted = admin.get(
            "/v1.0/users",
            params={"$filter": f"startswith(userPrincipalName,'{prefix}')", "$count": "true"},
            headers={"ConsistencyLevel": "eventual"},
        ).json()
        assert counted["@odata.count"] == 3
        for bad in ("endswith(mail,'x')", "userPrincipalName ne 'x'", "shoeSize eq 3", "displayName eq"):
            refused = admin.get("/v1.0/users", params={"$filter": bad})
            assert refused.status_code == 400, bad
            assert refused.json()["error"]["code"] == "Request_UnsupportedQuery", bad
        assert admin.get("/v1.0/users", params={"$top": "0"}).status_code == 400
        assert admin.get("/v1.0/users", params={"$select": "nope"}).status_code == 400


def test_me_is_the_signed_in_user_and_refused_for_app_tokens(warden_server, platform) -> None:  # type: ignore[no-untyped-def]
    with graph(warden_server) as admin:
        user = create_user(admin)
        app_only = admin.get("/v1.0/me")
    assert app_only.status_code == 400
    assert app_only.json()["error"]["message"] == "/me request is only valid with delegated authentication flow."
    with user_client(warden_server, platform, user) as me:
        shown = me.get("/v1.0/me")
        assert shown.status_code == 200 and shown.json()["userPrincipalName"] == user.upn
        # Entra's default user permissions: members read the directory, but do not manage users.
        assert me.get("/v1.0/users").status_code == 200
        refused = me.post("/v1.0/users", json={})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as anonymous:
        assert anonymous.get("/v1.0/me").status_code == 401


def test_application_with_redirect_uris_and_secrets(warden_server, platform) -> None:  # type: ignore[no-untyped-def]
    with graph(warden_server) as admin:
        bad = admin.post("/v1.0/applications", json={"displayName": "x", "web": {"redirectUris": ["http://evil/cb"]}})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "Request_BadRequest"
        created = admin.post(
            "/v1.0/applications",
            json={
                "displayName": "portal",
                "web": {"redirectUris": ["https://portal.example/signin"]},
                "spa": {"redirectUris": ["http://localhost:3000/"]},
                "publicClient": {"redirectUris": ["myapp://auth"]},
                "isFallbackPublicClient": True,
            },
        )
        assert created.status_code == 201, created.text
        app = created.json()
        assert app["web"]["redirectUris"] == ["https://portal.example/signin"]
        assert app["spa"]["redirectUris"] == ["http://localhost:3000/"] and app["isFallbackPublicClient"] is True
        principals = admin.get("/v1.0/servicePrincipals", params={"$filter": f"appId eq '{app['appId']}'"}).json()
        assert [p["displayName"] for p in principals["value"]] == ["portal"]
        sp_id = principals["value"][0]["id"]
        secret = admin.post(f"/v1.0/applications/{app['id']}/addPassword", json={"passwordCredential": {}})
        assert secret.status_code == 200, secret.text
        principal = Principal(app["appId"], secret.json()["secretText"], sp_id)
        # The application signs in with its secret (client credentials).
        assert warden_server.token(principal, GRAPH_SCOPE)
        listed = admin.get(f"/v1.0/applications/{app['id']}").json()["passwordCredentials"]
        assert [c["keyId"] for c in listed] == [secret.json()["keyId"]] and listed[0]["secretText"] is None
        patched = admin.patch(
            f"/v1.0/applications/{app['id']}",
            json={"web": {"redirectUris": ["https://portal.example/signin", "https://portal.example/2"]}},
        )
        assert patched.status_code == 204
        assert len(admin.get(f"/v1.0/applications/{app['id']}").json()["web"]["redirectUris"]) == 2
        removed = admin.post(f"/v1.0/applications/{app['id']}/removePassword", json={"keyId": secret.json()["keyId"]})
        assert removed.status_code == 204
        warden_server._tokens.clear()
        with pytest.raises(httpx.HTTPStatusError):
            warden_server.token(principal, GRAPH_SCOPE)
        assert admin.delete(f"/v1.0/applications/{app['id']}").status_code == 204
        assert admin.get(f"/v1.0/servicePrincipals/{sp_id}").status_code == 404
    assert _audits(platform, app["id"])[:1] == ["Add application"]
    assert "Delete application" in _audits(platform, app["id"])


def test_another_tenant_sees_nothing_of_this_one(warden_server, platform) -> None:  # type: ignore[no-untyped-def]
    from warden.bootstrap import add_tenant

    with graph(warden_server) as admin:
        user = create_user(admin)
        group = admin.post(
            "/v1.0/groups", json={"displayName": "ours", "mailNickname": "ours", "securityEnabled": True}
        ).json()["id"]
    tenant, _sub, principal, secret = add_tenant(platform, "other")
    token = httpx.post(
        f"{warden_server.endpoint}/{tenant}/oauth2/v2.0/token",
        verify=warden_server.ssl_context(),
        data={
            "grant_type": "client_credentials",
            "client_id": principal.app_id,
            "client_secret": secret.secret_text,
            "scope": GRAPH_SCOPE,
        },
    ).json()["access_token"]
    with httpx.Client(
        base_url=warden_server.endpoint,
        verify=warden_server.ssl_context(),
        headers={"Authorization": f"Bearer {token}"},
    ) as theirs:
        listed = theirs.get("/v1.0/users").json()["value"]
        assert user.object_id not in {u["id"] for u in listed}
        assert theirs.get(f"/v1.0/users/{user.object_id}").status_code == 404
        assert theirs.get(f"/v1.0/users/{user.upn}").status_code == 404
        assert theirs.get(f"/v1.0/groups/{group}").status_code == 404
        assert theirs.delete(f"/v1.0/users/{user.object_id}").status_code == 404
        their_group = theirs.post(
            "/v1.0/groups", json={"displayName": "theirs", "mailNickname": "theirs", "securityEnabled": True}
        ).json()["id"]
        smuggled = theirs.post(
            f"/v1.0/groups/{their_group}/members/$ref",
            json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user.object_id}"},
        )
        assert smuggled.status_code == 404
        roles = theirs.post(
            "/v1.0/roleManagement/directory/roleAssignments",
            json={"roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10", "principalId": user.object_id},
        )
        assert roles.status_code == 400
    with graph(warden_server) as admin:
        assert admin.get(f"/v1.0/users/{user.object_id}").status_code == 200
