"""Base64 and byte arrays: ``base64_decode_toarray`` and ``base64_encode_fromarray``.

``base64_decode_toarray`` gives the decoded bytes as an array of longs (an empty array when the
text is not base64); ``base64_encode_fromarray`` encodes an array of byte values (0-255) and gives
null when the array is empty or holds anything else, as Kusto's examples show. DuckDB only.
"""

from __future__ import annotations

from ..typed import Typed
from .common import K, duckdb_only, expect, sql, typed
from .conversion import to_string_typed
from .dynamic import json_list
from .registry import CompileContext, scalar


@scalar("base64_decode_toarray", min_args=1, max_args=1)
def _base64_decode_toarray(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "base64_decode_toarray")
    value = to_string_typed(ctx, args[0])
    body = (
        "to_json(COALESCE(list_transform([hex(TRY(from_base64($v)))], lambda __h: list_transform("
        "range(length(__h) // 2), lambda __i: CAST(('0x' || substr(__h, 2 * __i + 1, 2)) AS BIGINT)))[1],"
        " CAST([] AS BIGINT[])))"
    )
    return typed(sql(ctx.dialect, body, v=value), K.DYNAMIC)


@scalar("base64_encode_fromarray", min_args=1, max_args=1)
def _base64_encode_fromarray(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "base64_encode_fromarray")
    array = expect("base64_encode_fromarray", args, 0, K.DYNAMIC)
    byte = (
        "CASE WHEN json_type(__e) IN ('BIGINT', 'UBIGINT') AND CAST(__e AS BIGINT) BETWEEN 0 AND 255"
        " THEN CAST(__e AS BIGINT) END"
    )
    body = (
        f"list_transform([list_transform($l, lambda __e: {byte})], lambda __b: CASE WHEN len(__b) = 0"
        " OR list_contains(list_transform(__b, lambda __x: __x IS NULL), true) THEN NULL"
        " ELSE to_base64(unhex(array_to_string(list_transform(__b, lambda __x: lpad(hex(__x), 2, '0')), ''))) END)[1]"
    )
    return typed(sql(ctx.dialect, body, l=json_list(ctx, array)), K.STRING)
