"""IPv6 functions: ``parse_ipv6``, ``parse_ipv6_mask``, ``ipv6_compare``, ``ipv6_is_match``,
``ipv6_is_in_range``, ``ipv6_is_in_any_range``.

An address is IPv6 text (``::`` compression and a dotted IPv4 tail allowed) or IPv4 text, which
stands for the mapped address ``::ffff:a.b.c.d`` (an IPv4 ``/24`` prefix becomes ``/120``), as does
``::a.b.c.d`` (Kusto's docs: "IPv6 with IPv4 notation"); either may carry a ``/prefix``. Anything
else is null. As for IPv4, comparisons mask both sides with the smallest prefix involved. In SQL an
address is a struct of its eight 16-bit groups (a list, which DuckDB compares in order, so list
order is address order) and its prefix. DuckDB only.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ..typed import Typed
from .common import INTEGER, K, duckdb_only, expect, fail, sql, typed
from .network import _with
from .registry import CompileContext, scalar

# IPv4 text, alone or after '::' or '::ffff:' (Kusto reads both as the mapped IPv4 address).
_V4 = r"^(?:::(?:[fF]{4}:)?)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
_V4_TAIL = r"^(.*:)(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
_GROUP = "^[0-9a-fA-F]{1,4}$"
_NULL_ADDRESS = "CAST(NULL AS STRUCT(g INTEGER[], p INTEGER))"


def _octets_ok(r: str) -> str:
    return " AND ".join(f"CAST({r}.{k} AS INTEGER) <= 255" for k in "abcd")


def _groups_of_hex(text: str) -> str:
    """SQL: INTEGER[8] of IPv6 hex text (``::`` allowed), null when malformed."""
    halves = f"string_split({text}, '::')"
    parts = "(CASE WHEN {h} = '' THEN CAST([] AS VARCHAR[]) ELSE string_split({h}, ':') END)"
    head, tail = parts.format(h="__x[1]"), parts.format(h="__x[2]")
    filled = (
        f"CASE WHEN len(__x) = 1 THEN string_split(__x[1], ':')"
        f" WHEN len(__x) = 2 AND len({head}) + len({tail}) <= 7"
        f" THEN list_concat({head}, list_transform(range(8 - len({head}) - len({tail})), lambda __z: '0'), {tail})"
        " END"
    )
    checked = (
        f"CASE WHEN len(__f) = 8 AND list_bool_and(list_transform(__f, lambda __e: regexp_matches(__e, '{_GROUP}')))"
        " THEN list_transform(__f, lambda __e: CAST(('0x' || __e) AS INTEGER)) END"
    )
    return f"list_transform([{halves}], lambda __x: list_transform([{filled}], lambda __f: {checked})[1])[1]"


def _address_sql(text: str) -> str:
    """SQL: ``{'g': INTEGER[8], 'p': INTEGER}`` of address text, null when it is not an address."""
    groups = ["a", "b", "c", "d"]
    v4 = f"regexp_extract(__s, '{_V4}', {groups})"
    v4_tail = f"regexp_extract(__s, '{_V4_TAIL}', ['h', 'a', 'b', 'c', 'd'])"
    mapped = (
        "[0, 0, 0, 0, 0, 65535, CAST(__r.a AS INTEGER) * 256 + CAST(__r.b AS INTEGER),"
        " CAST(__r.c AS INTEGER) * 256 + CAST(__r.d AS INTEGER)]"
    )
    tail_hex = (
        "__t.h || printf('%x:%x', CAST(__t.a AS INTEGER) * 256 + CAST(__t.b AS INTEGER),"
        " CAST(__t.c AS INTEGER) * 256 + CAST(__t.d AS INTEGER))"
    )
    v6_text = (
        f"list_transform([{v4_tail}], lambda __t: CASE WHEN __t.h = '' THEN __s"
        f" WHEN {_octets_ok('__t')} THEN {tail_hex} END)[1]"
    )
    prefix_text = "CASE WHEN strpos(__w, '/') > 0 THEN substr(__w, strpos(__w, '/') + 1) END"
    address = (
        f"list_transform([{v4}], lambda __r: CASE WHEN __r.a <> '' THEN"
        f" CASE WHEN {_octets_ok('__r')} THEN {{'g': {mapped}, 'v4': true}} END"
        f" ELSE {{'g': {_groups_of_hex(v6_text)}, 'v4': false}} END)[1]"
    )
    # The prefix: absent is 128; an IPv4 prefix (0..32) counts from bit 96.
    prefix = (
        "CASE WHEN __q IS NULL THEN 128"
        " WHEN NOT regexp_matches(__q, '^\\d{1,3}$') THEN -1"
        " WHEN __y.v4 THEN CASE WHEN CAST(__q AS INTEGER) <= 32 THEN 96 + CAST(__q AS INTEGER) ELSE -1 END"
        " WHEN CAST(__q AS INTEGER) <= 128 THEN CAST(__q AS INTEGER) ELSE -1 END"
    )
    combine = (
        f"list_transform([{address}], lambda __y: list_transform([{prefix}], lambda __n:"
        " CASE WHEN __y.g IS NULL OR __n < 0 THEN NULL ELSE {'g': __y.g, 'p': __n} END)[1])[1]"
    )
    body = (
        f"list_transform([trim({text})], lambda __w: list_transform([{prefix_text}], lambda __q:"
        f" list_transform([trim(split_part(__w, '/', 1))], lambda __s: {combine})[1])[1])[1]"
    )
    return f"CAST({body} AS STRUCT(g INTEGER[], p INTEGER))"


def _address(ctx: CompileContext, arg: Typed) -> exp.Expression:
    if arg.is_constant and arg.literal is None:
        return sql(ctx.dialect, _NULL_ADDRESS)
    return sql(ctx.dialect, _address_sql("$s"), s=arg)


def _masked(groups: str, prefix: str) -> str:
    """SQL: the groups with every bit past ``prefix`` cleared."""
    bits = f"least(16, greatest(0, {prefix} - 16 * (__i - 1)))"
    return (
        f"list_transform({groups}, lambda __e, __i: CASE WHEN {bits} = 0 THEN 0"
        f" ELSE (__e >> (16 - {bits})) << (16 - {bits}) END)"
    )


def _hex_text(groups: str) -> str:
    return f"array_to_string(list_transform({groups}, lambda __e: lpad(printf('%x', __e), 4, '0')), ':')"


def _compare(prefix: str | None) -> str:
    combined = "least(__a.p, __b.p)" if prefix is None else f"least(__a.p, __b.p, {prefix})"
    left, right = _masked("__a.g", combined), _masked("__b.g", combined)
    return f"CASE WHEN {left} < {right} THEN -1 WHEN {left} > {right} THEN 1 ELSE 0 END"


def _two(function: str, ctx: CompileContext, args: list[Typed]) -> tuple[dict[str, exp.Expression], Any]:
    duckdb_only(ctx, function)
    first = expect(function, args, 0, K.STRING)
    second = expect(function, args, 1, K.STRING)
    prefix = expect(function, args, 2, *INTEGER) if len(args) > 2 else None
    return {"__a": _address(ctx, first), "__b": _address(ctx, second)}, prefix


def _prefix_guard(prefix: Any) -> str:
    return "" if prefix is None else " OR $n IS NULL OR $n < 0 OR $n > 128"


@scalar("ipv6_compare", min_args=2, max_args=3)
def _ipv6_compare(ctx: CompileContext, args: list[Typed]) -> Typed:
    """0 when the addresses are equal under the smallest prefix involved, -1/1 when the first is
    smaller/larger; null when either is not an address."""
    bindings, prefix = _two("ipv6_compare", ctx, args)
    comparison = _compare(None if prefix is None else "$n")
    body = (
        f"CASE WHEN __a IS NULL OR __b IS NULL{_prefix_guard(prefix)} THEN NULL ELSE CAST({comparison} AS BIGINT) END"
    )
    return typed(_with(ctx, bindings, body, n=prefix), K.LONG)


@scalar("ipv6_is_match", min_args=2, max_args=3)
def _ipv6_is_match(ctx: CompileContext, args: list[Typed]) -> Typed:
    """Whether the addresses are equal under the smallest prefix involved; null when either is invalid."""
    bindings, prefix = _two("ipv6_is_match", ctx, args)
    comparison = _compare(None if prefix is None else "$n")
    body = f"CASE WHEN __a IS NULL OR __b IS NULL{_prefix_guard(prefix)} THEN NULL ELSE ({comparison}) = 0 END"
    return typed(_with(ctx, bindings, body, n=prefix), K.BOOL)


def _in_range(address: str, network: str) -> str:
    combined = f"least({address}.p, {network}.p)"
    return (
        f"CASE WHEN {address} IS NULL OR {network} IS NULL THEN NULL"
        f" ELSE {_masked(f'{address}.g', combined)} = {_masked(f'{network}.g', combined)} END"
    )


@scalar("ipv6_is_in_range", min_args=2, max_args=2)
def _ipv6_is_in_range(ctx: CompileContext, args: list[Typed]) -> Typed:
    """Whether the address lies in the range (an address with a prefix); null when either is invalid."""
    duckdb_only(ctx, "ipv6_is_in_range")
    address = expect("ipv6_is_in_range", args, 0, K.STRING)
    network = expect("ipv6_is_in_range", args, 1, K.STRING)
    bindings = {"__a": _address(ctx, address), "__b": _address(ctx, network)}
    return typed(_with(ctx, bindings, _in_range("__a", "__b")), K.BOOL)


@scalar("ipv6_is_in_any_range", min_args=2, max_args=64)
def _ipv6_is_in_any_range(ctx: CompileContext, args: list[Typed]) -> Typed:
    """Whether the address lies in any of the ranges (strings, or one dynamic array of strings);
    null when the address is invalid; invalid ranges never match."""
    duckdb_only(ctx, "ipv6_is_in_any_range")
    address = expect("ipv6_is_in_any_range", args, 0, K.STRING)
    ranges = args[1:]
    if len(ranges) == 1 and ranges[0].type is K.DYNAMIC:
        if ranges[0].is_constant and not isinstance(ranges[0].literal, list | type(None)):
            raise fail("ipv6_is_in_any_range", "the ranges must be an array of strings")
        texts = "COALESCE(TRY_CAST($r AS VARCHAR[]), [])"
    else:
        for i in range(1, len(args)):
            expect("ipv6_is_in_any_range", args, i, K.STRING)
        texts = "[" + ", ".join(f"$r{i}" for i in range(len(ranges))) + "]"
    network = _address_sql("__t")
    any_match = (
        f"COALESCE(list_bool_or(list_transform({texts}, lambda __t: list_transform([{network}],"
        f" lambda __b: COALESCE({_in_range('__a', '__b')}, FALSE))[1])), FALSE)"
    )
    body = f"CASE WHEN __a IS NULL THEN NULL ELSE {any_match} END"
    parts = (
        {"r": ranges[0]}
        if len(ranges) == 1 and ranges[0].type is K.DYNAMIC
        else {f"r{i}": r for i, r in enumerate(ranges)}
    )
    return typed(_with(ctx, {"__a": _address(ctx, address)}, body, **parts), K.BOOL)


def _text(name: str, masked: bool) -> None:
    @scalar(name, min_args=1 + int(masked), max_args=1 + int(masked))
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        """The canonical address: eight 4-digit lower-case hex groups, bits past the prefix cleared
        (with ``_mask``: also past the given prefix); '' when invalid."""
        duckdb_only(ctx, name)
        address = expect(name, args, 0, K.STRING)
        prefix = expect(name, args, 1, *INTEGER) if masked else None
        combined = "__a.p" if prefix is None else "least(__a.p, $n)"
        text = _hex_text(_masked("__a.g", combined))
        invalid = "__a IS NULL" if prefix is None else "__a IS NULL OR $n IS NULL OR $n < 0 OR $n > 128"
        body = f"CASE WHEN {invalid} THEN '' ELSE {text} END"
        return typed(_with(ctx, {"__a": _address(ctx, address)}, body, n=prefix), K.STRING)


_text("parse_ipv6", masked=False)
_text("parse_ipv6_mask", masked=True)
