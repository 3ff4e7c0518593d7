"""Per-tenant directory settings: MFA requirement, group creation, banned passwords, lockout, SSPR.

One JSON document per tenant in ``tenant_settings``; absent keys take the defaults of
:class:`TenantSettings`, so a tenant that never changed anything needs no row and a setting added
later applies to every tenant without a migration. The JSON names are Graph-style camelCase, the
same names the settings endpoint reads and writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy import Connection, insert, select, update

from warden.identity.schema import tenant_settings
from warden.kernel.clock import utcnow
from warden.kernel.errors import BadRequest

MFA_REQUIREMENTS = ("none", "everyone", "privilegedRoles")
MAX_BANNED_PASSWORDS = 1000  # Entra's custom banned password list holds at most 1000 terms
BANNED_TERM_LENGTH = (4, 16)  # Entra: each term 4 to 16 characters


@dataclass(frozen=True)
class TenantSettings:
    """A tenant's directory settings; the defaults are what a new tenant gets."""

    mfa_requirement: str = "none"  # none | everyone | privilegedRoles (directory role holders)
    users_can_create_groups: bool = True
    banned_passwords: tuple[str, ...] = ()
    lockout_threshold: int = 10
    lockout_duration_seconds: int = 60
    sspr_enabled: bool = True
    sspr_methods_required: int = 1
    sspr_admin_methods_required: int = 2

    def to_json(self) -> dict[str, Any]:
        """Return the settings as the camelCase JSON document the API and the store use."""
        return {
            _camel(name): list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()
        }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


FIELD_BY_JSON_NAME = {_camel(f.name): f.name for f in fields(TenantSettings)}


def _bad(message: str, target: str) -> BadRequest:
    return BadRequest(message, code="InvalidValue", target=target)


def _validated(name: str, value: Any) -> Any:
    """Return ``value`` converted for field ``name``; raise BadRequest when it is not acceptable."""
    target = _camel(name)
    if name == "mfa_requirement":
        if value not in MFA_REQUIREMENTS:
            raise _bad(f"{target} must be one of {', '.join(MFA_REQUIREMENTS)}.", target)
        return value
    if name in ("users_can_create_groups", "sspr_enabled"):
        if not isinstance(value, bool):
            raise _bad(f"{target} must be true or false.", target)
        return value
    if name == "banned_passwords":
        if not isinstance(value, list) or len(value) > MAX_BANNED_PASSWORDS:
            raise _bad(f"{target} must be a list of at most {MAX_BANNED_PASSWORDS} terms.", target)
        low, high = BANNED_TERM_LENGTH
        if any(not isinstance(term, str) or not low <= len(term.strip()) <= high for term in value):
            raise _bad(f"Each term of {target} must be text of {low} to {high} characters.", target)
        # Keep the first spelling of each term; matching is case-insensitive anyway.
        seen: dict[str, str] = {}
        for term in value:
            seen.setdefault(term.strip().casefold(), term.strip())
        return tuple(seen.values())
    limits = {
        "lockout_threshold": (1, 100),
        "lockout_duration_seconds": (5, 24 * 3600),
        "sspr_methods_required": (1, 2),
        "sspr_admin_methods_required": (2, 2),  # Entra always asks administrators for two
    }
    low, high = limits[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(f"{target} must be an integer from {low} to {high}.", target)
    return value


def _from_document(document: dict[str, Any]) -> TenantSettings:
    values: dict[str, Any] = {}
    for json_name, field_name in FIELD_BY_JSON_NAME.items():
        if json_name in document:
            value = document[json_name]
            values[field_name] = tuple(value) if isinstance(value, list) else value
    return TenantSettings(**values)


def get_settings(conn: Connection, tenant_id: str) -> TenantSettings:
    """Return the tenant's settings, defaults filled in (a tenant without a row gets all defaults)."""
    document = conn.execute(select(tenant_settings.c.settings).where(tenant_settings.c.tenant_id == tenant_id)).scalar()
    return _from_document(document or {})


def update_settings(conn: Connection, tenant_id: str, changes: dict[str, Any]) -> TenantSettings:
    """Apply ``changes`` (camelCase names, as in a PATCH body) and return the new settings.

    Validates everything before writing, so a bad value changes nothing. Raises BadRequest
    (``InvalidValue``) for an unknown name, a wrong type or a value out of range.
    """
    if not isinstance(changes, dict):
        raise BadRequest("The settings must be a JSON object.", code="InvalidValue")
    current = get_settings(conn, tenant_id)
    updates: dict[str, Any] = {}
    for json_name, value in changes.items():
        field_name = FIELD_BY_JSON_NAME.get(json_name)
        if field_name is None:
            raise _bad(f"Unknown setting {json_name!r}; known: {', '.join(FIELD_BY_JSON_NAME)}.", str(json_name))
        updates[field_name] = _validated(field_name, value)
    new = replace(current, **updates)
    now = utcnow()
    exists = conn.execute(select(tenant_settings.c.tenant_id).where(tenant_settings.c.tenant_id == tenant_id)).first()
    if exists:
        conn.execute(
            update(tenant_settings)
            .where(tenant_settings.c.tenant_id == tenant_id)
            .values(settings=new.to_json(), updated_at=now)
        )
    else:
        conn.execute(insert(tenant_settings).values(tenant_id=tenant_id, settings=new.to_json(), updated_at=now))
    return new
