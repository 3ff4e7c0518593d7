"""IPv4 functions: ``parse_ipv4``, ``parse_ipv4_mask``, ``ipv4_is_private``, ``ipv4_is_in_range``,
``ipv4_is_in_any_range``, ``ipv4_compare``, ``ipv4_is_match``, ``ipv4_netmask_suffix``,
``format_ipv4``, ``format_ipv4_mask``, ``has_ipv4``, ``has_ipv4_prefix``, ``has_any_ipv4``.

An address is dotted-quad text with an optional ``/prefix`` (IP-prefix notation); anything else is
null. Comparisons mask both sides with the smallest prefix involved (``192.168.1.1/24`` matches
``192.168.1.255``). A constant address or range is parsed at compile time; a computed one is parsed
once per row in SQL (a regular expression bound through a one-element lambda). DuckDB only.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

from ..typed import Typed
from .common import INTEGER, K, duckdb_only, expect, fail, literal_typed, sql, typed
from .registry import CompileContext, scalar

_ADDRESS = re.compile(r"^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?\s*$")
_ADDRESS_SQL = r"^\s*(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?\s*$"
_PRIVATE = [(0x0A000000, 8), (0xAC100000, 12), (0xC0A80000, 16)]


def parse_address(text: str) -> tuple[int, int] | None:
    """``(value, prefix)`` of IPv4 text (prefix 32 without one), or None when it is not IPv4."""
    match = _ADDRESS.match(text)
    if not match:
        return None
    octets = [int(g) for g in match.groups()[:4]]
    prefix = int(match.group(5)) if match.group(5) else 32
    if any(o > 255 for o in octets) or prefix > 32:
        return None
    value = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
    return value, prefix


def mask(value: int, prefix: int) -> int:
    return 0 if prefix <= 0 else (value >> (32 - prefix)) << (32 - prefix)


def _address_struct(ctx: CompileContext, arg: Typed) -> exp.Expression:
    """SQL of a ``{'v': BIGINT, 'p': INTEGER}`` struct for an address (null when invalid)."""
    if arg.is_constant:
        literal = arg.literal
        if isinstance(literal, int) and not isinstance(literal, bool):
            parsed = (literal, 32) if 0 <= literal <= 0xFFFFFFFF else None
        else:
            parsed = parse_address(literal) if isinstance(literal, str) else None
        if parsed is None:
            return sql(ctx.dialect, "CAST(NULL AS STRUCT(v BIGINT, p INTEGER))")
        return sql(ctx.dialect, f"{{'v': CAST({parsed[0]} AS BIGINT), 'p': {parsed[1]}}}")
    if arg.type is K.LONG or arg.type is K.INT:
        return sql(
            ctx.dialect,
            "CASE WHEN $v BETWEEN 0 AND 4294967295 THEN {'v': CAST($v AS BIGINT), 'p': 32} END",
            v=arg,
        )
    groups = "['a', 'b', 'c', 'd', 'p']"
    octets = " OR ".join(f"CAST(__r.{g} AS INTEGER) > 255" for g in "abcd")
    value = " + ".join(
        f"CAST(__r.{g} AS BIGINT) * {factor}" for g, factor in zip("abcd", (16777216, 65536, 256, 1), strict=True)
    )
    body = (
        f"list_transform([regexp_extract($s, '{_ADDRESS_SQL}', {groups})], lambda __r: CASE WHEN __r.a = '' THEN NULL"
        f" WHEN {octets} OR (__r.p <> '' AND CAST(__r.p AS INTEGER) > 32) THEN NULL"
        f" ELSE {{'v': {value}, 'p': CASE WHEN __r.p = '' THEN 32 ELSE CAST(__r.p AS INTEGER) END}} END)[1]"
    )
    return sql(ctx.dialect, body, s=arg)


def _mask_sql(value: str, prefix: str) -> str:
    return f"(CASE WHEN {prefix} <= 0 THEN 0 ELSE ({value} >> (32 - {prefix})) << (32 - {prefix}) END)"


def _with(ctx: CompileContext, bindings: dict[str, exp.Expression], body: str, **parts: Any) -> exp.Expression:
    """``body`` with each name of ``bindings`` bound once to its SQL (nested one-element lambdas)."""
    text = body
    names = list(bindings)
    for i in reversed(range(len(names))):
        text = f"list_transform([$bound{i}], lambda {names[i]}: {text})[1]"
    values = {f"bound{i}": bindings[name] for i, name in enumerate(names)}
    return sql(ctx.dialect, text, **values, **parts)


def _address_arg(function: str, args: list[Typed], index: int) -> Typed:
    return expect(function, args, index, K.STRING, K.LONG, K.INT)


# ------------------------------------------------------------------------------- registered


@scalar("parse_ipv4", min_args=1, max_args=1)
def _parse_ipv4(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "parse_ipv4")
    address = expect("parse_ipv4", args, 0, K.STRING)
    if address.is_constant:
        parsed = parse_address(address.literal or "")
        return literal_typed(None if parsed is None else mask(*parsed), K.LONG)
    body = _mask_sql("__a.v", "__a.p")
    return typed(_with(ctx, {"__a": _address_struct(ctx, address)}, body), K.LONG)


@scalar("parse_ipv4_mask", min_args=2, max_args=2)
def _parse_ipv4_mask(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "parse_ipv4_mask")
    address = expect("parse_ipv4_mask", args, 0, K.STRING)
    prefix = expect("parse_ipv4_mask", args, 1, *INTEGER)
    body = f"CASE WHEN $n < 0 OR $n > 32 THEN NULL ELSE {_mask_sql('__a.v', 'least(__a.p, $n)')} END"
    return typed(_with(ctx, {"__a": _address_struct(ctx, address)}, body, n=prefix), K.LONG)


@scalar("ipv4_netmask_suffix", min_args=1, max_args=1)
def _ipv4_netmask_suffix(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "ipv4_netmask_suffix")
    address = expect("ipv4_netmask_suffix", args, 0, K.STRING)
    return typed(_with(ctx, {"__a": _address_struct(ctx, address)}, "__a.p"), K.INT)


def _in_range_sql(address: str, network: str) -> str:
    """SQL: ``address`` (a struct) lies in ``network`` (a struct), masked by the network's prefix."""
    return f"({_mask_sql(f'{address}.v', f'{network}.p')} = {_mask_sql(f'{network}.v', f'{network}.p')})"


@scalar("ipv4_is_in_range", min_args=2, max_args=2)
def _ipv4_is_in_range(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "ipv4_is_in_range")
    address = expect("ipv4_is_in_range", args, 0, K.STRING)
    network = expect("ipv4_is_in_range", args, 1, K.STRING)
    bindings = {"__a": _address_struct(ctx, address), "__n": _address_struct(ctx, network)}
    return typed(_with(ctx, bindings, _in_range_sql("__a", "__n")), K.BOOL)


def _constant_networks(ctx: CompileContext, networks: list[Any]) -> str:
    """SQL of an OR over constant networks for the address bound to ``__a``."""
    terms = []
    for network in networks:
        parsed = parse_address(network) if isinstance(network, str) else None
        if parsed is None:
            terms.append("NULL")
            continue
        value, prefix = parsed
        terms.append(f"({_mask_sql('__a.v', str(prefix))} = {mask(value, prefix)})")
    return "(" + " OR ".join(terms) + ")" if terms else "FALSE"


@scalar("ipv4_is_in_any_range", min_args=2, max_args=64)
def _ipv4_is_in_any_range(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "ipv4_is_in_any_range")
    address = expect("ipv4_is_in_any_range", args, 0, K.STRING, K.DYNAMIC)
    if address.type is K.DYNAMIC:
        from .conversion import convert

        address = convert(ctx, address, K.STRING)
    bindings = {"__a": _address_struct(ctx, address)}
    ranges = args[1:]
    if len(ranges) == 1 and ranges[0].type is K.DYNAMIC:
        array = ranges[0]
        if array.is_constant:
            if not isinstance(array.literal, list):
                raise fail("ipv4_is_in_any_range", "the ranges must be an array of strings")
            body = _constant_networks(ctx, array.literal)
            return typed(_with(ctx, bindings, f"CASE WHEN __a IS NULL THEN NULL ELSE {body} END"), K.BOOL)
        network = _address_struct(ctx, Typed(exp.column("__t"), K.STRING))
        body = (
            "CASE WHEN __a IS NULL THEN NULL ELSE COALESCE(list_bool_or(list_transform("
            f"COALESCE(TRY_CAST($r AS VARCHAR[]), []), lambda __t: list_transform([$n], lambda __n: "
            f"{_in_range_sql('__a', '__n')})[1])), FALSE) END"
        )
        return typed(_with(ctx, bindings, body, r=array, n=network), K.BOOL)
    for i in range(1, len(args)):
        expect("ipv4_is_in_any_range", args, i, K.STRING)
    if all(r.is_constant for r in ranges):
        body = _constant_networks(ctx, [r.literal for r in ranges])
        return typed(_with(ctx, bindings, f"CASE WHEN __a IS NULL THEN NULL ELSE {body} END"), K.BOOL)
    for i, network in enumerate(ranges):
        bindings[f"__n{i}"] = _address_struct(ctx, network)
    body = " OR ".join(_in_range_sql("__a", f"__n{i}") for i in range(len(ranges)))
    return typed(_with(ctx, bindings, f"({body})"), K.BOOL)


@scalar("ipv4_is_private", min_args=1, max_args=1)
def _ipv4_is_private(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "ipv4_is_private")
    address = expect("ipv4_is_private", args, 0, K.STRING)
    terms = " OR ".join(f"({_mask_sql('__a.v', str(p))} = {v})" for v, p in _PRIVATE)
    body = f"CASE WHEN __a IS NULL THEN NULL ELSE ({terms}) END"
    return typed(_with(ctx, {"__a": _address_struct(ctx, address)}, body), K.BOOL)


def _compare_sql(prefix: str | None) -> str:
    combined = "least(__a.p, __b.p)" if prefix is None else "least(__a.p, __b.p, $n)"
    left, right = _mask_sql("__a.v", combined), _mask_sql("__b.v", combined)
    return f"CASE WHEN {left} < {right} THEN -1 WHEN {left} > {right} THEN 1 ELSE 0 END"


def _two_addresses(function: str, ctx: CompileContext, args: list[Typed]) -> tuple[dict[str, exp.Expression], Any]:
    duckdb_only(ctx, function)
    first = expect(function, args, 0, K.STRING)
    second = expect(function, args, 1, K.STRING)
    prefix = expect(function, args, 2, *INTEGER) if len(args) > 2 else None
    return {"__a": _address_struct(ctx, first), "__b": _address_struct(ctx, second)}, prefix


@scalar("ipv4_compare", min_args=2, max_args=3)
def _ipv4_compare(ctx: CompileContext, args: list[Typed]) -> Typed:
    bindings, prefix = _two_addresses("ipv4_compare", ctx, args)
    comparison = _compare_sql(None if prefix is None else "$n")
    body = f"CASE WHEN __a IS NULL OR __b IS NULL THEN NULL ELSE CAST({comparison} AS BIGINT) END"
    return typed(_with(ctx, bindings, body, n=prefix), K.LONG)


@scalar("ipv4_is_match", min_args=2, max_args=3)
def _ipv4_is_match(ctx: CompileContext, args: list[Typed]) -> Typed:
    bindings, prefix = _two_addresses("ipv4_is_match", ctx, args)
    comparison = _compare_sql(None if prefix is None else "$n")
    body = f"CASE WHEN __a IS NULL OR __b IS NULL THEN NULL ELSE ({comparison}) = 0 END"
    return typed(_with(ctx, bindings, body, n=prefix), K.BOOL)


def _dotted(value: str) -> str:
    return " || '.' || ".join(f"CAST(({value} >> {shift}) & 255 AS VARCHAR)" for shift in (24, 16, 8, 0))


def _format(name: str, with_prefix: bool) -> None:
    @scalar(name, min_args=1, max_args=2)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        address = _address_arg(name, args, 0)
        prefix = expect(name, args, 1, *INTEGER) if len(args) > 1 else None
        combined = "__a.p" if prefix is None else "least(__a.p, $n)"
        masked = _mask_sql("__a.v", combined)
        text = _dotted(masked)
        if with_prefix:
            text = f"{text} || '/' || CAST({combined} AS VARCHAR)"
        invalid = "__a IS NULL" if prefix is None else "__a IS NULL OR $n < 0 OR $n > 32"
        body = f"CASE WHEN {invalid} THEN '' ELSE {text} END"
        return typed(_with(ctx, {"__a": _address_struct(ctx, address)}, body, n=prefix), K.STRING)


_format("format_ipv4", with_prefix=False)
_format("format_ipv4_mask", with_prefix=True)


# ------------------------------------------------------------------------------- text search

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_VALID_ADDRESS = rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}"


def _valid_prefix(text: str, prefix_search: bool) -> bool:
    if re.fullmatch(_VALID_ADDRESS, text):
        return True
    return prefix_search and re.fullmatch(rf"(?:{_OCTET}\.){{1,3}}", text) is not None


def _has(name: str, prefix_search: bool, many: bool) -> None:
    @scalar(name, min_args=2, max_args=64 if many else 2)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        source = expect(name, args, 0, K.STRING)
        values: list[Any] = []
        for i in range(1, len(args)):
            arg = expect(name, args, i, K.STRING, K.DYNAMIC)
            if not arg.is_constant:
                raise fail(name, f"argument #{i + 1} must be a constant")
            values.extend(arg.literal if isinstance(arg.literal, list) else [arg.literal])
        wanted = sorted({str(v) for v in values if v is not None and _valid_prefix(str(v), prefix_search)})
        if not wanted:
            return literal_typed(False, K.BOOL)
        # Addresses are maximal runs of letters, digits and dots (so '54127.0.0.1' is no address),
        # trailing dots dropped, that spell a valid IPv4 address.
        quoted = ", ".join("'" + w + "'" for w in wanted)
        if prefix_search:
            test = " OR ".join(f"starts_with(__t, '{w}')" for w in wanted)
        else:
            test = f"list_contains([{quoted}], __t)"
        prefilter = " OR ".join(f"contains($s, '{w}')" for w in wanted)
        body = (
            f"({prefilter}) AND COALESCE(list_bool_or(list_transform(regexp_extract_all($s, '[0-9A-Za-z.]+'),"
            f" lambda __r: list_transform([rtrim(__r, '.')], lambda __t: regexp_full_match(__t, '{_VALID_ADDRESS}')"
            f" AND ({test}))[1])), FALSE)"
        )
        return typed(sql(ctx.dialect, body, s=source), K.BOOL)


_has("has_ipv4", prefix_search=False, many=False)
_has("has_ipv4_prefix", prefix_search=True, many=False)
_has("has_any_ipv4", prefix_search=False, many=True)
_has("has_any_ipv4_prefix", prefix_search=True, many=True)
