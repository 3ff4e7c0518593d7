"""gzip/zlib compression to and from base64: Kusto's stored-block streams, checked with Python's zlib."""

from __future__ import annotations

import base64
import gzip
import zlib

import pytest

from monitor.kql.function_harness import Null, Raw, evaluate
from warden.monitor.kql.functions.compression import gzip_stored, zlib_stored


def test_compression_matches_kustos_output() -> None:
    # The values Kusto's docs show for this text.
    assert evaluate("gzip_compress_to_base64_string", "1234567890qwertyuiop") == (
        "H4sIAAAAAAAA/wEUAOv/MTIzNDU2Nzg5MHF3ZXJ0eXVpb3A6m7f2FAAAAA=="
    )
    assert evaluate("zlib_compress_to_base64_string", "1234567890qwertyuiop") == (
        "eAEBFADr/zEyMzQ1Njc4OTBxd2VydHl1aW9wOAkGdw=="
    )


@pytest.mark.parametrize("text", ["", "a", "héllo wörld ✓ " * 5])
def test_streams_are_valid_and_round_trip(text: str) -> None:
    gz = evaluate("gzip_compress_to_base64_string", text)
    zl = evaluate("zlib_compress_to_base64_string", text)
    assert gzip.decompress(base64.b64decode(gz)).decode() == text
    assert zlib.decompress(base64.b64decode(zl)).decode() == text
    assert evaluate("gzip_decompress_from_base64_string", gz) == text
    assert evaluate("zlib_decompress_from_base64_string", zl) == text


def test_several_stored_blocks() -> None:
    data = bytes(range(256)) * 300  # over 65535 bytes: two blocks
    assert gzip.decompress(gzip_stored(data)) == data
    assert zlib.decompress(zlib_stored(data)) == data
    text = "ab" * 33000
    encoded = evaluate("zlib_compress_to_base64_string", Raw(f"'{text}'", "string"))
    assert zlib.decompress(base64.b64decode(encoded)).decode() == text
    assert evaluate("zlib_decompress_from_base64_string", Raw(f"'{encoded}'", "string")) == text


def test_constants_decompress_any_stream() -> None:
    assert evaluate("zlib_decompress_from_base64_string", "eJwLSS0uUSguKcrMS1cwNDIGACxqBQ4=", columns=False) == (
        "Test string 123"
    )
    compressed = base64.b64encode(gzip.compress(b"hello, hello, hello")).decode()
    assert evaluate("gzip_decompress_from_base64_string", compressed, columns=False) == "hello, hello, hello"


def test_huffman_blocks_in_a_column_are_refused() -> None:
    with pytest.raises(AssertionError, match="Huffman"):
        evaluate("zlib_decompress_from_base64_string", Raw("'eJwLSS0uUSguKcrMS1cwNDIGACxqBQ4='", "string"))


def test_invalid_input_gives_empty_string() -> None:
    for function in ("gzip_decompress_from_base64_string", "zlib_decompress_from_base64_string"):
        assert evaluate(function, "x0x0x0") == ""
        assert evaluate(function, Null("string")) == ""
        assert evaluate(function, base64.b64encode(b"not a stream at all").decode()) == ""
    # A stored stream whose checksum is wrong is not accepted.
    broken = bytearray(zlib_stored(b"abc"))
    broken[-1] ^= 1
    assert evaluate("zlib_decompress_from_base64_string", base64.b64encode(bytes(broken)).decode()) == ""
    # Not UTF-8 inside.
    assert evaluate("gzip_decompress_from_base64_string", base64.b64encode(gzip_stored(b"\xff\xfe")).decode()) == ""
