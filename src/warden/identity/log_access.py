"""Who may read sign-in logs, audit logs, risk and reports, and who may act on user risk.

Entra grants these to directory roles: Global Administrator, Security Administrator, Security
Reader and Reports Reader read; Global Administrator and Security Administrator dismiss or confirm
user risk. Until every tenant has directory roles, an RBAC principal that may write role
assignments at the tenant root ("/", Owner or User Access Administrator) is also allowed, as the
Graph servicePrincipals subset does: such a principal could grant itself any access anyway.
"""

from __future__ import annotations

from warden.kernel.context import RequestContext

from .graph_errors import GraphForbidden

READER_ROLES = ("Global Administrator", "Security Administrator", "Security Reader", "Reports Reader")
WRITER_ROLES = ("Global Administrator", "Security Administrator")
ROOT_ACCESS_ACTION = "Microsoft.Authorization/roleAssignments/write"


def _principal_ids(ctx: RequestContext) -> tuple[str, ...]:
    assert ctx.conn is not None
    ids = tuple(ctx.caller.principal_ids)
    try:
        from warden.identity.membership import transitive_group_ids
    except ImportError:  # groups not installed: the caller alone
        return ids
    return ids + tuple(transitive_group_ids(ctx.conn, ctx.tenant_id, ctx.caller.object_id))


def _has_role(ctx: RequestContext, roles: tuple[str, ...]) -> bool:
    try:
        from warden.identity.directory_roles import has_directory_role
    except ImportError:  # directory roles not installed yet: RBAC at the root only
        return False
    assert ctx.conn is not None
    return has_directory_role(ctx.conn, ctx.tenant_id, _principal_ids(ctx), roles)


def require_reader(ctx: RequestContext) -> None:
    """Raise Graph's 403 unless the caller may read identity logs, risk and reports."""
    if _has_role(ctx, READER_ROLES) or ctx.can(ROOT_ACCESS_ACTION, "/"):
        return
    raise GraphForbidden("Insufficient privileges to complete the operation.")


def require_writer(ctx: RequestContext) -> None:
    """Raise Graph's 403 unless the caller may change user risk (dismiss, confirm compromised)."""
    if _has_role(ctx, WRITER_ROLES) or ctx.can(ROOT_ACCESS_ACTION, "/"):
        return
    raise GraphForbidden("Insufficient privileges to complete the operation.")
