"""Small sqlglot builders shared by the generator modules, with the DuckDB/ClickHouse differences in one place."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlglot import exp

from .typed import Typed
from .types import KustoType, to_sqlglot
from .values import encode_dynamic, ticks_to_datetime

__all__ = [
    "and_all",
    "cast",
    "col",
    "fn",
    "ident",
    "lit_str",
    "literal",
    "or_all",
    "sql_type",
    "table",
    "timestamp_text",
]


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(name: str, table_name: str | None = None) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table_name) if table_name else None)


def table(name: str, alias: str | None = None) -> exp.Table:
    node = exp.Table(this=ident(name))
    if alias:
        node.set("alias", exp.TableAlias(this=ident(alias)))
    return node


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    """An engine function call by name (printed as written, for functions sqlglot does not model)."""
    return exp.Anonymous(this=name, expressions=list(args))


def lit_str(text: str) -> exp.Literal:
    return exp.Literal.string(text)


@lru_cache(maxsize=64)
def _sql_type(kusto_type: KustoType, dialect: str) -> exp.DataType:
    return to_sqlglot(kusto_type, dialect)


def sql_type(kusto_type: KustoType | str, dialect: str) -> exp.DataType:
    """The engine's storage type of a Kusto type (a fresh node: parsing the type name once)."""
    return _sql_type(KustoType(kusto_type), dialect).copy()


def cast(value: exp.Expression, kusto_type: KustoType | str, dialect: str, *, safe: bool = False) -> exp.Expression:
    node = exp.TryCast if safe else exp.Cast
    return node(this=value, to=sql_type(kusto_type, dialect))


def and_all(parts: list[exp.Expression]) -> exp.Expression:
    result = parts[0]
    for part in parts[1:]:
        result = exp.And(this=result, expression=part)
    return result


def or_all(parts: list[exp.Expression]) -> exp.Expression:
    result = parts[0]
    for part in parts[1:]:
        result = exp.Or(this=result, expression=part)
    return result


def timestamp_text(ticks: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` of a tick count (microsecond storage, see ``types``)."""
    value = ticks_to_datetime(ticks)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def literal(kusto_type: KustoType, value: Any, dialect: str) -> Typed:
    """The SQL constant of a Kusto value (ticks for datetime/timespan, JSON-like Python for dynamic)."""
    kusto_type = KustoType(kusto_type)
    if value is None:
        return Typed(cast(exp.Null(), kusto_type, dialect), kusto_type, None)
    sql: exp.Expression
    match kusto_type:
        case KustoType.STRING:
            sql = lit_str(str(value))
        case KustoType.BOOL:
            sql = exp.Boolean(this=bool(value))
        case KustoType.LONG | KustoType.INT | KustoType.TIMESPAN:
            sql = cast(exp.Literal.number(int(value)), kusto_type, dialect)
        case KustoType.REAL:
            number = float(value)
            if math.isfinite(number):
                sql = cast(exp.Literal.number(repr(number)), kusto_type, dialect)
            else:
                text = "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
                sql = cast(lit_str(text), kusto_type, dialect)
        case KustoType.DECIMAL:
            sql = cast(lit_str(format(Decimal(value), "f")), kusto_type, dialect)
        case KustoType.DATETIME:
            if isinstance(value, dt.datetime):
                from .values import datetime_to_ticks

                value = datetime_to_ticks(value)
            sql = cast(lit_str(timestamp_text(int(value))), kusto_type, dialect)
        case KustoType.GUID:
            sql = cast(lit_str(str(value).lower()), kusto_type, dialect)
        case KustoType.DYNAMIC:
            text = encode_dynamic(value)
            if text is None:
                return Typed(cast(exp.Null(), kusto_type, dialect), kusto_type, None)
            sql = cast(lit_str(text), kusto_type, dialect)
        case _:  # pragma: no cover - every KustoType is handled above
            raise ValueError(kusto_type)
    return Typed(sql, kusto_type, value)
