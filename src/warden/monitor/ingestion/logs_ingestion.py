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
import json
import threading
import uuid
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy import select

from warden.kernel.context import RequestContext, authorization_failed
from warden.kernel.errors import BadRequest, WardenError
from warden.kernel.reply import Reply
from warden.kernel.schema import resources
from warden.monitor.kql.errors import KqlError
from warden.monitor.kql.runtime import Sandbox
from warden.monitor.kql.types import KustoType
from warden.monitor.logstore import LogStoreError

if TYPE_CHECKING:
    from warden.monitor.service import LogService

INGEST_ACTION = "Microsoft.Insights/Telemetry/Write"
MAX_BODY_BYTES = 1024 * 1024
# The SDK sizes a batch by its records' JSON (without the array's commas), so a body may pass
# 1 MiB by a little once uncompressed; a hard cap on inflation still stops decompression bombs.
MAX_INFLATED_BYTES = 4 * MAX_BODY_BYTES
MAX_CONCURRENT = 8
DCR_TYPE = "microsoft.insights/datacollectionrules"


class Throttled(WardenError):
    status = 429
    code = "TooManyRequests"


def find_rule(ctx: RequestContext, immutable_id: str) -> Any:
    """The caller's tenant's DCR with this immutableId, or None."""
    assert ctx.conn is not None
    rows = ctx.conn.execute(
        select(resources).where(resources.c.tenant_id == ctx.tenant_id, resources.c.type_key == DCR_TYPE)
    )
    wanted = immutable_id.lower()
    for row in rows:
        if str(row.body.get("properties", {}).get("immutableId", "")).lower() == wanted:
            return row
    return None


class LogsIngestion:
    """Runs Logs Ingestion API requests for one platform."""

    def __init__(self, service: LogService, *, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.service = service
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def handle(self, ctx: RequestContext, immutable_id: str, stream: str) -> Reply:
        rule = find_rule(ctx, immutable_id)
        # A rule of another tenant, or none at all, looks the same as one the caller may not use.
        scope = rule.id if rule is not None else f"/dataCollectionRules/{immutable_id}"
        if rule is None or not ctx.check(INGEST_ACTION, rule.id, data_action=True).allowed:
            raise authorization_failed(ctx.caller, INGEST_ACTION, scope)
        properties = rule.body.get("properties", {})
        flows = [f for f in properties.get("dataFlows", []) if stream in (f.get("streams") or [])]
        if not flows:
            raise BadRequest(
                f"The stream '{stream}' is not part of any data flow of the rule.", code="InvalidStream", target=stream
            )
        from warden.monitor.data_collection import stream_columns

        columns = stream_columns(properties, stream)
        records = _read_body(ctx)
        batch = to_arrow(records, columns)
        if not self._slots.acquire(blocking=False):
            raise Throttled("Too many concurrent ingestion requests; retry later.", headers={"Retry-After": "1"})
        try:
            destinations = {
                d["name"]: d["workspaceId"] for d in properties.get("destinations", {}).get("logAnalytics", [])
            }
            received = self._clock()
            for flow in flows:
                table = _output_table(flow, stream)
                for name in flow.get("destinations", []):
                    self._deliver(
                        destinations[name], table, flow.get("transformKql") or "source", batch, columns, received
                    )
        finally:
            self._slots.release()
        return Reply(204)

    def _deliver(
        self,
        customer_id: str,
        table: str,
        transform: str,
        batch: pa.Table,
        columns: dict[str, KustoType],
        received: dt.datetime,
    ) -> None:
        target = self.service.store.tables(customer_id).get(table)
        if target is None:
            raise BadRequest(f"The output table '{table}' no longer exists.", code="InvalidOutputTable")
        rows = transform_batch(transform, batch, columns)
        rows = with_standard_columns(rows, target, customer_id=customer_id, table=table, received=received)
        try:
            self.service.store.append(customer_id, table, rows)
        except LogStoreError as error:
            raise BadRequest(str(error), code="InvalidOutputTable") from None


def _output_table(flow: dict[str, Any], stream: str) -> str:
    from warden.monitor.data_collection import KNOWN_STREAMS

    output = flow.get("outputStream") or stream
    return KNOWN_STREAMS.get(output) or output.removeprefix("Custom-")


def _read_body(ctx: RequestContext) -> list[dict[str, Any]]:
    raw = ctx.raw_body
    if len(raw) > MAX_BODY_BYTES:
        raise WardenError("The request body is larger than 1 MB.", code="ContentLengthLimitExceeded", status=413)
    encoding = ctx.headers.get("content-encoding", "").strip().lower()
    if encoding == "gzip":
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = inflater.decompress(raw, MAX_INFLATED_BYTES)
            if inflater.unconsumed_tail:
                raise WardenError(
                    "The decompressed request body is too large.", code="ContentLengthLimitExceeded", status=413
                )
        except (zlib.error, gzip.BadGzipFile):
            raise BadRequest("The body is not valid gzip data.", code="InvalidContentEncoding") from None
    elif encoding not in ("", "identity"):
        raise BadRequest(f"Unsupported Content-Encoding '{encoding}'.", code="InvalidContentEncoding")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"The body is not valid JSON: {error}.", code="InvalidJson") from None
    if not isinstance(data, list):
        raise BadRequest("The body must be a JSON array of objects.", code="InvalidJson")
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            raise BadRequest(f"Record {index} is not a JSON object.", code="InvalidJson", target=f"[{index}]")
    return data


# ------------------------------------------------------------------------- typing the records


def _bad(index: int, field: str, kusto_type: KustoType, value: Any) -> BadRequest:
    return BadRequest(
        f"Record {index}: the value of '{field}' ({json.dumps(value)[:100]}) is not a valid {kusto_type}.",
        code="InvalidRecordValue",
        target=f"[{index}].{field}",
    )


def _coerce(kusto_type: KustoType, value: Any, index: int, field: str) -> Any:
    """One value as its column's type (None stays None); raise BadRequest naming record and field."""
    if value is None:
        return None
    if kusto_type is KustoType.DYNAMIC:
        return json.dumps(value, separators=(",", ":"))
    if kusto_type is KustoType.STRING:
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    if kusto_type in (KustoType.INT, KustoType.LONG):
        if isinstance(value, bool):
            raise _bad(index, field, kusto_type, value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _bad(index, field, kusto_type, value)
    if kusto_type is KustoType.REAL:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _bad(index, field, kusto_type, value)
    if kusto_type is KustoType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise _bad(index, field, kusto_type, value)
    if kusto_type is KustoType.DATETIME:
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise _bad(index, field, kusto_type, value) from None
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
            return parsed
        raise _bad(index, field, kusto_type, value)
    if kusto_type is KustoType.GUID:
        if isinstance(value, str):
            try:
                return str(uuid.UUID(value.strip()))
            except ValueError:
                pass
        raise _bad(index, field, kusto_type, value)
    return value


_ARROW = {
    KustoType.STRING: pa.string(),
    KustoType.DYNAMIC: pa.string(),
    KustoType.GUID: pa.string(),
    KustoType.INT: pa.int32(),
    KustoType.LONG: pa.int64(),
    KustoType.REAL: pa.float64(),
    KustoType.BOOL: pa.bool_(),
    KustoType.DATETIME: pa.timestamp("us"),
}


def to_arrow(records: list[dict[str, Any]], columns: dict[str, KustoType]) -> pa.Table:
    """The records as an Arrow table of the declared columns (values coerced to their types).

    Raises BadRequest naming the first record and field whose value cannot be its column's type.
    """
    arrays = {}
    for name, kusto_type in columns.items():
        values = [record.get(name) for record in records]
        arrow_type = _ARROW.get(kusto_type, pa.string())
        fast = kusto_type in (KustoType.STRING, KustoType.LONG, KustoType.REAL, KustoType.BOOL)
        if fast:
            try:
                arrays[name] = pa.array(values, type=arrow_type)
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                pass  # mixed or textual values: coerce one by one below
        coerced = [_coerce(kusto_type, value, index, name) for index, value in enumerate(values)]
        try:
            arrays[name] = pa.array(coerced, type=arrow_type)
        except (pa.ArrowInvalid, OverflowError):
            index = next(i for i, v in enumerate(coerced) if v is not None and not _fits(kusto_type, v))
            raise _bad(index, name, kusto_type, values[index]) from None
    return pa.table(arrays) if arrays else pa.table({"__empty": pa.nulls(len(records))})


def _fits(kusto_type: KustoType, value: Any) -> bool:
    if kusto_type is KustoType.INT:
        return -(2**31) <= value < 2**31
    if kusto_type is KustoType.LONG:
        return -(2**63) <= value < 2**63
    return True


# ---------------------------------------------------------------------------- transformation


def transform_batch(transform: str, batch: pa.Table, columns: dict[str, KustoType]) -> pa.Table:
    """Run the DCR's transformation over the batch (as ``source``); return the rows as Arrow."""
    if transform.strip() == "source":
        return batch
    schema = {name: str(kusto_type) for name, kusto_type in columns.items()}
    try:
        with Sandbox({"source": batch}, schemas={"source": schema}, threads=1) as sandbox:
            from warden.monitor.kql.compiler import compile_query

            sql, _, _ = compile_query(transform, sandbox.schemas)
            return sandbox.execute(sql)
    except KqlError as error:
        raise BadRequest(f"The transformation failed: {error}", code="TransformFailed") from None


def with_standard_columns(
    rows: pa.Table, target: dict[str, KustoType], *, customer_id: str, table: str, received: dt.datetime
) -> pa.Table:
    """Fill the columns Azure sets on every record: TenantId, Type, TimeGenerated when missing,
    _BilledSize (the record's JSON size), _IsBillable; columns the table lacks are dropped."""
    n = rows.num_rows
    kept = {name: rows.column(name) for name in rows.column_names if name in target}
    if "TimeGenerated" in target:
        stamp = pa.scalar(received.astimezone(dt.UTC).replace(tzinfo=None), type=pa.timestamp("us"))
        current = kept.get("TimeGenerated")
        if current is None:
            kept["TimeGenerated"] = pa.array([stamp.as_py()] * n, type=pa.timestamp("us"))
        elif current.null_count:
            import pyarrow.compute as pc

            kept["TimeGenerated"] = pc.fill_null(current.cast(pa.timestamp("us")), stamp)
    sizes = _billed_sizes(rows)
    for name, value in (("TenantId", customer_id), ("Type", table), ("_IsBillable", "True")):
        if name in target and name not in kept:
            kept[name] = pa.array([value] * n, type=pa.string())
    if "_BilledSize" in target and "_BilledSize" not in kept:
        kept["_BilledSize"] = sizes
    return pa.table(kept)


def _billed_sizes(rows: pa.Table) -> pa.Array:
    """Each record's size as JSON text, Azure's measure of billed bytes (computed by DuckDB)."""
    import duckdb

    if rows.num_columns == 0:
        return pa.array([0.0] * rows.num_rows, type=pa.float64())
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        con.execute("SET python_enable_replacements = false")
        con.register("batch", rows)
        sizes = con.sql(
            "SELECT CAST(strlen(CAST(to_json(b) AS VARCHAR)) AS DOUBLE) FROM batch AS b"
        ).to_arrow_table()
        return sizes.column(0).combine_chunks()
    finally:
        con.close()


__all__ = ["LogsIngestion", "find_rule", "to_arrow", "transform_batch", "with_standard_columns"]
