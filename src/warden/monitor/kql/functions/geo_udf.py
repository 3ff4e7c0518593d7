"""How the ``geo_*`` functions run: Python implementations, folded at compile time or called as
DuckDB scalar UDFs.

Kusto computes its geospatial functions with Google's S2 geometry library (spherical earth of
radius 6,371,010 m, geodesic edges), Uber's H3 and geohash; none of that is expressible in SQL, so
each ``geo_*`` function is a Python implementation (see ``geo_points``, ``geo_cells``,
``geo_lines``, ``geo_polygons``, ``geo_wkt``) registered here with its parameter and result types:

- when every argument is a compile-time constant, the implementation runs while compiling and the
  call becomes a literal (``print geo_distance_2points(...)``);
- otherwise the call compiles to ``__kql_geo_<name>(...)``, a Python scalar UDF that
  :func:`register_used_udfs` installs on the DuckDB connection the query runs on when the query
  uses it (the sandbox does it before each statement; :func:`register_udfs` installs them all;
  another DuckDB connection running compiled SQL must call one of them). Dynamic values cross the
  boundary as JSON text.

Missing optional arguments take their documented defaults; an implementation receives ``None``
for a null argument and returns ``None`` for Kusto's null (``''`` for a string result). Errors a
geometry raises on invalid input become null, as Kusto's functions return null for invalid shapes.
DuckDB only: ClickHouse has no such functions (``KqlUnsupportedError``).
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlglot import exp

from ..typed import Typed
from .common import NUMERIC, K, duckdb_only, fail, literal_typed, sql, typed
from .registry import CompileContext, scalar

__all__ = [
    "UDFS",
    "GeoInvalid",
    "GeoSpec",
    "geo_function",
    "load_json",
    "register_udfs",
    "register_used_udfs",
    "udf_name",
]

#: The Kusto parameter kinds an implementation can declare and their DuckDB UDF types.
_DUCK_TYPES = {K.REAL: "DOUBLE", K.LONG: "BIGINT", K.INT: "INTEGER", K.STRING: "VARCHAR", K.BOOL: "BOOLEAN"}


class GeoInvalid(ValueError):
    """An argument is not a valid geospatial value: the function's result is null."""


@dataclass(frozen=True)
class GeoSpec:
    name: str
    impl: Callable[..., Any]
    params: tuple[K, ...]
    returns: K
    required: int
    defaults: tuple[Any, ...]  # values of the optional parameters, in order


UDFS: dict[str, GeoSpec] = {}


def udf_name(function: str) -> str:
    return f"__kql_{function}"


def geo_function(
    name: str, params: tuple[K, ...], returns: K, *, required: int | None = None, defaults: tuple[Any, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a ``geo_*`` KQL function implemented by the decorated Python function.

    ``params`` are the Kusto kinds of its parameters (real, long/int, string, dynamic, bool);
    the last ``len(params) - required`` are optional and take ``defaults`` when omitted.
    """
    count = len(params) if required is None else required
    if len(defaults) != len(params) - count:
        raise ValueError(f"{name}: {len(params) - count} optional parameters but {len(defaults)} defaults")

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        spec = GeoSpec(name, impl, params, returns, count, defaults)
        UDFS[name] = spec

        @scalar(name, min_args=count, max_args=len(params))
        def compile_call(ctx: CompileContext, args: list[Typed]) -> Typed:
            return _compile(spec, ctx, args)

        return impl

    return register


# --------------------------------------------------------------------------- running an impl


@lru_cache(maxsize=512)
def load_json(text: str) -> Any:
    """Decoded JSON text (cached: a constant polygon is decoded once, not once per row).

    Callers must not modify the result."""
    return json.loads(text)


def _call(spec: GeoSpec, values: tuple[Any, ...]) -> Any:
    """Run the implementation; invalid input (and any geometry error) is Kusto's null."""
    try:
        result = spec.impl(*values)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, ZeroDivisionError, RecursionError):
        result = None
    if spec.returns is K.STRING and result is None:
        return ""
    if spec.returns is K.REAL and result is not None and not math.isfinite(result):
        return None
    return result


def _udf(spec: GeoSpec) -> Callable[..., Any]:
    dynamic_result = spec.returns is K.DYNAMIC

    def run(*values: Any) -> Any:
        result = _call(spec, values)
        if dynamic_result:
            return None if result is None else json.dumps(result, separators=(",", ":"), ensure_ascii=False)
        return result

    run.__name__ = udf_name(spec.name)
    # DuckDB reads the arity from the signature.
    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(len(spec.params))]
    )
    return run


def _register(connection: Any, spec: GeoSpec) -> None:
    params = [_DUCK_TYPES.get(p, "VARCHAR") for p in spec.params]
    result = _DUCK_TYPES.get(spec.returns, "VARCHAR")
    connection.create_function(
        udf_name(spec.name), _udf(spec), params, result, null_handling="special", side_effects=False
    )


def register_udfs(connection: Any) -> None:
    """Install every ``geo_*`` implementation as a scalar UDF on a DuckDB connection."""
    from . import all as _all  # noqa: F401  (every geo module registers itself when imported)

    for spec in UDFS.values():
        _register(connection, spec)


_USED = re.compile(r"__kql_(geo_\w+)\s*\(", re.IGNORECASE)  # sqlglot writes the names in upper case


def register_used_udfs(connection: Any, sql_text: str, registered: set[str]) -> None:
    """Install the ``geo_*`` UDFs ``sql_text`` calls that ``registered`` (updated) does not hold yet.

    Creating a UDF costs about a millisecond and a query uses few, so a connection gets only those
    its queries need."""
    if "__kql_geo_" not in sql_text and "__KQL_GEO_" not in sql_text:
        return
    from . import all as _all  # noqa: F401

    for name in {n.lower() for n in _USED.findall(sql_text)} - registered:
        spec = UDFS.get(name)
        if spec is not None:
            _register(connection, spec)
            registered.add(name)


# ------------------------------------------------------------------------------- compiling


def _python_value(kind: K, value: Any) -> Any:
    """A constant argument as the implementation receives it (as the UDF would)."""
    if value is None:
        return "" if kind is K.STRING else None
    match kind:
        case K.REAL:
            return float(value)
        case K.LONG | K.INT:
            return int(value)
        case K.BOOL:
            return bool(value)
        case K.STRING:
            return str(value)
        case K.DYNAMIC:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def _argument(spec: GeoSpec, ctx: CompileContext, args: list[Typed], index: int) -> Typed:
    """Argument ``index`` converted to the parameter's kind (a semantic error when it cannot be)."""
    from .conversion import convert

    kind = spec.params[index]
    arg = args[index]
    if arg.is_constant and arg.literal is None:
        return literal_typed(None, kind)
    allowed: tuple[K, ...]
    match kind:
        case K.REAL | K.LONG | K.INT:
            allowed = (*NUMERIC, K.DYNAMIC)
        case K.STRING:
            allowed = (K.STRING, K.DYNAMIC)
        case K.BOOL:
            allowed = (K.BOOL, K.DYNAMIC)
        case _:
            allowed = (K.DYNAMIC,)
    if arg.type not in allowed:
        names = " or ".join(str(t) for t in dict.fromkeys(allowed))
        raise fail(spec.name, f"argument #{index + 1} must be {names}, not {arg.type}")
    if kind is K.DYNAMIC or arg.type is kind:
        return arg
    return convert(ctx, arg, kind)


def _compile(spec: GeoSpec, ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, spec.name)
    converted = [_argument(spec, ctx, args, i) for i in range(len(args))]
    for offset, default in enumerate(spec.defaults[len(args) - spec.required :]):
        converted.append(literal_typed(default, spec.params[len(args) + offset]))
    if all(arg.is_constant for arg in converted):
        values = tuple(_python_value(kind, arg.literal) for kind, arg in zip(spec.params, converted, strict=True))
        return literal_typed(_call(spec, values), spec.returns)
    parts: dict[str, Any] = {}
    placeholders = []
    for i, (kind, arg) in enumerate(zip(spec.params, converted, strict=True)):
        parts[f"a{i}"] = sql(ctx.dialect, "CAST($v AS VARCHAR)", v=arg) if kind is K.DYNAMIC else arg
        placeholders.append(f"$a{i}")
    call = f"{udf_name(spec.name)}({', '.join(placeholders)})"
    if spec.returns is K.DYNAMIC:
        call = f"CAST({call} AS JSON)"
    elif spec.returns is K.STRING:
        call = f"COALESCE({call}, '')"
    expression: exp.Expression = sql(ctx.dialect, call, **parts)
    return typed(expression, spec.returns)
