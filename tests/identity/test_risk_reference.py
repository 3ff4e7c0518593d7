"""Reference files for risk detection: IP locations, anonymizing IPs, leaked password hashes."""

from __future__ import annotations

import hashlib
import os

import pytest

from warden.identity.risk.hooks import check_leaked_password
from warden.identity.risk.reference import (
    AddressList,
    IpLocations,
    ReferenceDataError,
    distance_km,
    parse_leaked_hashes,
)
from warden.kernel.settings import Settings


def test_ip_locations_longest_prefix_wins() -> None:
    table = IpLocations.parse(
        "cidr,city,country,lat,lon\n"
        "# comment\n"
        "203.0.113.0/24,London,GB,51.5074,-0.1278\n"
        "203.0.113.128/25,Paris,FR,48.8566,2.3522\n"
        "2001:db8::/32,Tokyo,JP,35.6762,139.6503\n"
    )
    assert table.locate("203.0.113.5").city == "London"
    assert table.locate("203.0.113.200").city == "Paris"
    assert table.locate("2001:db8::1").country == "JP"
    assert table.locate("198.51.100.1") is None
    assert table.locate("not-an-ip") is None


def test_ip_locations_reject_bad_lines() -> None:
    with pytest.raises(ReferenceDataError, match=":2:"):
        IpLocations.parse("203.0.113.0/24,London,GB,51.5,-0.1\nbad,London,GB,1,2\n")
    with pytest.raises(ReferenceDataError, match="out of range"):
        IpLocations.parse("203.0.113.0/24,X,GB,95,0\n")


def test_distance_london_paris_is_about_344_km() -> None:
    table = IpLocations.parse("10.0.0.0/8,London,GB,51.5074,-0.1278\n11.0.0.0/8,Paris,FR,48.8566,2.3522\n")
    km = distance_km(table.locate("10.1.1.1"), table.locate("11.1.1.1"))
    assert 340 < km < 347


def test_address_list_accepts_plain_cidr_and_tor_exit_lines() -> None:
    listed = AddressList.parse(
        "192.0.2.7\n198.51.100.0/28 # range\nExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E\n"
        "ExitAddress 203.0.113.9 2026-11-01 00:00:00\n"
    )
    assert "192.0.2.7" in listed and "198.51.100.15" in listed and "203.0.113.9" in listed
    assert "192.0.2.8" not in listed and "198.51.100.16" not in listed
    with pytest.raises(ReferenceDataError):
        AddressList.parse("hello world\n")


def test_leaked_hashes_hibp_format_and_settings_hook(tmp_path) -> None:  # type: ignore[no-untyped-def]
    leaked = hashlib.sha1(b"Summer2026!").hexdigest().upper()
    path = tmp_path / "leaked.txt"
    path.write_text(f"{leaked}:42\n{hashlib.sha1(b'other').hexdigest()}\n")
    settings = Settings(data_dir=tmp_path, identity_leaked_password_hashes_file=path)
    assert check_leaked_password(settings, "Summer2026!")
    assert not check_leaked_password(settings, "Summer2026?")
    assert not check_leaked_password(Settings(data_dir=tmp_path), "Summer2026!")  # no list configured
    # A replaced file is re-read (size/mtime change), without restarting.
    path.write_text(hashlib.sha1(b"Summer2026?").hexdigest() + "\n")
    os.utime(path, ns=(1, 1))
    assert check_leaked_password(settings, "Summer2026?")
    assert not check_leaked_password(settings, "Summer2026!")
    with pytest.raises(ReferenceDataError):
        parse_leaked_hashes("abc\n")


def test_unreadable_list_fails_open_without_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, identity_leaked_password_hashes_file=tmp_path / "missing.txt")
    assert check_leaked_password(settings, "anything") is False
