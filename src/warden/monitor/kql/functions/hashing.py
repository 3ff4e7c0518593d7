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

Deviation: ``hash()`` is DuckDB's 64-bit hash, not Kusto's xxhash64, so its values differ from
Kusto's (same input, same output within Warden; ``hash(x, n)`` stays in ``[0, n)``).
"""

from __future__ import annotations

from sqlglot import exp

from ..errors import KqlUnsupportedError
from ..typed import Typed
from .common import INTEGER, K, duckdb_only, expect, sql, typed
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


@scalar("hash", min_args=1, max_args=2)
def _hash(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "hash")
    value = args[0]
    hashed = "CAST(hash($v) % 9223372036854775807 AS BIGINT)"
    if len(args) == 1:
        return typed(sql(ctx.dialect, hashed, v=value), K.LONG)
    expect("hash", args, 1, *INTEGER)
    return typed(sql(ctx.dialect, f"CASE WHEN $m > 0 THEN {hashed} % $m END", v=value, m=args[1]), K.LONG)


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
