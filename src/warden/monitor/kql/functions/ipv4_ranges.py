"""``ipv4_range_to_cidr_list(start, end)``: the fewest CIDR blocks covering an IPv4 address range.

Blocks are produced from the start address upwards, each the largest one aligned on its first
address that does not pass the end (the classic range-to-prefix split; Kusto's docs show
``1.1.128.0``-``1.1.140.255`` as ``1.1.128.0/21, 1.1.136.0/22, 1.1.140.0/24``). A prefix on either
address is ignored. An invalid address gives null; a start after the end gives an empty array.
"""

from __future__ import annotations

from ..typed import Typed
from .common import K, duckdb_only, expect, typed
from .network import _address_struct, _dotted, _with
from .registry import CompileContext, scalar

# At most 62 blocks cover any range of 32-bit addresses.
_STEPS = 64


@scalar("ipv4_range_to_cidr_list", min_args=2, max_args=2)
def _ipv4_range_to_cidr_list(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "ipv4_range_to_cidr_list")
    start = expect("ipv4_range_to_cidr_list", args, 0, K.STRING)
    end = expect("ipv4_range_to_cidr_list", args, 1, K.STRING)
    # Bits of the block at __s.v: the alignment of the address (32 for 0.0.0.0), capped by the size
    # of what is left of the range.
    alignment = "CASE WHEN __s.v = 0 THEN 32 ELSE CAST(round(log2(__s.v & -__s.v)) AS INTEGER) END"
    room = "CAST(floor(log2(__e.v - __s.v + 1)) AS INTEGER)"
    bits = f"least({alignment}, {room})"
    block = f"{_dotted('__s.v')} || '/' || CAST(32 - __k AS VARCHAR)"
    step = (
        "CASE WHEN __s.v > __e.v THEN __s ELSE list_transform([" + bits + "], lambda __k:"
        f" {{'v': __s.v + (CAST(1 AS BIGINT) << __k), 'out': list_append(__s.out, {block})}})[1] END"
    )
    reduce = f"list_reduce(range({_STEPS}), lambda __s, __i: {step}, {{'v': __a.v, 'out': CAST([] AS VARCHAR[])}}).out"
    body = f"CASE WHEN __a IS NULL OR __e IS NULL THEN NULL ELSE to_json({reduce}) END"
    bindings = {"__a": _address_struct(ctx, start), "__e": _address_struct(ctx, end)}
    return typed(_with(ctx, bindings, body), K.DYNAMIC)
