"""The function registry the generator looks KQL functions up in.

A scalar implementation receives the compile context and the compiled arguments and returns the
compiled call; an aggregate implementation does the same inside a ``summarize`` (its SQL is an
aggregate expression over the group). Names are case-sensitive, as in Kusto; deprecated aliases
(``makeset``, ``parsejson``, ``iif``...) are registered as extra names of the same function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlglot import exp

from ..errors import KqlSemanticError, KqlUnsupportedError
from ..typed import Typed


class CompileContext(Protocol):
    """What an implementation may ask of the generator."""

    dialect: str  # "duckdb" or "clickhouse"

    def now(self) -> exp.Expression:
        """The query's fixed ``now()`` as a TIMESTAMP expression (the same value everywhere)."""
        ...


ScalarImpl = Callable[[CompileContext, list[Typed]], Typed]


@dataclass(frozen=True)
class ScalarFunction:
    name: str
    impl: ScalarImpl
    min_args: int
    max_args: int | None  # None: variadic


@dataclass(frozen=True)
class AggregateFunction:
    name: str
    impl: ScalarImpl
    min_args: int
    max_args: int | None
    # Prefix of the column name summarize gives an unnamed aggregate: count() -> "count_",
    # avg(X) -> "avg_X", make_set(X) -> "set_X" (the column name of the first argument is appended
    # when it is a plain column).
    auto_name: str


SCALARS: dict[str, ScalarFunction] = {}
AGGREGATES: dict[str, AggregateFunction] = {}
#: Scalars that ``extend``/``project`` expand into several columns (``extend series_stats(x)``):
#: name -> each column's suffix and Kusto type name, read from the dynamic bag the scalar returns.
#: Unnamed, the columns are ``<function>_<argument column>_<suffix>``; ``(a, b, ...) = f(x)`` names them.
EXPANDED: dict[str, tuple[tuple[str, str], ...]] = {}


def scalar(*names: str, min_args: int = 0, max_args: int | None = None) -> Callable[[ScalarImpl], ScalarImpl]:
    """Register a scalar function under one or more KQL names."""

    def register(impl: ScalarImpl) -> ScalarImpl:
        for name in names:
            SCALARS[name] = ScalarFunction(name, impl, min_args, max_args)
        return impl

    return register


def aggregate(
    *names: str, auto_name: str, min_args: int = 0, max_args: int | None = None
) -> Callable[[ScalarImpl], ScalarImpl]:
    """Register an aggregation function (usable in summarize) under one or more KQL names."""

    def register(impl: ScalarImpl) -> ScalarImpl:
        for name in names:
            AGGREGATES[name] = AggregateFunction(name, impl, min_args, max_args, auto_name)
        return impl

    return register


def check_arity(name: str, given: int, min_args: int, max_args: int | None) -> None:
    if given < min_args or (max_args is not None and given > max_args):
        expected = (
            f"{min_args}" if min_args == max_args else f"{min_args} to {max_args if max_args is not None else 'any'}"
        )
        raise KqlSemanticError(f"function '{name}' expects {expected} arguments, got {given}")


def lookup_scalar(name: str) -> ScalarFunction:
    found = SCALARS.get(name)
    if found is None:
        raise KqlUnsupportedError(f"unknown or unsupported scalar function '{name}'")
    return found


def lookup_aggregate(name: str) -> AggregateFunction:
    found = AGGREGATES.get(name)
    if found is None:
        raise KqlUnsupportedError(f"unknown or unsupported aggregation function '{name}'")
    return found
