"""Scalar expressions: precedence climbing from ``or`` down to primaries, dynamic literals, calls.

Precedence, loosest first: ``or`` < ``and`` < comparisons and string/list operators (``==``,
``has``, ``in``, ``between``...) < ``+ -`` < ``* / %`` < unary ``- +`` < postfix (``.member``,
``[index]``). Comparisons chain to the left.
"""

from __future__ import annotations

from typing import Any

from . import ast
from .literals import dynamic_member_value, typed_literal_value
from .parse_base import TokenStream
from .tokens import STRING_OPERATOR_STEMS, TokenKind
from .types import KustoType

COMPARISON_OPERATORS = frozenset({"==", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~"})
# Legacy spellings Kusto still accepts.
_LEGACY_STRING_OPERATORS = ("containscs", "notcontains", "notcontainscs", "like", "notlike", "likecs", "notlikecs")
STRING_OPERATORS = frozenset(
    [*STRING_OPERATOR_STEMS, *(f"!{stem}" for stem in STRING_OPERATOR_STEMS), *_LEGACY_STRING_OPERATORS]
)
LIST_OPERATORS = frozenset({"in", "!in", "in~", "!in~", "has_any", "has_all"})
# Functions whose call followed by ".name" is a qualified table reference.
SCOPE_FUNCTIONS = frozenset({"cluster", "database", "workspace", "app", "resource", "arg", "adx", "external_table"})
_NUMERIC_TYPES = frozenset({KustoType.LONG, KustoType.INT, KustoType.REAL, KustoType.DECIMAL, KustoType.TIMESPAN})


class ExpressionParser(TokenStream):
    """Scalar expression grammar (mixed into the parser)."""

    def parse_expr(self) -> ast.Expr:
        """A full scalar expression."""
        return self.parse_or()

    def parse_or(self) -> ast.Expr:
        left = self.parse_and()
        while self.at("or"):
            token = self.advance()
            left = ast.BinaryOp("or", left, self.parse_and(), pos=self.pos(token))
        return left

    def parse_and(self) -> ast.Expr:
        left = self.parse_comparison()
        while self.at("and"):
            token = self.advance()
            left = ast.BinaryOp("and", left, self.parse_comparison(), pos=self.pos(token))
        return left

    def parse_comparison(self) -> ast.Expr:
        left = self.parse_additive()
        while True:
            token = self.tok
            if token.kind not in (TokenKind.NAME, TokenKind.OP):
                return left
            text = token.text
            if text in COMPARISON_OPERATORS or text in STRING_OPERATORS:
                self.advance()
                left = ast.BinaryOp(text, left, self.parse_additive(), pos=left.pos)
            elif text == "=" and token.kind is TokenKind.OP:  # Kusto reads a lone "=" in a predicate as "=="
                self.advance()
                left = ast.BinaryOp("==", left, self.parse_additive(), pos=left.pos)
            elif text == "matches" and self.is_word(self.peek(), "regex"):
                self.advance()
                self.advance()
                left = ast.BinaryOp("matches regex", left, self.parse_additive(), pos=left.pos)
            elif text in LIST_OPERATORS:
                self.advance()
                values, subquery = self.parse_list_operand()
                left = ast.In(left, text, values, subquery, pos=left.pos)
            elif text in ("between", "!between"):
                self.advance()
                self.expect("(", "'(' after between")
                low = self.parse_expr()
                self.expect("..", "'..' between the bounds")
                high = self.parse_expr()
                self.expect(")")
                left = ast.Between(left, low, high, text == "!between", pos=left.pos)
            else:
                return left

    def parse_list_operand(self) -> tuple[tuple[ast.Expr, ...], ast.Pipeline | None]:
        """The right side of ``in``/``has_any``...: ``(values...)``, ``(tabular)`` or a bare operand."""
        if not self.at("("):
            return (self.parse_additive(),), None
        self.advance()
        items: list[ast.Expr | ast.Pipeline] = []
        while not self.at(")"):
            items.append(self.parse_value())  # type: ignore[attr-defined]
            if not self.accept(","):
                break
        self.expect(")", "')' or ','")
        if len(items) == 1 and isinstance(items[0], ast.Pipeline):
            return (), items[0]
        return tuple(ast.Subquery(v, pos=v.pos) if isinstance(v, ast.Pipeline) else v for v in items), None

    def parse_additive(self) -> ast.Expr:
        left = self.parse_multiplicative()
        while self.at("+", "-"):
            token = self.advance()
            left = ast.BinaryOp(token.text, left, self.parse_multiplicative(), pos=left.pos)
        return left

    def parse_multiplicative(self) -> ast.Expr:
        left = self.parse_unary()
        while self.at("*", "/", "%"):
            token = self.advance()
            left = ast.BinaryOp(token.text, left, self.parse_unary(), pos=left.pos)
        return left

    def parse_unary(self) -> ast.Expr:
        """Unary ``-``/``+``; a minus before a number or timespan literal folds into the literal."""
        if not self.at("-", "+"):
            return self.parse_postfix()
        token = self.advance()
        operand = self.parse_unary()
        if (
            token.text == "-"
            and isinstance(operand, ast.Literal)
            and operand.type in _NUMERIC_TYPES
            and operand.value is not None
        ):
            return ast.Literal(operand.type, -operand.value, "-" + operand.text, pos=self.pos(token))
        return ast.UnaryOp(token.text, operand, pos=self.pos(token))

    def parse_postfix(self) -> ast.Expr:
        expr = self.parse_primary()
        while True:
            token = self.tok
            if self.at(".") and self.at_name(1):
                self.advance()
                expr = ast.MemberAccess(expr, self.expect_name(), pos=expr.pos)
            elif self.at(".") and self.is_word(self.peek(), "["):  # x.[key]: a computed member
                self.advance()
                self.advance()
                index = self.parse_expr()
                self.expect("]")
                expr = ast.Index(expr, index, pos=expr.pos)
            elif token.kind is TokenKind.BRACKETED_NAME:
                self.advance()
                index = ast.Literal(KustoType.STRING, token.value, token.text, pos=self.pos(token))
                expr = ast.Index(expr, index, pos=expr.pos)
            elif self.at("["):
                self.advance()
                index = self.parse_expr()
                self.expect("]")
                expr = ast.Index(expr, index, pos=expr.pos)
            else:
                return expr

    def parse_primary(self) -> ast.Expr:
        token = self.tok
        pos = self.pos(token)
        kind = token.kind
        if kind in (TokenKind.INT, TokenKind.REAL, TokenKind.TIMESPAN, TokenKind.STRING, TokenKind.TYPED):
            return self.parse_literal()
        if kind is TokenKind.BRACKETED_NAME:
            self.advance()
            return ast.NameRef(token.value, pos=pos)
        if kind is TokenKind.NAME:
            return self.parse_name_primary()
        if self.at("("):
            self.advance()
            value = self.parse_value()  # type: ignore[attr-defined]
            self.expect(")", "')'")
            return ast.Subquery(value, pos=pos) if isinstance(value, ast.Pipeline) else value
        if self.at("*"):
            self.advance()
            return ast.Star(pos=pos)
        raise self.error(f"expected an expression, found {self.describe(token)}")

    def parse_literal(self) -> ast.Literal:
        token = self.advance()
        pos = self.pos(token)
        if token.kind is TokenKind.INT:
            return ast.Literal(KustoType.LONG, token.value, token.text, pos=pos)
        if token.kind is TokenKind.REAL:
            return ast.Literal(KustoType.REAL, token.value, token.text, pos=pos)
        if token.kind is TokenKind.TIMESPAN:
            return ast.Literal(KustoType.TIMESPAN, token.value, token.text, pos=pos)
        if token.kind is TokenKind.STRING:
            return ast.Literal(KustoType.STRING, token.value, token.text, pos=pos)
        try:
            kql_type, value = typed_literal_value(*token.value)
        except ValueError as exc:
            raise self.error(str(exc), token) from None
        return ast.Literal(kql_type, value, token.text, pos=pos)

    def parse_name_primary(self) -> ast.Expr:
        token = self.tok
        pos = self.pos(token)
        text = token.text
        follows_paren = self.is_word(self.peek(), "(")
        if text.lower() in ("true", "false") and not follows_paren:
            self.advance()
            return ast.Literal(KustoType.BOOL, text.lower() == "true", text, pos=pos)
        if text in ("$left", "$right"):
            self.advance()
            if not self.accept(".") and self.tok.kind is not TokenKind.BRACKETED_NAME:
                raise self.error(f"expected '.' and a column name after {text}")
            return ast.JoinSideRef(text[1:], self.expect_name("a column name"), pos=pos)
        if not follows_paren:
            self.advance()
            return ast.NameRef(text, pos=pos)
        if text == "dynamic":
            return self.parse_dynamic()
        if text == "typeof":
            self.advance()
            if self.canonical_type_ahead(1) and self.is_word(self.peek(2), ")"):
                self.advance()
                kql_type = self.parse_type()
                self.advance()
                return ast.TypeOf(kql_type, pos=pos)
            return ast.TypeOf(self.parse_schema(allow_open=True), pos=pos)
        if text == "toscalar":
            self.advance()
            self.advance()
            self.parse_params()  # toscalar(hint.materialized=true, ...) hints are ignored
            query = self.to_pipeline(self.parse_value())  # type: ignore[attr-defined]
            self.expect(")", "')' closing toscalar(")
            return ast.ToScalar(query, pos=pos)
        call = self.parse_call()
        if text in SCOPE_FUNCTIONS and self.at("."):
            source = self.parse_qualified_table(call)  # type: ignore[attr-defined]
            return ast.Subquery(ast.Pipeline(source, pos=pos), pos=pos)
        return call

    def parse_call(self) -> ast.Call:
        """``name(args)`` with positional and ``name = value`` arguments."""
        token = self.advance()
        self.expect("(")
        args: list[ast.Expr] = []
        named: list[ast.NamedArg] = []
        while not self.at(")"):
            arg_token = self.tok
            if self.at_name() and self.is_word(self.peek(), "="):
                name = self.expect_name()
                self.advance()
                named.append(ast.NamedArg(name, self.parse_expr(), pos=self.pos(arg_token)))
            else:
                value = self.parse_value()  # type: ignore[attr-defined]
                args.append(ast.Subquery(value, pos=value.pos) if isinstance(value, ast.Pipeline) else value)
            if not self.accept(","):
                break
        self.expect(")", "')' or ','")
        return ast.Call(token.text, tuple(args), tuple(named), pos=self.pos(token))

    # ---- dynamic literals

    def parse_dynamic(self) -> ast.Literal:
        start = self.advance()
        self.expect("(")
        value = self.parse_json_value()
        end = self.expect(")", "')' closing dynamic(")
        return ast.Literal(KustoType.DYNAMIC, value, self.text[start.offset : end.end], pos=self.pos(start))

    def parse_json_value(self) -> Any:
        """One JSON-like value inside ``dynamic(...)``."""
        token = self.tok
        if self.at("{"):
            return self.parse_json_object()
        if self.at("["):
            self.advance()
            items = []
            while not self.at("]"):
                items.append(self.parse_json_value())
                if not self.accept(","):
                    break
            self.expect("]", "']' or ','")
            return items
        if token.kind is TokenKind.BRACKETED_NAME:  # ["a"] tokenizes as one bracketed name
            self.advance()
            return [token.value]
        if token.kind is TokenKind.NAME and token.text in ("true", "false", "null"):
            self.advance()
            return {"true": True, "false": False, "null": None}[token.text]
        if token.kind is TokenKind.NAME and token.text == "dynamic" and self.is_word(self.peek(), "("):
            return self.parse_dynamic().value
        if token.kind in (TokenKind.INT, TokenKind.REAL, TokenKind.TIMESPAN, TokenKind.STRING, TokenKind.TYPED):
            literal = self.parse_literal()
            return dynamic_member_value(literal.type, literal.value)
        if self.at("-", "+") and self.peek().kind in (TokenKind.INT, TokenKind.REAL, TokenKind.TIMESPAN):
            sign = -1 if self.advance().text == "-" else 1
            literal = self.parse_literal()
            return dynamic_member_value(literal.type, sign * literal.value)
        raise self.error(f"expected a dynamic value, found {self.describe(token)}")

    def parse_json_object(self) -> dict[str, Any]:
        self.expect("{")
        result: dict[str, Any] = {}
        while not self.at("}"):
            key_token = self.tok
            if key_token.kind in (TokenKind.STRING, TokenKind.NAME):
                self.advance()
                key = key_token.value if key_token.kind is TokenKind.STRING else key_token.text
            else:
                raise self.error(f"expected a property name, found {self.describe(key_token)}")
            self.expect(":", "':' after a property name")
            result[key] = self.parse_json_value()
            if not self.accept(","):
                break
        self.expect("}", "'}' or ','")
        return result

    # ---- clauses built from expressions

    def parse_assignment_names(self) -> tuple[str, ...]:
        """Consume ``name =`` or ``(a, b) =`` if present; return the names (empty if none)."""
        if self.at_name() and self.is_word(self.peek(), "="):
            name = self.expect_name()
            self.advance()
            return (name,)
        if self.at("("):
            ahead = 1
            while self.at_name(ahead) and self.is_word(self.peek(ahead + 1), ",", ")"):
                if self.is_word(self.peek(ahead + 1), ")"):
                    if self.is_word(self.peek(ahead + 2), "="):
                        self.advance()
                        names = []
                        while not self.at(")"):
                            names.append(self.expect_name())
                            self.accept(",")
                        self.advance()
                        self.advance()
                        return tuple(names)
                    break
                ahead += 2
        return ()

    def parse_named_expr(self) -> ast.NamedExpr:
        """``[name =] expr`` or ``(a, b) = expr``."""
        token = self.tok
        names = self.parse_assignment_names()
        return ast.NamedExpr(self.parse_expr(), names, pos=self.pos(token))

    def parse_named_exprs(self) -> tuple[ast.NamedExpr, ...]:
        """A comma-separated list of named expressions."""
        items = [self.parse_named_expr()]
        while self.accept(","):
            items.append(self.parse_named_expr())
        return tuple(items)

    def parse_sort_key(self) -> ast.SortKey:
        """``expr [asc|desc] [nulls first|last]``."""
        token = self.tok
        expr = self.parse_expr()
        ascending = False
        if self.accept("asc"):
            ascending = True
        else:
            self.accept("desc")
        nulls = None
        if self.at("nulls") and self.is_word(self.peek(), "first", "last"):
            self.advance()
            nulls = self.advance().text
        return ast.SortKey(expr, ascending, nulls, pos=self.pos(token))

    def parse_sort_keys(self) -> tuple[ast.SortKey, ...]:
        keys = [self.parse_sort_key()]
        while self.accept(","):
            keys.append(self.parse_sort_key())
        return tuple(keys)
