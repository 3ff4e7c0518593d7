"""``{scope}/providers/Microsoft.PolicyInsights``: policy states (``policyStates/latest/summarize``,
``.../queryResults``, ``.../triggerEvaluation``) and remediations.

``summarize`` and ``queryResults`` read the states stored by the last compliance scan covering the
scope (``warden.governance.scans``); where no scan has run yet they evaluate on demand, with the
same code, so answers never depend on whether the background scanner got there first.
``triggerEvaluation`` is a long-running operation (202 with ``Location``), as in Azure: a job
scans the subscription or group and the operation ends when the states are stored.

A remediation (``Microsoft.PolicyInsights/remediations``) names an assignment (and, for an
initiative, a member's reference ID): creating it evaluates that policy on the resources at its
scope now and, for each NonCompliant one, applies the modify/append operations to the stored
resource (the same code that rewrites request bodies at write time), records a write event in the
activity log and refreshes the resource's stored states. deployIfNotExists can't deploy yet (no
template engine): each such resource counts as a failed deployment. ``deploymentStatus`` reports
the counts.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from warden.governance.alias_store import active_aliases
from warden.governance.remediations import register_remediations
from warden.governance.resources import SCAN_JOB
from warden.governance.scans import latest_states
from warden.kernel import operations
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, MethodNotAllowed, NotFound
from warden.kernel.ids import ResourceId, parse_container
from warden.kernel.jobs import enqueue
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.providers import EXTENSION, Action, ProviderRegistry, ResourceType
from warden.kernel.reply import Reply

NAMESPACE = "Microsoft.PolicyInsights"
API_VERSIONS = ("2019-10-01",)


def _counts(states: list[dict[str, Any]]) -> dict[str, Any]:
    by_resource: dict[str, set[str]] = defaultdict(set)
    by_policy: dict[str, set[str]] = defaultdict(set)
    for state in states:
        by_resource[state["resourceId"].lower()].add(state["complianceState"])
        by_policy[(state["policyAssignmentId"] + "|" + state["policyDefinitionId"]).lower()].add(
            state["complianceState"]
        )

    def rollup(values: dict[str, set[str]]) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for found in values.values():
            if "NonCompliant" in found:
                counts["noncompliant"] += 1
            elif "Compliant" in found:
                counts["compliant"] += 1
            elif "Exempt" in found:
                counts["exempt"] += 1
        return counts

    resource_counts, policy_counts = rollup(by_resource), rollup(by_policy)
    return {
        "nonCompliantResources": resource_counts.get("noncompliant", 0),
        "nonCompliantPolicies": policy_counts.get("noncompliant", 0),
        "resourceDetails": [{"complianceState": s, "count": n} for s, n in sorted(resource_counts.items())],
        "policyDetails": [{"complianceState": s, "count": n} for s, n in sorted(policy_counts.items())],
        "policyGroupDetails": [],
    }


_FILTERABLE = (
    "complianceState",
    "resourceId",
    "resourceType",
    "resourceLocation",
    "policyAssignmentId",
    "policyAssignmentName",
    "policyDefinitionId",
    "policyDefinitionName",
    "policyDefinitionAction",
    "policySetDefinitionId",
    "policyDefinitionReferenceId",
)
_FIELDS = {name.lower(): name for name in _FILTERABLE}


def filtered_states(ctx: RequestContext, scope: str) -> list[dict[str, Any]]:
    """The scope's policy states matching ``$filter`` (``eq``/``ne`` on state fields, ``and``ed)."""
    tests = []
    for clause in parse_filter(ctx.query.get("$filter")):
        field = _FIELDS.get(clause.name.lower())
        if field is None or clause.op not in ("eq", "ne"):
            raise InvalidFilter(f"The $filter clause '{clause.name} {clause.op}' is not supported for policy states.")
        wanted, equal = (clause.value or "").lower(), clause.op == "eq"
        tests.append(lambda s, f=field, w=wanted, e=equal: (str(s.get(f, "")).lower() == w) == e)
    return [s for s in states_of(ctx, scope) if all(test(s) for test in tests)]


def states_of(ctx: RequestContext, scope: str) -> list[dict[str, Any]]:
    """The scope's latest states (stored by scans, what changed since evaluated now)."""
    assert ctx.conn is not None
    return latest_states(ctx.conn, ctx.tenant_id, scope, aliases=active_aliases(ctx.platform.settings.data_dir))


def trigger_evaluation(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """Start a compliance scan of the subscription or group: 202 with ``Location`` (and
    ``Azure-AsyncOperation``), as Azure answers; the operation succeeds once the states are stored."""
    assert ctx.conn is not None
    _require_latest(rid)
    subscription_id = parse_container(rid.scope).subscription_id if rid.scope else None
    if not subscription_id:
        raise BadRequest(
            "Policy evaluations can be triggered for a subscription or a resource group.", code="InvalidScope"
        )
    operation_id = operations.start_operation(
        ctx.conn,
        tenant_id=ctx.tenant_id,
        subscription_id=subscription_id,
        target_id=rid.scope,
        name=f"{NAMESPACE}/policyStates/triggerEvaluation/action",
        created_by=ctx.caller.object_id,
    )
    enqueue(ctx.conn, SCAN_JOB, {"operation_id": operation_id, "tenant_id": ctx.tenant_id, "scope": rid.scope})
    return operations.accepted(ctx.base_url, subscription_id, operation_id, ctx.api_version or API_VERSIONS[0])


def summarize(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """Azure's ``SummarizeResults``: totals for the scope, per assignment and per definition."""
    _require_latest(rid)
    states = filtered_states(ctx, rid.scope)
    by_assignment: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for state in states:
        by_assignment[state["policyAssignmentId"]].append(state)
    assignments = []
    for assignment_id, items in sorted(by_assignment.items()):
        by_definition: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for state in items:
            by_definition[(state["policyDefinitionId"], state["policyDefinitionReferenceId"])].append(state)
        definitions = [
            {
                "policyDefinitionId": definition_id,
                "policyDefinitionReferenceId": reference_id,
                "effect": group[0]["policyDefinitionAction"],
                "results": _counts(group),
            }
            for (definition_id, reference_id), group in sorted(by_definition.items())
        ]
        assignments.append(
            {
                "policyAssignmentId": assignment_id,
                "policySetDefinitionId": items[0]["policySetDefinitionId"],
                "results": _counts(items),
                "policyDefinitions": definitions,
                "policyGroups": [],
            }
        )
    summary = {
        "@odata.id": None,
        "@odata.context": "https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#summary/$entity",
        "results": _counts(states),
        "policyAssignments": assignments,
    }
    return Reply(
        200,
        {
            "@odata.context": "https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#summary",
            "@odata.count": 1,
            "value": [summary],
        },
    )


def query_results(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """Azure's ``PolicyStatesQueryResults``: one record per (resource, assignment, definition)."""
    _require_latest(rid)
    states = filtered_states(ctx, rid.scope)
    top = ctx.query.get("$top")
    if top and top.isdigit():
        states = states[: int(top)]
    context = "https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#latest"
    return Reply(200, {"@odata.context": context, "@odata.count": len(states), "value": states})


def _require_latest(rid: ResourceId) -> None:
    if rid.name.lower() != "latest":
        raise NotFound(f"The policy states resource '{rid.name}' is not supported; use 'latest'.")


class PolicyStatesHandler:
    """``policyStates/latest`` is only reachable through its POST actions."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("Policy states are read with POST .../policyStates/latest/queryResults.")

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed("Policy states cannot be written.")

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed("Policy states cannot be written.")

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("Policy states cannot be deleted.")

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        return []


def register(registry: ProviderRegistry) -> None:
    states = registry.register(
        ResourceType(
            NAMESPACE,
            ("policyStates",),
            PolicyStatesHandler(),
            placements=frozenset({EXTENSION}),
            display_name="policy states",
            api_versions=API_VERSIONS,
            writable=False,
        )
    )
    states.add_action(
        Action("summarize", summarize, changes_state=False, description="Summarize policy states", verb="read")
    )
    states.add_action(
        Action("queryResults", query_results, changes_state=False, description="Query policy states", verb="read")
    )
    states.add_action(
        Action("triggerEvaluation", trigger_evaluation, changes_state=False, description="Evaluate policy states")
    )
    register_remediations(registry)
