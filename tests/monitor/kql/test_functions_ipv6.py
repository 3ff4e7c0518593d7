"""IPv6 functions: parsing (with IPv4 and mixed notations), prefix comparisons, ranges."""

from __future__ import annotations

import ipaddress

import pytest

from monitor.kql.function_harness import Null, evaluate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.255.255", "0000:0000:0000:0000:0000:ffff:c0a8:ffff"),
        ("192.168.255.255/24", "0000:0000:0000:0000:0000:ffff:c0a8:ff00"),
        ("fe80::85d:e82c:9446:7994", "fe80:0000:0000:0000:085d:e82c:9446:7994"),
        ("fe80::85d:e82c:9446:7994/120", "fe80:0000:0000:0000:085d:e82c:9446:7900"),
        ("::192.168.255.255", "0000:0000:0000:0000:0000:ffff:c0a8:ffff"),
        ("::", "0000:0000:0000:0000:0000:0000:0000:0000"),
        ("1::", "0001:0000:0000:0000:0000:0000:0000:0000"),
        ("64:ff9b::10.0.0.1", "0064:ff9b:0000:0000:0000:0000:0a00:0001"),
    ],
)
def test_parse_ipv6(text: str, expected: str) -> None:
    assert evaluate("parse_ipv6", text) == expected


def test_parse_ipv6_agrees_with_the_standard_library() -> None:
    for text in ("2001:db8::8a2e:370:7334", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", "::1", "a:b:c:d:e:f:1:2"):
        assert evaluate("parse_ipv6", text) == ipaddress.IPv6Address(text).exploded


@pytest.mark.parametrize("text", ["", "1:2:3", "1::2::3", "12345::", "g::1", "1.2.3.256", "::1/129", "1.2.3.4/33"])
def test_invalid_addresses(text: str) -> None:
    assert evaluate("parse_ipv6", text) == ""
    assert evaluate("ipv6_compare", text, "::1") is None


def test_parse_ipv6_mask() -> None:
    assert evaluate("parse_ipv6_mask", "192.168.255.255/24", 124) == "0000:0000:0000:0000:0000:ffff:c0a8:ff00"
    assert evaluate("parse_ipv6_mask", "fe80::85d:e82c:9446:7994", 120) == "fe80:0000:0000:0000:085d:e82c:9446:7900"
    assert evaluate("parse_ipv6_mask", "::1", 200) == ""


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("192.168.1.1/24", "192.168.1.255", 0),
        ("192.168.1.1/30", "192.168.1.255/24", 0),
        ("fe80::85d:e82c:9446:7994/120", "fe80::85d:e82c:9446:7998", 0),
        ("192.168.1.1", "::ffff:c0a8:0101", 0),
        ("::192.168.1.1/30", "192.168.1.255/24", 0),
        ("fe80::1", "fe80::2", -1),
        ("fe80::2", "fe80::1", 1),
        ("::ffff:1.2.3.4", "2001::", -1),
    ],
)
def test_compare_and_match(first: str, second: str, expected: int) -> None:
    assert evaluate("ipv6_compare", first, second) == expected
    assert evaluate("ipv6_is_match", first, second) is (expected == 0)


def test_explicit_prefix() -> None:
    assert evaluate("ipv6_is_match", "fe80::85d:e82c:9446:7994", "fe80::85d:e82c:9446:7995", 127) is True
    assert evaluate("ipv6_is_match", "fe80::85d:e82c:9446:7994", "fe80::85d:e82c:9446:7996", 127) is False
    assert evaluate("ipv6_compare", "fe80::1", "fe80::2", 64) == 0
    assert evaluate("ipv6_compare", "fe80::1", "fe80::2", Null("long")) is None


def test_ranges() -> None:
    assert evaluate(
        "ipv6_is_in_range", "a5e:f127:8a9d:146d:e102:b5d3:c755:abcd", "a5e:f127:8a9d:146d:e102:b5d3:c755:0/112"
    )
    assert evaluate("ipv6_is_in_range", "a5e:f127:8a9d:146d:e102:b5d3:c755:abcd", "::ffff:c0a8:ac/60") is False
    assert evaluate("ipv6_is_in_range", "nonsense", "::/0") is None
    networks = ["a5e:f127:8a9d:146d:e102:b5d3:c755:f6cd/112", "not a network", "0:0:0:0:0:ffff:c0a8:ac/60"]
    assert evaluate("ipv6_is_in_any_range", "a5e:f127:8a9d:146d:e102:b5d3:c755:abcd", networks) is True
    assert evaluate("ipv6_is_in_any_range", "a5e:f127:8a9d:146d:e102:b5d3:c756:abd1", networks) is False
    assert evaluate("ipv6_is_in_any_range", "10.1.2.3", "fe80::/10", "10.0.0.0/8") is True
