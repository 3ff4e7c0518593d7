"""A compiled scalar: a sqlglot expression plus its Kusto type.

The generator turns every scalar AST node into a ``Typed``; function implementations take and
return ``Typed`` values. ``literal`` carries the Python value when the expression is a constant
known at compile time (e.g. the ``1h`` of ``bin(x, 1h)``, the ``50`` of ``percentile(x, 50)``,
a format string), in the representation of :mod:`warden.monitor.kql.values` (ticks for
datetime/timespan).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from .types import KustoType

NOT_CONSTANT = object()


@dataclass(frozen=True)
class Typed:
    sql: exp.Expression
    type: KustoType
    literal: Any = NOT_CONSTANT

    @property
    def is_constant(self) -> bool:
        return self.literal is not NOT_CONSTANT
