"""Storage fixtures: a fresh migrated ``Database`` per test, on SQLite and on PostgreSQL.

The PostgreSQL server and per-test databases come from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from warden.kernel.db import Database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A freshly migrated control-plane ``Database`` on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    db = Database(url)
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()
