"""The control-plane database: SQLite (WAL, the embedded default) or PostgreSQL.

``Database.write()`` opens a transaction that holds the write lock from its first statement
(``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL), so
read-check-write sequences such as ETag checks and the activity hash chain cannot interleave.
``Database.read()`` opens a plain transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

# Key of the PostgreSQL advisory lock every write() transaction holds ("WARDEN" in ASCII).
WRITE_LOCK_KEY = 0x57415244454E


class Database:
    """One SQLAlchemy engine plus the transaction helpers every service uses."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success, rolls back on error, and serializes writers."""
        with self.engine.connect() as conn:
            conn.execution_options(warden_write=True)
            with conn.begin():
                if self.is_postgres:
                    # PostgreSQL has no BEGIN IMMEDIATE and READ COMMITTED lets two writers read the
                    # same row and both act on it (lost updates, double inserts). This lock, released
                    # at commit or rollback, makes writers take turns as on SQLite; each statement after
                    # it sees every write committed before the lock was granted.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        config = Config()
        with resources.as_file(resources.files("warden.kernel") / "migrations") as path:
            config.set_main_option("script_location", str(path))
            with self.engine.connect() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "heads")  # services add migrations on branches from 0003
                conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: str) -> Engine:
    # Pooled: opening a connection and setting its pragmas cost more than the queries of a typical
    # request (8 % of the server's CPU under ingestion load). A pooled connection holds no WAL
    # snapshot while idle: every transaction ends (COMMIT/ROLLBACK) before it goes back.
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=8,
        max_overflow=56,
        pool_timeout=60,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Autocommit at the driver level so SQLAlchemy's "begin" hook below decides how to BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged commit survives power loss, not just a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("warden_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
