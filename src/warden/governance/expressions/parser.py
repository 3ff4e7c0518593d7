"""Parser for ARM template expressions: ``"[concat('a', parameters('b'))]"`` -> a :mod:`.nodes` tree.

A JSON string is an expression when it starts with ``[`` and ends with ``]``; a string starting
with ``[[`` is the escape for a literal string beginning with ``[`` (one bracket is removed).
Anything else is a plain literal.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .errors import ExpressionSyntaxError
from .nodes import Call, Index, Literal, Node, Property
from .tokens import Token, TokenKind, tokenize

__all__ = ["is_expression", "parse", "parse_expression", "parse_value"]

_MAX_DEPTH = 64  # Azure's documented limit on nested function calls


def is_expression(value: Any) -> bool:
    """Return whether ``value`` is a string ARM evaluates as an expression."""
    return isinstance(value, str) and len(value) >= 2 and value[0] == "[" and value[-1] == "]" and value[1] != "["


def parse_value(value: Any) -> Node:
    """Return the tree for a JSON value: an expression string is parsed, ``[[...`` unescaped, the rest literal.

    Raises :class:`ExpressionSyntaxError` for a malformed expression.
    """
    if isinstance(value, str) and value.startswith("["):
        if value.startswith("[["):
            return Literal(value[1:])
        if value.endswith("]"):
            return parse_expression(value[1:-1])
    return Literal(value)


def parse(text: str) -> Node:
    """Parse ``text`` as a full JSON string value (alias of :func:`parse_value` for strings)."""
    return parse_value(text)


@lru_cache(maxsize=16_384)
def parse_expression(body: str) -> Node:
    """Parse the body of an expression (without the outer brackets). Raises :class:`ExpressionSyntaxError`."""
    parser = _Parser(body, tokenize(body))
    if parser.peek().kind is TokenKind.EOF:
        raise ExpressionSyntaxError("The expression is empty", body, 0)
    node = parser.expression(0)
    token = parser.peek()
    if token.kind is not TokenKind.EOF:
        raise ExpressionSyntaxError(f"Unexpected {token.kind.value} {token.value!r}", body, token.position)
    return node


class _Parser:
    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind is not TokenKind.EOF:
            self.pos += 1
        return token

    def expect(self, kind: TokenKind) -> Token:
        token = self.advance()
        if token.kind is not kind:
            found = "the end of the expression" if token.kind is TokenKind.EOF else f"{token.value!r}"
            raise ExpressionSyntaxError(f"Expected '{kind.value}' but found {found}", self.text, token.position)
        return token

    def expression(self, depth: int) -> Node:
        if depth > _MAX_DEPTH:
            raise ExpressionSyntaxError(f"Expressions nest deeper than {_MAX_DEPTH} levels", self.text)
        node = self.primary(depth)
        while True:
            token = self.peek()
            if token.kind is TokenKind.DOT:
                self.advance()
                name = self.expect(TokenKind.IDENT)
                node = Property(node, str(name.value))
            elif token.kind is TokenKind.LBRACKET:
                self.advance()
                index = self.expression(depth + 1)
                self.expect(TokenKind.RBRACKET)
                node = Index(node, index)
            else:
                return node

    def primary(self, depth: int) -> Node:
        token = self.advance()
        if token.kind in (TokenKind.STRING, TokenKind.NUMBER):
            return Literal(token.value)
        if token.kind is TokenKind.IDENT:
            name = str(token.value)
            namespace = None
            if (
                self.peek().kind is TokenKind.DOT
                and self.tokens[self.pos + 1].kind is TokenKind.IDENT
                and self.tokens[self.pos + 2].kind is TokenKind.LPAREN
            ):
                # user-defined function: namespace.name(...)
                self.advance()
                namespace, name = name, str(self.advance().value)
            if self.peek().kind is not TokenKind.LPAREN:
                raise ExpressionSyntaxError(
                    f"'{name}' must be followed by '(': only function calls, strings and numbers are values",
                    self.text,
                    token.position,
                )
            self.advance()
            args: list[Node] = []
            if self.peek().kind is not TokenKind.RPAREN:
                while True:
                    args.append(self.expression(depth + 1))
                    if self.peek().kind is TokenKind.COMMA:
                        self.advance()
                        continue
                    break
            self.expect(TokenKind.RPAREN)
            return Call(name, tuple(args), token.position, namespace)
        found = "the end of the expression" if token.kind is TokenKind.EOF else repr(token.value)
        raise ExpressionSyntaxError(f"Unexpected {found}", self.text, token.position)
