"""mv-expand, parse and parse-where.

mv-expand turns each dynamic value into a list (an array's elements; a property bag's entries as
one-entry bags, or ``[key, value]`` pairs with ``bagexpansion=array``; any other value, null
included, as itself) and unnests all lists of a row side by side: the engine pads the shorter
ones with nulls, as Kusto does; an empty array or bag yields no row.

parse builds one regular expression from the pattern (``*`` and string columns are lazy ``.*?``,
a trailing string column takes the rest, typed columns match their type) anchored at the start,
and extracts each column from its group; a row that does not match gets empty/null columns
(``parse-where`` drops it). ``kind=regex`` takes the pattern's strings as regular expressions;
``kind=relaxed`` lets a typed column that does not convert be null without failing the match.
"""

from __future__ import annotations

from sqlglot import exp

from . import ast
from .bind_names import expression_name
from .binder import ORDINAL, Relation, Scope, sql_names
from .functions import registry
from .gen_dynamic import as_json, json_path_of
from .gen_scalar_ops import re2_escape
from .gen_sql import cast, col, fn, lit_str
from .typed import Typed
from .types import KustoType

__all__ = ["ExpandCompiler"]

_TYPE_REGEX = {
    KustoType.LONG: r"(\-?\d+)",
    KustoType.INT: r"(\-?\d+)",
    KustoType.REAL: r"(\-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][\-+]?\d+)?)",
    KustoType.DECIMAL: r"(\-?(?:\d+(?:\.\d*)?|\.\d+))",
    KustoType.BOOL: r"((?i:true|false))",
    KustoType.GUID: r"([0-9a-fA-F]{8}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{4}\-[0-9a-fA-F]{12})",
}
_CONVERTERS = {
    KustoType.LONG: "tolong",
    KustoType.INT: "toint",
    KustoType.REAL: "toreal",
    KustoType.DECIMAL: "todecimal",
    KustoType.BOOL: "tobool",
    KustoType.GUID: "toguid",
    KustoType.DATETIME: "todatetime",
    KustoType.TIMESPAN: "totimespan",
    KustoType.DYNAMIC: "todynamic",
}


class ExpandCompiler:
    """Mixin of the generator: mv-expand, parse, parse-where."""

    # ------------------------------------------------------------------------------ mv-expand

    def _fast_list(self, json: exp.Expression, as_text: bool) -> exp.Expression:
        """The elements of a JSON array (as text or as JSON); ``[]`` for anything else."""
        split = json_path_of(json)
        name = "json_extract_string" if as_text else "json_extract"
        if split is not None:
            base, path = split
            return fn(name, base.copy(), lit_str(path.duckdb() + "[*]"))
        return fn(name, json.copy(), lit_str("$[*]"))

    def _slow_list(self, json: exp.Expression, bag_mode: str, as_text: bool) -> exp.Expression:
        """The list a non-array value expands to: a bag's entries, else the value itself (null included)."""
        kind = fn("json_type", json.copy())
        entry = "json_array" if bag_mode == "array" else "json_object"
        pair = exp.to_identifier("p")
        entry_sql: exp.Expression = fn(
            entry,
            # sqlglot indexes from 0 and prints DuckDB's 1-based p[1], p[2]
            exp.Bracket(this=exp.column("p"), expressions=[exp.Literal.number(0)]),
            exp.Bracket(this=exp.column("p"), expressions=[exp.Literal.number(1)]),
        )
        if as_text:
            entry_sql = exp.Cast(this=entry_sql, to=exp.DataType.build("VARCHAR"))
        zipped = fn("list_zip", fn("json_keys", json.copy()), fn("json_extract", json.copy(), lit_str("$.*")))
        bag = fn("list_transform", zipped, exp.Lambda(this=entry_sql, expressions=[pair]))
        single = fn("json_extract_string", json.copy(), lit_str("$")) if as_text else json.copy()
        return exp.Case(
            ifs=[
                exp.If(this=exp.EQ(this=kind, expression=lit_str("ARRAY")), true=exp.Array(expressions=[])),
                exp.If(this=exp.EQ(this=kind.copy(), expression=lit_str("OBJECT")), true=bag),
            ],
            default=exp.Array(expressions=[single]),
        )

    def op_mvexpand(self, op: ast.MvExpand, relation: Relation, scope: Scope) -> Relation:
        if self.dialect == "clickhouse":
            raise self.binder.unsupported("mv-expand on ClickHouse", op)
        relation = self.with_ordinal(relation)
        env = self.row_env(relation, scope)
        bag_mode = (op.bag_expansion or "bag").lower()
        limit = self.constant_count(op.limit, scope, "the mv-expand limit") if op.limit is not None else None
        # (name, target type or None for dynamic, the value as JSON, elements as text?)
        expanded: list[tuple[str, KustoType | None, exp.Expression, bool]] = []
        for item in op.columns:
            value = self.expr(item.expr, env)
            name = item.name or expression_name(item.expr) or self.binder.default_column_name(relation.columns)
            target = KustoType(item.to_type) if item.to_type is not None else None
            target = None if target is KustoType.DYNAMIC else target
            expanded.append((name, target, as_json(value, self.dialect), target is not None))
        # stage 1: the fast list (the elements of an array) next to the row
        staged_items = [*self.passthrough(relation)]
        staged_items += [(f"__kql_l{i}", self._fast_list(j, text)) for i, (_, _, j, text) in enumerate(expanded)]
        staged = self.emit(self.select_from(relation, staged_items), relation.columns, relation.order)
        # stage 2: unnest the lists side by side (non-arrays take the slow path)
        lists: list[exp.Expression] = []
        for i, (_, _, json, text) in enumerate(expanded):
            fast = col(f"__kql_l{i}")
            chosen: exp.Expression = exp.Case(
                ifs=[exp.If(this=exp.GT(this=fn("len", fast), expression=exp.Literal.number(0)), true=fast.copy())],
                default=self._slow_list(json, bag_mode, text),
            )
            if limit is not None:
                chosen = fn("list_slice", chosen, exp.Literal.number(1), exp.Literal.number(int(limit.literal or 0)))
            lists.append(chosen)
        expanded_names = {name for name, _, _, _ in expanded}
        items = [(n, staged.ref(n)) for n in relation.columns if n not in expanded_names]
        items += [(f"__kql_e{i}", exp.Explode(this=chosen)) for i, chosen in enumerate(lists)]
        needs_index = op.with_itemindex is not None or staged.has_ordinal or len(lists) > 1
        if needs_index:
            lengths = [fn("len", chosen.copy()) for chosen in lists]
            longest = lengths[0] if len(lengths) == 1 else exp.Greatest(this=lengths[0], expressions=lengths[1:])
            items.append(("__kql_idx", exp.Explode(this=fn("range", exp.Literal.number(0), longest))))
        if staged.has_ordinal:
            items.append((ORDINAL, col(ORDINAL)))
        unnested = self.emit(self.select_from(staged, items, keep_order=False), relation.columns)
        kept_names = sql_names([n for n, _ in items])
        # stage 3: types, names and order
        converted: dict[str, Typed] = {}
        for i, (name, target, _, _) in enumerate(expanded):
            element = col(f"__kql_e{i}")
            if target is None:
                converted[name] = Typed(element, KustoType.DYNAMIC)
            elif target is KustoType.STRING:
                converted[name] = Typed(exp.Coalesce(this=element, expressions=[lit_str("")]), target)
            else:
                converted[name] = self.from_text(Typed(element, KustoType.STRING), target)
        columns: dict[str, KustoType] = {}
        final: list[tuple[str, exp.Expression]] = []
        for name, kusto_type in relation.columns.items():
            value = converted.get(name)
            final.append((name, value.sql if value is not None else col(kept_names[name])))
            columns[name] = value.type if value is not None else kusto_type
        for name, value in converted.items():
            if name not in columns:
                final.append((name, value.sql))
                columns[name] = value.type
        if op.with_itemindex:
            final.append((op.with_itemindex, col("__kql_idx")))
            columns[op.with_itemindex] = KustoType.LONG
        if staged.has_ordinal:
            order = [exp.Ordered(this=col(ORDINAL)), exp.Ordered(this=col("__kql_idx"))]
            final.append((ORDINAL, exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=order))))
        select = self.select_from(unnested, final, keep_order=False)
        return self.emit(select, columns, ORDINAL if staged.has_ordinal else None)

    # ---------------------------------------------------------------------------------- parse

    def op_parse(self, op: ast.Parse, relation: Relation, scope: Scope) -> Relation:
        return self._parse(op, relation, scope, keep_unmatched=True)

    def op_parsewhere(self, op: ast.ParseWhere, relation: Relation, scope: Scope) -> Relation:
        return self._parse(op, relation, scope, keep_unmatched=False)

    def _parse(
        self, op: ast.Parse | ast.ParseWhere, relation: Relation, scope: Scope, *, keep_unmatched: bool
    ) -> Relation:
        kind = (op.kind or "simple").lower()
        if kind not in ("simple", "regex", "relaxed"):
            raise self.binder.semantic(f"unknown parse kind '{op.kind}'", op)
        env = self.row_env(relation, scope)
        source = self.to_string(self.expr(op.expr, env))
        regex, targets = self.parse_regex(op.pattern, kind)
        if op.flags:
            regex = f"(?{op.flags})" + regex
        columns = dict(relation.columns)
        items = dict(self.passthrough(relation))
        for name, kusto_type, group in targets:
            text = Typed(
                fn("regexp_extract", source.sql.copy(), lit_str(regex), exp.Literal.number(group)), KustoType.STRING
            )
            if kusto_type is not KustoType.STRING:
                text = Typed(exp.Trim(this=text.sql), KustoType.STRING)
            value = text if kusto_type is KustoType.STRING else self.from_text(text, kusto_type)
            items[name] = value.sql
            columns[name] = kusto_type
        item_list = list(items.items())
        relation = self.keep_order(relation, item_list)
        select = self.select_from(relation, item_list)
        if not keep_unmatched:
            select = select.where(exp.RegexpLike(this=source.sql.copy(), expression=lit_str(regex)), copy=False)
            if kind != "relaxed":
                for name, kusto_type, _ in targets:
                    if kusto_type is not KustoType.STRING:
                        select = select.where(
                            exp.Not(this=exp.Is(this=items[name].copy(), expression=exp.Null())), copy=False
                        )
        return self.emit(select, columns, relation.order)

    def parse_regex(
        self, pattern: tuple[ast.Literal | ast.Star | ast.ColumnDecl, ...], kind: str
    ) -> tuple[str, list[tuple[str, KustoType, int]]]:
        """The pattern's regular expression and, per column, its name, type and capture group."""
        parts: list[str] = ["^"]
        targets: list[tuple[str, KustoType, int]] = []
        group = 0
        for index, item in enumerate(pattern):
            last = index == len(pattern) - 1
            greedy = last or kind == "regex"  # kind=regex is greedy unless flags=U says otherwise
            if isinstance(item, ast.Star):
                parts.append(".*" if greedy else ".*?")
            elif isinstance(item, ast.Literal):
                text = str(item.value)
                if kind == "regex":
                    parts.append(text)
                    group += _capturing_groups(text)
                else:
                    parts.append(re2_escape(text))
            else:
                kusto_type = KustoType(item.type)
                group += 1
                if kusto_type is KustoType.STRING or kusto_type not in _TYPE_REGEX:
                    parts.append("(.*)" if greedy else "(.*?)")
                elif kind == "relaxed":
                    # A value of the type if one fits, else whatever text lets the rest match (which
                    # then converts to null): Kusto's parse-operator docs, relaxed example.
                    parts.append(_TYPE_REGEX[kusto_type][:-1] + ("|.*)" if greedy else "|.*?)"))
                else:
                    parts.append(_TYPE_REGEX[kusto_type])
                targets.append((item.name, kusto_type, group))
        return "".join(parts), targets

    def from_text(self, text: Typed, kusto_type: KustoType) -> Typed:
        """Convert extracted text to a type as the to*() functions do (null when it does not convert)."""
        name = _CONVERTERS.get(kusto_type)
        found = registry.SCALARS.get(name) if name else None
        if found is not None:
            return self.invoke(found, [text], None)
        return Typed(
            cast(exp.Nullif(this=text.sql, expression=lit_str("")), kusto_type, self.dialect, safe=True), kusto_type
        )


def _capturing_groups(regex: str) -> int:
    """How many capturing groups a regular expression opens (``(...)`` and ``(?P<name>...)``)."""
    count = 0
    index = 0
    in_class = False
    while index < len(regex):
        ch = regex[index]
        if ch == "\\":
            index += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(" and (not regex.startswith("?", index + 1) or regex.startswith("?P<", index + 1)):
            count += 1
        index += 1
    return count
