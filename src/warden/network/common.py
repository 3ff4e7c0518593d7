"""The handler every ``Microsoft.Network`` type uses: the generic store plus Azure's composite documents.

Azure shows some child resources both on their own (``virtualNetworks/{v}/subnets/{s}``) and inline in
their parent (``properties.subnets``). Warden stores each child as its own row under the parent and
composes the inline list when the parent is read, so the two views can never disagree. Every write,
from either side, is validated as the whole parent document (siblings included), inside the
pipeline's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, select

from warden.authz.store import LockMode, check_locks
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, InvalidRequestContent, NotFound
from warden.kernel.ids import ResourceId, key, parse_resource_id, validate_name
from warden.kernel.reply import Reply
from warden.kernel.resources import (
    GenericResourceHandler,
    check_preconditions,
    delete_tree,
    ensure_container,
    get_row,
    require_object,
    resource_json,
    save_resource,
    update_resource,
    validate_tags,
)
from warden.kernel.schema import resources
from warden.network.limits import check_children

NAMESPACE = "Microsoft.Network"
API_VERSIONS = ("2024-07-01", "2024-05-01", "2024-03-01", "2023-11-01", "2023-09-01", "2023-05-01")
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,78}[A-Za-z0-9_])?$")


class AnyProperties(BaseModel):
    """Network types validate their properties in ``validation`` with Azure's error codes, not here."""

    model_config = ConfigDict(extra="allow")


# A validator receives the parent's properties (children removed) and, per inline property, the list of
# ``(name, properties)`` children; it returns both normalized. ``existing`` is the stored row or None.
Validator = Callable[[RequestContext, ResourceId, dict[str, Any], dict[str, list[tuple[str, dict]]], Any], None]
Decorator = Callable[[RequestContext, dict[str, Any]], None]
DeleteCheck = Callable[[RequestContext, Any], None]


@dataclass
class Composite:
    """How one network type is stored and checked."""

    type_name: str
    children: dict[str, str] = field(default_factory=dict)  # inline property -> child type (full)
    validate: Validator | None = None
    decorate: Decorator | None = None  # add read-only computed properties to a resource's JSON
    check_delete: DeleteCheck | None = None  # refuse deleting a resource in use
    child_decorate: dict[str, Decorator] = field(default_factory=dict)
    child_check_delete: dict[str, DeleteCheck] = field(default_factory=dict)
    location_required: bool = True
    read_only: tuple[str, ...] = ()  # computed properties of the parent, ignored on input
    child_read_only: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per child type
    secret_fields: tuple[str, ...] = ()  # stored sealed, never returned


def rows_of_type(conn: Connection, tenant_id: str, type_name: str, *, parent: str | None = None) -> list[Any]:
    """Every stored row of ``type_name`` in the tenant (under ``parent`` when given), in key order."""
    query = select(resources).where(resources.c.tenant_id == tenant_id, resources.c.type_key == type_name.lower())
    if parent is not None:
        query = query.where(resources.c.parent_key == key(parent))
    return list(conn.execute(query.order_by(resources.c.key)))


def child_json(row: Any) -> dict[str, Any]:
    """A child resource as Azure shows it, inline or alone: no tags, location or systemData."""
    return {
        "name": row.name,
        "id": row.id,
        "etag": row.etag,
        "type": row.type,
        "properties": dict(row.body.get("properties", {})),
    }


def ref(value: Any) -> str | None:
    """The ``id`` of a sub-resource reference (``{"id": ...}``), or None when absent."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"]
    raise InvalidRequestContent("A resource reference must be an object with an 'id'.")


def resolve_ref(ctx: RequestContext, value: Any, type_name: str, target: str) -> Any | None:
    """The stored row a reference names; raises ``InvalidResourceReference`` when it is missing or of another type."""
    assert ctx.conn is not None
    rid = ref(value)
    if rid is None:
        return None
    row = get_row(ctx.conn, ctx.tenant_id, rid)
    if row is None or row.type_key != type_name.lower():
        raise BadRequest(
            f"Resource {rid} referenced by {target} was not found.", code="InvalidResourceReference", target=target
        )
    return row


def referrers(ctx: RequestContext, type_name: str, refs_of: Callable[[dict[str, Any]], list[str]], target: str) -> list:
    """IDs of the ``type_name`` resources whose properties reference ``target`` (via ``refs_of``)."""
    assert ctx.conn is not None
    wanted = key(target)
    out = []
    for row in rows_of_type(ctx.conn, ctx.tenant_id, type_name):
        if any(key(r) == wanted or key(r).startswith(wanted + "/") for r in refs_of(row.body.get("properties", {}))):
            out.append(row.id)
    return out


class NetworkHandler(GenericResourceHandler):
    """A top-level network type: stores the parent row and its inline children as child rows."""

    def __init__(self, spec: Composite) -> None:
        super().__init__(spec.type_name, AnyProperties, location_required=spec.location_required)
        self.spec = spec

    # ---- reads -------------------------------------------------------------------------------------------
    def compose(self, ctx: RequestContext, row: Any) -> dict[str, Any]:
        """The full ARM JSON of a stored parent: inline children and computed properties included."""
        assert ctx.conn is not None
        body = resource_json(row)
        properties = body.setdefault("properties", {})
        for secret in self.spec.secret_fields:
            properties.pop(secret, None)
        for prop, child_type in self.spec.children.items():
            items = []
            for child in rows_of_type(ctx.conn, ctx.tenant_id, child_type, parent=row.id):
                item = child_json(child)
                if child_type in self.spec.child_decorate:
                    self.spec.child_decorate[child_type](ctx, item)
                items.append(item)
            properties[prop] = items
        if self.spec.decorate:
            self.spec.decorate(ctx, body)
        return body

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        row = self._row(ctx, rid)
        if row is None or row.type_key != self.type_name.lower():
            raise not_found(rid)
        return Reply(200, self.compose(ctx, row), {"ETag": row.etag})

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        items = super().list(ctx, scope, parent)
        rows = [get_row(ctx.conn, ctx.tenant_id, item["id"]) for item in items]
        return [self.compose(ctx, row) for row in rows]

    # ---- writes ------------------------------------------------------------------------------------------
    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        body = require_object(body)
        check_name(rid.name)
        ensure_container(ctx, rid)
        existing = self._row(ctx, rid)
        check_preconditions(ctx.headers, existing.etag if existing else None)
        location = self._location(body, existing)
        tags = validate_tags(body.get("tags"))
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise InvalidRequestContent("'properties' must be a JSON object.", target="properties")
        return self.write(ctx, rid, existing, location, tags, dict(properties), body)

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        """``update_tags`` (the network SDKs' PATCH) changes tags only; properties go through PUT."""
        body = require_object(body)
        existing = self._row(ctx, rid)
        if existing is None:
            raise not_found(rid)
        check_preconditions(ctx.headers, existing.etag)
        if "properties" in body:
            merged = {**self.compose(ctx, existing)["properties"], **require_object(body["properties"])}
            tags = validate_tags(body["tags"]) if "tags" in body else existing.tags or {}
            return self.write(ctx, rid, existing, existing.location, tags, merged, body)
        row = update_resource(ctx, existing, tags=validate_tags(body.get("tags")))
        return Reply(200, self.compose(ctx, row), {"ETag": row.etag})

    def write(
        self,
        ctx: RequestContext,
        rid: ResourceId,
        existing: Any,
        location: str | None,
        tags: dict[str, str],
        properties: dict[str, Any],
        body: dict[str, Any],
    ) -> Reply:
        """Validate the whole document, then store the parent and replace its children; return the reply."""
        properties = strip_read_only(properties, self.spec.read_only)
        children: dict[str, list[tuple[str, dict]]] = {}
        for prop, child_type in self.spec.children.items():
            ignored = self.spec.child_read_only.get(child_type, ())
            children[prop] = inline_children(properties.pop(prop, None), prop, ignored)
            check_children(len(children[prop]), child_type, rid.name)
        if existing is not None:
            for secret in self.spec.secret_fields:
                if secret not in properties and secret in existing.body.get("properties", {}):
                    properties[secret] = existing.body["properties"][secret]
        if self.spec.validate:
            self.spec.validate(ctx, rid, properties, children, existing)
        properties["provisioningState"] = "Succeeded"
        stored = {"properties": properties}
        for extra in ("sku", "kind", "zones", "identity", "plan", "extendedLocation"):
            if extra in body:
                stored[extra] = body[extra]
        row = save_resource(
            ctx,
            resource_id=str(rid) if existing is None else existing.id,
            name=rid.name if existing is None else existing.name,
            type_=self.type_name,
            parent=rid.parent,
            location=location,
            tags=tags,
            body=stored,
            existing=existing,
        )
        for prop, child_type in self.spec.children.items():
            self._sync_children(ctx, row, child_type, children[prop])
        return Reply(201 if existing is None else 200, self.compose(ctx, row), {"ETag": row.etag})

    def _sync_children(self, ctx: RequestContext, parent: Any, child_type: str, wanted: list[tuple[str, dict]]) -> None:
        assert ctx.conn is not None
        current = {row.name.lower(): row for row in rows_of_type(ctx.conn, ctx.tenant_id, child_type, parent=parent.id)}
        names = {name.lower() for name, _ in wanted}
        check = self.spec.child_check_delete.get(child_type)
        for low, row in current.items():
            if low not in names:
                if check:
                    check(ctx, row)
                # The pipeline checked locks at the parent; a lock on this child must hold too.
                check_locks(ctx.conn, ctx.tenant_id, row.id, LockMode.DELETE, include_descendants=True)
                delete_tree(ctx.conn, ctx.tenant_id, row.id)
        segment = child_type.rsplit("/", 1)[-1]
        for name, child_properties in wanted:
            old = current.get(name.lower())
            if old is not None and old.body.get("properties") == {**child_properties, "provisioningState": "Succeeded"}:
                continue  # unchanged: keep its ETag
            if old is not None:
                check_locks(ctx.conn, ctx.tenant_id, old.id, LockMode.WRITE)
            save_resource(
                ctx,
                resource_id=f"{parent.id}/{segment}/{name}" if old is None else old.id,
                name=name if old is None else old.name,
                type_=child_type,
                parent=parent.id,
                location=None,
                tags={},
                body={"properties": {**child_properties, "provisioningState": "Succeeded"}},
                existing=old,
            )

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        existing = self._row(ctx, rid)
        if existing is None:
            return Reply(204)
        check_preconditions(ctx.headers, existing.etag)
        self.refuse_delete(ctx, existing)
        delete_tree(ctx.conn, ctx.tenant_id, existing.id)
        return Reply(200)

    def refuse_delete(self, ctx: RequestContext, row: Any) -> None:
        """Raise when the resource (or one of its children) is still in use."""
        assert ctx.conn is not None
        if self.spec.check_delete:
            self.spec.check_delete(ctx, row)
        for child_type, check in self.spec.child_check_delete.items():
            for child in rows_of_type(ctx.conn, ctx.tenant_id, child_type, parent=row.id):
                check(ctx, child)


class ChildHandler(GenericResourceHandler):
    """A child type shown inline in its parent: every write is validated as the parent's whole document."""

    def __init__(self, parent: NetworkHandler, prop: str) -> None:
        self.parent = parent
        self.prop = prop
        child_type = parent.spec.children[prop]
        super().__init__(child_type, AnyProperties, location_required=False)

    def _item(self, ctx: RequestContext, row: Any) -> dict[str, Any]:
        item = child_json(row)
        decorate = self.parent.spec.child_decorate.get(self.type_name)
        if decorate:
            decorate(ctx, item)
        return item

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        row = self._row(ctx, rid)
        if row is None or row.type_key != self.type_name.lower():
            raise not_found(rid)
        return Reply(200, self._item(ctx, row), {"ETag": row.etag})

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None and parent is not None
        if get_row(ctx.conn, ctx.tenant_id, str(parent)) is None:
            raise not_found(parent)
        return [self._item(ctx, r) for r in rows_of_type(ctx.conn, ctx.tenant_id, self.type_name, parent=str(parent))]

    def _parent_row(self, ctx: RequestContext, rid: ResourceId) -> Any:
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, rid.parent)
        if row is None:
            raise not_found(parse_resource_id(rid.parent))
        return row

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        body = require_object(body)
        check_name(rid.name)
        parent = self._parent_row(ctx, rid)
        existing = self._row(ctx, rid)
        check_preconditions(ctx.headers, existing.etag if existing else None)
        document = self.parent.compose(ctx, parent)
        siblings = [c for c in document["properties"][self.prop] if c["name"].lower() != rid.name.lower()]
        mine = {"name": existing.name if existing else rid.name, "properties": body.get("properties") or {}}
        document["properties"][self.prop] = [*siblings, mine]
        # Keep the parent's secrets: compose() hides them.
        for secret in self.parent.spec.secret_fields:
            if secret in parent.body.get("properties", {}):
                document["properties"][secret] = parent.body["properties"][secret]
        parent_rid = parse_resource_id(parent.id)
        self.parent.write(
            ctx, parent_rid, parent, parent.location, parent.tags or {}, document["properties"], parent.body
        )
        row = self._row(ctx, rid)
        return Reply(201 if existing is None else 200, self._item(ctx, row), {"ETag": row.etag})

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        existing = self._row(ctx, rid)
        if existing is None:
            raise not_found(rid)
        merged = {**existing.body.get("properties", {}), **(require_object(body).get("properties") or {})}
        return self.put(ctx, rid, {"properties": merged})

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        existing = self._row(ctx, rid)
        if existing is None:
            return Reply(204)
        check_preconditions(ctx.headers, existing.etag)
        check = self.parent.spec.child_check_delete.get(self.type_name)
        if check:
            check(ctx, existing)
        delete_tree(ctx.conn, ctx.tenant_id, existing.id)
        return Reply(200)


def inline_children(value: Any, prop: str, ignored: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    """``(name, properties)`` of each inline child; names come from ``name`` or the last segment of ``id``."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequestContent(f"'properties.{prop}' must be an array.", target=f"properties.{prop}")
    out: list[tuple[str, dict]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequestContent(f"'properties.{prop}[{index}]' must be an object.")
        name = item.get("name") or (item.get("id") or "").rstrip("/").rsplit("/", 1)[-1]
        if not isinstance(name, str) or not name:
            raise BadRequest(
                f"'properties.{prop}[{index}].name' is required.",
                code="InvalidRequestFormat",
                target=f"{prop}[{index}]",
            )
        check_name(name)
        if name.lower() in seen:
            raise BadRequest(
                f"'properties.{prop}' contains more than one item named '{name}'.",
                code="DuplicateResourceName",
                target=f"properties.{prop}",
            )
        seen.add(name.lower())
        properties = item.get("properties") or {}
        if not isinstance(properties, dict):
            raise InvalidRequestContent(f"'properties.{prop}[{index}].properties' must be an object.")
        out.append((name, strip_read_only(dict(properties), ignored)))
    return out


def strip_read_only(properties: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Drop what clients may echo back from a GET but never set (Azure ignores these on input)."""
    for name in ("provisioningState", "resourceGuid", "etag", *extra):
        properties.pop(name, None)
    return properties


def check_name(name: str) -> None:
    validate_name(name)
    if not _NAME.match(name):
        raise BadRequest(
            f"Resource name {name} is invalid. The name can be up to 80 characters long. It must begin with a word "
            "character, and it must end with a word character or with '_'. The name may contain word characters or "
            "'.', '-', '_'.",
            code="InvalidResourceName",
        )


def not_found(rid: ResourceId) -> NotFound:
    group = rid.container.resource_group
    return NotFound(
        f"The Resource '{rid.type}/{'/'.join(rid.names)}' under resource group '{group}' was not found.",
        code="ResourceNotFound",
    )


def in_use(code: str, message: str) -> BadRequest:
    """Azure answers deletes of in-use network resources with 400 and a specific code."""
    return BadRequest(message, code=code)


VIRTUAL_NETWORKS = "Microsoft.Network/virtualNetworks"
SUBNETS = "Microsoft.Network/virtualNetworks/subnets"
PEERINGS = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
SECURITY_GROUPS = "Microsoft.Network/networkSecurityGroups"
SECURITY_RULES = "Microsoft.Network/networkSecurityGroups/securityRules"
DEFAULT_RULES = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
APPLICATION_SECURITY_GROUPS = "Microsoft.Network/applicationSecurityGroups"
ROUTE_TABLES = "Microsoft.Network/routeTables"
ROUTES = "Microsoft.Network/routeTables/routes"
NETWORK_INTERFACES = "Microsoft.Network/networkInterfaces"
PUBLIC_IPS = "Microsoft.Network/publicIPAddresses"
VIRTUAL_NETWORK_GATEWAYS = "Microsoft.Network/virtualNetworkGateways"
LOCAL_NETWORK_GATEWAYS = "Microsoft.Network/localNetworkGateways"
CONNECTIONS = "Microsoft.Network/connections"
NETWORK_WATCHERS = "Microsoft.Network/networkWatchers"
VIRTUAL_MACHINES = "Microsoft.Compute/virtualMachines"


def ip_configuration_users(ctx: RequestContext) -> list[tuple[str, str, str | None, str | None]]:
    """``(ipConfiguration id, subnet id, private IP, public IP id)`` of every NIC and gateway IP configuration."""
    assert ctx.conn is not None
    out = []
    for type_name in (NETWORK_INTERFACES, VIRTUAL_NETWORK_GATEWAYS):
        for row in rows_of_type(ctx.conn, ctx.tenant_id, type_name):
            for config in row.body.get("properties", {}).get("ipConfigurations") or []:
                props = config.get("properties", {})
                subnet = (props.get("subnet") or {}).get("id")
                public = (props.get("publicIPAddress") or {}).get("id")
                out.append((config.get("id", ""), subnet or "", props.get("privateIPAddress"), public))
    return out
