"""pim schedules, requests, policies and approvals

Revision ID: 0004_pim
Revises: 0003
Create Date: 2026-11-28 18:55:27.085508
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_pim"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "pim_approvals",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_key", sa.String(length=1024), nullable=False),
        sa.Column("requestor_id", sa.String(length=36), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("review_result", sa.String(length=16), nullable=False),
        sa.Column("reviewed_by", sa.String(length=36), nullable=True),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pim_approvals")),
    )
    with op.batch_alter_table("pim_approvals", schema=None) as batch_op:
        batch_op.create_index("ix_pim_approvals_tenant", ["tenant_id"], unique=False)

    op.create_table(
        "pim_policies",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("scope_key", sa.String(length=1024), nullable=False),
        sa.Column("role_guid", sa.String(length=36), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_pim_policies")),
    )
    with op.batch_alter_table("pim_policies", schema=None) as batch_op:
        batch_op.create_index("ix_pim_policies_scope", ["tenant_id", "scope_key"], unique=False)

    op.create_table(
        "pim_requests",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("id", sa.String(length=1024), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("scope_key", sa.String(length=1024), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("role_guid", sa.String(length=36), nullable=False),
        sa.Column("requestor_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("approval_id", sa.String(length=36), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_pim_requests")),
    )
    with op.batch_alter_table("pim_requests", schema=None) as batch_op:
        batch_op.create_index("ix_pim_requests_approval", ["approval_id"], unique=False)
        batch_op.create_index("ix_pim_requests_principal", ["tenant_id", "principal_id"], unique=False)

    op.create_table(
        "pim_schedules",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("scope_key", sa.String(length=1024), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("role_guid", sa.String(length=36), nullable=False),
        sa.Column("role_definition_id", sa.String(length=1024), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("request_id", sa.String(length=1024), nullable=False),
        sa.Column("linked_eligibility_id", sa.String(length=1024), nullable=True),
        sa.Column("role_assignment_key", sa.String(length=1024), nullable=True),
        sa.Column("role_assignment_id", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_pim_schedules")),
    )
    with op.batch_alter_table("pim_schedules", schema=None) as batch_op:
        batch_op.create_index("ix_pim_schedules_principal", ["tenant_id", "principal_id"], unique=False)
        batch_op.create_index("ix_pim_schedules_status_end", ["status", "end_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("pim_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_pim_schedules_status_end")
        batch_op.drop_index("ix_pim_schedules_principal")

    op.drop_table("pim_schedules")
    with op.batch_alter_table("pim_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_pim_requests_principal")
        batch_op.drop_index("ix_pim_requests_approval")

    op.drop_table("pim_requests")
    with op.batch_alter_table("pim_policies", schema=None) as batch_op:
        batch_op.drop_index("ix_pim_policies_scope")

    op.drop_table("pim_policies")
    with op.batch_alter_table("pim_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_pim_approvals_tenant")

    op.drop_table("pim_approvals")
