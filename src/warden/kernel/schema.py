"""Control-plane tables (SQLAlchemy Core). Migrations in ``warden/kernel/migrations`` create them.

Lookup columns named ``*_key`` hold the lower-cased ID or scope: ARM IDs are case-insensitive on
lookup and case-preserving on output, so both spellings are stored.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.sql.elements import ColumnElement

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = DateTime(timezone=True)
ID = String(36)
BIGINT = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrement needs INTEGER

tenants = Table(
    "tenants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("display_name", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("display_name", String(256), nullable=False),
    Column("state", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
)

service_principals = Table(
    "service_principals",
    metadata,
    Column("object_id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("app_id", ID, nullable=False, unique=True),
    Column("display_name", String(256), nullable=False),
    Column("kind", String(32), nullable=False),  # Application | ManagedIdentity
    Column("created_at", TS, nullable=False),
)

client_secrets = Table(
    "client_secrets",
    metadata,
    Column("key_id", ID, primary_key=True),
    Column("object_id", ID, ForeignKey("service_principals.object_id"), nullable=False, index=True),
    Column("secret_hash", String(128), nullable=False),
    Column("hint", String(8), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("sealed_private_key", LargeBinary, nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("retired_at", TS, nullable=True),  # no longer signs; stays in JWKS until tokens expire
)

resources = Table(
    "resources",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("id", String(1024), nullable=False),
    Column("subscription_id", ID, nullable=True),
    Column("resource_group_key", String(128), nullable=True),
    Column("parent_key", String(1024), nullable=False),
    Column("type", String(256), nullable=False),
    Column("type_key", String(256), nullable=False),
    Column("name", String(260), nullable=False),
    Column("location", String(64), nullable=True),
    Column("tags", JSON, nullable=True),
    Column("body", JSON, nullable=False),  # properties, sku, kind, identity, ... as stored
    Column("etag", String(64), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("created_by_type", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("modified_by", String(256), nullable=False),
    Column("modified_by_type", String(32), nullable=False),
    Column("modified_at", TS, nullable=False),
    Index("ix_resources_scope", "subscription_id", "resource_group_key"),
    Index("ix_resources_parent", "parent_key"),
    Index("ix_resources_type", "tenant_id", "type_key"),
)

role_definitions = Table(
    "role_definitions",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("name", ID, nullable=False),  # the GUID
    Column("scope", String(1024), nullable=False),
    Column("role_name", String(512), nullable=False),
    Column("body", JSON, nullable=False),  # ARM JSON 'properties'
    Column("created_by", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_role_definitions_guid", "tenant_id", "name", unique=True),
)

role_assignments = Table(
    "role_assignments",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("id", String(1024), nullable=False),
    Column("name", ID, nullable=False),
    Column("scope", String(1024), nullable=False),
    Column("scope_key", String(1024), nullable=False),
    Column("principal_id", ID, nullable=False),
    Column("principal_type", String(32), nullable=False),
    Column("role_definition_id", String(1024), nullable=False),
    Column("role_guid", ID, nullable=False),
    Column("description", Text, nullable=True),
    Column("condition", Text, nullable=True),
    Column("condition_version", String(16), nullable=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_role_assignments_principal", "tenant_id", "principal_id"),
    Index("ix_role_assignments_scope", "tenant_id", "scope_key"),
)

deny_assignments = Table(
    "deny_assignments",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("id", String(1024), nullable=False),
    Column("scope_key", String(1024), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("id", String(1024), nullable=False),
    Column("scope_key", String(1024), nullable=False),
    Column("name", String(260), nullable=False),
    Column("level", String(16), nullable=False),
    Column("notes", String(512), nullable=True),
    Column("owners", JSON, nullable=True),
    Column("created_by", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_by", String(256), nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_locks_scope", "tenant_id", "scope_key"),
)

activity_events = Table(
    "activity_events",
    metadata,
    Column("seq", BIGINT, primary_key=True, autoincrement=True),
    Column("tenant_id", ID, nullable=False),
    Column("event_data_id", ID, nullable=False, unique=True),
    Column("subscription_id", ID, nullable=True),
    Column("correlation_id", ID, nullable=False),
    Column("resource_group_key", String(128), nullable=True),
    Column("resource_key", String(1024), nullable=False),
    Column("caller", String(256), nullable=False),
    Column("event_timestamp", TS, nullable=False),
    Column("body", Text, nullable=False),  # canonical JSON: exactly the bytes the hash covers
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_activity_events_sub_time", "subscription_id", "event_timestamp"),
    Index("ix_activity_events_tenant_seq", "tenant_id", "seq"),
)

# One row per tenant: the head of its hash chain and the anchor left by retention purges.
activity_chains = Table(
    "activity_chains",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("head_seq", BIGINT, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("anchor_seq", BIGINT, nullable=False),
    Column("anchor_hash", String(64), nullable=False),
)

operations = Table(
    "operations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("subscription_id", ID, nullable=True),
    Column("target_id", String(1024), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(32), nullable=False),
    Column("error", JSON, nullable=True),
    Column("created_by", String(256), nullable=False),
    Column("started_at", TS, nullable=False),
    Column("ended_at", TS, nullable=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(128), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | succeeded | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_after", TS, nullable=False),
    Column("lease_until", TS, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", TS, nullable=False),
    Index("ix_jobs_ready", "status", "run_after"),
)

# Lets several API processes agree on which one runs periodic work (retention, schedules).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", TS, nullable=False),
)


def below(column: ColumnElement[str], scope_key: str) -> ColumnElement[bool]:
    """SQL condition: the lower-cased key in ``column`` lies strictly below ``scope_key``."""
    prefix = "" if scope_key == "/" else scope_key.lower().rstrip("/")
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(escaped + "/%", escape="\\")


# Azure Policy: the latest compliance state of each (resource, assignment, member definition),
# written by compliance scans and post-write evaluations (warden.governance.scans).
policy_states = Table(
    "policy_states",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("state_key", String(64), primary_key=True),  # sha256 of resource|assignment|definition|reference
    Column("resource_key", String(1024), nullable=False),
    Column("assignment_key", String(1024), nullable=False),
    Column("compliance_state", String(32), nullable=False),
    Column("record", JSON, nullable=False),  # the policyStates queryResults record
    Column("evaluated_at", TS, nullable=False),
    Index("ix_policy_states_resource", "tenant_id", "resource_key"),
)

# Which scopes a compliance scan has covered, and when it read them (stored states are as of then).
policy_scans = Table(
    "policy_scans",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("scope_key", String(1024), primary_key=True),
    Column("scanned_at", TS, nullable=False),
)
