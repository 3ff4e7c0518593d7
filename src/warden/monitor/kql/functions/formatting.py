"""``format_bytes(size [, precision [, units]])``: a data size as text, ``564 Bytes``, ``10.1 KB``.

As Kusto's docs show: the size is divided by the largest power of 1024 (KB, MB, GB, TB, PB, EB)
that it reaches, or by the one of the given unit, and rounded to ``precision`` digits (default
0), written without trailing zeros; ``Bytes`` below 1024. An unknown unit or a null size gives ''.
"""

from __future__ import annotations

from ..typed import Typed
from .common import INTEGER, NUMERIC, K, duckdb_only, expect, sql, typed
from .registry import CompileContext, scalar

_UNITS = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"]


@scalar("format_bytes", min_args=1, max_args=3)
def _format_bytes(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "format_bytes")
    size = expect("format_bytes", args, 0, *NUMERIC)
    precision = expect("format_bytes", args, 1, *INTEGER) if len(args) > 1 else 0
    units = expect("format_bytes", args, 2, K.STRING) if len(args) > 2 else ""
    names = "[" + ", ".join(f"'{u}'" for u in _UNITS) + "]"
    # The power: the given unit's, else the largest the size reaches (0 for Bytes).
    # (compared with exact powers: a logarithm may fall just short of a whole number).
    auto = "CASE " + " ".join(f"WHEN abs($s) >= {1024**k} THEN {k}" for k in range(6, 0, -1)) + " ELSE 0 END"
    power = f"CASE WHEN $u = '' THEN {auto} ELSE list_position({names}, $u) - 1 END"
    number = "round($s / pow(1024, __k), CAST($p AS INTEGER))"
    # Integral values print without a fraction; others with the digits they have.
    text = (
        f"CASE WHEN {number} = trunc({number}) THEN CAST(CAST({number} AS HUGEINT) AS VARCHAR)"
        f" ELSE CAST({number} AS VARCHAR) END || ' ' || {names}[__k + 1]"
    )
    body = f"COALESCE(list_transform([{power}], lambda __k: CASE WHEN __k < 0 THEN NULL ELSE {text} END)[1], '')"
    return typed(
        sql(ctx.dialect, f"CASE WHEN $s IS NULL THEN '' ELSE {body} END", s=size, p=precision, u=units), K.STRING
    )
