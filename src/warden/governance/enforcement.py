"""Azure Policy at write time: the write interceptor the kernel pipeline runs before a handler.

For a PUT or PATCH of a resource (or resource group) it finds the assignments at the target's
scope and above whose ``notScopes`` don't cover it and that no live exemption lifts, evaluates
their definitions on the resource as it will be after the write (ARM JSON: id, name, type,
location, tags, properties; for PATCH the request merged with the stored resource), and applies
Azure's order: append/modify change the request body, then deny raises 403
``RequestDisallowedByPolicy`` naming every denying assignment, then audit records an activity-log
event ``Microsoft.Authorization/policies/audit/action``. ``enforcementMode: DoNotEnforce``
applies nothing and audits what would have been denied.

Per write it costs one query for assignments (and one for exemptions and definitions when there
are any); compiled definitions are cached by (id, etag). A write that assignments apply to also
queues a ``policy.evaluate`` job (see ``warden.governance.scans``) that stores its policy states.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from warden.authz.engine import scope_ancestors
from warden.governance.alias_store import active_aliases
from warden.governance.policy import (
    STAR,
    AliasTable,
    Effect,
    EvaluationResult,
    PolicyDefinition,
    PolicyError,
    PolicySetDefinition,
    TypeIndex,
    default_aliases,
    evaluate,
    load_definition,
    load_set_definition,
    member_parameters,
)
from warden.governance.policy.fields import parse_field, resolve_path
from warden.governance.resources import (
    ASSIGNMENTS,
    DEFINITIONS,
    EXEMPTIONS,
    SET_DEFINITIONS,
    parse_time,
)
from warden.kernel.activity import EventInput
from warden.kernel.errors import Forbidden, WardenError
from warden.kernel.ids import InvalidResourceId, key, parse_resource_id
from warden.kernel.jobs import enqueue
from warden.kernel.resources import RESOURCE_GROUP_TYPE, get_row, normalize_location, resource_json
from warden.kernel.schema import resources

if TYPE_CHECKING:
    from warden.kernel.context import RequestContext
    from warden.kernel.pipeline import Endpoint

log = logging.getLogger(__name__)
AUDIT_OPERATION = "Microsoft.Authorization/policies/audit/action"
EVALUATE_JOB = "policy.evaluate"  # re-evaluates written resources (warden.governance.scans.evaluate_job)
# Policy does not govern its own resources, access management, or subscriptions (as in Azure).
TAGS_TYPE = "microsoft.resources/tags"
_UNGOVERNED_NAMESPACES = ("microsoft.authorization/", "microsoft.subscription/", "microsoft.policyinsights/")
# The type policy rules see for a resource group (ARM's JSON says Microsoft.Resources/resourceGroups).
POLICY_GROUP_TYPE = "Microsoft.Resources/subscriptions/resourceGroups"
_CACHE_LIMIT = 4096
_compiled: dict[tuple[str, str], PolicyDefinition | PolicySetDefinition] = {}


class RequestDisallowedByPolicy(Forbidden):
    code = "RequestDisallowedByPolicy"


@dataclass
class Outcome:
    """One evaluated (assignment, member definition) pair."""

    assignment: Any  # the assignment's row
    definition: Any  # the member definition's row
    set_definition: Any | None
    reference_id: str | None
    result: EvaluationResult

    @property
    def enforced(self) -> bool:
        return self.assignment.body["properties"].get("enforcementMode", "Default") != "DoNotEnforce"


def compiled(row: Any) -> PolicyDefinition | PolicySetDefinition:
    """The compiled definition or initiative of a stored row, cached by (id, etag)."""
    cache_key = (row.key, row.etag)
    found = _compiled.get(cache_key)
    if found is None:
        document = {"id": row.id, "name": row.name, "properties": row.body["properties"]}
        if row.type_key == SET_DEFINITIONS.lower():
            found = load_set_definition(document)
        else:
            found = load_definition(document)
        if len(_compiled) >= _CACHE_LIMIT:
            _compiled.clear()
        _compiled[cache_key] = found
    return found


def target_type(target: str) -> str | None:
    """The resource type a write targets, or ``None`` for IDs that are not resources."""
    parts = [p.lower() for p in target.strip("/").split("/")]
    if len(parts) == 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups":
        return RESOURCE_GROUP_TYPE
    try:
        return parse_resource_id(target).type
    except InvalidResourceId:
        return None


def intercept(ctx: RequestContext, endpoint: Endpoint) -> None:
    """The write interceptor: raise ``RequestDisallowedByPolicy``, or let the write go on
    (with its body modified by append/modify policies and audit events recorded)."""
    if ctx.method not in ("PUT", "PATCH") or not endpoint.operation.lower().endswith("/write"):
        return
    target = endpoint.scope
    resource_type = target_type(target)
    if resource_type is None or resource_type.lower().startswith(_UNGOVERNED_NAMESPACES):
        return
    tags_write = resource_type.lower() == TAGS_TYPE
    if tags_write:  # the Tags API changes the tags of the resource (or group) it hangs from
        target = parse_resource_id(target).scope
        resource_type = target_type(target) or ""
        if not resource_type or resource_type.lower().startswith(_UNGOVERNED_NAMESPACES):
            return
    if resource_type.lower().startswith("microsoft.resources/") and resource_type != RESOURCE_GROUP_TYPE:
        return
    assert ctx.conn is not None
    try:
        ancestors = scope_ancestors(key(target))
    except ValueError:
        return
    policies = snapshot(ctx)
    candidates = policies.for_type(POLICY_GROUP_TYPE if resource_type == RESOURCE_GROUP_TYPE else resource_type)
    assignments = applicable(candidates, target, set(ancestors))
    if not assignments:
        return
    body = ctx.body
    if not isinstance(body, dict):
        return  # the handler refuses it with its own error
    existing = get_row(ctx.conn, ctx.tenant_id, target)
    if (ctx.method == "PATCH" or tags_write) and existing is None:
        return  # the handler answers 404
    if tags_write:
        new_tags = _tags_after(ctx.method, body, existing.tags or {})
        if new_tags is None:
            return  # malformed: the handler reports it
        document = _after_write("PATCH", target, resource_type, {"tags": new_tags}, existing)
    else:
        document = _after_write(ctx.method, target, resource_type, body, existing)
    exemptions = live_exemptions(policies.exemptions, set(ancestors))
    definitions = policies.definitions
    request = {"apiVersion": ctx.api_version or ""}
    table = active_aliases(ctx.platform.settings.data_dir)
    outcomes = list(_evaluate(assignments, definitions, exemptions, document, request, table))
    changed = apply_changes(document, [o for o in outcomes if o.enforced], table)
    if tags_write:
        changed &= {"tags"}
    if changed:
        if tags_write:
            new_body = {"operation": "Replace", "properties": {"tags": document.get("tags") or {}}}
            ctx.replace_body(new_body if ctx.method == "PATCH" else {"properties": new_body["properties"]})
        else:
            ctx.replace_body(_new_body(ctx.method, body, document, changed))
        outcomes = list(_evaluate(assignments, definitions, exemptions, document, request, table))
    denials = [o for o in outcomes if o.result.effect is Effect.DENY and o.enforced]
    if denials:
        raise _disallowed(document, denials)
    for outcome in outcomes:
        if outcome.result.effect in (Effect.AUDIT, Effect.DENY):
            _record_audit(ctx, target, outcome)
    # After the write commits (the job exists only if it does): store the resource's policy states and
    # re-evaluate what it hangs from, whose auditIfNotExists/deployIfNotExists may now find it.
    enqueue(ctx.conn, EVALUATE_JOB, {"tenant_id": ctx.tenant_id, "resource_ids": affected_resources(target)})


def affected_resources(target: str) -> list[str]:
    """The written resource and every resource it hangs from (a child's parent, an extension's
    resource), up to its resource group: their *IfNotExists results may change with it."""
    found = []
    current = target.rstrip("/")
    while current.count("/") >= 4:
        found.append(current)
        lowered = current.lower()
        if "/providers/" not in lowered:
            break  # the resource group itself
        head = current.rsplit("/", 2)[0]  # drop the last type/name pair
        if head.lower().endswith("/providers"):
            head = head[: -len("/providers")]  # an extension's resource, or the group
        elif head.count("/") == lowered.rsplit("/providers/", 1)[0].count("/") + 2:
            head = head.rsplit("/", 2)[0]  # a top-level resource: its group
        current = head
    return found


def _tags_after(method: str, body: dict, current: dict[str, str]) -> dict[str, str] | None:
    """The tags a Tags API write leaves on its resource, or ``None`` for a body it will refuse."""
    properties = body.get("properties", {})
    given = properties.get("tags", {}) if isinstance(properties, dict) else None
    if not isinstance(given, dict):
        return None
    if method == "PUT":
        return dict(given)
    operation = str(body.get("operation", "")).lower()
    if operation == "merge":
        return {**current, **given}
    if operation == "replace":
        return dict(given)
    if operation == "delete":
        return {k: v for k, v in current.items() if not (k in given and given[k] in ("", v))}
    return None


@dataclass(frozen=True)
class Snapshot:
    """A tenant's policy rows: assignments, exemptions, and definitions/initiatives by key."""

    assignments: tuple[Any, ...]
    exemptions: tuple[Any, ...]
    definitions: dict[str, Any]
    _index: list[TypeIndex[Any]] = dataclass_field(default_factory=list, compare=False)

    def for_type(self, resource_type: str) -> list[Any]:
        """The assignments whose definition (any member, for an initiative) can match
        ``resource_type``: the others are NotApplicable and need no evaluation."""
        if not self._index:
            index: TypeIndex[Any] = TypeIndex()
            for row in self.assignments:
                index.add(row, self._types(row))
            self._index.append(index)
        return self._index[0].candidates(resource_type)

    def _types(self, assignment: Any) -> frozenset[str] | None:
        row = self.definitions.get(key(assignment.body["properties"]["policyDefinitionId"]))
        try:
            policy = compiled(row) if row is not None else None
            if not isinstance(policy, PolicySetDefinition):
                return policy.required_types if policy is not None else frozenset()
            found: set[str] = set()
            for reference in policy.definitions:
                member = self.definitions.get(key(reference.definition_id))
                types = compiled(member).required_types if member is not None else frozenset()
                if types is None:
                    return None
                found |= types
            return frozenset(found)
        except PolicyError:
            return None  # evaluated (and skipped with a warning) as before


POLICY_TYPES = tuple(t.lower() for t in (ASSIGNMENTS, EXEMPTIONS, DEFINITIONS, SET_DEFINITIONS))
# Keyed by database as well as tenant: several platforms (tests, tools) may share one process.
_snapshots: dict[tuple[str, str], tuple[tuple[Any, ...], Snapshot]] = {}


def snapshot(ctx: RequestContext) -> Snapshot:
    """The tenant's policy rows, reloaded only when their fingerprint (count, newest change)
    moved: every create, update and delete of a policy resource changes one or the other."""
    assert ctx.conn is not None
    in_tenant = (resources.c.tenant_id == ctx.tenant_id) & resources.c.type_key.in_(POLICY_TYPES)
    fingerprint = tuple(
        ctx.conn.execute(select(func.count(), func.max(resources.c.modified_at)).where(in_tenant)).one()
    )
    cache_key = (str(ctx.conn.engine.url), ctx.tenant_id)
    cached = _snapshots.get(cache_key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    if fingerprint[0] == 0:
        loaded = Snapshot((), (), {})
    else:
        rows = ctx.conn.execute(select(resources).where(in_tenant)).all()
        loaded = Snapshot(
            tuple(r for r in rows if r.type_key == ASSIGNMENTS.lower()),
            tuple(r for r in rows if r.type_key == EXEMPTIONS.lower()),
            {r.key: r for r in rows if r.type_key in (DEFINITIONS.lower(), SET_DEFINITIONS.lower())},
        )
    if len(_snapshots) >= _CACHE_LIMIT:
        _snapshots.clear()
    _snapshots[cache_key] = (fingerprint, loaded)
    return loaded


def applicable(assignments: Any, target: str, ancestors: set[str]) -> list[Any]:
    """The assignments at ``target``'s scope or above whose ``notScopes`` don't cover it."""
    target_key = key(target)
    result = []
    for row in assignments:
        if row.parent_key not in ancestors:
            continue
        not_scopes = [key(s) for s in row.body.get("properties", {}).get("notScopes") or []]
        if not any(target_key == s or target_key.startswith(s.rstrip("/") + "/") for s in not_scopes):
            result.append(row)
    return result


def live_exemptions(rows: Any, ancestors: set[str]) -> dict[str, list[set[str]]]:
    """Unexpired exemptions scoped at one of ``ancestors``, by assignment key: each a set of
    lower-cased reference IDs (empty: the whole assignment is exempt)."""
    now = datetime.now(UTC)
    found: dict[str, list[set[str]]] = {}
    for row in rows:
        if row.parent_key not in ancestors:
            continue
        properties = row.body.get("properties", {})
        expires = properties.get("expiresOn")
        if expires is not None and parse_time(expires, "expiresOn") <= now:
            continue
        references = {r.lower() for r in properties.get("policyDefinitionReferenceIds") or []}
        found.setdefault(key(properties.get("policyAssignmentId", "")), []).append(references)
    return found


def load_definitions(conn: Any, tenant_id: str, assignments: list[Any]) -> dict[str, Any]:
    """Definition and initiative rows the assignments need (members of initiatives included), by key."""
    wanted = {key(a.body["properties"]["policyDefinitionId"]) for a in assignments}
    found: dict[str, Any] = {}
    while wanted:
        rows = conn.execute(
            select(resources).where(resources.c.tenant_id == tenant_id, resources.c.key.in_(sorted(wanted)))
        ).all()
        wanted = set()
        for row in rows:
            found[row.key] = row
            if row.type_key == SET_DEFINITIONS.lower():
                for member in row.body["properties"].get("policyDefinitions") or []:
                    member_key = key(str(member.get("policyDefinitionId", "")))
                    if member_key not in found:
                        wanted.add(member_key)
    return found


def _evaluate(
    assignments: list[Any],
    definitions: dict[str, Any],
    exemptions: dict[str, list[set[str]]],
    document: dict,
    request: dict[str, Any] | None = None,
    aliases: AliasTable | None = None,
) -> Iterator[Outcome]:
    for assignment in assignments:
        properties = assignment.body["properties"]
        lifted = exemptions.get(assignment.key, [])
        if any(not references for references in lifted):
            continue
        exempt_references = set().union(*lifted) if lifted else set()
        row = definitions.get(key(properties["policyDefinitionId"]))
        if row is None:
            continue  # its definition was deleted: Azure stops enforcing it too
        info = {"assignmentId": assignment.id, "definitionId": row.id}
        try:
            policy = compiled(row)
            if isinstance(policy, PolicySetDefinition):
                for reference in policy.definitions:
                    if (reference.reference_id or "").lower() in exempt_references:
                        continue
                    member = definitions.get(key(reference.definition_id))
                    if member is None:
                        continue
                    values = member_parameters(policy, reference, properties.get("parameters"))
                    member_info = {**info, "setDefinitionId": row.id, "definitionReferenceId": reference.reference_id}
                    result = evaluate(
                        compiled(member),
                        document,
                        values,
                        request,
                        policy_info=member_info,
                        explain=False,
                        aliases=aliases,
                    )
                    yield Outcome(assignment, member, row, reference.reference_id, result)
            else:
                result = evaluate(
                    policy,
                    document,
                    properties.get("parameters"),
                    request,
                    policy_info=info,
                    explain=False,
                    aliases=aliases,
                )
                yield Outcome(assignment, row, None, None, result)
        except PolicyError:
            # A stored definition or assignment the engine no longer accepts: skip it rather than
            # fail every write under it; it was valid when stored.
            log.warning("policy assignment %s could not be evaluated", assignment.id, exc_info=True)


def _after_write(method: str, target: str, resource_type: str, body: dict, existing: Any) -> dict[str, Any]:
    """The ARM JSON the resource will have once the write succeeds."""
    if method == "PATCH":
        document = resource_json(existing)
        document.pop("systemData", None)
        document.pop("etag", None)
        if "tags" in body:
            document["tags"] = body["tags"]
        if isinstance(body.get("properties"), dict):
            document["properties"] = {**document.get("properties", {}), **body["properties"]}
        for extra in ("sku", "kind", "identity", "managedBy"):
            if extra in body:
                document[extra] = body[extra]
        if resource_type == RESOURCE_GROUP_TYPE:
            document["type"] = POLICY_GROUP_TYPE
        return document
    document = copy.deepcopy(body)
    name = target.rstrip("/").rsplit("/", 1)[-1]
    if existing is not None:
        target, name = existing.id, existing.name
    document.update(
        id=target, name=name, type=POLICY_GROUP_TYPE if resource_type == RESOURCE_GROUP_TYPE else resource_type
    )
    if isinstance(document.get("location"), str):
        # a bad location is the handler's to report, with its own error
        with contextlib.suppress(WardenError):
            document["location"] = normalize_location(document["location"])
    document.setdefault("tags", {})
    if document["tags"] is None:
        document["tags"] = {}
    return document


def _field_path(field: str, document: dict, aliases: AliasTable | None = None) -> tuple[str, ...] | None:
    try:
        ref = parse_field(field)
    except ValueError:
        return None
    if ref.kind == "tag":
        return ("tags", ref.key)
    return resolve_path(ref, document, aliases or default_aliases())


def _find_key(obj: dict, name: str) -> str:
    for existing in obj:
        if existing.lower() == name.lower():
            return existing
    return name


def _container(document: dict, path: tuple[str, ...], create: bool) -> dict | None:
    current: Any = document
    for segment in path[:-1]:
        if not isinstance(current, dict):
            return None
        name = _find_key(current, segment)
        if name not in current or current[name] is None:
            if not create:
                return None
            current[name] = {}
        current = current[name]
    return current if isinstance(current, dict) else None


def _set(document: dict, path: tuple[str, ...], value: Any, *, only_if_absent: bool = False) -> bool:
    if path and path[-1] == STAR:  # append to an array
        parent = _container(document, path[:-1], create=True)
        if parent is None:
            return False
        name = _find_key(parent, path[-2])
        items = parent.get(name)
        items = list(items) if isinstance(items, list) else []
        items.extend(value if isinstance(value, list) else [value])
        parent[name] = items
        return True
    if STAR in path:
        return False  # modifying every element of an array is not supported yet
    parent = _container(document, path, create=True)
    if parent is None:
        return False
    name = _find_key(parent, path[-1])
    if only_if_absent and name in parent:
        return False
    if parent.get(name) == value and name in parent:
        return False
    parent[name] = value
    return True


def _remove(document: dict, path: tuple[str, ...]) -> bool:
    if STAR in path:
        return False
    parent = _container(document, path, create=False)
    if parent is None:
        return False
    name = _find_key(parent, path[-1])
    return parent.pop(name, _MISSING) is not _MISSING


_MISSING = object()


def apply_changes(document: dict, outcomes: list[Outcome], aliases: AliasTable | None = None) -> set[str]:
    """Apply append and modify effects to ``document``; return the top-level keys they changed."""
    changed: set[str] = set()
    for outcome in outcomes:
        effect, details = outcome.result.effect, outcome.result.details
        steps: list[tuple[str, str, Any]] = []
        if effect is Effect.APPEND and isinstance(details, list):
            steps = [("append", d.get("field", ""), d.get("value")) for d in details if isinstance(d, dict)]
        elif effect is Effect.MODIFY and isinstance(details, dict):
            for operation in details.get("operations") or []:
                if not isinstance(operation, dict) or operation.get("condition", True) in (False, "false", "False"):
                    continue
                steps.append(
                    (str(operation.get("operation", "")).lower(), operation.get("field", ""), operation.get("value"))
                )
        for kind, field, value in steps:
            path = _field_path(str(field), document, aliases)
            if not path:
                continue
            if kind in ("append", "addorreplace"):
                did = _set(document, path, value)
            elif kind == "add":
                did = _set(document, path, value, only_if_absent=True)
            elif kind == "remove":
                did = _remove(document, path)
            else:
                did = False
            if did:
                changed.add(_find_key(document, path[0]))
    return changed


def _new_body(method: str, body: dict, document: dict, changed: set[str]) -> dict:
    new = dict(body)
    for name in changed:
        value = document.get(name)
        if name.lower() == "properties" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k != "provisioningState"}
        new[name] = value
    return new


def _identifiers(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    result = []
    for outcome in outcomes:
        assignment, definition = outcome.assignment, outcome.definition
        item: dict[str, Any] = {
            "policyAssignment": {
                "name": assignment.body["properties"].get("displayName") or assignment.name,
                "id": assignment.id,
            },
            "policyDefinition": {
                "name": definition.body["properties"].get("displayName") or definition.name,
                "id": definition.id,
            },
        }
        if outcome.set_definition is not None:
            item["policySetDefinition"] = {
                "name": outcome.set_definition.body["properties"].get("displayName") or outcome.set_definition.name,
                "id": outcome.set_definition.id,
            }
        result.append(item)
    return result


def _non_compliance_messages(outcomes: list[Outcome]) -> list[str]:
    messages = []
    for outcome in outcomes:
        chosen = None
        for entry in outcome.assignment.body["properties"].get("nonComplianceMessages") or []:
            reference = entry.get("policyDefinitionReferenceId")
            if reference and outcome.reference_id and reference.lower() == outcome.reference_id.lower():
                chosen = entry["message"]
                break
            if not reference and chosen is None:
                chosen = entry["message"]
        if chosen and chosen not in messages:
            messages.append(chosen)
    return messages


def _disallowed(document: dict, denials: list[Outcome]) -> RequestDisallowedByPolicy:
    identifiers = json.dumps(_identifiers(denials), separators=(",", ":"))
    reasons = _non_compliance_messages(denials)
    reason_text = f" Reason: '{' '.join(reasons)}'." if reasons else ""
    details = [
        {
            "code": "RequestDisallowedByPolicy",
            "target": document.get("name"),
            "message": f"Policy assignment '{o.assignment.id}' with definition '{o.definition.id}' denied the request.",
            "additionalInfo": [
                {
                    "type": "PolicyViolation",
                    "info": {
                        "policyAssignmentId": o.assignment.id,
                        "policyAssignmentName": o.assignment.name,
                        "policyDefinitionId": o.definition.id,
                        "policyDefinitionName": o.definition.name,
                        "policySetDefinitionId": o.set_definition.id if o.set_definition is not None else None,
                        "policyDefinitionReferenceId": o.reference_id,
                        "evaluationDetails": {"reasons": o.result.reasons},
                    },
                }
            ],
        }
        for o in denials
    ]
    name = document.get("name")
    return RequestDisallowedByPolicy(
        f"Resource '{name}' was disallowed by policy.{reason_text} Policy identifiers: '{identifiers}'.",
        target=document.get("name"),
        details=details,
    )


def _record_audit(ctx: RequestContext, target: str, outcome: Outcome) -> None:
    assert ctx.conn is not None
    ctx.platform.activity.record(
        ctx.conn,
        EventInput(
            tenant_id=ctx.tenant_id,
            operation_name=AUDIT_OPERATION,
            resource_id=target,
            status="Succeeded",
            sub_status="",
            http_status=None,
            caller=ctx.caller.app_id,
            claims={},
            correlation_id=ctx.correlation_id,
            operation_id=str(uuid.uuid4()),
            method=ctx.method,
            client_ip=ctx.client_ip,
            client_request_id=ctx.headers.get("x-ms-client-request-id"),
            authorization_scope=outcome.assignment.body["properties"].get("scope") or "/",
            level="Warning",
        ),
    )
