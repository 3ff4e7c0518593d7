"""Evaluate one KQL function implementation on DuckDB without the generator.

``evaluate("strlen", "abc")`` builds ``Typed`` arguments from Python constants (str -> string,
bool -> bool, int -> long, float -> real, Decimal -> decimal, datetime -> datetime, timedelta ->
timespan, UUID -> guid, dict/list -> dynamic; ``Null(type)`` a typed null; ``Raw(sql, type)`` any
SQL snippet), compiles the call, runs ``SELECT <expr>`` and returns the value encoded as the Log
Analytics API encodes it (datetimes as ISO text, timespans as ``hh:mm:ss``, dynamic decoded).

Every call runs twice: once with the arguments as compile-time constants (so folding paths run)
and once with them as columns of a one-row subquery (so the SQL paths run). Both must agree.
Arguments a function needs constant (a regex, a format) stay constant in the second run.

``aggregate("sum", {"x": ("long", [1, 2, None])}, Col("x"))`` runs an aggregation over a table.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

import warden.monitor.kql.functions.all  # noqa: F401 - registers every function
from warden.monitor.kql.errors import KqlError
from warden.monitor.kql.functions.common import datetime_sql, literal_typed
from warden.monitor.kql.functions.registry import check_arity, lookup_aggregate, lookup_scalar
from warden.monitor.kql.typed import Typed
from warden.monitor.kql.types import KustoType
from warden.monitor.kql.values import datetime_to_ticks, encode_value, timedelta_to_ticks

K = KustoType
NOW = dt.datetime(2024, 3, 5, 10, 20, 30, 123456)


@dataclass
class Ctx:
    dialect: str = "duckdb"
    fixed_now: dt.datetime = NOW

    def now(self) -> exp.Expression:
        return datetime_sql(datetime_to_ticks(self.fixed_now), self.dialect)


@dataclass(frozen=True)
class Null:
    type: KustoType | str


@dataclass(frozen=True)
class Raw:
    """A non-constant argument: a SQL snippet (DuckDB) of a Kusto type."""

    sql: str
    type: KustoType | str


@dataclass(frozen=True)
class Col:
    """A column of the table given to ``aggregate``."""

    name: str


def typed_constant(value: Any) -> Typed:
    if isinstance(value, Null):
        return literal_typed(None, K(value.type))
    if isinstance(value, bool):
        return literal_typed(value, K.BOOL)
    if isinstance(value, int):
        return literal_typed(value, K.LONG)
    if isinstance(value, float):
        return literal_typed(value, K.REAL)
    if isinstance(value, Decimal):
        return literal_typed(value, K.DECIMAL)
    if isinstance(value, str):
        return literal_typed(value, K.STRING)
    if isinstance(value, dt.datetime):
        return literal_typed(datetime_to_ticks(value), K.DATETIME)
    if isinstance(value, dt.timedelta):
        return literal_typed(timedelta_to_ticks(value), K.TIMESPAN)
    if isinstance(value, uuid.UUID):
        return literal_typed(str(value), K.GUID)
    if isinstance(value, dict | list) or value is None:
        return literal_typed(value, K.DYNAMIC)
    raise TypeError(value)


def _argument(value: Any) -> Typed:
    if isinstance(value, Raw):
        return Typed(sqlglot.parse_one(value.sql, dialect="duckdb"), K(value.type))
    if isinstance(value, Typed):
        return value
    return typed_constant(value)


_connection: duckdb.DuckDBPyConnection | None = None


def connection() -> duckdb.DuckDBPyConnection:
    global _connection
    if _connection is None:
        _connection = duckdb.connect()
        _connection.execute("SET TimeZone = 'UTC'")
    return _connection


def decode(kusto_type: KustoType, value: Any) -> Any:
    encoded = encode_value(kusto_type, value)
    if kusto_type is K.DYNAMIC and encoded is not None:
        return json.loads(encoded)
    return encoded


def run_sql(expression: exp.Expression, kusto_type: KustoType, source: str = "") -> Any:
    text = f"SELECT {expression.sql(dialect='duckdb')} AS v {source}"
    try:
        values = [row[0] for row in connection().execute(text).fetchall()]
    except duckdb.Error as error:
        raise AssertionError(f"{error}\nSQL: {text}") from error
    assert len(values) == 1, values
    return decode(kusto_type, values[0])


def compile_call(name: str, args: Sequence[Typed], ctx: Ctx | None = None) -> Typed:
    function = lookup_scalar(name)
    check_arity(name, len(args), function.min_args, function.max_args)
    return function.impl(ctx or Ctx(), list(args))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)
    return a == b


def evaluate(name: str, *values: Any, type_out: bool = False, columns: bool = True) -> Any:
    """The value of ``name(values...)`` (see the module docstring); with ``type_out`` also its type."""
    constants = [_argument(v) for v in values]
    result = compile_call(name, constants)
    value = run_sql(result.sql, result.type)
    if columns and constants:
        _check_column_mode(name, values, constants, result, value)
    return (value, result.type) if type_out else value


def _check_column_mode(name: str, values: Sequence[Any], constants: list[Typed], result: Typed, value: Any) -> None:
    select = ", ".join(f"{a.sql.sql(dialect='duckdb')} AS a{i}" for i, a in enumerate(constants))
    source = f"FROM (SELECT {select}) AS t"
    for keep in (lambda a: False, lambda a: a.type is K.STRING, lambda a: a.type in (K.STRING, K.DYNAMIC)):
        args = [
            a if keep(a) or isinstance(v, Raw) else Typed(exp.column(f"a{i}", table="t"), a.type)
            for i, (a, v) in enumerate(zip(constants, values, strict=True))
        ]
        if all(a is c for a, c in zip(args, constants, strict=True)):
            return
        try:
            column_result = compile_call(name, args)
        except KqlError:
            continue
        assert column_result.type == result.type, (column_result.type, result.type)
        column_value = run_sql(column_result.sql, column_result.type, source)
        assert _same(column_value, value), f"{name}{tuple(values)}: constant {value!r} != column {column_value!r}"
        return


def sql_of(name: str, *values: Any, dialect: str = "duckdb") -> str:
    result = compile_call(name, [_argument(v) for v in values], Ctx(dialect=dialect))
    return result.sql.sql(dialect=dialect)


def aggregate(
    name: str,
    table: Mapping[str, tuple[KustoType | str, Sequence[Any]]],
    *args: Any,
    type_out: bool = False,
    group_by: str | None = None,
) -> Any:
    """The aggregate ``name(args...)`` over ``table`` (``{column: (type, values)}``); one value, or
    ``{group: value}`` with ``group_by``."""
    columns = list(table)
    rows = len(next(iter(table.values()))[1]) if table else 0
    selects = []
    for r in range(rows):
        cells = []
        for col in columns:
            kusto_type, cells_of_col = table[col]
            cell = cells_of_col[r]
            typed_cell = literal_typed(_python_to_literal(cell, K(kusto_type)), K(kusto_type))
            cells.append(f'{typed_cell.sql.sql(dialect="duckdb")} AS "{col}"')
        selects.append("SELECT " + ", ".join(cells))
    if not selects:  # an empty table of the right types
        cells = [f'{literal_typed(None, K(t)).sql.sql(dialect="duckdb")} AS "{c}"' for c, (t, _) in table.items()]
        selects.append("SELECT " + ", ".join(cells) + " WHERE FALSE")
    source = " UNION ALL ".join(selects)
    typed_args = []
    for a in args:
        if isinstance(a, Col):
            typed_args.append(Typed(exp.column(a.name, quoted=True), K(table[a.name][0])))
        else:
            typed_args.append(_argument(a))
    function = lookup_aggregate(name)
    check_arity(name, len(typed_args), function.min_args, function.max_args)
    result = function.impl(Ctx(), typed_args)
    expression = result.sql.sql(dialect="duckdb")
    if group_by is None:
        text = f"SELECT {expression} AS v FROM ({source}) AS t"
    else:
        text = f'SELECT "{group_by}" AS g, {expression} AS v FROM ({source}) AS t GROUP BY ALL ORDER BY g'
    try:
        fetched = connection().execute(text).fetchall()
    except duckdb.Error as error:
        raise AssertionError(f"{error}\nSQL: {text}") from error
    if group_by is None:
        assert len(fetched) == 1
        value = decode(result.type, fetched[0][0])
    else:
        value = {g: decode(result.type, v) for g, v in fetched}
    return (value, result.type) if type_out else value


def _python_to_literal(value: Any, kusto_type: KustoType) -> Any:
    if value is None:
        return None
    if kusto_type is K.DATETIME and isinstance(value, dt.datetime):
        return datetime_to_ticks(value)
    if kusto_type is K.TIMESPAN and isinstance(value, dt.timedelta):
        return timedelta_to_ticks(value)
    return value


def evaluate_clickhouse(name: str, *values: Any) -> Any:
    """``name(values...)`` compiled for ClickHouse and run on chDB (the optional extra)."""
    import chdb

    result = compile_call(name, [_argument(v) for v in values], Ctx(dialect="clickhouse"))
    text = f"SELECT {result.sql.sql(dialect='clickhouse')} AS v"
    data = json.loads(str(chdb.query(text, "JSONCompact")))["data"]
    return decode(result.type, data[0][0])


def aggregate_clickhouse(
    name: str, kusto_type: KustoType | str, values: Sequence[Any], *args: Any, column: bool = True
) -> Any:
    """The aggregate ``name(x, args...)`` (``name(args...)`` without ``column``) over one ClickHouse
    column ``x`` of ``values`` (on chDB)."""
    import chdb

    kusto_type = K(kusto_type)
    first = [Typed(exp.column("x"), kusto_type)] if column else []
    function = lookup_aggregate(name)
    result = function.impl(Ctx(dialect="clickhouse"), [*first, *(_argument(a) for a in args)])
    cells = ", ".join(
        literal_typed(_python_to_literal(v, kusto_type), kusto_type, "clickhouse").sql.sql(dialect="clickhouse")
        for v in values
    )
    text = f"SELECT {result.sql.sql(dialect='clickhouse')} AS v FROM (SELECT arrayJoin([{cells}]) AS x)"
    data = json.loads(str(chdb.query(text, "JSONCompact")))["data"]
    return decode(result.type, data[0][0])
