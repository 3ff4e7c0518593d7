"""Tokenizer for the body of an ARM template expression (the text between the outer brackets)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import ExpressionSyntaxError

__all__ = ["Token", "TokenKind", "tokenize"]


class TokenKind(StrEnum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    COMMA = ","
    DOT = "."
    EOF = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str | int | float | None
    position: int


_PUNCTUATION = {
    "(": TokenKind.LPAREN,
    ")": TokenKind.RPAREN,
    "[": TokenKind.LBRACKET,
    "]": TokenKind.RBRACKET,
    ",": TokenKind.COMMA,
    ".": TokenKind.DOT,
}


def _is_ident_start(ch: str) -> bool:
    return ch.isalpha() or ch in "_$"


def _is_ident_part(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def tokenize(text: str) -> list[Token]:
    """Split an expression body into tokens; the list always ends with an EOF token.

    Strings are single-quoted with ``''`` standing for one quote; numbers are integers (a leading
    ``-`` is part of the literal, as in ARM) or decimals. Raises :class:`ExpressionSyntaxError`.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _PUNCTUATION:
            # ".5" is not a number in ARM; a dot is always member access
            tokens.append(Token(_PUNCTUATION[ch], ch, i))
            i += 1
        elif ch == "'":
            start = i
            i += 1
            parts: list[str] = []
            while True:
                if i >= n:
                    raise ExpressionSyntaxError("Unterminated string literal", text, start)
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        parts.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                parts.append(text[i])
                i += 1
            tokens.append(Token(TokenKind.STRING, "".join(parts), start))
        elif ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
            start = i
            i += 1
            while i < n and text[i].isdigit():
                i += 1
            if i + 1 < n and text[i] == "." and text[i + 1].isdigit():
                i += 1
                while i < n and text[i].isdigit():
                    i += 1
                tokens.append(Token(TokenKind.NUMBER, float(text[start:i]), start))
            else:
                tokens.append(Token(TokenKind.NUMBER, int(text[start:i]), start))
        elif _is_ident_start(ch):
            start = i
            i += 1
            while i < n and _is_ident_part(text[i]):
                i += 1
            tokens.append(Token(TokenKind.IDENT, text[start:i], start))
        else:
            raise ExpressionSyntaxError(f"Unexpected character {ch!r}", text, i)
    tokens.append(Token(TokenKind.EOF, None, n))
    return tokens
