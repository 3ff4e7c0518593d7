"""The HTTP route of the legacy Data Collector API: ``POST /api/logs?api-version=2016-04-01``.

The request names its workspace by the customerId in ``Authorization: SharedKey {customerId}:{sig}``
and proves it knows one of the workspace's shared keys (``data_collector.verify_signature``). A
request that is unsigned, wrongly signed or names an unknown workspace gets the same 403 and
writes nothing. The body's records become typed, suffixed columns of ``{Log-Type}_CL``
(``data_collector.shape_records``), added to the table as needed, then appended in one batch.
Errors use the API's own shape, ``{"Error": code, "Message": text}``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from warden.kernel.ids import parse_resource_id
from warden.kernel.resources import get_row
from warden.monitor.kql.types import KustoType, parse_type
from warden.monitor.logstore import LogStoreError, StoreBusy
from warden.monitor.tables import STANDARD_COLUMNS

from .data_collector import (
    DataCollectorError,
    parse_authorization,
    parse_body,
    shape_records,
    validate_log_type,
    verify_signature,
)
from .logs_ingestion import with_standard_columns

if TYPE_CHECKING:
    from warden.platform import Platform

API_VERSION = "2016-04-01"
MAX_BODY_BYTES = 30 * 1024 * 1024
_ARROW = {
    KustoType.STRING: pa.string(),
    KustoType.REAL: pa.float64(),
    KustoType.BOOL: pa.bool_(),
    KustoType.DATETIME: pa.timestamp("us"),
    KustoType.GUID: pa.string(),
}


def _error(error: DataCollectorError) -> JSONResponse:
    headers = {"Retry-After": "1"} if error.status in (429, 503) else None
    return JSONResponse({"Error": error.code, "Message": error.message}, status_code=error.status, headers=headers)


async def _read(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise DataCollectorError("RequestEntityTooLarge", "The body is larger than 30 MB.", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise DataCollectorError("RequestEntityTooLarge", "The body is larger than 30 MB.", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def handle_data_collector(platform: Platform, request: Request) -> Response:
    try:
        if request.query_params.get("api-version") != API_VERSION:
            raise DataCollectorError("InvalidApiVersion", f"The api-version must be {API_VERSION}.")
        body = await _read(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        await run_in_threadpool(_ingest, platform, headers, body)
    except DataCollectorError as error:
        return _error(error)
    return Response(status_code=200)


def _ingest(platform: Platform, headers: dict[str, str], body: bytes) -> None:
    logs = platform.monitor.logs
    authorization = headers.get("authorization")
    customer_id, _ = parse_authorization(authorization)
    with platform.db.read() as conn:
        ref = logs.find(conn, customer_id)
        row = get_row(conn, ref.tenant_id, ref.resource_id) if ref is not None else None
    keys = list(logs.shared_keys(ref.customer_id, row.body.get("_keyGenerations")).values()) if row else []
    # An unknown workspace is checked against no key at all: the same refusal as a bad signature.
    verify_signature(
        authorization,
        keys=keys,
        date_rfc1123=headers.get("x-ms-date"),
        content_length=len(body),
        content_type=headers.get("content-type", ""),
        customer_id=None,
    )
    if ref is None:
        raise DataCollectorError("InvalidAuthorization", "The signature is not valid for this workspace.", status=403)
    table = validate_log_type(headers.get("log-type"))
    records = parse_body(body)
    store = logs.store
    existing = store.tables(ref.customer_id).get(table, {})
    standard = {c.name for c in STANDARD_COLUMNS}
    custom = {name: str(t) for name, t in existing.items() if name not in standard}
    received = dt.datetime.now(dt.UTC)
    shaped = shape_records(
        records, custom, time_generated_field=headers.get("time-generated-field"), received_at=received
    )
    columns: dict[str, KustoType] = {"TimeGenerated": KustoType.DATETIME}
    columns.update({c.name: parse_type(c.type) for c in STANDARD_COLUMNS if c.name != "TimeGenerated"})
    columns.update({name: parse_type(t) for name, t in shaped.columns.items()})
    try:
        schema = store.ensure_table(ref.customer_id, table, columns)
        batch = _arrow(shaped.rows, schema, resource_id=headers.get("x-ms-azureresourceid", ""))
        batch = with_standard_columns(batch, schema, customer_id=ref.customer_id, table=table, received=received)
        store.append(ref.customer_id, table, batch)
    except StoreBusy as error:
        raise DataCollectorError("ServiceUnavailable", str(error), status=503) from None
    except LogStoreError as error:
        raise DataCollectorError("InvalidDataFormat", str(error)) from None


def _arrow(rows: list[dict[str, Any]], schema: dict[str, KustoType], *, resource_id: str) -> pa.Table:
    present = dict.fromkeys(name for row in rows for name in row)
    arrays = {}
    for name in present:
        kusto_type = schema[name]
        values = [row.get(name) for row in rows]
        if kusto_type is KustoType.DATETIME:
            values = [v.astimezone(dt.UTC).replace(tzinfo=None) if isinstance(v, dt.datetime) else v for v in values]
        arrays[name] = pa.array(values, type=_ARROW.get(kusto_type, pa.string()))
    if resource_id:
        arrays["_ResourceId"] = pa.array([resource_id] * len(rows), type=pa.string())
        try:
            subscription = parse_resource_id(resource_id).subscription_id or ""
        except ValueError:
            subscription = ""
        arrays["_SubscriptionId"] = pa.array([subscription] * len(rows), type=pa.string())
    return pa.table(arrays)
