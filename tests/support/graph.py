"""Helpers for Graph end-to-end tests: Graph clients, users with delegated tokens, a second tenant.

User tokens are signed with the server's own signing key (read from its data directory), exactly
as its token service signs them after an interactive sign-in, so the Graph API can be exercised
as a user without driving the sign-in page.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from joserfc import jwt

from support.server import Principal, WardenServer

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH = "https://graph.microsoft.com"
PASSWORD = "correct-horse-battery-staple-42"
ROLES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Groups Administrator": "fdd7a751-b60b-444a-984c-02652fe8fa1c",
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
}


@dataclass
class User:
    object_id: str
    upn: str


def graph(server: WardenServer, principal: Principal | None = None) -> httpx.Client:
    """An httpx client with a Graph token of ``principal`` (default: the bootstrap administrator)."""
    return server.client(principal, scope=GRAPH_SCOPE)


def create_user(admin: httpx.Client, name: str | None = None) -> User:
    name = name or f"user{uuid.uuid4().hex[:8]}"
    response = admin.post(
        "/v1.0/users",
        json={
            "accountEnabled": True,
            "displayName": name.title(),
            "mailNickname": name,
            "userPrincipalName": f"{name}@contoso.example",
            "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": False},
        },
    )
    assert response.status_code == 201, response.text
    return User(response.json()["id"], response.json()["userPrincipalName"])


def create_group(client: httpx.Client, name: str | None = None) -> str:
    name = name or f"grp-{uuid.uuid4().hex[:8]}"
    response = client.post(
        "/v1.0/groups",
        json={"displayName": name, "mailNickname": name, "mailEnabled": False, "securityEnabled": True},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def add_member(client: httpx.Client, group_id: str, member_id: str) -> httpx.Response:
    return client.post(
        f"/v1.0/groups/{group_id}/members/$ref",
        json={"@odata.id": f"{GRAPH}/v1.0/directoryObjects/{member_id}"},
    )


def assign_directory_role(admin: httpx.Client, role: str, principal_id: str) -> str:
    response = admin.post(
        "/v1.0/roleManagement/directory/roleAssignments",
        json={"roleDefinitionId": ROLES[role], "principalId": principal_id, "directoryScopeId": "/"},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


@contextmanager
def server_platform(server: WardenServer) -> Iterator[object]:
    """A ``Platform`` on the server's own data directory and database (for keys and a second tenant)."""
    from warden.kernel.settings import load_settings
    from warden.platform import Platform

    platform = Platform(load_settings(server.data_dir))
    try:
        yield platform
    finally:
        platform.stop()


def user_client(server: WardenServer, platform: object, user: User) -> httpx.Client:
    """An httpx client with a delegated Graph token for ``user`` (signed with the server's key)."""
    tokens = platform.tokens  # type: ignore[attr-defined]
    key = platform.keys.signing_key()  # type: ignore[attr-defined]
    now = int(time.time())
    claims = {
        "iss": tokens.issuer(server.tenant),
        "aud": GRAPH,
        "sub": user.object_id,
        "oid": user.object_id,
        "tid": server.tenant,
        "appid": server.bootstrap["clientId"],
        "azp": server.bootstrap["clientId"],
        "idtyp": "user",
        "scp": "User.Read",
        "amr": ["pwd"],
        "upn": user.upn,
        "preferred_username": user.upn,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "ver": "2.0",
    }
    token = jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key)
    return httpx.Client(
        base_url=server.endpoint,
        verify=server.ssl_context(),
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )
