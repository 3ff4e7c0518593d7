"""The generic resource store and the handler most resource types use.

Every resource has ``id, name, type, location, tags, etag, properties{provisioningState},
systemData``; a type supplies a pydantic model for ``properties`` and optional hooks.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Conflict, InvalidRequestContent, NotFound, PreconditionFailed
from warden.kernel.ids import ResourceId, key, parse_container, validate_name
from warden.kernel.reply import Reply
from warden.kernel.schema import below, deny_assignments, locks, resources, role_assignments

RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups"
MAX_TAGS = 50
_LOCATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ]{0,63}$")


def new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequestContent("The request content must be a JSON object.")
    return body


def normalize_location(value: Any) -> str:
    """ARM's spelling of a location: lower-case without spaces ('West Europe' -> 'westeurope')."""
    if not isinstance(value, str) or not _LOCATION.match(value):
        raise BadRequest(
            f"The location '{value}' is invalid.", code="LocationNotAvailableForResourceType", target="location"
        )
    return value.replace(" ", "").lower()


def validate_tags(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequestContent("'tags' must be an object of string values.", target="tags")
    if len(value) > MAX_TAGS:
        raise BadRequest(f"A resource can have at most {MAX_TAGS} tags.", code="InvalidTagCount", target="tags")
    for name, tag_value in value.items():
        if not name or len(name) > 512 or any(c in name for c in "<>%&\\?/"):
            raise BadRequest(f"The tag name '{name}' is invalid.", code="InvalidTagNameCharacters", target="tags")
        if not isinstance(tag_value, str) or len(tag_value) > 256:
            raise BadRequest(
                f"The value of tag '{name}' must be a string of at most 256 characters.",
                code="InvalidTagValueLength",
                target="tags",
            )
    return dict(value)


def check_preconditions(headers: dict[str, str], current_etag: str | None) -> None:
    """Honour ``If-Match`` / ``If-None-Match`` against the stored ETag (``None``: no resource)."""
    if_match = headers.get("if-match")
    if if_match is not None:
        wanted = {tag.strip() for tag in if_match.split(",")}
        if current_etag is None or ("*" not in wanted and current_etag not in wanted):
            raise PreconditionFailed(
                "The condition specified using HTTP conditional header(s) is not met.", code="PreconditionFailed"
            )
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None and current_etag is not None:
        wanted = {tag.strip() for tag in if_none_match.split(",")}
        if "*" in wanted or current_etag in wanted:
            raise PreconditionFailed(
                "The condition specified using HTTP conditional header(s) is not met.", code="PreconditionFailed"
            )


def caller_type(ctx: RequestContext) -> str:
    return "Application" if ctx.caller.principal_type == "ServicePrincipal" else ctx.caller.principal_type


def private_fields(row: Any) -> dict[str, Any]:
    """A stored body's ``_``-prefixed entries: server-side state of a resource (e.g. a key's
    generation) that is never rendered and survives a PUT of the resource."""
    if row is None:
        return {}
    return {name: value for name, value in row.body.items() if name.startswith("_")}


def resource_json(row: Any) -> dict[str, Any]:
    """The ARM JSON of a stored resource row."""
    body = dict(row.body)
    result: dict[str, Any] = {"id": row.id, "name": row.name, "type": row.type}
    if row.location is not None:
        result["location"] = row.location
    result["tags"] = row.tags or {}
    for extra in ("kind", "sku", "identity", "managedBy"):
        if extra in body:
            result[extra] = body[extra]
    if "properties" in body:
        result["properties"] = body["properties"]
    result["etag"] = row.etag
    result["systemData"] = {
        "createdBy": row.created_by,
        "createdByType": row.created_by_type,
        "createdAt": isoformat(aware(row.created_at)),
        "lastModifiedBy": row.modified_by,
        "lastModifiedByType": row.modified_by_type,
        "lastModifiedAt": isoformat(aware(row.modified_at)),
    }
    return result


def get_row(conn: Connection, tenant_id: str, resource_id: str) -> Any:
    return conn.execute(_ROW, {"tenant": tenant_id, "key": key(resource_id)}).first()


# Built once (most requests read a resource): a reused statement keeps its memoized cache key.
_ROW = select(resources).where(resources.c.tenant_id == bindparam("tenant"), resources.c.key == bindparam("key"))


def save_resource(
    ctx: RequestContext,
    *,
    resource_id: str,
    name: str,
    type_: str,
    parent: str,
    location: str | None,
    tags: dict[str, str],
    body: dict[str, Any],
    existing: Any,
) -> Any:
    """Insert or replace one resource row with a fresh ETag and systemData; return the row."""
    assert ctx.conn is not None
    now = utcnow()
    who = ctx.caller.app_id
    values = {
        "location": location,
        "tags": tags,
        "body": body,
        "etag": new_etag(),
        "modified_by": who,
        "modified_by_type": caller_type(ctx),
        "modified_at": now,
    }
    if existing is None:
        container = parse_container(resource_id)
        ctx.conn.execute(
            insert(resources).values(
                key=key(resource_id),
                id=resource_id,
                tenant_id=ctx.tenant_id,
                subscription_id=container.subscription_id.lower() if container.subscription_id else None,
                resource_group_key=container.resource_group.lower() if container.resource_group else None,
                parent_key=key(parent),
                type=type_,
                type_key=type_.lower(),
                name=name,
                created_by=who,
                created_by_type=caller_type(ctx),
                created_at=now,
                **values,
            )
        )
    else:
        ctx.conn.execute(
            update(resources)
            .where(resources.c.tenant_id == ctx.tenant_id, resources.c.key == existing.key)
            .values(**values)
        )
    return get_row(ctx.conn, ctx.tenant_id, resource_id)


def update_resource(
    ctx: RequestContext, row: Any, *, tags: dict[str, str] | None = None, body: dict[str, Any] | None = None
) -> Any:
    """Rewrite a stored resource with new tags and/or body (fresh ETag and systemData); return the row."""
    return save_resource(
        ctx,
        resource_id=row.id,
        name=row.name,
        type_=row.type,
        parent=row.parent_key,
        location=row.location,
        tags=(row.tags or {}) if tags is None else tags,
        body=row.body if body is None else body,
        existing=row,
    )


def delete_tree(conn: Connection, tenant_id: str, resource_id: str) -> int:
    """Delete a resource, everything beneath it, and the locks, role and deny assignments scoped there."""
    count = 0
    for table in (resources, locks, role_assignments, deny_assignments):
        keycol = table.c.key
        count += conn.execute(
            delete(table).where(
                table.c.tenant_id == tenant_id, (keycol == key(resource_id)) | below(keycol, key(resource_id))
            )
        ).rowcount
    return count


def ensure_container(ctx: RequestContext, rid: ResourceId) -> None:
    """The resource group (and parent resource, for child types) must exist and be usable."""
    assert ctx.conn is not None
    container = rid.container
    if container.resource_group is not None:
        group = get_row(ctx.conn, ctx.tenant_id, str(container))
        if group is None:
            raise NotFound(
                f"Resource group '{container.resource_group}' could not be found.", code="ResourceGroupNotFound"
            )
        if group.body.get("properties", {}).get("provisioningState") == "Deleting":
            raise Conflict(
                f"The resource group '{group.name}' is in deprovisioning state and cannot perform this operation.",
                code="ResourceGroupBeingDeleted",
            )
    if len(rid.types) > 1 and get_row(ctx.conn, ctx.tenant_id, rid.parent) is None:
        raise NotFound(f"The parent resource '{rid.parent}' was not found.", code="ParentResourceNotFound")


WriteHook = Callable[[RequestContext, ResourceId, dict[str, Any], Any], dict[str, Any]]
ReleaseHook = Callable[[Connection, str, Any], None]


class GenericResourceHandler:
    """Stores a type in the ``resources`` table; ``properties`` is checked by a pydantic model.

    ``on_write(ctx, rid, properties, existing_row)`` may compute read-only properties or refuse
    (raise); ``on_delete(conn, tenant_id, row)`` releases what the resource held, whether it is
    deleted alone or with its resource group.
    """

    def __init__(
        self,
        type_name: str,
        properties_model: type[BaseModel],
        *,
        location_required: bool = True,
        on_write: WriteHook | None = None,
        on_delete: ReleaseHook | None = None,
        name_pattern: re.Pattern[str] | None = None,
    ) -> None:
        self.type_name = type_name
        self.model = properties_model
        self.location_required = location_required
        self.on_write = on_write
        self.on_delete = on_delete
        self.name_pattern = name_pattern

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        row = self._row(ctx, rid)
        if row is None:
            raise _not_found(rid)
        return Reply(200, resource_json(row), {"ETag": row.etag})

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        body = require_object(body)
        validate_name(rid.name)
        if self.name_pattern and not self.name_pattern.match(rid.name):
            raise BadRequest(
                f"The resource name '{rid.name}' is invalid for {self.type_name}.", code="InvalidResourceName"
            )
        ensure_container(ctx, rid)
        existing = self._row(ctx, rid)
        check_preconditions(ctx.headers, existing.etag if existing else None)
        location = self._location(body, existing)
        tags = validate_tags(body.get("tags"))
        properties = self._properties(body.get("properties", {}))
        if self.on_write:
            properties = self.on_write(ctx, rid, properties, existing)
        properties["provisioningState"] = "Succeeded"
        row = save_resource(
            ctx,
            resource_id=str(rid),
            name=rid.name,
            type_=self.type_name,
            parent=rid.parent,
            location=location,
            tags=tags,
            body={"properties": properties, **private_fields(existing)},
            existing=existing,
        )
        return Reply(201 if existing is None else 200, resource_json(row), {"ETag": row.etag})

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        body = require_object(body)
        existing = self._row(ctx, rid)
        if existing is None:
            raise _not_found(rid)
        check_preconditions(ctx.headers, existing.etag)
        tags = validate_tags(body["tags"]) if "tags" in body else existing.tags or {}
        properties = dict(existing.body.get("properties", {}))
        if "properties" in body:
            merged = {**properties, **require_object(body["properties"])}
            merged.pop("provisioningState", None)
            properties = self._properties(merged)
            if self.on_write:
                properties = self.on_write(ctx, rid, properties, existing)
            properties["provisioningState"] = "Succeeded"
        row = update_resource(ctx, existing, tags=tags, body={**existing.body, "properties": properties})
        return Reply(200, resource_json(row), {"ETag": row.etag})

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        existing = self._row(ctx, rid)
        if existing is None:
            return Reply(204)
        check_preconditions(ctx.headers, existing.etag)
        self.release(ctx.conn, ctx.tenant_id, existing)
        delete_tree(ctx.conn, ctx.tenant_id, existing.id)
        return Reply(200)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        query = select(resources).where(
            resources.c.tenant_id == ctx.tenant_id, resources.c.type_key == self.type_name.lower()
        )
        if parent is not None:
            query = query.where(resources.c.parent_key == parent.key)
        else:
            container = parse_container(scope)
            if container.subscription_id:
                query = query.where(resources.c.subscription_id == container.subscription_id.lower())
            if container.resource_group:
                query = query.where(resources.c.resource_group_key == container.resource_group.lower())
        return [resource_json(row) for row in ctx.conn.execute(query.order_by(resources.c.key))]

    def release(self, conn: Connection, tenant_id: str, row: Any) -> None:
        """Undo the resource's side effects before its row is deleted."""
        if self.on_delete:
            self.on_delete(conn, tenant_id, row)

    def _row(self, ctx: RequestContext, rid: ResourceId) -> Any:
        assert ctx.conn is not None
        return get_row(ctx.conn, ctx.tenant_id, str(rid))

    def _location(self, body: dict[str, Any], existing: Any) -> str | None:
        value = body.get("location")
        if value is None:
            if self.location_required:
                raise BadRequest("The 'location' property is required.", code="LocationRequired", target="location")
            return None
        location = normalize_location(value)
        if existing is not None and existing.location and existing.location != location:
            raise BadRequest(
                f"The location of an existing resource cannot be changed from '{existing.location}' to '{location}'.",
                code="InvalidResourceLocation",
                target="location",
            )
        return location

    def _properties(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise InvalidRequestContent("'properties' must be a JSON object.", target="properties")
        raw = {k: v for k, v in raw.items() if k != "provisioningState"}
        try:
            model = self.model.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in ("properties", *first["loc"]))
            raise BadRequest(
                f"Invalid value for '{where}': {first['msg']}.",
                code="InvalidRequestContent",
                target=where,
                details=[
                    {
                        "code": "InvalidRequestContent",
                        "target": ".".join(str(p) for p in ("properties", *e["loc"])),
                        "message": e["msg"],
                    }
                    for e in error.errors()
                ],
            ) from None
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _not_found(rid: ResourceId) -> NotFound:
    return NotFound(
        f"The Resource '{rid.type}/{rid.name}' under resource group '{rid.container.resource_group}' was not found.",
        code="ResourceNotFound",
    )
