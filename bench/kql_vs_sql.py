"""KQL vs hand-written SQL: what the KQL layer costs on top of DuckDB for typical security queries.

Generates (deterministically, with DuckDB SQL) a ``Syslog`` table of 5 M rows and a ``SigninLogs``
table of 1 M rows as Parquet, loads both into a locked-down ``Sandbox``, then times 13 typical
queries two ways: a hand-written DuckDB SQL statement that implements the Kusto semantics
(``has`` is a whole-term, case-insensitive match; ``contains`` a case-insensitive substring...),
and the KQL text through ``warden.monitor.kql.run`` (compile time included) when it exists.
Both sides are timed up to encoded result rows (the SQL side runs ``Sandbox.execute`` and
``to_result``). When both sides ran, their answers are compared with the conformance rules.

Prints each query's SQL and KQL medians, their ratio and the geometric mean of the ratios; writes
``bench/results/kql_vs_sql.json``. ``--rows-scale 0.02`` gives a quick run. Exit 1 if a SQL
query returns no rows or the term-semantics self-check fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from warden.monitor.kql.conformance import compare
from warden.monitor.kql.runtime import Sandbox, to_result

RESULTS = Path(__file__).resolve().parent / "results" / "kql_vs_sql.json"
SYSLOG_ROWS = 5_000_000
SIGNIN_ROWS = 1_000_000
NOW = dt.datetime(2024, 1, 8, tzinfo=dt.UTC)  # the data spans 2024-01-01 .. 2024-01-08
WEEK_US = 7 * 86_400 * 1_000_000

# ------------------------------------------------------------------------------------ the data

# Every "random" choice is a hash of (row number, salt): the same data on every run and every machine
# with the same DuckDB, and fully parallel (DuckDB's random() is not reproducible across threads).
_USERS = "['root','admin','Admin','oracle','ubuntu','deploy','alice','bob','postgres','Administrator','guest','ROOT']"
_SYSLOG_SQL = f"""
COPY (
  WITH base AS (
    SELECT i,
      TIMESTAMP '2024-01-01' + to_microseconds(CAST(i * ({WEEK_US} // $rows) + hash(i, 'jitter') % 1000000 AS BIGINT))
        AS ts,
      'host-' || lpad(CAST(hash(i, 'computer') % 200 AS VARCHAR), 3, '0') AS computer,
      CAST(hash(i, 'template') % 8 AS INTEGER) AS template,
      list_element({_USERS}, CAST(hash(i, 'user') % 12 AS INTEGER) + 1) AS usr,
      '10.0.' || CAST(hash(i, 'h1') % 4 AS VARCHAR) || '.' || CAST(hash(i, 'h2') % 250 AS VARCHAR) AS host_ip,
      '203.0.' || CAST(hash(i, 'r1') % 50 AS VARCHAR) || '.' || CAST(hash(i, 'r2') % 250 AS VARCHAR) AS remote_ip,
      CAST(1000 + hash(i, 'pid') % 60000 AS INTEGER) AS pid,
      CAST(hash(i, 'n') % 100000 AS VARCHAR) AS n
    FROM range($rows) AS t(i)
  )
  SELECT
    ts AS TimeGenerated,
    computer AS Computer,
    computer || '.contoso.local' AS HostName,
    list_element(['auth','authpriv','cron','daemon','kern','syslog','user','local0'], template + 1) AS Facility,
    list_element(['info','info','info','notice','warning','err','debug','crit','alert','info'],
                 CAST(hash(i, 'severity') % 10 AS INTEGER) + 1) AS SeverityLevel,
    CASE template
      WHEN 0 THEN 'Failed password for invalid user ' || usr || ' from ' || remote_ip || ' port ' || n || ' ssh2'
      WHEN 1 THEN 'Accepted publickey for ' || usr || ' from ' || remote_ip || ' port ' || n || ' ssh2: RSA SHA256:x'
      WHEN 2 THEN 'pam_unix(sshd:session): session opened for user ' || usr || '(uid=0) by (uid=0)'
      WHEN 3 THEN '(root) CMD (run-parts /etc/cron.hourly)'
      WHEN 4 THEN 'Out of memory: Killed process ' || pid || ' (java) total-vm:' || n || 'kB'
      WHEN 5 THEN usr || ' : TTY=pts/0 ; PWD=/home/' || usr || ' ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx'
      WHEN 6 THEN 'Started Session ' || n || ' of user ' || usr || '.'
      ELSE remote_ip || ' - - "GET /api/items?id=' || n || ' HTTP/1.1" 200 512 "-" "PasswordSafe/2.0"'
    END AS SyslogMessage,
    list_element(['sshd','sshd','sshd','CRON','kernel','sudo','systemd','nginx'], template + 1) AS ProcessName,
    pid AS ProcessID,
    host_ip AS HostIP,
    json_object(
      'env', list_element(['prod','dev','test'], CAST(hash(i, 'env') % 3 AS INTEGER) + 1),
      'pid', pid,
      'tags', list_slice(['linux','pci','eu','critical','web','db'], CAST(1 + hash(i, 'tag0') % 5 AS INTEGER),
                         CAST(1 + hash(i, 'tag0') % 5 AS INTEGER) + CAST(hash(i, 'tags') % 3 AS INTEGER))
    ) AS EventData
  FROM base
) TO $path (FORMAT parquet)
"""

_APPS = (
    "['Azure Portal','Microsoft Teams','Office 365 Exchange Online','SharePoint Online','Azure CLI',"
    "'Microsoft Graph','Visual Studio Code','OneDrive','Power BI','Intune','Outlook Mobile','Azure DevOps']"
)
_SIGNIN_SQL = f"""
COPY (
  WITH base AS (
    SELECT i,
      CAST(hash(i, 'loc') % 10 AS INTEGER) AS loc,
      CAST(hash(i, 'method') % 4 AS INTEGER) AS method,
      CAST(hash(i, 'steps') % 3 AS INTEGER) AS steps
    FROM range($rows) AS t(i)
  )
  SELECT
    TIMESTAMP '2024-01-01' + to_microseconds(CAST(i * ({WEEK_US} // $rows) + hash(i, 'jitter') % 1000000 AS BIGINT))
      AS TimeGenerated,
    'user' || CAST(hash(i, 'upn') % 5000 AS VARCHAR) || '@contoso.com' AS UserPrincipalName,
    list_element({_APPS}, CAST(hash(i, 'app') % 12 AS INTEGER) + 1) AS AppDisplayName,
    CASE WHEN hash(i, 'shared') % 10 < 3
      THEN '10.0.' || CAST(hash(i, 'h1') % 4 AS VARCHAR) || '.' || CAST(hash(i, 'h2') % 300 AS VARCHAR)
      ELSE CAST(20 + hash(i, 'p1') % 180 AS VARCHAR) || '.' || CAST(hash(i, 'p2') % 256 AS VARCHAR) || '.'
           || CAST(hash(i, 'p3') % 256 AS VARCHAR) || '.' || CAST(hash(i, 'p4') % 256 AS VARCHAR)
    END AS IPAddress,
    list_element(['0','0','0','0','0','0','50126','50074','53003','50053'], CAST(hash(i, 'rt') % 10 AS INTEGER) + 1)
      AS ResultType,
    list_element(['US','GB','DE','FR','IN','JP','BR','CA','AU','NL'], loc + 1) AS Location,
    list_element(['success','success','notApplied','failure'], CAST(hash(i, 'ca') % 4 AS INTEGER) + 1)
      AS ConditionalAccessStatus,
    json_object(
      'city', list_element(['Seattle','London','Berlin','Paris','Pune','Tokyo','Recife','Toronto','Sydney','Delft'],
                           loc + 1) || CASE WHEN hash(i, 'suburb') % 3 = 0 THEN ' North' ELSE '' END,
      'state', list_element(['WA','LND','BE','IDF','MH','13','PE','ON','NSW','ZH'], loc + 1),
      'countryOrRegion', list_element(['US','GB','DE','FR','IN','JP','BR','CA','AU','NL'], loc + 1),
      'geoCoordinates', json_object('latitude', (hash(i, 'lat') % 18000) / 100.0 - 90,
                                    'longitude', (hash(i, 'lon') % 36000) / 100.0 - 180)
    ) AS LocationDetails,
    CAST(list_slice([
      json_object('authenticationMethod', list_element(['Password','Previously satisfied','FIDO2 security key',
                  'Windows Hello for Business'], method + 1), 'succeeded', hash(i, 'ok1') % 10 > 0),
      json_object('authenticationMethod', list_element(['Mobile app notification','Text message',
                  'OATH verification code','Mobile app notification'], method + 1),
                  'succeeded', hash(i, 'ok2') % 10 > 1),
      json_object('authenticationMethod', 'Previously satisfied', 'succeeded', true)
    ], 1, steps + 1) AS JSON) AS AuthenticationDetails
  FROM base
) TO $path (FORMAT parquet)
"""


def _salted(sql: str) -> str:
    # hash(i, 'salt') combines two hashes and leaves the low bits of different salts correlated
    # (i % 8 and i % 200 would move together); hashing one integer per (row, salt) mixes fully.
    salts: dict[str, int] = {}
    return re.sub(r"hash\(i, '(\w+)'\)", lambda m: f"hash(i * 1000 + {salts.setdefault(m[1], len(salts) + 1)})", sql)


def generate(directory: Path, syslog_rows: int, signin_rows: int) -> dict[str, Path]:
    """Write Syslog.parquet and SigninLogs.parquet into ``directory``; return their paths."""
    con = duckdb.connect()
    paths = {"Syslog": directory / "Syslog.parquet", "SigninLogs": directory / "SigninLogs.parquet"}
    con.execute(_salted(_SYSLOG_SQL), {"rows": syslog_rows, "path": str(paths["Syslog"])})
    con.execute(_salted(_SIGNIN_SQL), {"rows": signin_rows, "path": str(paths["SigninLogs"])})
    con.close()
    return paths


# --------------------------------------------------------------------------------- the queries


@dataclass(frozen=True)
class Query:
    name: str
    kql: str
    sql: str
    types: tuple[str, ...]  # Kusto types of the SQL result's columns


def _has(column: str, *terms: str) -> str:
    # Kusto's has: some maximal run of ASCII letters and digits of the value equals a term, ignoring
    # case. The substring test first is what a SQL author would write: it is cheap, and implied.
    alternatives = "|".join(re.escape(t.lower()) for t in terms)
    prefilter = " OR ".join(f"contains(lower({column}), '{t.lower()}')" for t in terms)
    return f"(({prefilter}) AND regexp_matches(lower({column}), '(^|[^a-z0-9])({alternatives})($|[^a-z0-9])'))"


_MESSAGE = '"SyslogMessage"'
QUERIES = [
    Query(
        "time_filter",
        "Syslog | where TimeGenerated > ago(1d) | count",
        'SELECT count(*) AS "Count" FROM "Syslog" WHERE "TimeGenerated" > TIMESTAMP \'2024-01-07 00:00:00\'',
        ("long",),
    ),
    Query(
        "has",
        'Syslog | where SyslogMessage has "invalid" | summarize count() by Computer',
        f'SELECT "Computer", count(*) AS "count_" FROM "Syslog" WHERE {_has(_MESSAGE, "invalid")} GROUP BY "Computer"',
        ("string", "long"),
    ),
    Query(
        "contains",
        'Syslog | where SyslogMessage contains "PASSWORD" | summarize count() by ProcessName',
        'SELECT "ProcessName", count(*) AS "count_" FROM "Syslog" WHERE contains(lower("SyslogMessage"), \'password\')'
        ' GROUP BY "ProcessName"',
        ("string", "long"),
    ),
    Query(
        "has_any",
        'Syslog | where SyslogMessage has_any ("root", "admin", "oracle") | count',
        f'SELECT count(*) AS "Count" FROM "Syslog" WHERE {_has(_MESSAGE, "root", "admin", "oracle")}',
        ("long",),
    ),
    Query(
        "in_cs_insensitive",
        'Syslog | where Facility in~ ("AUTH", "AuthPriv") | summarize count() by Facility',
        'SELECT "Facility", count(*) AS "count_" FROM "Syslog" WHERE lower("Facility") IN (\'auth\', \'authpriv\')'
        ' GROUP BY "Facility"',
        ("string", "long"),
    ),
    Query(
        "bin_and_key",
        "Syslog | summarize count() by bin(TimeGenerated, 1h), SeverityLevel",
        'SELECT date_trunc(\'hour\', "TimeGenerated") AS "TimeGenerated", "SeverityLevel", count(*) AS "count_"'
        ' FROM "Syslog" GROUP BY ALL',
        ("datetime", "string", "long"),
    ),
    Query(
        "dcount",
        "SigninLogs | summarize dcount(IPAddress) by AppDisplayName",
        'SELECT "AppDisplayName", count(DISTINCT "IPAddress") AS "dcount_IPAddress" FROM "SigninLogs"'
        " GROUP BY ALL",
        ("string", "long"),
    ),
    Query(
        "arg_max",
        "SigninLogs | summarize arg_max(TimeGenerated, *) by UserPrincipalName",
        'SELECT "UserPrincipalName", "TimeGenerated", "AppDisplayName", "IPAddress", "ResultType", "Location",'
        ' "ConditionalAccessStatus", "LocationDetails", "AuthenticationDetails" FROM "SigninLogs"'
        ' QUALIFY row_number() OVER (PARTITION BY "UserPrincipalName" ORDER BY "TimeGenerated" DESC) = 1',
        ("string", "datetime", "string", "string", "string", "string", "string", "dynamic", "dynamic"),
    ),
    Query(
        "join_inner",
        'SigninLogs | where ResultType != "0" | summarize Failures = count() by IPAddress'
        " | join kind=inner (Syslog | summarize Events = count() by HostIP | project IPAddress = HostIP, Events)"
        " on IPAddress",
        'WITH l AS (SELECT "IPAddress", count(*) AS "Failures" FROM "SigninLogs" WHERE "ResultType" <> \'0\''
        ' GROUP BY ALL), r AS (SELECT "HostIP" AS "IPAddress", count(*) AS "Events" FROM "Syslog" GROUP BY ALL)'
        ' SELECT l."IPAddress", l."Failures", r."IPAddress" AS "IPAddress1", r."Events"'
        ' FROM l JOIN r ON l."IPAddress" = r."IPAddress"',
        ("string", "long", "string", "long"),
    ),
    Query(
        "join_leftanti",
        "SigninLogs | join kind=leftanti (Syslog | distinct HostIP | project IPAddress = HostIP) on IPAddress"
        " | summarize count() by AppDisplayName",
        'SELECT "AppDisplayName", count(*) AS "count_" FROM "SigninLogs" s'
        ' WHERE NOT EXISTS (SELECT 1 FROM "Syslog" h WHERE h."HostIP" = s."IPAddress") GROUP BY ALL',
        ("string", "long"),
    ),
    Query(
        "mv_expand",
        "Syslog | mv-expand Tag = EventData.tags to typeof(string) | summarize count() by Tag",
        'SELECT "Tag", count(*) AS "count_"'
        ' FROM (SELECT unnest(json_extract_string("EventData", \'$.tags[*]\')) AS "Tag" FROM "Syslog")'
        " GROUP BY ALL",
        ("string", "long"),
    ),
    Query(
        "dynamic_property",
        'SigninLogs | where tostring(LocationDetails.countryOrRegion) == "US"'
        " | summarize count() by City = tostring(LocationDetails.city)",
        'SELECT COALESCE(json_extract_string("LocationDetails", \'$.city\'), \'\') AS "City", count(*) AS "count_"'
        " FROM \"SigninLogs\" WHERE COALESCE(json_extract_string(\"LocationDetails\", '$.countryOrRegion'), '') = 'US'"
        " GROUP BY ALL",
        ("string", "long"),
    ),
    Query(
        "top10_by_count",
        "Syslog | summarize Count = count() by Computer | top 10 by Count desc, Computer asc",
        'SELECT "Computer", count(*) AS "Count" FROM "Syslog" GROUP BY ALL'
        ' ORDER BY "Count" DESC NULLS LAST, "Computer" ASC NULLS FIRST LIMIT 10',
        ("string", "long"),
    ),
]


# ---------------------------------------------------------------------------------------- timing


def _median_seconds(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Return the median wall time of ``repeat`` calls (after one warm-up) and the last result."""
    result = action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def _load_run() -> tuple[Any, str | None]:
    try:
        import warden.monitor.kql as kql  # lazily: the compiler is being written alongside this bench
    except Exception as exc:
        return None, f"not yet available ({type(exc).__name__}: {exc})"
    run = getattr(kql, "run", None)
    return (run, None) if callable(run) else (None, "not yet available (no run())")


def _kusto_has(text: str, terms: set[str]) -> bool:
    return any(term in terms for term in re.findall(r"[a-z0-9]+", text.lower()))


def check_term_semantics(sandbox: Sandbox) -> list[str]:
    """Return disagreements between the SQL ``has`` predicate and a plain-Python reading of Kusto's rule."""
    problems = []
    for terms in (("invalid",), ("root", "admin", "oracle")):
        predicate = _has(_MESSAGE, *terms)
        sql = f'SELECT DISTINCT "SyslogMessage" AS m, {predicate} AS matched FROM "Syslog" LIMIT 20000'
        for row in sandbox.execute(sql).to_pylist():
            if row["matched"] != _kusto_has(row["m"], set(terms)):
                problems.append(f"has {terms}: SQL says {row['matched']} for {row['m']!r}")
    return problems


def _geomean(values: list[float]) -> float | None:
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-scale", type=float, default=1.0, help="scale the 5 M / 1 M row counts (e.g. 0.02)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query after one warm-up (default 5)")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    args = parser.parse_args()
    syslog_rows = max(1000, int(SYSLOG_ROWS * args.rows_scale))
    signin_rows = max(1000, int(SIGNIN_ROWS * args.rows_scale))

    with tempfile.TemporaryDirectory(prefix="kql-bench-") as tmp:
        started = time.perf_counter()
        paths = generate(Path(tmp), syslog_rows, signin_rows)
        generate_s = time.perf_counter() - started
        tables = {name: pq.read_table(path) for name, path in paths.items()}
        sizes = {name: path.stat().st_size for name, path in paths.items()}
    print(f"generated Syslog {syslog_rows:,} rows, SigninLogs {signin_rows:,} rows in {generate_s:.1f} s")

    started = time.perf_counter()
    sandbox = Sandbox(tables, threads=args.threads)
    load_s = time.perf_counter() - started
    print(f"loading both tables into a locked-down Sandbox: {load_s:.2f} s")
    problems = check_term_semantics(sandbox)
    for problem in problems[:10]:
        print("term-semantics self-check:", problem)

    run, unavailable = _load_run()
    rows_out: list[dict[str, Any]] = []
    failed = bool(problems)
    print(f"\n{'query':<20} {'rows':>7} {'SQL ms':>9} {'KQL ms':>9} {'ratio':>7}  answers")
    for query in QUERIES:
        sql_s, sql_result = _median_seconds(lambda q=query: to_result(sandbox.execute(q.sql), q.types), args.repeat)
        entry: dict[str, Any] = {"name": query.name, "kql": query.kql, "sql": query.sql, "rows": len(sql_result.rows)}
        entry["sql_ms"] = round(sql_s * 1000, 2)
        if not sql_result.rows:
            failed = True
        kql_text, ratio_text, agree_text = "-", "-", unavailable or ""
        if run is not None:
            try:
                kql_s, kql_result = _median_seconds(lambda q=query: run(q.kql, sandbox, now=NOW), args.repeat)
            except Exception as exc:
                entry["kql_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                agree_text = "error: " + entry["kql_error"][:60]
            else:
                expected = {"columns": sql_result.columns, "column_types": sql_result.types, "rows": sql_result.rows}
                agree, why = compare(expected, kql_result, query.kql)
                entry.update(kql_ms=round(kql_s * 1000, 2), ratio=round(kql_s / sql_s, 3), agree=agree, compare=why)
                kql_text, ratio_text = f"{kql_s * 1000:9.1f}", f"{kql_s / sql_s:7.2f}"
                agree_text = "same" if agree else f"DIFFER: {why[:60]}"
        print(f"{query.name:<20} {entry['rows']:>7} {sql_s * 1000:>9.1f} {kql_text:>9} {ratio_text:>7}  {agree_text}")
        rows_out.append(entry)

    ratios = [e["ratio"] for e in rows_out if "ratio" in e]
    geomean = _geomean(ratios)
    sql_geomean = _geomean([e["sql_ms"] for e in rows_out])
    print(f"\ngeometric mean of SQL times: {sql_geomean:.1f} ms" if sql_geomean else "")
    if geomean:
        print(f"geometric mean KQL/SQL ratio over {len(ratios)} queries: {geomean:.2f}")
        print(f"(both sides query the same loaded sandbox; loading took {load_s:.2f} s once)")
    else:
        print(f"KQL side: {unavailable}")
    sandbox.close()

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "duckdb": duckdb.__version__,
                    "cpu": platform.machine(),
                },
                "syslog_rows": syslog_rows,
                "signin_rows": signin_rows,
                "parquet_bytes": sizes,
                "generate_s": round(generate_s, 2),
                "sandbox_load_s": round(load_s, 3),
                "repeat": args.repeat,
                "kql_available": run is not None,
                "kql_unavailable_reason": unavailable,
                "geomean_ratio": round(geomean, 3) if geomean else None,
                "geomean_sql_ms": round(sql_geomean, 2) if sql_geomean else None,
                "term_semantics_problems": problems[:50],
                "queries": rows_out,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(RESULTS.parents[2])}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
