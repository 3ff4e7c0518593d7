"""Scheduled backups: each protected item's policy times, in the policy's time zone, under a leader lease.

``due_slot`` is pure: the newest scheduled time at or before ``now`` that is later than the last
slot already handled. After downtime the missed slots collapse into that one newest slot, so an
item is backed up once, not once per missed run. ``tick`` queues a backup job for every due item
unless a job for it is still running (jobs never overlap per item; that slot is then skipped).
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.leases import try_acquire
from warden.kernel.resources import get_row
from warden.kernel.schema import resources

from .policies import Schedule, policy_rules

if TYPE_CHECKING:
    from warden.platform import Platform

log = logging.getLogger(__name__)
INTERVAL = timedelta(seconds=30)
LEASE = "backup-scheduler"
SLOT_FIELD = "_lastScheduledSlot"


def due_slot(schedule: Schedule, since: datetime, now: datetime) -> datetime | None:
    """Return the newest scheduled instant in (since, now] (UTC-aware), or None if nothing is due."""
    zone = ZoneInfo(schedule.time_zone)
    today: date = now.astimezone(zone).date()
    for back in range(0, 8):
        day = today - timedelta(days=back)
        if schedule.days and day.weekday() not in schedule.days:
            continue
        for at in sorted(schedule.times, reverse=True):
            slot = datetime.combine(day, at, tzinfo=zone).astimezone(ZoneInfo("UTC"))
            if slot <= now:
                return slot if slot > since else None
    return None


def tick(platform: Platform, now: datetime | None = None) -> list[str]:
    """Queue the backups that are due at ``now`` for every tenant; return the job IDs queued."""
    from .items import ITEM_TYPE, enqueue_backup
    from .jobs import active_job

    now = now or utcnow()
    queued: list[str] = []
    with platform.db.write() as conn:
        rows = conn.execute(select(resources).where(resources.c.type_key == ITEM_TYPE.lower())).all()
        for item in rows:
            properties = item.body.get("properties", {})
            if properties.get("protectionState") != "Protected" or properties.get("isScheduledForDeferredDelete"):
                continue
            policy = get_row(conn, item.tenant_id, properties.get("policyId") or "")
            if policy is None:
                continue
            schedule, _ = policy_rules(policy.body["properties"])
            since = _since(item, properties)
            slot = due_slot(schedule, since, now)
            if slot is None:
                continue
            if active_job(conn, item.tenant_id, item.id) is None:
                queued.append(enqueue_backup(conn, item.tenant_id, item, None, "Backup"))
            else:
                log.info("scheduled backup of %s skipped: a job is still running", item.id)
            conn.execute(
                update(resources)
                .where(resources.c.tenant_id == item.tenant_id, resources.c.key == item.key)
                .values(body={**item.body, "properties": {**properties, SLOT_FIELD: isoformat(slot)}})
            )
    if queued:
        platform.jobs.wake()
    return queued


def _since(item: Any, properties: dict[str, Any]) -> datetime:
    text = properties.get(SLOT_FIELD)
    if text:
        return datetime.fromisoformat(text)
    return aware(item.created_at)  # protected after a slot: wait for the next one


def start_backup_loop(platform: Platform, stop: threading.Event) -> threading.Thread:
    """Start the scheduler and soft-delete purge loop (runs only while this process holds the lease)."""
    from .lifecycle import purge_expired

    def loop() -> None:
        while not stop.is_set():
            try:
                if try_acquire(platform.db, LEASE, platform.instance_id, INTERVAL * 3):
                    tick(platform)
                    purge_expired(platform)
            except Exception:
                log.exception("backup scheduler failed")
            stop.wait(INTERVAL.total_seconds())

    thread = threading.Thread(target=loop, name="warden-backup-scheduler", daemon=True)
    thread.start()
    return thread
