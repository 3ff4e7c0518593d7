"""MFA / lockout / self-service test support: a migrated control plane with a tenant and a user.

``mfa_db`` runs on SQLite and on PostgreSQL (the throwaway cluster of ``tests/conftest.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from warden.identity.users import User, create_user
from warden.kernel.clock import utcnow
from warden.kernel.db import Database
from warden.kernel.schema import tenants
from warden.kernel.secrets import MasterKey

TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-8888-7777-6666-555555555555"


def _prepare(db: Database) -> Database:
    db.migrate()
    with db.write() as conn:
        for tenant_id in (TENANT, OTHER_TENANT):
            conn.execute(insert(tenants).values(id=tenant_id, display_name=tenant_id[:4], created_at=utcnow()))
    return db


@pytest.fixture(name="mfa_db")
def mfa_db_fixture(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite control plane holding ``TENANT`` and ``OTHER_TENANT``."""
    db = _prepare(Database(f"sqlite:///{tmp_path / 'control.db'}"))
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(name="any_db", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Like ``mfa_db``, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    db = _prepare(Database(url))
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(name="master_key")
def master_key_fixture() -> MasterKey:
    return MasterKey(secrets.token_bytes(32))


def add_user(db: Database, upn: str = "alice@contoso.test", *, tenant_id: str = TENANT, **kwargs) -> User:  # type: ignore[no-untyped-def]
    """Create a user with a password (fast to write: no argon2 unless ``password`` is given)."""
    with db.write() as conn:
        return create_user(conn, tenant_id, upn, upn.split("@")[0].title(), **kwargs)
