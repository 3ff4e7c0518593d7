"""``{scope}/providers/Microsoft.Resources/tags/default``: the tags of a resource group or a
resource, read and written on their own (ARM's Tags API). PATCH takes ``operation``: ``Merge``
adds or overwrites, ``Replace`` replaces all, ``Delete`` removes the given names (or name=value
pairs)."""

from __future__ import annotations

from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.providers import EXTENSION, ProviderRegistry, ResourceType
from warden.kernel.reply import Reply
from warden.kernel.resources import check_preconditions, get_row, require_object, update_resource, validate_tags

TYPE = "Microsoft.Resources/tags"
OPERATIONS = ("merge", "replace", "delete")


def _tags_json(scope: str, tags: dict[str, str]) -> dict[str, Any]:
    return {"id": f"{scope}/providers/{TYPE}/default", "name": "default", "type": TYPE, "properties": {"tags": tags}}


def _body_tags(body: Any) -> dict[str, str]:
    properties = require_object(require_object(body).get("properties", {}))
    return validate_tags(properties.get("tags", {}))


class TagsHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        row = self._target(ctx, rid)
        return Reply(200, _tags_json(row.id, row.tags or {}))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self._write(ctx, rid, _body_tags(body))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        operation = str(require_object(body).get("operation", "")).lower()
        if operation not in OPERATIONS:
            raise BadRequest(
                "'operation' must be 'Merge', 'Replace' or 'Delete'.", code="InvalidRequestContent", target="operation"
            )
        given = _body_tags(body)
        current = dict(self._target(ctx, rid).tags or {})
        if operation == "merge":
            current.update(given)
        elif operation == "replace":
            current = given
        else:
            current = {k: v for k, v in current.items() if not (k in given and given[k] in ("", v))}
        return self._write(ctx, rid, validate_tags(current))

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        self._write(ctx, rid, {})
        return Reply(200)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        row = self._target(ctx, ResourceId(scope, "Microsoft.Resources", ("tags",), ("default",)))
        return [_tags_json(row.id, row.tags or {})]

    def _target(self, ctx: RequestContext, rid: ResourceId) -> Any:
        assert ctx.conn is not None
        if rid.name.lower() != "default":
            raise NotFound("The tags resource is always named 'default'.", code="ResourceNotFound")
        row = get_row(ctx.conn, ctx.tenant_id, rid.scope) if rid.container.resource_group else None
        if row is None:
            raise NotFound(
                f"The scope '{rid.scope or '/'}' has no tags: it must be a resource group or a resource.",
                code="ResourceNotFound",
            )
        return row

    def _write(self, ctx: RequestContext, rid: ResourceId, tags: dict[str, str]) -> Reply:
        row = self._target(ctx, rid)
        check_preconditions(ctx.headers, row.etag)
        row = update_resource(ctx, row, tags=tags)
        return Reply(200, _tags_json(row.id, row.tags or {}))


def register(registry: ProviderRegistry) -> None:
    registry.register(
        ResourceType(
            "Microsoft.Resources",
            ("tags",),
            TagsHandler(),
            placements=frozenset({EXTENSION}),
            display_name="tags",
            api_versions=("2021-04-01",),
        )
    )
