"""Syslog rows reach the table each DCR flow names (Syslog, or a custom outputStream), in-process
on a real data dir with the real app."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.testclient import TestClient

from warden.api.app import create_app
from warden.bootstrap import initialize, read_bootstrap
from warden.kernel.settings import Settings
from warden.monitor.ingestion.syslog import parse_syslog
from warden.monitor.ingestion.syslog_routing import SyslogRouter
from warden.platform import Platform

WS_API = {"api-version": "2022-10-01"}
DCR_API = {"api-version": "2022-06-01"}


@pytest.fixture
def app(tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    initialize(settings)  # the home tenant: syslog is routed through its rules
    platform = Platform(settings)
    boot = read_bootstrap(tmp_path)
    from warden.identity.principals import get_principal

    with platform.db.read() as conn:
        owner = get_principal(conn, app_id=boot["clientId"])
    client = TestClient(create_app(platform), base_url="https://testserver")
    client.headers["Authorization"] = (
        f"Bearer {platform.tokens.issue(owner, 'https://management.azure.com/')['access_token']}"
    )
    yield platform, client, f"/subscriptions/{boot['subscriptionId']}"
    platform.stop()


def test_flows_write_to_their_output_tables(app) -> None:  # type: ignore[no-untyped-def]
    platform, client, sub = app
    assert client.put(
        f"{sub}/resourceGroups/rg", params={"api-version": "2021-04-01"}, json={"location": "x"}
    ).is_success
    ws_id = f"{sub}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws"
    customer_id = client.put(ws_id, params=WS_API, json={"location": "westeurope"}).json()["properties"]["customerId"]
    columns = [{"name": "TimeGenerated", "type": "datetime"}, {"name": "Msg", "type": "string"}]
    table = client.put(f"{ws_id}/tables/Auth_CL", params=WS_API, json={"properties": {"schema": {"columns": columns}}})
    assert table.status_code == 201, table.text
    rule = client.put(
        f"{sub}/resourceGroups/rg/providers/Microsoft.Insights/dataCollectionRules/syslog",
        params=DCR_API,
        json={
            "location": "westeurope",
            "properties": {
                "dataSources": {"syslog": [{"name": "all", "streams": ["Microsoft-Syslog"], "logLevels": ["*"]}]},
                "destinations": {"logAnalytics": [{"workspaceResourceId": ws_id, "name": "la"}]},
                "dataFlows": [
                    {"streams": ["Microsoft-Syslog"], "destinations": ["la"]},
                    {
                        "streams": ["Microsoft-Syslog"],
                        "destinations": ["la"],
                        "transformKql": "source | where"
                        " Facility == 'auth' | project TimeGenerated, Msg = SyslogMessage",
                        "outputStream": "Custom-Auth_CL",
                    },
                ],
            },
        },
    )
    assert rule.status_code == 201, rule.text
    now = dt.datetime.now(dt.UTC)
    rows = [
        parse_syslog(b"<38>Nov 28 10:00:00 web1 sshd[1]: Accepted key", received_at=now, peer="10.0.0.1"),
        parse_syslog(b"<30>Nov 28 10:00:01 web1 cron[2]: job done", received_at=now, peer="10.0.0.1"),
    ]
    SyslogRouter(platform).deliver(rows)
    store = platform.monitor.logs.store
    assert store.query([customer_id], "Syslog | project Facility | order by Facility asc").rows == [
        ["auth"],
        ["daemon"],
    ]
    assert store.query([customer_id], "Auth_CL | project Msg").rows == [["Accepted key"]]  # the second: auth only
