"""A Microsoft Graph v1.0 subset for the directory: users, groups, applications, service principals,
``/me`` and directory roles (``/roleManagement/directory``).

``resolve`` maps a method and a path below ``/v1.0`` to a pipeline ``Endpoint``; the identity log,
risk, MFA and settings routes other modules serve are tried first through their own resolvers.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from warden.identity.graph import groups as group_routes
from warden.identity.graph import service_principals, users
from warden.identity.graph.errors import GraphError
from warden.kernel.pipeline import Endpoint

# Modules serving further Graph paths; each ``resolve`` answers None for paths not its own.
# ``path`` resolvers take the path string, ``parts`` resolvers the split segments.
EXTENSIONS = (
    ("warden.identity.log_routes", "path"),
    ("warden.identity.mfa.graph_routes", "parts"),
)


def _extension(name: str) -> ModuleType | None:
    # An extension that is not installed yet is skipped; an import error inside one is not hidden.
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise


def resolve(method: str, path: str) -> Endpoint:
    """The endpoint for ``method`` on ``path`` (relative to ``/v1.0``); raise Graph's 404 or 400."""
    parts = [p for p in path.strip("/").split("/") if p]
    for name, style in EXTENSIONS:
        module = _extension(name)
        if module is not None and parts:
            endpoint = module.resolve(method, path if style == "path" else parts)
            if endpoint is not None:
                return endpoint
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
        from warden.identity.graph import applications

        return applications.resolve(method, rest)
    if head == "rolemanagement":
        from warden.identity.graph import roles

        return roles.resolve(method, rest)
    raise GraphError(f"Resource '{path}' does not exist.", code="Request_ResourceNotFound", status=404)
