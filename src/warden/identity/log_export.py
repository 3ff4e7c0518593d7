"""Entra's diagnostic settings (``/providers/microsoft.aadiam/diagnosticSettings/{name}``, tenant
scope, api-version 2017-04-01) and the export of sign-in and audit events to Log Analytics.

A setting names a workspace of the same tenant (``workspaceId``) and the log categories to send:
``SignInLogs``, ``NonInteractiveUserSignInLogs``, ``ServicePrincipalSignInLogs`` (sign-in events)
and ``AuditLogs`` (directory audit events). The identity background loop copies events newer than
the tenant's cursor (``identity_log_exports``, one row per stream: ``SigninLogs``, ``AuditLogs``)
to the tables of every setting that wants them. Events recorded before the tenant's first setting
are not sent, as in Azure.

Exactly once: before appending a batch the loop records the batch's last sequence number as the
stream's ``…:pending`` row; after the append it moves the cursor and clears that row in one
transaction. Finding a pending row beyond the cursor means a crash between the append and the
cursor update, so the rows of that batch (by ``Id``) are purged from the target tables before the
batch is sent again: nothing is lost and nothing is doubled. Purging happens only after a crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId, parse_resource_id
from warden.kernel.leases import try_acquire
from warden.kernel.providers import TENANT, ProviderRegistry, ResourceType
from warden.kernel.resources import GenericResourceHandler, get_row
from warden.kernel.schema import resources
from warden.monitor.diagnostic_settings import LogSetting  # one shape for ARM's and Entra's settings

from .log_rows import AUDIT_CATEGORIES, CATEGORIES, SIGNIN_CATEGORIES, audit_row, signin_category, signin_row
from .risk_store import run_detections, set_cursor
from .schema import directory_audit_events, identity_log_exports, signin_events

if TYPE_CHECKING:
    from warden.platform import Platform

log = logging.getLogger(__name__)
TYPE = "microsoft.aadiam/diagnosticSettings"
API_VERSIONS = ("2017-04-01", "2017-04-01-preview")
WORKSPACE_TYPE = "Microsoft.OperationalInsights/workspaces"
INTERVAL = timedelta(seconds=2)
BATCH = 5000
SIGNIN_STREAM, AUDIT_STREAM = "SigninLogs", "AuditLogs"
STREAMS = {
    SIGNIN_STREAM: (signin_events, SIGNIN_CATEGORIES),
    AUDIT_STREAM: (directory_audit_events, AUDIT_CATEGORIES),
}


class AadDiagnosticSettingsProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")
    workspaceId: str | None = None
    storageAccountId: str | None = None
    eventHubAuthorizationRuleId: str | None = None
    eventHubName: str | None = None
    serviceBusRuleId: str | None = None
    logs: list[LogSetting] = Field(default_factory=list)


def enabled_tables(properties: dict[str, Any]) -> set[str]:
    """The workspace tables a setting fills."""
    return {CATEGORIES[e["category"]] for e in properties.get("logs", []) if e.get("enabled") and e.get("category")}


def _on_write(ctx: RequestContext, rid: ResourceId, properties: dict[str, Any], existing: Any) -> dict[str, Any]:
    assert ctx.conn is not None
    if properties.get("storageAccountId") or properties.get("eventHubAuthorizationRuleId"):
        raise BadRequest(
            "Only Log Analytics workspaces are supported as destinations.", code="InvalidDiagnosticSettings"
        )
    workspace_id = properties.get("workspaceId")
    row = None
    if isinstance(workspace_id, str):
        try:
            workspace_rid = parse_resource_id(workspace_id)
        except ValueError:
            workspace_rid = None
        if workspace_rid is not None and workspace_rid.type.lower() == WORKSPACE_TYPE.lower():
            row = get_row(ctx.conn, ctx.tenant_id, workspace_id)  # same tenant only
    if row is None or not ctx.can(f"{WORKSPACE_TYPE}/read", row.id):
        raise BadRequest(
            f"The workspace '{workspace_id}' was not found.",
            code="InvalidDiagnosticSettings",
            target="properties.workspaceId",
        )
    for i, entry in enumerate(properties.get("logs", [])):
        if entry.get("category") not in CATEGORIES:
            raise BadRequest(
                f"Unknown log category '{entry.get('category')}'; expected one of {', '.join(CATEGORIES)}.",
                code="InvalidDiagnosticSettings",
                target=f"properties.logs[{i}].category",
            )
    properties["workspaceId"] = row.id
    return properties


def _settings_of(conn: Any, tenant_id: str | None = None) -> list[Any]:
    query = select(resources).where(resources.c.type_key == TYPE.lower())
    if tenant_id is not None:
        query = query.where(resources.c.tenant_id == tenant_id)
    return list(conn.execute(query).all())


class AadDiagnosticSettingsHandler(GenericResourceHandler):
    """Stores settings like any resource; the tenant's first setting starts the export from now."""

    def put(self, ctx: RequestContext, rid: ResourceId, body: Any):  # type: ignore[no-untyped-def]
        assert ctx.conn is not None
        first = not _settings_of(ctx.conn, ctx.tenant_id)
        reply = super().put(ctx, rid, body)
        if first:
            for stream, (table, _) in STREAMS.items():
                newest = ctx.conn.execute(select(func.max(table.c.seq)).where(table.c.tenant_id == ctx.tenant_id))
                set_cursor(ctx.conn, ctx.tenant_id, stream, int(newest.scalar() or 0))
                ctx.conn.execute(_clear_pending(ctx.tenant_id, stream))
        return reply


def _clear_pending(tenant_id: str, stream: str) -> Any:
    return delete(identity_log_exports).where(
        identity_log_exports.c.tenant_id == tenant_id, identity_log_exports.c.stream == f"{stream}:pending"
    )


def _position(conn: Any, tenant_id: str, stream: str) -> int:
    value = conn.execute(
        select(identity_log_exports.c.last_seq).where(
            identity_log_exports.c.tenant_id == tenant_id, identity_log_exports.c.stream == stream
        )
    ).scalar()
    return int(value or 0)


def _targets(conn: Any, platform: Platform, tenant_id: str, settings: list[Any]) -> list[tuple[str, set[str]]]:
    """(workspace customerId, tables) for each setting whose workspace still exists."""
    targets = []
    for setting in settings:
        properties = setting.body.get("properties", {})
        workspace = conn.execute(
            select(resources).where(
                resources.c.tenant_id == tenant_id,
                resources.c.key == str(properties.get("workspaceId", "")).lower(),
                resources.c.type_key == WORKSPACE_TYPE.lower(),
            )
        ).first()
        customer_id = workspace.body.get("properties", {}).get("customerId") if workspace else None
        if customer_id and platform.monitor.logs.store.exists(customer_id):
            targets.append((customer_id, enabled_tables(properties)))
    return targets


def _append(platform: Platform, customer_id: str, table: str, rows: list[dict[str, Any]]) -> None:
    from warden.monitor.ingestion.logs_ingestion import with_standard_columns
    from warden.monitor.tables import standard_table

    store = platform.monitor.logs.store
    schema = store.tables(customer_id).get(table)
    if schema is None:  # a workspace created before the table joined the catalogue
        columns = {c.name: c.type for c in standard_table(table) or ()}
        schema = store.ensure_table(customer_id, table, columns)
    batch = pa.Table.from_pylist(rows)
    batch = with_standard_columns(batch, schema, customer_id=customer_id, table=table, received=dt.datetime.now(dt.UTC))
    store.append(customer_id, table, batch)


def _purge_batch(platform: Platform, targets: list[tuple[str, set[str]]], ids: list[str]) -> None:
    from warden.monitor.logstore import PurgeFilter

    store = platform.monitor.logs.store
    for customer_id, tables in targets:
        present = store.tables(customer_id)
        for table in tables:
            if table in present and ids:
                store.purge(customer_id, table, [PurgeFilter("Id", "in", ids)])


def export_stream(platform: Platform, tenant_id: str, settings: list[Any], stream: str) -> tuple[int, int]:
    """Send one batch of the stream's new events to the tenant's settings; return (events consumed,
    rows appended): a batch nobody wants is consumed without appending."""
    table, categories = STREAMS[stream]
    with platform.db.read() as conn:
        cursor = _position(conn, tenant_id, stream)
        pending = _position(conn, tenant_id, f"{stream}:pending")
        targets = [
            (ws, tables & set(categories.values())) for ws, tables in _targets(conn, platform, tenant_id, settings)
        ]
        if pending > cursor:  # a crash left this batch possibly appended: take it back out first
            ids = conn.execute(
                select(table.c.id).where(table.c.tenant_id == tenant_id, table.c.seq > cursor, table.c.seq <= pending)
            ).scalars()
            _purge_batch(platform, targets, list(ids))
        events = conn.execute(
            select(table.c.seq, table.c.record)
            .where(table.c.tenant_id == tenant_id, table.c.seq > cursor)
            .order_by(table.c.seq)
            .limit(BATCH)
        ).all()
    if not events:
        return 0, 0
    last = events[-1].seq
    by_table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if stream == SIGNIN_STREAM:
            by_table[SIGNIN_CATEGORIES[signin_category(event.record)]].append(signin_row(event.record, tenant_id))
        else:
            by_table["AuditLogs"].append(audit_row(event.record, tenant_id))
    with platform.db.write() as conn:
        set_cursor(conn, tenant_id, f"{stream}:pending", last)
    appended = 0
    for customer_id, tables in targets:
        for name in sorted(tables):
            if by_table.get(name):
                _append(platform, customer_id, name, by_table[name])
                appended += len(by_table[name])
    with platform.db.write() as conn:
        set_cursor(conn, tenant_id, stream, last)
        conn.execute(_clear_pending(tenant_id, stream))
    return len(events), appended


def export_identity_logs(platform: Platform) -> int:
    """One pass over every tenant with an Entra diagnostic setting; return rows appended."""
    with platform.db.read() as conn:
        settings = _settings_of(conn)
    by_tenant: dict[str, list[Any]] = defaultdict(list)
    for setting in settings:
        by_tenant[setting.tenant_id].append(setting)
    exported = 0
    for tenant_id, tenant_settings in by_tenant.items():
        for stream in STREAMS:
            try:
                while True:
                    consumed, appended = export_stream(platform, tenant_id, tenant_settings, stream)
                    exported += appended
                    if consumed < BATCH:
                        break
            except Exception:
                log.exception("identity log export (%s) for tenant %s failed", stream, tenant_id)
    return exported


def start_identity_loop(platform: Platform, stop: threading.Event) -> threading.Thread:
    """Start the risk detection runner and the identity log export; the thread ends when ``stop`` is set."""
    thread = threading.Thread(target=_loop, args=(platform, stop), name="warden-identity-logs", daemon=True)
    thread.start()
    return thread


def _newest_events(platform: Platform) -> tuple[int, int]:
    """The newest sign-in and audit sequence numbers (cheap: the primary key's maximum)."""
    with platform.db.read() as conn:
        return (
            int(conn.execute(select(func.max(signin_events.c.seq))).scalar() or 0),
            int(conn.execute(select(func.max(directory_audit_events.c.seq))).scalar() or 0),
        )


def _loop(platform: Platform, stop: threading.Event) -> None:
    done: dict[str, tuple[int, int]] = {}  # step -> newest events it has handled (this process)
    while not stop.is_set():
        for lease, step in (
            ("identity-risk", lambda: run_detections(platform.db, platform.settings)),
            ("identity-log-export", lambda: export_identity_logs(platform)),
        ):
            try:
                newest = _newest_events(platform)
                # Idle servers skip the per-tenant scans; the first pass always runs (crash recovery).
                if done.get(lease) != newest and try_acquire(platform.db, lease, platform.instance_id, INTERVAL * 5):
                    step()
                    done[lease] = newest
            except Exception:
                log.exception("identity background step %s failed", lease)
        stop.wait(INTERVAL.total_seconds())


def register(registry: ProviderRegistry) -> None:
    registry.register(
        ResourceType(
            "microsoft.aadiam",
            ("diagnosticSettings",),
            AadDiagnosticSettingsHandler(
                TYPE, AadDiagnosticSettingsProperties, location_required=False, on_write=_on_write
            ),
            placements=frozenset({TENANT}),
            display_name="Entra diagnostic setting",
            api_versions=API_VERSIONS,
        )
    )
