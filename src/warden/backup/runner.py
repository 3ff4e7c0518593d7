"""The kernel job that runs a backup or restore job on this machine, reporting progress into its job record.

Every failure ends in the job record (``Failed`` with an error code), never in a kernel-job retry:
a backup that failed half-way wrote no snapshot, and running it again silently would hide the
failure from the operator. A worker that dies mid-job leaves the kernel job leased; when the
lease runs out another worker re-runs it from the start (no snapshot was written).
"""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from warden.kernel.clock import isoformat

from .jobs import FINISHED, JobStatus, finish
from .records import ACTIVE, RECOVERY_POINT, get_record, insert_record, list_records, update_record

if TYPE_CHECKING:
    from warden.platform import Platform

log = logging.getLogger(__name__)
PROGRESS_EVERY = 0.5  # seconds between progress writes
LEASE_RENEWAL = 30.0  # seconds between kernel-lease renewals (the lease is 2 minutes)


class Cancelled(Exception):
    """Raised from a progress callback when the job was asked to stop."""


class JobFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def run_job(platform: Platform, payload: dict[str, Any]) -> None:
    """Run the backup or restore named by ``payload`` ({tenantId, jobId}) to a final job state."""
    tenant_id, job_id = payload["tenantId"], payload["jobId"]
    with platform.db.read() as conn:
        job = get_record(conn, tenant_id, job_id)
    if job is None or job.status in FINISHED:
        return
    if job.status == JobStatus.CANCELLING:
        _save(platform, tenant_id, job_id, finish(job.body, JobStatus.CANCELLED))
        return
    reporter = _Reporter(platform, tenant_id, job_id)
    try:
        if job.body["operation"] == "Restore":
            status, extra = _restore(platform, tenant_id, job, reporter)
        elif job.body["operation"] == "Check":
            status, extra = _check(platform, tenant_id, job, reporter)
        else:
            status, extra = _backup(platform, tenant_id, job, reporter)
        body = finish(reporter.body(), status)
        body["extendedInfo"]["propertyBag"].update(extra)
        _save(platform, tenant_id, job_id, body)
    except Cancelled:
        _save(platform, tenant_id, job_id, finish(reporter.body(), JobStatus.CANCELLED))
    except JobFailed as error:
        _save(platform, tenant_id, job_id, finish(reporter.body(), JobStatus.FAILED, error=(error.code, error.message)))
    except Exception as error:  # every failure must end in the job record
        log.exception("backup job %s failed", job_id)
        _save(
            platform,
            tenant_id,
            job_id,
            finish(
                reporter.body(), JobStatus.FAILED, error=("UserErrorBackupFailed", f"{type(error).__name__}: {error}")
            ),
        )
    _after(platform, tenant_id, job_id)


def _save(platform: Platform, tenant_id: str, job_id: str, body: dict[str, Any]) -> None:
    with platform.db.write() as conn:
        update_record(conn, tenant_id, job_id, status=body["status"], body=body)


class _Reporter:
    """Writes progress at most every PROGRESS_EVERY seconds, notices a cancel request, and keeps the
    kernel job's lease alive so another process does not take over a long backup."""

    def __init__(self, platform: Platform, tenant_id: str, job_id: str) -> None:
        self.platform, self.tenant_id, self.job_id = platform, tenant_id, job_id
        self.last = 0.0
        self.last_renewal = time.monotonic()
        self.extra: dict[str, Any] = {}
        self.percent = 0.0

    def body(self) -> dict[str, Any]:
        with self.platform.db.read() as conn:
            body = dict(get_record(conn, self.tenant_id, self.job_id).body)
        body["extendedInfo"] = {
            **body["extendedInfo"],
            "progressPercentage": self.percent,
            "propertyBag": {**body["extendedInfo"].get("propertyBag", {}), **self.extra},
        }
        return body

    def update(self, percent: float, **extra: Any) -> None:
        self.percent = round(min(percent, 99.9), 1)
        self.extra.update({k: str(v) for k, v in extra.items()})
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        with self.platform.db.write() as conn:
            row = get_record(conn, self.tenant_id, self.job_id)
            if row.status == JobStatus.CANCELLING:
                raise Cancelled()
            body = dict(row.body)
            body["extendedInfo"] = {
                **body["extendedInfo"],
                "progressPercentage": self.percent,
                "propertyBag": {**body["extendedInfo"].get("propertyBag", {}), **self.extra},
            }
            update_record(conn, self.tenant_id, self.job_id, status=row.status, body=body)
            if now - self.last_renewal > LEASE_RENEWAL:
                self.last_renewal = now
                _renew_kernel_lease(conn, self.job_id)


def _renew_kernel_lease(conn, job_id: str) -> None:  # type: ignore[no-untyped-def]
    """Extend the lease of the running kernel job that carries ``job_id`` (the kernel queue leases a job
    for LEASE and has no heartbeat of its own; without this a backup outliving the lease could be
    claimed again by another process)."""
    from sqlalchemy import select, update

    from warden.kernel.clock import utcnow
    from warden.kernel.jobs import LEASE, RUNNING
    from warden.kernel.schema import jobs

    from .jobs import RUN_JOB

    rows = conn.execute(select(jobs.c.id, jobs.c.payload).where(jobs.c.kind == RUN_JOB, jobs.c.status == RUNNING))
    for row in rows.all():
        if row.payload.get("jobId") == job_id:
            conn.execute(update(jobs).where(jobs.c.id == row.id).values(lease_until=utcnow() + LEASE))


def _total_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def _item(platform: Platform, tenant_id: str, item_id: str) -> Any:
    from warden.kernel.resources import get_row

    with platform.db.read() as conn:
        item = get_row(conn, tenant_id, item_id)
    if item is None:
        raise JobFailed("BMSUserErrorItemNotFound", "The protected item no longer exists.")
    return item


def _backup(platform: Platform, tenant_id: str, job: Any, reporter: _Reporter) -> tuple[JobStatus, dict[str, Any]]:
    from . import naming
    from .storage import open_repository

    item = _item(platform, tenant_id, job.body["_itemId"])
    path = item.body["properties"]["friendlyName"]
    if not os.path.lexists(path):
        raise JobFailed("UserErrorBackupPathNotFound", f"The path '{path}' does not exist on this machine.")
    total = max(_total_bytes(path), 1)
    vault_id = naming.vault_of_item(item.id)
    repo = open_repository(platform, tenant_id, vault_id)
    try:
        snapshot = repo.backup(
            [path],
            tags=[item.name],
            hostname=naming.machine_name(),
            progress=lambda p: reporter.update(
                100.0 * p.bytes_read / total, **{"Files": p.files, "Bytes Read": p.bytes_read, "Bytes New": p.bytes_new}
            ),
        )
    finally:
        repo.close()
    errors = list(snapshot.summary.get("errors", []) or [])
    retain_until = job.body["_request"].get("retainUntil")
    point_id = f"{item.id}/recoveryPoints/{snapshot.id}"
    body = {
        "objectType": "GenericRecoveryPoint",
        "friendlyName": snapshot.id,
        "recoveryPointType": "FileSystemConsistent",
        "recoveryPointTime": isoformat(snapshot.datetime),
        "recoveryPointAdditionalInfo": f"{snapshot.summary.get('files', '')} files" if snapshot.summary else "",
        "recoveryPointExpiryTimeInUTC": retain_until,
        "_snapshotId": snapshot.id,
    }
    with platform.db.write() as conn:
        insert_record(
            conn,
            tenant_id,
            record_id=point_id,
            vault_id=vault_id,
            item_id=item.id,
            kind=RECOVERY_POINT,
            name=snapshot.id,
            status=ACTIVE,
            body=body,
        )
    from .lifecycle import apply_retention, note_backup

    apply_retention(platform, tenant_id, item.id)
    status = JobStatus.COMPLETED_WITH_WARNINGS if errors else JobStatus.COMPLETED
    note_backup(platform, tenant_id, item.id, status.value, snapshot.datetime)
    extra = {"Recovery Point Id": point_id, "Recovery Point Name": snapshot.id, "Skipped Paths": str(len(errors))}
    if errors:
        extra["Warnings"] = "; ".join(errors[:5])
    return status, extra


def _restore(platform: Platform, tenant_id: str, job: Any, reporter: _Reporter) -> tuple[JobStatus, dict[str, Any]]:
    from warden.backup.chunkstore import RestoreError, SnapshotNotFound

    from . import naming
    from .storage import open_repository

    request = job.body["_request"]
    item = _item(platform, tenant_id, job.body["_itemId"])
    repo = open_repository(platform, tenant_id, naming.vault_of_item(item.id))
    try:
        try:
            snapshot = repo.load_snapshot(request["snapshotId"])
        except SnapshotNotFound:
            raise JobFailed("BMSUserErrorRecoveryPointNotFound", "The recovery point's data is gone.") from None
        total = max(int(snapshot.summary.get("bytesRead", 0) or 0), 1) if snapshot.summary else 1
        try:
            result = repo.restore(
                snapshot,
                request["target"],
                include=request.get("include"),
                progress=lambda p: reporter.update(
                    100.0 * p.bytes_written / total, **{"Files": p.files, "Bytes Written": p.bytes_written}
                ),
            )
        except RestoreError as error:
            raise JobFailed("UserErrorRestoreFailed", f"Some files could not be restored: {error}") from None
    finally:
        repo.close()
    return JobStatus.COMPLETED, {
        "Files": str(result.files),
        "Bytes Written": str(result.bytes_written),
        "Target": request["target"],
    }


def _check(platform: Platform, tenant_id: str, job: Any, reporter: _Reporter) -> tuple[JobStatus, dict[str, Any]]:
    from .storage import open_repository

    vault_id = job.id.rsplit("/backupJobs/", 1)[0]
    repo = open_repository(platform, tenant_id, vault_id)
    try:
        result = repo.check(
            read_data=bool(job.body["_request"].get("readData")),
            progress=lambda p: reporter.update(100.0 * p.packs_read / max(p.packs_total, 1)),
        )
    finally:
        repo.close()
    problems = [*result.errors]
    extra = {
        "Snapshots": str(result.snapshots),
        "Packs": str(result.packs),
        "Blobs Checked": str(result.blobs_checked),
        "Problems": str(len(problems)),
    }
    if problems:
        raise JobFailed("UserErrorRepositoryCheckFailed", "; ".join(problems[:20]))
    return JobStatus.COMPLETED, extra


def _after(platform: Platform, tenant_id: str, job_id: str) -> None:
    """Record a failed scheduled/on-demand backup on its item so listings show the last status."""
    with platform.db.read() as conn:
        job = get_record(conn, tenant_id, job_id)
    if (
        job is None
        or job.body.get("operation") != "Backup"
        or job.status not in (JobStatus.FAILED, JobStatus.CANCELLED)
    ):
        return
    from .lifecycle import note_backup

    note_backup(platform, tenant_id, job.body["_itemId"], job.status, None)


def item_points(conn, tenant_id: str, item_id: str) -> list[Any]:  # type: ignore[no-untyped-def]
    """Return the item's recovery point records."""
    return list_records(conn, tenant_id, item_id=item_id, kind=RECOVERY_POINT)
