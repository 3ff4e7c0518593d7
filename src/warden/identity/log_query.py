"""OData ``$filter`` for the identity logs: ``path op literal`` clauses joined by ``and``.

Supported: ``eq ne gt ge lt le`` on the fields each endpoint lists, literals ``'text'`` (``''``
escapes a quote), integers, ``true``/``false`` and ISO 8601 date-times (unquoted, as Graph writes
``createdDateTime ge 2026-11-01T00:00:00Z``). ``or``, functions and parentheses are refused with a
clear error rather than half-supported.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .graph_errors import GraphBadRequest

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
CLAUSE = re.compile(r"\s*([A-Za-z_][\w/]*)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|[^\s']+)\s*", re.IGNORECASE)
AND = re.compile(r"\s+and\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    field: str  # as spelled in the field table (canonical case)
    op: str
    value: Any


def _time(text: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith(("Z", "z")) else text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _literal(raw: str, kind: str, field: str) -> Any:
    quoted = raw.startswith("'")
    text = raw[1:-1].replace("''", "'") if quoted else raw
    try:
        if kind == "datetime":
            return _time(text)
        if kind == "int":
            if quoted:
                raise ValueError
            return int(text)
        if kind == "bool":
            if text.lower() not in ("true", "false") or quoted:
                raise ValueError
            return text.lower() == "true"
        if not quoted:
            raise ValueError
        return text.lower()
    except ValueError:
        expected = {"datetime": "an ISO 8601 date-time", "int": "an integer", "bool": "true or false"}
        raise GraphBadRequest(
            f"Invalid filter clause: the value of '{field}' must be {expected.get(kind, 'a quoted string')}.",
            code="BadRequest",
        ) from None


def parse_filter(text: str | None, fields: dict[str, str]) -> list[Clause]:
    """The clauses of ``text``; ``fields`` maps a field path to its kind (str|int|bool|datetime).

    Raises GraphBadRequest naming the unsupported field, operator or value.
    """
    if text is None or not text.strip():
        return []
    if len(text) > 2000:
        raise GraphBadRequest("Invalid filter clause: the filter is too long.")
    by_lower = {name.lower(): name for name in fields}
    clauses = []
    for part in AND.split(text.strip()):
        match = CLAUSE.fullmatch(part)
        if match is None:
            raise GraphBadRequest(
                f"Invalid filter clause '{part.strip()}': only 'field op value' clauses joined by 'and' are "
                "supported (op: eq, ne, gt, ge, lt, le)."
            )
        name = by_lower.get(match.group(1).lower())
        if name is None:
            raise GraphBadRequest(
                f"Invalid filter clause: filtering on '{match.group(1)}' is not supported; "
                f"supported: {', '.join(sorted(fields))}."
            )
        clauses.append(Clause(name, match.group(2).lower(), _literal(match.group(3), fields[name], name)))
    return clauses


def field_value(record: dict[str, Any], path: str, kind: str) -> Any:
    """The value at ``a/b`` in ``record`` converted like the literal (None when absent)."""
    value: Any = record
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return 0 if kind == "int" and path.endswith("errorCode") else None
    try:
        if kind == "datetime":
            return _time(str(value))
        if kind == "int":
            return int(value)
        if kind == "bool":
            return bool(value)
    except (TypeError, ValueError):
        return None
    return str(value).lower()


def matches(record: dict[str, Any], clauses: list[Clause], fields: dict[str, str]) -> bool:
    """True when ``record`` satisfies every clause (a missing field satisfies only ``ne``)."""
    for clause in clauses:
        value = field_value(record, clause.field, fields[clause.field])
        if value is None:
            if clause.op != "ne":
                return False
            continue
        try:
            if not OPERATORS[clause.op](value, clause.value):
                return False
        except TypeError:
            return False
    return True
