"""Provider and operation listings, generated from the type registry:
``/subscriptions/{sub}/providers[/{ns}]``, ``.../providers/{ns}/register`` and
``/providers/{ns}/operations``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import NotFound
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply

if TYPE_CHECKING:
    from warden.kernel.providers import ProviderRegistry

PROVIDERS_READ = "Microsoft.Resources/subscriptions/providers/read"


def provider_json(registry: ProviderRegistry, subscription_id: str, namespace: str) -> dict[str, Any]:
    types = registry.in_namespace(namespace)
    if not types:
        raise NotFound(f"The resource namespace '{namespace}' is invalid.", code="InvalidResourceNamespace")
    name = types[0].namespace
    return {
        "id": f"/subscriptions/{subscription_id}/providers/{name}",
        "namespace": name,
        "registrationState": "Registered",
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [
            {
                "resourceType": "/".join(t.types),
                "locations": [],
                "apiVersions": list(t.api_versions),
                "capabilities": "None",
            }
            for t in types
        ],
    }


def providers_endpoint(registry: ProviderRegistry, subscription_id: str, namespace: str | None) -> Endpoint:
    scope = f"/subscriptions/{subscription_id}"

    def run(ctx: RequestContext) -> Reply:
        if namespace is not None:
            return Reply(200, provider_json(registry, subscription_id, namespace))
        return Reply(200, [provider_json(registry, subscription_id, ns) for ns in registry.namespaces()])

    return Endpoint(PROVIDERS_READ, scope, run, subscription_id=subscription_id)


def register_endpoint(registry: ProviderRegistry, subscription_id: str, namespace: str) -> Endpoint:
    """Every provider Warden serves is always registered; the action exists so that SDKs and
    scripts that register first keep working."""
    scope = f"/subscriptions/{subscription_id}"
    return Endpoint(
        f"{namespace}/register/action",
        scope,
        lambda ctx: Reply(200, provider_json(registry, subscription_id, namespace)),
        write=True,
        subscription_id=subscription_id,
    )


def operations_endpoint(registry: ProviderRegistry, namespace: str) -> Endpoint:
    """``/providers/{ns}/operations`` is tenant-level metadata: any caller holding the
    ``{ns}/operations/read`` permission somewhere in its tenant may read it."""
    operation = f"{namespace}/operations/read"

    def authorize(ctx: RequestContext) -> None:
        engine = ctx.engine()
        for assignment_scope in engine.assignment_scopes(ctx.caller.principal_ids):
            if ctx.can(operation, assignment_scope):
                return
        ctx.authorize(operation, "/")

    def run(ctx: RequestContext) -> Reply:
        if not registry.knows_namespace(namespace):
            raise NotFound(f"The resource namespace '{namespace}' is invalid.", code="InvalidResourceNamespace")
        return Reply(200, registry.operations(namespace))

    return Endpoint(operation, "/", run, authorize=authorize)
