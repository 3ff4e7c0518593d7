"""Long-running operations as ARM reports them.

A handler that cannot finish within the request records an operation, enqueues a job, and
answers ``202`` with ``Azure-AsyncOperation`` (status document) and ``Location`` (final result)
headers; the SDKs' pollers follow them until the job marks the operation finished.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, insert, select, update

from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.reply import Reply
from warden.kernel.schema import operations

IN_PROGRESS = "InProgress"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
RETRY_AFTER_SECONDS = "1"


def start_operation(
    conn: Connection, *, tenant_id: str, subscription_id: str | None, target_id: str, name: str, created_by: str
) -> str:
    operation_id = str(uuid.uuid4())
    conn.execute(
        insert(operations).values(
            id=operation_id,
            tenant_id=tenant_id,
            subscription_id=subscription_id,
            target_id=target_id,
            name=name,
            status=IN_PROGRESS,
            error=None,
            created_by=created_by,
            started_at=utcnow(),
            ended_at=None,
        )
    )
    return operation_id


def finish_operation(conn: Connection, operation_id: str, *, error: dict[str, Any] | None = None) -> None:
    conn.execute(
        update(operations)
        .where(operations.c.id == operation_id)
        .values(status=FAILED if error else SUCCEEDED, error=error, ended_at=utcnow())
    )


def get_operation(conn: Connection, operation_id: str) -> Any:
    return conn.execute(select(operations).where(operations.c.id == operation_id)).first()


def status_path(subscription_id: str, operation_id: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Resources/operationStatuses/{operation_id}"


def result_path(subscription_id: str, operation_id: str) -> str:
    return f"/subscriptions/{subscription_id}/operationresults/{operation_id}"


def accepted(base_url: str, subscription_id: str, operation_id: str, api_version: str) -> Reply:
    """The ``202 Accepted`` reply of a long-running operation."""
    base = base_url.rstrip("/")
    query = f"?api-version={api_version}"
    return Reply(
        202,
        None,
        {
            "Azure-AsyncOperation": f"{base}{status_path(subscription_id, operation_id)}{query}",
            "Location": f"{base}{result_path(subscription_id, operation_id)}{query}",
            "Retry-After": RETRY_AFTER_SECONDS,
        },
    )


def status_document(row: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": status_path(row.subscription_id or "", row.id),
        "name": row.id,
        "status": row.status,
        "startTime": isoformat(aware(row.started_at)),
    }
    if row.ended_at is not None:
        document["endTime"] = isoformat(aware(row.ended_at))
    if row.error:
        document["error"] = row.error
    return document


def result_reply(row: Any, status_url: str, location_url: str) -> Reply:
    """What ``Location`` answers: 202 while running, 204 when done, the error when failed."""
    if row.status == IN_PROGRESS:
        return Reply(
            202,
            None,
            {"Location": location_url, "Retry-After": RETRY_AFTER_SECONDS, "Azure-AsyncOperation": status_url},
        )
    if row.status == FAILED:
        return Reply(int((row.error or {}).get("httpStatus", 409)), {"error": _public_error(row.error)})
    return Reply(204)


def _public_error(error: dict[str, Any] | None) -> dict[str, Any]:
    error = dict(error or {"code": "OperationFailed", "message": "The operation failed."})
    error.pop("httpStatus", None)
    return error
