"""Log Analytics end to end: workspaces, tables and DCRs over ARM, rows sent with the real
``azure-monitor-ingestion`` client and the Data Collector API, read back with ``azure-monitor-query``."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from email.utils import formatdate

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.monitor.ingestion import LogsIngestionClient
from azure.monitor.query import LogsBatchQuery, LogsQueryClient, LogsQueryStatus

from support.server import LOGS_SCOPE, WardenServer

LA_READER = "73c42c96-874c-492b-b04d-ab87d138a893"
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
WS_API = {"api-version": "2022-10-01"}
DCR_API = {"api-version": "2022-06-01"}
VM = (
    "/subscriptions/00000000-0000-0000-0000-000000000001"
    "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
)


@pytest.fixture(scope="module")
def setup(warden_server: WardenServer, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A workspace with a custom table, a DCR feeding it, and principals with and without roles."""
    group = f"{warden_server.sub_scope()}/resourceGroups/rg-logs-{uuid.uuid4().hex[:6]}"
    with warden_server.client() as arm:
        assert arm.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).status_code == 201
        ws_id = f"{group}/providers/Microsoft.OperationalInsights/workspaces/ws1"
        created = arm.put(
            ws_id, params=WS_API, json={"location": "westeurope", "properties": {"sku": {"name": "PerGB2018"}}}
        )
        assert created.status_code == 201, created.text
        workspace = created.json()
        table = arm.put(
            f"{ws_id}/tables/AppEvents_CL",
            params=WS_API,
            json={
                "properties": {
                    "schema": {
                        "name": "AppEvents_CL",
                        "columns": [
                            {"name": "TimeGenerated", "type": "datetime"},
                            {"name": "Computer", "type": "string"},
                            {"name": "Level", "type": "int"},
                            {"name": "Props", "type": "dynamic"},
                        ],
                    }
                }
            },
        )
        assert table.status_code in (200, 201), table.text
        dce_id = f"{group}/providers/Microsoft.Insights/dataCollectionEndpoints/dce1"
        assert arm.put(dce_id, params=DCR_API, json={"location": "westeurope", "properties": {}}).status_code == 201
        dcr_id = f"{group}/providers/Microsoft.Insights/dataCollectionRules/dcr1"
        dcr = arm.put(
            dcr_id,
            params=DCR_API,
            json={
                "location": "westeurope",
                "properties": {
                    "dataCollectionEndpointId": dce_id,
                    "streamDeclarations": {
                        "Custom-AppStream": {
                            "columns": [
                                {"name": "Time", "type": "datetime"},
                                {"name": "Computer", "type": "string"},
                                {"name": "Level", "type": "int"},
                                {"name": "Props", "type": "dynamic"},
                                {"name": "Resource", "type": "string"},
                            ]
                        }
                    },
                    "destinations": {"logAnalytics": [{"workspaceResourceId": ws_id, "name": "la"}]},
                    "dataFlows": [
                        {
                            "streams": ["Custom-AppStream"],
                            "destinations": ["la"],
                            "transformKql": "source | where Level >= 0 | extend TimeGenerated = Time, "
                            "_ResourceId = Resource | project-away Time, Resource",
                            "outputStream": "Custom-AppEvents_CL",
                        }
                    ],
                },
            },
        )
        assert dcr.status_code == 201, dcr.text
    writer = warden_server.new_principal("log-writer")
    warden_server.assign(writer, METRICS_PUBLISHER, dcr_id)
    reader = warden_server.new_principal("log-reader")
    warden_server.assign(reader, LA_READER, ws_id)
    outsider = warden_server.new_principal("log-outsider")
    return {
        "workspace": workspace,
        "ws_id": ws_id,
        "dcr": dcr.json(),
        "writer": writer,
        "reader": reader,
        "outsider": outsider,
    }


def _query_client(server: WardenServer, principal) -> LogsQueryClient:  # type: ignore[no-untyped-def]
    return LogsQueryClient(server.credential(principal), endpoint=server.endpoint, connection_verify=server.ca)


def _ingestion_client(server: WardenServer, principal) -> LogsIngestionClient:  # type: ignore[no-untyped-def]
    return LogsIngestionClient(server.endpoint, server.credential(principal), connection_verify=server.ca)


def test_workspace_shape(setup) -> None:  # type: ignore[no-untyped-def]
    props = setup["workspace"]["properties"]
    assert uuid.UUID(props["customerId"])
    assert props["retentionInDays"] == 30 and props["sku"]["name"] == "PerGB2018"
    assert setup["dcr"]["properties"]["immutableId"].startswith("dcr-")


def test_ingest_then_query_with_real_clients(warden_server: WardenServer, setup) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    logs = [
        {
            "Time": (now - dt.timedelta(minutes=i)).isoformat(),
            "Computer": f"web{i % 2}",
            "Level": i,
            "Props": {"n": i, "tags": ["a"]},
            "Resource": VM if i % 2 == 0 else "",
        }
        for i in range(40)
    ] + [{"Time": now.isoformat(), "Computer": "dropped", "Level": -1, "Props": {}, "Resource": ""}]
    with _ingestion_client(warden_server, setup["writer"]) as client:
        client.upload(rule_id=setup["dcr"]["properties"]["immutableId"], stream_name="Custom-AppStream", logs=logs)
    customer_id = setup["workspace"]["properties"]["customerId"]
    with _query_client(warden_server, setup["reader"]) as client:
        result = client.query_workspace(
            customer_id,
            "AppEvents_CL | project Computer, Level, n = toint(Props.n), TimeGenerated | order by Level asc",
            timespan=dt.timedelta(days=1),
        )
        assert result.status == LogsQueryStatus.SUCCESS
        rows = [list(row) for row in result.tables[0].rows]
        assert [r[:3] for r in rows] == [[f"web{i % 2}", i, i] for i in range(40)]  # the Level -1 row was filtered
        assert rows[3][3] == now - dt.timedelta(minutes=3)
        narrow = client.query_workspace(customer_id, "AppEvents_CL | count", timespan=dt.timedelta(minutes=10))
        assert narrow.tables[0].rows[0][0] == 10  # minutes 0..9 ago: the query runs after `now`, so 10 min ago is out
        batch = client.query_batch(
            [
                LogsBatchQuery(
                    customer_id, "AppEvents_CL | summarize count() by Computer | order by Computer asc", timespan=None
                ),
                LogsBatchQuery(customer_id, "AppEvents_CL | where NoSuchColumn == 1", timespan=None),
            ]
        )
        assert [list(r) for r in batch[0].tables[0].rows] == [["web0", 20], ["web1", 20]]
        assert batch[1].status == LogsQueryStatus.FAILURE
    with _query_client(warden_server, None) as client:
        by_resource = client.query_resource(VM, "AppEvents_CL | summarize count(), max(Level)", timespan=None)
        assert [list(r) for r in by_resource.tables[0].rows] == [[20, 38]]


def test_bad_rows_and_bad_callers_write_nothing(warden_server: WardenServer, setup) -> None:  # type: ignore[no-untyped-def]
    rule = setup["dcr"]["properties"]["immutableId"]
    customer_id = setup["workspace"]["properties"]["customerId"]
    before = _count(warden_server, customer_id, "AppEvents_CL")
    bad = [{"Time": "2026-01-01T00:00:00Z", "Level": 1}, {"Time": "yesterday", "Level": 2}]
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as http:
        token = warden_server.token(setup["writer"], scope="https://monitor.azure.com//.default")
        url = f"/dataCollectionRules/{rule}/streams/Custom-AppStream"
        response = http.post(
            url, params={"api-version": "2023-01-01"}, json=bad, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 400
        assert "Record 1" in response.json()["error"]["message"] and "Time" in response.json()["error"]["message"]
        big = [{"Computer": "x" * 1000, "Level": i} for i in range(1200)]
        response = http.post(
            url, params={"api-version": "2023-01-01"}, json=big, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 413
        outsider = warden_server.token(setup["outsider"], scope="https://monitor.azure.com//.default")
        response = http.post(
            url,
            params={"api-version": "2023-01-01"},
            json=[{"Level": 1}],
            headers={"Authorization": f"Bearer {outsider}"},
        )
        assert response.status_code == 403
        unknown = http.post(
            "/dataCollectionRules/dcr-00000000000000000000000000000000/streams/Custom-AppStream",
            params={"api-version": "2023-01-01"},
            json=[{"Level": 1}],
            headers={"Authorization": f"Bearer {outsider}"},
        )
        assert unknown.status_code == 403 and unknown.json()["error"]["code"] == response.json()["error"]["code"]
    assert _count(warden_server, customer_id, "AppEvents_CL") == before
    with _query_client(warden_server, setup["outsider"]) as client, pytest.raises(HttpResponseError) as raised:
        client.query_workspace(customer_id, "AppEvents_CL | count", timespan=None)
    assert raised.value.status_code == 403
    with _query_client(warden_server, setup["reader"]) as client, pytest.raises(HttpResponseError) as raised:
        client.query_workspace(str(uuid.uuid4()), "AppEvents_CL | count", timespan=None)
    assert raised.value.status_code == 403  # an unknown workspace looks like a forbidden one


def test_query_errors_carry_kql_positions(warden_server: WardenServer, setup) -> None:  # type: ignore[no-untyped-def]
    customer_id = setup["workspace"]["properties"]["customerId"]
    with warden_server.client() as http:
        token = warden_server.token(scope="https://api.loganalytics.io/.default")
        response = http.post(
            f"/v1/workspaces/{customer_id}/query",
            json={"query": "AppEvents_CL | where Level >"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadArgumentError" and error["innererror"]["code"] == "SyntaxError"
    assert error["innererror"]["line"] == 1


def test_query_api_refuses_tokens_for_other_apis(warden_server: WardenServer, setup) -> None:  # type: ignore[no-untyped-def]
    customer_id = setup["workspace"]["properties"]["customerId"]
    with warden_server.client() as http:  # an ARM token
        response = http.post(f"/v1/workspaces/{customer_id}/query", json={"query": "AppEvents_CL | count"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


def _count(server: WardenServer, customer_id: str, table: str) -> int:
    with server.client(scope=LOGS_SCOPE) as http:
        response = http.get(f"/v1/workspaces/{customer_id}/query", params={"query": f"{table} | count"})
        assert response.status_code == 200, response.text
        return response.json()["tables"][0]["rows"][0][0]


def _signed_post(server: WardenServer, customer_id: str, key: str, body: bytes, log_type: str) -> httpx.Response:
    date = formatdate(usegmt=True)
    to_sign = f"POST\n{len(body)}\napplication/json\nx-ms-date:{date}\n/api/logs"
    signature = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
    with httpx.Client(base_url=server.endpoint, verify=server.ssl_context()) as http:
        return http.post(
            "/api/logs",
            params={"api-version": "2016-04-01"},
            content=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"SharedKey {customer_id}:{signature}",
                "Log-Type": log_type,
                "x-ms-date": date,
                "time-generated-field": "When",
            },
        )


def test_data_collector_api(warden_server: WardenServer, setup) -> None:  # type: ignore[no-untyped-def]
    customer_id = setup["workspace"]["properties"]["customerId"]
    with warden_server.client() as arm:
        keys = arm.post(f"{setup['ws_id']}/sharedKeys", params=WS_API).json()
        reader_keys = None
        with warden_server.client(setup["reader"]) as as_reader:
            reader_keys = as_reader.post(f"{setup['ws_id']}/sharedKeys", params=WS_API)
    assert reader_keys.status_code == 403  # Log Analytics Reader may not read the keys
    # time-generated-field is honoured for times up to 2 days old (older ones get the ingestion time).
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = json.dumps([{"Host": "a", "Count": 3, "Ok": True, "When": when, "Id": str(uuid.UUID(int=7))}]).encode()
    assert _signed_post(warden_server, customer_id, keys["primarySharedKey"], body, "MyType").status_code == 200
    wrong = base64.b64encode(b"k" * 64).decode()
    other = json.dumps([{"Host": "evil"}]).encode()
    refused = _signed_post(warden_server, customer_id, wrong, other, "MyType")
    assert refused.status_code == 403 and refused.json()["Error"] == "InvalidAuthorization"
    clash = json.dumps([{"Host": 5}]).encode()
    assert _signed_post(warden_server, customer_id, keys["secondarySharedKey"], clash, "MyType").status_code == 200
    with warden_server.client(scope=LOGS_SCOPE) as http:
        response = http.get(
            f"/v1/workspaces/{customer_id}/query",
            params={
                "query": "MyType_CL | project Host_s, Host_d, Count_d, Ok_b, When_t, Id_g, TimeGenerated "
                "| order by Host_s desc"
            },
        )
    assert response.status_code == 200, response.text
    table = response.json()["tables"][0]
    assert [c["type"] for c in table["columns"]] == ["string", "real", "real", "bool", "datetime", "guid", "datetime"]
    assert table["rows"][0][:6] == ["a", None, 3.0, True, when, str(uuid.UUID(int=7))]
    assert table["rows"][0][6] == when  # time-generated-field
    assert table["rows"][1][:2] == ["", 5.0]  # a number sent for Host_s made Host_d
    assert len(table["rows"]) == 2  # the wrongly signed post wrote nothing


def test_another_tenant_cannot_query_or_ingest(warden_server: WardenServer, setup) -> None:  # type: ignore[no-untyped-def]
    """An Owner of another tenant gets the same 403 as a stranger: nothing crosses tenants."""
    from warden.bootstrap import add_tenant
    from warden.kernel.settings import load_settings
    from warden.platform import Platform

    platform = Platform(load_settings(warden_server.data_dir))
    try:
        other_tenant, _sub, principal, secret = add_tenant(platform, "other")
    finally:
        platform.stop()
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as http:

        def token(scope: str) -> str:
            response = http.post(
                f"/{other_tenant}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": principal.app_id,
                    "client_secret": secret.secret_text,
                    "scope": scope,
                },
            )
            assert response.status_code == 200, response.text
            return response.json()["access_token"]

        customer_id = setup["workspace"]["properties"]["customerId"]
        query = http.post(
            f"/v1/workspaces/{customer_id}/query",
            json={"query": "AppEvents_CL | count"},
            headers={"Authorization": f"Bearer {token('https://api.loganalytics.io/.default')}"},
        )
        assert query.status_code == 403
        assert query.json()["error"]["code"] == "AuthorizationFailed"
        ingest = http.post(
            f"/dataCollectionRules/{setup['dcr']['properties']['immutableId']}/streams/Custom-AppStream",
            params={"api-version": "2023-01-01"},
            json=[{"Level": 1}],
            headers={"Authorization": f"Bearer {token('https://monitor.azure.com//.default')}"},
        )
        assert ingest.status_code == 403
        arm = http.get(
            setup["ws_id"],
            params=WS_API,
            headers={"Authorization": f"Bearer {token('https://management.azure.com/.default')}"},
        )
        assert arm.status_code in (403, 404)
