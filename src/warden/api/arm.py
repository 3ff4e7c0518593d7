"""ARM routing: turn a method and path into the ``Endpoint`` the pipeline runs.

Fixed Microsoft.Resources paths are matched first; everything else has the shape
``{scope}/providers/{namespace}/{type}/{name}[/{childType}/{childName}...][/{action}]`` and is
looked up in the type registry. IDs match case-insensitively; the caller's spelling is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warden.authz.store import LockMode
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, MethodNotAllowed, NotFound
from warden.kernel.ids import (
    InvalidResourceId,
    ResourceId,
    is_guid,
    parse_container,
    parse_resource_id,
    validate_namespace,
    validate_type_segment,
)
from warden.kernel.pipeline import Endpoint
from warden.kernel.providers import EXTENSION, RESOURCE_GROUP, SUBSCRIPTION, TENANT, ResourceType
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row
from warden.resources import activity_api, groups, listing, metadata, operation_status, subscriptions

if TYPE_CHECKING:
    from warden.platform import Platform

PERMISSIONS_READ = "Microsoft.Authorization/permissions/read"


def resolve(platform: Platform, method: str, path: str) -> Endpoint:
    """The endpoint for ``method path``; raise ARM's errors for paths that name nothing."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    if any(s in ("", ".", "..") for s in segments):
        raise InvalidResourceId(f"The request path '{path}' is not valid.")
    low = [s.lower() for s in segments]
    found = _fixed_route(platform, method, segments, low)
    if found is not None:
        return found
    return _provider_route(platform, method, segments, low, path)


def _only(method: str, allowed: str, endpoint_factory):  # type: ignore[no-untyped-def]
    if method != allowed:
        raise MethodNotAllowed(f"The method '{method}' is not allowed here.", code="MethodNotAllowed")
    return endpoint_factory()


def _fixed_route(platform: Platform, method: str, segs: list[str], low: list[str]) -> Endpoint | None:
    n = len(low)
    if low == ["subscriptions"]:
        return _only(method, "GET", subscriptions.list_endpoint)
    if n == 3 and low[0] == "providers" and low[2] == "operations":
        validate_namespace(segs[1])
        return _only(method, "GET", lambda: metadata.operations_endpoint(platform.registry, segs[1]))
    if n == 4 and low[:3] == ["providers", "microsoft.subscription", "aliases"]:
        endpoint = subscriptions.alias_endpoint(method, segs[3])
        if endpoint is None:
            raise MethodNotAllowed(f"The method '{method}' is not allowed here.")
        return endpoint
    if low == ["providers", "microsoft.insights", "eventtypes", "management", "values"]:
        return _only(method, "GET", lambda: activity_api.endpoint(None))
    if n < 2 or low[0] != "subscriptions":
        return None
    sub = segs[1]
    if not is_guid(sub):
        raise BadRequest(
            f"The provided subscription identifier '{sub}' is malformed or invalid.", code="InvalidSubscriptionId"
        )
    rest, rest_orig = low[2:], segs[2:]
    if not rest:
        return _only(method, "GET", lambda: subscriptions.get_endpoint(sub))
    if rest[0] == "resourcegroups" and len(rest) <= 2:
        endpoint = groups.endpoints(method, sub, rest_orig[1] if len(rest) == 2 else None)
        if endpoint is None:
            raise MethodNotAllowed(f"The method '{method}' is not allowed here.")
        return endpoint
    if rest == ["resources"]:
        return _only(method, "GET", lambda: listing.endpoint(sub, None))
    if len(rest) == 3 and rest[0] == "resourcegroups" and rest[2] == "resources":
        return _only(method, "GET", lambda: listing.endpoint(sub, rest_orig[1]))
    if rest == ["providers"]:
        return _only(method, "GET", lambda: metadata.providers_endpoint(platform.registry, sub, None))
    if len(rest) == 2 and rest[0] == "providers":
        validate_namespace(rest_orig[1])
        return _only(method, "GET", lambda: metadata.providers_endpoint(platform.registry, sub, rest_orig[1]))
    if len(rest) == 3 and rest[0] == "providers" and rest[2] == "register":
        validate_namespace(rest_orig[1])
        return _only(method, "POST", lambda: metadata.register_endpoint(platform.registry, sub, rest_orig[1]))
    if len(rest) == 2 and rest[0] == "operationresults":
        return _only(method, "GET", lambda: operation_status.endpoint(sub, rest_orig[1], result=True))
    if len(rest) == 4 and rest[:3] == ["providers", "microsoft.resources", "operationstatuses"]:
        return _only(method, "GET", lambda: operation_status.endpoint(sub, rest_orig[3], result=False))
    if rest == ["providers", "microsoft.insights", "eventtypes", "management", "values"]:
        return _only(method, "GET", lambda: activity_api.endpoint(sub))
    return None


def _provider_route(platform: Platform, method: str, segs: list[str], low: list[str], path: str) -> Endpoint:
    provider_index = max((i for i, s in enumerate(low[:-1]) if s == "providers"), default=None)
    if provider_index is None:
        raise NotFound(f"No route matches '{path}'.", code="InvalidRequestUri")
    scope = "/" + "/".join(segs[:provider_index]) if provider_index else ""
    tail = segs[provider_index + 1 :]
    scope_kind = _scope_kind(scope)
    subscription_id = parse_container(scope).subscription_id
    namespace = validate_namespace(tail[0])
    if [t.lower() for t in tail] == ["microsoft.authorization", "permissions"]:
        return _only(method, "GET", lambda: _permissions_endpoint(scope, subscription_id))
    if len(tail) < 2:
        raise NotFound(f"No route matches '{path}'.", code="InvalidRequestUri")
    types = tuple(validate_type_segment(t) for t in tail[1::2])
    names = tuple(tail[2::2])
    if len(tail) % 2 == 1:  # namespace + type/name pairs: one resource
        rtype = _find_type(platform, namespace, types, scope_kind)
        return _item_endpoint(method, rtype, ResourceId(scope, namespace, types, names), scope_kind, subscription_id)
    rtype_or_none = platform.registry.find(namespace, types)
    if rtype_or_none is not None or method != "POST":
        rtype = _find_type(platform, namespace, types, scope_kind, listing=True)
        parent = ResourceId(scope, namespace, types[:-1], names) if len(types) > 1 else None
        return _list_endpoint(method, rtype, scope, parent, subscription_id)
    owner = _find_type(platform, namespace, types[:-1], scope_kind)
    action = owner.action(tail[-1])
    if action is None:
        raise BadRequest(
            f"The action '{tail[-1]}' is not supported by resource type '{owner.full_type}'.",
            code="InvalidResourceType",
        )
    rid = ResourceId(scope, namespace, types[:-1], names)
    return Endpoint(
        owner.operation(f"{action.name}/{action.verb}"),
        str(rid),
        lambda ctx: action.run(ctx, rid, ctx.body),
        write=True,
        lock=LockMode.WRITE if action.changes_state else None,
        subscription_id=subscription_id,
        authorize=_type_authorizer(owner, owner.operation(f"{action.name}/{action.verb}"), str(rid)),
    )


def _scope_kind(scope: str) -> str:
    if scope == "":
        return TENANT
    parts = [p.lower() for p in scope.strip("/").split("/")]
    if parts[0] == "subscriptions" and len(parts) == 2:
        return SUBSCRIPTION
    if parts[0] == "subscriptions" and len(parts) == 4 and parts[2] == "resourcegroups":
        return RESOURCE_GROUP
    try:
        rid = parse_resource_id(scope)
    except InvalidResourceId:
        raise InvalidResourceId(f"The scope '{scope}' is not valid.") from None
    if rid.scope == "" or parse_container(scope).subscription_id is None:
        raise InvalidResourceId(f"The scope '{scope}' is not valid.")
    return "resource"


def _find_type(
    platform: Platform, namespace: str, types: tuple[str, ...], scope_kind: str, *, listing: bool = False
) -> ResourceType:
    """The registered type, or ARM's error for an unknown one or one that cannot live at the scope.
    A list may also be asked for at a container above where the type lives (a subscription lists
    the resource-group resources it holds)."""
    rtype = platform.registry.find(namespace, types)
    if rtype is None:
        if not platform.registry.in_namespace(namespace):
            raise BadRequest(f"The resource namespace '{namespace}' is invalid.", code="InvalidResourceNamespace")
        raise BadRequest(
            f"The resource type '{'/'.join(types)}' could not be found in the namespace '{namespace}'.",
            code="InvalidResourceType",
        )
    placements = set(rtype.placements)
    if listing and RESOURCE_GROUP in placements:
        placements.add(SUBSCRIPTION)
    if len(types) == 1 and EXTENSION not in placements and scope_kind not in placements:
        raise BadRequest(
            f"The resource type '{rtype.full_type}' cannot be created at this scope.", code="InvalidResourceType"
        )
    return rtype


def _item_endpoint(
    method: str, rtype: ResourceType, rid: ResourceId, scope_kind: str, subscription_id: str | None
) -> Endpoint:
    handler = rtype.handler
    # Locks must stay manageable under a ReadOnly lock, or no lock could ever be removed.
    is_lock = rtype.full_type.lower() == "microsoft.authorization/locks"
    common = {"subscription_id": subscription_id}
    target = str(rid)
    if rtype.authorize is not None:
        verb = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(method, "read")
        common["authorize"] = _type_authorizer(rtype, rtype.operation(verb), target)
    if method in ("GET", "HEAD"):

        def get(ctx: RequestContext) -> Reply:
            if method == "GET":
                return handler.get(ctx, rid)
            try:
                handler.get(ctx, rid)
            except NotFound:
                return Reply(404)
            return Reply(204)

        return Endpoint(rtype.operation("read"), target, get, **common)
    if method in ("PUT", "PATCH"):

        def write(ctx: RequestContext) -> Reply:
            if EXTENSION in rtype.placements:
                _require_scope_exists(ctx, rid.scope, scope_kind)
            return (handler.put if method == "PUT" else handler.patch)(ctx, rid, ctx.body)

        return Endpoint(
            rtype.operation("write"), target, write, write=True, lock=None if is_lock else LockMode.WRITE, **common
        )
    if method == "DELETE":
        return Endpoint(
            rtype.operation("delete"),
            target,
            lambda ctx: handler.delete(ctx, rid),
            write=True,
            lock=None if is_lock else LockMode.DELETE,
            lock_descendants=True,
            **common,
        )
    raise MethodNotAllowed(f"The method '{method}' is not allowed on '{rtype.full_type}'.")


def _list_endpoint(
    method: str, rtype: ResourceType, scope: str, parent: ResourceId | None, subscription_id: str | None
) -> Endpoint:
    if method != "GET":
        raise MethodNotAllowed(f"The method '{method}' is not allowed on a collection of '{rtype.full_type}'.")
    operation = rtype.operation("read")
    target = str(parent) if parent is not None else (scope or "/")
    filtered = EXTENSION not in rtype.placements

    def authorize(ctx: RequestContext) -> None:
        if rtype.authorize is not None:
            rtype.authorize(ctx, operation, target)
            return
        if ctx.can(operation, target):
            return
        if not (filtered and ctx.has_access_within(target)):
            ctx.authorize(operation, target)

    def run(ctx: RequestContext) -> Reply:
        items = rtype.handler.list(ctx, scope, parent)
        if filtered and not ctx.can(operation, target):
            items = [item for item in items if ctx.can(operation, item["id"])]
        return Reply(200, items)

    return Endpoint(operation, target, run, subscription_id=subscription_id, authorize=authorize)


def _type_authorizer(rtype: ResourceType, operation: str, target: str):  # type: ignore[no-untyped-def]
    """The type's own authorization rule bound to one operation, or None for plain RBAC."""
    custom = rtype.authorize
    if custom is None:
        return None
    return lambda ctx: custom(ctx, operation, target)


def _require_scope_exists(ctx: RequestContext, scope: str, scope_kind: str) -> None:
    assert ctx.conn is not None
    if scope_kind in ("resource", RESOURCE_GROUP) and get_row(ctx.conn, ctx.tenant_id, scope) is None:
        code = "ResourceGroupNotFound" if scope_kind == RESOURCE_GROUP else "ResourceNotFound"
        raise NotFound(f"The scope '{scope}' was not found.", code=code)


def _permissions_endpoint(scope: str, subscription_id: str | None) -> Endpoint:
    """The caller's own permissions at ``scope``: the permission blocks of its roles there.
    A caller with no role at or above the scope is refused, so the route reveals nothing."""
    target = scope or "/"

    def authorize(ctx: RequestContext) -> None:
        if not ctx.engine().has_any_role_at(ctx.caller.principal_ids, target):
            ctx.authorize(PERMISSIONS_READ, target)

    def run(ctx: RequestContext) -> Reply:
        blocks = ctx.engine().permissions_at(ctx.caller.principal_ids, target)
        return Reply(
            200,
            [
                {
                    "actions": list(p.actions),
                    "notActions": list(p.not_actions),
                    "dataActions": list(p.data_actions),
                    "notDataActions": list(p.not_data_actions),
                }
                for p in blocks
            ],
        )

    return Endpoint(PERMISSIONS_READ, target, run, subscription_id=subscription_id, authorize=authorize)
