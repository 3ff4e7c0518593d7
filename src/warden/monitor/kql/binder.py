"""The binder: what every name in a query stands for, and the schema each pipeline step produces.

It resolves table references (the schema's tables, let-bound tabular values and functions),
scalar names (columns of the current row, let-bound scalars, function parameters), and decides
the column names KQL gives unnamed expressions (``count_``, ``avg_X``, ``Column1``, ``print_0``,
``x_y`` for ``x.y``...), following the naming rules of Kusto's own binder. It raises
``KqlSemanticError`` (unknown names, wrong types) and ``KqlUnsupportedError`` (constructs this
engine refuses: ``externaldata``, ``cluster()``/``database()`` references, ``find``, ``fork``...),
both located in the query text.

The generator asks the binder while it builds SQL: a :class:`Relation` is one compiled pipeline
step (a CTE, or a table) with its ordered columns and its row order, if any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from . import ast
from .bind_names import expression_name
from .errors import KqlError, KqlSemanticError, KqlUnsupportedError
from .schema import DatabaseSchema, match_names
from .typed import Typed
from .types import INGESTION_TIME_COLUMN, KustoType

__all__ = ["Binder", "Binding", "Relation", "Scope", "UniqueNames", "expression_name", "sql_names"]

#: The hidden column holding a relation's row order (a row number), when it has one.
ORDINAL = "__kql_ord"


def sql_names(names: list[str]) -> dict[str, str]:
    """The SQL column name of each Kusto column name of a relation.

    Kusto names are case-sensitive, SQL engines' are not (DuckDB resolves ``"a"`` to a column
    ``"A"``), so a name that differs only in case from an earlier one gets a ``__kqlN`` suffix
    inside the generated SQL; the final SELECT aliases every column back to its Kusto name.
    """
    seen: set[str] = set()
    result: dict[str, str] = {}
    for name in names:
        sql = name
        counter = 1
        while sql.lower() in seen:
            counter += 1
            sql = f"{name}__kql{counter}"
        seen.add(sql.lower())
        result[name] = sql
    return result


@dataclass
class Relation:
    """One compiled tabular value: ``name`` is a CTE or table; ``columns`` its visible columns in order.

    ``order`` says how its rows are ordered: None (no defined order), the name of the hidden
    ordinal column (:data:`ORDINAL`), or a tuple of sqlglot ``Ordered`` keys over its columns.
    ``sql`` maps each Kusto column name to its SQL column name (see :func:`sql_names`);
    ``hidden`` names the group-id columns a partitioned sub-pipeline carries.
    """

    name: str
    columns: dict[str, KustoType]
    order: str | tuple[exp.Ordered, ...] | None = None
    materialized: bool = False
    #: Hidden columns carried through every step (the row or partition id of mv-apply/partition).
    hidden: tuple[str, ...] = ()
    #: An inline query to read instead of a named CTE/table (a dynamic array unnested per row).
    inline: exp.Expression | None = None
    #: It carries the stored tables' ingestion-time column (a stored table, or a where/extend of one),
    #: which ``ingestion_time()`` reads.
    ingested: bool = False
    sql: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.sql = sql_names(list(self.columns))

    def ref(self, name: str, table: str | None = None) -> exp.Column:
        """The SQL reference to Kusto column ``name`` (qualified by ``table`` if given)."""
        return exp.Column(
            this=exp.to_identifier(self.sql.get(name, name), quoted=True),
            table=exp.to_identifier(table, quoted=True) if table else None,
        )

    @property
    def has_ordinal(self) -> bool:
        return self.order == ORDINAL

    def order_by(self) -> list[exp.Ordered]:
        """The ORDER BY keys reproducing this relation's order (empty when unordered)."""
        if self.order is None:
            return []
        if isinstance(self.order, str):
            return [exp.Ordered(this=exp.column(self.order, quoted=True), nulls_first=True)]
        return [key.copy() for key in self.order]

    def key_columns(self) -> set[str]:
        """The column names the order keys read (empty for ordinal or no order)."""
        if not isinstance(self.order, tuple):
            return set()
        return {col.name for key in self.order for col in key.find_all(exp.Column)}


# ------------------------------------------------------------------------------------ bindings


@dataclass
class Binding:
    """What a let-bound or parameter name stands for.

    ``kind`` is ``scalar`` (``value`` a Typed), ``tabular`` (``value`` a Relation, or ``expr`` a
    Pipeline compiled lazily in ``scope``), ``expr`` (a let-bound expression the use decides about:
    a scalar, or a table name/tabular call), ``function`` (``expr`` a FunctionDef closing over
    ``scope``). ``param`` marks function parameters, which shadow columns.
    """

    kind: str
    expr: Any = None
    scope: Scope | None = None
    value: Any = None
    busy: bool = False
    param: bool = False


@dataclass
class Scope:
    """Names visible at a point of the query: let statements and function parameters, innermost first."""

    parent: Scope | None = None
    names: dict[str, Binding] = field(default_factory=dict)

    def lookup(self, name: str) -> Binding | None:
        scope: Scope | None = self
        while scope is not None:
            found = scope.names.get(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def child(self) -> Scope:
        return Scope(parent=self)

    def all_names(self) -> list[str]:
        names: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            names.extend(n for n in scope.names if n not in names)
            scope = scope.parent
        return names


class UniqueNames:
    """Kusto's column-name uniquifier: a repeated name gets the first free numeric suffix (``x1``, ``x2``)."""

    def __init__(self, names: list[str] | None = None) -> None:
        self._used: dict[str, int] = {}
        for name in names or ():
            self._used.setdefault(name, 0)

    def add(self, name: str) -> str:
        if name not in self._used:
            self._used[name] = 0
            return name
        suffix = self._used[name] + 1
        while f"{name}{suffix}" in self._used:
            suffix += 1
        self._used[name] = suffix
        self._used[f"{name}{suffix}"] = 0
        return f"{name}{suffix}"

    def __contains__(self, name: str) -> bool:
        return name in self._used


# -------------------------------------------------------------------------------------- binder


class Binder:
    """Name resolution and errors for one query text against one database schema."""

    def __init__(self, text: str, schema: DatabaseSchema) -> None:
        self.text = text
        # A store lists INGESTION_TIME_COLUMN for tables that keep it: such tables are "ingested"
        # (ingestion_time() works over them) and the column is otherwise invisible to the query.
        self.ingested = frozenset(t for t, columns in schema.items() if INGESTION_TIME_COLUMN in columns)
        self.schema = {
            t: {c: k for c, k in columns.items() if c != INGESTION_TIME_COLUMN} if t in self.ingested else columns
            for t, columns in schema.items()
        }
        self._default_column = 0

    # ---------------------------------------------------------------------------------- errors

    def semantic(self, message: str, node: ast.Node | None = None) -> KqlSemanticError:
        return self._error(KqlSemanticError, message, node)

    def unsupported(self, construct: str, node: ast.Node | None = None, detail: str = "") -> KqlUnsupportedError:
        message = f"{construct} is not supported" + (f": {detail}" if detail else "")
        error = self._error(KqlUnsupportedError, message, node)
        error.construct = construct
        return error

    def locate(self, error: KqlError, node: ast.Node | None) -> KqlError:
        """Give a position-less error raised below (e.g. by a function) the position of ``node``."""
        if error.line is None and node is not None and node.pos.line:
            located = type(error).at_pos(error.message, node.pos, self.text)
            error.line, error.column, error.offset, error.snippet = (
                located.line,
                located.column,
                located.offset,
                located.snippet,
            )
        return error

    def _error(self, cls: type[KqlError], message: str, node: ast.Node | None) -> Any:
        if node is None or not node.pos.line:
            return cls(message)
        return cls.at_pos(message, node.pos, self.text)

    # ------------------------------------------------------------------------------- tables

    def expand_tables(self, pattern: str, scope: Scope, node: ast.Node, lets: list[str] | None = None) -> list[str]:
        """The table names a (possibly wildcard) union/search table pattern denotes: the database's
        tables, then the given tabular let names (``union View*`` reads let-bound views too)."""
        if "*" not in pattern:
            return [pattern]
        return match_names(pattern, list(self.schema) + [n for n in lets or [] if n not in self.schema])

    def table_schema(self, name: str, node: ast.Node) -> dict[str, KustoType]:
        columns = self.schema.get(name)
        if columns is None:
            raise self.semantic(f"unknown table or tabular value '{name}'", node)
        return dict(columns)

    # ------------------------------------------------------------------------------ columns

    def column_type(self, columns: dict[str, KustoType], name: str, node: ast.Node) -> KustoType:
        found = columns.get(name)
        if found is None:
            raise self.semantic(f"unknown column '{name}'", node)
        return found

    def match_columns(self, pattern: str, columns: list[str], node: ast.Node, *, required: bool = True) -> list[str]:
        matched = match_names(pattern, columns)
        if not matched and required and "*" not in pattern:
            raise self.semantic(f"unknown column '{pattern}'", node)
        return matched

    def default_column_name(self, taken: UniqueNames | set[str] | dict[str, Any]) -> str:
        """``Column1``, ``Column2``...: the name KQL gives an unnamed computed column."""
        while True:
            self._default_column += 1
            name = f"Column{self._default_column}"
            if name not in taken:
                return name

    def column_name(self, named: ast.NamedExpr, taken: UniqueNames | set[str] | dict[str, Any]) -> str:
        """The output name of a projected expression: given, inferred, or ``ColumnN``."""
        if named.names:
            return named.names[0]
        return expression_name(named.expr) or self.default_column_name(taken)

    # ---------------------------------------------------------------------------------- types

    def require_type(self, value: Typed, allowed: set[KustoType], what: str, node: ast.Node) -> None:
        if value.type not in allowed:
            names = ", ".join(sorted(str(t) for t in allowed))
            raise self.semantic(f"{what} expects {names}, got {value.type}", node)
