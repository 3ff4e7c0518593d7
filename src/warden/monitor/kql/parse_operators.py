"""Tabular operators: one method per operator, dispatched on the word after ``|``."""

from __future__ import annotations

from collections.abc import Callable

from . import ast
from .parse_shaping import ShapingParser
from .tokens import Token, TokenKind

# Operators KQL has that this parser refuses by name (KqlUnsupportedError with position).
UNSUPPORTED_OPERATORS = frozenset(
    {
        "project-smart",
        "make-graph",
        "graph-match",
        "graph-merge",
        "graph-to-table",
        "graph-shortest-paths",
        "graph-mark-components",
        "execute-and-cache",
        "assert-schema",
        "macro-expand",
    }
)
_REORDER_ORDERS = ("asc", "desc", "granny-asc", "granny-desc")


class OperatorParser(ShapingParser):
    """The ``| operator`` grammar (mixed into the parser)."""

    def parse_operator(self) -> ast.Operator:
        """One tabular operator, the current token being its keyword."""
        token = self.tok
        handler = _HANDLERS.get(token.text) if token.kind is TokenKind.NAME else None
        if handler is None:
            if token.kind is TokenKind.NAME and token.text in UNSUPPORTED_OPERATORS:
                raise self.unsupported(f"the {token.text} operator", token)
            raise self.error(f"expected a tabular operator, found {self.describe(token)}")
        self.advance()
        return handler(self, token)

    # ---- filters and projections

    def parse_where(self, token: Token) -> ast.Where:
        return ast.Where(self.parse_expr(), pos=self.pos(token))

    def parse_project(self, token: Token) -> ast.Project:
        return ast.Project(self.parse_named_exprs(), pos=self.pos(token))

    def parse_extend(self, token: Token) -> ast.Extend:
        return ast.Extend(self.parse_named_exprs(), pos=self.pos(token))

    def parse_patterns(self) -> tuple[str, ...]:
        patterns = [self.parse_name_pattern()]
        while self.accept(","):
            patterns.append(self.parse_name_pattern())
        return tuple(patterns)

    def parse_project_away(self, token: Token) -> ast.ProjectAway:
        return ast.ProjectAway(self.parse_patterns(), pos=self.pos(token))

    def parse_project_keep(self, token: Token) -> ast.ProjectKeep:
        return ast.ProjectKeep(self.parse_patterns(), pos=self.pos(token))

    def parse_project_rename(self, token: Token) -> ast.ProjectRename:
        renames = []
        while True:
            item = self.tok
            new_name = self.expect_name("the new column name")
            self.expect("=", "'=' and the column to rename")
            renames.append(ast.Rename(new_name, self.expect_name("the column to rename"), pos=self.pos(item)))
            if not self.accept(","):
                return ast.ProjectRename(tuple(renames), pos=self.pos(token))

    def parse_project_reorder(self, token: Token) -> ast.ProjectReorder:
        columns = []
        while True:
            item = self.tok
            pattern = self.parse_name_pattern()
            order = None
            if self.at("granny") and self.is_word(self.peek(), "-") and self.is_word(self.peek(2), "asc", "desc"):
                self.advance()
                self.advance()
                order = "granny-" + self.advance().text
            elif self.at(*_REORDER_ORDERS):
                order = self.advance().text
            columns.append(ast.ReorderColumn(pattern, order, pos=self.pos(item)))
            if not self.accept(","):
                return ast.ProjectReorder(tuple(columns), pos=self.pos(token))

    def parse_distinct(self, token: Token) -> ast.Distinct:
        hints = tuple(self.parse_params())
        if self.accept("*"):
            return ast.Distinct((), True, hints, pos=self.pos(token))
        names = [self.expect_name("a column name")]
        while self.accept(","):
            names.append(self.expect_name("a column name"))
        return ast.Distinct(tuple(names), False, hints, pos=self.pos(token))

    # ---- aggregation, ordering, limits

    def parse_summarize(self, token: Token) -> ast.Summarize:
        hints = tuple(self.parse_params())
        aggregates = () if self.at("by") or self.at_end_of_operator() else self.parse_named_exprs()
        by = self.parse_named_exprs() if self.accept("by") else ()
        return ast.Summarize(aggregates, by, hints, pos=self.pos(token))

    def parse_sort(self, token: Token) -> ast.Sort:
        hints = tuple(self.parse_params())
        self.expect("by", "'by' after sort")
        return ast.Sort(self.parse_sort_keys(), hints, pos=self.pos(token))

    def parse_top(self, token: Token) -> ast.Top:
        count = self.parse_expr()
        self.expect("by", "'by' after the row count of top")
        return ast.Top(count, self.parse_sort_keys(), pos=self.pos(token))

    def parse_take(self, token: Token) -> ast.Take:
        self.parse_params()  # take hint.* is accepted and ignored
        return ast.Take(self.parse_expr(), pos=self.pos(token))

    def parse_count(self, token: Token) -> ast.Count:
        return ast.Count(pos=self.pos(token))

    def parse_top_hitters(self, token: Token) -> ast.TopHitters:
        count = self.parse_expr()
        self.expect("of", "'of' and a column")
        column = self.parse_expr()
        by = self.parse_expr() if self.accept("by") else None
        return ast.TopHitters(count, column, by, pos=self.pos(token))

    def parse_consume(self, token: Token) -> ast.Consume:
        return ast.Consume(tuple(self.parse_params(frozenset({"decodeblocks"}))), pos=self.pos(token))

    def parse_sample(self, token: Token) -> ast.Sample:
        return ast.Sample(self.parse_expr(), pos=self.pos(token))

    def parse_sample_distinct(self, token: Token) -> ast.SampleDistinct:
        count = self.parse_expr()
        self.expect("of", "'of' and a column")
        return ast.SampleDistinct(count, self.parse_expr(), pos=self.pos(token))

    # ---- joins

    def parse_join_right(self) -> ast.Pipeline:
        if self.at("("):
            return self.parse_paren_tabular()
        source = self.parse_named_source()
        return ast.Pipeline(source, pos=source.pos)

    def parse_join_on(self) -> tuple[ast.Expr, ...]:
        if not self.accept("on"):
            return ()
        conditions: list[ast.Expr] = []
        while True:
            conditions.extend(_split_and(self.parse_expr()))
            if not self.accept(","):
                return tuple(conditions)

    def parse_join(self, token: Token) -> ast.Join:
        typed, hints = self.split_params(self.parse_params(frozenset({"kind"})), "kind")
        right = self.parse_join_right()
        on = self.parse_join_on()
        return ast.Join(right, on, self.param_text(typed.get("kind")), hints, pos=self.pos(token))

    def parse_lookup(self, token: Token) -> ast.Lookup:
        typed, hints = self.split_params(self.parse_params(frozenset({"kind"})), "kind")
        right = self.parse_join_right()
        on = self.parse_join_on()
        return ast.Lookup(right, on, self.param_text(typed.get("kind")), hints, pos=self.pos(token))

    def parse_union(self, token: Token) -> ast.Union:
        return self.parse_union_body(token)

    # ---- naming, ordering, output

    def parse_as(self, token: Token) -> ast.As:
        hints = tuple(self.parse_params())
        return ast.As(self.expect_name("a name after as"), hints, pos=self.pos(token))

    def parse_serialize(self, token: Token) -> ast.Serialize:
        columns = () if self.at_end_of_operator() else self.parse_named_exprs()
        return ast.Serialize(columns, pos=self.pos(token))

    def parse_getschema(self, token: Token) -> ast.GetSchema:
        return ast.GetSchema(pos=self.pos(token))

    def parse_render(self, token: Token) -> ast.Render:
        chart = self.expect_name("a chart type")
        properties: list[ast.RenderProperty] = []
        in_parens = bool(self.accept("with") and self.expect("("))
        while self.at_name() and self.is_word(self.peek(), "="):
            item = self.tok
            name = self.expect_name()
            self.advance()
            values = [self.parse_param_value()]
            while self.at(",") and not (self.at_name(1) and self.is_word(self.peek(2), "=")):
                if not in_parens:
                    break
                self.advance()
                values.append(self.parse_param_value())
            properties.append(ast.RenderProperty(name, tuple(values), pos=self.pos(item)))
            if in_parens and not self.accept(","):
                break
        if in_parens:
            self.expect(")", "')' closing the render properties")
        return ast.Render(chart, tuple(properties), pos=self.pos(token))

    # ---- plugins, functions, sub-pipelines

    def parse_evaluate(self, token: Token) -> ast.Evaluate:
        return self.parse_evaluate_body(token)

    def parse_search(self, token: Token) -> ast.Search:
        return self.parse_search_body(token)

    def parse_invoke(self, token: Token) -> ast.Invoke:
        if not (self.tok.kind is TokenKind.NAME and self.is_word(self.peek(), "(")):
            raise self.error(f"expected a function call after invoke, found {self.describe(self.tok)}")
        return ast.Invoke(self.parse_call(), pos=self.pos(token))


def _split_and(expr: ast.Expr) -> list[ast.Expr]:
    """``a and b and c`` -> ``[a, b, c]`` (join conditions)."""
    if isinstance(expr, ast.BinaryOp) and expr.op == "and":
        return _split_and(expr.left) + _split_and(expr.right)
    return [expr]


_HANDLERS: dict[str, Callable[[OperatorParser, Token], ast.Operator]] = {
    "where": OperatorParser.parse_where,
    "filter": OperatorParser.parse_where,
    "project": OperatorParser.parse_project,
    "project-away": OperatorParser.parse_project_away,
    "project-keep": OperatorParser.parse_project_keep,
    "project-rename": OperatorParser.parse_project_rename,
    "project-reorder": OperatorParser.parse_project_reorder,
    "extend": OperatorParser.parse_extend,
    "summarize": OperatorParser.parse_summarize,
    "sort": OperatorParser.parse_sort,
    "order": OperatorParser.parse_sort,
    "top": OperatorParser.parse_top,
    "take": OperatorParser.parse_take,
    "limit": OperatorParser.parse_take,
    "distinct": OperatorParser.parse_distinct,
    "count": OperatorParser.parse_count,
    "sample": OperatorParser.parse_sample,
    "sample-distinct": OperatorParser.parse_sample_distinct,
    "top-nested": OperatorParser.parse_top_nested,
    "make-series": OperatorParser.parse_make_series,
    "join": OperatorParser.parse_join,
    "lookup": OperatorParser.parse_lookup,
    "union": OperatorParser.parse_union,
    "mv-expand": OperatorParser.parse_mv_expand,
    "mvexpand": OperatorParser.parse_mv_expand,
    "mv-apply": OperatorParser.parse_mv_apply,
    "mvapply": OperatorParser.parse_mv_apply,
    "parse": OperatorParser.parse_parse,
    "parse-where": OperatorParser.parse_parse_where,
    "as": OperatorParser.parse_as,
    "serialize": OperatorParser.parse_serialize,
    "getschema": OperatorParser.parse_getschema,
    "render": OperatorParser.parse_render,
    "evaluate": OperatorParser.parse_evaluate,
    "search": OperatorParser.parse_search,
    "invoke": OperatorParser.parse_invoke,
    "fork": OperatorParser.parse_fork,
    "facet": OperatorParser.parse_facet,
    "partition": OperatorParser.parse_partition,
    "scan": OperatorParser.parse_scan,
    "parse-kv": OperatorParser.parse_parse_kv,
    "top-hitters": OperatorParser.parse_top_hitters,
    "consume": OperatorParser.parse_consume,
    "reduce": OperatorParser.parse_reduce,
}
