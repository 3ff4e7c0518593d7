"""Tenant directory settings: defaults, validated partial updates, tenants kept apart."""

from __future__ import annotations

import pytest

from warden.identity.tenant_settings import TenantSettings, get_settings, update_settings
from warden.kernel.errors import BadRequest

from .mfa_support import OTHER_TENANT, TENANT, mfa_db_fixture  # noqa: F401


def test_defaults_then_partial_update_per_tenant(mfa_db) -> None:  # type: ignore[no-untyped-def]
    with mfa_db.write() as conn:
        assert get_settings(conn, TENANT) == TenantSettings()
        new = update_settings(
            conn, TENANT, {"mfaRequirement": "privilegedRoles", "bannedPasswords": ["Contoso", "contoso", "Fabrikam"]}
        )
        assert new.mfa_requirement == "privilegedRoles" and new.banned_passwords == ("Contoso", "Fabrikam")
        update_settings(conn, TENANT, {"lockoutThreshold": 5})
    with mfa_db.read() as conn:
        stored = get_settings(conn, TENANT)
        assert (stored.mfa_requirement, stored.lockout_threshold, stored.sspr_enabled) == ("privilegedRoles", 5, True)
        assert get_settings(conn, OTHER_TENANT) == TenantSettings()
        assert stored.to_json()["bannedPasswords"] == ["Contoso", "Fabrikam"]


@pytest.mark.parametrize(
    ("changes", "target"),
    [
        ({"mfaRequirement": "sometimes"}, "mfaRequirement"),
        ({"lockoutThreshold": 0}, "lockoutThreshold"),
        ({"lockoutThreshold": True}, "lockoutThreshold"),
        ({"lockoutDurationSeconds": "60"}, "lockoutDurationSeconds"),
        ({"bannedPasswords": ["abc"]}, "bannedPasswords"),
        ({"bannedPasswords": "contoso"}, "bannedPasswords"),
        ({"ssprAdminMethodsRequired": 1}, "ssprAdminMethodsRequired"),
        ({"usersCanCreateGroups": "yes"}, "usersCanCreateGroups"),
        ({"noSuchSetting": 1}, "noSuchSetting"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(mfa_db, changes, target) -> None:  # type: ignore[no-untyped-def]
    with mfa_db.write() as conn:
        update_settings(conn, TENANT, {"lockoutThreshold": 7})
    with mfa_db.write() as conn, pytest.raises(BadRequest) as raised:
        update_settings(conn, TENANT, {"mfaRequirement": "everyone", **changes})
    assert raised.value.target == target and raised.value.code == "InvalidValue"
    with mfa_db.read() as conn:
        assert get_settings(conn, TENANT) == TenantSettings(lockout_threshold=7)
