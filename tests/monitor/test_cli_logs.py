"""``warden workspace``, ``warden logs`` and ``warden dcr`` against a real server.

One server for the module. Commands run in-process through Typer's ``CliRunner``; the bad-lines
test runs the real entry point as a subprocess. Rows go in with ``logs ingest`` (through the Logs
Ingestion API) and are read back with ``logs query`` (through the query API), compared exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from support.server import WardenServer, start_server, stop_server
from warden.cli.dcr import ensure_ingestion_rule, ensure_publisher, principal_object_id
from warden.cli.logs import DataPlaneClient
from warden.cli.logs_ingest import Uploader, read_batches
from warden.cli.main import app
from warden.cli.workspaces import resolve_workspace

pytestmark = pytest.mark.e2e
runner = CliRunner()
TABLE = "AppEvents_CL"
COLUMNS = [
    {"name": "TimeGenerated", "type": "datetime"},
    {"name": "Computer", "type": "string"},
    {"name": "Level", "type": "int"},
    {"name": "Props", "type": "dynamic"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WardenServer]:
    # Two ingestion slots, so the flood test's parallel uploads are throttled however fast the
    # server is (with the default 8, a fast server answered all 22 without a 429).
    previous = os.environ.get("WARDEN_INGESTION_MAX_CONCURRENT")
    os.environ["WARDEN_INGESTION_MAX_CONCURRENT"] = "2"
    try:
        started = start_server(tmp_path_factory.mktemp("warden-cli-logs"))
    finally:
        if previous is None:
            del os.environ["WARDEN_INGESTION_MAX_CONCURRENT"]
        else:
            os.environ["WARDEN_INGESTION_MAX_CONCURRENT"] = previous
    yield started
    stop_server(started)


def warden(server: WardenServer, *args: str, code: int = 0) -> Result:
    """Run ``warden ARGS --data-dir …`` in-process; check the exit code, that no traceback escaped and
    that neither the bootstrap secret nor a token was printed."""
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        result = runner.invoke(app, [*args, "--data-dir", str(server.data_dir)])
    finally:
        os.umask(umask)  # the CLI's callback tightens the umask; keep the test process unchanged
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"warden {' '.join(args)} raised {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert server.bootstrap["clientSecret"] not in result.output
    assert "eyJ" not in result.output  # no JWT
    assert "Traceback" not in result.output
    return result


def warden_json(server: WardenServer, *args: str, code: int = 0) -> Any:
    return json.loads(warden(server, *args, "--output", "json", code=code).stdout)


@pytest.fixture(scope="module")
def workspace(server: WardenServer) -> dict[str, Any]:
    """A resource group, a workspace made with the CLI and a custom table PUT through ARM."""
    group = f"rg-logs-{uuid.uuid4().hex[:6]}"
    warden(server, "rg", "create", group, "--location", "northeurope")
    created = warden_json(server, "workspace", "create", "ws-cli", "-g", group, "--retention", "60")
    table = warden_json(
        server,
        "resource",
        "create",
        f"{created['id']}/tables/{TABLE}",
        "--api-version",
        "2022-10-01",
        "--body",
        json.dumps({"properties": {"schema": {"name": TABLE, "columns": COLUMNS}}}),
    )
    assert table["name"] == TABLE
    return {"group": group, **created}


def write_lines(path: Path, lines: list[Any]) -> Path:
    """Write each item as one line: strings as they are, anything else as JSON."""
    path.write_text("".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in lines))
    return path


def rows_of(server: WardenServer, query: str, *extra: str) -> list[list[Any]]:
    body = json.loads(warden(server, "logs", "query", "-w", "ws-cli", query, "--output", "json", *extra).stdout)
    return body["tables"][0]["rows"]


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- workspaces -----------------------------------------------------------------------------------


def test_workspace_create_list_show(server: WardenServer, workspace: dict[str, Any]) -> None:
    props = workspace["properties"]
    assert workspace["location"] == "northeurope"  # the resource group's, as no --location was given
    assert props["retentionInDays"] == 60 and props["sku"]["name"] == "PerGB2018"
    assert uuid.UUID(props["customerId"])

    listed = warden_json(server, "workspace", "list", "-g", workspace["group"])
    assert [w["name"] for w in listed] == ["ws-cli"]
    assert "ws-cli" in [w["name"] for w in warden_json(server, "workspace", "list")]
    shown = warden_json(server, "workspace", "show", "ws-cli", "-g", workspace["group"])
    assert shown["id"] == workspace["id"] and shown["properties"]["customerId"] == props["customerId"]
    table = warden(server, "workspace", "show", "ws-cli", "-g", workspace["group"]).stdout
    assert props["customerId"] in table and "PerGB2018" in table

    missing = warden(server, "workspace", "show", "nope", "-g", workspace["group"], code=1)
    assert "ResourceNotFound" in missing.output or "not found" in missing.output.lower()
    bad = warden(server, "workspace", "create", "ws-bad", "-g", workspace["group"], "--retention", "5", code=1)
    assert "retention" in bad.output.lower()


def test_keys_show_both_and_regenerate_only_primary(server: WardenServer, workspace: dict[str, Any]) -> None:
    group = workspace["group"]
    before = warden_json(server, "workspace", "keys", "ws-cli", "-g", group)
    assert set(before) == {"primarySharedKey", "secondarySharedKey"}
    assert before["primarySharedKey"] != before["secondarySharedKey"]
    table = warden(server, "workspace", "keys", "ws-cli", "-g", group).stdout
    assert before["primarySharedKey"] in table and before["secondarySharedKey"] in table

    after = warden_json(server, "workspace", "keys", "ws-cli", "-g", group, "--regenerate", "primary")
    assert after["primarySharedKey"] != before["primarySharedKey"]
    assert after["secondarySharedKey"] == before["secondarySharedKey"]
    assert warden_json(server, "workspace", "keys", "ws-cli", "-g", group) == after  # it stays regenerated


# --- ingest and query -----------------------------------------------------------------------------


def test_ingest_then_query_exact_rows(server: WardenServer, workspace: dict[str, Any], tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    records = [
        {"TimeGenerated": stamp(now - dt.timedelta(minutes=i)), "Computer": f"web{i}", "Level": i, "Props": {"n": i}}
        for i in range(5)
    ]
    old = {"TimeGenerated": stamp(now - dt.timedelta(days=3)), "Computer": "old", "Level": 99, "Props": None}
    path = write_lines(tmp_path / "events.jsonl", [*records, old])

    summary = warden_json(server, "logs", "ingest", "-w", "ws-cli", "--table", TABLE, str(path))
    assert summary["rows"] == 6 and summary["requests"] == 1
    assert summary["rejected"] == [] and summary["droppedFields"] == {} and summary["stopped"] is None
    assert summary["rule"].endswith(f"/dataCollectionRules/warden-cli-ws-cli-{TABLE}")

    query = f"{TABLE} | project TimeGenerated, Computer, Level, Props | order by Level asc"
    expected = [
        [r["TimeGenerated"], r["Computer"], r["Level"], json.dumps(r["Props"], separators=(",", ":"))] for r in records
    ]
    assert rows_of(server, query) == [*expected, [old["TimeGenerated"], "old", 99, None]]
    # --timespan applies on top of the query: the three-day-old row drops out.
    assert rows_of(server, query, "--timespan", "P1D") == expected

    # The workspace may be named by customerId or resource ID; CSV prints a header and the rows.
    by_id = warden(server, "logs", "query", "-w", workspace["properties"]["customerId"], f"{TABLE} | count")
    assert "6" in by_id.stdout
    csv_text = warden(
        server,
        "logs",
        "query",
        "-w",
        workspace["id"],
        f"{TABLE} | where Level < 2 | project Computer, Level | order by Level asc",
        "--output",
        "csv",
    ).stdout
    assert csv_text == "Computer,Level\nweb0,0\nweb1,1\n"


def test_ingest_again_reuses_rule_and_role(server: WardenServer, workspace: dict[str, Any], tmp_path: Path) -> None:
    first = write_lines(tmp_path / "one.jsonl", [{"Computer": "again-1", "Level": 100}])
    second = write_lines(tmp_path / "two.jsonl", [{"Computer": "again-2", "Level": 101, "Unknown": "x"}])
    run_one = warden(server, "logs", "ingest", "-w", "ws-cli", "--table", TABLE, str(first), "--output", "json")
    run_two = warden(server, "logs", "ingest", "-w", "ws-cli", "--table", TABLE, str(second), "--output", "json")
    assert "Granted" not in run_two.stderr  # the role assignment from the first ingest is found, not made again
    assert json.loads(run_one.stdout)["rule"] == json.loads(run_two.stdout)["rule"]
    assert json.loads(run_two.stdout)["droppedFields"] == {"Unknown": 1}
    assert "Unknown (1 line(s))" in run_two.stderr

    rule = warden_json(server, "dcr", "show", f"warden-cli-ws-cli-{TABLE}", "-g", workspace["group"])
    assert rule["properties"]["streamDeclarations"][f"Custom-{TABLE}"]["columns"] == [
        {"name": "TimeGenerated", "type": "dateTime"},
        *COLUMNS[1:],
    ]
    rules = warden_json(
        server,
        "resource",
        "list",
        "-g",
        workspace["group"],
        "--resource-type",
        "Microsoft.Insights/dataCollectionRules",
    )
    assert [r["name"] for r in rules] == [f"warden-cli-ws-cli-{TABLE}"]
    rows = rows_of(server, f"{TABLE} | where Level >= 100 | project Computer, Level | order by Level asc")
    assert rows == [["again-1", 100], ["again-2", 101]]
    # TimeGenerated was absent: the service stamps the time it received the rows.
    assert rows_of(server, f"{TABLE} | where Level >= 100 and isnull(TimeGenerated) | count") == [[0]]


def test_bad_lines_are_reported_by_number(server: WardenServer, workspace: dict[str, Any], tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [
            {"Computer": "bad-1", "Level": 200},
            "this is not json",
            "[1, 2]",
            "",
            {"Computer": "bad-5", "Level": "high"},  # valid JSON; the server rejects the value
            {"Computer": "bad-6", "Level": 206},
            '{"Computer": "bad-7", "Level": NaN}',
        ],
    )
    env = {**os.environ, "WARDEN_DATA_DIR": str(server.data_dir)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "warden.cli.main",
            "logs",
            "ingest",
            "-w",
            "ws-cli",
            "-t",
            TABLE,
            str(path),
            "-o",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and server.bootstrap["clientSecret"] not in result.stderr + result.stdout
    summary = json.loads(result.stdout)
    assert [item["line"] for item in summary["rejected"]] == [2, 3, 5, 7]
    assert summary["rows"] == 2
    assert "line 2: not valid JSON" in result.stderr
    assert "line 3: a JSON list is not a JSON object" in result.stderr
    assert "line 5: the value of 'Level' (\"high\") is not a valid int" in result.stderr
    assert "4 line(s) were not ingested" in result.stderr
    assert "Ingesting" in result.stderr  # the progress bar
    # Only the good lines of the batch are stored, once each.
    rows = rows_of(server, f"{TABLE} | where Computer startswith 'bad-' | project Computer, Level | order by Level asc")
    assert rows == [["bad-1", 200], ["bad-6", 206]]


def test_ingest_splits_into_batches_under_one_mib(
    server: WardenServer, workspace: dict[str, Any], tmp_path: Path
) -> None:
    padding = "x" * 400
    records = [{"Computer": f"bulk-{i}", "Level": 1000 + i, "Props": {"pad": padding}} for i in range(6000)]
    path = write_lines(tmp_path / "bulk.jsonl", records)
    assert path.stat().st_size > 2.5 * 1024 * 1024
    summary = warden_json(server, "logs", "ingest", "-w", "ws-cli", "--table", TABLE, str(path))
    assert summary["rows"] == 6000 and summary["requests"] >= 3 and summary["rejected"] == []
    counted = rows_of(
        server,
        f"{TABLE} | where Computer startswith 'bulk-' | summarize count(), dcount(Level), min(Level), max(Level)",
    )
    assert counted == [[6000, 6000, 1000, 6999]]


def test_ingest_errors(server: WardenServer, workspace: dict[str, Any], tmp_path: Path) -> None:
    path = write_lines(tmp_path / "one.jsonl", [{"Computer": "x", "Level": 1}])
    missing = warden(server, "logs", "ingest", "-w", "ws-cli", "--table", "Nope_CL", str(path), code=1)
    assert "no table 'Nope_CL'" in missing.output
    unknown = warden(server, "logs", "ingest", "-w", "no-such-ws", "--table", TABLE, str(path), code=1)
    assert "no workspace 'no-such-ws'" in unknown.output
    # Records of ~600 KB make one request each. With --max-errors 2, the third bad line stops the
    # run once the request holding line 1 is sent: lines 1-4 are accounted for, the rest unread.
    big = {"Props": {"pad": "y" * 600_000}}
    lines = [{**big, "Computer": "cap-1", "Level": 301}, "x", "y", "z", {**big, "Computer": "cap-5", "Level": 305}]
    limited = write_lines(tmp_path / "many-bad.jsonl", lines)
    summary = warden_json(
        server, "logs", "ingest", "-w", "ws-cli", "--table", TABLE, str(limited), "--max-errors", "2", code=1
    )
    assert [item["line"] for item in summary["rejected"]] == [2, 3, 4]
    assert summary["rows"] == 1
    assert summary["stopped"] == "more than 2 line(s) were rejected; lines after 4 were not read."
    assert rows_of(server, f"{TABLE} | where Computer startswith 'cap-' | project Computer") == [["cap-1"]]


# --- tables, query errors -------------------------------------------------------------------------


def test_tables_lists_custom_and_standard(server: WardenServer, workspace: dict[str, Any]) -> None:
    tables = {t["name"]: t for t in warden_json(server, "logs", "tables", "-w", "ws-cli")}
    assert {TABLE, "Syslog", "Heartbeat"} <= set(tables)
    custom = tables[TABLE]["properties"]
    assert custom["schema"]["tableType"] == "CustomLog" and custom["retentionInDays"] == 60
    text = warden(server, "logs", "tables", "-w", "ws-cli", "--custom").stdout
    assert TABLE in text and "Syslog" not in text and "CustomLog" in text
    columns = len(custom["schema"]["columns"]) + len(custom["schema"]["standardColumns"])
    assert f"│ {columns} " in text.replace("  ", " ")


def test_query_errors_name_the_position(server: WardenServer, workspace: dict[str, Any]) -> None:
    result = warden(server, "logs", "query", "-w", "ws-cli", f"{TABLE} | where Level >", code=1)
    assert "SyntaxError" in result.output and "line 1" in result.output
    semantic = warden(server, "logs", "query", "-w", "ws-cli", f"{TABLE} | where NoSuchColumn == 1", code=1)
    assert "NoSuchColumn" in semantic.output
    forbidden = warden(server, "logs", "query", "-w", str(uuid.uuid4()), f"{TABLE} | count", code=1)
    assert "AuthorizationFailed" in forbidden.output or "403" in forbidden.output


# --- data collection rules ------------------------------------------------------------------------


def test_dcr_create_show_round_trip(server: WardenServer, workspace: dict[str, Any]) -> None:
    group = workspace["group"]
    transform = "source | extend TimeGenerated = Time | project-away Time"
    created = warden_json(
        server,
        "dcr",
        "create",
        "app-rule",
        "-g",
        group,
        "--workspace",
        "ws-cli",
        "--stream",
        "Custom-AppStream",
        "--column",
        "Time:datetime",
        "--column",
        "Computer:string",
        "--column",
        "Level:int",
        "--transform",
        transform,
        "--output-table",
        TABLE,
    )
    props = created["properties"]
    assert props["immutableId"].startswith("dcr-")
    assert props["streamDeclarations"] == {
        "Custom-AppStream": {
            "columns": [
                {"name": "Time", "type": "datetime"},
                {"name": "Computer", "type": "string"},
                {"name": "Level", "type": "int"},
            ]
        }
    }
    assert props["destinations"]["logAnalytics"][0]["workspaceResourceId"] == workspace["id"]
    assert props["dataFlows"] == [
        {
            "streams": ["Custom-AppStream"],
            "destinations": ["workspace"],
            "outputStream": f"Custom-{TABLE}",
            "transformKql": transform,
        }
    ]
    shown = warden_json(server, "dcr", "show", "app-rule", "-g", group)
    assert shown == created
    table = warden(server, "dcr", "show", "app-rule", "-g", group).stdout
    assert props["immutableId"] in table and transform in table
    # Replacing the rule keeps its immutableId.
    again = warden_json(
        server,
        "dcr",
        "create",
        "app-rule",
        "-g",
        group,
        "-w",
        workspace["properties"]["customerId"],
        "--stream",
        "Custom-AppStream",
        "--column",
        "Time:datetime",
        "--column",
        "Computer:string",
        "--column",
        "Level:int",
        "--transform",
        transform,
        "--output-table",
        TABLE,
    )
    assert again["properties"]["immutableId"] == props["immutableId"]


def test_dcr_create_errors(server: WardenServer, workspace: dict[str, Any]) -> None:
    group = workspace["group"]
    base = ["dcr", "create", "bad-rule", "-g", group, "-w", "ws-cli", "--stream", "Custom-Bad"]
    typo = warden(server, *base, "--column", "a:strng", code=2)
    assert "NAME:TYPE" in typo.output
    no_table = warden(server, *base, "--column", "TimeGenerated:datetime", code=1)
    assert "Bad_CL" in no_table.output  # the default output table, which does not exist
    bad_transform = warden(
        server,
        *base,
        "--column",
        "TimeGenerated:datetime",
        "--output-table",
        TABLE,
        "--transform",
        "source | summarize count()",
        code=1,
    )
    assert "InvalidTransformQuery" in bad_transform.output
    assert warden(server, "dcr", "show", "bad-rule", "-g", group, code=1)


# --- rules that follow their table; standard tables; names ----------------------------------------


def test_ingest_rule_follows_a_growing_table(server: WardenServer, workspace: dict[str, Any], tmp_path: Path) -> None:
    table_id = f"{workspace['id']}/tables/Grow_CL"
    schema = [{"name": "TimeGenerated", "type": "datetime"}, {"name": "Name", "type": "string"}]

    def put_table(columns: list[dict[str, str]]) -> None:
        body = json.dumps({"properties": {"schema": {"name": "Grow_CL", "columns": columns}}})
        warden(server, "resource", "create", table_id, "--api-version", "2022-10-01", "--body", body)

    put_table(schema)
    first = write_lines(tmp_path / "grow1.jsonl", [{"Name": "a", "Size": 1}])
    summary = warden_json(server, "logs", "ingest", "-w", "ws-cli", "-t", "Grow_CL", str(first), code=0)
    assert summary["droppedFields"] == {"Size": 1}
    rule_name = "warden-cli-ws-cli-Grow_CL"
    before = warden_json(server, "dcr", "show", rule_name, "-g", workspace["group"])

    put_table([*schema, {"name": "Size", "type": "long"}])
    second = write_lines(tmp_path / "grow2.jsonl", [{"Name": "b", "Size": 2}])
    summary = warden_json(server, "logs", "ingest", "-w", "ws-cli", "-t", "Grow_CL", str(second))
    assert summary["droppedFields"] == {}
    after = warden_json(server, "dcr", "show", rule_name, "-g", workspace["group"])
    assert after["properties"]["immutableId"] == before["properties"]["immutableId"]
    assert [c["name"] for c in after["properties"]["streamDeclarations"]["Custom-Grow_CL"]["columns"]] == [
        "TimeGenerated",
        "Name",
        "Size",
    ]
    assert rows_of(server, "Grow_CL | project Name, Size | order by Name asc") == [["a", None], ["b", 2]]


def test_ingest_into_a_standard_table(server: WardenServer, workspace: dict[str, Any], tmp_path: Path) -> None:
    line = {"Computer": "host1", "HostName": "host1", "Facility": "auth", "SeverityLevel": "err", "ProcessID": 42}
    path = write_lines(tmp_path / "syslog.jsonl", [{**line, "SyslogMessage": "sshd: failed password"}])
    summary = warden_json(server, "logs", "ingest", "-w", "ws-cli", "-t", "syslog", str(path))
    assert summary["table"] == "Syslog" and summary["rows"] == 1
    rule = warden_json(server, "dcr", "show", "warden-cli-ws-cli-Syslog", "-g", workspace["group"])
    assert rule["properties"]["dataFlows"][0]["outputStream"] == "Microsoft-Syslog"
    rows = rows_of(
        server, "Syslog | where Computer == 'host1' | project Facility, SeverityLevel, ProcessID, SyslogMessage"
    )
    assert rows == [["auth", "err", 42, "sshd: failed password"]]


def test_a_name_in_two_groups_needs_the_group(server: WardenServer, workspace: dict[str, Any]) -> None:
    other = f"rg-logs-{uuid.uuid4().hex[:6]}"
    warden(server, "rg", "create", other, "--location", "westeurope")
    twin = warden_json(server, "workspace", "create", "ws-cli", "-g", other)
    try:
        ambiguous = warden(server, "logs", "tables", "-w", "ws-cli", code=1)
        assert "several workspaces are named 'ws-cli'" in ambiguous.output and "--resource-group" in ambiguous.output
        # Only the first workspace has the custom table, so the answers show which one was asked.
        twin_answer = warden(server, "logs", "query", "-w", "ws-cli", "-g", other, f"{TABLE} | count", code=1)
        assert TABLE in twin_answer.output
        chosen = warden_json(server, "logs", "query", "-w", "ws-cli", "-g", workspace["group"], f"{TABLE} | count")
        assert chosen["tables"][0]["rows"][0][0] >= 0
        names = [w["name"] for w in warden_json(server, "workspace", "list")]
        assert names.count("ws-cli") == 2
    finally:
        warden(server, "resource", "delete", twin["id"], "--api-version", "2022-10-01")


def test_throttled_requests_are_retried(server: WardenServer, workspace: dict[str, Any], tmp_path: Path) -> None:
    """More concurrent uploads than the server's ingestion slots: some requests get 429 with
    Retry-After, the uploader waits and sends them again, and every row lands exactly once."""
    lines = [{"Computer": "flood", "Level": i, "Props": {"pad": "f" * 400}} for i in range(1, 48_001)]
    batches = [b for b in read_batches(write_lines(tmp_path / "flood.jsonl", lines), set()) if b.records]
    assert len(batches) >= 20
    answers: Counter[int] = Counter()

    class Watched(Uploader):
        def _post(self, body: bytes) -> Any:  # the real request; only the status is noted
            response = super()._post(body)
            answers[response.status_code] += 1
            return response

    with DataPlaneClient.from_data_dir(server.data_dir) as client:
        target = resolve_workspace(client, "ws-cli", workspace["group"])
        rule, stream = ensure_ingestion_rule(client, target, TABLE)
        ensure_publisher(client, rule["id"], principal_object_id(client, client.app_id))
    finals: list[int] = []

    def upload(batch: Any) -> None:
        with DataPlaneClient.from_data_dir(server.data_dir) as client:
            finals.append(Watched(client, rule["properties"]["immutableId"], stream).send(batch.records).status_code)

    threads = [threading.Thread(target=upload, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert finals == [204] * len(batches), answers
    assert answers[429] > 0, f"no request was throttled, so the retry was not exercised: {answers}"
    stored = rows_of(server, f"{TABLE} | where Computer == 'flood' | summarize count(), dcount(Level)")
    assert stored == [[len(lines), len(lines)]]


# --- last: the server dies mid-upload -------------------------------------------------------------


def _restart(server: WardenServer) -> None:
    """Serve the same data dir on the same port again; wait until TLS answers."""
    port = int(server.endpoint.rsplit(":", 1)[1])
    log = open(server.data_dir / "server-restart.log", "wb")  # noqa: SIM115 - kept open for the server's lifetime
    server.process = subprocess.Popen(
        [sys.executable, "-m", "warden.cli.main", "serve", "--data-dir", str(server.data_dir), "--port", str(port)],
        env={**os.environ, "WARDEN_DATA_DIR": str(server.data_dir)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    context = server.ssl_context()
    deadline = time.monotonic() + 30
    while True:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1"),
            ):
                return
        except OSError:
            assert server.process.poll() is None and time.monotonic() < deadline, "the server did not restart"
            time.sleep(0.2)


def test_killed_server_every_confirmed_line_is_stored(
    server: WardenServer, workspace: dict[str, Any], tmp_path: Path
) -> None:
    """SIGKILL the server while ``logs ingest`` uploads: the command names where it stopped, and
    after a restart every line before that is stored exactly once (runs last: it restarts the server)."""
    count = 30_000
    path = write_lines(
        tmp_path / "kill.jsonl",
        [{"Computer": "kill", "Level": i, "Props": {"pad": "k" * 400}} for i in range(1, count + 1)],
    )
    env = {**os.environ, "WARDEN_DATA_DIR": str(server.data_dir)}
    command = [sys.executable, "-m", "warden.cli.main", "logs", "ingest", "-w", "ws-cli", "-t", TABLE, str(path)]
    upload = subprocess.Popen([*command, "-o", "json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    probe = f"{TABLE} | where Computer == 'kill' | count"
    deadline = time.monotonic() + 60
    while rows_of(server, probe) == [[0]]:  # kill once the first batch is in
        assert upload.poll() is None and time.monotonic() < deadline, upload.communicate()
        time.sleep(0.1)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    stdout, stderr = upload.communicate(timeout=120)
    assert upload.returncode == 1, stderr.decode()
    summary = json.loads(stdout)
    assert 0 <= summary["rows"] < count and summary["rejected"] == []  # the kill may beat the first 204
    assert summary["stopped"], summary
    assert "Traceback" not in stderr.decode()
    confirmed = summary["rows"]  # lines 1..confirmed got a 2xx; the request after may or may not have landed
    _restart(server)
    stored = rows_of(server, f"{TABLE} | where Computer == 'kill' | summarize count(), dcount(Level), max(Level)")
    total, distinct, highest = stored[0]
    seen = f"summary {summary}, stored (count, dcount, max) {stored[0]}"
    assert total == distinct, seen  # nothing twice
    under = rows_of(server, f"{TABLE} | where Computer == 'kill' and Level <= {confirmed} | count")
    assert under == [[confirmed]], seen  # every confirmed line, exactly once
    if summary["unconfirmed"]:
        # The request in flight either committed whole or not at all: the API is atomic per request.
        first, last = (int(n) for n in re.findall(r"\d+", summary["unconfirmed"])[:2])
        assert first == confirmed + 1, seen
        assert total in (confirmed, last) and highest in (confirmed, last), seen
    else:
        assert total == confirmed and highest == confirmed, seen
