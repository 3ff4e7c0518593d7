"""Hashes, base64, URL encoding and parse_url."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from monitor.kql.function_harness import Null, evaluate
from warden.monitor.kql.functions.hashing import xxhash64


def test_digests_match_kusto() -> None:
    assert evaluate("hash_sha256", "World") == "78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524"
    # Kusto's published digest of a datetime: its text is the 7-digit ISO form.
    assert evaluate("hash_sha256", dt.datetime(2020, 1, 1)) == (
        "ba666752dc1a20eb750b0eb64e780cc4c968bc9fb8813461c1d7e750f302d71d"
    )
    assert evaluate("hash_md5", "World") == "f5a7924e621e84c9280a9a27e1bcb7f6"
    assert evaluate("hash_sha1", "World") == "70c07ec18ef89c5309bbb0937f3a6342411e1fdd"


def test_hash_is_kustos_xxhash64() -> None:
    assert evaluate("hash", "World") == 1846988464401551951
    assert evaluate("hash", "World", 100) == 51
    assert evaluate("hash", dt.datetime(2015, 1, 1)) == 1380966698541616202
    assert evaluate("hash_xxhash64", "World") == 1846988464401551951
    assert 0 <= evaluate("hash", "World", 7) < 7
    assert evaluate("hash", Null("long")) is None


@pytest.mark.parametrize("length", [0, 5, 12, 33, 70])  # tail bytes, a 4-byte lane, 8-byte lanes, stripes
def test_hash_in_sql_matches_the_reference(length: int) -> None:
    text = "".join(chr(ord("a") + (i * 7) % 26) for i in range(length)) + "é" * (length % 3)
    unsigned = xxhash64(text.encode())
    assert evaluate("hash", text) == _signed(unsigned)
    if length == 12:
        assert evaluate("hash", text, 1000) == unsigned % 1000
        number = -123456789
        assert evaluate("hash", number) == _signed(xxhash64(number.to_bytes(8, "little", signed=True)))


def _signed(unsigned: int) -> int:
    return unsigned - (1 << 64) if unsigned >= 1 << 63 else unsigned


def test_base64() -> None:
    assert evaluate("base64_encode_tostring", "Kusto") == "S3VzdG8="
    assert evaluate("base64_decode_tostring", "S3VzdG8=") == "Kusto"
    assert evaluate("base64_decode_tostring", "U3RyaW5n0KHR0tGA0L7Rh9C60LA=") == ""  # not UTF-8
    assert evaluate("base64_decode_tostring", "!!!") == ""
    guid = uuid.UUID("1c4f2b3c-e3a5-4a62-a0b8-8ae04a37d5f5")
    encoded = evaluate("base64_encode_fromguid", guid)
    assert encoded == "PCtPHKXjYkqguIrgSjfV9Q=="  # .NET's byte order
    assert evaluate("base64_decode_toguid", encoded) == str(guid)


def test_url_encoding() -> None:
    assert evaluate("url_encode", "https://www.bing.com/hello world") == "https%3a%2f%2fwww.bing.com%2fhello+world"
    assert evaluate("url_encode_component", "https://www.bing.com/hello world") == (
        "https%3a%2f%2fwww.bing.com%2fhello%20world"
    )
    assert evaluate("url_encode", "a~b!*()é") == "a%7eb!*()%c3%a9"
    assert evaluate("url_decode", "https%3a%2f%2fwww.bing.com%2f") == "https://www.bing.com/"
    assert evaluate("url_decode", "a+b%20c") == "a b c"


def test_parse_url() -> None:
    parsed = evaluate("parse_url", "scheme://username:password@host:1234/this/is/a/path?k1=v1&k2=v2#fragment")
    assert parsed == {
        "Scheme": "scheme",
        "Host": "host",
        "Port": "1234",
        "Path": "/this/is/a/path",
        "Username": "username",
        "Password": "password",
        "Query Parameters": {"k1": "v1", "k2": "v2"},
        "Fragment": "fragment",
    }
    simple = evaluate("parse_url", "https://bing.com/search?q=a+b%20c&q=2")
    assert simple["Host"] == "bing.com" and simple["Port"] == "" and simple["Query Parameters"] == {"q": "a b c"}
    assert evaluate("parse_url", "not a url") == {}


def test_parse_urlquery() -> None:
    assert evaluate("parse_urlquery", "k1=v1&k2=v2&k3=v3") == {"Query Parameters": {"k1": "v1", "k2": "v2", "k3": "v3"}}
    assert evaluate("parse_urlquery", "view=vs-2019&preserve-view=true")["Query Parameters"]["preserve-view"] == "true"
    assert evaluate("parse_urlquery", "") == {"Query Parameters": {}}
