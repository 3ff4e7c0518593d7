"""Small text functions: ``regex_quote``, ``isutf8`` and ``has_any_index``.

``regex_quote`` escapes with a backslash every character that is not an ASCII letter, digit or
``_`` (RE2's ``QuoteMeta``, the regex dialect of Kusto; non-ASCII characters are left as they are),
which matches Kusto's example ``(so$me.Te^xt)`` -> ``\\(so\\$me\\.Te\\^xt\\)``. ``isutf8`` is true for
any string: text here is always valid UTF-8 (a null string is ``''``). ``has_any_index(source,
values)`` is the 0-based index of the first of the values (as text) that ``source`` has as a whole
term, case-insensitively, like the ``has`` operator; -1 when none is (or there are none).
"""

from __future__ import annotations

from ..typed import Typed
from .common import K, duckdb_only, expect, sql, typed
from .conversion import to_string_typed
from .dynamic import json_list
from .registry import CompileContext, scalar

# What is not a letter or a digit separates terms (as for the has operator).
_TERM = r"[^\pL\pN]"


@scalar("regex_quote", min_args=1, max_args=1)
def _regex_quote(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "regex_quote")
    value = to_string_typed(ctx, args[0])
    body = r"regexp_replace($v, '([^A-Za-z0-9_\x{80}-\x{10FFFF}])', '\\\1', 'g')"
    return typed(sql(ctx.dialect, body, v=value), K.STRING)


@scalar("isutf8", min_args=1, max_args=1)
def _isutf8(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = to_string_typed(ctx, args[0])
    return typed(sql(ctx.dialect, "$v IS NOT NULL", v=value), K.BOOL)


@scalar("has_any_index", min_args=2, max_args=2)
def _has_any_index(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "has_any_index")
    source = to_string_typed(ctx, args[0])
    values = json_list(ctx, expect("has_any_index", args, 1, K.DYNAMIC))
    term = "COALESCE(json_extract_string(__e, '$'), '')"
    found = (
        f"list_transform($l, lambda __e: {term} <> '' AND regexp_matches($s,"
        f" '(?i)(?:^|{_TERM})' || regexp_escape({term}) || '(?:$|{_TERM})'))"
    )
    body = f"CAST(COALESCE(list_position({found}, true), 0) - 1 AS BIGINT)"
    return typed(sql(ctx.dialect, body, s=source, l=values), K.LONG)
