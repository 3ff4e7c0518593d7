"""The evaluation state: the resource, parameters and scope values an evaluation reads.

:class:`State` is also the expression host (``field()``, ``parameters()``, ``current()``,
``requestContext()``, ``resourceGroup()``, ``subscription()``, ``policy()``, ``utcNow()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..expressions import ExpressionContext, ExpressionEvaluationError, FunctionScope, evaluate_value
from ..expressions.values import get_property
from .aliases import STAR, AliasTable
from .fields import Binding, FieldRef, parse_field, resolve_path, select

__all__ = ["DEFAULT_API_VERSION", "State", "full_name", "id_parts"]

DEFAULT_API_VERSION = "2025-04-01"
"""``requestContext().apiVersion`` without a request: Azure uses the latest API version for scans."""


def id_parts(resource_id: str) -> dict[str, str]:
    """Subscription and resource group of a resource id (keys present only when found)."""
    parts = resource_id.strip("/").split("/")
    found: dict[str, str] = {}
    for i in range(0, len(parts) - 1):
        key = parts[i].lower()
        if key == "subscriptions" and "subscription" not in found:
            found["subscription"] = parts[i + 1]
        elif key == "resourcegroups" and "resourceGroup" not in found:
            found["resourceGroup"] = parts[i + 1]
    return found


def full_name(resource: Mapping[str, Any]) -> Any:
    """``parent/child`` names from the resource id (``fullName``); the name when there is no id."""
    resource_id = get_property(resource, "id")[1]
    if isinstance(resource_id, str) and "/providers/" in resource_id.lower():
        tail = resource_id[resource_id.lower().rindex("/providers/") + len("/providers/") :].strip("/").split("/")
        names = tail[2::2]
        if names:
            return "/".join(names)
    return get_property(resource, "name")[1]


class State(ExpressionContext):
    """Everything one evaluation reads. ``resource`` is what ``field`` conditions see (the related
    resource inside an existence condition); ``subject`` is what ``field()`` sees (always the
    evaluated resource)."""

    scope = FunctionScope.POLICY

    def __init__(
        self,
        resource: Mapping[str, Any],
        parameters: Mapping[str, Any],
        aliases: AliasTable,
        *,
        definition_id: str | None = None,
        request: Mapping[str, Any] | None = None,
        resource_group: Mapping[str, Any] | None = None,
        subscription: Mapping[str, Any] | None = None,
        policy_info: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> None:
        super().__init__(now=now)
        self.resource = resource
        self.subject = resource
        self.params = parameters
        self.aliases = aliases
        self.bindings: tuple[Binding, ...] = ()
        self.definition_id = definition_id
        self.request = request or {}
        self._resource_group = resource_group
        self._subscription = subscription
        self._policy_info = policy_info

    def related(self, resource: Mapping[str, Any]) -> State:
        """A state whose ``field`` conditions read ``resource`` while ``field()`` keeps the subject."""
        other = State.__new__(State)
        other.__dict__.update(self.__dict__)
        other.resource = resource
        other.bindings = ()
        return other

    def evaluate_value(self, raw: Any) -> Any:
        return evaluate_value(raw, self)

    # ------------------------------------------------------------------ fields

    def values_on(self, resource: Mapping[str, Any], ref: FieldRef, bindings: tuple[Binding, ...]):
        """``(values, is_collection)`` selected by ``ref`` on ``resource``."""
        kind = ref.kind
        if kind == "special":
            value = full_name(resource) if ref.key == "fullname" else get_property(resource, ref.key)[1]
            return [value], False
        if kind == "tags":
            return [get_property(resource, "tags")[1]], False
        if kind == "tag":
            tags = get_property(resource, "tags")[1]
            return [get_property(tags, ref.key)[1] if isinstance(tags, dict) else None], False
        path = resolve_path(ref, resource, self.aliases)
        if path is None:
            return ([], True) if ref.is_collection else ([None], False)
        values, _ = select(resource, path, bindings, self._lenient(ref))
        if ref.is_collection:
            return values, True
        return values[:1] or [None], False

    def field_values(self, ref: FieldRef):
        return self.values_on(self.resource, ref, self.bindings)

    def count_items(self, ref: FieldRef) -> tuple[tuple[str, ...], list[Any]]:
        """The counted path (lower-cased, for binding) and the elements a field count iterates."""
        path = resolve_path(ref, self.resource, self.aliases)
        if path is None:
            return (), []
        values, _ = select(self.resource, path, self.bindings, self._lenient(ref))
        return tuple(s.lower() for s in path), values

    def _lenient(self, ref: FieldRef) -> bool:
        return ref.kind == "alias" and ref.key not in self.aliases

    def field(self, name: str) -> Any:
        try:
            ref = parse_field(name)
        except ValueError as exc:
            raise ExpressionEvaluationError(f"field('{name}'): {exc}") from exc
        bindings = self.bindings if self.subject is self.resource else ()
        values, collection = self.values_on(self.subject, ref, bindings)
        if collection:
            return values
        # Azure documents field() of a missing property as "" (so functions don't fail on null).
        return "" if values[0] is None else values[0]

    def current(self, name: str | None) -> Any:
        if not self.bindings:
            raise ExpressionEvaluationError("current() can only be used inside a count's 'where'")
        if name is None:
            return self.bindings[-1].element
        lowered = name.lower()
        for binding in reversed(self.bindings):
            if binding.name is not None and binding.name == lowered:
                return binding.element
        try:
            ref = parse_field(name)
        except ValueError as exc:
            raise ExpressionEvaluationError(f"current('{name}'): {exc}") from exc
        path = resolve_path(ref, self.resource, self.aliases) if ref.kind == "alias" else None
        if path is not None:
            values, bound = select(self.resource, path, self.bindings, self._lenient(ref))
            if bound:
                binding = next(b for b in reversed(self.bindings) if b.prefix and _starts(path, b.prefix))
                rest = path[len(binding.prefix) :]
                return values if STAR in rest else (values[0] if values else None)
        raise ExpressionEvaluationError(f"current('{name}') names no enclosing count")

    def parameter(self, name: str) -> Any:
        key = name.lower()
        if key in self.params:
            return self.params[key]
        raise ExpressionEvaluationError(f"The policy parameter '{name}' is not defined")

    # ------------------------------------------------------------------ scope values

    def request_context(self) -> dict[str, Any]:
        context = {"apiVersion": DEFAULT_API_VERSION, "identity": {}}
        context.update({k: v for k, v in self.request.items()})
        return context

    def resource_group(self) -> dict[str, Any]:
        if self._resource_group is not None:
            return dict(self._resource_group)
        resource_id = get_property(self.subject, "id")[1]
        parts = id_parts(resource_id) if isinstance(resource_id, str) else {}
        if "resourceGroup" not in parts:
            raise ExpressionEvaluationError("resourceGroup() is not available: the resource is not in a resource group")
        group_id = f"/subscriptions/{parts.get('subscription', '')}/resourceGroups/{parts['resourceGroup']}"
        return {
            "id": group_id,
            "name": parts["resourceGroup"],
            "type": "Microsoft.Resources/resourceGroups",
            "location": get_property(self.subject, "location")[1],
            "managedBy": None,
            "tags": {},
            "properties": {"provisioningState": "Succeeded"},
        }

    def subscription(self, subscription_id: str | None = None) -> dict[str, Any]:
        if self._subscription is not None:
            return dict(self._subscription)
        resource_id = get_property(self.subject, "id")[1]
        sub = id_parts(resource_id).get("subscription", "") if isinstance(resource_id, str) else ""
        return {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "tenantId": "", "displayName": sub}

    def policy_info(self) -> dict[str, Any]:
        info = {
            "assignmentId": "",
            "definitionId": self.definition_id or "",
            "setDefinitionId": "",
            "definitionReferenceId": "",
        }
        info.update(self._policy_info or {})
        return info


def _starts(path: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return tuple(s.lower() for s in path[: len(prefix)]) == prefix
