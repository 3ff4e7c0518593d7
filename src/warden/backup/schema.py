"""Backup bookkeeping tables (SQLAlchemy Core) on the kernel's metadata; migration 0004_backup creates them.

``backup_records`` holds the vault's jobs and recovery points: rows the job runner rewrites many
times a second (progress) and that are not worth a full ARM resource row each. ``body`` is the
record's ARM ``properties``; ``status`` is a job's status or a recovery point's state (``Active``,
``SoftDeleted``) so lists can filter without decoding JSON.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, String, Table

from warden.kernel.schema import ID, TS, metadata

backup_records = Table(
    "backup_records",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("id", String(1024), nullable=False),
    Column("vault_key", String(1024), nullable=False),
    Column("item_key", String(1024), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(32), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_backup_records_vault", "tenant_id", "vault_key", "kind"),
    Index("ix_backup_records_item", "tenant_id", "item_key"),
)
