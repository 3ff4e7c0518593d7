"""Where workspace logs live: the ``LogStore`` protocol and its implementations.

A workspace is identified by its ``customerId``. A store keeps, per workspace, tables with Kusto
column types, appends Arrow batches durably (a successful ``append`` has committed), answers KQL
over one or several workspaces, and deletes rows for retention and purges. Implementations:
:class:`~warden.monitor.logstore.duckdb_store.DuckDBLogStore` (a DuckDB file per workspace, the
embedded default) and :class:`~warden.monitor.logstore.clickhouse_store.ClickHouseLogStore` (a
ClickHouse database per workspace, for scale-out). Every implementation passes
``tests/monitor/test_logstore.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from warden.monitor.kql.runtime import KqlResult
from warden.monitor.kql.types import KustoType

__all__ = ["LogStore", "LogStoreError", "PurgeFilter", "StoreBusy", "TableSchema", "TimeRange"]

#: A table's columns and their Kusto types, in order.
TableSchema = dict[str, KustoType]
#: ``[start, end)`` applied to every table's ``TimeGenerated`` (the query API's ``timespan``).
TimeRange = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class PurgeFilter:
    """One condition of a purge: ``column operator value`` (operators as Azure's purge API)."""

    column: str
    operator: str  # ==, !=, =~, >, >=, <, <=, in, in~, between, contains
    value: Any


class LogStoreError(Exception):
    """A store operation was refused: unknown workspace or table, conflicting schema, bad batch."""


class StoreBusy(LogStoreError):
    """The store is behind on earlier data: nothing was written; the caller should retry shortly."""


class LogStore(Protocol):
    def create_workspace(self, workspace: str, tables: Mapping[str, TableSchema]) -> None:
        """Create the workspace (idempotent) with the given tables."""
        ...

    def drop_workspace(self, workspace: str) -> None:
        """Delete the workspace and all its data."""
        ...

    def exists(self, workspace: str) -> bool:
        """Whether the workspace has been created (and not dropped)."""
        ...

    def tables(self, workspace: str) -> dict[str, TableSchema]:
        """Every table of the workspace with its columns; raises LogStoreError if it does not exist."""
        ...

    def ensure_table(self, workspace: str, table: str, columns: Mapping[str, KustoType]) -> TableSchema:
        """Create the table or add the columns it lacks; return its full schema.

        Raises LogStoreError when an existing column has another type.
        """
        ...

    def drop_table(self, workspace: str, table: str) -> None: ...

    def append(self, workspace: str, table: str, batch: pa.Table) -> int:
        """Append ``batch`` (columns named as the table's; missing ones become null/empty, values
        converted to the column types, unconvertible ones null). Durable when it returns; returns
        the number of rows."""
        ...

    def query(
        self,
        workspaces: list[str],
        text: str,
        *,
        now: dt.datetime | None = None,
        timespan: TimeRange | None = None,
        timeout: float | None = None,
        qualified: Mapping[str, str] | None = None,
        resource: str | None = None,
    ) -> KqlResult:
        """Run KQL over the union of the workspaces' tables (``timespan`` limits TimeGenerated).

        ``qualified`` maps names a query may use in ``workspace("name")`` to workspace ids;
        ``resource`` (an ARM ID) limits every table to rows whose ``_ResourceId`` is that resource
        or under it, and hides tables without ``_ResourceId`` (resource-centric queries).
        Raises KqlError for a bad query.
        """
        ...

    def delete_before(self, workspace: str, table: str, cutoff: dt.datetime) -> int:
        """Delete rows whose TimeGenerated is before ``cutoff``; return how many."""
        ...

    def purge(self, workspace: str, table: str, filters: list[PurgeFilter]) -> int:
        """Delete the rows of ``table`` matching every filter (Azure's purge body); return how many."""
        ...

    def count(self, workspace: str, table: str) -> int: ...

    def close(self) -> None: ...
