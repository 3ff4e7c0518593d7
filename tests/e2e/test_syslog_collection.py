"""Syslog over UDP and TCP reaches the Syslog table of the workspaces whose DCR collects it."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from support.server import LOGS_SCOPE, WardenServer, free_port, start_server, stop_server

WS_API = {"api-version": "2022-10-01"}
DCR_API = {"api-version": "2022-06-01"}


@pytest.fixture(scope="module")
def syslog_server(tmp_path_factory):  # type: ignore[no-untyped-def]
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WARDEN_SYSLOG_PORT", str(port))
        server = start_server(tmp_path_factory.mktemp("warden-syslog"))
    yield server, port
    stop_server(server)


def _query(server: WardenServer, customer_id: str, query: str):  # type: ignore[no-untyped-def]
    # The query API takes tokens issued for it (api.loganalytics.io), not ARM tokens.
    with server.client(scope=LOGS_SCOPE) as http:
        response = http.post(f"/v1/workspaces/{customer_id}/query", json={"query": query})
    assert response.status_code == 200, response.text
    return response.json()["tables"][0]["rows"]


def test_udp_and_tcp_lines_land_in_syslog(syslog_server) -> None:  # type: ignore[no-untyped-def]
    server, port = syslog_server
    group = f"{server.sub_scope()}/resourceGroups/rg-syslog"
    with server.client() as http:
        assert http.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).status_code == 201
        ws_id = f"{group}/providers/Microsoft.OperationalInsights/workspaces/ws-syslog"
        workspace = http.put(ws_id, params=WS_API, json={"location": "westeurope"}).json()
        customer_id = workspace["properties"]["customerId"]
        dcr = http.put(
            f"{group}/providers/Microsoft.Insights/dataCollectionRules/syslog",
            params=DCR_API,
            json={
                "location": "westeurope",
                "properties": {
                    "dataSources": {
                        "syslog": [
                            {
                                "name": "auth-and-daemon",
                                "streams": ["Microsoft-Syslog"],
                                "facilityNames": ["auth", "daemon"],
                                "logLevels": ["*"],
                            }
                        ]
                    },
                    "destinations": {"logAnalytics": [{"workspaceResourceId": ws_id, "name": "la"}]},
                    "dataFlows": [{"streams": ["Microsoft-Syslog"], "destinations": ["la"]}],
                },
            },
        )
        assert dcr.status_code == 201, dcr.text
        marker = uuid.uuid4().hex[:8]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            # <38> = auth.info, RFC 3164
            udp.sendto(f"<38>Nov 28 10:00:00 web1 sshd[123]: Accepted key {marker}-udp".encode(), ("127.0.0.1", port))
            # <18> = mail.crit: no DCR collects mail
            udp.sendto(f"<18>Nov 28 10:00:01 web1 postfix[9]: dropped {marker}-mail".encode(), ("127.0.0.1", port))
        with socket.create_connection(("127.0.0.1", port)) as tcp:
            line = f"<27>1 2026-11-28T10:00:02.5Z db1 cron 777 ID47 - failure {marker}-tcp"  # daemon.err, RFC 5424
            tcp.sendall(f"{len(line.encode())} {line}".encode())
        deadline = time.monotonic() + 15
        query = (
            f"Syslog | where SyslogMessage has '{marker}' "
            "| project HostName, Facility, SeverityLevel, ProcessName, ProcessID, SyslogMessage | order by HostName asc"
        )
        rows = []
        while time.monotonic() < deadline:
            rows = _query(server, customer_id, query)
            if len(rows) >= 2:
                break
            time.sleep(0.3)
    assert rows == [
        ["db1", "daemon", "err", "cron", 777, f"failure {marker}-tcp"],
        ["web1", "auth", "info", "sshd", 123, f"Accepted key {marker}-udp"],
    ]
