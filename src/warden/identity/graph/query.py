"""The OData query options Graph's directory collections accept: ``$filter``, ``$select``, ``$top``.

``$filter`` grammar (what Graph serves without "advanced queries"): ``eq`` comparisons,
``startswith(property, 'text')``, ``property in ('a', 'b')``, combined with ``and``/``or`` and
parentheses. Anything else (``ne``, ``not``, ``endswith``, lambdas, unknown properties) is refused
with Graph's ``Request_UnsupportedQuery``. String comparisons ignore case, as Graph's do.
Pure: no I/O, so it is tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from warden.identity.graph.errors import GraphError

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)"
    r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_$@][A-Za-z0-9_./$@-]*))"
)


class UnsupportedQuery(GraphError):
    code = "Request_UnsupportedQuery"
    status = 400


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise UnsupportedQuery(f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, fields: dict[str, str], entity: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = {name.lower(): name for name in fields}
        self.entity = entity

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, kind: str) -> str:
        token = self._peek()
        if token is None or token[0] != kind:
            found = token[1] if token else "end of filter"
            raise UnsupportedQuery(f"Invalid filter clause: expected {kind} near '{found}' in '{self.text}'.")
        self.pos += 1
        return token[1]

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self._or()
        if self._peek() is not None:
            raise UnsupportedQuery(f"Invalid filter clause: unexpected '{self._peek()[1]}' in '{self.text}'.")  # type: ignore[index]
        return predicate

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._keyword("or"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda item: any(p(item) for p in parts))

    def _and(self) -> Predicate:
        parts = [self._factor()]
        while self._keyword("and"):
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))

    def _property(self, name: str) -> str:
        found = self.fields.get(name.lower())
        if found is None:
            raise UnsupportedQuery(
                f"Unsupported or invalid query filter clause specified for property '{name}' of resource "
                f"'{self.entity}'."
            )
        return found

    def _literal(self) -> Any:
        token = self._peek()
        if token is None:
            raise UnsupportedQuery(f"Invalid filter clause: a value is missing in '{self.text}'.")
        self.pos += 1
        kind, value = token
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "word" and value.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value.lower()]
        raise UnsupportedQuery(f"Invalid filter clause: '{value}' is not a value, in '{self.text}'.")

    def _factor(self) -> Predicate:
        token = self._peek()
        if token is None:
            raise UnsupportedQuery(f"Invalid filter clause: the filter '{self.text}' ends too early.")
        if token[0] == "lparen":
            self.pos += 1
            inner = self._or()
            self._take("rparen")
            return inner
        name = self._take("word")
        if name.lower() == "startswith":
            self._take("lparen")
            prop = self._property(self._take("word"))
            self._take("comma")
            prefix = self._literal()
            self._take("rparen")
            if not isinstance(prefix, str):
                raise UnsupportedQuery("startswith needs a string value.")
            return lambda item: isinstance(item.get(prop), str) and item[prop].lower().startswith(prefix.lower())
        if self._peek() == ("lparen", "("):
            raise UnsupportedQuery(f"Unsupported query function '{name}' in '{self.text}'.")
        prop = self._property(name)
        op = self._take("word").lower()
        if op == "eq":
            expected = self._literal()
            return lambda item: _equal(item.get(prop), expected)
        if op == "in":
            self._take("lparen")
            values = [self._literal()]
            while self._peek() == ("comma", ","):
                self.pos += 1
                values.append(self._literal())
            self._take("rparen")
            return lambda item: any(_equal(item.get(prop), v) for v in values)
        raise UnsupportedQuery(
            f"Unsupported query operator '{op}' in '{self.text}'; eq, in and startswith are supported."
        )


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.lower() == expected.lower()
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return actual == expected


def parse_filter(text: str | None, fields: dict[str, str] | set[str], entity: str) -> Predicate | None:
    """A predicate over an item's Graph JSON, or ``None`` without a filter; raise ``UnsupportedQuery``."""
    if text is None or not text.strip():
        return None
    if len(text) > 2048:
        raise UnsupportedQuery("The filter is too long.")
    return _Parser(text, dict.fromkeys(fields, "") if isinstance(fields, set) else fields, entity).parse()


def parse_select(text: str | None, known: set[str], type_name: str) -> list[str] | None:
    """The properties ``$select`` asks for (in Graph's spelling), or ``None`` for all; raise on unknown ones."""
    if text is None or not text.strip():
        return None
    by_lower = {name.lower(): name for name in known}
    chosen: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if name.lower() not in by_lower:
            raise GraphError(
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.",
                code="Request_BadRequest",
                status=400,
            )
        chosen.append(by_lower[name.lower()])
    return chosen


def parse_top(text: str | None, default: int, maximum: int = 999) -> int:
    """The page size ``$top`` asks for (``default`` without it); raise ``Request_BadRequest`` when invalid."""
    if text is None:
        return default
    if not text.strip().isdigit() or not 1 <= int(text) <= maximum:
        raise GraphError(
            f"Invalid page size specified: '{text}'. Must be between 1 and {maximum} inclusive.",
            code="Request_BadRequest",
            status=400,
        )
    return int(text)
