"""The SQL the ClickHouse log store builds around compiled KQL: table sources, limits, the guard, purge filters.

Pure functions over strings and sqlglot trees (no connection), so each rule is tested alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp

from warden.monitor.kql.errors import KqlError
from warden.monitor.kql.types import KustoType

from . import LogStoreError, PurgeFilter, TableSchema, TimeRange
from .clickhouse_executors import quote_name

__all__ = ["Limits", "TableSource", "datetime_text", "purge_condition", "rewrite_query"]

# ClickHouse functions that read files, URLs, other servers, dictionaries or settings: the compiler
# never emits them, and a statement that names one is refused before it runs.
_OUTSIDE_READER_NAMES = """file url s3 s3cluster hdfs remote remotesecure cluster clusterallreplicas mysql
postgresql mongodb redis jdbc odbc sqlite executable input azureblobstorage gcs iceberg deltalake hudi merge
getsetting getserverport filesystemavailable filesystemcapacity filesystemunreserved hostname fqdn"""
_OUTSIDE_READERS = frozenset(_OUTSIDE_READER_NAMES.split())
_COMPARISONS = {"==": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def _base_type(kusto_type: KustoType) -> str:
    """The ClickHouse type of a non-null value of ``kusto_type`` (``Nullable(...)`` removed)."""
    storage = kusto_type.clickhouse
    return storage[len("Nullable(") : -1] if storage.startswith("Nullable(") else storage


class TableSource:
    """The stored tables one compiler table name reads: ``(database, table, columns)`` parts, unioned."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str, TableSchema]] = []
        self.columns: TableSchema = {}

    def add(self, database: str, table: str, columns: TableSchema) -> TableSource:
        self.parts.append((database, table, columns))
        for name, kusto_type in columns.items():
            self.columns.setdefault(name, kusto_type)
        return self

    def subquery(self, limits: Limits) -> exp.Expression:
        """Return a query over the parts, each limited, with the union's columns in order.

        A column a part lacks is '' (strings) or null; so is one the part stores with another Kusto
        type than the first workspace that has it (a union cannot have two types for one column).
        """
        selects = []
        for database, table, own in self.parts:
            items = []
            for name, kusto_type in self.columns.items():
                if name in own and own[name] is kusto_type:
                    value: exp.Expression = exp.column(name, quoted=True)
                elif kusto_type is KustoType.STRING:
                    value = exp.Literal.string("")
                else:
                    value = exp.cast(exp.null(), exp.DataType.build(kusto_type.clickhouse, dialect="clickhouse"))
                items.append(exp.alias_(value, name, quoted=True))
            select = exp.select(*items).from_(exp.table_(table, db=database, quoted=True))
            condition = limits.condition(own)
            if condition is not None:
                select = select.where(condition)
            selects.append(select)
        query: exp.Expression = selects[0]
        for select in selects[1:]:
            query = exp.union(query, select, distinct=False)
        return query


def rewrite_query(sql: str, sources: Mapping[str, TableSource], limits: Limits) -> str:
    """Return the compiled SQL with each schema table replaced by its stored tables (limited).

    Raises KqlError when the SQL is not one SELECT or names anything else: a table function, a
    qualified table, a table that is neither a CTE of the query nor in ``sources``, or a function
    that reads outside the query (``file``, ``dictGet``, ``joinGet``...).
    """
    try:
        trees = sqlglot.parse(sql, read="clickhouse")
    except sqlglot.errors.SqlglotError as exc:
        raise KqlError(f"internal compiler error: unparsable SQL: {exc}") from exc
    if len(trees) != 1 or not isinstance(trees[0], exp.Query):
        raise KqlError("a query runs exactly one SELECT statement")
    tree = trees[0]
    for call in tree.find_all(exp.Anonymous):
        name = call.name.lower()
        if name in _OUTSIDE_READERS or name.startswith(("dictget", "dicthas", "dictis", "joinget")):
            raise KqlError(f"a query cannot call {call.name}()")
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    replacements: list[tuple[exp.Table, exp.Expression]] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or table.args.get("db") or table.args.get("catalog"):
            raise KqlError(f"a query cannot read {table.sql(dialect='clickhouse')}")
        name = table.name
        if name in ctes:
            continue
        source = sources.get(name)
        if source is None:
            raise KqlError(f"unknown table '{name}'")
        alias = exp.TableAlias(this=exp.to_identifier(table.alias or name, quoted=True))
        replacements.append((table, exp.Subquery(this=source.subquery(limits), alias=alias)))
    for table, replacement in replacements:
        table.replace(replacement)
    return tree.sql(dialect="clickhouse", identify=True)


class Limits:
    """What a query may see of each table: a TimeGenerated range and/or one resource's rows."""

    def __init__(self, timespan: TimeRange | None, resource: str | None) -> None:
        self.timespan = timespan
        self.resource = resource.rstrip("/").lower() if resource else None

    def readable(self, columns: Mapping[str, KustoType]) -> bool:
        """Resource-centric queries read only tables that record the resource of each row."""
        return self.resource is None or "_ResourceId" in columns

    def condition(self, columns: Mapping[str, KustoType]) -> exp.Expression | None:
        """Return the WHERE condition for a stored table with ``columns``, or None when nothing limits it."""
        parts: list[exp.Expression] = []
        if self.timespan is not None and "TimeGenerated" in columns:
            start, end = (_datetime_sql(value) for value in self.timespan)
            column = exp.column("TimeGenerated", quoted=True)
            parts.append(exp.and_(exp.GTE(this=column, expression=start), exp.LT(this=column.copy(), expression=end)))
        if self.resource is not None:
            lowered = exp.Anonymous(this="lowerUTF8", expressions=[exp.column("_ResourceId", quoted=True)])
            under = exp.Anonymous(
                this="startsWith", expressions=[lowered.copy(), exp.Literal.string(self.resource + "/")]
            )
            parts.append(exp.paren(exp.or_(exp.EQ(this=lowered, expression=exp.Literal.string(self.resource)), under)))
        return exp.and_(*parts) if parts else None


def datetime_text(value: dt.datetime) -> str:
    """Return ``value`` as UTC ``YYYY-MM-DD hh:mm:ss.ffffff`` text (naive datetimes are UTC already)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def _datetime_sql(value: dt.datetime) -> exp.Expression:
    return exp.Anonymous(
        this="toDateTime64",
        expressions=[exp.Literal.string(datetime_text(value)), exp.Literal.number(6), exp.Literal.string("UTC")],
    )


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def purge_condition(item: PurgeFilter, kusto_type: KustoType, params: dict[str, str]) -> str:
    """Return the SQL of one purge filter, adding its values to ``params`` (bound, never spliced).

    Raises LogStoreError for an unknown operator, a timespan column or a malformed value list.
    """
    if kusto_type is KustoType.TIMESPAN:
        raise LogStoreError("purge filters on timespan columns are not supported")
    column = quote_name(item.column)
    operator = item.operator.strip().lower()

    def bind(value: Any) -> str:
        name = f"p{len(params)}"
        if value is None:
            return "NULL"
        params[name] = _value_text(value)
        placeholder = f"{{{name}:String}}"
        if kusto_type in (KustoType.STRING, KustoType.DYNAMIC):
            return placeholder
        if kusto_type is KustoType.DATETIME:
            return f"parseDateTime64BestEffort({placeholder}, 6, 'UTC')"
        return f"CAST({placeholder} AS {_base_type(kusto_type)})"

    def bind_lower(value: Any) -> str:
        name = f"p{len(params)}"
        params[name] = _value_text(value)
        return f"lowerUTF8({{{name}:String}})"

    text = f"lowerUTF8(toString({column}))"
    if operator in _COMPARISONS:
        return f"{column} {_COMPARISONS[operator]} {bind(item.value)}"
    if operator == "=~":
        return f"{text} = {bind_lower(item.value)}"
    if operator == "contains":
        return f"position({text}, {bind_lower(item.value)}) > 0"
    if operator in ("in", "in~"):
        if not isinstance(item.value, list) or not item.value:
            raise LogStoreError(f"'{operator}' needs a non-empty list of values")
        if operator == "in~":
            return f"{text} IN ({', '.join(bind_lower(v) for v in item.value)})"
        return f"{column} IN ({', '.join(bind(v) for v in item.value)})"
    if operator == "between":
        if not isinstance(item.value, list) or len(item.value) != 2:
            raise LogStoreError("'between' needs a list of two values")
        return f"{column} BETWEEN {bind(item.value[0])} AND {bind(item.value[1])}"
    raise LogStoreError(f"unsupported purge operator '{item.operator}'")
