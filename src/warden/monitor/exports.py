"""The monitor's periodic work: activity log export to workspaces, and table retention.

Both run in one background thread, each under its own leader lease, so with several API
processes only one exports and one purges at a time.

- Export: every few seconds, for each subscription diagnostic setting, activity events newer
  than the setting's ``_cursor`` in the enabled categories become ``AzureActivity`` rows in the
  setting's workspace; then the cursor moves. Delivery is at least once: a crash between the
  append and the cursor update re-sends that batch (``EventDataId`` identifies duplicates).
- Retention: hourly, rows older than each table's retention (the table's own ``retentionInDays``
  or the workspace's) are deleted.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy import select

from warden.kernel.leases import try_acquire
from warden.kernel.schema import activity_events, resources

from .diagnostic_settings import TYPE as SETTINGS_TYPE
from .diagnostic_settings import enabled_categories
from .ingestion.logs_ingestion import with_standard_columns
from .service import WORKSPACE_TYPE

if TYPE_CHECKING:
    from warden.platform import Platform

log = logging.getLogger(__name__)
EXPORT_INTERVAL = timedelta(seconds=2)
RETENTION_INTERVAL = timedelta(hours=1)
BATCH = 5000


def start_monitor_loop(platform: Platform, stop: threading.Event) -> threading.Thread:
    """Start the export and retention loop; it ends when ``stop`` is set."""
    thread = threading.Thread(target=_loop, args=(platform, stop), name="warden-monitor", daemon=True)
    thread.start()
    return thread


def _loop(platform: Platform, stop: threading.Event) -> None:
    last_retention = dt.datetime.min.replace(tzinfo=dt.UTC)
    while not stop.is_set():
        try:
            if try_acquire(platform.db, "activity-export", platform.instance_id, EXPORT_INTERVAL * 5):
                export_activity(platform)
            now = dt.datetime.now(dt.UTC)
            if now - last_retention >= RETENTION_INTERVAL and try_acquire(
                platform.db, "log-retention", platform.instance_id, RETENTION_INTERVAL * 2
            ):
                last_retention = now
                removed = apply_retention(platform, now)
                if removed:
                    log.info("log retention removed %d rows", removed)
        except Exception:
            log.exception("monitor background work failed")
        stop.wait(EXPORT_INTERVAL.total_seconds())


def export_activity(platform: Platform) -> int:
    """Copy new activity events to the workspaces of subscription diagnostic settings; return rows."""
    exported = 0
    with platform.db.read() as conn:
        settings = conn.execute(select(resources).where(resources.c.type_key == SETTINGS_TYPE.lower())).all()
    for setting in settings:
        try:
            exported += _export_one(platform, setting)
        except Exception:
            log.exception("activity export for %s failed", setting.id)
    return exported


def _export_one(platform: Platform, setting: Any) -> int:
    properties = setting.body.get("properties", {})
    categories = enabled_categories(properties)
    cursor = int(setting.body.get("_cursor", 0))
    subscription = setting.subscription_id
    with platform.db.read() as conn:
        workspace = conn.execute(
            select(resources).where(
                resources.c.tenant_id == setting.tenant_id,
                resources.c.key == str(properties.get("workspaceId", "")).lower(),
                resources.c.type_key == WORKSPACE_TYPE.lower(),
            )
        ).first()
        events = conn.execute(
            select(activity_events.c.seq, activity_events.c.body)
            .where(
                activity_events.c.tenant_id == setting.tenant_id,
                activity_events.c.subscription_id == subscription,
                activity_events.c.seq > cursor,
            )
            .order_by(activity_events.c.seq)
            .limit(BATCH)
        ).all()
    if not events:
        return 0
    rows = []
    for event in events:
        body = json.loads(event.body)
        if body.get("category", {}).get("value") in categories:
            rows.append(azure_activity_row(body))
    if rows and workspace is not None:
        customer_id = workspace.body["properties"]["customerId"]
        store = platform.monitor.logs.store
        target = store.tables(customer_id)["AzureActivity"]
        batch = pa.Table.from_pylist(rows)
        batch = with_standard_columns(
            batch, target, customer_id=customer_id, table="AzureActivity", received=dt.datetime.now(dt.UTC)
        )
        store.append(customer_id, "AzureActivity", batch)
    with platform.db.write() as conn:
        current = conn.execute(
            select(resources.c.body).where(resources.c.tenant_id == setting.tenant_id, resources.c.key == setting.key)
        ).first()
        if current is not None:
            conn.execute(
                resources.update()
                .where(resources.c.tenant_id == setting.tenant_id, resources.c.key == setting.key)
                .values(body={**current.body, "_cursor": events[-1].seq})
            )
    return len(rows) if workspace is not None else 0


def azure_activity_row(event: dict[str, Any]) -> dict[str, Any]:
    """One activity log event (Azure's REST shape) as an ``AzureActivity`` row."""

    def value(key: str) -> str:
        item = event.get(key) or {}
        return str(item.get("value", "")) if isinstance(item, dict) else str(item)

    def localized(key: str) -> str:
        item = event.get(key) or {}
        return str(item.get("localizedValue", "")) if isinstance(item, dict) else str(item)

    timestamp = dt.datetime.fromisoformat(event["eventTimestamp"].replace("Z", "+00:00")).astimezone(dt.UTC)
    submitted = event.get("submissionTimestamp") or event["eventTimestamp"]
    resource_id = event.get("resourceId", "")
    subscription = event.get("subscriptionId") or ""
    return {
        "TimeGenerated": timestamp.replace(tzinfo=None),
        "EventSubmissionTimestamp": dt.datetime.fromisoformat(submitted.replace("Z", "+00:00"))
        .astimezone(dt.UTC)
        .replace(tzinfo=None),
        "OperationNameValue": value("operationName"),
        "OperationName": localized("operationName"),
        "ActivityStatusValue": value("status"),
        "ActivityStatus": localized("status"),
        "ActivitySubstatusValue": value("subStatus"),
        "ActivitySubstatus": localized("subStatus"),
        "CategoryValue": value("category"),
        "Category": localized("category"),
        "Level": str(event.get("level", "")),
        "Caller": str(event.get("caller", "")),
        "CallerIpAddress": str((event.get("httpRequest") or {}).get("clientIpAddress", "")),
        "CorrelationId": str(event.get("correlationId", "")),
        "EventDataId": str(event.get("eventDataId", "")),
        "OperationId": str(event.get("operationId", "")),
        "ResourceGroup": str(event.get("resourceGroupName") or ""),
        "ResourceProviderValue": value("resourceProviderName"),
        "ResourceProvider": localized("resourceProviderName"),
        "ResourceId": resource_id,
        "_ResourceId": resource_id.lower(),
        "Resource": resource_id.rsplit("/", 1)[-1] if resource_id else "",
        "SubscriptionId": subscription,
        "_SubscriptionId": subscription,
        "Authorization": json.dumps(event.get("authorization", {})),
        "Authorization_d": json.dumps(event.get("authorization", {})),
        "Claims": json.dumps(event.get("claims", {})),
        "Claims_d": json.dumps(event.get("claims", {})),
        "HTTPRequest": json.dumps(event.get("httpRequest", {})),
        "Properties": json.dumps(event.get("properties", {})),
        "Properties_d": json.dumps(event.get("properties", {})),
        "Hierarchy": f"{event.get('tenantId', '')}/{subscription}" if subscription else str(event.get("tenantId", "")),
        "SourceSystem": "Azure",
    }


def apply_retention(platform: Platform, now: dt.datetime) -> int:
    """Delete rows older than each table's retention in every workspace; return how many."""
    removed = 0
    with platform.db.read() as conn:
        workspaces = conn.execute(select(resources).where(resources.c.type_key == WORKSPACE_TYPE.lower())).all()
        tables = conn.execute(select(resources).where(resources.c.type_key == f"{WORKSPACE_TYPE}/tables".lower())).all()
    overrides = {row.key: row.body.get("properties", {}).get("retentionInDays", -1) for row in tables}
    store = platform.monitor.logs.store
    for workspace in workspaces:
        properties = workspace.body.get("properties", {})
        customer_id = properties.get("customerId")
        if not customer_id:
            continue
        default = int(properties.get("retentionInDays", 30))
        for table in store.tables(customer_id):
            days = overrides.get(f"{workspace.key}/tables/{table.lower()}", -1)
            days = default if days in (None, -1) else int(days)
            removed += store.delete_before(customer_id, table, now - timedelta(days=days))
    return removed
