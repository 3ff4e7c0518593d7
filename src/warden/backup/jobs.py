"""``vaults/{vault}/backupJobs/{job}``: backup and restore jobs with Azure's states, progress and errors.

A job record is written when an operation is accepted (``InProgress``) and rewritten by the
kernel job that runs it: progress percentage and bytes while it runs, then ``Completed``,
``CompletedWithWarnings`` (some paths skipped), ``Failed`` (with ``errorDetails``) or, after a
``cancel``, ``Cancelling`` then ``Cancelled``.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, MethodNotAllowed, NotFound
from warden.kernel.ids import ResourceId
from warden.kernel.jobs import enqueue
from warden.kernel.reply import Reply

from .records import JOB, get_record, insert_record, list_records, update_record

JOB_TYPE = "Microsoft.RecoveryServices/vaults/backupJobs"
RUN_JOB = "backup.run"  # kernel job kind that performs a backup or restore


class JobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    COMPLETED_WITH_WARNINGS = "CompletedWithWarnings"
    FAILED = "Failed"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"


FINISHED = {JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS, JobStatus.FAILED, JobStatus.CANCELLED}
ACTIVE = {JobStatus.IN_PROGRESS, JobStatus.CANCELLING}


def start_job(
    conn: Connection,
    tenant_id: str,
    *,
    vault_id: str,
    item_id: str | None,
    operation: str,
    friendly_name: str,
    request: dict[str, Any],
) -> str:
    """Record an ``InProgress`` job and queue the kernel job that runs it (same transaction); return the job ID."""
    name = str(uuid.uuid4())
    job_id = f"{vault_id.rstrip('/')}/backupJobs/{name}"
    body = {
        "jobType": "MabJob",
        "entityFriendlyName": friendly_name,
        "backupManagementType": "MAB",
        "operation": operation,
        "status": JobStatus.IN_PROGRESS.value,
        "startTime": isoformat(utcnow()),
        "activityId": str(uuid.uuid4()),
        "mabServerName": friendly_name.split("/")[0] or "localhost",
        "mabServerType": "Unknown",
        "workloadType": "FileFolder",
        # Only backups stop cleanly half-way (no snapshot is written); restores and checks run to the end.
        "actionsInfo": ["Cancellable"] if operation == "Backup" else [],
        "errorDetails": [],
        "extendedInfo": {"progressPercentage": 0.0, "propertyBag": {}, "dynamicErrorMessage": None},
        "_itemId": item_id,
        "_request": request,
    }
    insert_record(
        conn,
        tenant_id,
        record_id=job_id,
        vault_id=vault_id,
        item_id=item_id,
        kind=JOB,
        name=name,
        status=JobStatus.IN_PROGRESS,
        body=body,
    )
    enqueue(conn, RUN_JOB, {"tenantId": tenant_id, "jobId": job_id})
    return job_id


def active_job(conn: Connection, tenant_id: str, item_id: str) -> Any:
    """Return an InProgress or Cancelling job of the item, or None (jobs never overlap per item)."""
    for row in list_records(conn, tenant_id, item_id=item_id, kind=JOB):
        if row.status in ACTIVE:
            return row
    return None


def finish(body: dict[str, Any], status: JobStatus, *, error: tuple[str, str] | None = None) -> dict[str, Any]:
    """Return a job body marked finished with ``status`` (and an error code and message)."""
    now = utcnow()
    body = {**body, "status": status.value, "endTime": isoformat(now), "actionsInfo": []}
    started = aware(_parse(body["startTime"]))
    body["duration"] = _duration(now - started)
    if status in (JobStatus.COMPLETED, JobStatus.COMPLETED_WITH_WARNINGS):
        body["extendedInfo"] = {**body["extendedInfo"], "progressPercentage": 100.0}
    if error is not None:
        code, message = error
        body["errorDetails"] = [{"errorCode": code, "errorString": [message], "recommendations": []}]
        body["extendedInfo"] = {**body["extendedInfo"], "dynamicErrorMessage": message}
    return body


def _parse(text: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _duration(delta) -> str:  # type: ignore[no-untyped-def]
    seconds = delta.total_seconds()
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{int((seconds % 1) * 1e6):06d}"


def job_json(row: Any) -> dict[str, Any]:
    """Azure's JobResource JSON of a job record."""
    properties = {k: v for k, v in row.body.items() if not k.startswith("_")}
    return {"id": row.id, "name": row.name, "type": JOB_TYPE, "properties": properties}


class JobsHandler:
    """Read jobs; they are created by operations, never by PUT."""

    def get(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        assert ctx.conn is not None
        row = get_record(ctx.conn, ctx.tenant_id, str(rid))
        if row is None or row.kind != JOB:
            raise NotFound(f"The job '{rid.name}' was not found.", code="BMSUserErrorJobNotFound")
        return Reply(200, job_json(row))

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
        raise MethodNotAllowed("Backup jobs are created by backup and restore operations.", code="MethodNotAllowed")

    patch = put

    def delete(self, ctx: RequestContext, rid: ResourceId) -> Reply:
        raise MethodNotAllowed("Backup jobs cannot be deleted.", code="MethodNotAllowed")

    def list(self, ctx: RequestContext, scope: str, parent: ResourceId | None) -> list[dict[str, Any]]:
        from .vaults import vault_of

        assert ctx.conn is not None and parent is not None
        vault_of(ctx.conn, ctx.tenant_id, str(parent))
        rows = list_records(ctx.conn, ctx.tenant_id, vault_id=str(parent), kind=JOB)
        wanted = _status_filter(ctx.query.get("$filter", ""))
        return [job_json(r) for r in reversed(rows) if wanted is None or r.status.lower() == wanted]


def _status_filter(text: str) -> str | None:
    """The ``status eq 'X'`` part of a jobs ``$filter`` (other clauses are ignored), lower-cased."""
    import re

    match = re.search(r"status\s+eq\s+'([A-Za-z]+)'", text)
    return match.group(1).lower() if match else None


def cancel(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """POST ``backupJobs/{job}/cancel``: ask a running job to stop; 202 (a finished job cannot be cancelled)."""
    assert ctx.conn is not None
    row = get_record(ctx.conn, ctx.tenant_id, str(rid))
    if row is None or row.kind != JOB:
        raise NotFound(f"The job '{rid.name}' was not found.", code="BMSUserErrorJobNotFound")
    if row.status in FINISHED:
        raise BadRequest(
            f"The job is already {row.status} and cannot be cancelled.", code="BMSUserErrorJobNotCancellable"
        )
    if "Cancellable" not in row.body.get("actionsInfo", []):
        raise BadRequest(f"A {row.body['operation']} job cannot be cancelled.", code="BMSUserErrorJobNotCancellable")
    update_record(
        ctx.conn, ctx.tenant_id, row.id, status=JobStatus.CANCELLING, body={**row.body, "status": "Cancelling"}
    )
    return Reply(202, None, {"Location": ctx.link(f"{row.id}?api-version={ctx.api_version or '2025-02-01'}")})


def trigger_check(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """POST ``vaults/{vault}/checkIntegrity`` (Warden's): queue a repository check job; 202 with its ID.

    ``{"readData": true}`` also decrypts and verifies every stored blob.
    """
    from .vaults import vault_of

    assert ctx.conn is not None
    vault = vault_of(ctx.conn, ctx.tenant_id, str(rid))
    read_data = (body or {}).get("readData", False) if isinstance(body, dict) else None
    if not isinstance(read_data, bool):
        raise BadRequest("'readData' must be true or false.", code="BMSUserErrorInvalidInput", target="readData")
    job_id = start_job(
        ctx.conn,
        ctx.tenant_id,
        vault_id=vault.id,
        item_id=None,
        operation="Check",
        friendly_name=vault.name,
        request={"readData": read_data},
    )
    link = ctx.link(f"{job_id}?api-version={ctx.api_version or '2025-02-01'}")
    return Reply(202, {"id": job_id, "name": job_id.rsplit("/", 1)[1]}, {"Location": link, "Retry-After": "1"})
