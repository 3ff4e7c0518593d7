"""Conversions: ``tostring``, ``toint``, ``tolong``, ``toreal``/``todouble``, ``tobool``, ``todatetime``,
``totimespan``, ``toguid``, ``todecimal``, ``todynamic``/``parse_json`` and their deprecated names.

Kusto conversions never fail: a value that does not convert is null (``TRY_CAST`` and guarded
expressions here), and ``tostring`` of null is ``''``. Integer conversions truncate toward zero
(``toint(2.9)`` is 2) where SQL casts would round. Constant arguments are folded at compile time
(``todatetime("2020-01-01")`` becomes a TIMESTAMP literal with its ``literal`` set), which also
lets the generator use them where it needs constants.

Text forms follow Kusto: datetimes as ISO 8601 with seven fractional digits and ``Z``
(``2020-01-01T00:00:00.0000000Z``, .NET's round-trip form; ``hash_sha256`` of a datetime matches
Kusto's published digest only with it); timespans as ``[-][d.]hh:mm:ss[.fffffff]``;
reals as .NET prints them (``1``, ``0.1``, ``1E+20``, ``NaN``, ``Infinity``); decimals without
trailing zeros; dynamic strings unquoted and other dynamic values as compact JSON.

The helpers ``to_string``, ``convert`` and ``from_text`` are used by the other modules (``strcat``
stringifies its arguments, ``extract(..., typeof(long))`` converts its match).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

from ..errors import KqlUnsupportedError
from ..literals import normalize_datetime_text
from ..typed import Typed
from ..values import (
    TIMESPAN_UNITS,
    UNIX_EPOCH_TICKS,
    format_datetime,
    format_timespan,
    parse_bool,
    parse_datetime,
    parse_guid,
    parse_timespan,
)
from .common import (
    K,
    cast,
    duckdb_only,
    is_null_literal,
    literal_typed,
    null,
    sql,
    typed,
)
from .registry import CompileContext, scalar

#: Meta keys the generator sets on the SQL of a dynamic property access with a static path
#: (``gen_dynamic``): the JSON path (an object with a ``duckdb()`` method giving the path text)
#: and the base JSON expression. ``tostring(d.a)`` then reads ``json_extract_string(d, '$.a')``.
JSON_PATH_META = "kql_json_path"
JSON_BASE_META = "kql_json_base"

# RFC 822/850 spellings DuckDB's cast does not read (the loader in ``runtime`` accepts the same).
_RFC_FORMATS = [
    f"{weekday}%d{sep}%b{sep}%y %H:%M{seconds}{zone}"
    for weekday in ("%a, ", "%A, ", "")
    for sep in (" ", "-")
    for seconds in (":%S", "")
    for zone in (" GMT", "")
]
# .NET's invariant culture also reads month-first dates (``02/17/2016 08:40:01``).
_RFC_FORMATS += [f"%m/%d/%Y{clock}" for clock in (" %H:%M:%S.%f", " %H:%M:%S", " %H:%M", " %I:%M:%S %p", "")]
_RFC_FORMATS += [f"%m-%d-%Y{clock}" for clock in (" %H:%M:%S", "")]
_RFC_FORMATS += [f"%Y/%m/%d{clock}" for clock in (" %H:%M:%S", "")]
#: Characters ``trim`` removes before a text is converted (DuckDB's trim() only removes spaces).
_WHITESPACE = "' \t\n\r'"
_OFFSET_RE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([+-]\d\d:?\d\d|[zZ])\s*$"
_CLOCK_RE = r"^\s*(-?)(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?\s*$"
_UNIT_RE = r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([a-z]*)\s*$"


# ---------------------------------------------------------------------------------- text forms


def real_text(value: float) -> str:
    """A real as Kusto prints it (.NET's shortest round-trip form)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value).upper()
    if "E" in text:
        mantissa, exponent = text.split("E")
        sign = exponent[0] if exponent[0] in "+-" else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        text = f"{mantissa.removesuffix('.0')}E{sign}{digits}"
    return text


def decimal_text(value: Decimal) -> str:
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def constant_text(value: Any, kusto_type: K) -> str:
    """``tostring`` of a constant in the representation of ``values``."""
    if value is None:
        return ""
    match kusto_type:
        case K.STRING:
            return str(value)
        case K.BOOL:
            return "true" if value else "false"
        case K.REAL:
            return real_text(float(value))
        case K.DECIMAL:
            return decimal_text(Decimal(value))
        case K.DATETIME:
            return format_datetime(int(value), fixed_digits=True)
        case K.TIMESPAN:
            return format_timespan(int(value))
        case K.DYNAMIC:
            if isinstance(value, str):
                return value
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        case _:
            return str(value)


def datetime_text_sql(dialect: str, value: Any) -> exp.Expression:
    """SQL text of a datetime as Kusto's ``tostring`` prints it: ISO 8601 with seven fractional
    digits and ``Z`` (.NET's round-trip form, ``2020-01-01T00:00:00.0000000Z``)."""
    if dialect == "clickhouse":
        return sql(dialect, "concat(formatDateTime($v, '%Y-%m-%dT%H:%i:%S.%f'), '0Z')", v=value)
    return sql(dialect, "strftime($v, '%Y-%m-%dT%H:%M:%S.%f') || '0Z'", v=value)


def datetime_json_text_sql(dialect: str, value: Any) -> exp.Expression:
    """SQL text of a datetime as Kusto writes it inside dynamic values (seven fractional digits)."""
    duckdb_only_dialect(dialect, "datetime in dynamic")
    return sql(dialect, "strftime($v, '%Y-%m-%dT%H:%M:%S.%f') || '0Z'", v=value)


def timespan_text_sql(dialect: str, ticks: Any) -> exp.Expression:
    """SQL text of a tick count in .NET's constant format ``[-][d.]hh:mm:ss[.fffffff]``."""
    duckdb_only_dialect(dialect, "timespan text")
    return sql(
        dialect,
        "CASE WHEN $t IS NULL THEN NULL ELSE "
        "(CASE WHEN $t < 0 THEN '-' ELSE '' END)"
        " || (CASE WHEN abs($t) >= 864000000000 THEN CAST(abs($t) // 864000000000 AS VARCHAR) || '.' ELSE '' END)"
        " || lpad(CAST(abs($t) // 36000000000 % 24 AS VARCHAR), 2, '0')"
        " || ':' || lpad(CAST(abs($t) // 600000000 % 60 AS VARCHAR), 2, '0')"
        " || ':' || lpad(CAST(abs($t) // 10000000 % 60 AS VARCHAR), 2, '0')"
        " || (CASE WHEN abs($t) % 10000000 = 0 THEN '' ELSE '.' || lpad(CAST(abs($t) % 10000000 AS VARCHAR), 7, '0')"
        " END) END",
        t=ticks,
    )


def real_text_sql(dialect: str, value: Any) -> exp.Expression:
    duckdb_only_dialect(dialect, "real text")
    return sql(
        dialect,
        "CASE WHEN isnan($v) THEN 'NaN' WHEN isinf($v) THEN (CASE WHEN $v > 0 THEN 'Infinity' ELSE '-Infinity' END)"
        " WHEN $v = trunc($v) AND abs($v) < 1e15 THEN CAST(CAST($v AS BIGINT) AS VARCHAR)"
        " ELSE upper(CAST($v AS VARCHAR)) END",
        v=value,
    )


def duckdb_only_dialect(dialect: str, what: str) -> None:
    if dialect != "duckdb":
        raise KqlUnsupportedError(f"{what} is not supported on {dialect}", construct=what)


def json_path_of(arg: Typed) -> tuple[exp.Expression, str] | None:
    """``(base, path text)`` when ``arg`` is a dynamic property access with a static path."""
    node = arg.sql.this if isinstance(arg.sql, exp.Paren) else arg.sql
    meta = node.meta if node.meta else {}
    path, base = meta.get(JSON_PATH_META), meta.get(JSON_BASE_META)
    if path is None or base is None:
        return None
    text = path if isinstance(path, str) else path.duckdb()
    return base, text


def dynamic_text_sql(dialect: str, arg: Typed) -> exp.Expression:
    """The text of a dynamic value: a JSON string unquoted, anything else as JSON; null for null."""
    duckdb_only_dialect(dialect, "dynamic values")
    path = json_path_of(arg)
    if path is not None:
        base, json_path = path
        return exp.Anonymous(this="json_extract_string", expressions=[base.copy(), exp.Literal.string(json_path)])
    return exp.Anonymous(this="json_extract_string", expressions=[arg.sql, exp.Literal.string("$")])


def to_string(ctx: CompileContext, arg: Typed) -> exp.Expression:
    """``tostring(arg)`` as SQL: never null (``''`` for null)."""
    return to_string_typed(ctx, arg).sql


def text_or_null(ctx: CompileContext, arg: Typed) -> exp.Expression:
    """The text of ``arg``, or SQL NULL when ``arg`` is null (the input of the string conversions)."""
    dialect = ctx.dialect
    match arg.type:
        case K.STRING:
            return arg.sql
        case K.DYNAMIC:
            return dynamic_text_sql(dialect, arg)
        case K.DATETIME:
            return datetime_text_sql(dialect, arg.sql)
        case K.TIMESPAN:
            return timespan_text_sql(dialect, arg.sql)
        case K.REAL:
            return real_text_sql(dialect, arg.sql)
        case K.DECIMAL:
            duckdb_only_dialect(dialect, "decimal text")
            return sql(dialect, "rtrim(rtrim(CAST($v AS VARCHAR), '0'), '.')", v=arg.sql)
        case _:
            if dialect == "clickhouse":
                return sql(dialect, "toString($v)", v=arg.sql)
            return sql(dialect, "CAST($v AS VARCHAR)", v=arg.sql)


def to_string_typed(ctx: CompileContext, arg: Typed) -> Typed:
    if arg.is_constant:
        text = constant_text(arg.literal, arg.type)
        return typed(exp.Literal.string(text), K.STRING, text)
    if arg.type is K.STRING:
        return arg
    return typed(exp.Coalesce(this=text_or_null(ctx, arg), expressions=[exp.Literal.string("")]), K.STRING)


# ------------------------------------------------------------------------------ from text (SQL)


def _timespan_from_text_sql(dialect: str, text: exp.Expression) -> exp.Expression:
    duckdb_only_dialect(dialect, "totimespan")

    def part(i: int) -> str:
        return f"COALESCE(TRY_CAST(NULLIF(regexp_extract($s, '{_CLOCK_RE}', {i}), '') AS BIGINT), 0)"

    units = " ".join(f"WHEN '{name}' THEN {ticks}" for name, ticks in TIMESPAN_UNITS.items())
    template = (
        f"CASE WHEN regexp_full_match($s, '{_CLOCK_RE}') THEN "
        f"(CASE WHEN regexp_extract($s, '{_CLOCK_RE}', 1) = '-' THEN -1 ELSE 1 END) * ("
        f"{part(2)} * 864000000000 + {part(3)} * 36000000000 + {part(4)} * 600000000 + {part(5)} * 10000000"
        f" + COALESCE(TRY_CAST(rpad(regexp_extract($s, '{_CLOCK_RE}', 6), 7, '0') AS BIGINT), 0))"
        f" WHEN regexp_full_match(lower($s), '{_UNIT_RE}') THEN "
        f"CAST(TRY_CAST(regexp_extract(lower($s), '{_UNIT_RE}', 1) AS DECIMAL(38, 10)) * (CASE "
        f"COALESCE(NULLIF(regexp_extract(lower($s), '{_UNIT_RE}', 2), ''), 'd') {units} END) AS BIGINT) END"
    )
    return sql(dialect, template, s=text)


def _datetime_from_text_sql(dialect: str, text: exp.Expression) -> exp.Expression:
    duckdb_only_dialect(dialect, "todatetime")
    formats = ", ".join("'" + f + "'" for f in _RFC_FORMATS)
    return sql(
        dialect,
        f"CASE WHEN regexp_matches($s, '{_OFFSET_RE}') THEN timezone('UTC', TRY_CAST(trim($s) AS TIMESTAMPTZ))"
        f" ELSE COALESCE(TRY_CAST(trim($s, {_WHITESPACE}) AS TIMESTAMP),"
        f" try_strptime(trim($s, {_WHITESPACE}), [{formats}])) END",
        s=text,
    )


def from_text(ctx: CompileContext, text: exp.Expression, target: K) -> exp.Expression:
    """SQL converting text (possibly null) to ``target`` Kusto's way; null when it does not convert."""
    dialect = ctx.dialect
    if dialect == "clickhouse":
        functions = {
            K.LONG: "accurateCastOrNull(trunc(toFloat64OrNull(trim($s))), 'Int64')",
            K.INT: "accurateCastOrNull(trunc(toFloat64OrNull(trim($s))), 'Int32')",
            K.REAL: "toFloat64OrNull(trim($s))",
            K.GUID: "toUUIDOrNull(trim($s))",
        }
        if target not in functions:
            raise KqlUnsupportedError(f"conversion to {target} is not supported on clickhouse", construct="to" + target)
        return sql(dialect, functions[target], s=text)
    match target:
        case K.STRING:
            return sql(dialect, "COALESCE($s, '')", s=text)
        case K.LONG | K.INT:
            storage = "BIGINT" if target is K.LONG else "INTEGER"
            body = f"TRY_CAST(trunc(TRY_CAST(trim($s, {_WHITESPACE}) AS DECIMAL(38, 10))) AS {storage})"
            return sql(dialect, body, s=text)
        case K.REAL:
            return sql(dialect, f"TRY_CAST(trim($s, {_WHITESPACE}) AS DOUBLE)", s=text)
        case K.DECIMAL:
            return sql(dialect, f"TRY_CAST(trim($s, {_WHITESPACE}) AS DECIMAL(38, 18))", s=text)
        case K.BOOL:
            return sql(
                dialect,
                "CASE lower(trim($s)) WHEN 'true' THEN TRUE WHEN '1' THEN TRUE WHEN 'false' THEN FALSE"
                " WHEN '0' THEN FALSE END",
                s=text,
            )
        case K.GUID:
            return sql(dialect, "TRY_CAST(trim($s) AS UUID)", s=text)
        case K.DATETIME:
            return _datetime_from_text_sql(dialect, text)
        case K.TIMESPAN:
            return _timespan_from_text_sql(dialect, text)
        case K.DYNAMIC:
            return sql(
                dialect,
                "CASE WHEN trim($s) = '' THEN NULL WHEN json_valid($s) THEN NULLIF(json($s), 'null')"
                " ELSE to_json($s) END",
                s=text,
            )
    raise KqlUnsupportedError(f"conversion to {target}")


# --------------------------------------------------------------------------- constant folding


def _fold(value: Any, source: K, target: K) -> Any:
    """The converted constant, or None when it does not convert (Kusto's null)."""
    if value is None:
        return None
    if target is K.STRING:
        return constant_text(value, source)
    if source is K.DYNAMIC:
        if isinstance(value, bool | int | float) and target is not K.STRING:
            source = K.BOOL if isinstance(value, bool) else K.LONG if isinstance(value, int) else K.REAL
        elif isinstance(value, dict | list):
            return value if target is K.DYNAMIC else None
        else:
            value, source = constant_text(value, K.DYNAMIC), K.STRING
    if source is K.STRING:
        return _fold_text(value, target)
    if target is K.DYNAMIC:
        raise _NotFoldable
    numeric = {K.INT, K.LONG, K.REAL, K.DECIMAL, K.BOOL}
    if source in numeric and target in {K.INT, K.LONG}:
        number = float(value) if source is K.REAL else value
        if isinstance(number, float) and not math.isfinite(number):
            return None
        result = int(number)
        limit = 2**31 if target is K.INT else 2**63
        return result if -limit <= result < limit else None
    if source in numeric and target is K.REAL:
        return float(value)
    if source in numeric and target is K.DECIMAL:
        return Decimal(str(value)) if not isinstance(value, bool) else Decimal(int(value))
    if source in numeric and target is K.BOOL:
        return value != 0
    if source is target:
        return value
    if source in {K.DATETIME, K.TIMESPAN} and target in {K.LONG, K.REAL}:
        ticks = int(value)
        return float(ticks) if target is K.REAL else ticks
    raise _NotFoldable


class _NotFoldable(Exception):
    pass


def _fold_text(text: str, target: K) -> Any:
    stripped = text.strip()
    match target:
        case K.LONG | K.INT:
            try:
                number = int(Decimal(stripped).to_integral_value(rounding="ROUND_DOWN"))
            except (InvalidOperation, ValueError):
                return None
            limit = 2**31 if target is K.INT else 2**63
            return number if -limit <= number < limit else None
        case K.REAL:
            try:
                return float(stripped)
            except ValueError:
                return None
        case K.DECIMAL:
            try:
                number = Decimal(stripped)
            except InvalidOperation:
                return None
            return number if number.is_finite() else None
        case K.BOOL:
            return parse_bool(stripped)
        case K.GUID:
            return parse_guid(stripped)
        case K.DATETIME:
            ticks = parse_datetime(stripped)
            if ticks is None:
                try:
                    ticks = parse_datetime(normalize_datetime_text(stripped))
                except ValueError:
                    ticks = None
            return ticks
        case K.TIMESPAN:
            return parse_timespan(stripped)
        case K.DYNAMIC:
            if not stripped:
                return None
            try:
                return json.loads(stripped)
            except ValueError:
                return text
    raise _NotFoldable


# ------------------------------------------------------------------------------ the conversion


def _ticks_of_datetime(dialect: str, value: exp.Expression) -> exp.Expression:
    duckdb_only_dialect(dialect, "datetime ticks")
    return sql(dialect, f"epoch_us($v) * 10 + {UNIX_EPOCH_TICKS}", v=value)


def convert(ctx: CompileContext, arg: Typed, target: K) -> Typed:
    """``arg`` converted to ``target`` with Kusto's rules (null when it does not convert)."""
    dialect = ctx.dialect
    source = arg.type
    if arg.is_constant:
        try:
            folded = _fold(arg.literal, source, target)
        except _NotFoldable:
            pass
        else:
            return literal_typed(folded, target, dialect)
    if target is K.STRING:
        return to_string_typed(ctx, arg)
    if source is target:
        return arg
    if is_null_literal(arg):
        return null(target, dialect)
    value = arg.sql
    if source is K.STRING:
        return typed(from_text(ctx, value, target), target)
    if source is K.DYNAMIC:
        if target is K.DYNAMIC:
            return arg
        return typed(from_text(ctx, dynamic_text_sql(dialect, arg), target), target)
    if target is K.DYNAMIC:
        return typed(to_json_value(ctx, arg), K.DYNAMIC)
    numeric = {K.INT, K.LONG, K.REAL, K.DECIMAL}
    if dialect == "clickhouse":
        if source in numeric | {K.BOOL} and target in {K.INT, K.LONG, K.REAL}:
            function = {K.INT: "toInt32OrNull", K.LONG: "toInt64OrNull", K.REAL: "toFloat64OrNull"}[target]
            inner = "toString(trunc($v))" if target is not K.REAL else "toString($v)"
            return typed(sql(dialect, f"{function}({inner})", v=value), target)
        raise KqlUnsupportedError(f"conversion from {source} to {target} is not supported on clickhouse")
    if target in {K.INT, K.LONG}:
        storage = "BIGINT" if target is K.LONG else "INTEGER"
        if source in {K.REAL, K.DECIMAL}:
            return typed(sql(dialect, f"TRY_CAST(trunc($v) AS {storage})", v=value), target)
        if source in {K.INT, K.LONG, K.BOOL}:
            return typed(cast(value, target, dialect, safe=True), target)
        if source is K.DATETIME:
            return typed(cast(_ticks_of_datetime(dialect, value), target, dialect, safe=True), target)
        if source is K.TIMESPAN:
            return typed(cast(value, target, dialect, safe=True), target)
    if target in {K.REAL, K.DECIMAL}:
        if source in numeric | {K.BOOL, K.TIMESPAN}:
            return typed(cast(value, target, dialect, safe=True), target)
        if source is K.DATETIME:
            return typed(cast(_ticks_of_datetime(dialect, value), target, dialect), target)
    if target is K.BOOL and source in numeric:
        return typed(sql(dialect, "$v <> 0", v=value), target)
    if target is K.TIMESPAN and source in numeric:
        return typed(sql(dialect, "TRY_CAST(trunc($v) AS BIGINT)", v=value), target)
    return null(target, dialect)


def to_json_value(ctx: CompileContext, arg: Typed) -> exp.Expression:
    """``arg`` as a JSON value (what ``pack``/``pack_array``/``make_list`` store): datetimes as
    7-digit ISO strings, timespans as ``hh:mm:ss`` strings, GUIDs as strings, decimals as numbers.
    Null stays SQL NULL (JSON functions write it as ``null``)."""
    dialect = ctx.dialect
    duckdb_only(ctx, "dynamic values")
    value = arg.sql
    match arg.type:
        case K.DYNAMIC:
            return value
        case K.DATETIME:
            inner = datetime_json_text_sql(dialect, value)
        case K.TIMESPAN:
            inner = timespan_text_sql(dialect, value)
        case K.GUID:
            inner = sql(dialect, "CAST($v AS VARCHAR)", v=value)
        case K.DECIMAL:
            inner = sql(dialect, "CAST($v AS DOUBLE)", v=value)
        case _:
            inner = value
    return sql(dialect, "to_json($v)", v=inner)


# ---------------------------------------------------------------------------------- registered


def _one(target: K):
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        return convert(ctx, args[0], target)

    return impl


scalar("tostring", min_args=1, max_args=1)(_one(K.STRING))
scalar("toint", min_args=1, max_args=1)(_one(K.INT))
scalar("tolong", min_args=1, max_args=1)(_one(K.LONG))
scalar("toreal", "todouble", min_args=1, max_args=1)(_one(K.REAL))
scalar("tobool", "toboolean", min_args=1, max_args=1)(_one(K.BOOL))
scalar("todatetime", min_args=1, max_args=1)(_one(K.DATETIME))
scalar("totimespan", "totime", min_args=1, max_args=1)(_one(K.TIMESPAN))
scalar("toguid", min_args=1, max_args=1)(_one(K.GUID))
scalar("todecimal", min_args=1, max_args=1)(_one(K.DECIMAL))
scalar("todynamic", "parse_json", "parsejson", "toobject", min_args=1, max_args=1)(_one(K.DYNAMIC))
