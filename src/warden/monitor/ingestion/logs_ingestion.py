"""The Logs Ingestion API: ``POST /dataCollectionRules/{immutableId}/streams/{stream}``.

The body is a JSON array of objects (plain or gzip, at most 1 MiB as sent). Each object is read
against the stream's declared columns (undeclared properties are dropped, as Azure drops them; a
value that cannot be the declared type is a 400 naming the record and the field), the rule's
``transformKql`` runs over the batch as the virtual table ``source`` in a locked-down sandbox, and
the result is appended to every destination workspace's output table in one bulk insert each.
204 means every destination has committed the rows.

Authorization is the ``Microsoft.Insights/Telemetry/Write`` data action on the rule, which the
built-in Monitoring Metrics Publisher role grants, as in Azure.
"""

from __future__ import annotations

import datetime as dt
import gzip
import threading
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
from isal import isal_zlib
from sqlalchemy import select

from warden.kernel.context import RequestContext, authorization_failed
from warden.kernel.errors import BadRequest, WardenError
from warden.kernel.reply import Reply
from warden.kernel.resources import get_row
from warden.kernel.schema import resources
from warden.monitor.data_collection import DCR_TYPE, output_table, stream_columns
from warden.monitor.kql.types import KustoType
from warden.monitor.logstore import LogStoreError, StoreBusy

from .batches import BadRecord, TransformError, process_batch, records_to_arrow

if TYPE_CHECKING:
    from warden.monitor.service import LogService

INGEST_ACTION = "Microsoft.Insights/Telemetry/Write"
API_VERSIONS = ("2023-01-01",)
MAX_BODY_BYTES = 1024 * 1024
# The SDK sizes a batch by its records' JSON (without the array's commas), so a body may pass
# 1 MiB by a little once uncompressed; a hard cap on inflation still stops decompression bombs.
MAX_INFLATED_BYTES = 4 * MAX_BODY_BYTES
MAX_CONCURRENT = 8


class Throttled(WardenError):
    status = 429
    code = "TooManyRequests"


def find_rule(ctx: RequestContext, immutable_id: str, known: dict[tuple[str, str], str] | None = None) -> Any:
    """The caller's tenant's DCR with this immutableId, or None.

    ``known`` caches (tenant, immutableId) -> resource ID; a cached ID is re-read (the rule may have
    been deleted or replaced), and only a miss scans the tenant's rules.
    """
    assert ctx.conn is not None
    wanted = immutable_id.lower()
    cache_key = (ctx.tenant_id, wanted)
    if known is not None and cache_key in known:
        row = get_row(ctx.conn, ctx.tenant_id, known[cache_key])
        if row is not None and str(row.body.get("properties", {}).get("immutableId", "")).lower() == wanted:
            return row
        known.pop(cache_key, None)
    rows = ctx.conn.execute(
        select(resources).where(resources.c.tenant_id == ctx.tenant_id, resources.c.type_key == DCR_TYPE.lower())
    )
    for row in rows:
        if str(row.body.get("properties", {}).get("immutableId", "")).lower() == wanted:
            if known is not None:
                known[cache_key] = row.id
            return row
    return None


class LogsIngestion:
    """Runs Logs Ingestion API requests for one platform."""

    def __init__(
        self,
        service: LogService,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        max_concurrent: int = MAX_CONCURRENT,
    ) -> None:
        self.service = service
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._rules: dict[tuple[str, str], str] = {}  # (tenant, immutableId) -> DCR resource ID
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def handle(self, ctx: RequestContext, immutable_id: str, stream: str) -> Reply:
        rule = find_rule(ctx, immutable_id, self._rules)
        # A rule of another tenant, or none at all, looks the same as one the caller may not use.
        scope = rule.id if rule is not None else f"/dataCollectionRules/{immutable_id}"
        if rule is None or not ctx.check(INGEST_ACTION, rule.id, data_action=True).allowed:
            raise authorization_failed(ctx.caller, INGEST_ACTION, scope)
        version = ctx.query.get("api-version")
        if version not in API_VERSIONS:
            raise BadRequest(
                f"The api-version '{version}' is not supported; use {', '.join(API_VERSIONS)}.",
                code="InvalidApiVersion",
            )
        properties = rule.body.get("properties", {})
        flows = [f for f in properties.get("dataFlows", []) if stream in (f.get("streams") or [])]
        if not flows:
            raise BadRequest(
                f"The stream '{stream}' is not part of any data flow of the rule.", code="InvalidStream", target=stream
            )
        columns = stream_columns(properties, stream)
        records = _read_body(ctx)
        raw = records_to_arrow(records, columns)
        if not self._slots.acquire(blocking=False):
            raise Throttled("Too many concurrent ingestion requests; retry later.", headers={"Retry-After": "1"})
        try:
            destinations = {
                d["name"]: d["workspaceId"] for d in properties.get("destinations", {}).get("logAnalytics", [])
            }
            received = self._clock()
            # Every flow is converted and transformed before anything is written, so a bad record
            # or a failing transformation leaves every destination untouched.
            deliveries = []
            for flow in flows:
                table = output_table(flow, stream)
                if table is None:
                    raise BadRequest(f"The rule names no output table for '{stream}'.", code="InvalidOutputTable")
                try:
                    rows = process_batch(raw, columns, flow.get("transformKql") or "source", records)
                except BadRecord as error:
                    raise BadRequest(
                        str(error), code="InvalidRecordValue", target=f"[{error.index}].{error.field}"
                    ) from None
                except TransformError as error:
                    raise BadRequest(str(error), code="TransformFailed") from None
                for name in flow.get("destinations", []):
                    customer_id = destinations[name]
                    try:
                        target = self.service.store.tables(customer_id).get(table)
                    except LogStoreError:
                        target = None  # the destination workspace was deleted after the rule was written
                    if target is None:
                        raise BadRequest(
                            f"The output table '{table}' or its workspace no longer exists.", code="InvalidOutputTable"
                        )
                    out = with_standard_columns(rows, target, customer_id=customer_id, table=table, received=received)
                    deliveries.append((customer_id, table, out))
            for customer_id, table, out in deliveries:
                try:
                    self.service.store.append(customer_id, table, out)
                except StoreBusy as error:
                    raise Throttled(str(error), headers={"Retry-After": "1"}) from None
                except LogStoreError as error:
                    raise BadRequest(str(error), code="InvalidOutputTable") from None
        finally:
            self._slots.release()
        return Reply(204)


def _read_body(ctx: RequestContext) -> list[dict[str, Any]]:
    raw = ctx.raw_body
    if len(raw) > MAX_BODY_BYTES:
        raise WardenError("The request body is larger than 1 MB.", code="ContentLengthLimitExceeded", status=413)
    encoding = ctx.headers.get("content-encoding", "").strip().lower()
    if encoding == "gzip":
        raw = _inflate(raw)
    elif encoding not in ("", "identity"):
        raise BadRequest(f"Unsupported Content-Encoding '{encoding}'.", code="InvalidContentEncoding")
    try:
        data = orjson.loads(raw)  # a third of json.loads's time on a 1 MiB batch, and strict JSON (no NaN)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}.", code="InvalidJson") from None
    if not isinstance(data, list):
        raise BadRequest("The body must be a JSON array of objects.", code="InvalidJson")
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            raise BadRequest(f"Record {index} is not a JSON object.", code="InvalidJson", target=f"[{index}]")
    return data


def _inflate(raw: bytes) -> bytes:
    """The gzip body inflated (at most ``MAX_INFLATED_BYTES``); raises 413 past that, 400 if not gzip.

    ISA-L inflates in under half zlib's time. It checks the gzip CRC and length as zlib does, so a
    complete member inflates to the same bytes; anything else (an error, a truncated or oversized
    stream) goes through zlib, whose answers stay the reference.
    """
    fast = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)
    try:
        inflated = fast.decompress(raw, MAX_INFLATED_BYTES)
        if fast.eof:
            return inflated
    except isal_zlib.error:
        pass
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        inflated = inflater.decompress(raw, MAX_INFLATED_BYTES)
    except (zlib.error, gzip.BadGzipFile):
        raise BadRequest("The body is not valid gzip data.", code="InvalidContentEncoding") from None
    if inflater.unconsumed_tail:
        raise WardenError("The decompressed request body is too large.", code="ContentLengthLimitExceeded", status=413)
    return inflated


def with_standard_columns(
    rows: pa.Table, target: dict[str, KustoType], *, customer_id: str, table: str, received: dt.datetime
) -> pa.Table:
    """Fill the columns Azure sets on every record: TenantId, Type, TimeGenerated when missing,
    _BilledSize (``__billed`` from ``process_batch``: the record's JSON size), _IsBillable;
    columns the table lacks are dropped."""
    n = rows.num_rows
    kept = {name: rows.column(name) for name in rows.column_names if name in target}
    if "__billed" in rows.column_names and "_BilledSize" in target:
        kept["_BilledSize"] = rows.column("__billed")
    if "TimeGenerated" in target:
        stamp = pa.scalar(received.astimezone(dt.UTC).replace(tzinfo=None), type=pa.timestamp("us"))
        current = kept.get("TimeGenerated")
        if current is None:
            kept["TimeGenerated"] = pa.repeat(stamp, n)
        elif current.null_count:
            import pyarrow.compute as pc

            kept["TimeGenerated"] = pc.fill_null(current.cast(pa.timestamp("us")), stamp)
    for name, value in (("TenantId", customer_id), ("Type", table), ("_IsBillable", "True")):
        if name in target and name not in kept:
            kept[name] = pa.repeat(pa.scalar(value, type=pa.string()), n)
    if "_BilledSize" in target and "_BilledSize" not in kept:
        kept["_BilledSize"] = pa.repeat(pa.scalar(0.0, type=pa.float64()), n)
    return pa.table(kept)


__all__ = ["LogsIngestion", "find_rule", "with_standard_columns"]
