"""Comparing a KQL result with a conformance case's ``expected`` result, by the corpus' rules.

The rules are those of ``shared/corpus/README.md`` ("How to compare a result with ``expected``"):

- Row order matters only when the query's last ordering operator (``sort``/``order``, ``top``,
  ``top-nested``, ``top-hitters``) is not followed by one that discards order (``summarize``,
  ``join``, ``union``, ``distinct``, ``make-series``, ``count``, ``lookup``); then the sort-key
  columns are compared position by position and rows tying on the keys as a multiset. Otherwise
  rows compare as a multiset.
- ``take``/``limit`` without a preceding ordering picks arbitrary rows: only the shape (row count,
  columns) is compared. ``sort ... | take N``: only the sort-key values are compared.
- Columns: same count, same names. Types are compared by family (integer, float, string, bool,
  datetime, timespan, dynamic, guid), so int/long or real/decimal may differ.
- Values: numbers within relative 1e-9, or 5 % when the query uses an approximate aggregate;
  booleans never equal numbers; ``NaN``/``Infinity``/``-Infinity`` strings are those numbers;
  datetimes compare as instants, timespans as durations, GUIDs as identifiers; in string columns
  null equals ``''``; dynamic values compare structurally after decoding JSON text (key order
  ignored, datetimes inside as instants, list order significant except for ``make_set`` results).
- Cases calling ``now()``, ``rand()``, ``new_guid()``, ``ingestion_time()``,
  ``current_principal*()``, ``current_database()``, ``current_cluster_endpoint()``,
  ``cursor_*()`` or using ``sample``/``sample-distinct`` are skipped.

The query is examined with a small token scan rather than the parser, so this module works (and
judges the parser) independently of it. The supported operator/function lists used by the
conformance bench to classify cases live here too.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from warden.monitor.kql.values import parse_datetime, parse_timespan

__all__ = [
    "NEUTRAL_TAGS",
    "SUPPORTED_FUNCTIONS",
    "SUPPORTED_OPERATORS",
    "OrderRule",
    "compare",
    "order_rule",
    "should_skip",
    "type_family",
    "unsupported_tags",
]

# ----------------------------------------------------------------------- what the engine supports


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


SUPPORTED_OPERATORS = _names(
    """
    where filter project project-away project-keep project-rename project-reorder extend summarize
    sort order top take limit distinct count join union lookup mv-expand parse parse-where datatable
    print range let materialize toscalar as serialize render getschema make-series search top-nested
    evaluate
    """
)
SUPPORTED_FUNCTIONS = _names(
    """
    ago now bin floor
    tobool toboolean todatetime todecimal todouble toreal toguid toint tolong tostring totimespan
    parse_json todynamic toobject
    isempty isnotempty isnull isnotnull iff iif case coalesce
    strcat strcat_delim strlen substring tolower toupper trim trim_start trim_end split
    replace_string replace_regex extract extract_all indexof countof
    startofday startofweek startofmonth startofyear endofday endofweek endofmonth endofyear
    datetime_add datetime_diff dayofweek hourofday dayofmonth getmonth getyear
    format_datetime format_timespan make_datetime
    unixtime_seconds_todatetime unixtime_milliseconds_todatetime unixtime_microseconds_todatetime
    unixtime_nanoseconds_todatetime
    pack bag_pack pack_array array_length array_concat array_slice set_union set_intersect bag_keys
    ipv4_is_private ipv4_is_in_range ipv4_is_in_any_range parse_ipv4 hash_sha256 hash_md5 parse_url
    url_decode url_encode url_encode_component
    base64_encode_tostring base64_decode_tostring base64_encode_fromguid base64_decode_toguid
    base64_encodestring base64_decodestring
    round abs log exp pow sqrt
    count countif dcount dcountif sum sumif avg avgif min max minif maxif arg_max arg_min
    make_list make_list_if make_set make_set_if make_bag percentile percentiles stdev variance
    take_any any
    makeset makelist parsejson notempty argmax
    materialize toscalar bag_unpack pivot
    """
)
# Tags the corpus harvester records as "functions" that are literal syntax, type names or
# keywords of supported operators (``datatable(...)``, ``dynamic([...])``, ``to typeof(long)``,
# ``join kind=inner ... on``) rather than functions.
NEUTRAL_TAGS = _names(
    """
    datatable dynamic datetime timespan time guid bool boolean int long real double decimal string
    typeof true false on with inner where union extend range between
    """
)


def unsupported_tags(tags: Mapping[str, Sequence[str]]) -> list[str]:
    """Return a case's operator and function tags that are outside the supported lists (sorted)."""
    operators = {t for t in tags.get("operators", ()) if t not in SUPPORTED_OPERATORS}
    functions = {t for t in tags.get("functions", ()) if t not in SUPPORTED_FUNCTIONS | NEUTRAL_TAGS}
    return sorted(operators | functions)


# ------------------------------------------------------------------------------- the token scan


@dataclass(frozen=True)
class _Token:
    kind: str  # "ident", "number", "string", "punct"
    text: str
    start: int
    end: int


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*)
  | (?P<string>```.*?```|~~~.*?~~~|[hH]?@?'(?:[^'\\\n]|\\.)*'|[hH]?@?"(?:[^"\\\n]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[a-zA-Z]*)
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_]*)
  | (?P<punct>==|!=|=~|!~|<=|>=|\.\.|.)
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokens(kql: str) -> list[_Token]:
    tokens = []
    for match in _TOKEN.finditer(kql):
        kind = match.lastgroup or "punct"
        if kind not in {"space", "comment"}:
            tokens.append(_Token(kind, match.group(), match.start(), match.end()))
    return tokens


def _split_top_level(tokens: Sequence[_Token], separator: str) -> list[list[_Token]]:
    """Return ``tokens`` split at ``separator`` where it is not nested in brackets."""
    parts: list[list[_Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == "punct" and token.text in "([{":
            depth += 1
        elif token.kind == "punct" and token.text in ")]}":
            depth = max(depth - 1, 0)
        if depth == 0 and token.kind == "punct" and token.text == separator:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def _operator(segment: Sequence[_Token]) -> str:
    """Return the (lower-case) operator name a pipe segment starts with, hyphenated names joined."""
    if not segment or segment[0].kind != "ident":
        return ""
    name, end, i = segment[0].text.lower(), segment[0].end, 1
    # mv-expand, project-away, top-nested...: identifier, '-', identifier with nothing between
    while i + 1 < len(segment) and segment[i].text == "-" and segment[i].start == end:
        if segment[i + 1].kind != "ident" or segment[i + 1].start != segment[i].end:
            break
        name += "-" + segment[i + 1].text.lower()
        end = segment[i + 1].end
        i += 2
    return name


_DECLARATIONS = {"let", "declare", "set", "alias", "restrict", "pattern"}


def _pipeline(kql: str) -> list[list[_Token]]:
    """Return the pipe segments of the query's result statement, with a leading let-name expanded."""
    statements = [s for s in _split_top_level(_tokens(kql), ";") if s]
    lets: dict[str, list[_Token]] = {}
    query: list[_Token] = []
    for statement in statements:
        head = statement[0].text.lower()
        if head == "let" and len(statement) > 2 and statement[2].text == "=":
            lets[statement[1].text] = statement[3:]
        elif head not in _DECLARATIONS:
            query = statement
    segments = _split_top_level(query, "|")
    for _ in range(10):  # T | ... where T is a let-bound tabular expression (bounded: no cycles)
        first = segments[0] if segments else []
        if len(first) == 1 and first[0].kind == "ident" and first[0].text in lets:
            segments = _split_top_level(lets.pop(first[0].text), "|") + segments[1:]
        else:
            break
    return segments


# --------------------------------------------------------------------------------- order rules

_ORDERING = {"sort", "order", "top", "top-nested", "top-hitters"}
_DISCARDS_ORDER = {"summarize", "join", "union", "distinct", "make-series", "count", "lookup"}
_TAKE = {"take", "limit"}


@dataclass(frozen=True)
class OrderRule:
    """How rows are compared: ``multiset``, ``ordered`` (by ``keys``), ``keys`` only, or ``shape`` only."""

    mode: str
    keys: tuple[str, ...] = field(default=())


def _name_of(tokens: Sequence[_Token]) -> str | None:
    # a sort key is a column when it is a bare identifier or ['quoted name']
    if len(tokens) == 1 and tokens[0].kind == "ident":
        return tokens[0].text
    if len(tokens) == 3 and tokens[0].text == "[" and tokens[1].kind == "string" and tokens[2].text == "]":
        return tokens[1].text.lstrip("hH@")[1:-1]
    return None


def _sort_keys(segment: Sequence[_Token]) -> tuple[str, ...] | None:
    """Return the column names a sort/top segment orders by, or None if any key is an expression."""
    by = next((i for i, t in enumerate(segment) if t.kind == "ident" and t.text.lower() == "by"), None)
    if by is None:
        return None
    keys = []
    for key in _split_top_level(segment[by + 1 :], ","):
        while key and key[-1].kind == "ident" and key[-1].text.lower() in {"asc", "desc", "first", "last", "nulls"}:
            key = key[:-1]
        name = _name_of(key)
        if name is None:
            return None
        keys.append(name)
    return tuple(keys)


def order_rule(kql: str) -> OrderRule:
    """Return how the rows of ``kql``'s result are to be compared (see the module docstring)."""
    mode, keys = "multiset", ()
    for segment in _pipeline(kql)[1:]:
        op = _operator(segment)
        if mode == "shape":
            break  # arbitrary rows were picked: nothing downstream is comparable beyond shape
        if op in _ORDERING:
            found = _sort_keys(segment) if op in {"sort", "order", "top"} else None
            mode, keys = "ordered", found or ()
        elif op in _TAKE or op in {"sample", "sample-distinct"}:
            mode = "keys" if mode in {"ordered", "keys"} and op in _TAKE else "shape"
        elif op in _DISCARDS_ORDER:
            mode, keys = "multiset", ()
    return OrderRule(mode, keys)


# ---------------------------------------------------------------------------------------- skips

_NONDETERMINISTIC = ("now", "rand", "new_guid", "ingestion_time", "current_database", "current_cluster_endpoint")


def should_skip(kql: str) -> str | None:
    """Return why the case cannot be reproduced (a non-deterministic call or sampling), or None."""
    tokens = _tokens(kql)
    for i, token in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        called = following is not None and following.text == "("
        name = token.text.lower() if token.kind == "ident" else ""
        if called and (name in _NONDETERMINISTIC or name.startswith(("current_principal", "cursor_"))):
            return f"calls {name}()"
        # datetime() with no argument is now() under another name
        if called and name == "datetime" and i + 2 < len(tokens) and tokens[i + 2].text == ")":
            return "calls datetime() (the current time)"
        if token.text == "|" and _operator(tokens[i + 1 : i + 4]) in {"sample", "sample-distinct"}:
            return f"uses {_operator(tokens[i + 1 : i + 4])}"
    return None


# -------------------------------------------------------------------------------- type families

_FAMILIES = {
    "integer": "long int int64 int32 int16 int8 bigint integer smallint tinyint hugeint ubigint uinteger usmallint "
    "utinyint uint uint32 uint64 ulong",
    "float": "real double decimal sqldecimal float single numeric",
    "string": "string varchar",
    "bool": "bool boolean sbyte",
    "datetime": "datetime date timestamp timestamptz",
    "timespan": "timespan time interval",
    "dynamic": "dynamic object json list struct map",
    "guid": "guid uuid uniqueid",
}
_FAMILY_OF = {name: family for family, names in _FAMILIES.items() for name in names.split()}


def type_family(type_name: str | None) -> str | None:
    """Return the family of a Kusto, .NET or DuckDB type name (``Int64`` -> integer), or None."""
    if not type_name:
        return None
    name = str(type_name).strip().lower().removeprefix("system.")
    if name.endswith("]"):
        return "dynamic"
    name = re.split(r"[(\s]", name, maxsplit=1)[0]
    if name.startswith("timestamp"):
        return "datetime"
    return _FAMILY_OF.get(name)


# ------------------------------------------------------------------------------- value equality

_APPROXIMATE = re.compile(
    r"\b(?:dcount|dcountif|percentile|percentiles|percentilew|percentilesw|percentiles_array|percentilesw_array"
    r"|tdigest)\s*\(",
    re.IGNORECASE,
)
_SPECIAL_FLOATS = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "+infinity": math.inf}


def _as_number(value: Any) -> float | int | None:
    """Return a JSON number, a NaN/Infinity string or a numeric string as a number; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        special = _SPECIAL_FLOATS.get(value.strip().lower())
        if special is not None:
            return special
        try:
            return float(Decimal(value.strip()))
        except (InvalidOperation, ValueError):
            return None
    return None


def _numbers_equal(expected: Any, actual: Any, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    a, b = _as_number(expected), _as_number(actual)
    if a is None or b is None:
        return expected == actual
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
    return a == b or math.isclose(a, b, rel_tol=tolerance, abs_tol=0.0)


def _instants_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        a, b = parse_datetime(expected), parse_datetime(actual)
        if a is not None and b is not None:
            return a == b
    return expected == actual


def _durations_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        a, b = parse_timespan(expected), parse_timespan(actual)
        if a is not None and b is not None:
            return a == b
    return expected == actual


def _guids_equal(expected: Any, actual: Any) -> bool:
    try:
        return uuid.UUID(str(expected)) == uuid.UUID(str(actual))
    except ValueError:
        return expected == actual


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _json_number(value: Any) -> float | int | None:
    # inside dynamic values "5" is a string, not a number; only NaN/Infinity travel as strings
    if isinstance(value, str):
        return _SPECIAL_FLOATS.get(value.strip().lower())
    return _as_number(value)


def _structures_equal(expected: Any, actual: Any, tolerance: float, unordered: bool) -> bool:
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _structures_equal(expected[k], actual[k], tolerance, False) for k in expected
        )
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return False
        if unordered:
            return _multiset_equal(expected, actual, lambda e, a: _structures_equal(e, a, tolerance, False))[0]
        return all(_structures_equal(e, a, tolerance, False) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, str) and isinstance(actual, str):
        return expected == actual or _instants_equal(expected, actual)
    if _json_number(expected) is not None and _json_number(actual) is not None:
        return _numbers_equal(expected, actual, tolerance)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return expected == actual


def _dynamic_equal(expected: Any, actual: Any, tolerance: float, unordered: bool) -> bool:
    if _structures_equal(_decode(expected), _decode(actual), tolerance, unordered):
        return True
    # a dynamic string such as "1" arrives decoded in ``expected`` but would decode again to 1
    return isinstance(expected, str) and _structures_equal(expected, _decode(actual), tolerance, unordered)


def _value_comparer(family: str | None, tolerance: float, unordered: bool) -> Callable[[Any, Any], bool]:
    """Return the equality test for one column's values."""

    def equal(expected: Any, actual: Any) -> bool:
        if family == "string":
            return ("" if expected is None else expected) == ("" if actual is None else actual)
        if expected is None or actual is None:
            return expected is None and actual is None
        if family in {"integer", "float"}:
            return _numbers_equal(expected, actual, tolerance)
        if family == "bool":
            return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
        if family == "datetime":
            return _instants_equal(expected, actual)
        if family == "timespan":
            return _durations_equal(expected, actual)
        if family == "guid":
            return _guids_equal(expected, actual)
        if family == "dynamic":
            return _dynamic_equal(expected, actual, tolerance, unordered)
        return _structures_equal(expected, actual, tolerance, False)

    return equal


# ---------------------------------------------------------------------------- row comparisons

_GREEDY_LIMIT = 5000


def _canonical(value: Any) -> str:
    # a sort key only: rows equal under the comparer usually sort alike; the greedy pass catches the rest
    value = _decode(value)
    number = _as_number(value)
    if number is not None and not (isinstance(number, float) and math.isnan(number)):
        return f"n{float(number):.6e}"
    return "s" + json.dumps(value, sort_keys=True, default=str)


def _multiset_equal(
    expected: Sequence[Any], actual: Sequence[Any], equal: Callable[[Any, Any], bool]
) -> tuple[bool, Any]:
    """Return (True, None) when the two sequences match as multisets, else (False, an unmatched expected item)."""
    if len(expected) != len(actual):
        return False, None
    key = (lambda item: [_canonical(v) for v in item]) if expected and isinstance(expected[0], list) else _canonical
    sorted_expected, sorted_actual = sorted(expected, key=key), sorted(actual, key=key)
    if all(equal(e, a) for e, a in zip(sorted_expected, sorted_actual, strict=True)):
        return True, None
    if len(expected) > _GREEDY_LIMIT:
        mismatch = next(e for e, a in zip(sorted_expected, sorted_actual, strict=True) if not equal(e, a))
        return False, mismatch
    remaining = list(actual)
    for item in expected:
        index = next((i for i, candidate in enumerate(remaining) if equal(item, candidate)), None)
        if index is None:
            return False, item
        remaining.pop(index)
    return True, None


@dataclass(frozen=True)
class _Columns:
    names: list[str]
    comparers: list[Callable[[Any, Any], bool]]

    def rows_equal(self, expected: Sequence[Any], actual: Sequence[Any]) -> bool:
        return all(eq(e, a) for eq, e, a in zip(self.comparers, expected, actual, strict=True))

    def first_difference(self, expected: Sequence[Any], actual: Sequence[Any]) -> str:
        for name, eq, e, a in zip(self.names, self.comparers, expected, actual, strict=True):
            if not eq(e, a):
                return f"column '{name}': expected {e!r}, got {a!r}"
        return "rows differ"


def _compare_ordered(exp_rows: list, act_rows: list, cols: _Columns, keys: Sequence[str]) -> tuple[bool, str]:
    key_index = [cols.names.index(k) for k in keys]

    def key_equal(e_row: Sequence[Any], a_row: Sequence[Any]) -> bool:
        return all(cols.comparers[i](e_row[i], a_row[i]) for i in key_index)

    start = 0
    while start < len(exp_rows):
        if not key_equal(exp_rows[start], act_rows[start]):
            detail = "; ".join(
                f"{cols.names[i]}: expected {exp_rows[start][i]!r}, got {act_rows[start][i]!r}" for i in key_index
            )
            return False, f"row {start}: sort keys differ ({detail})"
        end = start + 1  # rows tying on the keys may come in any order (KQL's sort is not stable)
        while end < len(exp_rows) and key_equal(exp_rows[start], exp_rows[end]):
            end += 1
        ok, missing = _multiset_equal(exp_rows[start:end], act_rows[start:end], cols.rows_equal)
        if not ok:
            return False, f"rows {start}..{end - 1} (tied on the sort keys) differ: expected row {missing!r} not found"
        start = end
    return True, "ok"


def _field(result: Any, name: str) -> Any:
    return result[name] if isinstance(result, Mapping) else getattr(result, name)


def _make_set_columns(kql: str, columns: Sequence[str], families: Sequence[str | None]) -> set[str]:
    if not re.search(r"\b(?:make_set|make_set_if|makeset)\s*\(", kql, re.IGNORECASE):
        return set()
    aliases = set(re.findall(r"([A-Za-z_]\w*)\s*=\s*(?:make_set|make_set_if|makeset)\s*\(", kql, re.IGNORECASE))
    named = {c for c in columns if c in aliases or c.startswith("set_")}
    # when no column can be traced to make_set, every dynamic column is treated as a set
    return named or {c for c, f in zip(columns, families, strict=True) if f == "dynamic"}


def compare(expected: Mapping[str, Any], result: Any, kql: str) -> tuple[bool, str]:
    """Return (ok, reason) comparing a result with a case's ``expected`` under the corpus' rules.

    ``expected`` has ``columns``, ``column_types`` (.NET names) and ``rows``; ``result`` is a
    ``KqlResult`` or a mapping with ``columns``, ``types`` and ``rows`` (encoded values). The
    reason names the first difference found, or says which comparison passed.
    """
    exp_cols, act_cols = list(expected["columns"]), list(_field(result, "columns"))
    if exp_cols != act_cols:
        return False, f"columns differ: expected {exp_cols}, got {act_cols}"
    exp_types = list(expected.get("column_types") or [None] * len(exp_cols))
    act_types = list(_field(result, "types") or [None] * len(act_cols))
    families = []
    for name, e_type, a_type in zip(exp_cols, exp_types, act_types, strict=True):
        e_family, a_family = type_family(e_type), type_family(a_type)
        if e_family and a_family and e_family != a_family:
            return False, f"column '{name}': type {a_type} ({a_family}) where {e_type} ({e_family}) was expected"
        families.append(e_family or a_family)
    tolerance = 0.05 if _APPROXIMATE.search(kql) else 1e-9
    sets = _make_set_columns(kql, exp_cols, families)
    cols = _Columns(
        exp_cols, [_value_comparer(f, tolerance, name in sets) for name, f in zip(exp_cols, families, strict=True)]
    )
    exp_rows, act_rows = [list(r) for r in expected["rows"]], [list(r) for r in _field(result, "rows")]
    if len(exp_rows) != len(act_rows):
        return False, f"expected {len(exp_rows)} rows, got {len(act_rows)}"
    rule = order_rule(kql)
    keys = [k for k in rule.keys if k in exp_cols]
    if rule.mode == "shape" or (rule.mode == "keys" and (not rule.keys or len(keys) != len(rule.keys))):
        return True, "shape only (rows picked arbitrarily by take/limit)"
    if rule.mode == "keys":
        for i, (e_row, a_row) in enumerate(zip(exp_rows, act_rows, strict=True)):
            for k in keys:
                j = exp_cols.index(k)
                if not cols.comparers[j](e_row[j], a_row[j]):
                    return False, f"row {i}: sort key '{k}' expected {e_row[j]!r}, got {a_row[j]!r}"
        return True, "sort-key values only (sort | take)"
    if rule.mode == "ordered":
        if rule.keys and len(keys) == len(rule.keys):
            return _compare_ordered(exp_rows, act_rows, cols, keys)
        for i, (e_row, a_row) in enumerate(zip(exp_rows, act_rows, strict=True)):
            if not cols.rows_equal(e_row, a_row):
                return False, f"row {i}: {cols.first_difference(e_row, a_row)}"
        return True, "ordered rows"
    ok, missing = _multiset_equal(exp_rows, act_rows, cols.rows_equal)
    return (True, "rows as a multiset") if ok else (False, f"expected row {missing!r} not found in the result")
