"""ipv4_range_to_cidr_list, checked against Python's ipaddress.summarize_address_range."""

from __future__ import annotations

import ipaddress

import pytest

from monitor.kql.function_harness import Null, evaluate


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("1.1.128.0", "1.1.140.255"),
        ("10.0.0.1", "10.0.0.1"),
        ("0.0.0.0", "255.255.255.255"),
        ("0.0.0.1", "255.255.255.254"),
        ("192.168.0.7", "192.168.3.200"),
    ],
)
def test_blocks_match_the_standard_library(start: str, end: str) -> None:
    blocks = ipaddress.summarize_address_range(ipaddress.IPv4Address(start), ipaddress.IPv4Address(end))
    assert evaluate("ipv4_range_to_cidr_list", start, end) == [str(b) for b in blocks]


def test_documented_example_and_invalid_input() -> None:
    assert evaluate("ipv4_range_to_cidr_list", "1.1.128.0", "1.1.140.255") == [
        "1.1.128.0/21",
        "1.1.136.0/22",
        "1.1.140.0/24",
    ]
    assert evaluate("ipv4_range_to_cidr_list", "10.0.0.5", "10.0.0.1") == []
    assert evaluate("ipv4_range_to_cidr_list", "10.0.0.256", "10.0.0.1") is None
    assert evaluate("ipv4_range_to_cidr_list", Null("string"), "10.0.0.1") is None
