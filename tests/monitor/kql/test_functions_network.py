"""IPv4 functions, with the examples of Kusto's documentation."""

from __future__ import annotations

import pytest

from monitor.kql.function_harness import evaluate
from warden.monitor.kql.functions.network import mask, parse_address


def test_parse_address() -> None:
    assert parse_address("192.168.1.1/24") == (3232235777, 24)
    assert parse_address("256.1.1.1") is None
    assert parse_address("1.2.3") is None
    assert mask(3232235777, 24) == 3232235776


@pytest.mark.parametrize(
    ("text", "expected"),
    [("192.168.1.1", 3232235777), ("192.168.1.1/24", 3232235776), ("255.255.255.255/31", 4294967294), ("1.2.3", None)],
)
def test_parse_ipv4(text: str, expected: int | None) -> None:
    assert evaluate("parse_ipv4", text) == expected


def test_parse_ipv4_mask_and_suffix() -> None:
    assert evaluate("parse_ipv4_mask", "127.0.0.1", 24) == 2130706432
    assert evaluate("parse_ipv4_mask", "127.0.0.1", 40) is None
    assert [evaluate("ipv4_netmask_suffix", t) for t in ["10.1.2.3", "192.168.1.1/24", "127.0.0.1/16"]] == [32, 24, 16]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.1/24", True),
        ("10.1.2.3/24", True),
        ("172.16.0.1", True),
        ("202.1.2.3", False),
        ("127.0.0.1", False),
        ("x", None),
    ],
)
def test_ipv4_is_private(text: str, expected: bool | None) -> None:
    assert evaluate("ipv4_is_private", text) is expected


def test_ipv4_ranges() -> None:
    assert evaluate("ipv4_is_in_range", "192.168.1.1", "192.168.1.1") is True
    assert evaluate("ipv4_is_in_range", "192.168.1.1", "192.168.1.255/24") is True
    assert evaluate("ipv4_is_in_range", "192.168.2.1", "192.168.1.255/24") is False
    assert evaluate("ipv4_is_in_range", "junk", "10.0.0.0/8") is None
    assert evaluate("ipv4_is_in_any_range", "192.168.1.6", "192.168.1.1/24", "10.0.0.1/8", "127.1.0.1/16") is True
    assert evaluate("ipv4_is_in_any_range", "127.0.0.1", ["127.0.0.1", "192.168.1.1"]) is True
    networks = ["192.168.1.1/16", "127.0.0.1/8", "10.0.0.1/8"]
    results = [evaluate("ipv4_is_in_any_range", ip, networks) for ip in ["10.1.2.3", "192.168.1.5", "123.1.11.21"]]
    assert results == [True, True, False]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("192.168.1.0", "192.168.1.0"), 0),
        (("192.168.1.1/24", "192.168.1.255"), 0),
        (("192.168.1.1", "192.168.1.255/24"), 0),
        (("192.168.1.1/30", "192.168.1.255/24"), 0),
        (("192.168.1.1", "192.168.1.0", 31), 0),
        (("192.168.1.1/24", "192.168.1.255", 31), 0),
        (("192.168.1.1", "192.168.1.255", 24), 0),
        (("10.0.0.1", "10.0.0.2"), -1),
        (("10.0.0.3", "10.0.0.2"), 1),
        (("10.0.0.3", "bad"), None),
    ],
)
def test_ipv4_compare_and_match(args: tuple, expected: int | None) -> None:
    assert evaluate("ipv4_compare", *args) == expected
    assert evaluate("ipv4_is_match", *args) == (None if expected is None else expected == 0)


def test_format_ipv4() -> None:
    cases = [("192.168.1.1", 24), ("192.168.1.1", 32), ("192.168.1.1/24", 32), ("192.168.1.1/24", -1)]
    assert [evaluate("format_ipv4", a, m) for a, m in cases] == ["192.168.1.0", "192.168.1.1", "192.168.1.0", ""]
    assert [evaluate("format_ipv4_mask", a, m) for a, m in cases] == [
        "192.168.1.0/24",
        "192.168.1.1/32",
        "192.168.1.0/24",
        "",
    ]
    assert evaluate("format_ipv4", 3232235777) == "192.168.1.1"


def test_has_ipv4_needs_delimited_valid_addresses() -> None:
    assert evaluate("has_ipv4", "05:04:54 127.0.0.1 GET /favicon.ico 404", "127.0.0.1") is True
    assert evaluate("has_ipv4", "05:04:54 127.0.0.256 GET /favicon.ico 404", "127.0.0.256") is False
    assert evaluate("has_ipv4", "05:04:54127.0.0.1 GET /favicon.ico 404", "127.0.0.1") is False
    assert evaluate("has_ipv4", "from 10.1.1.115, 10.1.1.201.", "10.1.1.201") is True
    assert evaluate("has_ipv4_prefix", "05:04:54 127.0.0.1 GET /favicon.ico 404", "127.0.") is True
    assert evaluate("has_ipv4_prefix", "05:04:54 127.0.0.1 GET /favicon.ico 404", "127.0") is False
    assert evaluate("has_ipv4_prefix", "05:04:54 127.0.0.256 GET /favicon.ico 404", "127.0.") is False
    assert evaluate("has_any_ipv4", "x 10.0.0.1 y", ["1.1.1.1", "10.0.0.1"]) is True
    assert evaluate("has_any_ipv4_prefix", "x 10.0.0.1 y", "192.", "10.") is True
