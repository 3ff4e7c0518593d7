"""The standard table catalogue: Azure's columns and types, checked for shape, spot facts and real queries."""

from __future__ import annotations

import collections
import json
import re
from importlib import resources

import pytest

from warden.monitor.tables import KUSTO_TYPES, STANDARD_COLUMNS, STANDARD_TABLES, Column, standard_table

EXPECTED_TABLES = {
    "Syslog", "Heartbeat", "Perf", "Event", "SecurityEvent", "AzureActivity", "SigninLogs", "AuditLogs",
    "AzureDiagnostics", "CommonSecurityLog", "AzureMetrics", "InsightsMetrics", "SecurityAlert", "Usage",
    "AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs",  # Entra diagnostic setting categories
}


def _types(table: str) -> dict[str, str]:
    return {c.name: c.type for c in STANDARD_TABLES[table]}


def test_catalogue_has_exactly_the_issue_tables():
    assert set(STANDARD_TABLES) == EXPECTED_TABLES


@pytest.mark.parametrize("table", sorted(EXPECTED_TABLES))
def test_every_table_has_time_generated_and_the_standard_columns(table):
    types = _types(table)
    assert types.get("TimeGenerated") == "datetime"
    for column in STANDARD_COLUMNS:
        assert types.get(column.name) == column.type, f"{table}.{column.name}"


@pytest.mark.parametrize("table", sorted(EXPECTED_TABLES))
def test_types_are_kusto_types_and_names_unique_case_insensitively(table):
    columns = STANDARD_TABLES[table]
    assert all(isinstance(c, Column) and c.type in KUSTO_TYPES for c in columns)
    lowered = collections.Counter(c.name.lower() for c in columns)
    assert [n for n, k in lowered.items() if k > 1] == []
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", c.name) for c in columns)


def test_standard_columns_are_the_documented_ones():
    # "Standard columns in Azure Monitor Logs": SourceSystem is not one; _IsBillable is typed string in the tables.
    assert {c.name for c in STANDARD_COLUMNS} == {
        "TenantId", "TimeGenerated", "Type", "_ResourceId", "_SubscriptionId", "_BilledSize", "_IsBillable"}
    assert Column("_BilledSize", "real") in STANDARD_COLUMNS


@pytest.mark.parametrize(("table", "column", "kusto_type"), [
    ("Syslog", "SyslogMessage", "string"),
    ("Syslog", "ProcessID", "int"),
    ("Syslog", "EventTime", "datetime"),
    ("Syslog", "SeverityLevel", "string"),
    ("Perf", "CounterValue", "real"),
    ("Perf", "SampleCount", "int"),
    ("SecurityEvent", "EventID", "int"),
    ("SecurityEvent", "LogonType", "int"),
    ("SecurityEvent", "Account", "string"),
    ("SigninLogs", "ResultType", "string"),
    ("SigninLogs", "LocationDetails", "dynamic"),
    ("SigninLogs", "IsInteractive", "bool"),
    ("SigninLogs", "DurationMs", "long"),
    ("AuditLogs", "TargetResources", "dynamic"),
    ("AzureActivity", "Properties_d", "dynamic"),
    ("AzureActivity", "EventSubmissionTimestamp", "datetime"),
    ("Heartbeat", "ComputerPrivateIPs", "dynamic"),
    ("Heartbeat", "RemoteIPLatitude", "real"),
    ("Event", "EventLevel", "int"),
    ("CommonSecurityLog", "DestinationPort", "int"),
    ("CommonSecurityLog", "SentBytes", "long"),
    ("AzureDiagnostics", "ActivityId_g", "guid"),
    ("AzureDiagnostics", "AdditionalFields", "dynamic"),
    ("AzureDiagnostics", "DurationMs", "long"),
    ("AzureMetrics", "Average", "real"),
    ("InsightsMetrics", "Val", "real"),
    ("SecurityAlert", "IsIncident", "bool"),
    ("SecurityAlert", "ConfidenceScore", "real"),
    ("Usage", "Quantity", "real"),
    ("Usage", "IsBillable", "bool"),
])
def test_well_known_columns(table, column, kusto_type):
    assert _types(table)[column] == kusto_type


def test_column_order_is_azures_alphabetical_order():
    # The reference pages list columns alphabetically, ignoring case and a leading underscore.
    for table in ("Syslog", "SecurityEvent", "Heartbeat", "CommonSecurityLog"):
        keys = [c.name.lstrip("_").lower() for c in STANDARD_TABLES[table]]
        assert keys == sorted(keys), table
    assert [c.name for c in STANDARD_TABLES["Syslog"]][:3] == ["_BilledSize", "CollectorHostName", "Computer"]


def test_lookup_is_case_insensitive_and_unknown_is_none():
    assert standard_table("syslog") == STANDARD_TABLES["Syslog"]
    assert standard_table("SIGNINLOGS") is STANDARD_TABLES["SigninLogs"]
    assert standard_table("MyTable_CL") is None


def test_every_table_names_its_source_page():
    data = json.loads(resources.files("warden.monitor.tables").joinpath("standard_tables.json").read_text())
    assert data["about"]
    for name, spec in data["tables"].items():
        assert spec["source"].startswith("https://learn.microsoft.com/azure/"), name
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", spec["pageDate"]), name


# --- real queries: every simple `Table | where Column <op> ...` column should be in the catalogue ---------------

_STRINGS_AND_COMMENTS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|//[^\n]*')
_OPERATORS = (r"(?:==|!=|=~|!~|>=|<=|>|<|!?has_any|!?has_all|!?has_cs|!?has|!?contains_cs|!?contains"
              r"|!?startswith|!?endswith|!?in~|!?in|!?between|matches\s+regex|!?hasprefix|!?hassuffix)")
# An identifier not preceded by '.', ']' or ')' (so not a dynamic path or a call result) followed by an operator.
_CONDITION = re.compile(rf"(?<![\w.\])])([A-Za-z_][A-Za-z0-9_]*)(?!\w)\s*{_OPERATORS}(?=[\s(\"'0-9A-Za-z])")
_NOT_COLUMNS = {"and", "or", "not", "true", "false"}


def _where_columns(text: str):
    """Yield (table, column) for each column compared in the leading `where`s of a standard table's pipeline."""
    names = "|".join(sorted(STANDARD_TABLES, key=len, reverse=True))
    start = re.compile(rf"(?:^|[;(\n=])\s*({names})\s*(?=\|)", re.M)
    text = _STRINGS_AND_COMMENTS.sub('""', text)
    for match in start.finditer(text):
        # Only the where clauses before the first other operator see the table's own columns.
        for segment in re.split(r"\n?\s*\|\s*", text[match.end():])[1:]:
            segment = segment.strip()
            if not segment.startswith("where "):
                break
            for column in _CONDITION.findall(segment[len("where "):]):
                if column not in _NOT_COLUMNS:
                    yield match.group(1), column


def test_where_clause_extraction_finds_columns_and_skips_strings():
    query = 'Syslog\n| where Facility == "auth" and SyslogMessage has "Failed password"\n| extend X = 1 | where X > 0'
    assert list(_where_columns(query)) == [("Syslog", "Facility"), ("Syslog", "SyslogMessage")]


def test_real_queries_reference_catalogued_columns(corpus_dir):
    """Skips (via the fixture) when ../shared/corpus is absent."""
    real = corpus_dir / "kql" / "real"
    if not real.is_dir():
        pytest.skip(f"no real-world KQL at {real}")
    hits, misses = 0, collections.Counter()
    for path in sorted(real.rglob("*.kql")):
        for table, column in _where_columns(path.read_text(errors="replace")):
            if column in _types(table):
                hits += 1
            else:
                misses[f"{table}.{column}"] += 1
    total = hits + sum(misses.values())
    assert total > 500, "the corpus should exercise the catalogue"
    # AzureDiagnostics gains a column per new resource-log field, so some misses are expected; report them.
    rate = hits / total
    assert rate >= 0.95, f"hit rate {rate:.3f}; misses: {misses.most_common(30)}"
