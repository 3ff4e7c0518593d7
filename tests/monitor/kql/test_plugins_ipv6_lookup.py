"""evaluate ipv6_lookup: rows joined with the lookup rows whose IPv6 range holds their address."""

from __future__ import annotations

from warden.monitor.kql import run

QUERY = """
let Nets = datatable(network:string, name:string)
    ["2001:db8::/32", "doc", "fe80::/10", "link-local", "10.0.0.0/8", "ten"];
datatable(ip:string) ["2001:db8::1", "fe80::1234", "2a00::1", "10.1.2.3"]
| evaluate ipv6_lookup(Nets, ip, network{extra})
"""


def test_matches_and_column_order() -> None:
    result = run(QUERY.format(extra=""))
    assert result.columns == ["network", "name", "ip"]  # Kusto's engine: lookup columns first
    assert sorted(result.rows) == [
        ["10.0.0.0/8", "ten", "10.1.2.3"],
        ["2001:db8::/32", "doc", "2001:db8::1"],
        ["fe80::/10", "link-local", "fe80::1234"],
    ]


def test_return_unmatched() -> None:
    rows = run(QUERY.format(extra=", return_unmatched = true")).rows
    assert ["", "", "2a00::1"] in rows  # strings are never null
    assert len(rows) == 4
