"""What every Graph handler shares: collections ($filter/$select/$top/$count and nextLink),
request bodies, authorization by directory role (or RBAC at the tenant root) and audit events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from warden.identity.directory_roles import held_roles, roles_allow
from warden.identity.events import record_directory_audit
from warden.identity.graph.errors import GraphError, bad_request, forbidden
from warden.identity.graph.query import parse_filter, parse_select, parse_top
from warden.identity.membership import transitive_group_ids
from warden.identity.schema import users
from warden.kernel.context import RequestContext
from warden.kernel.errors import WardenError
from warden.kernel.ids import is_guid
from warden.kernel.reply import Reply

DEFAULT_PAGE = 100


def context_url(ctx: RequestContext, fragment: str) -> str:
    """``@odata.context`` of a response (``.../v1.0/$metadata#users`` ...)."""
    return ctx.link(f"/v1.0/$metadata#{fragment}")


def project(item: dict[str, Any], chosen: list[str] | None) -> dict[str, Any]:
    """``item`` reduced to the ``$select``ed properties (``@odata.type`` is kept when present)."""
    if chosen is None:
        return item
    kept = {name: item.get(name) for name in chosen}
    if "@odata.type" in item:
        kept = {"@odata.type": item["@odata.type"], **kept}
    return kept


def collection(
    ctx: RequestContext, items: list[dict[str, Any]], fragment: str, entity: str, filterable: set[str]
) -> Reply:
    """A Graph collection page of ``items``: filtered, counted, paged and projected as the query asks.

    Raises ``Request_UnsupportedQuery`` for a filter outside the subset, ``Request_BadRequest`` for a
    bad ``$select``/``$top``/``$skiptoken`` or ``$count`` without ``ConsistencyLevel: eventual``.
    """
    predicate = parse_filter(ctx.query.get("$filter"), filterable, entity)
    known = set().union(*(item.keys() for item in items)) if items else set(filterable)
    chosen = parse_select(ctx.query.get("$select"), known | set(filterable), entity[:1].lower() + entity[1:])
    size = parse_top(ctx.query.get("$top"), DEFAULT_PAGE)
    skip = ctx.query.get("$skiptoken", "0")
    if not skip.isdigit():
        raise bad_request(f"Invalid $skiptoken '{skip[:64]}'.")
    offset = int(skip)
    if predicate is not None:
        items = [item for item in items if predicate(item)]
    body: dict[str, Any] = {"@odata.context": context_url(ctx, fragment)}
    count = ctx.query.get("$count", "").lower()
    if count not in ("", "true", "false"):
        raise bad_request("$count must be true or false.")
    if count == "true":
        if ctx.headers.get("consistencylevel", "").lower() != "eventual":
            raise bad_request("$count is only supported with the ConsistencyLevel header set to eventual.")
        body["@odata.count"] = len(items)
    page = items[offset : offset + size]
    if offset + size < len(items):
        params = {**ctx.query, "$skiptoken": str(offset + size)}
        body["@odata.nextLink"] = ctx.link(ctx.path + "?" + urlencode(params))
    body["value"] = [project(item, chosen) for item in page]
    return Reply(200, body)


def single(ctx: RequestContext, item: dict[str, Any], fragment: str, entity: str, status: int = 200) -> Reply:
    """One entity with ``@odata.context``, ``$select`` applied."""
    chosen = parse_select(ctx.query.get("$select"), set(item), entity)
    return Reply(status, {"@odata.context": context_url(ctx, fragment), **project(item, chosen)})


def body_object(ctx: RequestContext) -> dict[str, Any]:
    """The JSON object body; raise ``Request_BadRequest`` for anything else."""
    try:
        body = ctx.body
    except WardenError as error:
        raise bad_request(error.message) from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def text_field(body: dict[str, Any], name: str, *, required: bool, max_length: int = 256) -> str | None:
    """A trimmed non-empty string property (``None`` when absent and not required)."""
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise bad_request(
            f"Invalid value specified for property '{name}' of resource: expected a non-empty string "
            f"of at most {max_length} characters.",
            target=name,
        )
    return value.strip()


def bool_field(body: dict[str, Any], name: str, default: bool | None = None) -> bool | None:
    value = body.get(name, default)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"Invalid value specified for property '{name}': expected true or false.", target=name)
    return value


def object_id(raw: str) -> str:
    """A path segment that must be an object ID (GUID), lower-cased."""
    if not is_guid(raw):
        raise bad_request(f"Invalid object identifier '{raw[:64]}'.")
    return raw.lower()


# -- authorization ---------------------------------------------------------------------------


def _rbac_action(action: str) -> str:
    """The RBAC action at the tenant root that also grants a directory action (Owner/User Access
    Administrator write, readers read), the path Warden authorized directory operations by before
    directory roles, kept so existing root Owners keep their access."""
    parts = action.split("/")
    kind = parts[1] if len(parts) > 1 else "directory"
    verb = parts[-1].lower()
    verb = "read" if verb == "read" else "delete" if verb == "delete" else "write"
    return f"Microsoft.Authorization/{kind}/{verb}"


def allowed(ctx: RequestContext, action: str, rbac: str | None = None) -> bool:
    """True when a directory role of the caller (or its groups) allows ``action``, or RBAC at "/"
    allows ``rbac`` (default: the ``Microsoft.Authorization/{kind}/{verb}`` action ``action`` maps to)."""
    assert ctx.conn is not None
    if roles_allow(held_roles(ctx.conn, ctx.tenant_id, ctx.caller.principal_ids), action):
        return True
    return ctx.can(rbac or _rbac_action(action), "/")


def is_member_user(ctx: RequestContext) -> bool:
    """True when the caller is an enabled Member user of this tenant (Entra's default user permissions)."""
    assert ctx.conn is not None
    if ctx.caller.principal_type != "User":
        return False
    row = ctx.conn.execute(
        select(users.c.user_type, users.c.account_enabled).where(
            users.c.tenant_id == ctx.tenant_id, users.c.object_id == ctx.caller.object_id
        )
    ).first()
    return row is not None and row.user_type == "Member" and bool(row.account_enabled)


def require(action: str, *, members_may: bool = False, rbac: str | None = None) -> Callable[[RequestContext], None]:
    """An ``Endpoint.authorize`` allowing ``action`` to role holders (and to member users if asked)."""

    def check(ctx: RequestContext) -> None:
        if allowed(ctx, action, rbac) or (members_may and is_member_user(ctx)):
            return
        raise forbidden()

    return check


def guard_privileged(ctx: RequestContext, object_id: str) -> None:
    """Refuse to manage a user or service principal that holds a directory role (directly or through
    a group) unless the caller is a Global Administrator (or RBAC Owner at "/"), as Entra protects
    its administrators: otherwise a User or Application Administrator could reset an administrator's
    password, or add a secret to an administrator principal, and act as it."""
    assert ctx.conn is not None
    ids = (object_id, *transitive_group_ids(ctx.conn, ctx.tenant_id, object_id))
    if held_roles(ctx.conn, ctx.tenant_id, ids) and not allowed(ctx, "microsoft.directory/privilegedUsers/update"):
        raise forbidden()


def guard_role_holding_group(ctx: RequestContext, group_id: str) -> None:
    """Refuse membership changes of a group that carries a directory role (itself or through a group
    it is nested in) unless the caller is a Global Administrator (or RBAC Owner at "/").

    Otherwise a group's owner, or a Groups/User Administrator, could hand out the role by adding
    members; Entra guards its role-assignable groups the same way.
    """
    assert ctx.conn is not None
    ids = (group_id, *transitive_group_ids(ctx.conn, ctx.tenant_id, group_id))
    if held_roles(ctx.conn, ctx.tenant_id, ids) and not allowed(ctx, "microsoft.directory/roleAssignableGroups/update"):
        raise forbidden()


# -- audit -----------------------------------------------------------------------------------


def initiated_by(ctx: RequestContext) -> dict[str, Any]:
    """Graph's ``initiatedBy`` for the caller: ``{"user": ...}`` or ``{"app": ...}``."""
    caller = ctx.caller
    if caller.principal_type == "User":
        return {
            "user": {
                "id": caller.object_id,
                "displayName": caller.claims.get("name"),
                "userPrincipalName": caller.claims.get("upn") or caller.claims.get("preferred_username"),
                "ipAddress": ctx.client_ip,
            }
        }
    return {
        "app": {
            "appId": caller.app_id,
            "displayName": None,
            "servicePrincipalId": caller.object_id,
            "servicePrincipalName": None,
        }
    }


def audit(
    ctx: RequestContext,
    category: str,
    activity: str,
    operation_type: str,
    targets: list[dict[str, Any]],
) -> None:
    """Write the directoryAudit event of a directory change (in the change's own transaction)."""
    assert ctx.conn is not None
    record_directory_audit(
        ctx.conn,
        ctx.tenant_id,
        {
            "category": category,
            "activityDisplayName": activity,
            "operationType": operation_type,
            "correlationId": ctx.correlation_id,
            "initiatedBy": initiated_by(ctx),
            "targetResources": targets,
            "additionalDetails": [],
        },
    )


def target(kind: str, object_id: str, display_name: str | None, **extra: Any) -> dict[str, Any]:
    """One ``targetResource`` (``modifiedProperties`` lists ``{displayName, oldValue, newValue}``)."""
    return {
        "id": object_id,
        "displayName": display_name,
        "type": kind,
        "modifiedProperties": extra.pop("modifiedProperties", []),
        **extra,
    }


__all__ = ["GraphError"]
