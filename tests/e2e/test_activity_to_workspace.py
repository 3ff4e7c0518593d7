"""A subscription diagnostic setting sends the activity log to a workspace's AzureActivity table
(the server's background loop does the export)."""

from __future__ import annotations

import time
import uuid

from support.server import LOGS_SCOPE, WardenServer

WS_API = {"api-version": "2022-10-01"}
DIAG_API = {"api-version": "2021-05-01-preview"}


def _query(server: WardenServer, customer_id: str, query: str):  # type: ignore[no-untyped-def]
    # The query API takes tokens issued for it (api.loganalytics.io), not ARM tokens.
    with server.client(scope=LOGS_SCOPE) as http:
        response = http.post(f"/v1/workspaces/{customer_id}/query", json={"query": query})
    assert response.status_code == 200, response.text
    return response.json()["tables"][0]["rows"]


def test_activity_log_reaches_azure_activity(warden_server: WardenServer) -> None:
    group = f"{warden_server.sub_scope()}/resourceGroups/rg-activity-{uuid.uuid4().hex[:6]}"
    setting_id = (
        f"{warden_server.sub_scope()}/providers/Microsoft.Insights/diagnosticSettings/to-ws-{uuid.uuid4().hex[:6]}"
    )
    with warden_server.client() as http:
        assert http.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).status_code == 201
        ws_id = f"{group}/providers/Microsoft.OperationalInsights/workspaces/activity"
        customer_id = http.put(ws_id, params=WS_API, json={"location": "westeurope"}).json()["properties"]["customerId"]
        bad = http.put(
            setting_id,
            params=DIAG_API,
            json={"properties": {"workspaceId": ws_id, "logs": [{"category": "NoSuchCategory", "enabled": True}]}},
        )
        assert bad.status_code == 400
        created = http.put(
            setting_id,
            params=DIAG_API,
            json={"properties": {"workspaceId": ws_id, "logs": [{"category": "Administrative", "enabled": True}]}},
        )
        assert created.status_code == 201, created.text
        tagged = http.patch(group, params={"api-version": "2021-04-01"}, json={"tags": {"marker": "activity-export"}})
        assert tagged.status_code == 200
        correlation = tagged.headers["x-ms-correlation-request-id"]
        query = (
            f"AzureActivity | where CorrelationId == '{correlation}' "
            "| project OperationNameValue, ActivityStatusValue, CategoryValue, ResourceGroup, _ResourceId "
            "| order by ActivityStatusValue asc"
        )
        rows = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(rows) < 2:
            rows = _query(warden_server, customer_id, query)
            time.sleep(0.5)
        assert rows == [
            [
                "Microsoft.Resources/subscriptions/resourceGroups/write",
                status,
                "Administrative",
                group.rsplit("/", 1)[-1],
                group.lower(),
            ]
            for status in ("Started", "Succeeded")
        ]
        # Events from before the setting existed are not exported.
        earlier = _query(
            warden_server, customer_id, "AzureActivity | where OperationNameValue endswith 'workspaces/write' | count"
        )
        assert earlier == [[0]]
        assert http.delete(setting_id, params=DIAG_API).status_code == 200
