"""The resource-type registry: how a service plugs a type into the one ARM pipeline.

A service registers a ``ResourceType`` (namespace, type path, handler, POST actions); the
router finds it by ID, the pipeline authorizes ``{type}/read|write|delete`` and
``{type}/{action}/action`` on it, and provider and operation listings are generated from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply

if TYPE_CHECKING:
    from warden.kernel.context import RequestContext

RESOURCE_GROUP = "resourceGroup"
SUBSCRIPTION = "subscription"
TENANT = "tenant"
EXTENSION = "extension"  # hangs off any scope, e.g. locks and role assignments


class ResourceHandler(Protocol):
    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply: ...
    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply: ...
    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply: ...
    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply: ...

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        """Every resource of this type directly in ``scope`` (or under ``parent`` for child types)."""
        ...


@dataclass(frozen=True)
class Action:
    name: str
    run: Callable[[RequestContext, ResourceId, Any], Reply]
    changes_state: bool = True  # a ReadOnly lock blocks actions that change state
    description: str = ""
    # The RBAC operation's last segment: "action" for most, "read" where Azure names a POST a read
    # (e.g. Microsoft.PolicyInsights/policyStates/summarize/read, so Readers may call it).
    verb: str = "action"


@dataclass
class ResourceType:
    namespace: str
    types: tuple[str, ...]
    handler: ResourceHandler
    placements: frozenset[str] = frozenset({RESOURCE_GROUP})
    actions: dict[str, Action] = field(default_factory=dict)
    display_name: str = ""
    api_versions: tuple[str, ...] = ()
    # False for types whose PUT is not a "write" users may do directly (e.g. system-created).
    writable: bool = True
    # Replaces "RBAC on {type}/{verb} at the target" where a type's own rule decides who may act
    # (PIM: a principal may activate its own eligible role without roleAssignments/write).
    # Called as authorize(ctx, operation, target) and raises AuthorizationFailed to refuse.
    authorize: Callable[[RequestContext, str, str], None] | None = None

    @property
    def full_type(self) -> str:
        return "/".join((self.namespace, *self.types))

    def operation(self, verb: str) -> str:
        return f"{self.full_type}/{verb}"

    def action(self, name: str) -> Action | None:
        return self.actions.get(name.lower())

    def add_action(self, action: Action) -> None:
        self.actions[action.name.lower()] = action


class ProviderRegistry:
    def __init__(self) -> None:
        self._types: dict[str, ResourceType] = {}
        # Operations served by fixed routes rather than registered types (resource groups,
        # the activity log, ...), so they appear in the operations listing too.
        self._extra: dict[str, list[dict[str, Any]]] = {}

    def add_operation(self, name: str, description: str) -> None:
        namespace, _, rest = name.partition("/")
        resource = rest.rsplit("/", 1)[0] if "/" in rest else rest
        self._extra.setdefault(namespace.lower(), []).append(
            {
                "name": name,
                "isDataAction": False,
                "origin": "user,system",
                "display": {
                    "provider": namespace,
                    "resource": resource,
                    "operation": description,
                    "description": description,
                },
            }
        )

    def knows_namespace(self, namespace: str) -> bool:
        return bool(self.in_namespace(namespace)) or namespace.lower() in self._extra

    def register(self, resource_type: ResourceType) -> ResourceType:
        self._types[resource_type.full_type.lower()] = resource_type
        return resource_type

    def find(self, namespace: str, types: tuple[str, ...]) -> ResourceType | None:
        return self._types.get("/".join((namespace, *types)).lower())

    def all(self) -> list[ResourceType]:
        return sorted(self._types.values(), key=lambda t: t.full_type.lower())

    def namespaces(self) -> list[str]:
        seen: dict[str, str] = {}
        for resource_type in self._types.values():
            seen.setdefault(resource_type.namespace.lower(), resource_type.namespace)
        return sorted(seen.values(), key=str.lower)

    def in_namespace(self, namespace: str) -> list[ResourceType]:
        return [t for t in self.all() if t.namespace.lower() == namespace.lower()]

    def operations(self, namespace: str) -> list[dict[str, Any]]:
        """The ``/providers/{ns}/operations`` listing generated from registered types."""
        result = []
        for resource_type in self.in_namespace(namespace):
            label = resource_type.display_name or resource_type.types[-1]
            verbs = [("read", f"Read {label}"), ("write", f"Create or update {label}"), ("delete", f"Delete {label}")]
            for verb, text in verbs:
                result.append(_operation(resource_type, resource_type.operation(verb), label, text))
            for action in resource_type.actions.values():
                name = resource_type.operation(f"{action.name}/{action.verb}")
                result.append(_operation(resource_type, name, label, action.description or action.name))
        return result + self._extra.get(namespace.lower(), [])


def _operation(resource_type: ResourceType, name: str, label: str, text: str) -> dict[str, Any]:
    return {
        "name": name,
        "isDataAction": False,
        "display": {"provider": resource_type.namespace, "resource": label, "operation": text, "description": text},
        "origin": "user,system",
    }
