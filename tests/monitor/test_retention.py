"""Table retention, in-process on a real data dir with the real app: the workspace's retention,
a table's own retention, and the rows each keeps."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from starlette.testclient import TestClient

from warden.api.app import create_app
from warden.bootstrap import add_tenant, initialize
from warden.kernel.settings import Settings
from warden.monitor.exports import apply_retention
from warden.platform import Platform

WS_API = {"api-version": "2022-10-01"}


@pytest.fixture
def app(tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    initialize(settings)
    platform = Platform(settings)
    _tenant, subscription, owner, _secret = add_tenant(platform, "retention")
    client = TestClient(create_app(platform), base_url="https://testserver")
    token = platform.tokens.issue(owner, "https://management.azure.com/")["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    yield platform, client, f"/subscriptions/{subscription}"
    platform.stop()


def test_each_table_keeps_its_retention(app) -> None:  # type: ignore[no-untyped-def]
    platform, client, sub = app
    assert client.put(
        f"{sub}/resourceGroups/rg", params={"api-version": "2021-04-01"}, json={"location": "x"}
    ).is_success
    ws_id = f"{sub}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws"
    created = client.put(ws_id, params=WS_API, json={"location": "westeurope", "properties": {"retentionInDays": 30}})
    assert created.status_code == 201, created.text
    customer_id = created.json()["properties"]["customerId"]
    short = client.put(f"{ws_id}/tables/Heartbeat", params=WS_API, json={"properties": {"retentionInDays": 7}})
    assert short.status_code == 200 and short.json()["properties"]["retentionInDays"] == 7
    too_short = client.put(f"{ws_id}/tables/Perf", params=WS_API, json={"properties": {"retentionInDays": 2}})
    assert too_short.status_code == 400
    listed = client.get(f"{ws_id}/tables", params=WS_API).json()["value"]
    retention = {t["name"]: t["properties"]["retentionInDays"] for t in listed}
    assert retention["Heartbeat"] == 7 and retention["Syslog"] == 30

    now = dt.datetime.now(dt.UTC)
    ages = [1, 6, 8, 20, 40]
    rows = pa.table(
        {
            "TimeGenerated": pa.array(
                [now.replace(tzinfo=None) - dt.timedelta(days=d) for d in ages], pa.timestamp("us")
            ),
            "Computer": [f"age{d}" for d in ages],
        }
    )
    store = platform.monitor.logs.store
    store.append(customer_id, "Heartbeat", rows)
    store.append(customer_id, "Syslog", rows)
    assert apply_retention(platform, now) == 4  # Heartbeat drops 8, 20, 40 days; Syslog drops 40
    kept = store.query([customer_id], "union withsource=T Heartbeat, Syslog | summarize make_set(Computer) by T")
    assert {row[0]: sorted(json.loads(row[1])) for row in kept.rows} == {
        "Heartbeat": ["age1", "age6"],
        "Syslog": ["age1", "age20", "age6", "age8"],
    }


def test_purge_deletes_matching_rows_and_is_logged(app) -> None:  # type: ignore[no-untyped-def]
    platform, client, sub = app
    assert client.put(
        f"{sub}/resourceGroups/rg", params={"api-version": "2021-04-01"}, json={"location": "x"}
    ).is_success
    ws_id = f"{sub}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws"
    customer_id = client.put(ws_id, params=WS_API, json={"location": "westeurope"}).json()["properties"]["customerId"]
    store = platform.monitor.logs.store
    store.append(customer_id, "Heartbeat", pa.table({"Computer": ["alice-pc", "bob-pc", "alice-pc", "carol"]}))
    bad = client.post(f"{ws_id}/purge", params=WS_API, json={"table": "Heartbeat", "filters": []})
    assert bad.status_code == 400
    unknown_column = client.post(
        f"{ws_id}/purge",
        params=WS_API,
        json={"table": "Heartbeat", "filters": [{"column": "Nope", "operator": "==", "value": 1}]},
    )
    assert unknown_column.status_code == 400
    assert store.count(customer_id, "Heartbeat") == 4  # refused purges delete nothing
    purged = client.post(
        f"{ws_id}/purge",
        params=WS_API,
        json={
            "table": "Heartbeat",
            "filters": [{"column": "Computer", "operator": "in", "value": ["alice-pc", "carol"]}],
        },
    )
    assert purged.status_code == 202, purged.text
    status = client.get(purged.headers["x-ms-status-location"].replace("https://testserver", ""))
    assert status.status_code == 200 and status.json() == {"status": "completed"}
    assert store.query([customer_id], "Heartbeat | project Computer").rows == [["bob-pc"]]
    events = client.get(
        f"{sub}/providers/Microsoft.Insights/eventtypes/management/values",
        params={"api-version": "2015-04-01", "$filter": "eventTimestamp ge '2000-01-01T00:00:00Z'"},
    ).json()["value"]
    operations = {e["operationName"]["value"] for e in events}
    assert "Microsoft.OperationalInsights/workspaces/purge/action" in operations
