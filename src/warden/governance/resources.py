"""Azure Policy's resources under ``Microsoft.Authorization``: definitions, initiatives,
assignments and exemptions.

All four are stored in the generic ``resources`` table (they are extension resources: their
``parent_key`` is the scope they hang from), so they go with their resource group or
subscription and need no table of their own. Definitions and initiatives are validated with the
pure engine (``warden.governance.policy``); an invalid one is refused with 400 naming the JSON
path of the problem. Enforcement of assignments lives in ``warden.governance.enforcement``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select, update

from warden.authz.engine import scope_ancestors
from warden.governance.policy import (
    PolicyDefinitionError,
    PolicyError,
    bind_parameters,
    check_references,
    load_definition,
    load_set_definition,
)
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import ResourceId, key
from warden.kernel.jobs import enqueue
from warden.kernel.odata import InvalidFilter, parse_filter
from warden.kernel.providers import EXTENSION, SUBSCRIPTION, TENANT, ProviderRegistry, ResourceType
from warden.kernel.reply import Reply
from warden.kernel.resources import GenericResourceHandler, get_row, resource_json
from warden.kernel.schema import below, resources

NAMESPACE = "Microsoft.Authorization"
DEFINITIONS = "Microsoft.Authorization/policyDefinitions"
SET_DEFINITIONS = "Microsoft.Authorization/policySetDefinitions"
ASSIGNMENTS = "Microsoft.Authorization/policyAssignments"
EXEMPTIONS = "Microsoft.Authorization/policyExemptions"
API_VERSIONS = ("2023-04-01", "2022-06-01", "2021-06-01", "2020-09-01")
ENFORCEMENT_MODES = {"default": "Default", "donotenforce": "DoNotEnforce"}
EXEMPTION_CATEGORIES = {"waiver": "Waiver", "mitigated": "Mitigated"}
SCAN_JOB = "policy.scan"  # a compliance scan of a scope, run by warden.governance.scans.scan_job


def queue_scan(ctx: RequestContext, scope: str) -> None:
    """After this write commits, rescan ``scope``: an assignment or exemption changed what is
    compliant there (until the scan ends, policy states are evaluated on demand)."""
    assert ctx.conn is not None
    enqueue(ctx.conn, SCAN_JOB, {"tenant_id": ctx.tenant_id, "scope": scope or "/"})


class _Properties(BaseModel):
    """Policy resources validate their properties in their ``on_write`` hooks, with the engine."""

    model_config = ConfigDict(extra="allow")


def scope_of(rid: ResourceId) -> str:
    """The scope an extension resource hangs from, as Azure writes it (``/`` for the tenant root)."""
    return rid.scope or "/"


def parse_time(value: Any, target: str) -> datetime:
    """An ISO 8601 time; raises 400 naming ``target`` otherwise."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'{target}' must be an ISO 8601 date and time.", target=target) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _invalid(error: PolicyError, code: str, what: str) -> BadRequest:
    if isinstance(error, PolicyDefinitionError):
        where = error.path if error.path.startswith("properties") or not error.path else f"properties.{error.path}"
        return BadRequest(f"The {what} is invalid at '{where}': {error.reason}", code=code, target=where or None)
    return BadRequest(f"The {what} is invalid: {error}", code=code)


def _definition_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict:
    try:
        compiled = load_definition({"id": str(rid), "name": rid.name, "properties": properties})
    except PolicyError as error:
        raise _invalid(error, "InvalidPolicyRule", "policy definition") from None
    properties["mode"] = properties.get("mode") or compiled.mode
    properties["policyType"] = "Custom"
    return properties


def _set_definition_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict:
    assert ctx.conn is not None
    try:
        compiled = load_set_definition({"id": str(rid), "name": rid.name, "properties": properties})
    except PolicyError as error:
        raise _invalid(error, "InvalidPolicySetDefinition", "policy set definition") from None
    catalog = {}
    for index, reference in enumerate(compiled.definitions):
        row = get_row(ctx.conn, ctx.tenant_id, reference.definition_id)
        if row is None or row.type_key != DEFINITIONS.lower():
            raise NotFound(
                f"The policy definition '{reference.definition_id}' could not be found.",
                code="PolicyDefinitionNotFound",
                target=f"properties.policyDefinitions[{index}].policyDefinitionId",
            )
        catalog[reference.definition_name.lower()] = load_definition({"properties": row.body["properties"]})
    problems = check_references(compiled, catalog)
    if problems:
        raise BadRequest(
            f"The policy set definition '{rid.name}' is invalid: {'; '.join(problems)}",
            code="InvalidPolicySetDefinition",
        )
    properties["policyType"] = "Custom"
    return properties


def policy_definition_of(conn: Any, tenant_id: str, definition_id: str) -> Any:
    """The stored definition or initiative row ``definition_id`` names, or ``None``."""
    row = get_row(conn, tenant_id, definition_id)
    if row is None or row.type_key not in (DEFINITIONS.lower(), SET_DEFINITIONS.lower()):
        return None
    return row


def _assignment_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict:
    assert ctx.conn is not None
    definition_id = properties.get("policyDefinitionId")
    if not isinstance(definition_id, str) or not definition_id:
        raise BadRequest(
            "'policyDefinitionId' is required.", code="InvalidPolicyAssignment", target="properties.policyDefinitionId"
        )
    row = policy_definition_of(ctx.conn, ctx.tenant_id, definition_id)
    if row is None:
        raise NotFound(
            f"The policy definition '{definition_id}' could not be found.",
            code="PolicyDefinitionNotFound",
            target="properties.policyDefinitionId",
        )
    definition_scope = key(str(row.parent_key))
    if definition_scope not in scope_ancestors(key(scope_of(rid))):
        raise BadRequest(
            f"The policy definition '{definition_id}' is not visible at scope '{scope_of(rid)}'.",
            code="InvalidPolicyAssignment",
            target="properties.policyDefinitionId",
        )
    document = {"properties": row.body["properties"]}
    parameters = properties.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise BadRequest(
            "'parameters' must be an object.", code="InvalidPolicyParameters", target="properties.parameters"
        )
    try:
        if row.type_key == SET_DEFINITIONS.lower():
            bind_parameters(load_set_definition(document).parameters, parameters)
        else:
            bind_parameters(load_definition(document).parameters, parameters)
    except PolicyError as error:
        raise BadRequest(str(error), code="InvalidPolicyParameters", target="properties.parameters") from None
    mode = ENFORCEMENT_MODES.get(str(properties.get("enforcementMode") or "Default").lower())
    if mode is None:
        raise BadRequest(
            "'enforcementMode' must be 'Default' or 'DoNotEnforce'.",
            code="InvalidPolicyAssignment",
            target="properties.enforcementMode",
        )
    not_scopes = properties.get("notScopes") or []
    if not isinstance(not_scopes, list) or not all(isinstance(s, str) and s.startswith("/") for s in not_scopes):
        raise BadRequest(
            "'notScopes' must be a list of scope IDs.", code="InvalidPolicyAssignment", target="properties.notScopes"
        )
    messages = properties.get("nonComplianceMessages") or []
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("message"), str) for m in messages
    ):
        raise BadRequest(
            "'nonComplianceMessages' must be a list of {message, policyDefinitionReferenceId} objects.",
            code="InvalidPolicyAssignment",
            target="properties.nonComplianceMessages",
        )
    properties.update(
        parameters=parameters,
        enforcementMode=mode,
        notScopes=not_scopes,
        scope=scope_of(rid),
        policyDefinitionId=row.id,
    )
    if not messages:
        properties.pop("nonComplianceMessages", None)
    queue_scan(ctx, scope_of(rid))
    return properties


def _exemption_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict:
    assert ctx.conn is not None
    category = EXEMPTION_CATEGORIES.get(str(properties.get("exemptionCategory") or "").lower())
    if category is None:
        raise BadRequest(
            "'exemptionCategory' must be 'Waiver' or 'Mitigated'.",
            code="InvalidPolicyExemption",
            target="properties.exemptionCategory",
        )
    assignment_id = properties.get("policyAssignmentId")
    assignment = get_row(ctx.conn, ctx.tenant_id, assignment_id) if isinstance(assignment_id, str) else None
    if assignment is None or assignment.type_key != ASSIGNMENTS.lower():
        raise NotFound(
            f"The policy assignment '{assignment_id}' could not be found.",
            code="PolicyAssignmentNotFound",
            target="properties.policyAssignmentId",
        )
    if key(str(assignment.parent_key)) not in scope_ancestors(key(scope_of(rid))):
        raise BadRequest(
            "An exemption must be at or below the scope of its policy assignment.",
            code="InvalidPolicyExemption",
            target="properties.policyAssignmentId",
        )
    references = properties.get("policyDefinitionReferenceIds") or []
    if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
        raise BadRequest(
            "'policyDefinitionReferenceIds' must be a list of strings.",
            code="InvalidPolicyExemption",
            target="properties.policyDefinitionReferenceIds",
        )
    if properties.get("expiresOn") is not None:
        parse_time(properties["expiresOn"], "properties.expiresOn")
    properties.update(exemptionCategory=category, policyAssignmentId=assignment.id)
    queue_scan(ctx, scope_of(rid))
    return properties


class PolicyResourceHandler(GenericResourceHandler):
    """The generic store, with Azure's not-found codes and scope-aware listing.

    Lists follow Azure: definitions at the scope and above (where they may be assigned);
    assignments and exemptions at, above and below the scope, ``$filter=atScope()`` at and
    above, ``atExactScope()`` exactly there, ``policyDefinitionId eq '...'`` by definition.
    """

    def __init__(self, type_name: str, not_found_code: str, label: str, *, descendants: bool, on_write: Any) -> None:
        super().__init__(type_name, _Properties, location_required=False, on_write=on_write)
        self.not_found_code = not_found_code
        self.label = label
        self.descendants = descendants

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        row = self._row(ctx, rid)
        if row is None or row.type_key != self.type_name.lower():
            raise NotFound(f"The {self.label} '{rid.name}' could not be found.", code=self.not_found_code)
        return Reply(200, resource_json(row), {"ETag": row.etag})

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self._hidden(ctx, rid, super().put(ctx, rid, body))

    def patch(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        return self._hidden(ctx, rid, super().patch(ctx, rid, body))

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        if self.type_name in (DEFINITIONS, SET_DEFINITIONS):
            self._refuse_if_referenced(ctx, rid)
        reply = super().delete(ctx, rid)
        if self.type_name in (ASSIGNMENTS, EXEMPTIONS) and reply.status == 200:
            queue_scan(ctx, scope_of(rid))
        return reply

    def _refuse_if_referenced(self, ctx: RequestContext, rid: ResourceId) -> None:
        """Azure refuses to delete a definition an assignment or an initiative still names."""
        assert ctx.conn is not None
        wanted = rid.key
        types = [ASSIGNMENTS.lower()] + ([SET_DEFINITIONS.lower()] if self.type_name == DEFINITIONS else [])
        rows = ctx.conn.execute(
            select(resources).where(resources.c.tenant_id == ctx.tenant_id, resources.c.type_key.in_(types))
        )
        for row in rows:
            properties = row.body.get("properties", {})
            if row.type_key == ASSIGNMENTS.lower():
                named = [properties.get("policyDefinitionId", "")]
            else:
                named = [m.get("policyDefinitionId", "") for m in properties.get("policyDefinitions") or []]
            if any(isinstance(n, str) and key(n) == wanted for n in named):
                what = "policy assignment" if row.type_key == ASSIGNMENTS.lower() else "policy set definition"
                code = "InvalidDeletePolicyDefinitionRequest"
                if self.type_name == SET_DEFINITIONS:
                    code = "InvalidDeletePolicySetDefinitionRequest"
                raise BadRequest(
                    f"The {self.label} '{rid.name}' cannot be deleted. It is referenced by the {what} "
                    f"'{row.id}'. Please delete all {what}s referencing the policy.",
                    code=code,
                )

    def _hidden(self, ctx: RequestContext, rid: ResourceId, reply: Reply) -> Reply:
        """Policy resources are not resources of the group they are scoped to: ARM's
        ``/resources`` listings (which select on ``resource_group_key``) must not show them.
        They still go with their group, whose deletion removes everything below its ID."""
        assert ctx.conn is not None
        ctx.conn.execute(
            update(resources)
            .where(resources.c.tenant_id == ctx.tenant_id, resources.c.key == rid.key)
            .values(resource_group_key=None)
        )
        return reply

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        assert ctx.conn is not None
        scope_key = key(scope or "/")
        ancestors = scope_ancestors(scope_key)
        where = or_(resources.c.parent_key.in_(ancestors), below(resources.c.parent_key, scope_key))
        if not self.descendants:
            where = resources.c.parent_key.in_(ancestors)
        definition_id = None
        for clause in parse_filter(ctx.query.get("$filter")):
            name = clause.name.lower()
            if clause.op == "call" and name == "atscope":
                where = resources.c.parent_key.in_(ancestors)
            elif clause.op == "call" and name == "atexactscope":
                where = resources.c.parent_key == scope_key
            elif clause.op == "eq" and name == "policydefinitionid" and self.type_name == ASSIGNMENTS:
                definition_id = key(clause.value or "")
            elif clause.op == "eq" and name == "policytype":
                if (clause.value or "").lower() != "custom":
                    return []
            else:
                raise InvalidFilter(f"The $filter clause '{clause.name}' is not supported for {self.label}s.")
        query = select(resources).where(
            resources.c.tenant_id == ctx.tenant_id, resources.c.type_key == self.type_name.lower(), where
        )
        items = [resource_json(row) for row in ctx.conn.execute(query.order_by(resources.c.key))]
        if definition_id is not None:
            items = [i for i in items if key(i["properties"].get("policyDefinitionId", "")) == definition_id]
        return items


def register(registry: ProviderRegistry) -> None:
    definition_places = frozenset({SUBSCRIPTION, TENANT})
    anywhere = frozenset({EXTENSION})
    for name, code, label, places, descendants, hook in (
        (
            "policyDefinitions",
            "PolicyDefinitionNotFound",
            "policy definition",
            definition_places,
            False,
            _definition_write,
        ),
        (
            "policySetDefinitions",
            "PolicySetDefinitionNotFound",
            "policy set definition",
            definition_places,
            False,
            _set_definition_write,
        ),
        ("policyAssignments", "PolicyAssignmentNotFound", "policy assignment", anywhere, True, _assignment_write),
        ("policyExemptions", "PolicyExemptionNotFound", "policy exemption", anywhere, True, _exemption_write),
    ):
        handler = PolicyResourceHandler(f"{NAMESPACE}/{name}", code, label, descendants=descendants, on_write=hook)
        registry.register(
            ResourceType(NAMESPACE, (name,), handler, placements=places, display_name=label, api_versions=API_VERSIONS)
        )
