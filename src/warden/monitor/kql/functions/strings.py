"""String functions: ``strcat``, ``strcat_delim``, ``strcat_array``, ``strlen``, ``string_size``,
``substring``, ``tolower``/``toupper``, ``trim``/``trim_start``/``trim_end``, ``split``,
``replace_string``, ``replace_regex`` (and the old ``replace``), ``extract``, ``extract_all``,
``indexof``, ``indexof_regex``, ``countof``, ``strrep``, ``reverse``, ``translate``, ``strcmp``.

Kusto's rules: arguments that are not strings are converted with ``tostring`` (``strcat("a", 1)``);
string results are never null; indexes are zero-based; ``substring`` with a negative start counts
from the end; ``trim*`` remove repeated matches of a regular expression at the ends; ``split``
returns a dynamic array (one element, or none, with an index); ``extract`` returns ``''`` when
nothing matches (null with a type literal); ``extract_all`` returns null when nothing matches;
``countof`` counts overlapping plain matches but non-overlapping regex matches. Regular
expressions are RE2 on both sides (Kusto and DuckDB), so their syntax carries over unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ..typed import Typed
from ..types import KustoType, lookup_type
from .common import (
    INTEGER,
    K,
    constant,
    constant_string,
    duckdb_only,
    expect,
    fail,
    literal_typed,
    sql,
    string_literal,
    typed,
)
from .conversion import convert, to_string_typed
from .registry import CompileContext, scalar


def text(ctx: CompileContext, arg: Typed) -> Typed:
    """``arg`` as a string (``tostring``), constants folded."""
    return to_string_typed(ctx, arg)


def _string_result(expression: exp.Expression) -> Typed:
    return typed(expression, K.STRING)


def _never_null(ctx: CompileContext, expression: exp.Expression) -> Typed:
    return typed(sql(ctx.dialect, "COALESCE($v, '')", v=expression), K.STRING)


@scalar("strcat", min_args=1, max_args=64)
def _strcat(ctx: CompileContext, args: list[Typed]) -> Typed:
    parts = [text(ctx, a) for a in args]
    if all(p.is_constant for p in parts):
        return string_literal("".join(p.literal for p in parts))
    if len(parts) == 1:
        return parts[0]
    return _string_result(exp.Anonymous(this="concat", expressions=[p.sql for p in parts]))


@scalar("strcat_delim", min_args=3, max_args=65)
def _strcat_delim(ctx: CompileContext, args: list[Typed]) -> Typed:
    parts = [text(ctx, a) for a in args]
    if all(p.is_constant for p in parts):
        return string_literal(parts[0].literal.join(p.literal for p in parts[1:]))
    if ctx.dialect == "duckdb":
        return _string_result(exp.Anonymous(this="concat_ws", expressions=[p.sql for p in parts]))
    # ClickHouse's concatWithSeparator wants a constant separator: interleave it instead.
    delimiter, values = parts[0], parts[1:]
    interleaved = [values[0].sql]
    for value in values[1:]:
        interleaved += [delimiter.sql.copy(), value.sql]
    return _string_result(exp.Anonymous(this="concat", expressions=interleaved))


@scalar("strcat_array", min_args=2, max_args=2)
def _strcat_array(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "strcat_array")
    array = expect("strcat_array", args, 0, K.DYNAMIC)
    delimiter = text(ctx, args[1])
    items = "list_transform(CAST($a AS JSON[]), lambda __e: COALESCE(json_extract_string(__e, '$'), ''))"
    if delimiter.is_constant:
        joined = f"array_to_string({items}, $d)"
    else:  # array_to_string wants a constant delimiter
        reduced = f"list_reduce({items}, lambda __x, __y: __x || $d || __y)"
        joined = f"(CASE WHEN json_array_length($a) = 0 THEN '' ELSE {reduced} END)"
    body = f"CASE WHEN json_type($a) = 'ARRAY' THEN {joined} ELSE '' END"
    return _never_null(ctx, sql(ctx.dialect, body, a=array, d=delimiter))


@scalar("strlen", min_args=1, max_args=1)
def _strlen(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = text(ctx, args[0])
    if value.is_constant:
        return literal_typed(len(value.literal), K.LONG)
    function = "length" if ctx.dialect == "duckdb" else "lengthUTF8"
    return typed(sql(ctx.dialect, f"CAST({function}($v) AS BIGINT)", v=value), K.LONG)


@scalar("string_size", min_args=1, max_args=1)
def _string_size(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = text(ctx, args[0])
    if value.is_constant:
        return literal_typed(len(value.literal.encode()), K.LONG)
    template = "CAST(octet_length(encode($v)) AS BIGINT)" if ctx.dialect == "duckdb" else "toInt64(length($v))"
    return typed(sql(ctx.dialect, template, v=value), K.LONG)


@scalar("substring", min_args=2, max_args=3)
def _substring(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = text(ctx, args[0])
    expect("substring", args, 1, *INTEGER)
    start = args[1]
    length_fn = "length" if ctx.dialect == "duckdb" else "lengthUTF8"
    substr = "substring" if ctx.dialect == "duckdb" else "substringUTF8"
    begin = f"(CASE WHEN $st < 0 THEN greatest({length_fn}($v) + $st, 0) ELSE $st END) + 1"
    if len(args) == 3:
        expect("substring", args, 2, *INTEGER)
        body = f"{substr}($v, {begin}, greatest($n, 0))"
        return _never_null(ctx, sql(ctx.dialect, body, v=value, st=start, n=args[2]))
    body = f"{substr}($v, {begin})"
    return _never_null(ctx, sql(ctx.dialect, body, v=value, st=start))


@scalar("tolower", min_args=1, max_args=1)
def _tolower(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = text(ctx, args[0])
    if value.is_constant:
        return string_literal(value.literal.lower())
    return _string_result(sql(ctx.dialect, "lower($v)" if ctx.dialect == "duckdb" else "lowerUTF8($v)", v=value))


@scalar("toupper", min_args=1, max_args=1)
def _toupper(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = text(ctx, args[0])
    if value.is_constant:
        return string_literal(value.literal.upper())
    return _string_result(sql(ctx.dialect, "upper($v)" if ctx.dialect == "duckdb" else "upperUTF8($v)", v=value))


@scalar("reverse", min_args=1, max_args=1)
def _reverse(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = text(ctx, args[0])
    if value.is_constant:
        return string_literal(value.literal[::-1])
    return _string_result(sql(ctx.dialect, "reverse($v)" if ctx.dialect == "duckdb" else "reverseUTF8($v)", v=value))


# ------------------------------------------------------------------------------------ regexes


def _regex(function: str, args: list[Typed], index: int) -> Typed:
    """A regex argument: a string (constant in practice; a computed one works on DuckDB)."""
    return expect(function, args, index, K.STRING)


def _replace_all(ctx: CompileContext, value: Any, pattern: Any, rewrite: Any) -> exp.Expression:
    if ctx.dialect == "duckdb":
        return sql(ctx.dialect, "regexp_replace($v, $p, $r, 'g')", v=value, p=pattern, r=rewrite)
    return sql(ctx.dialect, "replaceRegexpAll($v, $p, $r)", v=value, p=pattern, r=rewrite)


def _replace_first(ctx: CompileContext, value: Any, pattern: Any) -> exp.Expression:
    if ctx.dialect == "duckdb":
        return sql(ctx.dialect, "regexp_replace($v, $p, '')", v=value, p=pattern)
    return sql(ctx.dialect, "replaceRegexpOne($v, $p, '')", v=value, p=pattern)


def _anchored(ctx: CompileContext, regex: Typed, prefix: str, suffix: str) -> Any:
    if regex.is_constant:
        return f"{prefix}(?:{regex.literal or ''}){suffix}"
    return sql(ctx.dialect, f"'{prefix}(?:' || $r || '){suffix}'", r=regex)


def _trim(name: str, start: bool, end: bool) -> None:
    @scalar(name, min_args=2, max_args=2)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        regex = _regex(name, args, 0)
        value: Any = text(ctx, args[1])
        if regex.is_constant and not regex.literal:
            return value
        if start:
            value = _replace_first(ctx, value, _anchored(ctx, regex, "^", "+"))
        if end:
            value = _replace_first(ctx, value, _anchored(ctx, regex, "", "+$"))
        return _string_result(value)


_trim("trim", start=True, end=True)
_trim("trim_start", start=True, end=False)
_trim("trim_end", start=False, end=True)


@scalar("replace_regex", min_args=3, max_args=3)
def _replace_regex(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = text(ctx, args[0])
    return _string_result(_replace_all(ctx, value, _regex("replace_regex", args, 1), text(ctx, args[2])))


@scalar("replace", min_args=3, max_args=3)
def _replace_deprecated(ctx: CompileContext, args: list[Typed]) -> Typed:
    """The deprecated ``replace(regex, rewrite, text)`` (arguments in that order)."""
    value = text(ctx, args[2])
    return _string_result(_replace_all(ctx, value, _regex("replace", args, 0), text(ctx, args[1])))


@scalar("replace_string", min_args=3, max_args=3)
def _replace_string(ctx: CompileContext, args: list[Typed]) -> Typed:
    value, lookup, rewrite = (text(ctx, a) for a in args)
    if lookup.is_constant and lookup.literal == "":
        return value
    function = "replace" if ctx.dialect == "duckdb" else "replaceAll"
    return _string_result(sql(ctx.dialect, f"{function}($v, $l, $r)", v=value, l=lookup, r=rewrite))


def _type_literal(function: str, arg: Typed) -> KustoType:
    """The type a ``typeof(...)`` argument denotes (its ``literal``: a KustoType or a type name)."""
    value = arg.literal if arg.is_constant else None
    if isinstance(value, KustoType):
        return value
    if isinstance(value, str) and lookup_type(value) is not None:
        return lookup_type(value)  # type: ignore[return-value]
    raise fail(function, "the last argument must be a type literal such as typeof(long)")


@scalar("extract", min_args=3, max_args=4)
def _extract(ctx: CompileContext, args: list[Typed]) -> Typed:
    regex = _regex("extract", args, 0)
    group = constant("extract", args, 1, *INTEGER)
    value = text(ctx, args[2])
    if group is None or group < 0:
        raise fail("extract", "the capture group must be a non-negative constant")
    if ctx.dialect == "duckdb":
        match = sql(ctx.dialect, f"regexp_extract($v, $r, {int(group)})", v=value, r=regex)
        matches = sql(ctx.dialect, "regexp_matches($v, $r)", v=value, r=regex)
    else:
        match = sql(ctx.dialect, f"extractGroups($v, $r)[{int(group)}]", v=value, r=regex)
        matches = sql(ctx.dialect, "match($v, $r)", v=value, r=regex)
    if len(args) == 4:
        target = _type_literal("extract", args[3])
        if target is not KustoType.STRING:
            converted = convert(ctx, Typed(match, K.STRING), target)
            return typed(sql(ctx.dialect, "CASE WHEN $m THEN $c END", m=matches, c=converted), target)
    if group == 0 or ctx.dialect == "duckdb":
        return _never_null(ctx, match)
    return _never_null(ctx, sql(ctx.dialect, "CASE WHEN $m THEN $x END", m=matches, x=match))


def _group_count(pattern: str) -> int:
    import re

    try:
        return re.compile(pattern).groups
    except re.error:
        # RE2 syntax Python lacks (\pL, (?P<x>) is fine); count unescaped '(' not followed by '?'.
        return len(re.findall(r"(?<!\\)\((?!\?)", pattern))


def _group_names(pattern: str) -> dict[str, int]:
    import re

    try:
        return dict(re.compile(pattern).groupindex)
    except re.error:
        return {}


@scalar("extract_all", "extractall", min_args=2, max_args=3)
def _extract_all(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "extract_all")
    pattern = constant_string("extract_all", args, 0)
    value = text(ctx, args[-1])
    total = _group_count(pattern)
    if len(args) == 3:
        wanted = constant("extract_all", args, 1, K.DYNAMIC)
        if not isinstance(wanted, list) or not wanted:
            raise fail("extract_all", "the capture groups must be a non-empty constant array")
        names = _group_names(pattern)
        groups = []
        for item in wanted:
            if isinstance(item, str):
                if item not in names:
                    raise fail("extract_all", f"no capture group named '{item}'")
                groups.append(names[item])
            else:
                groups.append(int(item))
    else:
        groups = list(range(1, total + 1)) or [0]
    if any(g < 0 or g > total for g in groups):
        raise fail("extract_all", "a capture group is out of range")
    if len(groups) == 1:
        items = sql(ctx.dialect, f"regexp_extract_all($v, $r, {groups[0]})", v=value, r=pattern)
    else:
        # Each whole match re-matched on its own to read its groups.
        fields = ", ".join(f"regexp_extract(__m, $r, {g})" for g in groups)
        items = sql(
            ctx.dialect,
            f"list_transform(regexp_extract_all($v, $r, 0), lambda __m: [{fields}])",
            v=value,
            r=pattern,
        )
    body = "CASE WHEN len($l) = 0 THEN NULL ELSE CAST(to_json($l) AS JSON) END"
    return typed(sql(ctx.dialect, body, l=items), K.DYNAMIC)


# ---------------------------------------------------------------------------------- searching


def _positions(ctx: CompileContext, value: Any, lookup: Any, start: Any, length: Any) -> str:
    """SQL template (over ``$v``, ``$l``, ``$st``, ``$n``) of the zero-based positions where ``lookup``
    starts within ``[start, start + length)`` (``length`` None or -1: to the end), overlaps included."""
    end = "length($v)" if length is None else "(CASE WHEN $n = -1 THEN length($v) ELSE least($st + $n, length($v)) END)"
    return f"list_filter(range($st, {end}), lambda __i: substring($v, __i + 1, length($l)) = $l)"


@scalar("indexof", min_args=2, max_args=5)
def _indexof(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "indexof")
    value, lookup = text(ctx, args[0]), text(ctx, args[1])
    for i in range(2, len(args)):
        expect("indexof", args, i, *INTEGER)
    if len(args) == 2:
        return typed(sql(ctx.dialect, "CAST(strpos($v, $l) - 1 AS BIGINT)", v=value, l=lookup), K.LONG)
    start = args[2]
    length: Any = args[3] if len(args) > 3 else None
    occurrence: Any = args[4] if len(args) > 4 else 1
    # Kusto: a match may start anywhere in [start, start + length) and run past it; a negative
    # start counts from the end; occurrences may overlap.
    start_sql = sql(ctx.dialect, "CASE WHEN $s < 0 THEN greatest(length($v) + $s, 0) ELSE $s END", s=start, v=value)
    positions = _positions(ctx, value, lookup, start_sql, length)
    invalid = "$o < 0" + (" OR $n < -1" if length is not None else "")
    body = (
        f"CASE WHEN {invalid} THEN NULL WHEN $st > length($v) THEN -1"
        f" ELSE CAST(COALESCE({positions}[greatest($o, 1)], -1) AS BIGINT) END"
    )
    return typed(sql(ctx.dialect, body, v=value, l=lookup, st=start_sql, n=length, o=occurrence), K.LONG)


@scalar("indexof_regex", min_args=2, max_args=5)
def _indexof_regex(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "indexof_regex")
    value = text(ctx, args[0])
    regex = _regex("indexof_regex", args, 1)
    for i in range(2, len(args)):
        expect("indexof_regex", args, i, *INTEGER)
    start: Any = args[2] if len(args) > 2 else 0
    length: Any = args[3] if len(args) > 3 else -1
    occurrence: Any = args[4] if len(args) > 4 else 1
    # Non-overlapping matches in the region: the k-th starts after the first k pieces between
    # matches and the k-1 matches before it.
    region = "(CASE WHEN $n = -1 THEN substring($v, $st + 1) ELSE substring($v, $st + 1, $n) END)"
    matches = f"regexp_extract_all({region}, $r)"
    pieces = f"string_split_regex({region}, $r)"
    position = (
        f"$st + COALESCE(list_sum(list_transform(list_slice({pieces}, 1, $o), lambda __p: length(__p))), 0)"
        f" + COALESCE(list_sum(list_transform(list_slice({matches}, 1, $o - 1), lambda __m: length(__m))), 0)"
    )
    body = (
        f"CASE WHEN $st < 0 OR $o < 0 OR $n < -1 THEN NULL WHEN len({matches}) < greatest($o, 1) THEN -1"
        f" ELSE CAST({position} AS BIGINT) END"
    )
    return typed(sql(ctx.dialect, body, v=value, r=regex, st=start, n=length, o=occurrence), K.LONG)


@scalar("countof", min_args=2, max_args=3)
def _countof(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "countof")
    value, search = text(ctx, args[0]), text(ctx, args[1])
    kind = constant_string("countof", args, 2) if len(args) > 2 else "normal"
    if kind == "regex":
        body = "CAST(len(regexp_extract_all($v, $s)) AS BIGINT)"
    elif kind == "normal":
        body = (
            "CASE WHEN $s = '' THEN 0 ELSE CAST(len(list_filter(range(1, length($v) - length($s) + 2),"
            " lambda __i: substring($v, __i, length($s)) = $s)) AS BIGINT) END"
        )
    else:
        raise fail("countof", "kind must be 'normal' or 'regex'")
    return typed(sql(ctx.dialect, body, v=value, s=search), K.LONG)


@scalar("strrep", min_args=2, max_args=3)
def _strrep(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "strrep")
    value = text(ctx, args[0])
    expect("strrep", args, 1, *INTEGER)
    delimiter = text(ctx, args[2]) if len(args) > 2 else string_literal("")
    body = "CASE WHEN $n < 1 THEN '' ELSE repeat($v || $d, CAST(least($n, 1024) AS BIGINT) - 1) || $v END"
    return _never_null(ctx, sql(ctx.dialect, body, v=value, n=args[1], d=delimiter))


@scalar("translate", min_args=3, max_args=3)
def _translate(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "translate")
    search, replacement, value = (text(ctx, a) for a in args)
    # Kusto repeats the last replacement character for the rest of the search list; DuckDB drops them.
    padded = sql(
        ctx.dialect,
        "CASE WHEN $r = '' THEN '' ELSE rpad($r, CAST(greatest(length($s), length($r)) AS INTEGER), right($r, 1)) END",
        r=replacement,
        s=search,
    )
    return _never_null(ctx, sql(ctx.dialect, "translate($v, $s, $p)", v=value, s=search, p=padded))


@scalar("strcmp", min_args=2, max_args=2)
def _strcmp(ctx: CompileContext, args: list[Typed]) -> Typed:
    a, b = text(ctx, args[0]), text(ctx, args[1])
    body = "CASE WHEN $a < $b THEN -1 WHEN $a > $b THEN 1 ELSE 0 END"
    return typed(sql(ctx.dialect, body, a=a, b=b), K.INT)


@scalar("split", min_args=2, max_args=3)
def _split(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "split")
    value = text(ctx, args[0])
    delimiter = text(ctx, args[1])
    parts = "string_split($v, $d)"
    if len(args) == 3:
        expect("split", args, 2, *INTEGER)
        body = (
            f"CASE WHEN $i IS NULL THEN NULL WHEN $i >= 0 AND $i < len({parts}) "
            f"THEN to_json([{parts}[$i + 1]]) ELSE CAST('[]' AS JSON) END"
        )
        return typed(sql(ctx.dialect, body, v=value, d=delimiter, i=args[2]), K.DYNAMIC)
    return typed(sql(ctx.dialect, f"to_json({parts})", v=value, d=delimiter), K.DYNAMIC)


@scalar("replace_strings", min_args=3, max_args=3)
def _replace_strings(ctx: CompileContext, args: list[Typed]) -> Typed:
    """Replace several strings: each lookup in turn, in the text the earlier ones left unreplaced
    (so an earlier lookup wins and replacements never overlap); a non-string rewrite keeps the match."""
    duckdb_only(ctx, "replace_strings")
    value = text(ctx, args[0])
    lookups = constant("replace_strings", args, 1, K.DYNAMIC)
    rewrites = constant("replace_strings", args, 2, K.DYNAMIC)
    if not isinstance(lookups, list) or not isinstance(rewrites, list):
        raise fail("replace_strings", "the lookups and rewrites must be constant arrays")
    pairs = [
        (lookup, rewrites[i] if i < len(rewrites) and isinstance(rewrites[i], str) else lookup)
        for i, lookup in enumerate(lookups)
        if isinstance(lookup, str) and lookup
    ]
    if not pairs:
        return value
    # The text as a list of segments {s: text, d: already replaced}; each lookup splits the
    # segments not yet replaced and puts its rewrite (marked done) between the pieces.
    segments = "[{'s': $v, 'd': FALSE}]"
    for lookup, rewrite in pairs:
        piece = "{'s': __p, 'd': FALSE}"
        split = (
            f"list_transform(string_split(__g.s, {_quote(lookup)}), lambda __p, __i: CASE WHEN __i = 1"
            f" THEN [{piece}] ELSE [{{'s': {_quote(rewrite)}, 'd': TRUE}}, {piece}] END)"
        )
        keep_or_split = f"CASE WHEN __g.d THEN [__g] ELSE flatten({split}) END"
        segments = f"flatten(list_transform({segments}, lambda __g: {keep_or_split}))"
    body = f"array_to_string(list_transform({segments}, lambda __g: __g.s), '')"
    return _never_null(ctx, sql(ctx.dialect, body, v=value))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@scalar("unicode_codepoints_from_string", min_args=1, max_args=1)
def _codepoints_from(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "unicode_codepoints_from_string")
    value = text(ctx, args[0])
    body = "to_json(list_transform(string_split($v, ''), lambda __c: unicode(__c)))"
    return typed(sql(ctx.dialect, f"CASE WHEN $v = '' THEN CAST('[]' AS JSON) ELSE {body} END", v=value), K.DYNAMIC)


@scalar("unicode_codepoints_to_string", min_args=1, max_args=64)
def _codepoints_to(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "unicode_codepoints_to_string")
    parts = []
    for i, arg in enumerate(args):
        expect("unicode_codepoints_to_string", args, i, *INTEGER, K.DYNAMIC)
        if arg.type is K.DYNAMIC:
            parts.append(
                sql(
                    ctx.dialect,
                    "array_to_string(list_transform(TRY_CAST($a AS BIGINT[]),"
                    " lambda __c: chr(CAST(__c AS INTEGER))), '')",
                    a=arg,
                )
            )
        else:
            parts.append(sql(ctx.dialect, "chr(CAST($c AS INTEGER))", c=arg))
    joined = exp.Anonymous(this="concat", expressions=parts) if len(parts) > 1 else parts[0]
    return _never_null(ctx, sql(ctx.dialect, "TRY($j)", j=joined))


@scalar("isascii", min_args=1, max_args=1)
def _isascii(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = text(ctx, args[0])
    if ctx.dialect == "clickhouse":
        return typed(sql(ctx.dialect, "match($v, '^[\\x00-\\x7F]*$')", v=value), K.BOOL)
    return typed(sql(ctx.dialect, "regexp_full_match($v, '[\\x00-\\x7F]*')", v=value), K.BOOL)
