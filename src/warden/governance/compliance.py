"""On-demand compliance: ``POST {scope}/providers/Microsoft.PolicyInsights/policyStates/latest/summarize``
and ``.../queryResults``.

Each call evaluates, there and then, every stored resource (and resource group) at or below the
scope against the assignments that apply to it (at its scope or above, ``notScopes`` honoured,
exemptions making it ``Exempt``), and answers in Azure's shapes. Nothing is persisted yet: there
is no background scan, so ``latest`` always means "now".
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import or_, select

from warden.authz.engine import scope_ancestors
from warden.governance.enforcement import (
    POLICY_GROUP_TYPE,
    compiled,
    live_exemptions,
    load_definitions,
)
from warden.governance.policy import Effect, PolicyError, PolicySetDefinition, evaluate, member_parameters
from warden.governance.resources import ASSIGNMENTS, EXEMPTIONS
from warden.kernel.context import RequestContext
from warden.kernel.errors import MethodNotAllowed, NotFound
from warden.kernel.ids import ResourceId, key
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.providers import EXTENSION, Action, ProviderRegistry, ResourceType
from warden.kernel.reply import Reply
from warden.kernel.resources import RESOURCE_GROUP_TYPE, resource_json
from warden.kernel.schema import below, resources

NAMESPACE = "Microsoft.PolicyInsights"
API_VERSIONS = ("2019-10-01",)
_IGNORED_PREFIXES = ("microsoft.authorization/", "microsoft.policyinsights/", "microsoft.resources/tags")


def _document(row: Any) -> dict[str, Any]:
    document = resource_json(row)
    document.pop("systemData", None)
    document.pop("etag", None)
    if row.type_key == RESOURCE_GROUP_TYPE.lower():
        document["type"] = POLICY_GROUP_TYPE
    return document


def evaluate_scope(ctx: RequestContext, scope: str) -> list[dict[str, Any]]:
    """One policy state per (resource, assignment, member definition) at or below ``scope``."""
    assert ctx.conn is not None
    scope_key = key(scope or "/")
    in_scope = or_(resources.c.key == scope_key, below(resources.c.key, scope_key))
    rows = ctx.conn.execute(
        select(resources).where(resources.c.tenant_id == ctx.tenant_id, in_scope).order_by(resources.c.key)
    ).all()
    targets = [r for r in rows if not r.type_key.startswith(_IGNORED_PREFIXES)]
    assignments = ctx.conn.execute(
        select(resources).where(resources.c.tenant_id == ctx.tenant_id, resources.c.type_key == ASSIGNMENTS.lower())
    ).all()
    exemption_rows = ctx.conn.execute(
        select(resources).where(resources.c.tenant_id == ctx.tenant_id, resources.c.type_key == EXEMPTIONS.lower())
    ).all()
    definitions = load_definitions(ctx, list(assignments)) if assignments else {}
    states = []
    for row in targets:
        ancestors = set(scope_ancestors(row.key))
        exemptions = live_exemptions(exemption_rows, ancestors)
        document = _document(row)
        for assignment in assignments:
            if assignment.parent_key not in ancestors:
                continue
            properties = assignment.body["properties"]
            not_scopes = [key(s) for s in properties.get("notScopes") or []]
            if any(row.key == s or row.key.startswith(s.rstrip("/") + "/") for s in not_scopes):
                continue
            states.extend(_assignment_states(row, document, assignment, definitions, exemptions))
    return states


def _assignment_states(
    row: Any, document: dict, assignment: Any, definitions: dict[str, Any], exemptions: dict[str, list[set[str]]]
) -> list[dict[str, Any]]:
    properties = assignment.body["properties"]
    definition_row = definitions.get(key(properties["policyDefinitionId"]))
    if definition_row is None:
        return []
    lifted = exemptions.get(assignment.key, [])
    whole = any(not refs for refs in lifted)
    exempt_refs = set().union(*lifted) if lifted else set()
    try:
        policy = compiled(definition_row)
    except PolicyError:
        return []
    members: list[tuple[Any, str | None, Any]] = []
    if isinstance(policy, PolicySetDefinition):
        for reference in policy.definitions:
            member = definitions.get(key(reference.definition_id))
            if member is not None:
                values = member_parameters(policy, reference, properties.get("parameters"))
                members.append((member, reference.reference_id, values))
    else:
        members.append((definition_row, None, properties.get("parameters")))
    states = []
    for member, reference_id, values in members:
        base = {
            "resourceId": row.id,
            "resourceType": document["type"],
            "resourceLocation": row.location or "",
            "policyAssignmentId": assignment.id,
            "policyAssignmentName": assignment.name,
            "policyAssignmentScope": properties.get("scope") or "/",
            "policyDefinitionId": member.id,
            "policyDefinitionName": member.name,
            "policySetDefinitionId": definition_row.id if reference_id is not None else "",
            "policyDefinitionReferenceId": reference_id or "",
        }
        if whole or (reference_id or "").lower() in exempt_refs:
            states.append({**base, "complianceState": "Exempt", "policyDefinitionAction": "", "isCompliant": False})
            continue
        try:
            result = evaluate(compiled(member), document, values, explain=False)
        except PolicyError:
            continue
        if result.effect is Effect.DISABLED or result.compliance_state.value == "NotApplicable":
            continue
        effect = result.effect.value if result.effect is not Effect.NONE else _effect_of(member)
        state = result.compliance_state.value
        states.append(
            {**base, "complianceState": state, "policyDefinitionAction": effect, "isCompliant": state == "Compliant"}
        )
    return states


def _effect_of(row: Any) -> str:
    then = row.body["properties"].get("policyRule", {}).get("then", {})
    effect = then.get("effect", "") if isinstance(then, dict) else ""
    return str(effect).lower() if not str(effect).startswith("[") else ""


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
    return [s for s in evaluate_scope(ctx, scope) if all(test(s) for test in tests)]


def trigger_evaluation(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """Evaluation happens on every query, so a triggered scan has nothing left to do."""
    _require_latest(rid)
    return Reply(200)


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
