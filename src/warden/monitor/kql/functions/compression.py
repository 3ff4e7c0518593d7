"""Compression: ``gzip_compress_to_base64_string``, ``gzip_decompress_from_base64_string``,
``zlib_compress_to_base64_string``, ``zlib_decompress_from_base64_string``.

Kusto compresses with no compression level: its output is a gzip (RFC 1952: header
``1f8b 08 00 00000000 00 ff``) or zlib (RFC 1950: header ``7801``) stream of stored deflate blocks
followed by the CRC-32 (gzip, with the length) or Adler-32 (zlib) of the UTF-8 text, which is what
these functions produce, byte for byte, in SQL (checksums by ``list_reduce`` over the bytes).

Decompression of a constant runs at compile time with Python's ``zlib`` and accepts any stream. In
SQL, DuckDB has no inflate, so a column is decompressed only when its stream holds stored blocks
(everything Kusto and these functions produce); a stream with Huffman-coded blocks raises an
error rather than giving a wrong answer. Text that is not base64, not such a stream, or whose
content is not UTF-8 gives ``''``, as in Kusto.
"""

from __future__ import annotations

import base64
import binascii
import zlib

from ..typed import Typed
from .common import K, duckdb_only, literal_typed, sql, typed
from .conversion import to_string_typed
from .registry import CompileContext, scalar

_STORED_MAX = 65535
_GZIP_HEADER = bytes.fromhex("1f8b08000000000000ff")
_ZLIB_HEADER = bytes.fromhex("7801")


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def stored_deflate(data: bytes) -> bytes:
    """``data`` as a deflate stream of stored blocks of at most 65535 bytes."""
    chunks = [data[i : i + _STORED_MAX] for i in range(0, len(data), _STORED_MAX)] or [b""]
    out = bytearray()
    for k, chunk in enumerate(chunks):
        out.append(1 if k == len(chunks) - 1 else 0)
        out += len(chunk).to_bytes(2, "little") + (len(chunk) ^ 0xFFFF).to_bytes(2, "little") + chunk
    return bytes(out)


def gzip_stored(data: bytes) -> bytes:
    """Kusto's gzip of ``data``: stored blocks, CRC-32 and length little-endian."""
    trailer = zlib.crc32(data).to_bytes(4, "little") + (len(data) & 0xFFFFFFFF).to_bytes(4, "little")
    return _GZIP_HEADER + stored_deflate(data) + trailer


def zlib_stored(data: bytes) -> bytes:
    """Kusto's zlib of ``data``: stored blocks and the Adler-32 big-endian."""
    return _ZLIB_HEADER + stored_deflate(data) + zlib.adler32(data).to_bytes(4, "big")


def decompress(text: str, wbits: int) -> str:
    """The UTF-8 text of a base64 compressed stream (``wbits`` 31: gzip, 15: zlib); '' when invalid."""
    try:
        raw = base64.b64decode(text, validate=True)
        inflater = zlib.decompressobj(wbits)
        result = inflater.decompress(raw)
        if not inflater.eof:
            return ""
        return result.decode("utf-8")
    except (binascii.Error, ValueError, zlib.error, UnicodeDecodeError):
        return ""


# ------------------------------------------------------------------------------------------ SQL

_BYTE = "CAST('0x' || substr(__h, 2 * __i + 1, 2) AS INTEGER)"  # byte __i (0-based) of the hex __h


def _le(value: str, size: int) -> str:
    """SQL: the hex of ``value`` as ``size`` little-endian bytes."""
    big = f"lpad(hex({value}), {2 * size}, '0')"
    return " || ".join(f"substr({big}, {2 * k + 1}, 2)" for k in reversed(range(size)))


def _bytes(hex_text: str) -> str:
    """SQL: the list of the byte values of the hex ``hex_text`` (computed as one vector)."""
    return f"list_transform(range(length({hex_text}) // 2), lambda __i: {_BYTE.replace('__h', hex_text)})"


def _crc32(hex_text: str) -> str:
    # The table is bound once outside the loop: a list literal inside the lambda would be rebuilt
    # at every byte.
    table = "[" + ", ".join(str(v) for v in _CRC_TABLE) + "]"
    step = "xor(__t[(xor(__c, __y) & 255) + 1], __c >> 8)"
    reduce = f"list_reduce({_bytes(hex_text)}, lambda __c, __y: {step}, CAST(4294967295 AS BIGINT))"
    return f"xor(list_transform([{table}], lambda __t: {reduce})[1], 4294967295)"


def _adler32(hex_text: str) -> str:
    step = "{'a': (__s.a + __y) % 65521, 'b': (__s.b + __s.a + __y) % 65521}"
    start = "{'a': CAST(1 AS BIGINT), 'b': CAST(0 AS BIGINT)}"
    reduce = f"list_reduce({_bytes(hex_text)}, lambda __s, __y: {step}, {start})"
    return f"list_transform([{reduce}], lambda __z: __z.b * 65536 + __z.a)[1]"


def _stored_blocks() -> str:
    """SQL: the hex of the stored-block deflate stream of the hex ``__h``."""
    count = f"greatest(1, (length(__h) // 2 + {_STORED_MAX - 1}) // {_STORED_MAX})"
    chunk = f"substr(__h, __k * {2 * _STORED_MAX} + 1, {2 * _STORED_MAX})"
    size = f"(length({chunk}) // 2)"
    header = f"(CASE WHEN __k = {count} - 1 THEN '01' ELSE '00' END)"
    block = f"{header} || {_le(size, 2)} || {_le(f'xor({size}, 65535)', 2)} || {chunk}"
    return f"array_to_string(list_transform(range({count}), lambda __k: {block}), '')"


def _compress(name: str, gzip: bool) -> None:
    @scalar(name, min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        """The base64 of Kusto's stored-block gzip/zlib stream of the value's UTF-8 text."""
        duckdb_only(ctx, name)
        value = to_string_typed(ctx, args[0])
        if value.is_constant:
            data = str(value.literal or "").encode()
            return literal_typed(base64.b64encode((gzip_stored if gzip else zlib_stored)(data)).decode(), K.STRING)
        if gzip:
            trailer = f"{_le(_crc32('__h'), 4)} || {_le('length(__h) // 2', 4)}"
            stream = f"'{_GZIP_HEADER.hex()}' || {_stored_blocks()} || {trailer}"
        else:
            adler = f"lpad(hex({_adler32('__h')}), 8, '0')"
            stream = f"'{_ZLIB_HEADER.hex()}' || {_stored_blocks()} || {adler}"
        body = f"list_transform([hex(encode($v))], lambda __h: to_base64(unhex({stream})))[1]"
        return typed(sql(ctx.dialect, f"COALESCE({body}, '')", v=value), K.STRING)


_compress("gzip_compress_to_base64_string", gzip=True)
_compress("zlib_compress_to_base64_string", gzip=False)


def _inflate_stored(start: str) -> str:
    """SQL: the hex of the data of the stored blocks of the hex ``__h`` from byte ``start`` on (a
    struct: ``out``, ``end`` the byte after the last block, ``ok`` whether the blocks were read)."""

    def byte(offset: str) -> str:
        return f"CAST('0x' || substr(__h, 2 * ({offset}) + 1, 2) AS INTEGER)"

    size = f"({byte('__s.pos + 1')} + 256 * {byte('__s.pos + 2')})"
    check = f"({byte('__s.pos + 3')} + 256 * {byte('__s.pos + 4')})"
    kind = f"(({byte('__s.pos')} >> 1) & 3)"
    read = (
        f"CASE WHEN __s.done OR NOT __s.ok THEN __s"
        f" WHEN 2 * (__s.pos + 5) > length(__h) THEN {{'pos': __s.pos, 'out': __s.out, 'done': true, 'ok': false}}"
        f" WHEN {kind} <> 0 THEN error('this compressed stream uses Huffman-coded blocks, which only constant"
        " arguments can be decompressed from')"
        f" WHEN xor({size}, 65535) <> {check} OR 2 * (__s.pos + 5 + {size}) > length(__h)"
        " THEN {'pos': __s.pos, 'out': __s.out, 'done': true, 'ok': false}"
        f" ELSE {{'pos': __s.pos + 5 + {size}, 'out': __s.out || substr(__h, 2 * (__s.pos + 5) + 1, 2 * {size}),"
        f" 'done': ({byte('__s.pos')} & 1) = 1, 'ok': true}} END"
    )
    start_state = f"{{'pos': {start}, 'out': '', 'done': false, 'ok': true}}"
    # A stored block takes at least 5 bytes, so this many steps read any stream.
    return f"list_reduce(range(length(__h) // 10 + 1), lambda __s, __i: {read}, {start_state})"


def _decompress(name: str, gzip: bool) -> None:
    @scalar(name, min_args=1, max_args=1)
    def impl(ctx: CompileContext, args: list[Typed]) -> Typed:
        """The UTF-8 text of a base64 gzip/zlib stream; '' when it is not one."""
        duckdb_only(ctx, name)
        value = to_string_typed(ctx, args[0])
        if value.is_constant:
            return literal_typed(decompress(str(value.literal or ""), 31 if gzip else 15), K.STRING)
        if gzip:
            # Only a plain header (no optional fields): what Kusto writes.
            valid = "upper(substr(__h, 1, 8)) = '1F8B0800' AND length(__h) >= 36"
            trailer = "substr(__h, 2 * __b.pos + 1, 8)"
            sound = f"{trailer} = ({_le(_crc32('__o'), 4)})"
            blocks = _inflate_stored("10")
        else:
            # CMF deflate (low nibble 8), header check multiple of 31, no preset dictionary.
            valid = (
                "substr(__h, 2, 1) = '8' AND length(__h) >= 12 AND CAST('0x' || substr(__h, 1, 4) AS INTEGER) % 31 = 0"
                " AND (CAST('0x' || substr(__h, 3, 2) AS INTEGER) & 32) = 0"
            )
            trailer = "substr(__h, 2 * __b.pos + 1, 8)"
            sound = f"{trailer} = lpad(hex({_adler32('__o')}), 8, '0')"
            blocks = _inflate_stored("2")
        result = (
            f"list_transform([{blocks}], lambda __b: CASE WHEN __b.ok AND __b.done THEN"
            f" list_transform([__b.out], lambda __o: CASE WHEN {sound} THEN TRY(decode(unhex(__o))) END)[1] END)[1]"
        )
        body = f"list_transform([upper(hex(TRY(from_base64($v))))], lambda __h: CASE WHEN {valid} THEN {result} END)[1]"
        return typed(sql(ctx.dialect, f"COALESCE({body}, '')", v=value), K.STRING)


_decompress("gzip_decompress_from_base64_string", gzip=True)
_decompress("zlib_decompress_from_base64_string", gzip=False)
