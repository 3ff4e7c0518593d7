"""Hashes, encodings and URLs: ``hash_sha256``, ``hash_sha1``, ``hash_md5``, ``hash``,
``base64_encode_tostring``, ``base64_decode_tostring``, ``base64_encode_fromguid``,
``base64_decode_toguid``, ``url_encode``, ``url_encode_component``, ``url_decode``, ``parse_url``,
``parse_urlquery``.

Kusto's rules: a non-string argument is hashed as its ``tostring`` text (``hash_sha256`` of a
datetime hashes ``2020-01-01T00:00:00.0000000Z``, which matches Kusto's published digest); digests
are lower-case hex; ``base64_decode_tostring`` of text that is not base64 or not UTF-8 is ``''``;
``url_encode`` is .NET's form encoding (lower-case ``%xx``, ``+`` for a space, ``!*()`` kept) and
``url_encode_component`` the same with ``%20``; ``url_decode`` also turns ``+`` into a space;
``parse_url`` returns ``Scheme``, ``Host``, ``Port``, ``Path``, ``Username``, ``Password``,
``Query Parameters`` (a bag of decoded values) and ``Fragment``, ``''`` for absent parts.

``hash``/``hash_xxhash64`` are XXH64 (seed 0) of the UTF-8 text, or of the 8 little-endian bytes of
a long/int and of the ticks of a datetime/timespan, which reproduces Kusto's published values
(``hash("World")`` is 1846988464401551951, ``hash(datetime(2015-01-01))`` 1380966698541616202).
Other types (real, bool, guid, dynamic) hash their ``tostring`` text, which need not match Kusto.
Constants are hashed at compile time; columns in SQL (128-bit integer arithmetic, so slower).
"""

from __future__ import annotations

from sqlglot import exp

from ..errors import KqlUnsupportedError
from ..typed import Typed
from .common import INTEGER, K, duckdb_only, expect, literal_typed, sql, typed
from .conversion import to_string_typed
from .registry import CompileContext, scalar


def _string_result(ctx: CompileContext, body: str, **parts: object) -> Typed:
    return typed(sql(ctx.dialect, f"COALESCE({body}, '')", **parts), K.STRING)


def _digest(name: str, duck: str, house: str) -> None:
    @scalar(name, min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        if args[0].type is K.DYNAMIC:
            raise KqlUnsupportedError(f"{name}() of a dynamic value", construct=name)
        value = to_string_typed(ctx, args[0])
        if ctx.dialect == "duckdb":
            return _string_result(ctx, duck, v=value)
        return _string_result(ctx, house, v=value)


_digest("hash_sha256", "sha256($v)", "lower(hex(SHA256($v)))")
_digest("hash_sha1", "sha1($v)", "lower(hex(SHA1($v)))")
_digest("hash_md5", "md5($v)", "lower(hex(MD5($v)))")


# ------------------------------------------------------------------------------------ xxhash64

_MASK = (1 << 64) - 1
_P1, _P2, _P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
_P4, _P5 = 9650029242287828579, 2870177450012600261


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _MASK, 31) * _P1) & _MASK


def xxhash64(data: bytes, seed: int = 0) -> int:
    """XXH64 of ``data`` (unsigned), the algorithm behind Kusto's ``hash()``."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + _P1 + _P2) & _MASK, (seed + _P2) & _MASK, seed, (seed - _P1) & _MASK]
        while i + 32 <= n:
            v = [_round(v[k], int.from_bytes(data[i + 8 * k : i + 8 * k + 8], "little")) for k in range(4)]
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _MASK
        for lane in v:
            h = (((h ^ _round(0, lane)) * _P1) + _P4) & _MASK
    else:
        h = (seed + _P5) & _MASK
    h = (h + n) & _MASK
    while i + 8 <= n:
        h = (_rotl(h ^ _round(0, int.from_bytes(data[i : i + 8], "little")), 27) * _P1 + _P4) & _MASK
        i += 8
    if i + 4 <= n:
        h = (_rotl(h ^ (int.from_bytes(data[i : i + 4], "little") * _P1 & _MASK), 23) * _P2 + _P3) & _MASK
        i += 4
    while i < n:
        h = (_rotl(h ^ (data[i] * _P5 & _MASK), 11) * _P1) & _MASK
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _MASK
    h ^= h >> 29
    h = (h * _P3) & _MASK
    return h ^ (h >> 32)


def _hash_bytes(value: Typed) -> bytes | None:
    """The bytes Kusto hashes for a constant: UTF-8 text, or the 8 little-endian bytes of a long
    (datetimes and timespans as ticks). None for what is not folded."""
    literal = value.literal
    if literal is None:
        return None
    if value.type is K.STRING:
        return str(literal).encode()
    if value.type in (K.LONG, K.INT, K.DATETIME, K.TIMESPAN):
        return int(literal).to_bytes(8, "little", signed=True)
    return None


# SQL over UBIGINT with 32-bit limbs: DuckDB's 64-bit arithmetic raises on overflow and its 128-bit
# integers are two orders of magnitude slower, so products and sums mod 2^64 are assembled from
# 32-bit halves (every intermediate fits in 64 bits). Values used more than once are bound once
# through one-element lambdas.
_UB = "UBIGINT"


def _k(value: int) -> str:
    return f"CAST({value} AS {_UB})"


_M32 = _k(0xFFFFFFFF)


class _Xxh:
    def __init__(self) -> None:
        self.count = 0

    def bind(self, value: str, body) -> str:
        self.count += 1
        name = f"__x{self.count}"
        return f"list_transform([{value}], lambda {name}: {body(name)})[1]"

    def add(self, p: str, q: str) -> str:
        def with_both(a: str) -> str:
            def with_b(b: str) -> str:
                low = f"(({a} & {_M32}) + ({b} & {_M32}))"
                return self.bind(
                    low,
                    lambda lo: f"((((({a} >> 32) + ({b} >> 32) + ({lo} >> 32)) & {_M32}) << 32) | ({lo} & {_M32}))",
                )

            return self.bind(q, with_b)

        return self.bind(p, with_both)

    def mul(self, a: str, constant: int) -> str:
        low_c, high_c = _k(constant & 0xFFFFFFFF), _k(constant >> 32)

        def body(n: str) -> str:
            low = f"(({n} & {_M32}) * {low_c})"
            cross = f"((((({n} >> 32) * {low_c}) & {_M32}) + ((({n} & {_M32}) * {high_c}) & {_M32})) & {_M32})"
            return self.add(low, f"({cross} << 32)")

        return self.bind(a, body)

    def rotl(self, x: str, r: int) -> str:
        keep = _k((1 << (64 - r)) - 1)
        return self.bind(x, lambda n: f"((({n} & {keep}) << {r}) | ({n} >> {64 - r}))")

    def round(self, acc: str, lane: str) -> str:
        return self.mul(self.rotl(self.add(acc, self.mul(lane, _P2)), 31), _P1)


def _lane(offset: str, size: int) -> str:
    """The little-endian integer of ``size`` bytes at byte ``offset`` of the hex text ``__h``."""
    digits = " || ".join(f"substr(__h, 2 * ({offset}) + {2 * k + 1}, 2)" for k in reversed(range(size)))
    return f"CAST('0x' || {digits} AS {_UB})"


def xxhash64_sql(hex_text: str) -> str:
    """SQL (DuckDB) of XXH64 (seed 0, unsigned, as UBIGINT) of the bytes spelled by ``hex_text``."""
    x = _Xxh()
    seeds = ((_P1 + _P2) & _MASK, _P2, 0, (-_P1) & _MASK)
    state = "{" + ", ".join(f"'{k}': {_k(v)}" for k, v in zip("abcd", seeds, strict=True)) + "}"
    step = (
        "{"
        + ", ".join(f"'{k}': {x.round(f'__s.{k}', _lane(f'32 * __k + {8 * i}', 8))}" for i, k in enumerate("abcd"))
        + "}"
    )
    converged = x.add(x.add(x.rotl("__v.a", 1), x.rotl("__v.b", 7)), x.add(x.rotl("__v.c", 12), x.rotl("__v.d", 18)))
    merged = converged
    for k in "abcd":
        merged = x.add(x.mul(f"xor({merged}, {x.round(_k(0), f'__v.{k}')})", _P1), _k(_P4))
    stripes = f"list_reduce(range(length(__h) // 64), lambda __s, __k: {step}, {state})"
    large = f"list_transform([{stripes}], lambda __v: {merged})[1]"
    h = f"(CASE WHEN length(__h) >= 64 THEN {large} ELSE {_k(_P5)} END)"
    h = x.add(h, f"CAST(length(__h) // 2 AS {_UB})")
    start = "(length(__h) // 64 * 32)"
    eights = f"((length(__h) // 2 - {start}) // 8)"
    lane_step = x.add(x.mul(x.rotl(f"xor(__y, {x.round(_k(0), _lane(f'{start} + 8 * __j', 8))})", 27), _P1), _k(_P4))
    h = f"list_reduce(range({eights}), lambda __y, __j: {lane_step}, {h})"
    after = f"({start} + 8 * {eights})"
    four = x.add(x.mul(x.rotl(f"xor(__w, {x.mul(_lane(after, 4), _P1)})", 23), _P2), _k(_P3))
    h = f"list_transform([{h}], lambda __w: CASE WHEN length(__h) // 2 - {after} >= 4 THEN {four} ELSE __w END)[1]"
    rest = f"({after} + (CASE WHEN length(__h) // 2 - {after} >= 4 THEN 4 ELSE 0 END))"
    byte_step = x.mul(x.rotl(f"xor(__z, {x.mul(_lane('__b', 1), _P5)})", 11), _P1)
    h = f"list_reduce(range({rest}, length(__h) // 2), lambda __z, __b: {byte_step}, {h})"
    h = x.bind(h, lambda q: f"xor({q}, {q} >> 33)")
    h = x.bind(x.mul(h, _P2), lambda q: f"xor({q}, {q} >> 29)")
    h = x.bind(x.mul(h, _P3), lambda q: f"xor({q}, {q} >> 32)")
    return f"list_transform([{hex_text}], lambda __h: {h})[1]"


def _hash_hex_sql(ctx: CompileContext, value: Typed) -> Typed:
    """A typed SQL text of the hex of the bytes Kusto hashes for ``value``."""
    if value.type in (K.LONG, K.INT, K.DATETIME, K.TIMESPAN):
        if value.type is K.DATETIME:
            number = sql(ctx.dialect, "epoch_us($v) * 10 + 621355968000000000", v=value)
        else:
            number = sql(ctx.dialect, "CAST($v AS BIGINT)", v=value)
        big_endian = "lpad(hex($n), 16, '0')"
        little = " || ".join(f"substr({big_endian}, {2 * k + 1}, 2)" for k in reversed(range(8)))
        return typed(sql(ctx.dialect, little, n=number), K.STRING)
    text = to_string_typed(ctx, value)
    return typed(sql(ctx.dialect, "hex(encode($t))", t=text), K.STRING)


@scalar("hash", "hash_xxhash64", min_args=1, max_args=2)
def _hash(ctx: CompileContext, args: list[Typed]) -> Typed:
    """XXH64 of the value's bytes (UTF-8 text; 8 little-endian bytes of a long, or of the ticks of a
    datetime or timespan; other types hash their ``tostring`` text), as a signed long; with a
    modulus, the unsigned hash modulo it."""
    duckdb_only(ctx, "hash")
    value = args[0]
    modulus = expect("hash", args, 1, *INTEGER) if len(args) > 1 else None
    data = _hash_bytes(value) if value.is_constant else None
    if data is not None and (modulus is None or modulus.is_constant):
        unsigned = xxhash64(data)
        if modulus is None:
            return literal_typed(unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned, K.LONG)
        if modulus.literal is None or modulus.literal <= 0:
            return literal_typed(None, K.LONG)
        return literal_typed(unsigned % int(modulus.literal), K.LONG)
    if value.is_constant and value.literal is None:
        return literal_typed(None, K.LONG)
    hashed = xxhash64_sql("$x")
    if modulus is None:
        body = (
            f"list_transform([{hashed}], lambda __u: CASE WHEN __u >= {_k(1 << 63)}"
            f" THEN -CAST(xor(__u, {_k(_MASK)}) AS BIGINT) - 1 ELSE CAST(__u AS BIGINT) END)[1]"
        )
        result = sql(ctx.dialect, body, x=_hash_hex_sql(ctx, value))
    else:
        body = f"CASE WHEN $m > 0 THEN CAST({hashed} % CAST($m AS {_UB}) AS BIGINT) END"
        result = sql(ctx.dialect, body, x=_hash_hex_sql(ctx, value), m=modulus)
    if value.type is not K.STRING:
        result = sql(ctx.dialect, "CASE WHEN $v IS NULL THEN NULL ELSE $r END", v=value, r=result)
    return typed(result, K.LONG)


@scalar("base64_encode_tostring", "base64_encodestring", min_args=1, max_args=1)
def _base64_encode(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = to_string_typed(ctx, args[0])
    if ctx.dialect == "clickhouse":
        return _string_result(ctx, "base64Encode($v)", v=value)
    return _string_result(ctx, "to_base64(encode($v))", v=value)


@scalar("base64_decode_tostring", "base64_decodestring", min_args=1, max_args=1)
def _base64_decode(ctx: CompileContext, args: list[Typed]) -> Typed:
    value = to_string_typed(ctx, args[0])
    if ctx.dialect == "clickhouse":
        return _string_result(ctx, "tryBase64Decode($v)", v=value)
    return _string_result(ctx, "TRY(decode(from_base64($v)))", v=value)


@scalar("base64_encode_fromguid", min_args=1, max_args=1)
def _base64_encode_fromguid(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "base64_encode_fromguid")
    guid = expect("base64_encode_fromguid", args, 0, K.GUID)
    # .NET's Guid.ToByteArray(): the first three groups little-endian, the rest as written.
    hex_text = "replace(CAST($g AS VARCHAR), '-', '')"
    reordered = (
        f"substring({hex_text}, 7, 2) || substring({hex_text}, 5, 2) || substring({hex_text}, 3, 2)"
        f" || substring({hex_text}, 1, 2) || substring({hex_text}, 11, 2) || substring({hex_text}, 9, 2)"
        f" || substring({hex_text}, 15, 2) || substring({hex_text}, 13, 2) || substring({hex_text}, 17, 16)"
    )
    return _string_result(ctx, f"to_base64(unhex({reordered}))", g=guid)


@scalar("base64_decode_toguid", min_args=1, max_args=1)
def _base64_decode_toguid(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "base64_decode_toguid")
    value = to_string_typed(ctx, args[0])
    raw = "lower(hex(TRY(from_base64($v))))"
    reordered = (
        f"substring({raw}, 7, 2) || substring({raw}, 5, 2) || substring({raw}, 3, 2) || substring({raw}, 1, 2)"
        f" || '-' || substring({raw}, 11, 2) || substring({raw}, 9, 2) || '-' || substring({raw}, 15, 2)"
        f" || substring({raw}, 13, 2) || '-' || substring({raw}, 17, 4) || '-' || substring({raw}, 21, 12)"
    )
    body = f"CASE WHEN length({raw}) = 32 THEN TRY_CAST({reordered} AS UUID) END"
    return typed(sql(ctx.dialect, body, v=value), K.GUID)


# ---------------------------------------------------------------------------------------- URLs


def _lower_escapes(encoded: str) -> str:
    """SQL lower-casing the two hex digits after every '%' of ``encoded``."""
    return (
        f"array_to_string(list_transform(string_split({encoded}, '%'), lambda __p, __i: "
        "CASE WHEN __i = 1 THEN __p ELSE lower(left(__p, 2)) || substring(__p, 3) END), '%')"
    )


def _url_encode(name: str, space: str) -> None:
    @scalar(name, min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        value = to_string_typed(ctx, args[0])
        encoded = "url_encode($v)"
        for escape, plain in (("%21", "!"), ("%2A", "*"), ("%28", "("), ("%29", ")"), ("~", "%7E")):
            encoded = f"replace({encoded}, '{escape}', '{plain}')"
        encoded = f"replace({encoded}, '%20', '{space}')"
        return _string_result(ctx, _lower_escapes(encoded), v=value)


_url_encode("url_encode", "+")
_url_encode("url_encode_component", "%20")


@scalar("url_decode", min_args=1, max_args=1)
def _url_decode(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "url_decode")
    value = to_string_typed(ctx, args[0])
    return _string_result(ctx, "TRY(url_decode(replace($v, '+', ' ')))", v=value)


_PARAMETER_ENTRIES = (
    "list_transform(list_filter(string_split($q, '&'), lambda __s: __s <> ''), lambda __s: "
    "{'k': COALESCE(TRY(url_decode(replace(split_part(__s, '=', 1), '+', ' '))), ''), "
    "'v': CASE WHEN strpos(__s, '=') = 0 THEN '' "
    "ELSE COALESCE(TRY(url_decode(replace(substring(__s, strpos(__s, '=') + 1), '+', ' '))), '') END})"
)
_QUERY_PARAMETERS = (
    f"to_json(list_transform([{_PARAMETER_ENTRIES}], lambda __es: map_from_entries(list_filter(__es,"
    " lambda __e, __i: list_position(list_transform(__es, lambda __x: __x.k), __e.k) = __i)))[1])"
)
_URL = (
    r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://(?:([^:@/?#]*)(?::([^@/?#]*))?@)?(\[[^\]]*\]|[^:/?#]*)(?::(\d*))?"
    r"([^?#]*)(?:\?([^#]*))?(?:#(.*))?$"
)


def query_parameters(ctx: CompileContext, query: exp.Expression) -> exp.Expression:
    """SQL of the JSON bag of a query string's parameters (values URL-decoded, first key wins)."""
    return sql(ctx.dialect, _QUERY_PARAMETERS, q=query)


@scalar("parse_url", "parseurl", min_args=1, max_args=1)
def _parse_url(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "parse_url")
    value = to_string_typed(ctx, args[0])
    names = ["scheme", "user", "password", "host", "port", "path", "query", "fragment"]
    parts = "[" + ", ".join(f"'{n}'" for n in names) + "]"
    params = query_parameters(ctx, exp.column("query", table="__u"))
    body = (
        f"list_transform([regexp_extract($v, '{_URL}', {parts})], lambda __u: CASE WHEN __u.scheme = '' THEN"
        " CAST('{}' AS JSON) ELSE json_object('Scheme', __u.scheme, 'Host', __u.host, 'Port', __u.port,"
        " 'Path', __u.path, 'Username', __u.user, 'Password', __u.password, 'Query Parameters', $p,"
        " 'Fragment', __u.fragment) END)[1]"
    )
    return typed(sql(ctx.dialect, body, v=value, p=params), K.DYNAMIC)


@scalar("parse_urlquery", "parseurlquery", min_args=1, max_args=1)
def _parse_urlquery(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "parse_urlquery")
    value = to_string_typed(ctx, args[0])
    query = sql(ctx.dialect, "CASE WHEN starts_with($v, '?') THEN substring($v, 2) ELSE $v END", v=value)
    body = "json_object('Query Parameters', $p)"
    return typed(sql(ctx.dialect, body, p=query_parameters(ctx, query)), K.DYNAMIC)
