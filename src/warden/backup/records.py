"""Read and write the vault's job and recovery-point records (``backup_records``).

Functions take an open connection so callers control the transaction; every query is scoped
by tenant, so one tenant's records are never visible to another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from warden.kernel.clock import utcnow
from warden.kernel.ids import key

from .schema import backup_records

JOB, RECOVERY_POINT = "job", "recoveryPoint"
ACTIVE, SOFT_DELETED = "Active", "SoftDeleted"


def insert_record(
    conn: Connection,
    tenant_id: str,
    *,
    record_id: str,
    vault_id: str,
    item_id: str | None,
    kind: str,
    name: str,
    status: str,
    body: dict[str, Any],
) -> None:
    """Insert one record (the caller's transaction commits it)."""
    now = utcnow()
    conn.execute(
        insert(backup_records).values(
            tenant_id=tenant_id,
            key=key(record_id),
            id=record_id,
            vault_key=key(vault_id),
            item_key=key(item_id) if item_id else None,
            kind=kind,
            name=name,
            status=status,
            body=body,
            created_at=now,
            updated_at=now,
        )
    )


def get_record(conn: Connection, tenant_id: str, record_id: str) -> Any:
    """Return the record row or None."""
    return conn.execute(
        select(backup_records).where(backup_records.c.tenant_id == tenant_id, backup_records.c.key == key(record_id))
    ).first()


def update_record(conn: Connection, tenant_id: str, record_id: str, *, status: str, body: dict[str, Any]) -> None:
    """Replace a record's status and body."""
    conn.execute(
        update(backup_records)
        .where(backup_records.c.tenant_id == tenant_id, backup_records.c.key == key(record_id))
        .values(status=status, body=body, updated_at=utcnow())
    )


def delete_record(conn: Connection, tenant_id: str, record_id: str) -> None:
    """Remove a record."""
    conn.execute(
        backup_records.delete().where(backup_records.c.tenant_id == tenant_id, backup_records.c.key == key(record_id))
    )


def list_records(
    conn: Connection, tenant_id: str, *, vault_id: str | None = None, item_id: str | None = None, kind: str
) -> list[Any]:
    """Return a vault's (or an item's) records of one kind, oldest first."""
    query = select(backup_records).where(backup_records.c.tenant_id == tenant_id, backup_records.c.kind == kind)
    if vault_id is not None:
        query = query.where(backup_records.c.vault_key == key(vault_id))
    if item_id is not None:
        query = query.where(backup_records.c.item_key == key(item_id))
    return list(conn.execute(query.order_by(backup_records.c.created_at, backup_records.c.key)))


def count_vault_records(conn: Connection, tenant_id: str, vault_id: str) -> int:
    """Return how many protected items and recovery points (active or soft-deleted) a vault holds."""
    from warden.kernel.schema import below, resources

    items = conn.execute(
        select(func.count())
        .select_from(resources)
        .where(
            resources.c.tenant_id == tenant_id,
            below(resources.c.key, key(vault_id)),
            resources.c.type_key
            == "microsoft.recoveryservices/vaults/backupfabrics/protectioncontainers/protecteditems",
        )
    ).scalar_one()
    points = conn.execute(
        select(func.count())
        .select_from(backup_records)
        .where(
            backup_records.c.tenant_id == tenant_id,
            backup_records.c.vault_key == key(vault_id),
            backup_records.c.kind == RECOVERY_POINT,
        )
    ).scalar_one()
    return int(items) + int(points)


def all_records(conn: Connection, *, kind: str, status: str | None = None) -> list[Any]:
    """Return every tenant's records of one kind (for the scheduler and purge loop)."""
    query = select(backup_records).where(backup_records.c.kind == kind)
    if status is not None:
        query = query.where(backup_records.c.status == status)
    return list(conn.execute(query))


def delete_vault_records(conn: Connection, tenant_id: str, vault_id: str) -> int:
    """Delete every job and recovery-point record of a vault; return how many."""
    return conn.execute(
        backup_records.delete().where(
            backup_records.c.tenant_id == tenant_id, backup_records.c.vault_key == key(vault_id)
        )
    ).rowcount
