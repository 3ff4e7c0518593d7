"""The small OData ``$filter`` subset ARM list operations accept.

Grammar: ``clause (and clause)*`` where a clause is ``name op 'value'`` (op: eq, ne, ge, gt,
le, lt), ``func('value', name)`` / ``func(name, 'value')`` (substringof, startswith) or a bare
call such as ``atScope()`` or ``assignedTo('id')``. ``or`` is refused with a clear error, as ARM
refuses it for these operations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from warden.kernel.errors import BadRequest

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)"
    r"|(?P<word>[A-Za-z_$][A-Za-z0-9_./$-]*)|(?P<number>-?\d+(?:\.\d+)?))"
)
_OPERATORS = {"eq", "ne", "ge", "gt", "le", "lt"}


@dataclass(frozen=True)
class Clause:
    name: str  # field name, or function name for calls (lower-case)
    op: str  # comparison operator, or "call"
    value: str | None = None
    args: tuple[str, ...] = ()


class InvalidFilter(BadRequest):
    code = "InvalidFilterInQueryString"


def parse_filter(text: str | None) -> list[Clause]:
    """Parse ``$filter``; raise ``InvalidFilter`` naming what was wrong."""
    if not text or not text.strip():
        return []
    tokens = _tokenize(text)
    clauses: list[Clause] = []
    pos = 0
    while True:
        clause, pos = _clause(tokens, pos, text)
        clauses.append(clause)
        if pos == len(tokens):
            return clauses
        kind, value = tokens[pos]
        if kind == "word" and value.lower() == "and":
            pos += 1
            continue
        raise InvalidFilter(f"Invalid $filter '{text}': expected 'and' near '{value}' (only 'and' is supported).")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise InvalidFilter(f"Invalid $filter '{text}': unexpected character at position {pos}.")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        tokens.append((kind, value))
        pos = match.end()
    return tokens


def _clause(tokens: list[tuple[str, str]], pos: int, text: str) -> tuple[Clause, int]:
    def expect(kind: str) -> str:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos][0] != kind:
            near = tokens[pos][1] if pos < len(tokens) else "end of filter"
            raise InvalidFilter(f"Invalid $filter '{text}': expected {kind} near '{near}'.")
        pos += 1
        return tokens[pos - 1][1]

    name = expect("word")
    if pos < len(tokens) and tokens[pos][0] == "lparen":
        pos += 1
        args: list[str] = []
        while pos < len(tokens) and tokens[pos][0] != "rparen":
            kind, value = tokens[pos]
            if kind not in ("string", "word", "number"):
                raise InvalidFilter(f"Invalid $filter '{text}': bad argument near '{value}'.")
            args.append(value)
            pos += 1
            if pos < len(tokens) and tokens[pos][0] == "comma":
                pos += 1
        expect("rparen")
        return Clause(name.lower(), "call", None, tuple(args)), pos
    op = expect("word").lower()
    if op not in _OPERATORS:
        raise InvalidFilter(f"Invalid $filter '{text}': unsupported operator '{op}'.")
    if pos < len(tokens) and tokens[pos][0] in ("string", "number"):
        value = tokens[pos][1]
        pos += 1
    else:
        raise InvalidFilter(f"Invalid $filter '{text}': '{name} {op}' needs a quoted value.")
    return Clause(name, op, value), pos
