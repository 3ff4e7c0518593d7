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
from warden.kernel.providers import EXTENSION, Action, ProviderRegistry, ResourceType
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row, resource_json, update_resource

NAMESPACE = "Microsoft.PolicyInsights"
REMEDIATIONS = f"{NAMESPACE}/remediations"
API_VERSIONS = ("2021-10-01", "2019-07-01")
_REMEDIABLE = {"modify", "append", "deployifnotexists"}
_DEPLOYMENTS = "_deployments"  # private body field: never rendered (kernel.resources.private_fields)
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
    now = isoformat(utcnow())
    deployments = []
    for state in targets:
        error = None
        if state["policyDefinitionAction"].lower() == "deployifnotexists":
            error = {"code": "DeploymentNotSupported", "message": _UNDEPLOYABLE}
        elif _remediate(ctx, assignment, state, aliases):
            remediated.add(key(state["resourceId"]))
        else:
            error = {"code": "RemediationFailed", "message": "The policy's operations could not be applied."}
        succeeded, failed = succeeded + (error is None), failed + (error is not None)
        deployment = {
            "remediatedResourceId": state["resourceId"],
            "deploymentId": None,
            "status": "Failed" if error else "Succeeded",
            "resourceLocation": state["resourceLocation"],
            "createdOn": now,
            "lastUpdatedOn": now,
        }
        if error:
            deployment["error"] = error
        deployments.append(deployment)
    if remediated:
        refreshed, evaluated = compute_states(ctx.conn, ctx.tenant_id, resource_ids=remediated, aliases=aliases)
        store_states(ctx.conn, ctx.tenant_id, refreshed, evaluated)
    properties[_DEPLOYMENTS] = deployments  # moved out of the rendered properties by RemediationHandler
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
        return self._finish(ctx, rid, super().put(ctx, rid, body))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self._finish(ctx, rid, super().patch(ctx, rid, body))

    def _finish(self, ctx: RequestContext, rid: ResourceId, reply: Reply) -> Reply:
        """Keep the per-resource deployments out of the rendered properties (``listDeployments``
        reads them) and mark a remediation with failed deployments ``Failed``."""
        assert ctx.conn is not None
        row = get_row(ctx.conn, ctx.tenant_id, str(rid))
        properties = dict(row.body["properties"])
        deployments = properties.pop(_DEPLOYMENTS, row.body.get(_DEPLOYMENTS, []))
        if properties["deploymentStatus"]["failedDeployments"]:
            properties["provisioningState"] = "Failed"
        row = update_resource(ctx, row, body={**row.body, "properties": properties, _DEPLOYMENTS: deployments})
        return Reply(reply.status, resource_json(row), {"ETag": row.etag})


def list_deployments(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """Azure's ``listDeployments``: one entry per resource the remediation acted on."""
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, str(rid))
    if row is None or row.type_key != REMEDIATIONS.lower():
        raise NotFound(f"The remediation '{rid.name}' could not be found.", code="RemediationNotFound")
    deployments = row.body.get(_DEPLOYMENTS, [])
    top = ctx.query.get("$top")
    if top and top.isdigit():
        deployments = deployments[: int(top)]
    return Reply(200, {"value": deployments})


def register_remediations(registry: ProviderRegistry) -> None:
    handler = RemediationHandler(
        REMEDIATIONS, "RemediationNotFound", "remediation", descendants=True, on_write=_remediation_write
    )
    remediations = registry.register(
        ResourceType(
            NAMESPACE,
            ("remediations",),
            handler,
            placements=frozenset({EXTENSION}),
            display_name="remediation",
            api_versions=API_VERSIONS,
        )
    )
    remediations.add_action(
        Action(
            "listDeployments",
            list_deployments,
            changes_state=False,
            description="List the deployments of a remediation",
            verb="read",
        )
    )
