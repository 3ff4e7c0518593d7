"""Expand the resources of an ARM template into the ARM JSON they would have once deployed.

For checking a template against policies before deployment (``warden policy check``): every
resource of ``resources`` (an array, or the object of symbolic names of ``languageVersion`` 2.0),
child resources nested in a resource's own ``resources``, and ``copy`` loops (resource copies and
``properties.copy`` property loops) become documents with ``id``, ``name``, ``type``,
``location``, ``tags``, ``properties`` (and ``sku``, ``kind``, ``identity``... as written).

``[...]`` expressions are evaluated with the shared expression language in a template context:
``parameters()`` (the given values, else ``defaultValue``), ``variables()``, ``resourceGroup()``,
``subscription()``, ``deployment()``, ``copyIndex()``, ``resourceId()`` and the pure functions.
An expression that can't be evaluated before deployment (``reference()``, ``list*()``, an
unknown parameter...) leaves its string as written and is listed in
:attr:`ExpandedResource.unresolved`. Nested deployments (``Microsoft.Resources/deployments``) are
listed as they are, their inner templates not expanded.

Pure: imports only the standard library and :mod:`warden.governance.expressions`. This is the
seed of the template engine, which will grow it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..expressions import ExpressionContext, ExpressionError, FunctionScope, Literal, evaluate, parse_value

__all__ = ["DeploymentScope", "ExpandedResource", "TemplateError", "expand_template"]

_MAX_COPIES = 800  # ARM's limit on a copy loop's count
_GROUP_TYPES = ("microsoft.resources/resourcegroups", "microsoft.resources/subscriptions/resourcegroups")


class TemplateError(Exception):
    """The template is not usable at all (not an object, no resources, a parameter without value)."""


@dataclass(frozen=True, slots=True)
class DeploymentScope:
    """Where the template would be deployed: what ``resourceGroup()``/``subscription()`` return."""

    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str | None = "rg-template-check"
    location: str = "westeurope"
    deployment_name: str = "template-check"
    tenant_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass(slots=True)
class ExpandedResource:
    """One resource of the template as it would be written; ``path`` is its JSON path in the template."""

    document: dict[str, Any]
    path: str
    unresolved: list[str] = field(default_factory=list)


class _Unresolved(Exception):
    pass


class TemplateContext(ExpressionContext):
    """The expression host of a template: parameters, variables, deployment scope, copy indexes."""

    scope = FunctionScope.TEMPLATE

    def __init__(self, template: Mapping[str, Any], values: Mapping[str, Any], where: DeploymentScope) -> None:
        super().__init__()
        self.template = template
        self.where = where
        self._declared = {str(k).lower(): v for k, v in (_get(template, "parameters") or {}).items()}
        self._values = {str(k).lower(): v for k, v in values.items()}
        self._variables_raw = {str(k).lower(): v for k, v in (_get(template, "variables") or {}).items()}
        self._variables: dict[str, Any] = {}
        loops = self._variables_raw.pop("copy", None)
        if isinstance(loops, list):  # variable loops: each defines the variable named by the loop
            for loop in loops:
                if isinstance(loop, Mapping) and isinstance(_get(loop, "name"), str):
                    self._variables_raw[_get(loop, "name").lower()] = {"copy": [loop]}
        self._resolving: set[str] = set()
        self.copy_indexes: dict[str | None, int] = {}

    # ------------------------------------------------------------------ parameters and variables

    def parameter(self, name: str) -> Any:
        lowered = name.lower()
        if lowered in self._values:
            return self._values[lowered]
        declared = self._declared.get(lowered)
        if not isinstance(declared, Mapping):
            raise ExpressionError(f"The template parameter '{name}' is not found")
        default = _get(declared, "defaultValue", _MISSING)
        if default is _MISSING:
            raise ExpressionError(f"The template parameter '{name}' has no value and no defaultValue")
        self._values[lowered] = self.value(default)  # a default may itself be an expression
        return self._values[lowered]

    def variable(self, name: str) -> Any:
        lowered = name.lower()
        if lowered in self._variables:
            return self._variables[lowered]
        if lowered not in self._variables_raw:
            raise ExpressionError(f"The template variable '{name}' is not found")
        if lowered in self._resolving:
            raise ExpressionError(f"The template variable '{name}' refers to itself")
        self._resolving.add(lowered)
        try:
            raw = self._variables_raw[lowered]
            if isinstance(raw, dict) and list(raw) == ["copy"] and isinstance(raw["copy"], list):
                loop_name = str(_get(raw["copy"][0], "name", ""))
                resolved = _expand_property_copies(raw, self).get(loop_name)
            elif isinstance(raw, dict):
                resolved = self.value(_expand_property_copies(raw, self))
            else:
                resolved = self.value(raw)
        finally:
            self._resolving.discard(lowered)
        self._variables[lowered] = resolved
        return resolved

    def value(self, raw: Any) -> Any:
        """Evaluate every expression string inside ``raw``; raises :class:`ExpressionError`."""
        if isinstance(raw, str):
            node = parse_value(raw)
            return node.value if isinstance(node, Literal) else evaluate(node, self)
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {key: self.value(item) for key, item in raw.items()}
        return raw

    # ------------------------------------------------------------------ scope values

    def resource_group(self) -> dict[str, Any]:
        if self.where.resource_group is None:
            raise ExpressionError("resourceGroup() is not available in a subscription-level deployment")
        sub = self.where.subscription_id
        return {
            "id": f"/subscriptions/{sub}/resourceGroups/{self.where.resource_group}",
            "name": self.where.resource_group,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.where.location,
            "managedBy": None,
            "tags": {},
            "properties": {"provisioningState": "Succeeded"},
        }

    def subscription(self, subscription_id: str | None = None) -> dict[str, Any]:
        sub = subscription_id or self.where.subscription_id
        return {
            "id": f"/subscriptions/{sub}",
            "subscriptionId": sub,
            "tenantId": self.where.tenant_id,
            "displayName": sub,
        }

    def host_function(self, name: str, args: list[Any]) -> Any:
        lowered = name.lower()
        if lowered == "copyindex":
            offset = next((a for a in args if isinstance(a, int) and not isinstance(a, bool)), 0)
            loop = next((a for a in args if isinstance(a, str)), None)
            key = loop.lower() if loop else None
            if key not in self.copy_indexes:
                raise ExpressionError(f"copyIndex({loop or ''}) used outside its copy loop")
            return self.copy_indexes[key] + offset
        if lowered == "deployment":
            return {
                "name": self.where.deployment_name,
                "properties": {"templateLink": {"uri": ""}, "template": {"contentVersion": "1.0.0.0"}},
                "location": self.where.location,
            }
        if lowered == "tenant":
            return {"tenantId": self.where.tenant_id, "countryCode": "", "displayName": ""}
        if lowered == "environment":
            return {
                "name": "AzureCloud",
                "resourceManager": "https://management.azure.com/",
                "suffixes": {"storage": "core.windows.net", "keyvaultDns": ".vault.azure.net"},
            }
        # reference(), list*(), providers()...: only known once deployed
        raise ExpressionError(f"{name}() can only be evaluated during deployment")


_MISSING = object()


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if not isinstance(obj, Mapping):
        return default
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return default


def _expand_property_copies(raw: dict[str, Any], ctx: TemplateContext) -> dict[str, Any]:
    """Replace ``"copy": [{"name", "count", "input"}]`` in an object by the arrays it generates."""
    loops = _get(raw, "copy")
    if not isinstance(loops, list) or not all(
        isinstance(loop, Mapping) and _get(loop, "input") is not None for loop in loops
    ):
        return raw
    result = {k: v for k, v in raw.items() if k.lower() != "copy"}
    for loop in loops:
        name = str(_get(loop, "name", ""))
        count = ctx.value(_get(loop, "count", 0))
        if not isinstance(count, int) or count < 0 or count > _MAX_COPIES:
            raise ExpressionError(f"copy loop '{name}': count {count!r} is not a whole number from 0 to 800")
        items = []
        for i in range(count):
            ctx.copy_indexes[name.lower()] = i
            try:
                items.append(ctx.value(copy.deepcopy(_get(loop, "input"))))
            finally:
                ctx.copy_indexes.pop(name.lower(), None)
        result[name] = items
    return result


def _resolve(raw: Any, ctx: TemplateContext, unresolved: list[str]) -> Any:
    """Like ``ctx.value`` but an expression that fails is kept as written and noted in ``unresolved``."""
    if isinstance(raw, str):
        try:
            node = parse_value(raw)
            return node.value if isinstance(node, Literal) else evaluate(node, ctx)
        except ExpressionError as exc:
            unresolved.append(f"{raw}: {exc}")
            return raw
    if isinstance(raw, list):
        return [_resolve(item, ctx, unresolved) for item in raw]
    if isinstance(raw, dict):
        try:
            raw = _expand_property_copies(raw, ctx)
        except ExpressionError as exc:
            unresolved.append(f"copy: {exc}")
        return {key: _resolve(item, ctx, unresolved) for key, item in raw.items()}
    return raw


def _resource_id(resource_type: str, name: str, where: DeploymentScope, scope_id: str | None) -> str:
    lowered = resource_type.lower()
    sub = f"/subscriptions/{where.subscription_id}"
    if lowered in _GROUP_TYPES:
        return f"{sub}/resourceGroups/{name}"
    namespace, *types = resource_type.split("/")
    names = name.split("/")
    segments = [namespace]
    for i, child in enumerate(types):
        segments.extend((child, names[i] if i < len(names) else names[-1]))
    base = (
        scope_id.rstrip("/")
        if scope_id
        else (f"{sub}/resourceGroups/{where.resource_group}" if where.resource_group else sub)
    )
    return f"{base}/providers/{'/'.join(segments)}"


def expand_template(
    template: Mapping[str, Any],
    parameters: Mapping[str, Any] | None = None,
    where: DeploymentScope | None = None,
) -> list[ExpandedResource]:
    """The resources ``template`` would deploy, as ARM JSON documents (see the module docstring).

    ``parameters`` maps names to values or ``{"value": ...}`` (an ARM parameters file's
    ``parameters``); parameters not given take their ``defaultValue``. Raises
    :class:`TemplateError` when the template has no ``resources``.
    """
    if not isinstance(template, Mapping):
        raise TemplateError("a template must be a JSON object")
    where = where or DeploymentScope()
    schema = str(_get(template, "$schema", "")).lower()
    if (
        "subscriptiondeploymenttemplate" in schema
        or "tenantdeploymenttemplate" in schema
        or ("managementgroupdeploymenttemplate" in schema)
    ):
        where = DeploymentScope(where.subscription_id, None, where.location, where.deployment_name, where.tenant_id)
    values = {k: (v["value"] if isinstance(v, Mapping) and "value" in v else v) for k, v in (parameters or {}).items()}
    ctx = TemplateContext(template, values, where)
    resources = _get(template, "resources")
    if isinstance(resources, Mapping):  # languageVersion 2.0: symbolic names
        entries = [(f"resources.{name}", item) for name, item in resources.items()]
    elif isinstance(resources, list):
        entries = [(f"resources[{i}]", item) for i, item in enumerate(resources)]
    else:
        raise TemplateError("the template has no 'resources'")
    expanded: list[ExpandedResource] = []
    for path, raw in entries:
        _expand_resource(raw, path, ctx, None, expanded)
    return expanded


def _expand_resource(
    raw: Any, path: str, ctx: TemplateContext, parent: dict[str, Any] | None, out: list[ExpandedResource]
) -> None:
    if not isinstance(raw, Mapping) or _get(raw, "existing") is True:
        return
    loop = _get(raw, "copy")
    if isinstance(loop, Mapping):
        name = str(_get(loop, "name", "")).lower()
        try:
            count = ctx.value(_get(loop, "count", 1))
        except ExpressionError as exc:
            out.append(ExpandedResource({"type": _get(raw, "type")}, path, [f"copy.count: {exc}"]))
            return
        if not isinstance(count, int) or count < 0:
            out.append(ExpandedResource({"type": _get(raw, "type")}, path, [f"copy.count {count!r} is not a count"]))
            return
        for i in range(min(count, _MAX_COPIES)):
            ctx.copy_indexes[name] = i
            ctx.copy_indexes[None] = i
            try:
                _expand_one(raw, f"{path}[copy {i}]", ctx, parent, out)
            finally:
                ctx.copy_indexes.pop(name, None)
                ctx.copy_indexes.pop(None, None)
        return
    _expand_one(raw, path, ctx, parent, out)


def _expand_one(
    raw: Mapping[str, Any], path: str, ctx: TemplateContext, parent: dict[str, Any] | None, out: list[ExpandedResource]
) -> None:
    unresolved: list[str] = []
    condition = _get(raw, "condition", True)
    if condition is not True:
        condition = _resolve(condition, ctx, unresolved)
        if condition is False or (isinstance(condition, str) and condition.lower() == "false"):
            return  # not deployed
    document: dict[str, Any] = {}
    for key, value in raw.items():
        if key.lower() in ("resources", "copy", "dependson", "condition", "apiversion", "comments", "scope"):
            continue
        document[key] = _resolve(value, ctx, unresolved)
    resource_type = str(document.get("type", ""))
    name = str(document.get("name", ""))
    if parent is not None and resource_type.count("/") == 0:
        resource_type = f"{parent['type']}/{resource_type}"
        name = f"{parent['name']}/{name}"
    document["type"], document["name"] = resource_type, name
    scope = _get(raw, "scope")
    scope_id = _resolve(scope, ctx, unresolved) if isinstance(scope, str) else None
    if isinstance(scope_id, str) and not scope_id.startswith("/"):
        scope_id = None  # a symbolic reference (languageVersion 2.0): not resolved here
    document["id"] = _resource_id(resource_type, name, ctx.where, scope_id)
    if resource_type.lower() in _GROUP_TYPES:
        document["type"] = "Microsoft.Resources/subscriptions/resourceGroups"
    if name.count("/"):
        document["name"] = name  # ARM reports child names as "parent/child"
    document.setdefault("tags", {})
    document.setdefault("properties", {})
    out.append(ExpandedResource(document, path, unresolved))
    children = _get(raw, "resources")
    if isinstance(children, list):
        for i, child in enumerate(children):
            _expand_resource(child, f"{path}.resources[{i}]", ctx, document, out)
