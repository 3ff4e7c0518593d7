"""More array functions: ``array_split``.

``array_split(array, indices)`` cuts an array before each index (an integer or an array of
integers, counted from 0; a negative index counts from the end, ``len + index``; indices are
clamped to the array) and returns the N+1 pieces ``[0, i1), [i1, i2), ... [iN, len)``, as Kusto's
docs describe. A piece whose end precedes its start is empty. A non-array gives null.
"""

from __future__ import annotations

from ..typed import Typed
from .common import INTEGER, K, duckdb_only, expect, sql, typed
from .dynamic import json_list
from .registry import CompileContext, scalar


@scalar("array_split", min_args=2, max_args=2)
def _array_split(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "array_split")
    array = expect("array_split", args, 0, K.DYNAMIC)
    index = expect("array_split", args, 1, K.DYNAMIC, *INTEGER)
    if index.type is K.DYNAMIC:
        indices = sql(
            ctx.dialect,
            "list_transform($x, lambda __e: CASE WHEN json_type(__e) IN ('BIGINT', 'UBIGINT')"
            " THEN CAST(__e AS BIGINT) END)",
            x=json_list(ctx, index),
        )
    else:
        indices = sql(ctx.dialect, "[CAST($i AS BIGINT)]", i=index)
    clamp = "least(len($l), greatest(0, CASE WHEN __x < 0 THEN len($l) + __x ELSE __x END))"
    bounds = f"list_concat([0], list_transform($i, lambda __x: {clamp}), [len($l)])"
    pieces = "list_transform(range(len(__b) - 1), lambda __k: list_slice($l, __b[__k + 1] + 1, __b[__k + 2]))"
    body = (
        "CASE WHEN $l IS NULL OR $i IS NULL OR list_contains(list_transform($i, lambda __x: __x IS NULL), true)"
        f" THEN NULL ELSE to_json(list_transform([{bounds}], lambda __b: {pieces})[1]) END"
    )
    return typed(sql(ctx.dialect, body, l=json_list(ctx, array), i=indices), K.DYNAMIC)
