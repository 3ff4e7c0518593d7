"""Sustained ingestion through the Logs Ingestion API vs DuckDB's own bulk JSON load of the same rows.

1. Generates ``--rows`` Syslog-like records with a fixed seed (TimeGenerated within the last day,
   Computer, HostName, HostIP, Facility, SeverityLevel, ProcessName, ProcessID, SyslogMessage from
   eight sshd/CRON/kernel/sudo/systemd/nginx templates) and cuts them into request bodies exactly
   as ``azure-monitor-ingestion`` does: records summed by their JSON size up to 1 MiB, the chunk
   serialized with ``json.dumps`` and gzipped with zlib's default level. The same records go, once,
   to an NDJSON file. All of this happens before any clock starts.
2. Starts a real server (``warden init`` + ``warden serve`` subprocesses, as the e2e tests do),
   creates over ARM a workspace, the custom table ``BenchSyslog_CL``, a DCE and a DCR
   (``transformKql`` = ``--transform``, default ``source``), and a principal holding Monitoring
   Metrics Publisher on the rule.
3. API ingestion: two client processes (forked after the bodies exist) post their share of the
   bodies over HTTPS with httpx, one request at a time each, honouring 429 ``Retry-After``.
   The first body goes alone, untimed (one-off costs); for the rest the clock runs from a shared
   barrier to the last 204, and rows/s = their rows / that time.
4. Query latency through the query API (median of ``--repeats``) for five typical queries.
5. With the server stopped (so nothing competes for the 2 cores): the comparator, DuckDB's
   ``read_json`` of the NDJSON file into a typed table of a fresh DuckDB file, committed and
   checkpointed; then ``warden.monitor.kql.run`` over the same rows in a ``Sandbox`` (median of
   ``--repeats``), whose answers must equal the API's; and the same queries through
   ``DuckDBLogStore.query`` on the workspace file the server wrote (the API minus HTTP).

Prints a table and writes ``bench/results/ingest.json``. Targets (issue 4): ≥ 100,000 rows/s through
the API and ≥ 0.3 x DuckDB's bulk load. Exit 1 if a count or a query answer disagrees, 2 if a
target is missed (the figures are written either way).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.server import WardenServer, start_server, stop_server

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
SEED = 4
MAX_CHUNK = 1024 * 1024  # the SDK's split size: the records' JSON, uncompressed
METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
TABLE = "BenchSyslog_CL"
STREAM = "Custom-BenchSyslog"
COLUMNS = {
    "TimeGenerated": "datetime",
    "Computer": "string",
    "HostName": "string",
    "HostIP": "string",
    "Facility": "string",
    "SeverityLevel": "string",
    "ProcessName": "string",
    "ProcessID": "int",
    "SyslogMessage": "string",
}
DUCKDB_TYPES = {"datetime": "TIMESTAMP", "string": "VARCHAR", "int": "INTEGER"}
QUERIES = {
    "count": f"{TABLE} | count",
    "summarize by bin": f"{TABLE} | summarize count() by bin(TimeGenerated, 1h) | order by TimeGenerated asc",
    "has filter": f'{TABLE} | where SyslogMessage has "Failed" | summarize count() by Computer | order by Computer asc',
    "top 10": f"{TABLE} | summarize n = count() by ProcessName, Computer | top 10 by n desc, Computer asc",
    "1000 rows": f'{TABLE} | where Facility == "auth" | project TimeGenerated, Computer, SyslogMessage '
    f"| order by TimeGenerated asc, Computer asc, SyslogMessage asc | take 1000",
}

# ------------------------------------------------------------------------------------ the data

_USERS = ["root", "admin", "oracle", "ubuntu", "deploy", "alice", "bob", "postgres", "Administrator", "guest"]
_TEMPLATES = [
    ("auth", "sshd", "Failed password for invalid user {u} from {r} port {n} ssh2"),
    ("auth", "sshd", "Accepted publickey for {u} from {r} port {n} ssh2: RSA SHA256:x{n}"),
    ("authpriv", "sshd", "pam_unix(sshd:session): session opened for user {u}(uid=0) by (uid=0)"),
    ("cron", "CRON", "({u}) CMD (run-parts /etc/cron.hourly)"),
    ("kern", "kernel", "Out of memory: Killed process {p} (java) total-vm:{n}kB"),
    ("authpriv", "sudo", "{u} : TTY=pts/0 ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"),
    ("daemon", "systemd", "Started Session {n} of user {u}."),
    ("local0", "nginx", '{r} - - "GET /api/items?id={n} HTTP/1.1" 200 512 "-" "curl/8.5"'),
]
_SEVERITIES = ["info", "info", "info", "notice", "warning", "err", "debug", "crit"]


def records(count: int, now: dt.datetime) -> Any:
    """``count`` Syslog-like records (dicts), the same for a given seed and ``now``."""
    rng = random.Random(SEED)
    start = now - dt.timedelta(days=1)
    step = 86_400 / max(count, 1)
    hosts = [f"host-{i:03d}" for i in range(200)]
    for i in range(count):
        facility, process, template = _TEMPLATES[rng.randrange(8)]
        host = hosts[rng.randrange(200)]
        pid = rng.randrange(1000, 61000)
        when = start + dt.timedelta(seconds=i * step + rng.random())
        yield {
            "TimeGenerated": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "Computer": host,
            "HostName": f"{host}.contoso.local",
            "HostIP": f"10.0.{rng.randrange(4)}.{rng.randrange(250)}",
            "Facility": facility,
            "SeverityLevel": _SEVERITIES[rng.randrange(8)],
            "ProcessName": process,
            "ProcessID": pid,
            "SyslogMessage": template.format(
                u=_USERS[rng.randrange(10)],
                r=f"203.0.{rng.randrange(50)}.{rng.randrange(250)}",
                n=rng.randrange(100_000),
                p=pid,
            ),
        }


def make_bodies(count: int, now: dt.datetime, ndjson: Path) -> list[tuple[bytes, int, int]]:
    """Gzipped request bodies cut as the SDK cuts them: (body, rows, uncompressed bytes) each.

    Also writes every record as one NDJSON line to ``ndjson`` (the comparator's input).
    """
    bodies: list[tuple[bytes, int, int]] = []
    chunk: list[dict[str, Any]] = []
    size = 0

    def flush() -> None:
        text = json.dumps(chunk).encode()
        deflate = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        bodies.append((deflate.compress(text) + deflate.flush(), len(chunk), len(text)))

    with ndjson.open("w") as out:
        for record in records(count, now):
            line = json.dumps(record)
            out.write(line + "\n")
            if size + len(line) > MAX_CHUNK and chunk:
                flush()
                chunk, size = [], 0
            chunk.append(record)
            size += len(line)
        if chunk:
            flush()
    return bodies


# ---------------------------------------------------------------------------------- the server


def setup(server: WardenServer, transform: str) -> tuple[str, str, str]:
    """Workspace, table, DCE, DCR and a writer. Returns (customerId, immutableId, writer token)."""
    group = f"{server.sub_scope()}/resourceGroups/rg-bench"
    ws_api, dcr_api = {"api-version": "2022-10-01"}, {"api-version": "2022-06-01"}
    with server.client() as arm:
        arm.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).raise_for_status()
        ws_id = f"{group}/providers/Microsoft.OperationalInsights/workspaces/bench"
        workspace = arm.put(ws_id, params=ws_api, json={"location": "westeurope", "properties": {}})
        workspace.raise_for_status()
        columns = [{"name": name, "type": kind} for name, kind in COLUMNS.items()]
        arm.put(
            f"{ws_id}/tables/{TABLE}",
            params=ws_api,
            json={"properties": {"schema": {"name": TABLE, "columns": columns}}},
        ).raise_for_status()
        dce_id = f"{group}/providers/Microsoft.Insights/dataCollectionEndpoints/bench-dce"
        arm.put(dce_id, params=dcr_api, json={"location": "westeurope", "properties": {}}).raise_for_status()
        dcr_id = f"{group}/providers/Microsoft.Insights/dataCollectionRules/bench-dcr"
        dcr = arm.put(
            dcr_id,
            params=dcr_api,
            json={
                "location": "westeurope",
                "properties": {
                    "dataCollectionEndpointId": dce_id,
                    "streamDeclarations": {STREAM: {"columns": columns}},
                    "destinations": {"logAnalytics": [{"workspaceResourceId": ws_id, "name": "la"}]},
                    "dataFlows": [
                        {
                            "streams": [STREAM],
                            "destinations": ["la"],
                            "transformKql": transform,
                            "outputStream": f"Custom-{TABLE}",
                        }
                    ],
                },
            },
        )
        dcr.raise_for_status()
    writer = server.new_principal("bench-writer")
    server.assign(writer, METRICS_PUBLISHER, dcr_id)
    token = server.token(writer, scope="https://monitor.azure.com//.default")
    return workspace.json()["properties"]["customerId"], dcr.json()["properties"]["immutableId"], token


def _client(args: tuple[Any, ...]) -> None:
    """One client process: post every ``share``-th body, one at a time; report on ``results``."""
    index, share, bodies, endpoint, ca, rule, token, barrier, results = args
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Content-Encoding": "gzip"}
    url = f"/dataCollectionRules/{rule}/streams/{STREAM}"
    mine = bodies[index::share]
    rows = throttled = 0
    latencies = []
    with httpx.Client(base_url=endpoint, verify=ca, timeout=120) as http:
        http.get("/")  # the TLS handshake, outside the clock
        barrier.wait()
        for body, count, _ in mine:
            while True:
                sent = time.perf_counter()
                response = http.post(url, params={"api-version": "2023-01-01"}, content=body, headers=headers)
                if response.status_code == 429:
                    throttled += 1
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                if response.status_code != 204:
                    raise SystemExit(f"client {index}: HTTP {response.status_code}: {response.text[:300]}")
                latencies.append(time.perf_counter() - sent)
                rows += count
                break
    # perf_counter is CLOCK_MONOTONIC: comparable across processes on one machine.
    results.put(
        {"client": index, "rows": rows, "end": time.perf_counter(), "throttled": throttled, "latencies": latencies}
    )


def warm_up(server: WardenServer, rule: str, token: str, body: tuple[bytes, int, int]) -> int:
    """Post one body outside the clock; returns its rows."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", "Content-Encoding": "gzip"}
    with httpx.Client(base_url=server.endpoint, verify=server.ca, timeout=120) as http:
        response = http.post(
            f"/dataCollectionRules/{rule}/streams/{STREAM}",
            params={"api-version": "2023-01-01"},
            content=body[0],
            headers=headers,
        )
    if response.status_code != 204:
        raise SystemExit(f"warm-up: HTTP {response.status_code}: {response.text[:300]}")
    return body[1]


def ingest_through_api(server: WardenServer, rule: str, token: str, bodies: list[tuple[bytes, int, int]], clients: int):
    """Post every body from ``clients`` processes; returns (seconds, rows, per-request latencies, 429s)."""
    context = mp.get_context("fork")  # the children inherit the bodies instead of pickling them
    barrier = context.Barrier(clients + 1)
    results = context.Queue()
    processes = [
        context.Process(
            target=_client, args=((i, clients, bodies, server.endpoint, server.ca, rule, token, barrier, results),)
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    reports: list[dict[str, Any]] = []
    while len(reports) < len(processes):
        try:
            reports.append(results.get(timeout=1))
        except queue.Empty:
            # A client that died (an unexpected answer) never reports: stop instead of waiting forever.
            if any(p.exitcode not in (None, 0) for p in processes):
                for process in processes:
                    process.kill()
                raise SystemExit("a client process failed (see its message above)") from None
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a client process failed (exit {process.exitcode})")
    seconds = max(r["end"] for r in reports) - started
    latencies = [lat for r in reports for lat in r["latencies"]]
    return seconds, sum(r["rows"] for r in reports), latencies, sum(r["throttled"] for r in reports)


def query_api(http: httpx.Client, customer_id: str, text: str) -> tuple[float, list[list[Any]]]:
    """One query through the query API on a kept-alive connection (as the SDK's client keeps one):
    (seconds, rows)."""
    started = time.perf_counter()
    response = http.post(f"/v1/workspaces/{customer_id}/query", json={"query": text}, timeout=300)
    seconds = time.perf_counter() - started
    response.raise_for_status()
    return seconds, response.json()["tables"][0]["rows"]


def _start_profiler(server: WardenServer, output: Path) -> subprocess.Popen:
    """py-spy sampling the server process (all threads, idle ones left out) until SIGINT; non-blocking,
    since pausing the server for every sample slowed the ingestion it measures by half."""
    spy = Path(sys.executable).parent / "py-spy"
    process = subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(server.process.pid),
            "--rate",
            "100",
            "--nonblocking",
            "--format",
            "raw",
            "-o",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)  # attached before the clock starts
    return process


def stage_breakdown(bodies: list[tuple[bytes, int, int]], transform: str, work: Path, count: int) -> dict[str, float]:
    """Where a request's server time goes: the stages of the Logs Ingestion path run in this process,
    one thread, over ``count`` bodies (after one untimed) into a fresh store. Returns mean milliseconds
    per body by stage (empty if the ingestion module's internals have moved on: this follows them by name).
    """
    import uuid

    from warden.monitor.kql.types import KustoType
    from warden.monitor.logstore.duckdb_store import DuckDBLogStore
    from warden.monitor.logstore.spool import SpooledLogStore
    from warden.monitor.tables import STANDARD_COLUMNS

    try:
        from warden.monitor.ingestion.batches import process_batch, records_to_arrow
        from warden.monitor.ingestion.logs_ingestion import with_standard_columns
    except ImportError as error:
        print(f"no stage breakdown: {error}")
        return {}
    stream = {name: KustoType(kind) for name, kind in COLUMNS.items()}
    full = {**stream, **{c.name: KustoType(c.type) for c in STANDARD_COLUMNS if c.name not in stream}}
    store = SpooledLogStore(DuckDBLogStore(work / "breakdown"), work / "breakdown" / "spool", background=False)
    workspace = str(uuid.uuid4())
    store.create_workspace(workspace, {TABLE: full})
    stages: dict[str, float] = {}

    def timed(stage: str, call: Any, *a: Any, **k: Any) -> Any:
        started = time.perf_counter()
        value = call(*a, **k)
        stages[stage] = stages.get(stage, 0.0) + time.perf_counter() - started
        return value

    try:
        # One untimed body first: the first request pays one-off costs (pyarrow imports pandas on its
        # first pa.array call, about a second), which would swamp the per-body means.
        for index, (body, _, _) in enumerate(bodies[: count + 1]):
            if index == 1:
                stages.clear()
            text = timed("gzip inflate", zlib.decompress, body, 16 + zlib.MAX_WBITS)
            records = timed("json.loads", json.loads, text)
            raw = timed("records_to_arrow", records_to_arrow, records, stream)
            rows = timed("process_batch (types, transform)", process_batch, raw, stream, transform, records)
            received = dt.datetime.now(dt.UTC)
            out = timed(
                "with_standard_columns",
                with_standard_columns,
                rows,
                full,
                customer_id=workspace,
                table=TABLE,
                received=received,
            )
            timed("store.append (spool fdatasync)", store.append, workspace, TABLE, out)
        timed("spool apply (DuckDB insert, all bodies)", store.flush, workspace)
    finally:
        store.close()
    n = max(1, min(count, len(bodies) - 1))
    return {stage: round(seconds / n * 1000, 2) for stage, seconds in stages.items()}


# ------------------------------------------------------------------------------ the comparators


def bulk_load(ndjson: Path, database: Path) -> float:
    """DuckDB's own bulk JSON load of the NDJSON file into a typed table, committed and
    checkpointed (so it is as durable as an acknowledged API batch). Returns seconds."""
    con = duckdb.connect(str(database))
    try:
        spec = ", ".join(f'"{name}" {DUCKDB_TYPES[kind]}' for name, kind in COLUMNS.items())
        con.execute(f"CREATE TABLE {TABLE} ({spec})")
        con.execute("SET TimeZone = 'UTC'")
        json_columns = "{" + ", ".join(f"'{n}': '{DUCKDB_TYPES[k]}'" for n, k in COLUMNS.items()) + "}"
        started = time.perf_counter()
        con.execute("BEGIN")
        con.execute(
            f"INSERT INTO {TABLE} SELECT * FROM read_json('{ndjson}', format = 'newline_delimited', "
            f"columns = {json_columns}, timestampformat = '%Y-%m-%dT%H:%M:%S.%fZ')"
        )
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        return time.perf_counter() - started
    finally:
        con.close()


def run_in_process(database: Path, repeats: int) -> dict[str, tuple[list[float], list[list[Any]]]]:
    """``warden.monitor.kql.run`` over the bulk-loaded rows in a Sandbox: per query (times, rows)."""
    from warden.monitor.kql import run
    from warden.monitor.kql.runtime import Sandbox

    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.sql(f"SELECT * FROM {TABLE}").to_arrow_table()
    finally:
        con.close()
    out: dict[str, tuple[list[float], list[list[Any]]]] = {}
    with Sandbox({TABLE: rows}, schemas={TABLE: COLUMNS}) as sandbox:
        for name, text in QUERIES.items():
            times, answer = [], []
            for _ in range(repeats):
                started = time.perf_counter()
                result = run(text, sandbox)
                times.append(time.perf_counter() - started)
                answer = [list(row) for row in result.rows]
            out[name] = (times, answer)
    return out


def store_in_process(logs_dir: Path, customer_id: str, repeats: int) -> dict[str, list[float]]:
    """The same queries through ``DuckDBLogStore.query`` on the workspace file the server wrote
    (opened here once the server has stopped): the API minus HTTP, tokens and JSON. Per query, times."""
    from warden.monitor.logstore.duckdb_store import DuckDBLogStore

    store = DuckDBLogStore(logs_dir)
    try:
        out = {}
        for name, text in QUERIES.items():
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                store.query([customer_id], text)
                times.append(time.perf_counter() - started)
            out[name] = times
        return out
    finally:
        store.close()


def _same(api_rows: list[list[Any]], run_rows: list[list[Any]]) -> bool:
    """The API answers in JSON; run() in the same Log Analytics encoding, so they compare after a
    JSON round trip (datetimes are ISO strings on both sides)."""
    return json.loads(json.dumps(run_rows, default=str)) == api_rows


# -------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7, help="runs per query (the median is reported)")
    parser.add_argument("--transform", default="source", help="the DCR's transformKql")
    parser.add_argument(
        "--profile", type=Path, help="sample the server with py-spy during API ingestion (collapsed stacks to PATH)"
    )
    parser.add_argument(
        "--breakdown", type=int, default=0, metavar="N", help="also time the ingestion stages in-process over N bodies"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir (prints its path)")
    args = parser.parse_args()

    failures: list[str] = []
    load_before = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="warden-bench-ingest-")
    try:
        work = Path(tmp)
        now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        started = time.perf_counter()
        bodies = make_bodies(args.rows, now, work / "rows.ndjson")
        print(
            f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f} s: {len(bodies)} bodies, "
            f"{statistics.mean(b[2] for b in bodies) / 1024:.0f} KiB JSON → "
            f"{statistics.mean(len(b[0]) for b in bodies) / 1024:.0f} KiB gzip, {args.rows // len(bodies):,} rows each"
        )

        server = start_server(work / "server")
        try:
            customer_id, rule, token = setup(server, args.transform)
            # The first body goes alone and untimed: the server's first batch pays one-off costs
            # (imports, the workspace file opening) that are not sustained ingestion.
            warm_rows = warm_up(server, rule, token, bodies[0])
            profiler = _start_profiler(server, args.profile) if args.profile else None
            api_seconds, api_rows, latencies, throttled = ingest_through_api(
                server, rule, token, bodies[1:], args.clients
            )
            api_rows += warm_rows
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=60)
            reader = server.client()  # the bootstrap Owner, with a token for the query API
            reader.headers["Authorization"] = f"Bearer {server.token(scope='https://api.loganalytics.io/.default')}"
            # The first read applies whatever the spool still holds: rows acknowledged but not yet
            # inserted. Adding its time gives the rate at which rows become queryable.
            flush_seconds, counted = query_api(reader, customer_id, f"{TABLE} | count")
            if counted != [[args.rows]] or api_rows != args.rows:
                failures.append(f"the API acknowledged {api_rows} rows and the table holds {counted}, not {args.rows}")
            api_queries = {}
            for name, text in QUERIES.items():
                runs = [query_api(reader, customer_id, text) for _ in range(args.repeats)]
                api_queries[name] = ([t for t, _ in runs], runs[-1][1])
            reader.close()
        finally:
            stop_server(server)

        breakdown = stage_breakdown(bodies, args.transform, work, args.breakdown) if args.breakdown else {}
        bulk_seconds = bulk_load(work / "rows.ndjson", work / "bulk.duckdb")
        local = run_in_process(work / "bulk.duckdb", args.repeats)
        stored = store_in_process(work / "server" / "logs", customer_id, args.repeats)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    api_rate, bulk_rate = (args.rows - warm_rows) / api_seconds, args.rows / bulk_seconds
    queryable_rate = (args.rows - warm_rows) / (api_seconds + flush_seconds)
    ratio = api_rate / bulk_rate
    print(f"\n{'ingestion':<28}{'seconds':>10}{'rows/s':>14}")
    print(f"{'API (' + str(args.clients) + ' clients, 204s)':<28}{api_seconds:>10.2f}{api_rate:>14,.0f}")
    print(f"{'API, until queryable':<28}{api_seconds + flush_seconds:>10.2f}{queryable_rate:>14,.0f}")
    print(f"{'DuckDB read_json bulk load':<28}{bulk_seconds:>10.2f}{bulk_rate:>14,.0f}")
    print(
        f"ratio API / bulk: {ratio:.3f}x   request latency median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {sorted(latencies)[int(len(latencies) * 0.95)] * 1000:.0f} ms, 429s: {throttled}"
    )

    print(
        f"\n{'query (median of ' + str(args.repeats) + ')':<22}"
        f"{'API ms':>10}{'store ms':>10}{'run() ms':>10}{'overhead ms':>13}{'x':>6}"
    )
    query_results = {}
    for name in QUERIES:
        api_times, api_answer = api_queries[name]
        run_times, run_answer = local[name]
        api_ms, run_ms = statistics.median(api_times) * 1000, statistics.median(run_times) * 1000
        store_ms = statistics.median(stored[name]) * 1000
        agrees = _same(api_answer, run_answer)
        if not agrees:
            failures.append(f"query '{name}': the API and run() disagree")
        query_results[name] = {
            "kql": QUERIES[name],
            "api_median_ms": round(api_ms, 2),
            "run_median_ms": round(run_ms, 2),
            "store_in_process_median_ms": round(store_ms, 2),
            "overhead_ms": round(api_ms - run_ms, 2),
            "ratio": round(api_ms / run_ms, 2),
            "rows": len(api_answer),
            "answers_agree": agrees,
        }
        print(
            f"{name:<22}{api_ms:>10.1f}{store_ms:>10.1f}{run_ms:>10.1f}{api_ms - run_ms:>13.1f}{api_ms / run_ms:>6.2f}"
        )

    if breakdown:
        rows_per_body = args.rows / len(bodies)
        total = sum(breakdown.values())
        print(f"\nin-process stages, one thread, mean per body of {rows_per_body:,.0f} rows (ms)")
        for stage, ms in breakdown.items():
            print(f"{stage:<32}{ms:>9.1f}")
        print(f"{'total':<32}{total:>9.1f}   = {rows_per_body / total * 1000:,.0f} rows/s per core")
    targets = {"api_rows_per_s_100k": api_rate >= 100_000, "ratio_0_3": ratio >= 0.3}
    result = {
        "benchmark": "ingest",
        "rows": args.rows,
        "bodies": len(bodies),
        "rows_per_body": args.rows // len(bodies),
        "mean_body_json_bytes": round(statistics.mean(b[2] for b in bodies)),
        "mean_body_gzip_bytes": round(statistics.mean(len(b[0]) for b in bodies)),
        "clients": args.clients,
        "transform": args.transform,
        "api_seconds": round(api_seconds, 3),
        "api_rows_per_s": round(api_rate),
        "api_rows_per_s_until_queryable": round(queryable_rate),
        "first_read_flush_seconds": round(flush_seconds, 3),
        "api_request_median_ms": round(statistics.median(latencies) * 1000, 1),
        "api_throttled_429": throttled,
        "bulk_seconds": round(bulk_seconds, 3),
        "bulk_rows_per_s": round(bulk_rate),
        "ratio": round(ratio, 4),
        "queries": query_results,
        "stage_ms_per_body": breakdown,
        "targets": targets,
        "failures": failures,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "cpus": mp.cpu_count(),
        # Other work on the machine skews every figure: the 1-minute load average before and after.
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\ntargets: {targets}\nwrote {RESULTS}")
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        return 1
    return 0 if all(targets.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
