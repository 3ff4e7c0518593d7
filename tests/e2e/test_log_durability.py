"""Nothing acknowledged is lost: the Logs Ingestion API under ``kill -9``.

Two client threads send numbered batches (every row carries its batch number and its row number)
through the Logs Ingestion API while the server is killed with SIGKILL at a random moment; the
server is restarted on the same data dir and port and every batch is counted through the query API.
The cycle runs three times, and every check covers the batches of all earlier cycles too.

What the store guarantees, and what is asserted:

- a batch answered 204 is present exactly once, with every one of its rows (a 204 is sent only
  after the DuckDB transaction holding the rows has committed, and DuckDB writes and syncs its WAL
  on commit, so a restart replays it);
- a batch whose request was cut by the kill (no answer) is all or nothing: the rows of one request
  go into one destination in one transaction, so a partial batch would mean a torn transaction;
- a batch answered with an error is absent, and the only error a valid batch may get is 429
  (more than 8 requests in flight); any other refusal fails the test with the server's traceback.

Every cycle must acknowledge at least one batch, and after the last restart the server must still
take writes.

SIGKILL leaves the kernel's page cache intact, so this proves the commit ordering (answer after
commit, replay on restart), not the fsync against power loss.
"""

from __future__ import annotations

import gzip
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support.server import WardenServer, restart_server, start_server, stop_server

METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
WS_API = {"api-version": "2022-10-01"}
DCR_API = {"api-version": "2022-06-01"}
INGEST_SCOPE = "https://monitor.azure.com//.default"
STREAM = "Custom-DurableStream"
TABLE = "Durable_CL"
CYCLES = 3
SENDERS = 2
SEED = 20261128


@dataclass
class Ledger:
    """What the clients know about every batch they sent: its size and how the server answered."""

    sizes: dict[int, int] = field(default_factory=dict)
    acknowledged: set[int] = field(default_factory=set)
    refused: dict[int, int] = field(default_factory=dict)  # batch -> HTTP status (not 2xx)
    errors: list[str] = field(default_factory=list)  # the bodies of those answers
    unanswered: set[int] = field(default_factory=set)  # the connection broke: outcome unknown
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0

    def take(self, size: int) -> int:
        with self.lock:
            number = self._next
            self._next += 1
            self.sizes[number] = size
            return number


def _setup(server: WardenServer) -> tuple[str, str, str]:
    """A workspace with ``Durable_CL``, a DCR whose transform renames a column, and a writer
    holding Monitoring Metrics Publisher on the rule. Returns (customerId, immutableId, token)."""
    group = f"{server.sub_scope()}/resourceGroups/rg-durable"
    with server.client() as arm:
        assert arm.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).status_code == 201
        ws_id = f"{group}/providers/Microsoft.OperationalInsights/workspaces/durable"
        workspace = arm.put(
            ws_id, params=WS_API, json={"location": "westeurope", "properties": {"sku": {"name": "PerGB2018"}}}
        )
        assert workspace.status_code == 201, workspace.text
        columns = [
            {"name": "TimeGenerated", "type": "datetime"},
            {"name": "Batch", "type": "long"},
            {"name": "Row", "type": "int"},
            {"name": "Payload", "type": "string"},
        ]
        table = arm.put(
            f"{ws_id}/tables/{TABLE}",
            params=WS_API,
            json={"properties": {"schema": {"name": TABLE, "columns": columns}}},
        )
        assert table.status_code in (200, 201), table.text
        dce_id = f"{group}/providers/Microsoft.Insights/dataCollectionEndpoints/durable-dce"
        assert arm.put(dce_id, params=DCR_API, json={"location": "westeurope", "properties": {}}).status_code == 201
        dcr_id = f"{group}/providers/Microsoft.Insights/dataCollectionRules/durable-dcr"
        stream_columns = [
            {"name": "Time", "type": "datetime"},
            {"name": "Batch", "type": "long"},
            {"name": "Row", "type": "int"},
            {"name": "Payload", "type": "string"},
        ]
        dcr = arm.put(
            dcr_id,
            params=DCR_API,
            json={
                "location": "westeurope",
                "properties": {
                    "dataCollectionEndpointId": dce_id,
                    "streamDeclarations": {STREAM: {"columns": stream_columns}},
                    "destinations": {"logAnalytics": [{"workspaceResourceId": ws_id, "name": "la"}]},
                    "dataFlows": [
                        {
                            "streams": [STREAM],
                            "destinations": ["la"],
                            # A real transformation, so the sandbox runs on the path being killed.
                            "transformKql": "source | extend TimeGenerated = Time | project-away Time",
                            "outputStream": f"Custom-{TABLE}",
                        }
                    ],
                },
            },
        )
        assert dcr.status_code == 201, dcr.text
    writer = server.new_principal("durable-writer")
    server.assign(writer, METRICS_PUBLISHER, dcr_id)
    token = server.token(writer, scope=INGEST_SCOPE)
    return workspace.json()["properties"]["customerId"], dcr.json()["properties"]["immutableId"], token


def _body(batch: int, size: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows = [{"Time": now, "Batch": batch, "Row": row, "Payload": f"b{batch}-r{row}-" + "x" * 40} for row in range(size)]
    return gzip.compress(json.dumps(rows).encode(), compresslevel=1)


def _sender(server: WardenServer, rule: str, token: str, ledger: Ledger, stop: threading.Event, seed: int) -> None:
    """Send batches until ``stop``; record each batch's outcome in ``ledger``."""
    rng = random.Random(seed)
    url = f"/dataCollectionRules/{rule}/streams/{STREAM}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Content-Encoding": "gzip"}
    with httpx.Client(base_url=server.endpoint, verify=server.ssl_context(), timeout=10) as http:
        while not stop.is_set():
            size = rng.randint(50, 200)
            number = ledger.take(size)
            try:
                response = http.post(
                    url, params={"api-version": "2023-01-01"}, content=_body(number, size), headers=headers
                )
            except httpx.TransportError:
                with ledger.lock:
                    ledger.unanswered.add(number)
                # The server is gone (killed): stop rather than spin on connection refusals.
                return
            with ledger.lock:
                if 200 <= response.status_code < 300:
                    ledger.acknowledged.add(number)
                else:
                    ledger.refused[number] = response.status_code
                    ledger.errors.append(f"batch {number}: {response.status_code} {response.text[:300]}")


def _send_until_killed(server: WardenServer, rule: str, token: str, ledger: Ledger, delay: float, seed: int) -> None:
    stop = threading.Event()
    threads = [
        threading.Thread(target=_sender, args=(server, rule, token, ledger, stop, seed * 10 + i), daemon=True)
        for i in range(SENDERS)
    ]
    with ledger.lock:
        before = len(ledger.acknowledged)
    for thread in threads:
        thread.start()
    # The random moment counts from the cycle's first answers, so a slow (busy) machine still kills
    # mid-stream rather than before the first request got through.
    deadline = time.monotonic() + 60
    while len(ledger.acknowledged) < before + SENDERS and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    server.process.kill()  # SIGKILL, mid-stream: some requests are in flight
    server.process.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert len(ledger.acknowledged) > before, f"no batch was acknowledged in this cycle: {ledger.errors[:3]}"


def _counts(server: WardenServer, customer_id: str) -> dict[int, tuple[int, int, int, int]]:
    """Per batch: (rows, distinct row numbers, min row, max row), read through the query API."""
    with server.client() as http:
        response = http.post(
            f"/v1/workspaces/{customer_id}/query",
            json={"query": f"{TABLE} | summarize n = count(), d = dcount(Row), lo = min(Row), hi = max(Row) by Batch"},
            headers={"Authorization": f"Bearer {server.token(scope='https://api.loganalytics.io/.default')}"},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    rows = response.json()["tables"][0]["rows"]
    return {int(batch): (n, d, lo, hi) for batch, n, d, lo, hi in rows}


def _check(ledger: Ledger, counts: dict[int, tuple[int, int, int, int]], server: WardenServer) -> None:
    assert set(counts) <= set(ledger.sizes), "rows of a batch nobody sent"
    lost = sorted(b for b in ledger.acknowledged if b not in counts)
    assert not lost, f"acknowledged batches missing after restart: {lost}"
    for batch in sorted(ledger.acknowledged):
        n, distinct, lo, hi = counts[batch]
        # dcount is exact at this size (well under its precision threshold), and min/max pin the range.
        assert (n, distinct, lo, hi) == (ledger.sizes[batch], ledger.sizes[batch], 0, ledger.sizes[batch] - 1), (
            f"acknowledged batch {batch} of {ledger.sizes[batch]} rows came back as rows={n} distinct={distinct}"
        )
    for batch in sorted(ledger.unanswered):
        if batch in counts:
            n, distinct, lo, hi = counts[batch]
            assert (n, distinct) == (ledger.sizes[batch], ledger.sizes[batch]), (
                f"unanswered batch {batch} is partial or doubled: rows={n} distinct={distinct} of {ledger.sizes[batch]}"
            )
    written_refused = sorted(b for b in ledger.refused if b in counts)
    assert not written_refused, f"batches answered with an error were written: {written_refused}"
    # A valid batch may be refused only for load (429, nothing written); anything else is a fault.
    faults = [error for error in ledger.errors if not error.split(": ", 1)[1].startswith("429")]
    if faults:
        log = (server.data_dir / "server.log").read_text(errors="replace")
        trace = log[log.rfind("Traceback") :][:3000] if "Traceback" in log else "(no traceback in the server log)"
        raise AssertionError(f"valid batches refused: {faults[:3]}\n{trace}")


def test_acknowledged_batches_survive_sigkill(tmp_path: Path) -> None:
    server = start_server(tmp_path / "durable")
    try:
        customer_id, rule, token = _setup(server)
        ledger = Ledger()
        rng = random.Random(SEED)
        for cycle in range(CYCLES):
            _send_until_killed(server, rule, token, ledger, delay=rng.uniform(0.5, 3.0), seed=SEED + cycle)
            restart_server(server)
            _check(ledger, _counts(server, customer_id), server)
        # The restarted server still takes writes, and exactly once.
        stop = threading.Event()
        threading.Timer(0.5, stop.set).start()
        _sender(server, rule, token, ledger, stop, seed=SEED)
        counts = _counts(server, customer_id)
        _check(ledger, counts, server)
        assert sum(counts[b][0] for b in ledger.acknowledged) == sum(ledger.sizes[b] for b in ledger.acknowledged)
        print(
            f"\n{CYCLES} SIGKILL cycles: {len(ledger.sizes)} batches sent, {len(ledger.acknowledged)} acknowledged, "
            f"{len(ledger.unanswered)} cut by the kill ({sum(1 for b in ledger.unanswered if b in counts)} committed), "
            f"{len(ledger.refused)} refused {sorted(set(ledger.refused.values()))}"
        )
    finally:
        if server.process.poll() is None:
            stop_server(server)
