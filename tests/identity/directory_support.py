"""Directory test support: a freshly migrated control-plane database with two tenants (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from warden.kernel.clock import utcnow
from warden.kernel.db import Database
from warden.kernel.schema import tenants

TENANT = "11111111-2222-3333-4444-555555555555"
OTHER_TENANT = "99999999-8888-7777-6666-555555555555"


@pytest.fixture(name="directory_db")
def directory_db_fixture(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite control plane holding ``TENANT`` and ``OTHER_TENANT``."""
    db = Database(f"sqlite:///{tmp_path / 'control.db'}")
    try:
        db.migrate()
        with db.write() as conn:
            for tenant_id in (TENANT, OTHER_TENANT):
                conn.execute(insert(tenants).values(id=tenant_id, display_name=tenant_id[:4], created_at=utcnow()))
        yield db
    finally:
        db.dispose()
