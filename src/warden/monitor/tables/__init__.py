"""Azure Monitor Logs standard tables: their columns and Kusto types, as Azure's table reference publishes them.

The data is ``standard_tables.json`` (package data); each table there names the reference page it was transcribed
from. ``STANDARD_COLUMNS`` are the columns the page "Standard columns in Azure Monitor Logs" says every
workspace table has and that are stored with each record. Two more columns on that page are not stored:
``_TimeReceived`` (Azure computes it at query time) and ``_ItemId`` (a hidden record identifier); a log store
derives them, as it derives ``ingestion_time()``. ``SourceSystem`` is not a standard column: it is an ordinary
column that many (not all) tables declare.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

__all__ = ["KUSTO_TYPES", "STANDARD_COLUMNS", "STANDARD_TABLES", "Column", "standard_table"]

# The scalar types a Log Analytics table column may have (Kusto's names; decimal is not offered for tables).
KUSTO_TYPES = frozenset({"bool", "datetime", "dynamic", "guid", "int", "long", "real", "string", "timespan"})


@dataclass(frozen=True)
class Column:
    """A table column: its name (case preserved, as Azure spells it) and its Kusto type name."""

    name: str
    type: str


STANDARD_COLUMNS: tuple[Column, ...] = (
    Column("TenantId", "string"),
    Column("TimeGenerated", "datetime"),
    Column("Type", "string"),
    Column("_ResourceId", "string"),
    Column("_SubscriptionId", "string"),
    Column("_BilledSize", "real"),
    # A string, not a bool: the table reference types it so (queries compare it with true and "true" alike).
    Column("_IsBillable", "string"),
)


def _load() -> dict[str, tuple[Column, ...]]:
    """Read the packaged JSON; returns table name -> columns in Azure's order. Raises ValueError on a bad type."""
    text = resources.files(__package__).joinpath("standard_tables.json").read_text(encoding="utf-8")
    tables: dict[str, tuple[Column, ...]] = {}
    for name, spec in json.loads(text)["tables"].items():
        columns = tuple(Column(c["name"], c["type"]) for c in spec["columns"])
        bad = [c for c in columns if c.type not in KUSTO_TYPES]
        if bad:
            raise ValueError(f"standard table {name}: column {bad[0].name} has unknown type {bad[0].type!r}")
        tables[name] = columns
    return tables


STANDARD_TABLES: dict[str, tuple[Column, ...]] = _load()
_BY_LOWER = {name.lower(): columns for name, columns in STANDARD_TABLES.items()}


def standard_table(name: str) -> tuple[Column, ...] | None:
    """Return the columns of the standard table ``name`` (matched case-insensitively), or None if it is not one."""
    return _BY_LOWER.get(name.lower())
