"""``parse_csv(text)``: the values of the first comma-separated record of a string, as a dynamic
array of strings.

As Kusto's docs describe: a value may be quoted with ``"`` to hold commas, line feeds and quotes
(written ``""``); an unquoted line feed (or carriage return) ends the record and whatever follows
is ignored. The record is read by a ``list_reduce`` state machine over the characters. DuckDB only.
"""

from __future__ import annotations

from ..typed import Typed
from .common import K, duckdb_only, sql, typed
from .conversion import to_string_typed
from .registry import CompileContext, scalar

_CHAR = "substr(__t, __i + 1, 1)"
_NEXT = "substr(__t, __i + 2, 1)"


def _state(values: str = "__s.f", current: str = "__s.cur", quoted: str = "__s.q", done: str = "__s.done") -> str:
    return f"{{'f': {values}, 'cur': {current}, 'q': {quoted}, 'done': {done}, 'skip': false}}"


_STEP = (
    "CASE WHEN __s.done THEN __s"
    f" WHEN __s.skip THEN {_state()}"
    f" WHEN __s.q AND {_CHAR} = '\"' AND {_NEXT} = '\"'"
    " THEN {'f': __s.f, 'cur': __s.cur || '\"', 'q': true, 'done': false, 'skip': true}"
    f" WHEN __s.q AND {_CHAR} = '\"' THEN {_state(quoted='false')}"
    f" WHEN __s.q THEN {_state(current=f'__s.cur || {_CHAR}')}"
    f" WHEN {_CHAR} = ',' THEN {_state(values='list_append(__s.f, __s.cur)', current=chr(39) * 2)}"
    f" WHEN {_CHAR} IN (chr(10), chr(13)) THEN {_state(done='true')}"
    f" WHEN {_CHAR} = '\"' AND __s.cur = '' THEN {_state(quoted='true')}"
    f" ELSE {_state(current=f'__s.cur || {_CHAR}')} END"
)
_START = "{'f': CAST([] AS VARCHAR[]), 'cur': '', 'q': false, 'done': false, 'skip': false}"


@scalar("parse_csv", min_args=1, max_args=1)
def _parse_csv(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "parse_csv")
    text = to_string_typed(ctx, args[0])
    record = f"list_reduce(range(length(__t)), lambda __s, __i: {_STEP}, {_START})"
    body = (
        f"list_transform([$v], lambda __t: list_transform([{record}], lambda __r: list_append(__r.f, __r.cur))[1])[1]"
    )
    return typed(sql(ctx.dialect, f"to_json({body})", v=text), K.DYNAMIC)
