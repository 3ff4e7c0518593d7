"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from support.postgres import POSTGRES_URL_ENV, Cluster, PostgresServer, find_postgres_bin

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO_ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared corpus of real artifacts; tests that need it skip cleanly when it is absent."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS_DIR}")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session: ``$WARDEN_TEST_POSTGRES_URL`` or a throwaway cluster."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    if configured:
        url = make_url(configured)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        yield PostgresServer(url)
        return
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; "
            f"install the 'postgresql' package or set {POSTGRES_URL_ENV}"
        )
    cluster = Cluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        yield PostgresServer(cluster.admin_url)
    finally:
        cluster.stop()


def _scratch_database(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"warden_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield postgres_server.url_for(name)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a new, empty database on the session's server; dropped after the test."""
    yield from _scratch_database(postgres_server)


@pytest.fixture(scope="session")
def postgres_session_database(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a new, empty database that lives for the whole session (for the e2e server)."""
    yield from _scratch_database(postgres_server)
