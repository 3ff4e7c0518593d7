"""Dynamic (JSON) functions: ``pack``/``bag_pack``, ``pack_array``, ``array_length``, ``array_concat``,
``array_slice``, ``array_index_of``, ``array_sort_asc``/``array_sort_desc``, ``array_reverse``,
``array_sum``, ``array_shift_left``/``right``, ``array_rotate_left``/``right``, ``set_union``,
``set_intersect``, ``set_difference``, ``set_has_element``, ``bag_keys``, ``bag_merge``,
``bag_remove_keys``, ``bag_has_key``, ``bag_set_key``, ``zip``, ``repeat``, ``range``, ``gettype``.

A dynamic value is DuckDB ``JSON``. Arrays are handled as ``JSON[]`` lists (``CAST(a AS JSON[])``)
and written back with ``to_json``; property bags as ``MAP(VARCHAR, JSON)``. Values put into a
dynamic (``pack``, ``pack_array``...) are written as Kusto writes them: datetimes as ISO 8601
strings with seven fractional digits, timespans as ``hh:mm:ss`` strings, GUIDs as strings.
Elements compare by their JSON text (so ``1`` and ``1.0`` differ). Functions taking an array
return null when given anything else; set functions keep the order of first appearance.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ..typed import Typed
from .common import INTEGER, NUMERIC, K, coerce, constant, duckdb_only, expect, fail, literal_typed, sql, typed
from .conversion import timespan_text_sql, to_json_value, to_string_typed
from .registry import CompileContext, scalar

_LIST = "(CASE WHEN json_type($a) = 'ARRAY' THEN CAST($a AS JSON[]) END)"
_MAP = "CAST(CASE WHEN json_type($b) = 'OBJECT' THEN $b ELSE CAST('{}' AS JSON) END AS MAP(VARCHAR, JSON))"


def json_list(ctx: CompileContext, array: Typed | exp.Expression) -> exp.Expression:
    """``JSON[]`` of a dynamic array; null for anything else."""
    return sql(ctx.dialect, _LIST, a=array)


def _dynamic(ctx: CompileContext, expression: exp.Expression) -> Typed:
    return typed(expression, K.DYNAMIC)


def _from_list(ctx: CompileContext, items: exp.Expression) -> Typed:
    return _dynamic(ctx, sql(ctx.dialect, "to_json($l)", l=items))


def _arrays(function: str, ctx: CompileContext, args: list[Typed]) -> list[exp.Expression]:
    duckdb_only(ctx, function)
    for i in range(len(args)):
        expect(function, args, i, K.DYNAMIC)
    return [json_list(ctx, a) for a in args]


# ---------------------------------------------------------------------------------- building


@scalar("pack", "bag_pack", "pack_dictionary", min_args=0, max_args=128)
def _pack(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "bag_pack")
    if len(args) % 2:
        raise fail("bag_pack", "expects pairs of key and value")
    parts: list[exp.Expression] = []
    for i in range(0, len(args), 2):
        parts.append(to_string_typed(ctx, args[i]).sql)
        parts.append(to_json_value(ctx, args[i + 1]))
    return _dynamic(ctx, exp.Anonymous(this="json_object", expressions=parts))


@scalar("pack_array", min_args=1, max_args=64)
def _pack_array(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "pack_array")
    values = [to_json_value(ctx, a) for a in args]
    return _dynamic(ctx, exp.Anonymous(this="json_array", expressions=values))


@scalar("repeat", min_args=2, max_args=2)
def _repeat(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "repeat")
    expect("repeat", args, 1, *INTEGER)
    body = "CASE WHEN $n IS NULL THEN NULL ELSE to_json(list_transform(range(greatest($n, 0)), lambda __i: $v)) END"
    return _dynamic(ctx, sql(ctx.dialect, body, n=args[1], v=to_json_value(ctx, args[0])))


_RANGE_LIMIT = 1_048_576  # Kusto's largest range() array


@scalar("range", min_args=2, max_args=3)
def _range(ctx: CompileContext, args: list[Typed]) -> Typed:
    """``range(start, stop[, step])``: the array from ``start`` to ``stop`` inclusive; null for a zero
    step or more than 1,048,576 values; datetimes and timespans step by a timespan (default 1d)."""
    duckdb_only(ctx, "range")
    start, stop = args[0], args[1]
    too_many = f"$t = 0 OR abs($n) / abs($t) >= {_RANGE_LIMIT}"
    if start.type in (K.DATETIME, K.TIMESPAN):
        expect("range", args, 1, start.type)
        step: Any = args[2] if len(args) > 2 else literal_typed(864000000000, K.TIMESPAN)
        expect("range", [*args[:2], step], 2, K.TIMESPAN)
        if start.type is K.DATETIME:
            span = sql(ctx.dialect, "(epoch_us($e) - epoch_us($s)) * 10", s=start, e=stop)
            series = "generate_series($s, $e, to_microseconds(CAST($t / 10 AS BIGINT)))"
            text = "strftime(__d, '%Y-%m-%dT%H:%M:%S.%f') || '0Z'"
        else:
            span = sql(ctx.dialect, "$e - $s", s=start, e=stop)
            series = "generate_series($s, $e, $t)"
            text = "$x"
        body = f"CASE WHEN {too_many} THEN NULL ELSE to_json(list_transform({series}, lambda __d: {text})) END"
        extra = {"x": timespan_text_sql(ctx.dialect, exp.column("__d"))} if start.type is K.TIMESPAN else {}
        return _dynamic(ctx, sql(ctx.dialect, body, s=start, e=stop, t=step, n=span, **extra))
    for i in range(len(args)):
        expect("range", args, i, *NUMERIC)
    result = K.REAL if any(a.type is K.REAL for a in args) else K.LONG
    step_sql = coerce(args[2], result) if len(args) > 2 else exp.Literal.number(1)
    first, last = coerce(start, result), coerce(stop, result)
    if result is K.REAL:
        count = "TRY_CAST(floor(($e - $s) / $t) AS BIGINT)"
        body = (
            f"CASE WHEN $t = 0 THEN NULL ELSE list_transform([{count}], lambda __n: CASE WHEN __n IS NULL"
            f" OR __n >= {_RANGE_LIMIT} THEN NULL WHEN __n < 0 THEN CAST('[]' AS JSON)"
            " ELSE to_json(list_transform(range(__n + 1), lambda __i: $s + __i * $t)) END)[1] END"
        )
        return _dynamic(ctx, sql(ctx.dialect, body, s=first, e=last, t=step_sql))
    body = f"CASE WHEN {too_many} THEN NULL ELSE to_json(generate_series($s, $e, $t)) END"
    span = sql(ctx.dialect, "$e - $s", s=first, e=last)
    return _dynamic(ctx, sql(ctx.dialect, body, s=first, e=last, t=step_sql, n=span))


# ------------------------------------------------------------------------------------ arrays


@scalar("array_length", min_args=1, max_args=1)
def _array_length(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "array_length")
    expect("array_length", args, 0, K.DYNAMIC)
    body = "CASE WHEN json_type($a) = 'ARRAY' THEN CAST(json_array_length($a) AS BIGINT) END"
    return typed(sql(ctx.dialect, body, a=args[0]), K.LONG)


@scalar("array_concat", min_args=1, max_args=64)
def _array_concat(ctx: CompileContext, args: list[Typed]) -> Typed:
    lists = _arrays("array_concat", ctx, args)
    if len(lists) == 1:
        return _from_list(ctx, lists[0])
    valid = " AND ".join(f"json_type($a{i}) = 'ARRAY'" for i in range(len(args)))
    concatenated = exp.Anonymous(this="list_concat", expressions=lists)
    body = f"CASE WHEN {valid} THEN to_json($l) END"
    return _dynamic(ctx, sql(ctx.dialect, body, l=concatenated, **{f"a{i}": a for i, a in enumerate(args)}))


@scalar("array_slice", min_args=3, max_args=3)
def _array_slice(ctx: CompileContext, args: list[Typed]) -> Typed:
    (items,) = _arrays("array_slice", ctx, args[:1])
    expect("array_slice", args, 1, *INTEGER)
    expect("array_slice", args, 2, *INTEGER)
    first = "greatest(CASE WHEN $s < 0 THEN len($l) + $s ELSE $s END, 0)"
    last = "least(CASE WHEN $e < 0 THEN len($l) + $e ELSE $e END, len($l) - 1)"
    body = (
        f"to_json(CASE WHEN {first} > {last} THEN CAST([] AS JSON[]) ELSE list_slice($l, {first} + 1, {last} + 1) END)"
    )
    return _dynamic(
        ctx, sql(ctx.dialect, f"CASE WHEN $l IS NULL THEN NULL ELSE {body} END", l=items, s=args[1], e=args[2])
    )


@scalar("array_reverse", min_args=1, max_args=1)
def _array_reverse(ctx: CompileContext, args: list[Typed]) -> Typed:
    (items,) = _arrays("array_reverse", ctx, args)
    return _from_list(ctx, sql(ctx.dialect, "list_reverse($l)", l=items))


@scalar("array_sum", min_args=1, max_args=1)
def _array_sum(ctx: CompileContext, args: list[Typed]) -> Typed:
    (items,) = _arrays("array_sum", ctx, args)
    body = "list_sum(list_transform($l, lambda __e: TRY_CAST(json_extract_string(__e, '$') AS DOUBLE)))"
    return typed(sql(ctx.dialect, body, l=items), K.REAL)


@scalar("array_index_of", min_args=2, max_args=5)
def _array_index_of(ctx: CompileContext, args: list[Typed]) -> Typed:
    (items,) = _arrays("array_index_of", ctx, args[:1])
    value = to_json_value(ctx, args[1])
    for i in range(2, len(args)):
        expect("array_index_of", args, i, *INTEGER)
    start: Any = args[2] if len(args) > 2 else 0
    length: Any = args[3] if len(args) > 3 else -1
    occurrence = constant("array_index_of", args, 4, *INTEGER) if len(args) > 4 else 1
    if occurrence is None or occurrence < 1:
        raise fail("array_index_of", "the occurrence must be a positive constant")
    first = "(CASE WHEN $s < 0 THEN greatest(len($l) + $s, 0) ELSE $s END)"
    body = (
        f"CASE WHEN $l IS NULL OR $n < -1 THEN NULL ELSE COALESCE(list_filter(range(len($l)), lambda __i: "
        f"__i >= {first} AND ($n = -1 OR __i < {first} + $n) AND $l[__i + 1] = $v)[{int(occurrence)}], -1) END"
    )
    result = sql(ctx.dialect, body, l=items, v=value, s=start, n=length)
    return typed(sql(ctx.dialect, "CAST($r AS BIGINT)", r=result), K.LONG)


@scalar("set_has_element", min_args=2, max_args=2)
def _set_has_element(ctx: CompileContext, args: list[Typed]) -> Typed:
    (items,) = _arrays("set_has_element", ctx, args[:1])
    return typed(sql(ctx.dialect, "list_contains($l, $v)", l=items, v=to_json_value(ctx, args[1])), K.BOOL)


def _sort(name: str, descending: bool) -> None:
    @scalar(name, min_args=1, max_args=65)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        """The array sorted (numbers, then strings, then the rest; nulls last unless told).

        With several arrays, the others are reordered as the first and the result is the array of
        the sorted arrays (null for one whose length differs from the first's): Kusto returns them
        as separate columns, which only ``(a, b) = ...`` or indexing (``[1]``) reach here.
        """
        count = len(args) - 1 if len(args) > 1 and args[-1].type is not K.DYNAMIC else len(args)
        lists = _arrays(name, ctx, args[:count])
        nulls_last: Any = True
        if count < len(args):
            nulls_last = expect(name, args, count, K.BOOL)
        rank = (
            "CASE json_type(__e) WHEN 'BIGINT' THEN 0 WHEN 'UBIGINT' THEN 0 WHEN 'DOUBLE' THEN 0"
            " WHEN 'VARCHAR' THEN 1 ELSE 3 END"
        )
        # Positions (1-based) of the first array's elements in sorted order.
        keyed = (
            "list_transform(list_filter(list_transform($l, lambda __e, __i: {'e': __e, 'i': __i}),"
            f" lambda __p: json_type(__p.e) <> 'NULL'), lambda __p: list_transform([__p.e], lambda __e: {{'r': {rank},"
            " 'n': COALESCE(TRY_CAST(json_extract_string(__e, '$') AS DOUBLE), 0),"
            " 's': COALESCE(json_extract_string(__e, '$'), ''), 'i': __p.i})[1])"
        )
        ordered = f"list_transform(list_sort({keyed}), lambda __x: __x.i)"
        if descending:
            ordered = f"list_reverse({ordered})"
        nulls = "list_filter(range(1, len($l) + 1), lambda __i: COALESCE(json_type($l[__i]) = 'NULL', TRUE))"
        order = (
            f"CASE WHEN $z IS NOT FALSE THEN list_concat({ordered}, {nulls}) ELSE list_concat({nulls}, {ordered}) END"
        )

        def arrange(key: str) -> str:
            return (
                f"CASE WHEN ${key} IS NULL OR len(${key}) <> len($l) THEN NULL"
                f" ELSE to_json(list_transform(__o, lambda __i: ${key}[__i])) END"
            )

        if count == 1:
            body = f"list_transform([{order}], lambda __o: {arrange('l')})[1]"
        else:
            parts = ", ".join(arrange(f"m{i}") for i in range(count))
            body = f"list_transform([{order}], lambda __o: json_array({parts}))[1]"
        others = {f"m{i}": items for i, items in enumerate(lists)}
        guarded = f"CASE WHEN $l IS NULL THEN NULL ELSE {body} END"
        return _dynamic(ctx, sql(ctx.dialect, guarded, l=lists[0], z=nulls_last, **others))


_sort("array_sort_asc", descending=False)
_sort("array_sort_desc", descending=True)


def _shift(name: str, rotate: bool, left: bool) -> None:
    @scalar(name, min_args=2, max_args=2 if rotate else 3)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        (items,) = _arrays(name, ctx, args[:1])
        expect(name, args, 1, *INTEGER)
        shift = "$k" if left else "-$k"
        if rotate:
            element = f"$l[((__i + {shift}) % len($l) + len($l)) % len($l) + 1]"
        else:
            fill = "$f" if len(args) > 2 else "NULL"
            element = f"CASE WHEN __i + {shift} BETWEEN 0 AND len($l) - 1 THEN $l[__i + {shift} + 1] ELSE {fill} END"
        body = f"CASE WHEN $l IS NULL THEN NULL ELSE to_json(list_transform(range(len($l)), lambda __i: {element})) END"
        fill_value = to_json_value(ctx, args[2]) if len(args) > 2 else None
        return _dynamic(ctx, sql(ctx.dialect, body, l=items, k=args[1], f=fill_value))


_shift("array_shift_left", rotate=False, left=True)
_shift("array_shift_right", rotate=False, left=False)
_shift("array_rotate_left", rotate=True, left=True)
_shift("array_rotate_right", rotate=True, left=False)


@scalar("zip", min_args=2, max_args=16)
def _zip(ctx: CompileContext, args: list[Typed]) -> Typed:
    lists = _arrays("zip", ctx, args)
    names = {f"l{i}": items for i, items in enumerate(lists)}
    longest = "greatest(" + ", ".join(f"COALESCE(len($l{i}), 0)" for i in range(len(lists))) + ")"
    elements = ", ".join(f"$l{i}[__i + 1]" for i in range(len(lists)))
    body = f"to_json(list_transform(range({longest}), lambda __i: json_array({elements})))"
    return _dynamic(ctx, sql(ctx.dialect, body, **names))


# -------------------------------------------------------------------------------------- sets


def _distinct(list_sql: str) -> str:
    """Distinct elements of a list expression, in order of first appearance."""
    return f"list_filter({list_sql}, lambda __e, __i: list_position({list_sql}, __e) = __i)"


@scalar("set_union", min_args=2, max_args=64)
def _set_union(ctx: CompileContext, args: list[Typed]) -> Typed:
    lists = _arrays("set_union", ctx, args)
    concatenated = exp.Anonymous(this="list_concat", expressions=lists)
    return _from_list(ctx, sql(ctx.dialect, _distinct("$l"), l=concatenated))


@scalar("set_intersect", min_args=2, max_args=64)
def _set_intersect(ctx: CompileContext, args: list[Typed]) -> Typed:
    lists = _arrays("set_intersect", ctx, args)
    names = {f"l{i}": items for i, items in enumerate(lists)}
    condition = " AND ".join(f"list_contains($l{i}, __x)" for i in range(1, len(lists)))
    body = f"list_filter({_distinct('$l0')}, lambda __x: {condition})"
    return _from_list(ctx, sql(ctx.dialect, body, **names))


@scalar("set_difference", min_args=2, max_args=64)
def _set_difference(ctx: CompileContext, args: list[Typed]) -> Typed:
    lists = _arrays("set_difference", ctx, args)
    names = {f"l{i}": items for i, items in enumerate(lists)}
    condition = " AND ".join(f"NOT COALESCE(list_contains($l{i}, __x), FALSE)" for i in range(1, len(lists)))
    body = f"list_filter({_distinct('$l0')}, lambda __x: {condition})"
    return _from_list(ctx, sql(ctx.dialect, body, **names))


# -------------------------------------------------------------------------------------- bags


def _bag(ctx: CompileContext, function: str, args: list[Typed], index: int) -> exp.Expression:
    duckdb_only(ctx, function)
    expect(function, args, index, K.DYNAMIC)
    return sql(ctx.dialect, _MAP, b=args[index])


@scalar("bag_keys", min_args=1, max_args=1)
def _bag_keys(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "bag_keys")
    expect("bag_keys", args, 0, K.DYNAMIC)
    body = "CASE WHEN json_type($b) = 'OBJECT' THEN to_json(json_keys($b)) END"
    return _dynamic(ctx, sql(ctx.dialect, body, b=args[0]))


@scalar("bag_merge", min_args=2, max_args=64)
def _bag_merge(ctx: CompileContext, args: list[Typed]) -> Typed:
    maps = [_bag(ctx, "bag_merge", args, i) for i in range(len(args))]
    # map_concat keeps the last value of a key: listing the bags forwards then backwards keeps the
    # leftmost bag's value (Kusto's rule) and each key where it first appeared.
    order = maps + [m.copy() for m in reversed(maps[:-1])]
    return _dynamic(ctx, sql(ctx.dialect, "to_json($m)", m=exp.Anonymous(this="map_concat", expressions=order)))


def _keys_list(ctx: CompileContext, function: str, keys: Typed) -> exp.Expression:
    expect(function, [keys], 0, K.DYNAMIC)
    if keys.is_constant and isinstance(keys.literal, list):
        for key in keys.literal:
            if isinstance(key, str) and key.startswith("$"):
                raise fail(function, "JSONPath keys are not supported")
    return sql(ctx.dialect, "COALESCE(TRY_CAST($k AS VARCHAR[]), [])", k=keys)


@scalar("bag_remove_keys", min_args=2, max_args=2)
def _bag_remove_keys(ctx: CompileContext, args: list[Typed]) -> Typed:
    bag = _bag(ctx, "bag_remove_keys", args, 0)
    keys = _keys_list(ctx, "bag_remove_keys", args[1])
    body = (
        "CASE WHEN json_type($o) = 'OBJECT' THEN to_json(map_from_entries(list_filter(map_entries($b),"
        " lambda __e: NOT list_contains($k, __e.key)))) END"
    )
    return _dynamic(ctx, sql(ctx.dialect, body, o=args[0], b=bag, k=keys))


@scalar("bag_has_key", min_args=2, max_args=2)
def _bag_has_key(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "bag_has_key")
    expect("bag_has_key", args, 0, K.DYNAMIC)
    key = expect("bag_has_key", args, 1, K.STRING)
    plain = "COALESCE(json_type($b) = 'OBJECT' AND list_contains(json_keys($b), $k), FALSE)"
    if key.is_constant:
        path = isinstance(key.literal, str) and key.literal.startswith("$")
        body = "COALESCE(json_exists($b, $k), FALSE)" if path else plain
    else:
        body = f"CASE WHEN starts_with($k, '$') THEN COALESCE(json_exists($b, $k), FALSE) ELSE {plain} END"
    return typed(sql(ctx.dialect, body, b=args[0], k=key), K.BOOL)


@scalar("bag_set_key", min_args=3, max_args=3)
def _bag_set_key(ctx: CompileContext, args: list[Typed]) -> Typed:
    bag = _bag(ctx, "bag_set_key", args, 0)
    key = expect("bag_set_key", args, 1, K.STRING)
    if key.is_constant and isinstance(key.literal, str) and key.literal.startswith("$"):
        raise fail("bag_set_key", "JSONPath keys are not supported")
    body = "CASE WHEN json_type($o) = 'OBJECT' THEN to_json(map_concat($b, map([$k], [$v]))) END"
    value = sql(ctx.dialect, "CAST($v AS JSON)", v=to_json_value(ctx, args[2]))
    return _dynamic(ctx, sql(ctx.dialect, body, o=args[0], b=bag, k=key, v=value))


# ------------------------------------------------------------------------------------ gettype


@scalar("gettype", min_args=1, max_args=1)
def _gettype(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = args[0]
    if value.type is not K.DYNAMIC:
        name = str(value.type)
        return typed(exp.Literal.string(name), K.STRING, name)
    duckdb_only(ctx, "gettype")
    body = (
        "CASE WHEN $v IS NULL THEN 'null' ELSE CASE json_type($v) WHEN 'NULL' THEN 'null' WHEN 'OBJECT' THEN"
        " 'dictionary' WHEN 'ARRAY' THEN 'array' WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'bool'"
        " WHEN 'DOUBLE' THEN 'real' ELSE (CASE WHEN TRY_CAST(json_extract_string($v, '$') AS INTEGER) IS NOT NULL"
        " THEN 'int' ELSE 'long' END) END END"
    )
    return typed(sql(ctx.dialect, body, v=value), K.STRING)


@scalar("array_iff", "array_iif", min_args=3, max_args=3)
def _array_iff(ctx: CompileContext, args: list[Typed]) -> Typed:
    """Element-wise iff: a true (or non-zero) condition takes ``when_true``, false (or zero) takes
    ``when_false``, anything else is null; scalar branches apply to every element."""
    (conditions,) = _arrays("array_iff", ctx, args[:1])

    def branch(arg: Typed, name: str) -> str:
        if arg.type is K.DYNAMIC:
            return f"(CASE WHEN json_type(${name}) = 'ARRAY' THEN CAST(${name} AS JSON[])[__i + 1] ELSE ${name} END)"
        return f"${name}"

    truth = (
        "CASE json_type($c[__i + 1]) WHEN 'BOOLEAN' THEN CAST($c[__i + 1] AS BOOLEAN)"
        " WHEN 'BIGINT' THEN CAST($c[__i + 1] AS DOUBLE) <> 0 WHEN 'UBIGINT' THEN CAST($c[__i + 1] AS DOUBLE) <> 0"
        " WHEN 'DOUBLE' THEN CAST($c[__i + 1] AS DOUBLE) <> 0 END"
    )
    element = f"CASE ({truth}) WHEN TRUE THEN {branch(args[1], 't')} WHEN FALSE THEN {branch(args[2], 'f')} END"
    body = f"CASE WHEN $c IS NULL THEN NULL ELSE to_json(list_transform(range(len($c)), lambda __i: {element})) END"
    true_value = args[1].sql if args[1].type is K.DYNAMIC else to_json_value(ctx, args[1])
    false_value = args[2].sql if args[2].type is K.DYNAMIC else to_json_value(ctx, args[2])
    return _dynamic(ctx, sql(ctx.dialect, body, c=conditions, t=true_value, f=false_value))


@scalar("bag_zip", min_args=2, max_args=2)
def _bag_zip(ctx: CompileContext, args: list[Typed]) -> Typed:
    """A bag of ``keys[i]: values[i]``; non-string keys are skipped, missing values are null."""
    keys, values = _arrays("bag_zip", ctx, args)
    entries = (
        "list_transform(list_filter(range(len($k)), lambda __i: json_type($k[__i + 1]) = 'VARCHAR'),"
        " lambda __i: {'k': json_extract_string($k[__i + 1], '$'), 'v': COALESCE($v[__i + 1], CAST('null' AS JSON))})"
    )
    body = f"CASE WHEN $k IS NULL OR $v IS NULL THEN NULL ELSE to_json(map_from_entries({entries})) END"
    return _dynamic(ctx, sql(ctx.dialect, body, k=keys, v=values))


@scalar("jaccard_index", min_args=2, max_args=2)
def _jaccard_index(ctx: CompileContext, args: list[Typed]) -> Typed:
    """|A and B| / |A or B| over the distinct elements of two arrays (null unless both are arrays)."""
    first, second = _arrays("jaccard_index", ctx, args)
    body = (
        "CASE WHEN $a IS NULL OR $b IS NULL THEN NULL WHEN len(list_distinct(list_concat($a, $b))) = 0 THEN NULL"
        " ELSE len(list_filter(list_distinct($a), lambda __e: list_contains($b, __e)))"
        " / len(list_distinct(list_concat($a, $b))) END"
    )
    return typed(sql(ctx.dialect, f"CAST({body} AS DOUBLE)", a=first, b=second), K.REAL)


def _json_path(path: str) -> str:
    """A Kusto JSONPath (``$.a``, ``$['a']``, ``$.a[0]``) in DuckDB's spelling."""
    import re

    return re.sub(r"\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]", lambda m: '."' + (m[1] or m[2] or "") + '"', path)


@scalar("extractjson", "extract_json", min_args=2, max_args=3)
def _extractjson(ctx: CompileContext, args: list[Typed]) -> Typed:
    """``extractjson(path, text[, typeof(T)])``: the value at a JSONPath of JSON text, as a string
    (``''`` when absent) or converted to ``T``."""
    duckdb_only(ctx, "extractjson")
    path = constant("extractjson", args, 0, K.STRING)
    if not isinstance(path, str) or not path.startswith("$"):
        raise fail("extractjson", "the path must be a constant JSONPath starting with '$'")
    source = to_string_typed(ctx, args[1])
    text = sql(ctx.dialect, "json_extract_string(TRY_CAST($s AS JSON), $p)", s=source, p=_json_path(path))
    if len(args) == 3:
        from ..types import KustoType, lookup_type
        from .conversion import convert

        literal = args[2].literal if args[2].is_constant else None
        target = literal if isinstance(literal, KustoType) else lookup_type(str(literal)) if literal else None
        if target is None:
            raise fail("extractjson", "the last argument must be a type literal such as typeof(long)")
        return convert(ctx, Typed(text, K.STRING), target)
    return typed(sql(ctx.dialect, "COALESCE($t, '')", t=text), K.STRING)


@scalar("dynamic_to_json", min_args=1, max_args=1)
def _dynamic_to_json(ctx: CompileContext, args: list[Typed]) -> Typed:
    """Canonical JSON text (keys sorted). Constants are canonicalised at every depth; computed
    values have their top-level keys sorted (nested bags keep their order)."""
    value = args[0]
    if value.type is not K.DYNAMIC:
        return to_string_typed(ctx, value)
    if value.is_constant:
        import json

        text = "" if value.literal is None else json.dumps(value.literal, sort_keys=True, separators=(",", ":"))
        return typed(exp.Literal.string(text), K.STRING, text)
    duckdb_only(ctx, "dynamic_to_json")
    body = (
        "CASE WHEN json_type($v) = 'OBJECT' THEN CAST(to_json(map_from_entries(list_sort(map_entries("
        "CAST($v AS MAP(VARCHAR, JSON)))))) AS VARCHAR) ELSE COALESCE(CAST($v AS VARCHAR), '') END"
    )
    return typed(sql(ctx.dialect, body, v=value), K.STRING)
