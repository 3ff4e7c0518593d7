"""The parser's token cursor and the small pieces every part of the grammar shares.

:class:`TokenStream` is the base of the parser mixins (``parse_expressions``, ``parse_sources``,
``parse_operators``, ``parser``): moving over tokens, errors with position, names and name
patterns, ``name=value`` operator parameters, type names and ``(name:type, ...)`` schemas.
"""

from __future__ import annotations

from . import ast
from .errors import KqlSyntaxError, KqlUnsupportedError
from .literals import canonical_type
from .tokens import Token, TokenKind, tokenize
from .types import KustoType

# Tokens after which a word that may start a tabular construct is used as a plain name.
NAME_FOLLOWERS = frozenset({"|", ";", ")", ",", ".", "=", "==", "!=", "<>", "]", "=~", "!~"})


class TokenStream:
    """A cursor over the tokens of one query text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    # ---- cursor

    @property
    def tok(self) -> Token:
        """The current token."""
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        """The token ``ahead`` positions after the current one (EOF past the end)."""
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        """Consume and return the current token (EOF stays)."""
        token = self.tokens[self.index]
        if token.kind is not TokenKind.EOF:
            self.index += 1
        return token

    @staticmethod
    def is_word(token: Token, *texts: str) -> bool:
        """Whether ``token`` is a name or operator spelled as one of ``texts``."""
        return token.kind in (TokenKind.NAME, TokenKind.OP) and token.text in texts

    def at(self, *texts: str) -> bool:
        """Whether the current token is a name or operator spelled as one of ``texts``."""
        return self.is_word(self.tok, *texts)

    def at_eof(self) -> bool:
        return self.tok.kind is TokenKind.EOF

    def accept(self, *texts: str) -> Token | None:
        """Consume the current token if it is one of ``texts``."""
        return self.advance() if self.at(*texts) else None

    def expect(self, text: str, what: str | None = None) -> Token:
        """Consume ``text`` or raise a syntax error naming ``what`` was expected."""
        if not self.at(text):
            raise self.error(f"expected {what or repr(text)}, found {self.describe(self.tok)}")
        return self.advance()

    def at_end_of_operator(self) -> bool:
        """Whether the current token ends a tabular operator (``|``, ``;``, ``)``, ``}`` or EOF)."""
        return self.at_eof() or self.at("|", ";", ")", "}")

    def used_as_name(self, ahead: int = 1) -> bool:
        """Whether the word before ``peek(ahead)`` is used as a plain name rather than a keyword."""
        token = self.peek(ahead)
        return token.kind is TokenKind.EOF or self.is_word(token, *NAME_FOLLOWERS)

    # ---- errors and positions

    @staticmethod
    def describe(token: Token) -> str:
        return "end of query" if token.kind is TokenKind.EOF else repr(token.text)

    def error(self, message: str, token: Token | None = None) -> KqlSyntaxError:
        """A syntax error at ``token`` (default: the current token); at the end of the query, just
        after the last token, so that the snippet shows the line where the query stops."""
        token = token or self.tok
        offset = token.offset
        if token.kind is TokenKind.EOF:
            last = next((t for t in reversed(self.tokens) if t.kind is not TokenKind.EOF), None)
            offset = last.end if last is not None else 0
        return KqlSyntaxError.at(message, self.text, offset)

    def unsupported(self, construct: str, token: Token | None = None) -> KqlUnsupportedError:
        """An error for a construct this engine does not parse."""
        token = token or self.tok
        return KqlUnsupportedError.at(f"{construct} is not supported", self.text, token.offset, construct=construct)

    @staticmethod
    def pos(token: Token) -> ast.Pos:
        return ast.Pos(token.offset, token.line, token.column)

    # ---- names

    def at_name(self, ahead: int = 0) -> bool:
        return self.peek(ahead).kind in (TokenKind.NAME, TokenKind.BRACKETED_NAME)

    def expect_name(self, what: str = "a name") -> str:
        """Consume an identifier (plain or bracketed) and return it."""
        token = self.tok
        if token.kind is TokenKind.NAME:
            return self.advance().text
        if token.kind is TokenKind.BRACKETED_NAME:
            return self.advance().value
        raise self.error(f"expected {what}, found {self.describe(token)}")

    def parse_name_pattern(self) -> str:
        """A name or wildcard pattern written without spaces: ``Security*``, ``*_s``, ``*``."""
        first = self.tok
        if first.kind is TokenKind.BRACKETED_NAME:
            return self.advance().value
        if first.kind is not TokenKind.NAME and not self.at("*"):
            raise self.error(f"expected a name, found {self.describe(first)}")
        parts = [self.advance().text]
        previous = first
        while self.tok.offset == previous.end and (self.tok.kind in (TokenKind.NAME, TokenKind.INT) or self.at("*")):
            previous = self.advance()
            parts.append(previous.text)
        return "".join(parts)

    def parse_dotted_name(self) -> str:
        """``a.b.c`` (as in ``hint.strategy``) as one string."""
        parts = [self.expect_name()]
        while self.at(".") and self.peek().kind is TokenKind.NAME:
            self.advance()
            parts.append(self.advance().text)
        return ".".join(parts)

    # ---- operator parameters

    def at_param(self, allowed: frozenset[str]) -> bool:
        """Whether ``name=`` or ``hint.x=`` for one of the ``allowed`` names starts here."""
        token = self.tok
        if token.kind is not TokenKind.NAME:
            return False
        if token.text == "hint" and self.is_word(self.peek(), "."):
            return True
        return token.text in allowed and self.is_word(self.peek(), "=")

    def parse_params(self, allowed: frozenset[str] = frozenset()) -> list[ast.OperatorParam]:
        """Consume ``name=value`` operator parameters for the ``allowed`` names and any ``hint.*``."""
        params = []
        while self.at_param(allowed):
            start = self.tok
            name = self.parse_dotted_name()
            self.expect("=")
            params.append(ast.OperatorParam(name, self.parse_param_value(), pos=self.pos(start)))
        return params

    def parse_param_value(self) -> ast.Expr:
        """A parameter value: a bare word (as a NameRef, never a call) or a literal."""
        token = self.tok
        if token.kind is TokenKind.NAME:
            self.advance()
            if token.text.lower() in ("true", "false"):
                return ast.Literal(KustoType.BOOL, token.text.lower() == "true", token.text, pos=self.pos(token))
            return ast.NameRef(token.text, pos=self.pos(token))
        if token.kind is TokenKind.BRACKETED_NAME:
            self.advance()
            return ast.NameRef(token.value, pos=self.pos(token))
        if self.at("-", "+") or token.kind in (
            TokenKind.STRING,
            TokenKind.INT,
            TokenKind.REAL,
            TokenKind.TIMESPAN,
            TokenKind.TYPED,
        ):
            return self.parse_unary()  # type: ignore[attr-defined]
        raise self.error(f"expected a parameter value, found {self.describe(token)}")

    @staticmethod
    def split_params(
        params: list[ast.OperatorParam], *typed: str
    ) -> tuple[dict[str, ast.Expr], tuple[ast.OperatorParam, ...]]:
        """Split params into the ``typed`` ones (by name) and the rest (hints)."""
        found = {p.name: p.value for p in params if p.name in typed}
        return found, tuple(p for p in params if p.name not in typed)

    @staticmethod
    def param_text(value: ast.Expr | None) -> str | None:
        """A parameter value as text: the word of a NameRef, the value of a literal."""
        if value is None:
            return None
        if isinstance(value, ast.NameRef):
            return value.name
        if isinstance(value, ast.Literal):
            return str(value.value).lower() if isinstance(value.value, bool) else str(value.value)
        return None

    # ---- types and schemas

    def canonical_type_ahead(self, ahead: int = 0) -> bool:
        """Whether ``peek(ahead)`` is a type name."""
        token = self.peek(ahead)
        return token.kind is TokenKind.NAME and canonical_type(token.text) is not None

    def parse_type(self) -> KustoType:
        """A scalar type name, returned canonical (``double`` -> ``real``)."""
        token = self.tok
        kql_type = canonical_type(token.text) if token.kind is TokenKind.NAME else None
        if kql_type is None:
            raise self.error(f"expected a type name, found {self.describe(token)}")
        self.advance()
        return kql_type

    def parse_schema(self, allow_open: bool = False) -> ast.TabularType:
        """``(name:type, ...)`` (``*`` allowed when ``allow_open``)."""
        start = self.expect("(")
        columns: list[ast.ColumnDecl] = []
        is_open = False
        while not self.at(")"):
            if allow_open and self.at("*"):
                self.advance()
                is_open = True
            else:
                name_token = self.tok
                name = self.expect_name("a column name")
                self.expect(":", "':' and a column type")
                columns.append(ast.ColumnDecl(name, self.parse_type(), pos=self.pos(name_token)))
            if not self.accept(","):
                break
        self.expect(")")
        return ast.TabularType(tuple(columns), is_open, pos=self.pos(start))
