"""Punycode (RFC 3492): ``punycode_from_string``, ``punycode_to_string``,
``punycode_domain_from_string``, ``punycode_domain_to_string``.

Note Kusto's naming: ``punycode_from_string`` *encodes* text to Punycode and ``punycode_to_string``
decodes it; ``punycode_domain_to_string`` encodes each label of a domain that is not plain ASCII as
``xn--`` + Punycode and ``punycode_domain_from_string`` decodes the ``xn--`` labels. Labels are
separated by ``.`` or the ideographic and full-width full stops (U+3002, U+FF0E, U+FF61; written
back as ``.``). Case is kept
and no IDNA mapping is applied, as in Kusto's examples. Text that does not decode gives ``''``.

Both directions are the RFC's algorithms written as ``list_reduce`` state machines over code
points (decoding: one step per input digit; encoding: per distinct non-ASCII code point, per
input code point, per output digit), so they run on columns. DuckDB only.
"""

from __future__ import annotations

from ..typed import Typed
from .common import K, duckdb_only, sql, typed
from .conversion import to_string_typed
from .registry import CompileContext, scalar

_BASE, _TMIN, _TMAX, _SKEW, _DAMP, _BIAS, _N = 36, 1, 26, 38, 700, 72, 128
_SEPARATORS = "[.\u3002\uff0e\uff61]"


def _adapt(delta: str, points: str, first: str) -> str:
    """SQL of the RFC's bias adaptation."""
    scaled = f"(CASE WHEN {first} THEN ({delta}) // {_DAMP} ELSE ({delta}) // 2 END)"
    start = f"{{'d': {scaled} + {scaled} // ({points}), 'k': 0}}"
    limit = ((_BASE - _TMIN) * _TMAX) // 2
    step = f"CASE WHEN __a.d > {limit} THEN {{'d': __a.d // {_BASE - _TMIN}, 'k': __a.k + {_BASE}}} ELSE __a END"
    # 8 divisions by 35 bring any 32-bit delta under the limit.
    loop = f"list_reduce(range(8), lambda __a, __j: {step}, {start})"
    return f"list_transform([{loop}], lambda __r: __r.k + ({_BASE - _TMIN + 1} * __r.d) // (__r.d + {_SKEW}))[1]"


def _threshold(k: str, bias: str) -> str:
    return f"(CASE WHEN {k} <= {bias} THEN {_TMIN} WHEN {k} >= {bias} + {_TMAX} THEN {_TMAX} ELSE {k} - {bias} END)"


def _code_points(text: str) -> str:
    return f"list_transform(range(length({text})), lambda __c: unicode(substr({text}, __c + 1, 1)))"


def _decode(label: str) -> str:
    """SQL: the decoded text of a Punycode string (without ``xn--``), NULL when it is invalid."""
    dash = f"(CASE WHEN strpos({label}, '-') = 0 THEN 0 ELSE length({label}) - strpos(reverse({label}), '-') + 1 END)"
    basic = f"substr({label}, 1, greatest({dash} - 1, 0))"
    rest = f"substr({label}, {dash} + 1)"
    digit = (
        "CASE WHEN __ch BETWEEN '0' AND '9' THEN unicode(__ch) - 22"
        " WHEN lower(__ch) BETWEEN 'a' AND 'z' THEN unicode(lower(__ch)) - 97 END"
    )
    digits = (
        f"list_transform(range(length({rest})), lambda __c:"
        f" list_transform([substr({rest}, __c + 1, 1)], lambda __ch: {digit})[1])"
    )
    t = _threshold("__s.k", "__s.bias")
    grown = "(__s.i + __d * __s.w)"
    size = "(len(__s.out) + 1)"
    finish = (
        f"list_transform([{{'n': __s.n + {grown} // {size}, 'p': {grown} % {size},"
        f" 'bias': {_adapt(f'{grown} - __s.oldi', size, '__s.oldi = 0')}}}], lambda __f:"
        " {'n': __f.n, 'i': __f.p + 1, 'bias': __f.bias, 'oldi': __f.p + 1, 'w': 1, 'k': 36,"
        " 'out': list_concat(list_slice(__s.out, 1, __f.p), [__f.n], list_slice(__s.out, __f.p + 1, len(__s.out))),"
        " 'bad': __s.bad OR __f.n > 1114111})[1]"
    )
    more = (
        f"{{'n': __s.n, 'i': {grown}, 'bias': __s.bias, 'oldi': __s.oldi, 'w': __s.w * ({_BASE} - {t}),"
        f" 'k': __s.k + {_BASE}, 'out': __s.out, 'bad': __s.bad}}"
    )
    failed = (
        "{'n': __s.n, 'i': __s.i, 'bias': __s.bias, 'oldi': __s.oldi, 'w': __s.w, 'k': __s.k, 'out': __s.out,"
        " 'bad': true}"
    )
    step = f"CASE WHEN __s.bad THEN __s WHEN __d IS NULL THEN {failed} WHEN __d < {t} THEN {finish} ELSE {more} END"
    start = (
        f"{{'n': CAST({_N} AS BIGINT), 'i': CAST(0 AS BIGINT), 'bias': CAST({_BIAS} AS BIGINT),"
        f" 'oldi': CAST(0 AS BIGINT), 'w': CAST(1 AS BIGINT), 'k': CAST({_BASE} AS BIGINT),"
        f" 'out': CAST({_code_points(basic)} AS BIGINT[]), 'bad': false}}"
    )
    state = f"list_reduce({digits}, lambda __s, __d: {step}, {start})"
    # Invalid: a bad digit, a number left unfinished, or a non-ASCII character in the basic part.
    text = "array_to_string(list_transform(__z.out, lambda __o: chr(CAST(__o AS INTEGER))), '')"
    valid = f"NOT __z.bad AND __z.w = 1 AND NOT regexp_matches({basic}, '[^\\x00-\\x7F]')"
    return (
        f"CASE WHEN length({rest}) = 0 THEN {basic}"
        f" ELSE list_transform([{state}], lambda __z: CASE WHEN {valid} THEN {text} END)[1] END"
    )


def _encode(text: str) -> str:
    """SQL: the Punycode of ``text`` (basic code points, ``-`` if there are any, then the deltas)."""
    points = _code_points(text)
    basic = f"list_filter({points}, lambda __p: __p < {_N})"
    extended = f"list_sort(list_distinct(list_filter({points}, lambda __p: __p >= {_N})))"

    def digit(value: str) -> str:
        return f"chr(CAST(CASE WHEN {value} < 26 THEN 97 + {value} ELSE 22 + {value} END AS INTEGER))"

    t = _threshold("__q.k", "__v.bias")
    emit_step = (
        f"CASE WHEN __q.done THEN __q WHEN __q.q < {t} THEN {{'q': __q.q, 'k': __q.k, 'done': true,"
        f" 'txt': __q.txt || {digit('__q.q')}}} ELSE {{'q': (__q.q - {t}) // ({_BASE} - {t}), 'k': __q.k + {_BASE},"
        f" 'done': false, 'txt': __q.txt || {digit(f'({t} + (__q.q - {t}) % ({_BASE} - {t}))')}}} END"
    )
    # 8 digits hold any delta a string can produce.
    first = f"{{'q': __v.delta, 'k': {_BASE}, 'done': false, 'txt': ''}}"
    emit = f"list_reduce(range(8), lambda __q, __j: {emit_step}, {first}).txt"
    per_point = (
        "CASE WHEN __c < __u.n THEN {'delta': __v.delta + 1, 'bias': __v.bias, 'h': __v.h, 'out': __v.out}"
        f" WHEN __c = __u.n THEN {{'delta': 0, 'bias': {_adapt('__v.delta', '__v.h + 1', '__v.h = __b')},"
        f" 'h': __v.h + 1, 'out': __v.out || {emit}}} ELSE __v END"
    )
    per_code = (
        "list_transform([{'n': __m, 'delta': __u0.delta + (__m - __u0.n) * (__u0.h + 1), 'bias': __u0.bias,"
        " 'h': __u0.h, 'out': __u0.out}], lambda __u: list_transform([list_reduce(__cs, lambda __v, __c: "
        + per_point
        + ","
        " {'delta': __u.delta, 'bias': __u.bias, 'h': __u.h, 'out': __u.out})], lambda __w:"
        " {'n': __u.n + 1, 'delta': __w.delta + 1, 'bias': __w.bias, 'h': __w.h, 'out': __w.out})[1])[1]"
    )
    start = (
        f"{{'n': CAST({_N} AS BIGINT), 'delta': CAST(0 AS BIGINT), 'bias': CAST({_BIAS} AS BIGINT),"
        " 'h': CAST(len(__bs) AS BIGINT), 'out': ''}"
    )
    loop = f"list_reduce(__ms, lambda __u0, __m: {per_code}, {start}).out"
    prefix = "array_to_string(list_transform(__bs, lambda __p: chr(CAST(__p AS INTEGER))), '')"
    body = (
        f"{prefix} || CASE WHEN len(__bs) > 0 THEN '-' ELSE '' END || CASE WHEN len(__ms) = 0 THEN '' ELSE {loop} END"
    )
    # One binding of the lists (each nested lambda level multiplies DuckDB's binding time).
    body = body.replace("__cs", "__x.cs").replace("__bs", "__x.bs").replace("__ms", "__x.ms").replace("__b", "__x.b")
    return (
        f"list_transform([{{'cs': CAST({points} AS BIGINT[]), 'bs': CAST({basic} AS BIGINT[]),"
        f" 'ms': CAST({extended} AS BIGINT[]), 'b': len({basic})}}], lambda __x: {body})[1]"
    )


def _function(name: str, body: str) -> None:
    @scalar(name, min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        duckdb_only(ctx, name)
        value = to_string_typed(ctx, args[0])
        return typed(sql(ctx.dialect, f"COALESCE(list_transform([$v], lambda __t: {body})[1], '')", v=value), K.STRING)


def _labels(transform: str) -> str:
    """SQL: ``__t`` split into labels, each mapped by ``transform`` (over ``__l``), joined by dots;
    NULL when any label fails."""
    mapped = f"list_transform(regexp_split_to_array(__t, '{_SEPARATORS}'), lambda __l: {transform})"
    failed = "list_bool_or(list_transform(__ls, lambda __e: __e IS NULL))"
    return (
        f"list_transform([{mapped}], lambda __ls: CASE WHEN {failed} THEN NULL ELSE array_to_string(__ls, '.') END)[1]"
    )


_function("punycode_from_string", _encode("__t"))
_function("punycode_to_string", _decode("__t"))
_function(
    "punycode_domain_to_string",
    _labels(f"CASE WHEN regexp_matches(__l, '[^\\x00-\\x7F]') THEN 'xn--' || {_encode('__l')} ELSE __l END"),
)
_function(
    "punycode_domain_from_string",
    _labels(f"CASE WHEN lower(substr(__l, 1, 4)) = 'xn--' THEN {_decode('substr(__l, 5)')} ELSE __l END"),
)
