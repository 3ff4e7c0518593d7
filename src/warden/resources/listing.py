"""``GET /subscriptions/{sub}[/resourceGroups/{rg}]/resources`` with ARM's ``$filter`` subset:
``resourceType eq``, ``name eq``, ``location eq``, ``substringof('x', name)``,
``tagName eq`` (optionally ``and tagValue eq``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from warden.kernel.context import RequestContext
from warden.kernel.errors import NotFound
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.resources import RESOURCE_GROUP_TYPE, get_row
from warden.kernel.schema import resources


def endpoint(subscription_id: str, resource_group: str | None) -> Endpoint:
    if resource_group is None:
        scope, operation = f"/subscriptions/{subscription_id}", "Microsoft.Resources/subscriptions/resources/read"
    else:
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        operation = "Microsoft.Resources/subscriptions/resourceGroups/resources/read"

    def authorize(ctx: RequestContext) -> None:
        if not ctx.can(operation, scope) and not ctx.has_access_within(scope):
            ctx.authorize(operation, scope)

    return Endpoint(
        operation,
        scope,
        lambda ctx: _list(ctx, subscription_id, resource_group, scope, operation),
        subscription_id=subscription_id,
        authorize=authorize,
    )


def resource_matcher(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for ARM's resource-list ``$filter``; raises ``InvalidFilter`` on what it can't apply."""
    clauses = parse_filter(text)
    tests = []
    tag_name = tag_value = None
    for clause in clauses:
        field = clause.name.lower()
        if clause.op == "eq" and field == "resourcetype":
            wanted = (clause.value or "").lower()
            tests.append(lambda item, w=wanted: item["type"].lower() == w)
        elif clause.op == "eq" and field == "name":
            wanted = (clause.value or "").lower()
            tests.append(lambda item, w=wanted: item["name"].lower() == w)
        elif clause.op == "eq" and field == "location":
            wanted = (clause.value or "").replace(" ", "").lower()
            tests.append(lambda item, w=wanted: (item.get("location") or "") == w)
        elif clause.op == "eq" and field == "tagname":
            tag_name = clause.value or ""
        elif clause.op == "eq" and field == "tagvalue":
            tag_value = clause.value or ""
        elif clause.op == "call" and clause.name == "substringof" and len(clause.args) == 2:
            needle = clause.args[0].lower()
            tests.append(lambda item, n=needle: n in item["name"].lower())
        else:
            raise InvalidFilter(f"The $filter clause '{clause.name}' is not supported for resource lists.")
    if tag_value is not None and tag_name is None:
        raise InvalidFilter("'tagValue' needs 'tagName' in the same $filter.")
    if tag_name is not None:
        lname = tag_name.lower()

        def has_tag(item: dict[str, Any]) -> bool:
            for name, value in (item.get("tags") or {}).items():
                if name.lower() == lname and (tag_value is None or value == tag_value):
                    return True
            return False

        tests.append(has_tag)
    return lambda item: all(test(item) for test in tests)


def _list(ctx: RequestContext, subscription_id: str, resource_group: str | None, scope: str, operation: str) -> Reply:
    assert ctx.conn is not None
    matches = resource_matcher(ctx.query.get("$filter"))
    query = select(resources).where(
        resources.c.tenant_id == ctx.tenant_id,
        resources.c.subscription_id == subscription_id.lower(),
        resources.c.type_key != RESOURCE_GROUP_TYPE.lower(),
    )
    if resource_group is not None:
        if get_row(ctx.conn, ctx.tenant_id, scope) is None:
            raise NotFound(f"Resource group '{resource_group}' could not be found.", code="ResourceGroupNotFound")
        query = query.where(resources.c.resource_group_key == resource_group.lower())
    else:
        query = query.where(resources.c.resource_group_key.is_not(None))
    see_all = ctx.can(operation, scope)
    items = []
    for row in ctx.conn.execute(query.order_by(resources.c.key)):
        item = {"id": row.id, "name": row.name, "type": row.type, "location": row.location, "tags": row.tags or {}}
        for extra in ("kind", "sku", "identity", "managedBy"):
            if extra in row.body:
                item[extra] = row.body[extra]
        if matches(item) and (see_all or ctx.can(f"{row.type}/read", row.id)):
            items.append(item)
    return Reply(200, items)
