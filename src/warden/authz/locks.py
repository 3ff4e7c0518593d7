"""``{scope}/providers/Microsoft.Authorization/locks/{name}``: management locks.

``CanNotDelete`` blocks deletes at and below its scope; ``ReadOnly`` blocks every change
(including POST actions that change state). Enforcement is ``authz.store.check_locks``, called by
the request pipeline; managing locks themselves is exempt so a lock can always be removed.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, insert, or_, select, update

from warden.authz.engine import scope_ancestors
from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import ResourceId, key
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.reply import Reply
from warden.kernel.resources import require_object
from warden.kernel.schema import below, locks

TYPE = "Microsoft.Authorization/locks"
LEVELS = {"cannotdelete": "CanNotDelete", "readonly": "ReadOnly"}
_NAME = re.compile(r"^[^<>*%&:\\?+/]{1,260}$")


def lock_json(row: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {"level": row.level}
    if row.notes is not None:
        properties["notes"] = row.notes
    if row.owners:
        properties["owners"] = row.owners
    return {"id": row.id, "name": row.name, "type": TYPE, "properties": properties}


class LockHandler:
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        row = self._row(ctx, rid)
        if row is None:
            raise NotFound(f"The lock '{rid.name}' could not be found.", code="LockNotFound")
        return Reply(200, lock_json(row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        assert ctx.conn is not None
        if not _NAME.match(rid.name) or rid.name.endswith((".", " ")):
            raise BadRequest(f"The lock name '{rid.name}' is invalid.", code="InvalidLockName")
        properties = require_object(require_object(body).get("properties"))
        level = LEVELS.get(str(properties.get("level", "")).lower())
        if level is None:
            raise BadRequest(
                "'level' must be 'CanNotDelete' or 'ReadOnly'.", code="InvalidLockLevel", target="properties.level"
            )
        notes = properties.get("notes")
        if notes is not None and (not isinstance(notes, str) or len(notes) > 512):
            raise BadRequest(
                "'notes' must be a string of at most 512 characters.",
                code="InvalidRequestContent",
                target="properties.notes",
            )
        owners = properties.get("owners")
        if owners is not None and (
            not isinstance(owners, list)
            or not all(isinstance(o, dict) and isinstance(o.get("applicationId", ""), str) for o in owners)
        ):
            raise BadRequest(
                "'owners' must be a list of {applicationId} objects.",
                code="InvalidRequestContent",
                target="properties.owners",
            )
        existing = self._row(ctx, rid)
        now = utcnow()
        values = {
            "level": level,
            "notes": notes,
            "owners": owners,
            "updated_by": ctx.caller.object_id,
            "updated_at": now,
        }
        if existing is None:
            ctx.conn.execute(
                insert(locks).values(
                    tenant_id=ctx.tenant_id,
                    key=rid.key,
                    id=str(rid),
                    scope_key=key(rid.scope or "/"),
                    name=rid.name,
                    created_by=ctx.caller.object_id,
                    created_at=now,
                    **values,
                )
            )
        else:
            ctx.conn.execute(
                update(locks).where(locks.c.tenant_id == ctx.tenant_id, locks.c.key == rid.key).values(**values)
            )
        return Reply(201 if existing is None else 200, lock_json(self._row(ctx, rid)))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise BadRequest("Locks are created or replaced with PUT.", code="OperationNotAllowed")

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = self._row(ctx, rid)
        if row is None:
            return Reply(204)
        ctx.conn.execute(delete(locks).where(locks.c.tenant_id == ctx.tenant_id, locks.c.key == row.key))
        return Reply(200)

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        """Locks at the scope and below it; ``$filter=atScope()``: at the scope and above it."""
        assert ctx.conn is not None
        scope_key = key(scope or "/")
        at_scope = False
        for clause in parse_filter(ctx.query.get("$filter")):
            if clause.op == "call" and clause.name == "atscope":
                at_scope = True
            else:
                raise InvalidFilter(f"The $filter clause '{clause.name}' is not supported for locks.")
        if at_scope:
            where = locks.c.scope_key.in_(scope_ancestors(scope_key))
        else:
            where = or_(locks.c.scope_key == scope_key, below(locks.c.scope_key, scope_key))
        rows = ctx.conn.execute(select(locks).where(locks.c.tenant_id == ctx.tenant_id, where).order_by(locks.c.key))
        return [lock_json(r) for r in rows]

    def _row(self, ctx: RequestContext, rid: ResourceId) -> Any:
        assert ctx.conn is not None
        return ctx.conn.execute(select(locks).where(locks.c.tenant_id == ctx.tenant_id, locks.c.key == rid.key)).first()
