"""How the ClickHouse log store reaches ClickHouse: a three-call executor interface and its two implementations.

The store writes every statement itself (identifiers quoted, values bound as ``{name:Type}``
server-side parameters, settings in a ``SETTINGS`` clause), so the SQL is identical whichever
executor runs it:

- :class:`ClickHouseConnectExecutor` - production: a ``clickhouse-connect`` HTTP(S) client to a
  ClickHouse server or cluster (the ``clickhouse`` extra).
- :class:`ChdbExecutor` - tests and single-machine experiments: chDB, ClickHouse's engine
  embedded in the process, on a data directory of its own. chDB allows one data directory per
  process at a time (a second session on another path is refused until the first is closed).

Both raise :class:`ClickHouseExecutorError` for anything the engine refuses.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.ipc as ipc

__all__ = ["ChdbExecutor", "ClickHouseConnectExecutor", "ClickHouseExecutor", "ClickHouseExecutorError"]


class ClickHouseExecutorError(Exception):
    """ClickHouse refused or failed a statement (the message is the engine's)."""


class ClickHouseExecutor(Protocol):
    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns no rows (DDL, ``ALTER ... DELETE``); raises ClickHouseExecutorError."""
        ...

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a ``SELECT`` and return its rows as Arrow (strings as ``string``, not ``binary``).

        Raises ClickHouseExecutorError.
        """
        ...

    def insert_arrow(self, database: str, table: str, data: pa.Table, settings: Mapping[str, Any]) -> None:
        """Insert ``data`` (columns named as the table's) in one ``INSERT ... FORMAT Arrow`` request.

        Raises ClickHouseExecutorError; a failed insert of one block has written nothing.
        """
        ...

    def close(self) -> None: ...


def quote_name(name: str) -> str:
    """Return ``name`` as a ClickHouse double-quoted identifier (backslashes and quotes escaped)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def settings_clause(settings: Mapping[str, Any]) -> str:
    """Return `` SETTINGS k = v, ...`` for ``settings`` (names are ours; values ints or plain words)."""
    if not settings:
        return ""
    parts = []
    for name, value in settings.items():
        if isinstance(value, bool):
            value = int(value)
        text = str(value)
        if not isinstance(value, int | float):
            text = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        parts.append(f"{name} = {text}")
    return " SETTINGS " + ", ".join(parts)


class ClickHouseConnectExecutor:
    """Statements over a ``clickhouse_connect`` client.

    ``client`` is what ``clickhouse_connect.get_client(host=..., username=..., password=...,
    secure=True, autogenerate_session_id=False)`` returns: without a ClickHouse session (the store
    needs none: no temporary tables) one client serves concurrent calls from several threads.
    The store's user needs CREATE/ALTER/DROP/INSERT/SELECT on the ``ws_*`` databases and SELECT on
    ``system.columns``/``system.tables``/``system.databases``, and must not be a ``readonly=1``
    user (queries run with ``readonly = 2`` in their SETTINGS clause).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def connect(cls, **kwargs: Any) -> ClickHouseConnectExecutor:
        """Return an executor over ``clickhouse_connect.get_client(**kwargs)``; raises ClickHouseExecutorError."""
        try:
            import clickhouse_connect
        except ImportError as exc:  # the optional extra
            raise ClickHouseExecutorError(
                "clickhouse-connect is not installed (pip install 'warden[clickhouse]')"
            ) from exc
        kwargs.setdefault("autogenerate_session_id", False)
        try:
            return cls(clickhouse_connect.get_client(**kwargs))
        except Exception as exc:
            raise ClickHouseExecutorError(str(exc)) from exc

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            self._client.command(sql, parameters=dict(params or {}))
        except Exception as exc:
            raise ClickHouseExecutorError(str(exc)) from exc

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        try:
            return self._client.query_arrow(sql, parameters=dict(params or {}), use_strings=True)
        except Exception as exc:
            raise ClickHouseExecutorError(str(exc)) from exc

    def insert_arrow(self, database: str, table: str, data: pa.Table, settings: Mapping[str, Any]) -> None:
        try:
            self._client.insert_arrow(table, data, database=database, settings=dict(settings))
        except Exception as exc:
            raise ClickHouseExecutorError(str(exc)) from exc

    def close(self) -> None:
        self._client.close()


class ChdbExecutor:
    """Statements on an embedded chDB session whose data lives in ``path`` (created if missing).

    For tests: chDB runs the same SQL as a server, but it is one process with one data directory,
    and ``file()``-style table functions can read any file the process can (the store never lets
    a query name them; see ``clickhouse_store``). Calls are serialized: a chDB session binds query
    parameters session-wide, so two threads' parameterized statements would see each other's.
    """

    def __init__(self, path: Path | str) -> None:
        try:
            from chdb import session
        except ImportError as exc:
            raise ClickHouseExecutorError("chdb is not installed (pip install 'warden[clickhouse]')") from exc
        Path(path).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        try:
            self._session: Any = session.Session(str(path))
        except Exception as exc:
            raise ClickHouseExecutorError(str(exc)) from exc

    def _live(self) -> Any:
        if self._session is None:
            raise ClickHouseExecutorError("the chDB session is closed")
        return self._session

    def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        try:
            with self._lock:
                self._live().query(sql, "CSV", params=dict(params) if params else None)
        except Exception as exc:
            raise ClickHouseExecutorError(str(exc)) from exc

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        try:
            with self._lock:
                return self._live().query(sql, "ArrowTable", params=dict(params) if params else None)
        except Exception as exc:
            raise ClickHouseExecutorError(str(exc)) from exc

    def insert_arrow(self, database: str, table: str, data: pa.Table, settings: Mapping[str, Any]) -> None:
        sink = io.BytesIO()
        with ipc.new_stream(sink, data.schema) as writer:
            writer.write_table(data)
        columns = ", ".join(quote_name(name) for name in data.column_names)
        statement = f"INSERT INTO {quote_name(database)}.{quote_name(table)} ({columns}){settings_clause(settings)}"
        with self._lock:
            try:
                inserter = self._live().send_insert(statement, "ArrowStream")
            except Exception as exc:
                raise ClickHouseExecutorError(str(exc)) from exc
            try:
                inserter.append(sink.getvalue())
                inserter.finish()
            except Exception as exc:
                with contextlib.suppress(Exception):  # already finished or failed: nothing to cancel
                    inserter.cancel()
                raise ClickHouseExecutorError(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()
