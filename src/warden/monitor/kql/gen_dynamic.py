"""Dynamic (JSON) values in SQL: property and element access, and conversions to scalar types.

A dynamic value is DuckDB ``JSON`` (ClickHouse: JSON text in a ``String``). ``d.a.b[0]`` becomes
one ``json_extract(d, '$."a"."b"[0]')``; a missing property or element is SQL NULL, as Kusto's
missing property is null. Converting a dynamic to a scalar type reads the JSON value's text
(``json_extract_string``) and casts it with ``TRY_CAST``, so a mismatch is null, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .gen_sql import cast, fn, lit_str
from .typed import Typed
from .types import KustoType

__all__ = ["JsonPath", "as_json", "dynamic_access", "dynamic_to", "json_path_of", "json_text"]


@dataclass(frozen=True)
class JsonPath:
    """A static JSON path: each step a member name (str) or an element index (int, negative from the end)."""

    steps: tuple[str | int, ...] = ()

    def duckdb(self) -> str:
        text = "$"
        for step in self.steps:
            if isinstance(step, int):
                text += f"[#{step}]" if step < 0 else f"[{step}]"
            else:
                text += '."' + step.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return text

    def clickhouse(self) -> list[exp.Expression]:
        args: list[exp.Expression] = []
        for step in self.steps:
            if isinstance(step, int):
                args.append(exp.Literal.number(step + 1 if step >= 0 else step))
            else:
                args.append(lit_str(step))
        return args


def json_path_of(sql: exp.Expression) -> tuple[exp.Expression, JsonPath] | None:
    """If ``sql`` extracts a static path from a JSON value (``d.a.b``), return that value and path."""
    return _split(sql)


def _split(sql: exp.Expression) -> tuple[exp.Expression, JsonPath] | None:
    """If ``sql`` is a static-path extraction this module built, return its base and path."""
    path = sql.meta.get("kql_json_path") if sql.meta else None
    base = sql.meta.get("kql_json_base") if sql.meta else None
    if isinstance(path, JsonPath) and base is not None:
        return base, path
    return None


def _extract(base: exp.Expression, path: JsonPath, dialect: str, *, string: bool = False) -> exp.Expression:
    if dialect == "clickhouse":
        name = "JSONExtractString" if string else "JSONExtractRaw"
        node = exp.Nullif(this=fn(name, base.copy(), *path.clickhouse()), expression=lit_str(""))
    else:
        node = fn("json_extract_string" if string else "json_extract", base.copy(), lit_str(path.duckdb()))
    if not string:
        node.meta["kql_json_path"] = path
        node.meta["kql_json_base"] = base
    return node


def as_json(value: Typed, dialect: str) -> exp.Expression:
    """The SQL of ``value`` as a JSON value (a string holding JSON text is parsed; invalid text is null)."""
    if value.type is KustoType.DYNAMIC:
        return value.sql
    if value.type is KustoType.STRING and dialect != "clickhouse":
        return exp.Case(
            ifs=[exp.If(this=fn("json_valid", value.sql.copy()), true=cast(value.sql.copy(), "dynamic", dialect))]
        )
    if dialect == "clickhouse":
        return fn("toJSONString", value.sql)
    return fn("to_json", value.sql)


def dynamic_access(base: Typed, step: str | int | Typed, dialect: str) -> Typed:
    """``base.member`` / ``base[index]`` of a dynamic value: dynamic, null when absent."""
    json = as_json(base, dialect)
    split = _split(json)
    root, path = split if split else (json, JsonPath())
    if isinstance(step, str | int):
        return Typed(_extract(root, JsonPath((*path.steps, step)), dialect), KustoType.DYNAMIC)
    # A computed key or index: build the path text at run time.
    prefix = lit_str(path.duckdb())
    if step.type in (KustoType.LONG, KustoType.INT):
        index = step.sql
        text = exp.Case(
            ifs=[
                exp.If(
                    this=exp.LT(this=index.copy(), expression=exp.Literal.number(0)),
                    true=exp.DPipe(this=lit_str("[#"), expression=cast(index.copy(), "string", dialect)),
                )
            ],
            default=exp.DPipe(this=lit_str("["), expression=cast(index.copy(), "string", dialect)),
        )
        text = exp.DPipe(this=exp.Paren(this=text), expression=lit_str("]"))
    else:
        key = fn("replace", step.sql, lit_str('"'), lit_str('\\"'))
        text = exp.DPipe(this=exp.DPipe(this=lit_str('."'), expression=key), expression=lit_str('"'))
    return Typed(fn("json_extract", root.copy(), exp.DPipe(this=prefix, expression=text)), KustoType.DYNAMIC)


def json_text(value: Typed, dialect: str) -> exp.Expression:
    """A dynamic value as text: a JSON string's content, any other JSON value's JSON text; null stays null."""
    split = _split(value.sql)
    if split:
        return _extract(split[0], split[1], dialect, string=True)
    if dialect == "clickhouse":
        return fn("JSONExtractString", value.sql.copy())
    return fn("json_extract_string", value.sql.copy(), lit_str("$"))


def dynamic_to(value: Typed, target: KustoType, dialect: str) -> Typed:
    """Convert a dynamic value to a scalar type as Kusto's implicit conversions do (null on mismatch)."""
    text = json_text(value, dialect)
    if target is KustoType.STRING:
        return Typed(exp.Coalesce(this=text, expressions=[lit_str("")]), target)
    if target is KustoType.DATETIME and dialect != "clickhouse":
        as_tz = exp.TryCast(this=text, to=exp.DataType.build("TIMESTAMPTZ"))
        return Typed(exp.TryCast(this=as_tz, to=exp.DataType.build("TIMESTAMP")), target)
    if target is KustoType.DYNAMIC:
        return value
    return Typed(cast(text, target, dialect, safe=True), target)
