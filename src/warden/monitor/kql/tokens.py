"""KQL tokenizer: text -> list of :class:`Token`, ending with an ``EOF`` token.

KQL keywords are contextual, so words come out as ``NAME`` tokens and the parser decides what
they mean. The tokenizer does the lexical work the parser should not have to:

* dashed keywords (``project-away``, ``mv-expand``...) are one ``NAME``; negated word operators
  (``!has``, ``!in~``, ``!startswith_cs``...) and ``in~`` are one ``OP``;
* ``['name']`` / ``["name"]`` is one ``BRACKETED_NAME`` (value: the name). In postfix position
  the parser reads it as an index by string (``x["k"]``), elsewhere as a quoted identifier;
* string literals of every form are decoded (``'..'``, ``".."`` with backslash escapes,
  verbatim ``@".."``, obfuscated ``h".."``, multi-line ```` ```..``` ````), and adjacent string
  literals are merged into one token, as KQL concatenates them;
* numbers: ``INT`` (value ``int``) and ``REAL`` (value ``float``); a number glued to a unit is a
  ``TIMESPAN`` (value: 100 ns ticks, ``int``); a number glued to other letters is a ``NAME``
  (KQL names may start with digits: ``90th_Percentile``);
* ``datetime(...)``, ``timespan(...)``, ``guid(...)``, ``bool(...)``, ``int(...)``, ``long(...)``,
  ``real(...)``, ``decimal(...)`` (and their aliases) are one ``TYPED`` token whose value is
  ``(type word, raw text inside the parentheses)``, as ``datetime(2018-07-01 12:00)`` is not
  made of ordinary tokens (type words are case-sensitive, as in KQL). ``dynamic(...)`` is *not*
  a typed token: its JSON-like body is tokenized normally and parsed by the parser.

Every token keeps its ``offset`` (0-based) and ``end`` in the text, and its 1-based ``line`` and
``column``. Errors are :class:`KqlSyntaxError` with position.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import KqlSyntaxError
from .literals import timespan_ticks
from .types import KustoType, lookup_type


class TokenKind(StrEnum):
    """What a token is; see the module docstring."""

    NAME = "name"
    BRACKETED_NAME = "bracketed_name"
    STRING = "string"
    INT = "int"
    REAL = "real"
    TIMESPAN = "timespan"
    TYPED = "typed"
    OP = "op"
    EOF = "eof"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, exact source ``text``, decoded ``value`` and position."""

    kind: TokenKind
    text: str
    value: Any
    offset: int
    end: int
    line: int
    column: int

    def __repr__(self) -> str:
        return f"Token({self.kind.value}, {self.text!r}, {self.line}:{self.column})"


DASHED_KEYWORDS = frozenset(
    {
        "project-away",
        "project-keep",
        "project-rename",
        "project-reorder",
        "project-smart",
        "mv-expand",
        "mv-apply",
        "parse-where",
        "parse-kv",
        "top-nested",
        "top-hitters",
        "make-series",
        "make-graph",
        "sample-distinct",
        "graph-match",
        "graph-merge",
        "graph-to-table",
        "graph-shortest-paths",
        "graph-mark-components",
        "execute-and-cache",
        "assert-schema",
    }
)
_DASH_PREFIXES = frozenset(k.split("-")[0] for k in DASHED_KEYWORDS)

# KQL's word-shaped string operators; each also has a negated form with a leading "!".
STRING_OPERATOR_STEMS = (
    "has",
    "has_cs",
    "hasprefix",
    "hasprefix_cs",
    "hassuffix",
    "hassuffix_cs",
    "contains",
    "contains_cs",
    "startswith",
    "startswith_cs",
    "endswith",
    "endswith_cs",
)

# Word operators that take a leading "!" (negation), spelled as one OP token.
NEGATABLE_OPERATORS = frozenset({*STRING_OPERATOR_STEMS, "in", "between"})

# Types whose literal body stays raw text: datetime(2018-07-01 12:00), guid(74be27de-...), real(nan).
_RAW_LITERAL_TYPES = frozenset(
    {KustoType.DATETIME, KustoType.TIMESPAN, KustoType.GUID, KustoType.BOOL}
    | {KustoType.INT, KustoType.LONG, KustoType.REAL, KustoType.DECIMAL}
)

_OPERATORS = ("..", "==", "!=", "<>", "<=", ">=", "=~", "!~", "=>", "->")
_SINGLE_CHAR_OPERATORS = frozenset("|,;()[]{}.:=<>+-*/%?~#")
_NAME_RE = re.compile(r"\$?[^\W\d]\w*")
_NUMBER_RE = re.compile(r"0[xX][0-9a-fA-F]+|([0-9]+)(\.[0-9]+|\.(?![.\w]))?([eE][+-]?[0-9]+)?([A-Za-z_]\w*)?")
_WORD_RE = re.compile(r"\w+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "/": "/", "b": "\b", "f": "\f"}


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def error(self, message: str, offset: int) -> KqlSyntaxError:
        return KqlSyntaxError.at(message, self.text, offset)

    def emit(self, kind: TokenKind, start: int, end: int, value: Any = None) -> None:
        line = bisect.bisect_right(self.line_starts, start)
        column = start - self.line_starts[line - 1] + 1
        self.tokens.append(Token(kind, self.text[start:end], value, start, end, line, column))

    def run(self) -> list[Token]:
        text = self.text
        n = len(text)
        while True:
            self.skip_blanks()
            if self.pos >= n:
                break
            start = self.pos
            ch = text[start]
            if ch in "\"'@" or text.startswith(("```", "~~~"), start):
                if not self.scan_string(start):
                    self.scan_operator()
            elif ch in "hH" and self.is_obfuscated_string(start + 1):
                self.pos += 1
                self.scan_string(start)
            elif ch == "[":
                self.scan_bracket()
            elif "0" <= ch <= "9":
                self.scan_number()
            elif ch == "$" or ch == "_" or ch.isalpha():
                self.scan_word()
            elif ch == "!":
                self.scan_bang()
            else:
                self.scan_operator()
        self.emit(TokenKind.EOF, n, n)
        return merge_adjacent_strings(self.tokens, text)

    def skip_blanks(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch.isspace() or ch == "\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                newline = text.find("\n", self.pos)
                self.pos = n if newline < 0 else newline + 1
            else:
                break

    def is_obfuscated_string(self, at: int) -> bool:
        text = self.text
        if at >= len(text):
            return False
        return text[at] in "\"'" or (text[at] == "@" and text[at + 1 : at + 2] in ("'", '"'))

    def scan_string(self, token_start: int) -> bool:
        """Scan one string literal at ``pos``; ``token_start`` is before the ``h`` of an obfuscated one."""
        text = self.text
        start = self.pos
        if text.startswith(("```", "~~~"), start):
            fence = text[start : start + 3]
            close = text.find(fence, start + 3)
            if close < 0:
                raise self.error("unterminated multi-line string literal", start)
            self.pos = close + 3
            self.emit(TokenKind.STRING, token_start, self.pos, text[start + 3 : close])
            return True
        if text[start] == "@":
            if text[start + 1 : start + 2] not in ("'", '"'):
                return False
            value = self.scan_verbatim(start + 1)
        else:
            value = self.scan_quoted(start)
        self.emit(TokenKind.STRING, token_start, self.pos, value)
        return True

    def scan_verbatim(self, quote_at: int) -> str:
        text, quote = self.text, self.text[quote_at]
        i = quote_at + 1
        parts: list[str] = []
        while True:
            close = text.find(quote, i)
            newline = text.find("\n", i)
            if close < 0 or (0 <= newline < close):
                raise self.error("unterminated string literal", quote_at - 1)
            parts.append(text[i:close])
            if text.startswith(quote * 2, close):
                parts.append(quote)
                i = close + 2
                continue
            self.pos = close + 1
            return "".join(parts)

    def scan_quoted(self, quote_at: int) -> str:
        text, quote = self.text, self.text[quote_at]
        i = quote_at + 1
        n = len(text)
        parts: list[str] = []
        while i < n:
            ch = text[i]
            if ch == quote:
                self.pos = i + 1
                return "".join(parts)
            if ch == "\n":
                break
            if ch == "\\" and i + 1 < n:
                i = self.scan_escape(i, parts)
                continue
            parts.append(ch)
            i += 1
        raise self.error("unterminated string literal", quote_at)

    def scan_escape(self, i: int, parts: list[str]) -> int:
        text = self.text
        nxt = text[i + 1]
        if nxt in _ESCAPES:
            parts.append(_ESCAPES[nxt])
            return i + 2
        if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
            parts.append(chr(int(text[i + 2 : i + 6], 16)))
            return i + 6
        if nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]):
            parts.append(chr(int(text[i + 2 : i + 4], 16)))
            return i + 4
        # Unknown escapes (regexes such as "\d" written without @) keep the backslash.
        parts.append("\\")
        return i + 1

    def scan_bracket(self) -> None:
        """``['name']`` / ``["name"]`` becomes one BRACKETED_NAME token; any other ``[`` an OP."""
        text, start = self.text, self.pos
        m = re.compile(r"\[[ \t]*(@?)(['\"])").match(text, start)
        if m:
            self.pos = m.start(2)
            try:
                value = self.scan_verbatim(m.start(2)) if m.group(1) else self.scan_quoted(m.start(2))
            except KqlSyntaxError:
                value = None
            if value is not None:
                close = re.compile(r"[ \t]*\]").match(text, self.pos)
                if close:
                    self.pos = close.end()
                    self.emit(TokenKind.BRACKETED_NAME, start, self.pos, value)
                    return
        self.pos = start + 1
        self.emit(TokenKind.OP, start, start + 1)

    def scan_number(self) -> None:
        text, start = self.text, self.pos
        m = _NUMBER_RE.match(text, start)
        assert m is not None  # a digit always matches
        self.pos = m.end()
        literal = m.group(0)
        if m.group(1) is None:  # the hexadecimal alternative
            self.emit(TokenKind.INT, start, self.pos, int(literal, 16))
            return
        whole, fraction, exponent, unit = m.groups()
        number = literal[: len(literal) - len(unit or "")]
        if unit:
            span = timespan_ticks(number, unit)
            if span is not None:
                self.emit(TokenKind.TIMESPAN, start, self.pos, span)
            elif fraction or exponent:
                raise self.error(f"invalid number or timespan literal {literal!r}", start)
            else:  # KQL names may start with digits: 90th_Percentile
                self.emit(TokenKind.NAME, start, self.pos, literal)
        elif fraction or exponent:
            self.emit(TokenKind.REAL, start, self.pos, float(number))
        else:
            self.emit(TokenKind.INT, start, self.pos, int(whole))

    def scan_word(self) -> None:
        text, start = self.text, self.pos
        m = _NAME_RE.match(text, start)
        if m is None:  # a lone "$"
            self.scan_operator()
            return
        word = m.group(0)
        end = m.end()
        if word in _DASH_PREFIXES and text[end : end + 1] == "-":
            tail = _WORD_RE.match(text, end + 1)
            if tail and f"{word}-{tail.group(0)}" in DASHED_KEYWORDS:
                self.pos = tail.end()
                self.emit(TokenKind.NAME, start, self.pos, text[start : self.pos])
                return
        if word == "in" and text[end : end + 1] == "~":
            self.pos = end + 1
            self.emit(TokenKind.OP, start, self.pos, "in~")
            return
        if lookup_type(word) in _RAW_LITERAL_TYPES:
            paren = end
            while paren < len(text) and text[paren] in " \t":
                paren += 1
            if text[paren : paren + 1] == "(":
                close = self.find_close_paren(paren)
                self.pos = close + 1
                self.emit(TokenKind.TYPED, start, self.pos, (word, text[paren + 1 : close].strip()))
                return
        self.pos = end
        self.emit(TokenKind.NAME, start, end, word)

    def find_close_paren(self, open_at: int) -> int:
        """Offset of the ``)`` matching ``open_at``, skipping quoted strings inside."""
        text = self.text
        depth = 0
        i = open_at
        while i < len(text):
            ch = text[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    return i
            elif ch in "\"'":
                close = text.find(ch, i + 1)
                if close < 0:
                    break
                i = close
            i += 1
        raise self.error("unclosed '(' of a typed literal", open_at)

    def scan_bang(self) -> None:
        text, start = self.text, self.pos
        m = _WORD_RE.match(text, start + 1)
        if m and m.group(0) in NEGATABLE_OPERATORS:
            end = m.end()
            if m.group(0) == "in" and text[end : end + 1] == "~":
                end += 1
            self.pos = end
            self.emit(TokenKind.OP, start, end, text[start:end])
            return
        self.scan_operator()

    def scan_operator(self) -> None:
        text, start = self.text, self.pos
        for op in _OPERATORS:
            if text.startswith(op, start):
                self.pos = start + len(op)
                self.emit(TokenKind.OP, start, self.pos, op)
                return
        ch = text[start]
        if ch in _SINGLE_CHAR_OPERATORS or ch in "!@$":
            self.pos = start + 1
            self.emit(TokenKind.OP, start, self.pos, ch)
            return
        raise self.error(f"unexpected character {ch!r}", start)


def merge_adjacent_strings(tokens: list[Token], text: str) -> list[Token]:
    """Merge runs of STRING tokens into one: KQL concatenates adjacent string literals."""
    merged: list[Token] = []
    for token in tokens:
        previous = merged[-1] if merged else None
        if token.kind is TokenKind.STRING and previous is not None and previous.kind is TokenKind.STRING:
            merged[-1] = Token(
                TokenKind.STRING,
                text[previous.offset : token.end],
                previous.value + token.value,
                previous.offset,
                token.end,
                previous.line,
                previous.column,
            )
        else:
            merged.append(token)
    return merged


def tokenize(text: str) -> list[Token]:
    """Return the tokens of ``text``, the last one ``EOF``.

    Raises:
        KqlSyntaxError: on an unterminated string, an unknown character or a malformed number.
    """
    return _Scanner(text).run()
