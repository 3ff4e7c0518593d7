"""``parse_path(path)``: a bag of ``Scheme``, ``RootPath``, ``DirectoryPath``, ``DirectoryName``,
``Filename``, ``Extension`` and ``AlternateDataStreamName`` of a file path or file URL.

As Kusto's docs show: ``scheme://`` is split off; ``/`` and ``\\`` both separate directories; a
drive letter (``C:``) is the root path; the text after the last separator is the file name, whose
part after a ``:`` is the NTFS alternate data stream and whose part after the last ``.`` is the
extension; the directory path is what precedes the last separator and the directory name its
last component. Absent parts are ``''``. DuckDB only.
"""

from __future__ import annotations

from ..typed import Typed
from .common import K, duckdb_only, sql, typed
from .conversion import to_string_typed
from .registry import CompileContext, scalar

_SCHEME = r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$"


@scalar("parse_path", min_args=1, max_args=1)
def _parse_path(ctx: CompileContext, args: list[Typed]) -> Typed:
    duckdb_only(ctx, "parse_path")
    value = to_string_typed(ctx, args[0])
    # __p: the path without the scheme; __n: the position after its last separator (0 if none).
    split = (
        f"{{'scheme': regexp_extract($v, '{_SCHEME}', 1), 'path': CASE WHEN regexp_matches($v, '{_SCHEME}')"
        f" THEN regexp_extract($v, '{_SCHEME}', 2) ELSE $v END}}"
    )
    from_end = "NULLIF(strpos(reverse(replace(__s.path, '\\', '/')), '/'), 0)"
    last = f"greatest(length(__s.path) - COALESCE({from_end}, length(__s.path) + 1) + 1, 0)"
    name = "substr(__s.path, __n + 1)"
    directory = "CASE WHEN __n > 0 THEN left(__s.path, __n - 1) ELSE '' END"
    file = f"CASE WHEN strpos({name}, ':') > 0 THEN left({name}, strpos({name}, ':') - 1) ELSE {name} END"
    stream = f"CASE WHEN strpos({name}, ':') > 0 THEN substr({name}, strpos({name}, ':') + 1) ELSE '' END"
    bag = (
        "json_object('Scheme', __s.scheme, 'RootPath', COALESCE(regexp_extract(__s.path, '^([A-Za-z]:)', 1), ''),"
        " 'DirectoryPath', __q.d, 'DirectoryName', regexp_extract(__q.d, '([^/\\\\]*)$', 1), 'Filename', __q.f,"
        " 'Extension', CASE WHEN strpos(__q.f, '.') > 0 THEN regexp_extract(__q.f, '\\.([^.]*)$', 1) ELSE '' END,"
        f" 'AlternateDataStreamName', {stream})"
    )
    parts = f"{{'d': {directory}, 'f': {file}}}"
    body = (
        f"list_transform([{split}], lambda __s: list_transform([{last}], lambda __n:"
        f" list_transform([{parts}], lambda __q: {bag})[1])[1])[1]"
    )
    return typed(sql(ctx.dialect, body, v=value), K.DYNAMIC)
