"""Routes rows from the syslog receiver to workspaces, as Azure's data collection rules do.

A DCR collects syslog when it has a ``syslog`` data source (``streams: ["Microsoft-Syslog"]``,
``facilityNames``, ``logLevels``); its data flows for ``Microsoft-Syslog`` name the destination
workspaces and an optional ``transformKql``. Each batch the receiver hands over is filtered per
data source (``dcr_accepts``), transformed and appended to each destination's ``Syslog`` table.

Syslog carries no credentials, so the receiver cannot tell tenants apart: it serves one tenant,
the installation's home tenant (the first one created, or ``syslog_tenant`` in the settings).
Other tenants collect through their own collectors rather than this shared port.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy import select

from warden.kernel.schema import resources, tenants
from warden.monitor.data_collection import DCR_TYPE, output_table, stream_columns
from warden.monitor.kql.types import KustoType

from .batches import BadRecord, TransformError, process_batch
from .logs_ingestion import with_standard_columns
from .syslog import dcr_accepts

if TYPE_CHECKING:
    from warden.platform import Platform

log = logging.getLogger(__name__)
SYSLOG_STREAM = "Microsoft-Syslog"
#: The Microsoft-Syslog stream's columns (the Syslog table's), which received rows are typed by.
SYSLOG_COLUMNS = stream_columns({}, SYSLOG_STREAM)


class SyslogRouter:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def _tenant(self, conn: Any) -> str | None:
        configured = self.platform.settings.syslog_tenant
        if configured:
            return configured
        row = conn.execute(select(tenants.c.id).order_by(tenants.c.created_at).limit(1)).first()
        return row.id if row else None

    def _rules(self) -> list[dict[str, Any]]:
        with self.platform.db.read() as conn:
            tenant = self._tenant(conn)
            if tenant is None:
                return []
            rows = conn.execute(
                select(resources.c.body).where(
                    resources.c.tenant_id == tenant, resources.c.type_key == DCR_TYPE.lower()
                )
            )
            return [
                row.body.get("properties", {})
                for row in rows
                if row.body.get("properties", {}).get("dataSources", {}).get("syslog")
            ]

    def deliver(self, rows: list[dict[str, Any]]) -> None:
        """Append each received row to every workspace whose DCR collects it (called by the receiver)."""
        if not rows:
            return
        store = self.platform.monitor.logs.store
        received = dt.datetime.now(dt.UTC)
        for rule in self._rules():
            accepted = [
                row
                for row in rows
                if any(
                    SYSLOG_STREAM in (source.get("streams") or [SYSLOG_STREAM]) and dcr_accepts(source, row)
                    for source in rule["dataSources"]["syslog"]
                )
            ]
            if not accepted:
                continue
            destinations = {
                d["name"]: d.get("workspaceId") for d in rule.get("destinations", {}).get("logAnalytics", [])
            }
            batch = _arrow(accepted, SYSLOG_COLUMNS)
            columns = {c: SYSLOG_COLUMNS[c] for c in batch.column_names}
            for flow in rule.get("dataFlows", []):
                if SYSLOG_STREAM not in (flow.get("streams") or []):
                    continue
                table = output_table(flow, SYSLOG_STREAM)
                if table is None:
                    continue
                try:
                    out = process_batch(batch, columns, flow.get("transformKql") or "source")
                except (BadRecord, TransformError):  # a failing transformation must not stop the other flows
                    log.exception("syslog transformation of a rule failed")
                    continue
                for name in flow.get("destinations", []):
                    customer_id = destinations.get(name)
                    if not customer_id:
                        continue
                    try:
                        target = store.tables(customer_id).get(table)
                        if target is None:
                            continue
                        ready = with_standard_columns(
                            out, target, customer_id=customer_id, table=table, received=received
                        )
                        store.append(customer_id, table, ready)
                    except Exception:  # one bad destination must not stop the others
                        log.exception("syslog delivery to workspace %s failed", customer_id)


def _arrow(rows: list[dict[str, Any]], target: dict[str, KustoType]) -> pa.Table:
    names = [name for name in dict.fromkeys(k for row in rows for k in row) if name in target]
    arrays = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if target[name] is KustoType.DATETIME:
            values = [v.astimezone(dt.UTC).replace(tzinfo=None) if isinstance(v, dt.datetime) else None for v in values]
            arrays[name] = pa.array(values, type=pa.timestamp("us"))
        elif target[name] in (KustoType.INT, KustoType.LONG):
            arrays[name] = pa.array([v if isinstance(v, int) else None for v in values], type=pa.int64())
        else:
            arrays[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.table(arrays)
