"""Tabular expressions and what they start from.

A tabular expression is a source followed by ``| operator`` steps. Where a position may hold
either a scalar or a tabular value (let values, call arguments, parenthesized expressions, the
right side of ``in``) :meth:`SourceParser.parse_value` decides: the keyword sources (``datatable``,
``range``, ``print``, ``union``, ``search``, ``find``, ``evaluate``, ``externaldata``,
``materialize``) and anything followed by a pipe are tabular, everything else is scalar.
"""

from __future__ import annotations

from . import ast
from .parse_expressions import SCOPE_FUNCTIONS, ExpressionParser
from .tokens import Token, TokenKind
from .types import KustoType

_UNION_PARAMS = frozenset({"kind", "withsource", "isfuzzy"})


class SourceParser(ExpressionParser):
    """Pipelines and sources (mixed into the parser)."""

    # ---- scalar-or-tabular

    def parse_value(self) -> ast.Expr | ast.Pipeline:
        """A value that may be scalar or tabular; tabular values come back as a :class:`Pipeline`."""
        source = self.parse_keyword_source()
        if source is not None:
            return self.parse_pipeline_rest(source)
        token = self.tok
        expr = self.parse_expr()
        if self.at("|"):
            return self.parse_pipeline_rest(self.expr_to_source(expr, token))
        if isinstance(expr, ast.Subquery):
            return expr.query
        return expr

    def parse_tabular(self) -> ast.Pipeline:
        """A tabular expression."""
        token = self.tok
        return self.to_pipeline(self.parse_value(), token)

    def to_pipeline(self, value: ast.Expr | ast.Pipeline, token: Token | None = None) -> ast.Pipeline:
        """``value`` as a pipeline: a table name or function call becomes the source of an empty one."""
        if isinstance(value, ast.Pipeline):
            return value
        return ast.Pipeline(self.expr_to_source(value, token), pos=value.pos)

    def expr_to_source(self, expr: ast.Expr, token: Token | None = None) -> ast.Source:
        """The tabular reading of a scalar-looking expression (name -> table, call -> tabular call)."""
        if isinstance(expr, ast.Subquery):
            query = expr.query
            return query.source if not query.operators else query
        if isinstance(expr, ast.NameRef):
            return ast.TableRef(expr.name, pos=expr.pos)
        if isinstance(expr, ast.Call):
            return ast.TabularCall(expr, pos=expr.pos)
        token = token or self.tok
        raise self.error("expected a tabular expression (a table, a function call or a parenthesized query)", token)

    def parse_pipeline_rest(self, source: ast.Source) -> ast.Pipeline:
        """``| operator`` steps after ``source``."""
        operators = []
        while self.accept("|"):
            operators.append(self.parse_operator())  # type: ignore[attr-defined]
        return ast.Pipeline(source, tuple(operators), pos=source.pos)

    def parse_paren_tabular(self) -> ast.Pipeline:
        """``( tabular expression )``."""
        self.expect("(")
        query = self.parse_tabular()
        self.expect(")", "')' closing the subquery")
        return query

    def parse_implicit_pipeline(self) -> ast.Pipeline:
        """Operators applied to an implicit input (``mv-apply ... on (...)``, ``fork (...)``)."""
        token = self.tok
        self.accept("|")
        operators = [self.parse_operator()]  # type: ignore[attr-defined]
        while self.accept("|"):
            operators.append(self.parse_operator())  # type: ignore[attr-defined]
        pos = self.pos(token)
        return ast.Pipeline(ast.ImplicitSource(pos=pos), tuple(operators), pos=pos)

    # ---- sources

    def parse_keyword_source(self) -> ast.Source | None:
        """A source introduced by a keyword, or None when the current token starts no such source."""
        token = self.tok
        if token.kind is not TokenKind.NAME:
            return None
        text = token.text
        paren_follows = self.is_word(self.peek(), "(")
        if text == "datatable" and paren_follows:
            return self.parse_datatable()
        if text in ("externaldata", "external_data") and paren_follows:
            return self.parse_externaldata()
        if text == "materialize" and paren_follows:
            return self.parse_materialize()
        if text == "range" and self.at_name(1) and self.is_word(self.peek(2), "from"):
            return self.parse_range()
        if self.used_as_name():
            return None
        if text == "print":
            self.advance()
            columns = () if self.at_end_of_operator() else self.parse_named_exprs()
            return ast.Print(columns, pos=self.pos(token))
        if text == "union":
            self.advance()
            return self.parse_union_body(token)
        if text == "search":
            self.advance()
            return self.parse_search_body(token)
        if text == "evaluate":
            self.advance()
            return self.parse_evaluate_body(token)
        if text == "find":
            return self.parse_find()
        return None

    def parse_named_source(self, wildcards: bool = False) -> ast.Source:
        """A table by name (``wildcards``: patterns such as ``Security*``), a qualified table or a call."""
        token = self.tok
        if token.kind is TokenKind.NAME and self.is_word(self.peek(), "("):
            source = self.parse_keyword_source()
            if source is not None:
                return source
            call = self.parse_call()
            if call.name in SCOPE_FUNCTIONS and self.at("."):
                return self.parse_qualified_table(call)
            return ast.TabularCall(call, pos=call.pos)
        name = self.parse_name_pattern() if wildcards else self.expect_name("a table name")
        return ast.TableRef(name, pos=self.pos(token))

    def parse_qualified_table(self, scope: ast.Call) -> ast.QualifiedTableRef:
        """The rest of ``cluster(...).database(...).Table`` after the first call."""
        scopes = [scope]
        while self.accept("."):
            if self.tok.kind is TokenKind.NAME and self.is_word(self.peek(), "("):
                scopes.append(self.parse_call())
                continue
            return ast.QualifiedTableRef(tuple(scopes), self.parse_name_pattern(), pos=scope.pos)
        raise self.error(f"expected '.' and a table name after {scopes[-1].name}(...)")

    def parse_datatable(self) -> ast.Datatable:
        token = self.advance()
        schema = self.parse_schema()
        values = self.parse_bracketed_values()
        return ast.Datatable(schema.columns, values, pos=self.pos(token))

    def parse_bracketed_values(self) -> tuple[ast.Expr, ...]:
        """``[v1, v2, ...]`` (a trailing comma allowed); ``["x"]`` arrives as one bracketed-name token."""
        token = self.tok
        if token.kind is TokenKind.BRACKETED_NAME:
            self.advance()
            return (ast.Literal(KustoType.STRING, token.value, token.text, pos=self.pos(token)),)
        self.expect("[", "'[' and the values")
        values = []
        while not self.at("]"):
            values.append(self.parse_expr())
            if not self.accept(","):
                break
        self.expect("]", "']' or ','")
        return tuple(values)

    def parse_externaldata(self) -> ast.ExternalData:
        token = self.advance()
        schema = self.parse_schema()
        uris = self.parse_bracketed_values()
        properties = []
        if self.accept("with"):
            self.expect("(")
            while not self.at(")"):
                name_token = self.tok
                name = self.expect_name("a property name")
                self.expect("=")
                properties.append(ast.OperatorParam(name, self.parse_param_value(), pos=self.pos(name_token)))
                if not self.accept(","):
                    break
            self.expect(")")
        return ast.ExternalData(schema.columns, uris, tuple(properties), pos=self.pos(token))

    def parse_materialize(self) -> ast.Materialize:
        token = self.advance()
        return ast.Materialize(self.parse_paren_tabular(), pos=self.pos(token))

    def parse_range(self) -> ast.Range:
        token = self.advance()
        column = self.expect_name("the range column name")
        self.expect("from")
        start = self.parse_expr()
        self.expect("to")
        end = self.parse_expr()
        self.expect("step")
        return ast.Range(column, start, end, self.parse_expr(), pos=self.pos(token))

    def parse_table_list(self) -> tuple[str, ...]:
        """``in (T1, Sec*, ...)`` of search and find."""
        self.expect("in")
        self.expect("(")
        tables = [self.parse_name_pattern()]
        while self.accept(","):
            tables.append(self.parse_name_pattern())
        self.expect(")")
        return tuple(tables)

    # ---- keyword sources that are operators too

    def parse_union_body(self, token: Token) -> ast.Union:
        typed, hints = self.split_params(self.parse_params(_UNION_PARAMS), *_UNION_PARAMS)
        tables = []
        while True:
            if self.at("("):
                tables.append(self.parse_paren_tabular())
            else:
                source = self.parse_named_source(wildcards=True)
                tables.append(ast.Pipeline(source, pos=source.pos))
            if not self.accept(","):
                break
        isfuzzy = self.param_text(typed.get("isfuzzy"))
        return ast.Union(
            tuple(tables),
            kind=self.param_text(typed.get("kind")),
            isfuzzy=None if isfuzzy is None else isfuzzy.lower() == "true",
            withsource=self.param_text(typed.get("withsource")),
            hints=hints,
            pos=self.pos(token),
        )

    def parse_search_body(self, token: Token) -> ast.Search:
        typed, _ = self.split_params(self.parse_params(frozenset({"kind"})), "kind")
        tables = self.parse_table_list() if self.at("in") and self.is_word(self.peek(), "(") else ()
        predicate = self.parse_expr()
        return ast.Search(predicate, tables, self.param_text(typed.get("kind")), pos=self.pos(token))

    def parse_evaluate_body(self, token: Token) -> ast.Evaluate:
        hints = tuple(self.parse_params())
        if not (self.tok.kind is TokenKind.NAME and self.is_word(self.peek(), "(")):
            raise self.error(f"expected a plugin call after evaluate, found {self.describe(self.tok)}")
        plugin = self.parse_call()
        schema = self.parse_schema(allow_open=True) if self.accept(":") else None
        return ast.Evaluate(plugin, schema, hints, pos=self.pos(token))

    def parse_find(self) -> ast.Find:
        token = self.advance()
        typed, _ = self.split_params(self.parse_params(frozenset({"withsource"})), "withsource")
        tables = self.parse_table_list() if self.at("in") else ()
        self.expect("where")
        predicate = self.parse_expr()
        project: list[ast.Expr | ast.ColumnDecl] = []
        smart = bool(self.accept("project-smart"))
        if not smart and self.accept("project"):
            while True:
                item_token = self.tok
                if self.at_name() and self.is_word(self.peek(), ":"):
                    name = self.expect_name()
                    self.advance()
                    project.append(ast.ColumnDecl(name, self.parse_type(), pos=self.pos(item_token)))
                else:
                    project.append(self.parse_expr())
                if not self.accept(","):
                    break
        withsource = self.param_text(typed.get("withsource"))
        return ast.Find(predicate, tables, withsource, tuple(project), smart, pos=self.pos(token))
