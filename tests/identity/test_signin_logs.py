"""Sign-in log reading pieces without HTTP: the $filter subset, Graph shapes, and workspace rows
whose columns all exist in Azure's table definitions."""

from __future__ import annotations

import datetime as dt

import pytest

from warden.identity.graph_errors import GraphBadRequest
from warden.identity.log_query import matches, parse_filter
from warden.identity.log_rows import audit_row, signin_category, signin_row
from warden.identity.signin_logs import AUDIT_FIELDS, SIGNIN_FIELDS, signin_json
from warden.monitor.tables import standard_table

RECORD = {
    "id": "5e1b0c0e-0000-4000-8000-000000000001",
    "createdDateTime": "2026-11-01T10:00:00Z",
    "userId": "AAAAAAAA-0000-4000-8000-000000000001",
    "userPrincipalName": "Alice@Contoso.test",
    "appId": "bbbbbbbb-0000-4000-8000-000000000002",
    "ipAddress": "203.0.113.9",
    "isInteractive": True,
    "status": {"errorCode": 50126, "failureReason": "Invalid username or password."},
    "location": {"city": "Oslo", "countryOrRegion": "NO"},
}


def _match(text: str, record: dict | None = None) -> bool:
    return matches(signin_json(record or RECORD), parse_filter(text, SIGNIN_FIELDS), SIGNIN_FIELDS)


def test_filter_clauses_and_types() -> None:
    assert _match("userId eq 'aaaaaaaa-0000-4000-8000-000000000001'")  # GUIDs and names case-insensitive
    assert _match("userPrincipalName eq 'alice@contoso.test' and status/errorCode eq 50126")
    assert not _match("status/errorCode eq 0")
    assert _match("status/errorCode ne 0 AND isInteractive eq true")
    assert _match("createdDateTime ge 2026-11-01T09:59:59Z and createdDateTime lt 2026-11-01T10:00:01+00:00")
    assert not _match("createdDateTime gt 2026-11-01T10:00:00Z")
    assert _match("location/countryOrRegion eq 'NO'")
    assert _match("appDisplayName ne 'Payroll'")  # absent: only ne matches
    assert not _match("appDisplayName eq 'Payroll'")
    assert parse_filter(None, SIGNIN_FIELDS) == [] and parse_filter("  ", SIGNIN_FIELDS) == []


@pytest.mark.parametrize(
    "text",
    [
        "userId eq 'a' or userId eq 'b'",
        "startswith(userPrincipalName,'a')",
        "password eq 'x'",
        "status/errorCode eq 'zero'",
        "createdDateTime ge yesterday",
        "isInteractive eq 'true'",
        "userId eq unquoted",
        "userId like 'a'",
        "x" * 2001,
    ],
)
def test_bad_filters_are_refused_in_graph_shape(text: str) -> None:
    with pytest.raises(GraphBadRequest) as raised:
        parse_filter(text, SIGNIN_FIELDS)
    body = raised.value.body()["error"]
    assert raised.value.status == 400 and body["code"] == "BadRequest" and "innerError" in body


def test_quotes_are_escaped_by_doubling() -> None:
    record = {**RECORD, "appDisplayName": "O'Brien's app"}
    assert _match("appDisplayName eq 'O''Brien''s app'", record)


def test_signin_json_fills_graph_defaults() -> None:
    shaped = signin_json({"id": "x", "status": {"errorCode": 0}})
    assert shaped["riskLevelDuringSignIn"] == "none" and shaped["riskEventTypes_v2"] == []
    assert shaped["status"] == {"errorCode": 0, "failureReason": None, "additionalDetails": None}
    assert shaped["location"]["geoCoordinates"] == {"altitude": None, "latitude": None, "longitude": None}
    assert shaped["deviceDetail"]["browser"] is None


def test_categories_pick_the_table() -> None:
    assert signin_category(RECORD) == "SignInLogs"
    assert signin_category({**RECORD, "isInteractive": False}) == "NonInteractiveUserSignInLogs"
    assert signin_category({"servicePrincipalId": "s"}) == "ServicePrincipalSignInLogs"


@pytest.mark.parametrize(
    ("table", "row"),
    [
        ("SigninLogs", signin_row(RECORD, "tenant")),
        ("AADNonInteractiveUserSignInLogs", signin_row({**RECORD, "isInteractive": False}, "tenant")),
        ("AuditLogs", audit_row({"id": "a", "activityDateTime": "2026-11-01T10:00:00Z", "category": "X"}, "tenant")),
    ],
)
def test_rows_use_the_tables_columns(table: str, row: dict) -> None:
    columns = {c.name for c in standard_table(table)}
    # A sign-in row serves three tables (columns a table lacks are dropped at append): every column
    # must exist in one of them; an audit row must fit AuditLogs exactly.
    signin_tables = ("SigninLogs", "AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs")
    known = {c.name for t in signin_tables for c in standard_table(t)} if table != "AuditLogs" else columns
    assert set(row) <= known, set(row) - known
    # Every table gets the identity columns readers join on.
    assert {"Id", "TimeGenerated", "CorrelationId", "Category"} <= columns & set(row)
    assert row["TimeGenerated"] == dt.datetime(2026, 11, 1, 10, 0)


def test_signin_row_values() -> None:
    row = signin_row(RECORD, "tenant")
    assert (row["ResultType"], row["ResultSignature"], row["Location"], row["IsInteractive"]) == (
        "50126",
        "FAILURE",
        "NO",
        True,
    )
    assert AUDIT_FIELDS["activityDateTime"] == "datetime"
