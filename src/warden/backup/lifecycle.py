"""What happens to recovery points after a backup and over time: GFS retention, item status, purge.

* ``apply_retention`` removes the item's active points its policy no longer keeps (Azure expires
  them the same way; expiry is not a deletion the guard or soft delete applies to).
* ``purge_expired`` deletes soft-deleted items and points whose soft-delete period has ended, then
  prunes the vault's repository with the chunk store's lock-free two-phase prune.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from warden.kernel.clock import isoformat, utcnow
from warden.kernel.resources import delete_tree, get_row

from . import naming
from .records import ACTIVE, RECOVERY_POINT, SOFT_DELETED, all_records, list_records
from .retention import Point, keep

if TYPE_CHECKING:
    from warden.platform import Platform

log = logging.getLogger(__name__)
PRUNE_SAFETY_DELAY = 3600.0  # seconds: longer than any backup running while a prune marks packs


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def apply_retention(platform: Platform, tenant_id: str, item_id: str, now: datetime | None = None) -> list[str]:
    """Expire the item's active recovery points its policy does not keep; return the expired point IDs."""
    from .policies import policy_rules
    from .recovery_points import expire_points

    now = now or utcnow()
    with platform.db.write() as conn:
        item = get_row(conn, tenant_id, item_id)
        policy = get_row(conn, tenant_id, item.body["properties"].get("policyId") or "") if item else None
        if item is None or policy is None or item.body["properties"].get("protectionState") != "Protected":
            return []  # stopped protection keeps its data as it is
        _, rules = policy_rules(policy.body["properties"])
        points = [p for p in list_records(conn, tenant_id, item_id=item_id, kind=RECOVERY_POINT) if p.status == ACTIVE]
        kept = keep(
            [
                Point(p.id, _time(p.body["recoveryPointTime"]), _time(p.body.get("recoveryPointExpiryTimeInUTC")))
                for p in points
            ],
            rules,
            now,
        )
        expired = [p for p in points if p.id not in kept]
        expire_points(platform, conn, tenant_id, naming.vault_of_item(item_id), expired)
    return [p.id for p in expired]


def note_backup(platform: Platform, tenant_id: str, item_id: str, status: str, when: datetime | None) -> None:
    """Record a backup's outcome on its item (lastBackupStatus/Time, lastRecoveryPoint, point count)."""
    from sqlalchemy import update

    from warden.kernel.schema import resources

    with platform.db.write() as conn:
        item = get_row(conn, tenant_id, item_id)
        if item is None:
            return
        points = [p for p in list_records(conn, tenant_id, item_id=item_id, kind=RECOVERY_POINT) if p.status == ACTIVE]
        properties = dict(item.body["properties"])
        properties["lastBackupStatus"] = status
        if when is not None:
            properties["lastBackupTime"] = isoformat(when)
            properties["lastRecoveryPoint"] = isoformat(when)
        times = sorted(p.body["recoveryPointTime"] for p in points)
        properties["extendedInfo"] = {
            "recoveryPointCount": len(points),
            "oldestRecoveryPoint": times[0] if times else None,
            "lastRefreshedAt": isoformat(utcnow()),
        }
        # A job is not a caller: keep the item's ETag and systemData as the last user write left them.
        conn.execute(
            update(resources)
            .where(resources.c.tenant_id == tenant_id, resources.c.key == item.key)
            .values(body={**item.body, "properties": properties})
        )


def purge_expired(platform: Platform, now: datetime | None = None, *, prune: bool = True) -> int:
    """Delete soft-deleted points and items past their period (every tenant); prune touched vaults.

    Returns how many recovery points were purged.
    """
    from .recovery_points import expire_points
    from .storage import open_repository

    now = now or utcnow()
    purged = 0
    vaults: set[tuple[str, str]] = set()
    with platform.db.read() as conn:
        due = [
            p
            for p in all_records(conn, kind=RECOVERY_POINT, status=SOFT_DELETED)
            if _time(p.body.get("_purgeAfter")) and _time(p.body["_purgeAfter"]) <= now
        ]
    for point in due:
        vault_id = naming.vault_of_item(point.id)
        with platform.db.write() as conn:
            expire_points(platform, conn, point.tenant_id, vault_id, [point])
        vaults.add((point.tenant_id, vault_id))
        purged += 1
    with platform.db.write() as conn:
        for item in _soft_deleted_items(conn):
            purge_after = _time(item.body["properties"].get("_purgeAfter"))
            remaining = list_records(conn, item.tenant_id, item_id=item.id, kind=RECOVERY_POINT)
            if purge_after is not None and purge_after <= now and not remaining:
                delete_tree(conn, item.tenant_id, item.id)
    if prune:
        for tenant_id, vault_id in vaults:
            try:
                repo = open_repository(platform, tenant_id, vault_id)
            except Exception:
                continue
            try:
                repo.prune(safety_delay=PRUNE_SAFETY_DELAY)
            finally:
                repo.close()
    return purged


def _soft_deleted_items(conn) -> list[Any]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from warden.kernel.schema import resources

    from .items import ITEM_TYPE

    rows = conn.execute(select(resources).where(resources.c.type_key == ITEM_TYPE.lower()))
    return [r for r in rows if r.body.get("properties", {}).get("isScheduledForDeferredDelete")]
