"""Small text functions: ``regex_quote`` and ``isutf8``.

``regex_quote`` escapes with a backslash every character that is not an ASCII letter, digit or
``_`` (RE2's ``QuoteMeta``, the regex dialect of Kusto; non-ASCII characters are left as they are),
which matches Kusto's example ``(so$me.Te^xt)`` -> ``\\(so\\$me\\.Te\\^xt\\)``. ``isutf8`` is true for
any string: text here is always valid UTF-8 (a null string is ``''``).
"""

from __future__ import annotations

from ..typed import Typed
from .common import K, duckdb_only, sql, typed
from .conversion import to_string_typed
from .registry import CompileContext, scalar


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
