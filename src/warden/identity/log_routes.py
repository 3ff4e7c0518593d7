"""Graph paths of the identity logs, risk and reports, for ``warden.identity.graph.resolve``.

``resolve(method, path)`` returns the endpoint, or None when the path is not one of these (the
caller then answers as for any unknown Graph path).
"""

from __future__ import annotations

from warden.kernel.pipeline import Endpoint

from . import app_usage, identity_protection, signin_logs

# First path segment (lower case) -> resolver taking (method, path segments).
RESOLVERS = {
    "auditlogs": signin_logs.resolve,
    "identityprotection": identity_protection.resolve,
    "security": identity_protection.resolve,
    "reports": app_usage.resolve,
}


def resolve(method: str, path: str) -> Endpoint | None:
    """The endpoint serving ``path`` (relative to ``/v1.0``), or None."""
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        return None
    resolver = RESOLVERS.get(parts[0].lower())
    return resolver(method, parts) if resolver else None
