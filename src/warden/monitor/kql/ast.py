"""Typed syntax tree of a KQL query, as produced by :func:`warden.monitor.kql.parse`.

Conventions (stable; the binder and the generators rely on them):

* Every node is a frozen dataclass deriving from :class:`Node`. Its keyword-only ``pos``
  (:class:`Pos`: 0-based ``offset``, 1-based ``line`` and ``column`` of the node's first token)
  is excluded from ``==``, so two trees compare equal when they have the same shape; golden tests
  build expected trees without positions.
* Sequences are tuples. Names are plain ``str`` with bracketed names decoded (``['a b']`` ->
  ``"a b"``). Wildcard name patterns (``Security*``, ``Col*``) keep their ``*``.
* Operator spellings are kept exactly as KQL writes them (``"=="``, ``"!has"``, ``"in~"``,
  ``"matches regex"``, ``"and"``), except that a lone ``=`` in a predicate, which Kusto reads as
  equality, is spelled ``"=="``. Aliases share a node: ``filter`` is :class:`Where`, ``order by``
  :class:`Sort`, ``limit`` :class:`Take`, ``mvexpand`` :class:`MvExpand`.
* Types are :class:`~warden.monitor.kql.types.KustoType` members, a ``StrEnum`` of the canonical
  names ``bool datetime decimal dynamic guid int long real string timespan`` (aliases such as
  ``double``, ``date``, ``boolean``, ``time``, ``uuid`` are mapped), so ``t == "long"`` works.
* Literal values follow :mod:`~warden.monitor.kql.values`: datetimes and timespans are integer
  100 ns ticks (datetime: since 0001-01-01 UTC), so no digit of a literal is lost.
* Three families: scalar expressions (:class:`Expr`), tabular expressions (:class:`Pipeline`:
  a :class:`Source` followed by :class:`Operator` nodes) and statements (:class:`Query` holds
  them). Some KQL constructs are both a source and an operator (``union``, ``search``,
  ``evaluate``): those classes derive from both.
* :func:`children` and :func:`walk` traverse any subtree generically.
* Where the text alone cannot tell a table from a scalar (``let T = SecurityEvent;``, ``x in
  (names)``, a user function's arguments) the parser produces scalar nodes (:class:`NameRef`,
  :class:`Call`); the binder resolves them with the schema. Anything with a pipe is tabular.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from .types import KustoType


@dataclass(frozen=True)
class Pos:
    """Where a node starts in the query text."""

    offset: int
    line: int
    column: int


NO_POS = Pos(0, 0, 0)


@dataclass(frozen=True)
class Node:
    """Base of every node; ``pos`` is keyword-only and ignored by ``==``."""

    pos: Pos = field(default=NO_POS, kw_only=True, compare=False, repr=False)


# --------------------------------------------------------------------------- scalar expressions


@dataclass(frozen=True)
class Expr(Node):
    """Base of scalar expressions."""


@dataclass(frozen=True)
class Literal(Expr):
    """A constant. ``type`` is its KQL type; ``value`` the Python value:

    string -> str; long/int -> int; real -> float (nan/inf included); decimal -> Decimal;
    bool -> bool; datetime -> int ticks since 0001-01-01T00:00:00Z; timespan -> int ticks;
    guid -> lower-case str; dynamic -> JSON-like Python value (dict/list/str/int/float/bool/None;
    a datetime inside is an aware UTC ``datetime``, a timespan a ``timedelta``). ``None`` is the
    typed null (``long(null)``, ``dynamic(null)``). A minus before a number or timespan literal
    is folded into it (``-1`` is ``Literal(long, -1)``). ``text`` is the source spelling (not
    compared).
    """

    type: KustoType
    value: Any
    text: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class NameRef(Expr):
    """A bare name: a column, a let-bound value or function, or a table (binder decides)."""

    name: str


@dataclass(frozen=True)
class JoinSideRef(Expr):
    """``$left.name`` / ``$right.name`` in a join or lookup condition; ``side`` is ``left``/``right``."""

    side: str
    name: str


@dataclass(frozen=True)
class MemberAccess(Expr):
    """``target.member`` (also ``target.['member']``) on a dynamic value."""

    target: Expr
    member: str


@dataclass(frozen=True)
class Index(Expr):
    """``target[index]``: ``x[0]``, ``x[-1]``, ``x["key"]``."""

    target: Expr
    index: Expr


@dataclass(frozen=True)
class NamedArg(Node):
    """``name = value`` inside a function call's argument list."""

    name: str
    value: Expr


@dataclass(frozen=True)
class Call(Expr):
    """A function call ``name(args...)``, aggregates and plugins included.

    ``case``, ``iff``/``iif`` and ``not`` are calls too. ``args`` are positional; a ``*``
    argument (``arg_max(t, *)``) is a :class:`Star`; a tabular argument is a :class:`Subquery`.
    """

    name: str
    args: tuple[Expr, ...] = ()
    named_args: tuple[NamedArg, ...] = ()


@dataclass(frozen=True)
class BinaryOp(Expr):
    """``left op right``; ``op`` spelled as in KQL: arithmetic ``+ - * / %``, comparisons
    ``== != <> < <= > >= =~ !~``, string operators (``has``, ``!contains_cs``, ``matches regex``
    ...), logical ``and`` / ``or``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class UnaryOp(Expr):
    """``-operand`` / ``+operand``."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Between(Expr):
    """``expr between (low .. high)``; ``negated`` for ``!between``."""

    expr: Expr
    low: Expr
    high: Expr
    negated: bool = False


@dataclass(frozen=True)
class In(Expr):
    """A list operator: ``op`` is ``in``, ``!in``, ``in~``, ``!in~``, ``has_any`` or ``has_all``.

    The right side is either a list of ``values`` (each may be a dynamic array or a name the
    binder resolves) or a tabular ``subquery`` whose single column gives the values.
    """

    expr: Expr
    op: str
    values: tuple[Expr, ...] = ()
    subquery: Pipeline | None = None


@dataclass(frozen=True)
class Star(Expr):
    """``*``: all columns, as in ``arg_max(TimeGenerated, *)`` or ``search * has "x"``."""


@dataclass(frozen=True)
class TypeOf(Expr):
    """``typeof(long)`` or ``typeof(*, x:double)`` (plugin output schemas): a type, not a value."""

    type: KustoType | TabularType


@dataclass(frozen=True)
class ToScalar(Expr):
    """``toscalar(query)``: the first column of the first row of a tabular expression."""

    query: Pipeline


@dataclass(frozen=True)
class Subquery(Expr):
    """A tabular expression in an argument slot (``f(T | where x)``, ``in (T | project y)``)."""

    query: Pipeline


# --------------------------------------------------------------------------- declarations, clauses


@dataclass(frozen=True)
class ColumnDecl(Node):
    """``name:type`` in a datatable/externaldata schema, a parse pattern or a tabular type."""

    name: str
    type: KustoType


@dataclass(frozen=True)
class TabularType(Node):
    """The schema of a tabular function parameter ``(T:(x:long, *))``; ``open`` when ``*`` is given."""

    columns: tuple[ColumnDecl, ...] = ()
    open: bool = False


@dataclass(frozen=True)
class Param(Node):
    """A declared parameter ``name:type [= default]`` of a let function or ``declare query_parameters``.

    ``type`` is a scalar type name or a :class:`TabularType` for tabular parameters.
    """

    name: str
    type: KustoType | TabularType
    default: Expr | None = None


@dataclass(frozen=True)
class NamedExpr(Node):
    """An output column: ``expr`` with the names given to it (``names`` empty: KQL picks the name).

    ``x = f(y)`` has ``names=("x",)``; ``(a, b) = series_fit_line(y)`` has ``names=("a", "b")``.
    """

    expr: Expr
    names: tuple[str, ...] = ()

    @property
    def name(self) -> str | None:
        """The single given name, or None."""
        return self.names[0] if len(self.names) == 1 else None


@dataclass(frozen=True)
class SortKey(Node):
    """One ``sort``/``top`` key. KQL sorts descending unless ``asc`` is written.

    ``nulls`` is ``"first"``/``"last"`` as written, or None for KQL's default (see ``nulls_first``).
    """

    expr: Expr
    ascending: bool = False
    nulls: str | None = None

    @property
    def nulls_first(self) -> bool:
        """Whether nulls sort first: as written, else first when ascending and last when descending."""
        return self.nulls == "first" if self.nulls else self.ascending


@dataclass(frozen=True)
class OperatorParam(Node):
    """``name=value`` parameter of an operator (``hint.strategy=shuffle``, ``decodeblocks=true``).

    A bare word value is a :class:`NameRef`.
    """

    name: str
    value: Expr


# --------------------------------------------------------------------------- tabular expressions


@dataclass(frozen=True)
class Source(Node):
    """Base of what a pipeline starts from."""


@dataclass(frozen=True)
class Operator(Node):
    """Base of tabular operators (what follows a ``|``)."""


@dataclass(frozen=True)
class Pipeline(Source):
    """A tabular expression: ``source | operators[0] | operators[1] ...``.

    A parenthesized tabular expression used as a source is a nested Pipeline.
    """

    source: Source
    operators: tuple[Operator, ...] = ()


@dataclass(frozen=True)
class TableRef(Source):
    """A table or let-bound tabular value by name; wildcards (``Security*``) only in union/search/find."""

    name: str


@dataclass(frozen=True)
class QualifiedTableRef(Source):
    """``cluster('c').database('d').T``, ``database("db").T``, ``workspace("w").T``: ``scopes`` are the calls."""

    scopes: tuple[Call, ...]
    table: str


@dataclass(frozen=True)
class TabularCall(Source):
    """A function call in tabular position: a let-bound tabular function ``f(x)`` or ``table("T")``."""

    call: Call


@dataclass(frozen=True)
class ImplicitSource(Source):
    """The implicit input of a sub-pipeline of ``mv-apply``, ``fork``, ``facet`` or ``partition``."""


@dataclass(frozen=True)
class Datatable(Source):
    """``datatable(columns)[values]``: ``values`` row-major, ``len(values) % len(columns) == 0``."""

    columns: tuple[ColumnDecl, ...]
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class Print(Source):
    """``print a = 1, f(x)``: one row."""

    columns: tuple[NamedExpr, ...]


@dataclass(frozen=True)
class Range(Source):
    """``range column from start to end step step``."""

    column: str
    start: Expr
    end: Expr
    step: Expr


@dataclass(frozen=True)
class Materialize(Source):
    """``materialize(query)``."""

    query: Pipeline


@dataclass(frozen=True)
class ExternalData(Source):
    """``externaldata(columns)[uris] with (properties)`` (parsed; refused by later stages)."""

    columns: tuple[ColumnDecl, ...]
    uris: tuple[Expr, ...]
    properties: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Find(Source):
    """``find [withsource=C] [in (tables)] where predicate [project cols | project-smart]``."""

    predicate: Expr
    tables: tuple[str, ...] = ()
    withsource: str | None = None
    project: tuple[Expr | ColumnDecl, ...] = ()
    project_smart: bool = False


@dataclass(frozen=True)
class Union(Source, Operator):
    """``union [kind=inner|outer] [withsource=C] [isfuzzy=true] tables``.

    As an operator (``T | union U, V``) the pipeline's input comes first and ``tables`` holds
    the others; each table is a pipeline (a bare name or pattern is a pipeline without operators).
    """

    tables: tuple[Pipeline, ...]
    kind: str | None = None
    isfuzzy: bool | None = None
    withsource: str | None = None
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Search(Source, Operator):
    """``search [kind=case_sensitive] [in (tables)] predicate``; a bare string term is a string Literal."""

    predicate: Expr
    tables: tuple[str, ...] = ()
    kind: str | None = None


@dataclass(frozen=True)
class Evaluate(Source, Operator):
    """``evaluate [hints] plugin(args) [: (output schema)]``."""

    plugin: Call
    output_schema: TabularType | None = None
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Where(Operator):
    """``where predicate`` (also ``filter``)."""

    predicate: Expr


@dataclass(frozen=True)
class Project(Operator):
    """``project a, b = expr``."""

    columns: tuple[NamedExpr, ...]


@dataclass(frozen=True)
class ProjectAway(Operator):
    """``project-away`` name patterns."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class ProjectKeep(Operator):
    """``project-keep`` name patterns."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class Rename(Node):
    """``new_name = old_name`` in ``project-rename``."""

    new_name: str
    old_name: str


@dataclass(frozen=True)
class ProjectRename(Operator):
    """``project-rename new = old, ...``."""

    renames: tuple[Rename, ...]


@dataclass(frozen=True)
class ReorderColumn(Node):
    """A ``project-reorder`` name pattern with its optional order (``asc``, ``desc``, ``granny-asc``...)."""

    pattern: str
    order: str | None = None


@dataclass(frozen=True)
class ProjectReorder(Operator):
    """``project-reorder`` patterns."""

    columns: tuple[ReorderColumn, ...]


@dataclass(frozen=True)
class Extend(Operator):
    """``extend a = expr, f(x)``."""

    columns: tuple[NamedExpr, ...]


@dataclass(frozen=True)
class Summarize(Operator):
    """``summarize [hints] aggregates [by keys]``; either list may be empty."""

    aggregates: tuple[NamedExpr, ...] = ()
    by: tuple[NamedExpr, ...] = ()
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Sort(Operator):
    """``sort by keys`` / ``order by keys``."""

    keys: tuple[SortKey, ...]
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Top(Operator):
    """``top count by key [asc|desc] [nulls first|last]``."""

    count: Expr
    keys: tuple[SortKey, ...]


@dataclass(frozen=True)
class Take(Operator):
    """``take count`` / ``limit count``."""

    count: Expr


@dataclass(frozen=True)
class Distinct(Operator):
    """``distinct a, b`` (``all_columns`` for ``distinct *``)."""

    columns: tuple[str, ...] = ()
    all_columns: bool = False
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Count(Operator):
    """``count``: one row, one column ``Count``."""


@dataclass(frozen=True)
class Join(Operator):
    """``join [kind=...] [hints] right on conditions``.

    ``kind`` as written (None: KQL's default ``innerunique``). Each condition in ``on`` is a
    :class:`NameRef` (same column on both sides) or an expression over :class:`JoinSideRef`
    (usually ``$left.a == $right.b``); ``and`` between conditions is split into separate entries.
    """

    right: Pipeline
    on: tuple[Expr, ...] = ()
    kind: str | None = None
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Lookup(Operator):
    """``lookup [kind=leftouter|inner] right on conditions`` (conditions as in :class:`Join`)."""

    right: Pipeline
    on: tuple[Expr, ...] = ()
    kind: str | None = None
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class MvExpandColumn(Node):
    """One expanded column: ``[name =] expr [to typeof(to_type)]``."""

    expr: Expr
    name: str | None = None
    to_type: KustoType | None = None


@dataclass(frozen=True)
class MvExpand(Operator):
    """``mv-expand [bagexpansion=bag|array] [with_itemindex=i] columns [limit n]``."""

    columns: tuple[MvExpandColumn, ...]
    bag_expansion: str | None = None
    with_itemindex: str | None = None
    limit: Expr | None = None
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class MvApply(Operator):
    """``mv-apply [with_itemindex=i] columns [limit n] on (subquery)``; the subquery's source is
    an :class:`ImplicitSource`."""

    columns: tuple[MvExpandColumn, ...]
    subquery: Pipeline
    with_itemindex: str | None = None
    limit: Expr | None = None
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Parse(Operator):
    """``parse [kind=simple|regex|relaxed [flags=f]] expr with pattern``.

    ``pattern`` items are string :class:`Literal` s, :class:`Star` and :class:`ColumnDecl`
    (type ``string`` when none is written).
    """

    expr: Expr
    pattern: tuple[Literal | Star | ColumnDecl, ...]
    kind: str | None = None
    flags: str | None = None


@dataclass(frozen=True)
class ParseWhere(Operator):
    """``parse-where``: as :class:`Parse`, but drops the rows that do not match."""

    expr: Expr
    pattern: tuple[Literal | Star | ColumnDecl, ...]
    kind: str | None = None
    flags: str | None = None


@dataclass(frozen=True)
class As(Operator):
    """``as [hint.materialized=true] name``."""

    name: str
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class Serialize(Operator):
    """``serialize [name = expr, ...]``."""

    columns: tuple[NamedExpr, ...] = ()


@dataclass(frozen=True)
class RenderProperty(Node):
    """``name = value[, value...]`` in ``render ... with (...)`` (``ycolumns`` may list several)."""

    name: str
    values: tuple[Expr, ...]


@dataclass(frozen=True)
class Render(Operator):
    """``render chart [with (properties)]``."""

    chart: str
    properties: tuple[RenderProperty, ...] = ()


@dataclass(frozen=True)
class GetSchema(Operator):
    """``getschema``."""


@dataclass(frozen=True)
class MakeSeriesAggregate(Node):
    """``[name =] aggregation [default = value]`` in ``make-series``."""

    aggregate: NamedExpr
    default: Expr | None = None


@dataclass(frozen=True)
class MakeSeries(Operator):
    """``make-series aggregates on axis [from start] [to end] step step [by keys]``.

    ``... on axis in range(start, end, step)`` fills the same fields.
    """

    aggregates: tuple[MakeSeriesAggregate, ...]
    axis: Expr
    step: Expr
    start: Expr | None = None
    end: Expr | None = None
    by: tuple[NamedExpr, ...] = ()
    kind: str | None = None
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class TopNestedLevel(Node):
    """``top-nested [count] of key [with others = others] by aggregate [asc|desc]``."""

    key: NamedExpr
    aggregate: NamedExpr
    count: Expr | None = None
    others: Expr | None = None
    ascending: bool = False


@dataclass(frozen=True)
class TopNested(Operator):
    """Consecutive ``top-nested`` clauses, outermost first."""

    levels: tuple[TopNestedLevel, ...]


@dataclass(frozen=True)
class Sample(Operator):
    """``sample count``."""

    count: Expr


@dataclass(frozen=True)
class SampleDistinct(Operator):
    """``sample-distinct count of column``."""

    count: Expr
    column: Expr


@dataclass(frozen=True)
class Invoke(Operator):
    """``invoke f(args)``: calls a tabular function with the pipeline as its first argument."""

    call: Call


@dataclass(frozen=True)
class ForkBranch(Node):
    """One ``[name=](subquery)`` of ``fork``; the subquery's source is an :class:`ImplicitSource`."""

    query: Pipeline
    name: str | None = None


@dataclass(frozen=True)
class Fork(Operator):
    """``fork (q1) (q2) ...``."""

    branches: tuple[ForkBranch, ...]


@dataclass(frozen=True)
class Facet(Operator):
    """``facet by columns [with (subquery)]``."""

    columns: tuple[str, ...]
    with_query: Pipeline | None = None


@dataclass(frozen=True)
class Partition(Operator):
    """``partition [hints] by column (subquery)``; the subquery reads the partition as its source."""

    column: str
    subquery: Pipeline
    hints: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class ScanStep(Node):
    """``step name [output=all|last|none]: condition [=> column = expr, ...];`` of ``scan``."""

    name: str
    condition: Expr
    assignments: tuple[NamedExpr, ...] = ()
    output: str | None = None


@dataclass(frozen=True)
class Scan(Operator):
    """``scan [with_match_id=id] [declare (columns)] with (steps)``."""

    steps: tuple[ScanStep, ...]
    declarations: tuple[Param, ...] = ()
    match_id: str | None = None


@dataclass(frozen=True)
class Reduce(Operator):
    """``reduce [kind=source] by expr [with threshold=t, characters=c]``."""

    expr: Expr
    kind: str | None = None
    options: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class ParseKv(Operator):
    """``parse-kv expr as (keys) with (pair_delimiter=..., kv_delimiter=..., quote=..., greedy=...)``."""

    expr: Expr
    keys: tuple[ColumnDecl, ...]
    options: tuple[OperatorParam, ...] = ()


@dataclass(frozen=True)
class TopHitters(Operator):
    """``top-hitters count of column [by weight]``."""

    count: Expr
    column: Expr
    by: Expr | None = None


@dataclass(frozen=True)
class Consume(Operator):
    """``consume [decodeblocks=true]``: reads its input and returns nothing."""

    params: tuple[OperatorParam, ...] = ()


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class FunctionBody(Node):
    """``{ let ...; result }`` of a let function or view."""

    statements: tuple[LetStatement, ...]
    result: Expr | Pipeline


@dataclass(frozen=True)
class FunctionDef(Node):
    """``(params) { body }`` bound by let; ``view`` for ``view (...) { ... }``."""

    params: tuple[Param, ...]
    body: FunctionBody
    view: bool = False


@dataclass(frozen=True)
class LetStatement(Node):
    """``let name = value``: a scalar :class:`Expr`, a tabular :class:`Pipeline` or a :class:`FunctionDef`."""

    name: str
    value: Expr | Pipeline | FunctionDef


@dataclass(frozen=True)
class SetStatement(Node):
    """``set name [= value]``: a request option; the engine ignores it."""

    name: str
    value: Expr | None = None


@dataclass(frozen=True)
class DeclareQueryParameters(Node):
    """``declare query_parameters(name:type [= default], ...)``."""

    params: tuple[Param, ...]


Statement = LetStatement | SetStatement | DeclareQueryParameters | Pipeline


@dataclass(frozen=True)
class Query(Node):
    """A whole query: its statements in order. The last tabular statement is the result.

    Statements are separated by ``;``; where one is missing after a complete statement an empty
    line separates them too, as Log Analytics and Kusto Explorer separate queries in an editor.
    """

    statements: tuple[Statement, ...]

    @property
    def lets(self) -> tuple[LetStatement, ...]:
        """The let statements, in order."""
        return tuple(s for s in self.statements if isinstance(s, LetStatement))

    @property
    def options(self) -> tuple[SetStatement, ...]:
        """The ``set`` statements (request options, which the engine ignores)."""
        return tuple(s for s in self.statements if isinstance(s, SetStatement))

    @property
    def body(self) -> Pipeline:
        """The tabular expression whose result the query returns (the last one)."""
        return [s for s in self.statements if isinstance(s, Pipeline)][-1]


# --------------------------------------------------------------------------- traversal


def children(node: Node) -> Iterator[Node]:
    """The direct child nodes of ``node``, in field order (tuple fields flattened)."""
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            yield from (item for item in value if isinstance(item, Node))


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node below it, depth first, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))
