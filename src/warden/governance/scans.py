"""Compliance scans: evaluate stored resources against the assignments above them and keep the results.

A scan of a scope evaluates every resource and resource group at or below it against every
assignment that applies (``notScopes`` and exemptions honoured), replaces the stored policy states
of those resources (table ``policy_states``: one row per resource, assignment and member
definition) and records the scope as scanned (``policy_scans``). Below a scanned scope,
``policyStates/latest`` reads the stored states; elsewhere it still evaluates on demand.

Scans run in three ways:

- in the background, in the one API process holding the ``policy-scan`` lease, every
  :data:`SCAN_INTERVAL` over every tenant (Azure's standard cycle is daily; Warden's data sets are
  small enough to do it more often);
- on demand: ``POST .../policyStates/latest/triggerEvaluation`` answers 202 with ``Location``
  and a job runs the scan of its subscription or group;
- after a write: the write interceptor queues a job re-evaluating the written resource and the
  resources it hangs from, so auditIfNotExists/deployIfNotExists see a new related resource (a
  diagnostic setting, a flow log) and a new or changed resource gets its states at once.

auditIfNotExists/deployIfNotExists look for related resources among the tenant's stored resources
(one query per wanted type per scan). A deployIfNotExists that finds nothing is NonCompliant; it
stays so until a remediation can deploy its template (no template engine yet).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, insert, or_, select

from warden.authz.engine import scope_ancestors
from warden.governance.alias_store import active_aliases
from warden.governance.enforcement import (
    POLICY_GROUP_TYPE,
    POLICY_TYPES,
    affected_resources,
    applicable,
    compiled,
    live_exemptions,
    load_definitions,
)
from warden.governance.policy import (
    AliasTable,
    ComplianceState,
    Effect,
    PolicyError,
    PolicySetDefinition,
    TypeIndex,
    evaluate,
    member_parameters,
    related_finder,
)
from warden.governance.resources import ASSIGNMENTS, EXEMPTIONS
from warden.kernel import operations
from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.ids import key
from warden.kernel.leases import try_acquire
from warden.kernel.resources import RESOURCE_GROUP_TYPE, resource_json
from warden.kernel.schema import below, policy_scans, policy_states, resources, tenants

if TYPE_CHECKING:
    from warden.platform import Platform

log = logging.getLogger(__name__)
SCAN_INTERVAL = timedelta(minutes=15)
_IGNORED_PREFIXES = ("microsoft.authorization/", "microsoft.policyinsights/", "microsoft.resources/tags")


def document_of(row: Any) -> dict[str, Any]:
    """A stored row as policy rules see it (ARM JSON; a group's type is ``.../subscriptions/resourceGroups``)."""
    document = resource_json(row)
    document.pop("systemData", None)
    document.pop("etag", None)
    if row.type_key == RESOURCE_GROUP_TYPE.lower():
        document["type"] = POLICY_GROUP_TYPE
    return document


def _in_scope(scope_key: str) -> Any:
    return or_(resources.c.key == scope_key, below(resources.c.key, scope_key))


class _Members:
    """The tenant's assignments flattened to (assignment, member definition row, reference, values),
    indexed by the resource types the member can match."""

    def __init__(self, assignments: list[Any], definitions: dict[str, Any]) -> None:
        self.index: TypeIndex[tuple[Any, Any, Any, str | None, Any]] = TypeIndex()
        for assignment in assignments:
            properties = assignment.body["properties"]
            row = definitions.get(key(properties["policyDefinitionId"]))
            if row is None:
                continue
            try:
                policy = compiled(row)
                if isinstance(policy, PolicySetDefinition):
                    for reference in policy.definitions:
                        member = definitions.get(key(reference.definition_id))
                        if member is None:
                            continue
                        values = member_parameters(policy, reference, properties.get("parameters"))
                        entry = (assignment, member, row, reference.reference_id, values)
                        self.index.add(entry, compiled(member))
                else:
                    self.index.add((assignment, row, None, None, properties.get("parameters")), policy)
            except PolicyError:
                log.warning("policy assignment %s could not be evaluated", assignment.id, exc_info=True)


def compute_states(
    conn: Connection,
    tenant_id: str,
    scope: str = "/",
    *,
    resource_ids: Iterable[str] | None = None,
    aliases: AliasTable | None = None,
) -> tuple[list[dict[str, Any]], set[str]]:
    """Evaluate the resources at or below ``scope`` (or just ``resource_ids``) now.

    Returns ``(states, resource_keys)``: one queryResults record per applicable (resource,
    assignment, member definition), and the keys of every resource evaluated (with or without
    states), so a caller can replace exactly those resources' stored states.
    """
    query = select(resources).where(resources.c.tenant_id == tenant_id)
    if resource_ids is not None:
        wanted = sorted({key(r) for r in resource_ids})
        if not wanted:
            return [], set()
        query = query.where(resources.c.key.in_(wanted))
    else:
        query = query.where(_in_scope(key(scope or "/")))
    rows = [r for r in conn.execute(query.order_by(resources.c.key)) if not r.type_key.startswith(_IGNORED_PREFIXES)]
    evaluated = {r.key for r in rows}
    assignments = list(
        conn.execute(
            select(resources).where(resources.c.tenant_id == tenant_id, resources.c.type_key == ASSIGNMENTS.lower())
        )
    )
    if not rows or not assignments:
        return [], evaluated
    exemption_rows = list(
        conn.execute(
            select(resources).where(resources.c.tenant_id == tenant_id, resources.c.type_key == EXEMPTIONS.lower())
        )
    )
    members = _Members(assignments, load_definitions(conn, tenant_id, assignments))
    fetched: dict[str, list[dict[str, Any]]] = {}

    def fetch(type_key: str) -> list[dict[str, Any]]:
        if type_key not in fetched:
            wanted_type = RESOURCE_GROUP_TYPE.lower() if type_key == POLICY_GROUP_TYPE.lower() else type_key
            fetched[type_key] = [
                document_of(r)
                for r in conn.execute(
                    select(resources).where(resources.c.tenant_id == tenant_id, resources.c.type_key == wanted_type)
                )
            ]
        return fetched[type_key]

    related = related_finder(fetch)
    now = isoformat(utcnow())
    states: list[dict[str, Any]] = []
    for row in rows:
        document = document_of(row)
        candidates = members.index.candidates(document["type"])
        if not candidates:
            continue  # no assignment can match this type: nothing to record
        ancestors = set(scope_ancestors(row.key))
        exemptions = live_exemptions(exemption_rows, ancestors)
        # scope checks only for the assignments that can match the type
        allowed = {a.key for a in applicable({c[0].key: c[0] for c in candidates}.values(), row.id, ancestors)}
        parts = [p for p in row.id.split("/") if p]
        row_fields = {
            "timestamp": now,
            "resourceId": row.id,
            "resourceType": document["type"],
            "resourceLocation": row.location or "",
            "resourceGroup": parts[3] if len(parts) > 3 and parts[2].lower() == "resourcegroups" else "",
            "subscriptionId": parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else "",
        }
        for assignment, member, set_row, reference_id, values in candidates:
            if assignment.key not in allowed:
                continue
            state = _state(
                row,
                document,
                assignment,
                member,
                set_row,
                reference_id,
                values,
                exemptions,
                related,
                aliases,
                row_fields,
            )
            if state is not None:
                states.append(state)
    return states, evaluated


def _state(
    row: Any,
    document: dict[str, Any],
    assignment: Any,
    member: Any,
    set_row: Any,
    reference_id: str | None,
    values: Any,
    exemptions: dict[str, list[set[str]]],
    related: Any,
    aliases: AliasTable | None,
    row_fields: dict[str, Any],
) -> dict[str, Any] | None:
    properties = assignment.body["properties"]
    lifted = exemptions.get(assignment.key, [])
    exempt = any(not refs for refs in lifted) or (reference_id or "").lower() in (
        set().union(*lifted) if lifted else set()
    )
    base = {
        **row_fields,
        "policyAssignmentId": assignment.id,
        "policyAssignmentName": assignment.name,
        "policyAssignmentScope": properties.get("scope") or "/",
        "policyDefinitionId": member.id,
        "policyDefinitionName": member.name,
        "policySetDefinitionId": set_row.id if set_row is not None else "",
        "policyDefinitionReferenceId": reference_id or "",
    }
    if exempt:
        return {**base, "complianceState": "Exempt", "policyDefinitionAction": "", "isCompliant": False}
    info = {"assignmentId": assignment.id, "definitionId": member.id}
    if set_row is not None:
        info.update(setDefinitionId=set_row.id, definitionReferenceId=reference_id or "")
    try:
        result = evaluate(
            compiled(member), document, values, policy_info=info, related=related, aliases=aliases, explain=False
        )
    except PolicyError:
        return None
    if result.effect is Effect.DISABLED or result.compliance_state is ComplianceState.NOT_APPLICABLE:
        return None
    # Azure reports the action lower-cased (deny, audit, auditifnotexists, ...)
    effect = result.effect.value.lower() if result.effect is not Effect.NONE else _effect_of(member, values)
    state = result.compliance_state.value
    record = {**base, "complianceState": state, "policyDefinitionAction": effect, "isCompliant": state == "Compliant"}
    if result.effect is Effect.DEPLOY_IF_NOT_EXISTS:
        record["remediation"] = "A remediation task is required: deployIfNotExists templates are not deployed yet."
    return record


def _effect_of(row: Any, values: Any) -> str:
    """The effect a definition has for an assignment (for Compliant records, where none was applied)."""
    then = row.body["properties"].get("policyRule", {}).get("then", {})
    effect = str(then.get("effect", "")) if isinstance(then, dict) else ""
    if effect.startswith("[") and isinstance(values, dict):
        name = effect.split("'")[1] if effect.count("'") >= 2 else ""
        for given, value in values.items():
            if given.lower() == name.lower():
                effect = value.get("value") if isinstance(value, dict) else value
                break
        else:
            try:
                declared = compiled(row).parameters.get(name.lower())
                effect = declared.default if declared is not None and declared.has_default else ""
            except PolicyError:
                effect = ""
    return str(effect).lower() if isinstance(effect, str) and not effect.startswith("[") else ""


def _state_key(record: dict[str, Any]) -> str:
    text = "|".join(
        str(record[k]).lower()
        for k in ("resourceId", "policyAssignmentId", "policyDefinitionId", "policyDefinitionReferenceId")
    )
    return hashlib.sha256(text.encode()).hexdigest()


def store_states(conn: Connection, tenant_id: str, states: list[dict[str, Any]], resource_keys: set[str]) -> None:
    """Replace the stored states of ``resource_keys`` by ``states``."""
    keys = sorted(resource_keys)
    for start in range(0, len(keys), 500):
        conn.execute(
            delete(policy_states).where(
                policy_states.c.tenant_id == tenant_id, policy_states.c.resource_key.in_(keys[start : start + 500])
            )
        )
    now = utcnow()
    rows = {
        state_key: {
            "tenant_id": tenant_id,
            "state_key": state_key,
            "resource_key": key(s["resourceId"]),
            "assignment_key": key(s["policyAssignmentId"]),
            "compliance_state": s["complianceState"],
            "record": s,
            "evaluated_at": now,
        }
        for s, state_key in ((s, _state_key(s)) for s in states)
    }
    if rows:
        conn.execute(insert(policy_states), list(rows.values()))


def scan(platform: Platform, tenant_id: str, scope: str = "/") -> int:
    """Scan ``scope`` of ``tenant_id`` now and store the result; return how many states were stored."""
    scope_key = key(scope or "/")
    aliases = active_aliases(platform.settings.data_dir)
    started = utcnow()  # writes from now on are newer than the scan and get re-evaluated on reading
    with platform.db.write() as conn:
        states, evaluated = compute_states(conn, tenant_id, scope_key, aliases=aliases)
        # states of resources deleted since the last scan go too
        stale = conn.execute(
            select(policy_states.c.resource_key).where(policy_states.c.tenant_id == tenant_id)
        ).scalars()
        evaluated |= {k for k in stale if scope_key == "/" or k == scope_key or k.startswith(scope_key + "/")}
        store_states(conn, tenant_id, states, evaluated)
        conn.execute(
            delete(policy_scans).where(policy_scans.c.tenant_id == tenant_id, policy_scans.c.scope_key == scope_key)
        )
        conn.execute(insert(policy_scans).values(tenant_id=tenant_id, scope_key=scope_key, scanned_at=started))
    return len(states)


def latest_states(
    conn: Connection, tenant_id: str, scope: str, *, aliases: AliasTable | None = None
) -> list[dict[str, Any]]:
    """The latest policy states at or below ``scope``.

    Stored states are used when a scan has covered ``scope`` and no policy resource (definition,
    initiative, assignment, exemption) changed since; resources written since the scan (and those
    they hang from) are re-evaluated now, so the answer is what evaluating everything now would
    give, at the cost of evaluating only what changed. Without a covering scan, or after a policy
    change, everything is evaluated now (until the next scan).
    """
    scope_key = key(scope or "/")
    scanned = conn.execute(
        select(func.max(policy_scans.c.scanned_at)).where(
            policy_scans.c.tenant_id == tenant_id, policy_scans.c.scope_key.in_(scope_ancestors(scope_key))
        )
    ).scalar()
    policy_changed = conn.execute(
        select(func.max(resources.c.modified_at)).where(
            resources.c.tenant_id == tenant_id, resources.c.type_key.in_(POLICY_TYPES)
        )
    ).scalar()
    if scanned is None or (policy_changed is not None and aware(policy_changed) >= aware(scanned)):
        return compute_states(conn, tenant_id, scope_key, aliases=aliases)[0]
    changed = conn.execute(
        select(resources.c.id).where(
            resources.c.tenant_id == tenant_id, _in_scope(scope_key), resources.c.modified_at >= scanned
        )
    ).scalars()
    fresh_ids = {r for changed_id in changed for r in affected_resources(changed_id)}
    fresh, evaluated = compute_states(conn, tenant_id, resource_ids=fresh_ids, aliases=aliases)
    in_scope = or_(policy_states.c.resource_key == scope_key, below(policy_states.c.resource_key, scope_key))
    existing = select(resources.c.key).where(resources.c.tenant_id == tenant_id)
    rows = conn.execute(
        select(policy_states.c.resource_key, policy_states.c.record)
        .where(policy_states.c.tenant_id == tenant_id, in_scope, policy_states.c.resource_key.in_(existing))
        .order_by(policy_states.c.resource_key, policy_states.c.state_key)
    ).all()
    in_scope_fresh = [s for s in fresh if _below_or_at(key(s["resourceId"]), scope_key)]
    return [r.record for r in rows if r.resource_key not in evaluated] + in_scope_fresh


def _below_or_at(resource_key: str, scope_key: str) -> bool:
    return scope_key == "/" or resource_key == scope_key or resource_key.startswith(scope_key.rstrip("/") + "/")


# --- jobs and the background loop ------------------------------------------------------------


def scan_job(platform: Platform, payload: dict[str, Any]) -> None:
    """Job: a scan queued by triggerEvaluation (which finishes its long-running operation) or by an
    assignment or exemption change."""
    try:
        scan(platform, payload["tenant_id"], payload["scope"])
        error = None
    except Exception as exc:
        if "operation_id" not in payload:
            raise  # the job runner logs and retries it
        log.exception("policy scan of %s failed", payload["scope"])
        error = {"code": "PolicyEvaluationFailed", "message": f"The evaluation failed: {type(exc).__name__}."}
    if "operation_id" in payload:
        with platform.db.write() as conn:
            operations.finish_operation(conn, payload["operation_id"], error=error)


def evaluate_job(platform: Platform, payload: dict[str, Any]) -> None:
    """Job: re-evaluate resources after a write (the written one and those it hangs from)."""
    tenant_id = payload["tenant_id"]
    aliases = active_aliases(platform.settings.data_dir)
    with platform.db.write() as conn:
        states, evaluated = compute_states(conn, tenant_id, resource_ids=payload["resource_ids"], aliases=aliases)
        store_states(conn, tenant_id, states, evaluated)


def start_scan_loop(platform: Platform, stop: threading.Event) -> threading.Thread:
    """Start the background scanner: under the ``policy-scan`` lease, scan every tenant each interval."""

    def loop() -> None:
        if stop.wait(5):  # let the server finish starting
            return
        while True:
            try:
                if try_acquire(platform.db, "policy-scan", platform.instance_id, SCAN_INTERVAL * 2):
                    with platform.db.read() as conn:
                        tenant_ids = list(conn.execute(select(tenants.c.id)).scalars())
                    for tenant_id in tenant_ids:
                        if stop.is_set():
                            return
                        scan(platform, tenant_id)
            except Exception:
                log.exception("background compliance scan failed")
            if stop.wait(SCAN_INTERVAL.total_seconds()):
                return

    thread = threading.Thread(target=loop, name="warden-policy-scan", daemon=True)
    thread.start()
    return thread
