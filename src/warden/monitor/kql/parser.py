"""KQL parser: text -> :class:`~warden.monitor.kql.ast.Query`, by recursive descent.

The grammar is split over mixins, each a small module: ``parse_base`` (token cursor, names,
parameters, schemas), ``parse_expressions`` (scalar expressions), ``parse_sources`` (pipelines
and sources), ``parse_operators`` (one method per tabular operator). This module holds the
statements (``let``, ``set``, ``declare query_parameters``, tabular expression statements) and
the entry point :func:`parse`.
"""

from __future__ import annotations

import re

from . import ast
from .errors import KqlSyntaxError
from .parse_operators import OperatorParser
from .tokens import TokenKind

# Statements KQL has that this parser refuses by name.
_UNSUPPORTED_STATEMENTS = {"alias": "the alias statement", "restrict": "the restrict statement", "pattern": "patterns"}
_MAX_DEPTH_MESSAGE = "the query is nested too deeply"
_BLANK_LINE = re.compile(r"\n[ \t\r\ufeff]*\n")


class Parser(OperatorParser):
    """Parses one query text; use :func:`parse`."""

    def parse_query(self) -> ast.Query:
        """The whole text: ``;``-separated statements, at least one of them tabular."""
        statements: list[ast.Statement] = []
        while not self.at_eof():
            if self.accept(";"):
                continue
            statements.append(self.parse_statement())
            if not self.at_eof() and not self.after_blank_line():
                self.expect(";", "';' or '|'" if isinstance(statements[-1], ast.Pipeline) else "';'")
        if not any(isinstance(s, ast.Pipeline) for s in statements):
            raise self.error("expected a tabular expression: the query has no statement producing a result")
        return ast.Query(tuple(statements), pos=ast.Pos(0, 1, 1))

    def after_blank_line(self) -> bool:
        """Whether an empty line separates the current token from the previous one.

        Log Analytics and Kusto Explorer treat an empty line as the end of a query, and saved query
        files often hold several queries so separated: where a ``;`` is missing after a complete
        statement, an empty line ends it too (the last tabular statement stays the result).
        """
        previous = self.tokens[self.index - 1] if self.index else None
        gap = self.text[previous.end if previous else 0 : self.tok.offset]
        return _BLANK_LINE.search(gap) is not None

    def parse_statement(self) -> ast.Statement:
        token = self.tok
        if token.kind is TokenKind.NAME and not self.used_as_name():
            if token.text == "let":
                return self.parse_let()
            if token.text == "set" and self.at_name(1):
                return self.parse_set()
            if token.text == "declare" and self.is_word(self.peek(), "query_parameters"):
                return self.parse_declare()
            if token.text == "declare" and self.is_word(self.peek(), "pattern"):
                raise self.unsupported("pattern declarations", token)
            if token.text in _UNSUPPORTED_STATEMENTS and self.at_name(1):
                raise self.unsupported(_UNSUPPORTED_STATEMENTS[token.text], token)
        return self.parse_tabular()

    def parse_let(self) -> ast.LetStatement:
        token = self.advance()
        name = self.expect_name("a name after let")
        self.expect("=", "'=' after the let name")
        value: ast.Expr | ast.Pipeline | ast.FunctionDef
        if self.at("view") and self.is_word(self.peek(), "("):
            self.advance()
            value = self.parse_function_def(view=True)
        elif self.at_function_signature():
            value = self.parse_function_def(view=False)
        else:
            value = self.parse_value()
        return ast.LetStatement(name, value, pos=self.pos(token))

    def at_function_signature(self) -> bool:
        """Whether ``(`` starts a parameter list: ``() {`` or ``(name:``."""
        if not self.at("("):
            return False
        if self.is_word(self.peek(), ")"):
            return self.is_word(self.peek(2), "{")
        return self.at_name(1) and self.is_word(self.peek(2), ":")

    def parse_function_def(self, view: bool) -> ast.FunctionDef:
        token = self.tok
        params = self.parse_params_decl()
        body_token = self.expect("{", "'{' and the function body")
        lets: list[ast.LetStatement] = []
        result: ast.Expr | ast.Pipeline | None = None
        while not self.at("}"):
            if self.accept(";"):
                continue
            if result is not None:
                raise self.error("expected '}' after the function's result expression")
            if self.at("let") and not self.used_as_name():
                lets.append(self.parse_let())
            else:
                result = self.parse_value()
        if result is None:
            raise self.error("expected the function's result expression before '}'")
        self.expect("}")
        body = ast.FunctionBody(tuple(lets), result, pos=self.pos(body_token))
        return ast.FunctionDef(params, body, view, pos=self.pos(token))

    def parse_params_decl(self) -> tuple[ast.Param, ...]:
        """``(name:type [= default], T:(col:type, *), ...)``."""
        self.expect("(")
        params = []
        while not self.at(")"):
            token = self.tok
            name = self.expect_name("a parameter name")
            self.expect(":", "':' and the parameter type")
            kql_type: str | ast.TabularType
            kql_type = self.parse_schema(allow_open=True) if self.at("(") else self.parse_type()
            default = self.parse_expr() if self.accept("=") else None
            params.append(ast.Param(name, kql_type, default, pos=self.pos(token)))
            if not self.accept(","):
                break
        self.expect(")", "')' or ','")
        return tuple(params)

    def parse_set(self) -> ast.SetStatement:
        token = self.advance()
        name = self.parse_dotted_name()
        value = self.parse_expr() if self.accept("=") else None
        return ast.SetStatement(name, value, pos=self.pos(token))

    def parse_declare(self) -> ast.DeclareQueryParameters:
        token = self.advance()
        self.advance()
        return ast.DeclareQueryParameters(self.parse_params_decl(), pos=self.pos(token))


def parse(text: str) -> ast.Query:
    """Parse a KQL query.

    Returns:
        The query's syntax tree.

    Raises:
        KqlSyntaxError: the text is not valid KQL (with line, column and a caret snippet).
        KqlUnsupportedError: the text uses a construct this engine does not parse (fork of an
            unknown kind, ``scan``, graph operators...), naming it and its position.
    """
    parser = Parser(text)
    try:
        return parser.parse_query()
    except RecursionError:
        raise KqlSyntaxError.at(_MAX_DEPTH_MESSAGE, text, parser.tok.offset) from None
