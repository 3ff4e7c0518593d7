"""``parse_command_line(command_line, "windows")``: the arguments of a command line, as a dynamic
array of strings, split as Windows' ``CommandLineToArgvW`` does.

The rules: arguments are separated by spaces or tabs outside double quotes; ``"`` opens or closes
a quoted part (``""`` is an empty argument); ``2n`` backslashes before a ``"`` give ``n``
backslashes and the quote acts, ``2n + 1`` give ``n`` backslashes and a literal ``"``; other
backslashes are literal. (``CommandLineToArgvW`` reads the program name, the first argument, without
backslash escapes; a program name holding ``\\"`` is not special-cased here.) The line is read by
a ``list_reduce`` state machine over its characters. A parser type other than ``windows`` is an
error. DuckDB only.
"""

from __future__ import annotations

from ..typed import Typed
from .common import K, constant_string, duckdb_only, fail, sql, typed
from .conversion import to_string_typed
from .registry import CompileContext, scalar

_C = "substr(__t, __i + 1, 1)"


def _state(
    args: str = "__s.a", cur: str = "__s.cur", quoted: str = "__s.q", slashes: str = "__s.bs", started: str = "__s.st"
) -> str:
    return f"{{'a': {args}, 'cur': {cur}, 'q': {quoted}, 'bs': {slashes}, 'st': {started}}}"


# The current argument, its pending backslashes written out, appended to the arguments.
_PUSH = "list_append(__s.a, __s.cur || repeat(chr(92), __s.bs))"
_STEP = (
    f"CASE WHEN {_C} = '\\' THEN {_state(slashes='__s.bs + 1')}"
    f" WHEN {_C} = '\"' AND __s.bs % 2 = 0"
    f" THEN {_state(cur='__s.cur || repeat(chr(92), __s.bs // 2)', quoted='NOT __s.q', slashes='0', started='true')}"
    f" WHEN {_C} = '\"'"
    f" THEN {_state(cur='__s.cur || repeat(chr(92), __s.bs // 2) || chr(34)', slashes='0', started='true')}"
    f" WHEN {_C} IN (' ', chr(9)) AND NOT __s.q THEN CASE WHEN __s.st OR __s.bs > 0"
    f" THEN {_state(args=_PUSH, cur=chr(39) * 2, slashes='0', started='false')}"
    f" ELSE __s END"
    f" ELSE {_state(cur=f'__s.cur || repeat(chr(92), __s.bs) || {_C}', slashes='0', started='true')} END"
)
_START = "{'a': CAST([] AS VARCHAR[]), 'cur': '', 'q': false, 'bs': 0, 'st': false}"


@scalar("parse_command_line", min_args=2, max_args=2)
def _parse_command_line(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "parse_command_line")
    if constant_string("parse_command_line", args, 1).lower() != "windows":
        raise fail("parse_command_line", "the only supported parser type is 'windows'")
    text = to_string_typed(ctx, args[0])
    state = f"list_reduce(range(length(__t)), lambda __s, __i: {_STEP}, {_START})"
    finish = "CASE WHEN __z.st OR __z.bs > 0 THEN list_append(__z.a, __z.cur || repeat(chr(92), __z.bs)) ELSE __z.a END"
    body = f"to_json(list_transform([$v], lambda __t: list_transform([{state}], lambda __z: {finish})[1])[1])"
    return typed(sql(ctx.dialect, body, v=text), K.DYNAMIC)
