"""policy states and scans

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_states",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("state_key", sa.String(length=64), nullable=False),
        sa.Column("resource_key", sa.String(length=1024), nullable=False),
        sa.Column("assignment_key", sa.String(length=1024), nullable=False),
        sa.Column("compliance_state", sa.String(length=32), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "state_key", name=op.f("pk_policy_states")),
    )
    op.create_index("ix_policy_states_resource", "policy_states", ["tenant_id", "resource_key"], unique=False)
    op.create_table(
        "policy_scans",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("scope_key", sa.String(length=1024), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "scope_key", name=op.f("pk_policy_scans")),
    )


def downgrade() -> None:
    op.drop_table("policy_scans")
    op.drop_index("ix_policy_states_resource", table_name="policy_states")
    op.drop_table("policy_states")
