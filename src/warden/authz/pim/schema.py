"""PIM tables (SQLAlchemy Core) on the kernel's metadata; migration ``0004_pim`` creates them.

Eligibility and active (assignment) schedules share one table, told apart by ``kind``; so do the
two kinds of schedule request. An active schedule that grants access points at the real RBAC row
it created (``role_assignment_key``), which is how the authorization check and the expiry sweep
find PIM-managed assignments. ``*_key`` columns hold lower-cased IDs, as in the kernel schema.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, String, Table, Text

from warden.kernel.schema import ID, TS, metadata

ELIGIBILITY = "eligibility"
ASSIGNMENT = "assignment"

pim_requests = Table(
    "pim_requests",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("id", String(1024), nullable=False),
    Column("kind", String(16), nullable=False),  # eligibility | assignment
    Column("scope", String(1024), nullable=False),
    Column("scope_key", String(1024), nullable=False),
    Column("principal_id", ID, nullable=False),
    Column("role_guid", ID, nullable=False),
    Column("requestor_id", ID, nullable=False),
    Column("status", String(32), nullable=False),
    Column("approval_id", ID, nullable=True),
    Column("body", JSON, nullable=False),  # the ARM 'properties' as answered
    Column("created_at", TS, nullable=False),
    Index("ix_pim_requests_principal", "tenant_id", "principal_id"),
    Index("ix_pim_requests_approval", "approval_id"),
)

pim_schedules = Table(
    "pim_schedules",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("name", ID, primary_key=True),  # GUID shared by the schedule and its instance
    Column("kind", String(16), nullable=False),
    Column("scope", String(1024), nullable=False),
    Column("scope_key", String(1024), nullable=False),
    Column("principal_id", ID, nullable=False),
    Column("role_guid", ID, nullable=False),
    Column("role_definition_id", String(1024), nullable=False),
    Column("status", String(32), nullable=False),  # Provisioned | Expired | Revoked
    Column("start_at", TS, nullable=False),
    Column("end_at", TS, nullable=True),  # None: no expiration
    Column("request_id", String(1024), nullable=False),
    Column("linked_eligibility_id", String(1024), nullable=True),  # the eligibility schedule activated
    Column("role_assignment_key", String(1024), nullable=True),  # the RBAC row it grants; cleared once deleted
    Column("role_assignment_id", String(1024), nullable=True),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_pim_schedules_principal", "tenant_id", "principal_id"),
    Index("ix_pim_schedules_status_end", "status", "end_at"),
)

# Only policies someone changed are stored; every other (scope, role) has the default policy.
pim_policies = Table(
    "pim_policies",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("name", ID, primary_key=True),  # GUID derived from (scope, role)
    Column("scope", String(1024), nullable=False),
    Column("scope_key", String(1024), nullable=False),
    Column("role_guid", ID, nullable=False),
    Column("rules", JSON, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_pim_policies_scope", "tenant_id", "scope_key"),
)

pim_approvals = Table(
    "pim_approvals",
    metadata,
    Column("tenant_id", ID, nullable=False),
    Column("id", ID, primary_key=True),
    Column("request_key", String(1024), nullable=False),
    Column("requestor_id", ID, nullable=False),
    Column("approvers", JSON, nullable=False),  # object IDs allowed to decide
    Column("status", String(32), nullable=False),  # InProgress | Completed
    Column("review_result", String(16), nullable=False),  # NotReviewed | Approve | Deny
    Column("reviewed_by", ID, nullable=True),
    Column("justification", Text, nullable=True),
    Column("reviewed_at", TS, nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_pim_approvals_tenant", "tenant_id"),
)
