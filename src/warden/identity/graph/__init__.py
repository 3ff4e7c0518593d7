"""A Microsoft Graph v1.0 subset for the directory: users, groups, applications, service principals,
``/me`` and directory roles (``/roleManagement/directory``).

``resolve`` maps a method and a path below ``/v1.0`` to a pipeline ``Endpoint`` (the API layer
tries the identity log and MFA resolvers first).
"""

from __future__ import annotations

from warden.identity.graph import applications, roles, service_principals, users
from warden.identity.graph import groups as group_routes
from warden.identity.graph.errors import GraphError
from warden.kernel.pipeline import Endpoint


def resolve(method: str, path: str) -> Endpoint:
    """The endpoint for ``method`` on ``path`` (relative to ``/v1.0``); raise Graph's 404 or 400."""
    parts = [p for p in path.strip("/").split("/") if p]
    head = parts[0].lower() if parts else ""
    rest = parts[1:]
    if head == "users":
        return users.resolve(method, rest)
    if head == "me":
        return users.resolve_me(method, rest)
    if head == "groups":
        return group_routes.resolve(method, rest)
    if head == "serviceprincipals":
        return service_principals.resolve(method, rest)
    if head == "applications":
        return applications.resolve(method, rest)
    if head == "rolemanagement":
        return roles.resolve(method, rest)
    raise GraphError(f"Resource '{path}' does not exist.", code="Request_ResourceNotFound", status=404)
