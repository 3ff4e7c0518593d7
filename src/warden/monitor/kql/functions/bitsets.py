"""``bitset_count_ones(value)``: the number of set bits of an integer (a negative number counts
the bits of its 64-bit two's complement); null for null."""

from __future__ import annotations

from ..typed import Typed
from .common import INTEGER, K, duckdb_only, expect, sql, typed
from .registry import CompileContext, scalar


@scalar("bitset_count_ones", min_args=1, max_args=1)
def _bitset_count_ones(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "bitset_count_ones")
    value = expect("bitset_count_ones", args, 0, *INTEGER)
    return typed(sql(ctx.dialect, "CAST(bit_count(CAST($v AS BIGINT)) AS BIGINT)", v=value), K.LONG)
