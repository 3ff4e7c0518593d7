"""``warden kql``: KQL over local CSV/JSON-lines files from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warden.cli.main import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    syslog = tmp_path / "syslog.csv"
    syslog.write_text(
        "HostName,SyslogMessage,Count\nh1,Failed password for root,3\nh2,Accepted key,5\nh1,failed again,1\n"
    )
    events = tmp_path / "events.jsonl"
    events.write_text('{"User": "alice", "Props": {"ip": "10.0.0.1"}}\n{"User": "bob", "Props": {"ip": "10.0.0.2"}}\n')
    return {"syslog": syslog, "events": events}


def test_table_output(files: dict[str, Path]) -> None:
    query = "Syslog | where SyslogMessage has 'failed' | summarize total = sum(Count) by HostName"
    result = runner.invoke(app, ["kql", query, "--table", f"Syslog={files['syslog']}"])
    assert result.exit_code == 0, result.output
    assert "HostName" in result.stdout and "total" in result.stdout
    assert "h1" in result.stdout and "4" in result.stdout


def test_json_output_is_the_query_api_body(files: dict[str, Path]) -> None:
    query = "Events | project User, ip = tostring(Props.ip) | sort by User asc"
    result = runner.invoke(app, ["kql", query, "-t", f"Events={files['events']}", "--format", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body == {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": [{"name": "User", "type": "string"}, {"name": "ip", "type": "string"}],
                "rows": [["alice", "10.0.0.1"], ["bob", "10.0.0.2"]],
            }
        ]
    }


def test_csv_output(files: dict[str, Path]) -> None:
    result = runner.invoke(
        app,
        ["kql", "Syslog | project HostName, Count | top 2 by Count", "-t", f"Syslog={files['syslog']}", "-f", "csv"],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["HostName,Count", "h2,5", "h1,3"]


def test_errors_print_the_caret_snippet_and_exit_1(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["kql", "Syslog | where Nope == 1", "-t", f"Syslog={files['syslog']}"])
    assert result.exit_code == 1
    assert "unknown column or name 'Nope'" in result.stderr
    assert "^" in result.stderr


def test_bad_table_option(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["kql", "T | take 1", "-t", "no-equals-sign"])
    assert result.exit_code != 0
    missing = runner.invoke(app, ["kql", "T | take 1", "-t", "T=/nonexistent/file.csv"])
    assert missing.exit_code == 1
