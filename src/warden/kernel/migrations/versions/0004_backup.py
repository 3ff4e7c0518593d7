"""backup jobs and recovery points

Revision ID: 0004_backup
Revises: 0003
Create Date: 2026-11-28 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_backup"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_records",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("id", sa.String(length=1024), nullable=False),
        sa.Column("vault_key", sa.String(length=1024), nullable=False),
        sa.Column("item_key", sa.String(length=1024), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_backup_records")),
    )
    op.create_index("ix_backup_records_item", "backup_records", ["tenant_id", "item_key"], unique=False)
    op.create_index("ix_backup_records_vault", "backup_records", ["tenant_id", "vault_key", "kind"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_backup_records_vault", table_name="backup_records")
    op.drop_index("ix_backup_records_item", table_name="backup_records")
    op.drop_table("backup_records")
