"""Graph's $filter / $select / $top subset, evaluated on Graph JSON (pure, no I/O)."""

from __future__ import annotations

import pytest

from warden.identity.graph.errors import GraphError
from warden.identity.graph.query import UnsupportedQuery, parse_filter, parse_select, parse_top

FIELDS = {"id", "displayName", "userPrincipalName", "accountEnabled", "userType"}
USERS = [
    {
        "id": "1",
        "displayName": "Ann Lee",
        "userPrincipalName": "ann@contoso.example",
        "accountEnabled": True,
        "userType": "Member",
    },
    {
        "id": "2",
        "displayName": "Bob O'Neil",
        "userPrincipalName": "bob@contoso.example",
        "accountEnabled": False,
        "userType": "Member",
    },
    {
        "id": "3",
        "displayName": "Ann Guest",
        "userPrincipalName": "ann_ext@fabrikam.example",
        "accountEnabled": True,
        "userType": "Guest",
    },
]


def _ids(text: str) -> list[str]:
    predicate = parse_filter(text, FIELDS, "User")
    assert predicate is not None
    return [u["id"] for u in USERS if predicate(u)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("displayName eq 'ann lee'", ["1"]),  # string equality ignores case, as Graph's does
        ("startswith(displayName,'Ann')", ["1", "3"]),
        ("startswith(displayName,'ann') and userType eq 'Guest'", ["3"]),
        ("userType eq 'Guest' or accountEnabled eq false", ["2", "3"]),
        ("(userType eq 'Guest' or accountEnabled eq false) and startswith(displayName, 'Bob')", ["2"]),
        ("displayName eq 'Bob O''Neil'", ["2"]),  # OData escapes a quote by doubling it
        ("id in ('1', '3')", ["1", "3"]),
        ("accountEnabled eq true and userType eq 'Member'", ["1"]),
        ("USERPRINCIPALNAME eq 'BOB@contoso.example'", ["2"]),  # property names ignore case too
    ],
)
def test_supported_filters_select_exactly_the_matching_items(text: str, expected: list[str]) -> None:
    assert _ids(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "displayName ne 'x'",
        "endswith(displayName,'x')",
        "not (userType eq 'Guest')",
        "shoeSize eq 42",
        "displayName eq",
        "(displayName eq 'x'",
        "displayName eq 'x' xor id eq '1'",
        "displayName eq 'unterminated",
        "assignedLicenses/any(x:x/skuId eq 'y')",
    ],
)
def test_anything_else_is_request_unsupported_query(text: str) -> None:
    with pytest.raises(UnsupportedQuery) as raised:
        parse_filter(text, FIELDS, "User")
    assert raised.value.status == 400 and raised.value.code == "Request_UnsupportedQuery"
    assert "innerError" in raised.value.body()["error"]


def test_no_filter_means_no_predicate() -> None:
    assert parse_filter(None, FIELDS, "User") is None and parse_filter("  ", FIELDS, "User") is None


def test_select_returns_graph_spellings_and_refuses_unknown_properties() -> None:
    assert parse_select("displayname, ID", FIELDS, "user") == ["displayName", "id"]
    assert parse_select(None, FIELDS, "user") is None
    with pytest.raises(GraphError) as raised:
        parse_select("id,salary", FIELDS, "user")
    assert raised.value.code == "Request_BadRequest" and "salary" in raised.value.message


@pytest.mark.parametrize("text", ["0", "1000", "-1", "abc", "1.5"])
def test_top_outside_1_to_999_is_refused(text: str) -> None:
    with pytest.raises(GraphError):
        parse_top(text, 100)


def test_top_defaults_and_accepts_the_range() -> None:
    assert parse_top(None, 100) == 100 and parse_top("1", 100) == 1 and parse_top("999", 100) == 999
