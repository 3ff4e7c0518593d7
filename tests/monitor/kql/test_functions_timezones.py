"""datetime_utc_to_local / datetime_local_to_utc: Kusto's documented examples and zoneinfo itself."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from monitor.kql.function_harness import Null, Raw, evaluate
from warden.monitor.kql import run
from warden.monitor.kql.errors import KqlError


def test_documented_dst_example() -> None:
    query = """range Local from datetime(2022-03-27 01:00:00) to datetime(2022-03-27 04:00:00) step 1h
    | extend UTC = datetime_local_to_utc(Local, 'Europe/Brussels')
    | extend BackToLocal = datetime_utc_to_local(UTC, 'Europe/Brussels')
    | extend diff = Local - BackToLocal
    | project UTC, BackToLocal, diff"""
    assert run(query).rows == [
        ["2022-03-27T00:00:00Z", "2022-03-27T01:00:00Z", "00:00:00"],
        ["2022-03-27T00:00:00Z", "2022-03-27T01:00:00Z", "01:00:00"],
        ["2022-03-27T01:00:00Z", "2022-03-27T03:00:00Z", "00:00:00"],
        ["2022-03-27T02:00:00Z", "2022-03-27T04:00:00Z", "00:00:00"],
    ]


@pytest.mark.parametrize("zone", ["US/Pacific", "Australia/Canberra", "Europe/Paris", "Asia/Kolkata", "UTC"])
@pytest.mark.parametrize(
    "moment", [dt.datetime(2022, 7, 11, 22, 18, 48), dt.datetime(1999, 12, 31, 23, 0), dt.datetime(2031, 3, 1)]
)
def test_utc_to_local_matches_zoneinfo(zone: str, moment: dt.datetime) -> None:
    local = moment.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)
    assert evaluate("datetime_utc_to_local", moment, zone) == f"{local:%Y-%m-%dT%H:%M:%S}Z"
    assert evaluate("datetime_local_to_utc", local, zone) == f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def test_unknown_zone_null_and_non_constant_zone() -> None:
    assert evaluate("datetime_utc_to_local", dt.datetime(2022, 1, 1), "Nowhere/Else") is None
    assert evaluate("datetime_utc_to_local", Null("datetime"), "Europe/Paris") is None
    with pytest.raises(KqlError):
        evaluate("datetime_utc_to_local", dt.datetime(2022, 1, 1), Raw("'Europe/Paris'", "string"))
