"""Directory and sign-in tables (SQLAlchemy Core), on the kernel's metadata; migration 0003 creates them.

Object IDs are GUIDs shared by users, groups, applications and service principals, as in Entra ID,
so a role assignment's ``principalId`` names any of them. Lookup columns named ``*_key`` hold the
lower-cased value (UPNs are case-insensitive). Secrets (TOTP seeds, codes, tokens) are stored
sealed with the master key or as hashes, never in clear.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from warden.kernel.schema import BIGINT, ID, TS, metadata

# Per-tenant directory settings (MFA requirement, who may create groups, banned passwords,
# lockout threshold ...): one JSON document per tenant, defaults applied in code.
tenant_settings = Table(
    "tenant_settings",
    metadata,
    Column("tenant_id", ID, ForeignKey("tenants.id"), primary_key=True),
    Column("settings", JSON, nullable=False),
    Column("updated_at", TS, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("object_id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False),
    Column("user_principal_name", String(256), nullable=False),
    Column("upn_key", String(256), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("mail", String(256), nullable=True),
    Column("account_enabled", Boolean, nullable=False),
    Column("user_type", String(16), nullable=False),  # Member | Guest
    Column("password_hash", String(256), nullable=True),  # argon2id; None = no password (e.g. passkey only)
    Column("password_changed_at", TS, nullable=True),
    Column("risk_level", String(16), nullable=False),  # none | low | medium | high (Identity Protection)
    Column("risk_state", String(32), nullable=False),  # none | atRisk | remediated | dismissed ...
    Column("properties", JSON, nullable=False),  # other Graph fields: givenName, surname, jobTitle ...
    Column("created_at", TS, nullable=False),
    Index("ix_users_upn", "tenant_id", "upn_key", unique=True),
)

groups = Table(
    "groups",
    metadata,
    Column("object_id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("display_name", String(256), nullable=False),
    Column("mail_nickname", String(64), nullable=False),
    Column("description", Text, nullable=True),
    Column("security_enabled", Boolean, nullable=False),
    Column("visibility", String(16), nullable=False),  # Public | Private
    Column("properties", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
)

# Members may be users, groups (nesting counts for RBAC) or service principals.
group_members = Table(
    "group_members",
    metadata,
    Column("group_id", ID, ForeignKey("groups.object_id"), primary_key=True),
    Column("member_id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("member_type", String(32), nullable=False),  # user | group | servicePrincipal
    Column("added_at", TS, nullable=False),
    Index("ix_group_members_member", "tenant_id", "member_id"),
)

group_owners = Table(
    "group_owners",
    metadata,
    Column("group_id", ID, ForeignKey("groups.object_id"), primary_key=True),
    Column("owner_id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("added_at", TS, nullable=False),
    Index("ix_group_owners_owner", "tenant_id", "owner_id"),
)

# Self-service: a user's request to join a group, decided by one of its owners.
group_join_requests = Table(
    "group_join_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False, index=True),
    Column("group_id", ID, ForeignKey("groups.object_id"), nullable=False),
    Column("user_id", ID, nullable=False),
    Column("status", String(16), nullable=False),  # Pending | Approved | Denied
    Column("justification", Text, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("decided_by", ID, nullable=True),
    Column("decided_at", TS, nullable=True),
)

# Applications (the registration); their service principals live in the kernel's service_principals
# table and share ``app_id``.
applications = Table(
    "applications",
    metadata,
    Column("object_id", ID, primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id"), nullable=False, index=True),
    Column("app_id", ID, nullable=False, unique=True),
    Column("display_name", String(256), nullable=False),
    Column("sign_in_audience", String(64), nullable=False),
    Column("web_redirect_uris", JSON, nullable=False),
    Column("spa_redirect_uris", JSON, nullable=False),
    Column("public_client_redirect_uris", JSON, nullable=False),
    Column("is_fallback_public_client", Boolean, nullable=False),
    Column("properties", JSON, nullable=False),  # requiredResourceAccess, api, info ...
    Column("created_at", TS, nullable=False),
)

# Certificate credentials (for client assertions) of an application or service principal.
key_credentials = Table(
    "key_credentials",
    metadata,
    Column("key_id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("owner_id", ID, nullable=False, index=True),  # application or service principal object ID
    Column("thumbprint_sha1", String(64), nullable=False),  # hex, the x5t a client assertion names
    Column("thumbprint_sha256", String(64), nullable=False),
    Column("certificate_pem", Text, nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)

# Entra directory roles (Global Administrator ...) held by users, groups or service principals.
directory_role_assignments = Table(
    "directory_role_assignments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False, index=True),
    Column("role_template_id", ID, nullable=False),
    Column("principal_id", ID, nullable=False),
    Column("directory_scope_id", String(256), nullable=False),  # "/" for the whole directory
    Column("created_at", TS, nullable=False),
    Index("ix_directory_role_assignments_principal", "tenant_id", "principal_id"),
)

# Authentication methods: TOTP seeds (sealed), recovery codes (hashed), email, passkeys.
auth_methods = Table(
    "auth_methods",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, ForeignKey("users.object_id"), nullable=False, index=True),
    Column("method_type", String(32), nullable=False),  # softwareOath | recoveryCode | email | fido2
    Column("display_name", String(256), nullable=False),
    Column("sealed_secret", LargeBinary, nullable=True),
    Column("secret_hash", String(128), nullable=True),
    Column("verified", Boolean, nullable=False),  # enrolment completed by proving possession
    Column("last_used_step", BIGINT, nullable=True),  # TOTP replay guard
    Column("properties", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("used_at", TS, nullable=True),
)

# Smart lockout state per user and location familiarity (warden.identity.lockout's state, as JSON);
# updated inside a write transaction so parallel attempts are serialized.
lockout_states = Table(
    "lockout_states",
    metadata,
    Column("user_id", ID, primary_key=True),
    Column("familiarity", String(16), primary_key=True),  # familiar | unfamiliar
    Column("tenant_id", ID, nullable=False),
    Column("state", JSON, nullable=False),
    Column("updated_at", TS, nullable=False),
)

# One-time challenges: email codes for self-service password reset, MFA step-up ...
otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, nullable=False, index=True),
    Column("purpose", String(32), nullable=False),  # passwordReset | signIn
    Column("method_type", String(32), nullable=False),
    Column("code_hash", String(128), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("state", JSON, nullable=False),  # methods proven so far, etc.
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("consumed_at", TS, nullable=True),
)

# OAuth2: authorization codes, refresh tokens (rotated, in families), device codes, SSO sessions,
# consent grants. Only hashes of the bearer values are stored.
authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("client_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("code_challenge", String(128), nullable=True),
    Column("code_challenge_method", String(8), nullable=True),
    Column("nonce", String(256), nullable=True),
    Column("session_id", ID, nullable=True),
    Column("auth_time", TS, nullable=False),
    Column("amr", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("redeemed_at", TS, nullable=True),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", ID, nullable=False, index=True),
    Column("tenant_id", ID, nullable=False),
    Column("client_id", ID, nullable=False),
    Column("user_id", ID, nullable=False, index=True),
    Column("scope", Text, nullable=False),
    Column("session_id", ID, nullable=True),
    Column("auth_time", TS, nullable=False),
    Column("amr", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("rotated_at", TS, nullable=True),  # redeemed for a successor; presenting it again = reuse
    Column("revoked_at", TS, nullable=True),
)

device_codes = Table(
    "device_codes",
    metadata,
    Column("device_code_hash", String(64), primary_key=True),
    Column("user_code", String(16), nullable=False, unique=True),
    Column("tenant_id", ID, nullable=False),
    Column("client_id", ID, nullable=False),
    Column("scope", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | denied | redeemed
    Column("user_id", ID, nullable=True),
    Column("amr", JSON, nullable=False),
    Column("interval_seconds", Integer, nullable=False),
    Column("last_polled_at", TS, nullable=True),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)

signin_sessions = Table(
    "signin_sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("cookie_hash", String(64), nullable=False, unique=True),
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, nullable=False, index=True),
    Column("auth_time", TS, nullable=False),
    Column("amr", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True),
)

consent_grants = Table(
    "consent_grants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("client_id", ID, nullable=False),
    Column("user_id", ID, nullable=True),  # None = admin consent for all users
    Column("scope", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_consent_grants_client", "tenant_id", "client_id"),
)

# Sign-in and directory audit events, in the SigninLogs / AuditLogs column shapes (``record``),
# kept in the control plane and exported to a workspace by the tenant's diagnostic setting.
signin_events = Table(
    "signin_events",
    metadata,
    Column("seq", BIGINT, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, nullable=True),
    Column("app_id", ID, nullable=True),
    Column("ip_address", String(64), nullable=True),
    Column("status_code", Integer, nullable=False),  # 0 = success, else the AADSTS error code
    Column("record", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_signin_events_tenant_time", "tenant_id", "created_at"),
    Index("ix_signin_events_user", "tenant_id", "user_id"),
)

directory_audit_events = Table(
    "directory_audit_events",
    metadata,
    Column("seq", BIGINT, primary_key=True, autoincrement=True),
    Column("id", ID, nullable=False, unique=True),
    Column("tenant_id", ID, nullable=False),
    Column("category", String(64), nullable=False),
    Column("activity", String(256), nullable=False),
    Column("record", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_directory_audit_events_tenant_time", "tenant_id", "created_at"),
)

risk_detections = Table(
    "risk_detections",
    metadata,
    Column("id", ID, primary_key=True),
    Column("tenant_id", ID, nullable=False),
    Column("user_id", ID, nullable=True, index=True),
    Column("risk_event_type", String(64), nullable=False),  # Azure's names: passwordSpray, impossibleTravel ...
    Column("risk_level", String(16), nullable=False),
    Column("risk_state", String(32), nullable=False),
    Column("record", JSON, nullable=False),
    Column("detected_at", TS, nullable=False),
    Index("ix_risk_detections_tenant_time", "tenant_id", "detected_at"),
)

# Which identity log events each export target has received (as of seq), like the activity export.
identity_log_exports = Table(
    "identity_log_exports",
    metadata,
    Column("tenant_id", ID, primary_key=True),
    Column("stream", String(32), primary_key=True),  # SigninLogs | AuditLogs
    Column("last_seq", BIGINT, nullable=False),
    Column("updated_at", TS, nullable=False),
)
