"""``Microsoft.PolicyInsights/remediations``: bring existing resources in line with a modify/append policy.

Creating (PUT) a remediation for an assignment evaluates that assignment's policy (an initiative's
member, by ``policyDefinitionReferenceId``) on every resource at the remediation's scope now (or
only ``filters.locations``), and for each NonCompliant one applies the policy's operations to the
stored resource with the same code that rewrites request bodies at write time
(``enforcement.apply_changes``), records the write in the activity log and refreshes the
resource's stored policy states, all in the PUT's transaction. deployIfNotExists resources count as
failed deployments until a template engine exists. The remediation is stored with
``provisioningState`` (``Succeeded``, or ``Failed`` when a deployment failed) and
``deploymentStatus`` (total/successful/failed counts).
"""

from __future__ import annotations

import uuid
from typing import Any

from warden.authz.engine import scope_ancestors
from warden.governance.alias_store import active_aliases
from warden.governance.enforcement import Outcome, apply_changes, compiled
from warden.governance.policy import Effect, PolicyError, PolicySetDefinition, evaluate, member_parameters
from warden.governance.resources import ASSIGNMENTS, PolicyResourceHandler, scope_of
from warden.governance.scans import compute_states, document_of, store_states
from warden.kernel.activity import EventInput
from warden.kernel.clock import isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import ResourceId, key
from warden.kernel.providers import EXTENSION, ProviderRegistry, ResourceType
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row, resource_json, update_resource

NAMESPACE = "Microsoft.PolicyInsights"
REMEDIATIONS = f"{NAMESPACE}/remediations"
API_VERSIONS = ("2021-10-01", "2019-07-01")
_REMEDIABLE = {"modify", "append", "deployifnotexists"}
_UNDEPLOYABLE = "deployIfNotExists templates can't be deployed yet: Warden has no template engine."


def _remediation_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict:
    assert ctx.conn is not None
    assignment_id = properties.get("policyAssignmentId")
    assignment = get_row(ctx.conn, ctx.tenant_id, assignment_id) if isinstance(assignment_id, str) else None
    if assignment is None or assignment.type_key != ASSIGNMENTS.lower():
        raise NotFound(
            f"The policy assignment '{assignment_id}' could not be found.",
            code="PolicyAssignmentNotFound",
            target="properties.policyAssignmentId",
        )
    scope = scope_of(rid)
    if key(str(assignment.parent_key)) not in scope_ancestors(key(scope)):
        raise BadRequest(
            "A remediation must be at or below the scope of its policy assignment.",
            code="InvalidRemediationScope",
            target="properties.policyAssignmentId",
        )
    reference_id = properties.get("policyDefinitionReferenceId") or ""
    definition = get_row(ctx.conn, ctx.tenant_id, assignment.body["properties"]["policyDefinitionId"])
    is_initiative = definition is not None and isinstance(_compiled_or_none(definition), PolicySetDefinition)
    if is_initiative and not reference_id:
        raise BadRequest(
            "'policyDefinitionReferenceId' is required to remediate an initiative assignment.",
            code="InvalidRemediation",
            target="properties.policyDefinitionReferenceId",
        )
    locations = (properties.get("filters") or {}).get("locations") or []
    if not isinstance(locations, list) or not all(isinstance(x, str) for x in locations):
        raise BadRequest("'filters.locations' must be a list of locations.", target="properties.filters.locations")
    wanted_locations = {x.lower().replace(" ", "") for x in locations}
    aliases = active_aliases(ctx.platform.settings.data_dir)
    states, _ = compute_states(ctx.conn, ctx.tenant_id, scope, aliases=aliases)
    targets = [
        s
        for s in states
        if key(s["policyAssignmentId"]) == assignment.key
        and s["policyDefinitionReferenceId"].lower() == reference_id.lower()
        and s["complianceState"] == "NonCompliant"
        and s["policyDefinitionAction"].lower() in _REMEDIABLE
        and (not wanted_locations or s["resourceLocation"].lower() in wanted_locations)
    ]
    succeeded = failed = 0
    remediated: set[str] = set()
    for state in targets:
        if state["policyDefinitionAction"].lower() == "deployifnotexists":
            failed += 1
            continue
        if _remediate(ctx, assignment, state, aliases):
            succeeded += 1
            remediated.add(key(state["resourceId"]))
        else:
            failed += 1
    if remediated:
        refreshed, evaluated = compute_states(ctx.conn, ctx.tenant_id, resource_ids=remediated, aliases=aliases)
        store_states(ctx.conn, ctx.tenant_id, refreshed, evaluated)
    now = isoformat(utcnow())
    properties.update(
        policyAssignmentId=assignment.id,
        policyDefinitionReferenceId=reference_id,
        resourceDiscoveryMode=properties.get("resourceDiscoveryMode") or "ExistingNonCompliant",
        createdOn=existing.body["properties"].get("createdOn", now) if existing is not None else now,
        lastUpdatedOn=now,
        deploymentStatus={
            "totalDeployments": len(targets),
            "successfulDeployments": succeeded,
            "failedDeployments": failed,
        },
    )
    if failed and any(s["policyDefinitionAction"].lower() == "deployifnotexists" for s in targets):
        properties["statusMessage"] = _UNDEPLOYABLE
    return properties


def _compiled_or_none(row: Any) -> Any:
    try:
        return compiled(row)
    except PolicyError:
        return None


def _remediate(ctx: RequestContext, assignment: Any, state: dict[str, Any], aliases: Any) -> bool:
    """Apply the member policy's modify/append operations to one stored resource; return success."""
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, state["resourceId"])
    member = get_row(ctx.conn, ctx.tenant_id, state["policyDefinitionId"])
    if row is None or member is None:
        return False
    properties = assignment.body["properties"]
    values = properties.get("parameters")
    set_row = (
        get_row(ctx.conn, ctx.tenant_id, state["policySetDefinitionId"]) if state["policySetDefinitionId"] else None
    )
    try:
        if set_row is not None:
            initiative = compiled(set_row)
            reference = next(
                r
                for r in initiative.definitions
                if (r.reference_id or "").lower() == state["policyDefinitionReferenceId"].lower()
            )
            values = member_parameters(initiative, reference, values)
        document = document_of(row)
        result = evaluate(compiled(member), document, values, aliases=aliases, explain=False)
    except (PolicyError, StopIteration):
        return False
    if result.effect not in (Effect.MODIFY, Effect.APPEND):
        return False
    changed = apply_changes(
        document, [Outcome(assignment, member, set_row, state["policyDefinitionReferenceId"], result)], aliases
    )
    changed -= {"id", "name", "type", "location"}  # not changeable in place
    if not changed:
        return False
    body = dict(row.body)
    for name in changed:
        if name != "tags":
            body[name] = document.get(name)
    update_resource(ctx, row, tags=document.get("tags") or {} if "tags" in changed else None, body=body)
    _record_write(ctx, row, properties.get("scope") or "/")
    return True


def _record_write(ctx: RequestContext, row: Any, scope: str) -> None:
    assert ctx.conn is not None
    ctx.platform.activity.record(
        ctx.conn,
        EventInput(
            tenant_id=ctx.tenant_id,
            operation_name=f"{row.type}/write",
            resource_id=row.id,
            status="Succeeded",
            sub_status="OK",
            http_status=200,
            caller=ctx.caller.app_id,
            claims={},
            correlation_id=ctx.correlation_id,
            operation_id=str(uuid.uuid4()),
            method="PUT",
            client_ip=ctx.client_ip,
            client_request_id=ctx.headers.get("x-ms-client-request-id"),
            authorization_scope=scope,
        ),
    )


class RemediationHandler(PolicyResourceHandler):
    """Policy resource storage, with ``provisioningState: Failed`` when a deployment failed (the
    generic store marks everything it writes ``Succeeded``)."""

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        reply = super().put(ctx, rid, body)
        assert ctx.conn is not None
        if reply.body["properties"]["deploymentStatus"]["failedDeployments"]:
            row = get_row(ctx.conn, ctx.tenant_id, str(rid))
            properties = {**row.body["properties"], "provisioningState": "Failed"}
            row = update_resource(ctx, row, body={**row.body, "properties": properties})
            reply = Reply(reply.status, resource_json(row), {"ETag": row.etag})
        return reply


def register_remediations(registry: ProviderRegistry) -> None:
    handler = RemediationHandler(
        REMEDIATIONS, "RemediationNotFound", "remediation", descendants=True, on_write=_remediation_write
    )
    registry.register(
        ResourceType(
            NAMESPACE,
            ("remediations",),
            handler,
            placements=frozenset({EXTENSION}),
            display_name="remediation",
            api_versions=API_VERSIONS,
        )
    )
