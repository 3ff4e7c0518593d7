"""Operators that reshape rows: top-nested, make-series, mv-expand, mv-apply, parse, parse-where,
parse-kv, scan, reduce, and the sub-pipeline operators fork, facet and partition."""

from __future__ import annotations

from . import ast
from .parse_sources import SourceParser
from .tokens import Token, TokenKind

_MV_EXPAND_PARAMS = frozenset({"bagexpansion", "with_itemindex", "kind"})


class ShapingParser(SourceParser):
    """Row-reshaping operators (mixed into the parser); each method gets the operator's keyword token."""

    def parse_top_nested(self, token: Token) -> ast.TopNested:
        levels = []
        while True:
            level_pos = self.pos(token)
            count = None if self.at("of") else self.parse_expr()
            self.expect("of", "'of' in top-nested")
            key = self.parse_named_expr()
            others = None
            if self.at("with") and self.is_word(self.peek(), "others"):
                self.advance()
                self.advance()
                self.expect("=")
                others = self.parse_expr()
            self.expect("by", "'by' and an aggregation in top-nested")
            aggregate = self.parse_named_expr()
            ascending = bool(self.accept("asc"))
            if not ascending:
                self.accept("desc")
            levels.append(ast.TopNestedLevel(key, aggregate, count, others, ascending, pos=level_pos))
            if not (self.at(",") and self.is_word(self.peek(), "top-nested")):
                return ast.TopNested(tuple(levels), pos=levels[0].pos)
            self.advance()
            token = self.advance()

    def parse_make_series(self, token: Token) -> ast.MakeSeries:
        typed, hints = self.split_params(self.parse_params(frozenset({"kind"})), "kind")
        aggregates = []
        while True:
            item = self.tok
            aggregate = self.parse_named_expr()
            default = None
            if self.at("default") and self.is_word(self.peek(), "="):
                self.advance()
                self.advance()
                default = self.parse_expr()
            aggregates.append(ast.MakeSeriesAggregate(aggregate, default, pos=self.pos(item)))
            if not self.accept(","):
                break
        self.expect("on", "'on' and the axis column of make-series")
        axis = self.parse_additive()
        start = end = None
        if self.at("in") and self.is_word(self.peek(), "range"):
            self.advance()
            self.advance()
            self.expect("(")
            start = self.parse_expr()
            self.expect(",")
            end = self.parse_expr()
            self.expect(",")
            step = self.parse_expr()
            self.expect(")")
        else:
            start = self.parse_expr() if self.accept("from") else None
            end = self.parse_expr() if self.accept("to") else None
            self.expect("step", "'step' in make-series")
            step = self.parse_expr()
        by = self.parse_named_exprs() if self.accept("by") else ()
        kind = self.param_text(typed.get("kind"))
        return ast.MakeSeries(tuple(aggregates), axis, step, start, end, by, kind, hints, pos=self.pos(token))

    # ---- expansion and parsing of values

    def parse_mv_columns(self) -> tuple[ast.MvExpandColumn, ...]:
        columns = []
        while True:
            item = self.tok
            name = None
            if self.at_name() and self.is_word(self.peek(), "="):
                name = self.expect_name()
                self.advance()
            expr = self.parse_expr()
            to_type = None
            if self.at("to") and self.is_word(self.peek(), "typeof"):
                self.advance()
                self.advance()
                self.expect("(")
                to_type = self.parse_type()
                self.expect(")")
            columns.append(ast.MvExpandColumn(expr, name, to_type, pos=self.pos(item)))
            if not self.accept(","):
                return tuple(columns)

    def parse_mv_expand(self, token: Token) -> ast.MvExpand:
        typed, hints = self.split_params(self.parse_params(_MV_EXPAND_PARAMS), *_MV_EXPAND_PARAMS)
        columns = self.parse_mv_columns()
        limit = self.parse_expr() if self.accept("limit") else None
        bag_expansion = self.param_text(typed.get("bagexpansion") or typed.get("kind"))
        with_itemindex = self.param_text(typed.get("with_itemindex"))
        return ast.MvExpand(columns, bag_expansion, with_itemindex, limit, hints, pos=self.pos(token))

    def parse_mv_apply(self, token: Token) -> ast.MvApply:
        typed, hints = self.split_params(self.parse_params(frozenset({"with_itemindex"})), "with_itemindex")
        columns = self.parse_mv_columns()
        limit = self.parse_expr() if self.accept("limit") else None
        self.expect("on", "'on' and the subquery of mv-apply")
        self.expect("(")
        subquery = self.parse_implicit_pipeline()
        self.expect(")")
        with_itemindex = self.param_text(typed.get("with_itemindex"))
        return ast.MvApply(columns, subquery, with_itemindex, limit, hints, pos=self.pos(token))

    def parse_parse_clause(self) -> tuple[ast.Expr, tuple, str | None, str | None]:
        typed, _ = self.split_params(self.parse_params(frozenset({"kind", "flags"})), "kind", "flags")
        expr = self.parse_expr()
        self.expect("with", "'with' and a pattern")
        pattern: list[ast.Literal | ast.Star | ast.ColumnDecl] = []
        while not self.at_end_of_operator():
            item = self.tok
            if item.kind is TokenKind.STRING:
                pattern.append(self.parse_literal())
            elif self.at("*"):
                self.advance()
                pattern.append(ast.Star(pos=self.pos(item)))
            elif self.at_name():
                name = self.expect_name()
                kql_type = self.parse_type() if self.accept(":") else "string"
                pattern.append(ast.ColumnDecl(name, kql_type, pos=self.pos(item)))
            else:
                raise self.error(
                    f"expected a string, '*' or a column in the parse pattern, found {self.describe(item)}"
                )
        if not pattern:
            raise self.error("expected a parse pattern after 'with'")
        return expr, tuple(pattern), self.param_text(typed.get("kind")), self.param_text(typed.get("flags"))

    def parse_parse(self, token: Token) -> ast.Parse:
        return ast.Parse(*self.parse_parse_clause(), pos=self.pos(token))

    def parse_parse_where(self, token: Token) -> ast.ParseWhere:
        return ast.ParseWhere(*self.parse_parse_clause(), pos=self.pos(token))

    def parse_fork(self, token: Token) -> ast.Fork:
        branches = []
        while self.at("(") or (self.at_name() and self.is_word(self.peek(), "=")):
            item = self.tok
            name = None
            if not self.at("("):
                name = self.expect_name()
                self.advance()
            self.expect("(")
            query = self.parse_implicit_pipeline()
            self.expect(")")
            branches.append(ast.ForkBranch(query, name, pos=self.pos(item)))
        if not branches:
            raise self.error("expected '(' and a subquery after fork")
        return ast.Fork(tuple(branches), pos=self.pos(token))

    def parse_facet(self, token: Token) -> ast.Facet:
        self.expect("by", "'by' after facet")
        columns = [self.expect_name("a column name")]
        while self.accept(","):
            columns.append(self.expect_name("a column name"))
        with_query = None
        if self.accept("with"):
            self.expect("(")
            with_query = self.parse_implicit_pipeline()
            self.expect(")")
        return ast.Facet(tuple(columns), with_query, pos=self.pos(token))

    def parse_partition(self, token: Token) -> ast.Partition:
        hints = tuple(self.parse_params())
        self.expect("by", "'by' after partition")
        column = self.expect_name("the partition column")
        if self.accept("{"):
            subquery = self.parse_tabular()
            self.expect("}")
        else:
            self.expect("(", "'(' and a subquery")
            subquery = self.parse_implicit_pipeline()
            self.expect(")")
        return ast.Partition(column, subquery, hints, pos=self.pos(token))

    def parse_scan(self, token: Token) -> ast.Scan:
        typed, _ = self.split_params(self.parse_params(frozenset({"with_match_id"})), "with_match_id")
        declarations: tuple[ast.Param, ...] = ()
        if self.accept("declare"):
            declarations = self.parse_params_decl()  # type: ignore[attr-defined]
        self.expect("with", "'with' and the scan steps")
        self.expect("(")
        steps = []
        while self.at("step"):
            step_token = self.advance()
            name = self.expect_name("a step name")
            output = None
            if self.at("output") and self.is_word(self.peek(), "="):
                self.advance()
                self.advance()
                output = self.expect_name("all, last or none")
            self.expect(":", "':' and the step condition")
            condition = self.parse_expr()
            assignments: tuple[ast.NamedExpr, ...] = ()
            if self.accept("=>"):
                assignments = self.parse_named_exprs()
            self.expect(";", "';' after the scan step")
            steps.append(ast.ScanStep(name, condition, assignments, output, pos=self.pos(step_token)))
        self.expect(")", "')' or another step")
        match_id = self.param_text(typed.get("with_match_id"))
        return ast.Scan(tuple(steps), declarations, match_id, pos=self.pos(token))

    def parse_reduce(self, token: Token) -> ast.Reduce:
        typed, _ = self.split_params(self.parse_params(frozenset({"kind"})), "kind")
        self.expect("by", "'by' after reduce")
        expr = self.parse_expr()
        options = []
        if self.accept("with"):
            while True:
                option_token = self.tok
                name = self.expect_name("threshold or characters")
                self.expect("=")
                options.append(ast.OperatorParam(name, self.parse_param_value(), pos=self.pos(option_token)))
                if not self.accept(","):
                    break
        return ast.Reduce(expr, self.param_text(typed.get("kind")), tuple(options), pos=self.pos(token))

    def parse_parse_kv(self, token: Token) -> ast.ParseKv:
        expr = self.parse_expr()
        self.expect("as", "'as' and the keys of parse-kv")
        keys = self.parse_schema().columns
        options = []
        if self.accept("with"):
            self.expect("(")
            while not self.at(")"):
                option_token = self.tok
                name = self.expect_name("a parse-kv option")
                self.expect("=")
                options.append(ast.OperatorParam(name, self.parse_param_value(), pos=self.pos(option_token)))
                if not self.accept(","):
                    break
            self.expect(")")
        return ast.ParseKv(expr, keys, tuple(options), pos=self.pos(token))
