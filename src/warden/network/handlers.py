"""The handlers every ``Microsoft.Network`` type uses: the generic store plus Azure's composite documents.

Azure shows some child resources both on their own (``virtualNetworks/{v}/subnets/{s}``) and inline in
their parent (``properties.subnets``). Warden stores each child as its own row under the parent and
composes the inline list when the parent is read, so the two views can never disagree. Every write,
from either side, is validated as the whole parent document (siblings included), inside the
pipeline's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from warden.authz.store import LockMode, check_locks
from warden.kernel.context import RequestContext
from warden.kernel.errors import InvalidRequestContent
from warden.kernel.ids import ResourceId, parse_resource_id
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
from warden.network.common import (
    AnyProperties,
    Composite,
    check_name,
    child_json,
    inline_children,
    not_found,
    rows_of_type,
    strip_read_only,
)
from warden.network.limits import check_children


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
        row = self.store_inline(ctx, row)
        return Reply(201 if existing is None else 200, self.compose(ctx, row), {"ETag": row.etag})

    def store_inline(self, ctx: RequestContext, row: Any) -> Any:
        """Keep a copy of the children inline in the parent's stored body, so readers of stored rows (policy
        scans) see Azure's document; reads still compose from the child rows. Returns the updated row."""
        if not self.spec.children:
            return row
        assert ctx.conn is not None
        properties = dict(row.body.get("properties", {}))
        for prop, child_type in self.spec.children.items():
            properties[prop] = [child_json(c) for c in rows_of_type(ctx.conn, ctx.tenant_id, child_type, parent=row.id)]
        return update_resource(ctx, row, body={**row.body, "properties": properties})

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
            saved = save_resource(
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
            # Child resources are not resources of the group in ARM's /resources listings (which select on
            # resource_group_key); they still go with their parent and group, whose deletes remove IDs below.
            ctx.conn.execute(
                update(resources)
                .where(resources.c.tenant_id == ctx.tenant_id, resources.c.key == saved.key)
                .values(resource_group_key=None)
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
        parent = get_row(ctx.conn, ctx.tenant_id, rid.parent)
        if parent is not None:
            self.parent.store_inline(ctx, parent)
        return Reply(200)
