"""PIM-managed RBAC role assignments: creating them, ending them, and never honouring a stale one.

Design: an active PIM schedule creates a real row in ``role_assignments`` (through the same
handler a roleAssignments PUT uses, so the RBAC engine honours it at once) and remembers its key.
Two mechanisms end it:

* at authorization time, ``inactive_grant_keys`` names the caller's PIM rows whose schedule does
  not cover "now" and ``authz.store.load_engine`` leaves them out, so access stops exactly at the
  end time even if no background loop ran (several API processes, a paused server, a slow sweep);
* the expiry sweep (``start_expiry_loop``, under the ``pim-expiry`` leader lease) deletes those
  rows, marks the schedules ``Expired`` and writes the delete to the activity log, so role
  assignment listings, alerts and audits stop showing them.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, bindparam, delete, or_, select, update

from warden.authz.pim import audit
from warden.authz.pim.common import NAMESPACE, role_definition_id
from warden.authz.pim.schema import ASSIGNMENT, pim_schedules
from warden.kernel.activity import EventInput
from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.ids import ResourceId
from warden.kernel.leases import try_acquire
from warden.kernel.schema import role_assignments

if TYPE_CHECKING:
    from warden.platform import Platform

log = logging.getLogger(__name__)
SWEEP_INTERVAL = timedelta(seconds=5)
PIM_DESCRIPTION = "Managed by Privileged Identity Management"


def create_grant(ctx: RequestContext, scope: str, principal_id: str, role_guid: str) -> ResourceId:
    """Create the RBAC role assignment an active schedule grants; return its ID.
    Raises what a roleAssignments PUT raises (e.g. ``RoleAssignmentExists`` when a permanent
    assignment of the same role already exists there)."""
    from warden.authz.role_assignments import RoleAssignmentHandler  # the one path that writes assignments

    rid = ResourceId("" if scope == "/" else scope, NAMESPACE, ("roleAssignments",), (str(uuid.uuid4()),))
    body = {
        "properties": {
            "roleDefinitionId": role_definition_id(scope, role_guid),
            "principalId": principal_id,
            "description": PIM_DESCRIPTION,
        }
    }
    RoleAssignmentHandler().put(ctx, rid, body)
    return rid


def remove_grant(conn: Connection, tenant_id: str, assignment_key: str | None) -> bool:
    """Delete a PIM-created role assignment; return whether a row went."""
    if not assignment_key:
        return False
    result = conn.execute(
        delete(role_assignments).where(
            role_assignments.c.tenant_id == tenant_id, role_assignments.c.key == assignment_key
        )
    )
    return result.rowcount > 0


def inactive_grant_keys(conn: Connection, tenant_id: str, principal_ids: Iterable[str], now: datetime) -> set[str]:
    """Keys of these principals' PIM role assignments that must not grant anything at ``now``:
    not started yet, past their end, or whose schedule is no longer provisioned."""
    ids = [p.lower() for p in principal_ids]
    rows = conn.execute(_INACTIVE_GRANTS, {"tenant": tenant_id, "ids": ids, "now": now})
    return {r.role_assignment_key for r in rows}


# Built once (it runs on every authorized request): a reused statement keeps its memoized cache key.
_INACTIVE_GRANTS = select(pim_schedules.c.role_assignment_key).where(
    pim_schedules.c.tenant_id == bindparam("tenant"),
    pim_schedules.c.kind == ASSIGNMENT,
    pim_schedules.c.principal_id.in_(bindparam("ids", expanding=True)),
    pim_schedules.c.role_assignment_key.is_not(None),
    or_(
        pim_schedules.c.status != "Provisioned",
        pim_schedules.c.start_at > bindparam("now"),
        and_(pim_schedules.c.end_at.is_not(None), pim_schedules.c.end_at <= bindparam("now")),
    ),
)


def pim_assignment_keys(conn: Connection, tenant_id: str) -> set[str]:
    """Keys of every role assignment PIM created and still tracks (the rest were made outside PIM)."""
    rows = conn.execute(
        select(pim_schedules.c.role_assignment_key).where(
            pim_schedules.c.tenant_id == tenant_id, pim_schedules.c.role_assignment_key.is_not(None)
        )
    )
    return {r.role_assignment_key for r in rows}


def _due(conn: Connection, now: datetime) -> list[Any]:
    return conn.execute(
        select(pim_schedules).where(
            pim_schedules.c.status == "Provisioned",
            pim_schedules.c.end_at.is_not(None),
            pim_schedules.c.end_at <= now,
        )
    ).all()


def sweep_expired(platform: Platform, now: datetime | None = None) -> int:
    """End every provisioned schedule whose end has passed: delete its role assignment, mark it
    ``Expired`` and log the removal. Idempotent (one write transaction); return how many ended."""
    now = now or utcnow()
    with platform.db.read() as conn:
        if not _due(conn, now):
            return 0  # the common case costs one read, no write lock
    ended = 0
    with platform.db.write() as conn:
        for row in _due(conn, now):
            removed = row.kind == ASSIGNMENT and remove_grant(conn, row.tenant_id, row.role_assignment_key)
            conn.execute(
                update(pim_schedules)
                .where(pim_schedules.c.tenant_id == row.tenant_id, pim_schedules.c.name == row.name)
                .values(status="Expired", role_assignment_key=None, updated_at=now)
            )
            ended += 1
            if removed:
                _log_removal(platform, conn, row)
                audit.record(
                    conn,
                    row.tenant_id,
                    "Remove member from role (PIM activation expired)",
                    initiated_by=audit.SYSTEM,
                    principal_id=row.principal_id,
                    role_guid=row.role_guid,
                    scope=row.scope,
                    details={"RoleAssignmentId": row.role_assignment_id},
                )
    return ended


def _log_removal(platform: Platform, conn: Connection, row: Any) -> None:
    operation_id = str(uuid.uuid4())
    for status in ("Started", "Succeeded"):
        platform.activity.record(
            conn,
            EventInput(
                tenant_id=row.tenant_id,
                operation_name=f"{NAMESPACE}/roleAssignments/delete",
                resource_id=row.role_assignment_id or row.scope,
                status=status,
                sub_status="" if status == "Started" else "OK",
                http_status=None if status == "Started" else 200,
                caller="Privileged Identity Management",
                claims={},
                correlation_id=operation_id,
                operation_id=operation_id,
                method="DELETE",
                client_ip="",
                authorization_scope=row.scope,
            ),
        )


def start_expiry_loop(platform: Platform, stop: threading.Event) -> threading.Thread:
    """Start the sweep thread; the ``pim-expiry`` lease is taken only when something is due."""

    def loop() -> None:
        while not stop.wait(SWEEP_INTERVAL.total_seconds()):
            try:
                with platform.db.read() as conn:
                    due = bool(_due(conn, utcnow()))
                if due and try_acquire(platform.db, "pim-expiry", platform.instance_id, SWEEP_INTERVAL * 6):
                    ended = sweep_expired(platform)
                    if ended:
                        log.info("PIM expiry ended %d schedules", ended)
                from warden.authz.pim.approvals import time_out_approvals  # late: approvals import this module

                time_out_approvals(platform)  # one read when nothing waits; idempotent writes otherwise
            except Exception:
                log.exception("PIM expiry sweep failed")

    thread = threading.Thread(target=loop, name="warden-pim-expiry", daemon=True)
    thread.start()
    return thread
