"""The LogStore conformance suite: every implementation must pass it (DuckDB, and ClickHouse on chDB)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pytest

from warden.monitor.kql.compiler import run
from warden.monitor.kql.errors import KqlError, KqlUnsupportedError
from warden.monitor.kql.types import KustoType as K
from warden.monitor.logstore import LogStoreError, PurgeFilter
from warden.monitor.logstore.duckdb_store import DuckDBLogStore
from warden.monitor.logstore.spool import SpooledLogStore

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
EVENTS = {"TimeGenerated": K.DATETIME, "Computer": K.STRING, "Level": K.INT, "Props": K.DYNAMIC, "Id": K.GUID}


def _batch(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "TimeGenerated": [(T0 + dt.timedelta(hours=i)).isoformat() for i in range(start, start + n)],
            "Computer": [f"host{i % 3}" for i in range(start, start + n)],
            "Level": [i for i in range(start, start + n)],
            "Props": [json.dumps({"n": i, "tags": ["a", "b"]}) for i in range(start, start + n)],
            "Id": [str(uuid.UUID(int=i)) for i in range(start, start + n)],
        }
    )


_NO_CHDB = importlib.util.find_spec("chdb") is None
# Tests a backend cannot pass yet because of a gap outside the store, each with the exact error:
# they must fail with it (strict), so fixing the gap makes them pass and forces removing the entry.
_KNOWN_GAPS = {
    ("clickhouse", "test_ingestion_time_is_kept_per_row_and_hidden"): (
        KqlUnsupportedError,
        "the ClickHouse store keeps no ingestion time yet",
    ),
    ("clickhouse", "test_append_converts_and_queries_with_kusto_types"): (
        KqlUnsupportedError,
        "the KQL compiler has no ClickHouse translation of dynamic member access (Props.n): "
        "'dynamic values is not supported on clickhouse'",
    ),
}


@pytest.fixture(
    params=[
        "duckdb",
        "duckdb+spool",
        pytest.param(
            "clickhouse",
            marks=pytest.mark.skipif(_NO_CHDB, reason="chdb (the optional clickhouse extra) is not installed"),
        ),
    ]
)
def make_store(request, tmp_path):
    gap = _KNOWN_GAPS.get((request.param, request.node.originalname))
    if gap is not None:
        request.applymarker(pytest.mark.xfail(raises=gap[0], strict=True, reason=gap[1]))
    stores = []

    def make():
        if request.param == "clickhouse":
            from warden.monitor.logstore.clickhouse_executors import ChdbExecutor
            from warden.monitor.logstore.clickhouse_store import ClickHouseLogStore

            # chDB opens one data directory per process: the previous store must be closed first.
            store = ClickHouseLogStore(ChdbExecutor(tmp_path / "clickhouse"))
        elif request.param == "duckdb+spool":
            store = SpooledLogStore(DuckDBLogStore(tmp_path / "logs", threads=1), tmp_path / "logs" / "spool")
        else:
            store = DuckDBLogStore(tmp_path / "logs", threads=1)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store):
    return make_store()


@pytest.fixture
def workspace(store):
    ws = str(uuid.uuid4())
    store.create_workspace(ws, {"Events": EVENTS})
    return ws


class TestLogStore:
    def test_append_converts_and_queries_with_kusto_types(self, store, workspace):
        assert store.append(workspace, "Events", _batch(5)) == 5
        result = store.query([workspace], "Events | where Level >= 3 | project Computer, Level, n = toint(Props.n), Id")
        assert result.columns == ["Computer", "Level", "n", "Id"]
        assert [str(t) for t in result.types] == ["string", "int", "int", "guid"]
        assert sorted(result.rows) == [["host0", 3, 3, str(uuid.UUID(int=3))], ["host1", 4, 4, str(uuid.UUID(int=4))]]

    def test_missing_columns_are_empty_strings_or_null(self, store, workspace):
        store.append(workspace, "Events", pa.table({"Level": [7]}))
        rows = store.query([workspace], "Events | project Computer, Level, TimeGenerated, isnull(Props)").rows
        assert rows == [["", 7, None, True]]

    def test_unconvertible_values_become_null(self, store, workspace):
        store.append(workspace, "Events", pa.table({"Level": ["x"], "TimeGenerated": ["not a date"]}))
        assert store.query([workspace], "Events | project Level, TimeGenerated").rows == [[None, None]]

    def test_unknown_column_or_table_is_refused_and_writes_nothing(self, store, workspace):
        with pytest.raises(LogStoreError):
            store.append(workspace, "Events", pa.table({"Nope": [1]}))
        with pytest.raises(LogStoreError):
            store.append(workspace, "Missing", pa.table({"Level": [1]}))
        assert store.count(workspace, "Events") == 0

    def test_data_survives_reopening(self, make_store, store, workspace):
        store.append(workspace, "Events", _batch(10))
        store.close()
        again = make_store()
        assert again.count(workspace, "Events") == 10
        assert again.tables(workspace)["Events"] == EVENTS

    def test_ensure_table_adds_columns_and_refuses_type_changes(self, store, workspace):
        schema = store.ensure_table(workspace, "Events", {"Extra": K.REAL})
        assert list(schema) == [*EVENTS, "Extra"]
        store.append(workspace, "Events", pa.table({"Extra": [1.5]}))
        assert store.query([workspace], "Events | project Extra").rows == [[1.5]]
        with pytest.raises(LogStoreError):
            store.ensure_table(workspace, "Events", {"Level": K.STRING})
        with pytest.raises(LogStoreError):
            store.ensure_table(workspace, "events", {"x": K.LONG})  # differs only in case
        with pytest.raises(LogStoreError):
            store.ensure_table(workspace, "Bad-Name", {"x": K.LONG})

    def test_timespan_limits_every_table(self, store, workspace):
        store.append(workspace, "Events", _batch(48))
        span = (T0 + dt.timedelta(hours=10), T0 + dt.timedelta(hours=20))
        rows = store.query([workspace], "Events | summarize count(), min(Level), max(Level)", timespan=span).rows
        assert rows == [[10, 10, 19]]
        assert store.query([workspace], "Events | count").rows == [[48]]

    def test_several_workspaces_union_and_workspace_function(self, store, workspace):
        other = str(uuid.uuid4())
        store.create_workspace(other, {"Events": EVENTS})
        store.append(workspace, "Events", _batch(3))
        store.append(other, "Events", _batch(2, start=100))
        assert store.query([workspace, other], "Events | count").rows == [[5]]
        rows = store.query(
            [workspace], 'workspace("Second").Events | summarize max(Level)', qualified={"Second": other}
        ).rows
        assert rows == [[101]]
        with pytest.raises(KqlError):
            store.query([workspace], 'workspace("unknown").Events | count', qualified={"Second": other})

    def test_delete_before_and_purge(self, store, workspace):
        store.append(workspace, "Events", _batch(24))
        assert store.delete_before(workspace, "Events", T0 + dt.timedelta(hours=4)) == 4
        assert store.purge(workspace, "Events", [PurgeFilter("Computer", "==", "host1")]) == 7
        assert store.purge(workspace, "Events", [PurgeFilter("Level", "in", [20, 21, 22])]) == 2
        rows = store.query([workspace], "Events | summarize count(), countif(Computer == 'host1')").rows
        assert rows == [[11, 0]]
        with pytest.raises(LogStoreError):
            store.purge(workspace, "Events", [PurgeFilter("Computer", "drop table", "x")])
        with pytest.raises(LogStoreError):
            store.purge(workspace, "Events", [])

    def test_queries_cannot_read_files_or_write(self, store, workspace):
        with pytest.raises(KqlError):
            store.query([workspace], "externaldata (x:string) [@'/etc/passwd'] | take 1")
        with pytest.raises(KqlError):
            store.query([workspace], "__warden_columns | count")  # the catalogue is not a table of the query

    def test_unknown_workspace_and_invalid_ids(self, store):
        with pytest.raises(LogStoreError):
            store.tables(str(uuid.uuid4()))
        with pytest.raises(LogStoreError):
            store.create_workspace("../escape", {})

    def test_drop_workspace_removes_its_files(self, store, workspace):
        store.append(workspace, "Events", _batch(1))
        store.drop_workspace(workspace)
        assert not store.exists(workspace)
        with pytest.raises(LogStoreError):
            store.count(workspace, "Events")

    def test_resource_filter_reads_only_that_resource_and_below(self, store):
        ws = str(uuid.uuid4())
        columns = {"TimeGenerated": K.DATETIME, "_ResourceId": K.STRING, "Msg": K.STRING}
        store.create_workspace(ws, {"Logs": columns, "NoResource": {"TimeGenerated": K.DATETIME}})
        vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
        store.append(
            ws,
            "Logs",
            pa.table(
                {
                    "_ResourceId": [vm, vm.upper() + "/extensions/x", vm + "0", "/other"],
                    "Msg": ["a", "b", "c", "d"],
                }
            ),
        )
        rows = store.query([ws], "Logs | project Msg | order by Msg asc", resource=vm).rows
        assert rows == [["a"], ["b"]]
        with pytest.raises(KqlError):
            store.query([ws], "NoResource | count", resource=vm)


ALL_TYPES = {
    "TimeGenerated": K.DATETIME,
    "B": K.BOOL,
    "D": K.DYNAMIC,
    "G": K.GUID,
    "I": K.INT,
    "L": K.LONG,
    "R": K.REAL,
    "S": K.STRING,
    "Span": K.TIMESPAN,
    "Dec": K.DECIMAL,
}


class TestLogStoreMore:
    """Behaviour every store shares beyond the first class: types, unions, limits, concurrency, purges."""

    def test_ingestion_time_is_kept_per_row_and_hidden(self, store, workspace):
        before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        store.append(workspace, "Events", _batch(3))
        after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        rows = store.query(
            [workspace],
            "Events | where Level >= 1 | extend t = ingestion_time() | project Level, t | sort by Level asc",
        ).rows
        assert [row[0] for row in rows] == [1, 2]
        stamps = [dt.datetime.fromisoformat(row[1].rstrip("Z")) for row in rows]
        assert all(before - dt.timedelta(seconds=1) <= t <= after + dt.timedelta(seconds=1) for t in stamps)
        assert store.query([workspace], "Events | where ingestion_time() > ago(1h) | count").rows == [[3]]
        assert "__ingestion_time" not in store.query([workspace], "Events | take 1").columns  # hidden from *
        assert "__ingestion_time" not in store.tables(workspace)["Events"]
        with pytest.raises(KqlError):
            store.query([workspace], "Events | summarize count() by Computer | extend t = ingestion_time()")

    def test_every_kusto_type_round_trips(self, store):
        ws = str(uuid.uuid4())
        store.create_workspace(ws, {"All": ALL_TYPES})
        batch = pa.table(
            {
                "TimeGenerated": ["2026-01-02T03:04:05.123456Z", None],
                "B": ["true", None],
                "D": ['{"a": [1, 2]}', None],
                "G": ["6F9619FF-8B86-D011-B42D-00C04FC964FF", None],
                "I": ["7", None],
                "L": [2**40, None],
                "R": [1.5, None],
                "S": ["x", None],
                "Span": ["01:30:00", None],
                "Dec": ["1.25", None],
            }
        )
        assert store.append(ws, "All", batch) == 2
        result = store.query([ws], "All | order by I desc")
        assert result.columns == list(ALL_TYPES)
        assert result.types == list(ALL_TYPES.values())
        assert result.rows[0][:9] == [
            "2026-01-02T03:04:05.123456Z",
            True,
            '{"a":[1,2]}',
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            7,
            2**40,
            1.5,
            "x",
            "01:30:00",
        ]
        assert float(result.rows[0][9]) == 1.25
        assert result.rows[1] == [None, None, None, None, None, None, None, "", None, None]
        assert store.query([ws], "All | where Span > 1h | project S").rows == [["x"]]

    def test_typed_and_nested_arrow_values_convert(self, store):
        ws = str(uuid.uuid4())
        columns = {"TimeGenerated": K.DATETIME, "D": K.DYNAMIC, "Span": K.TIMESPAN, "S": K.STRING, "B": K.BOOL}
        store.create_workspace(ws, {"T": {**columns, "G": K.GUID}})
        batch = pa.table(
            {
                "TimeGenerated": pa.array([T0, None], pa.timestamp("us", tz="UTC")),
                "D": pa.array([{"a": 1, "b": [1, 2]}, None]),
                "Span": [36000000000, None],  # a number is a tick count
                "S": pa.array([[1, 2], None]),
                "B": [1, 0],
                "G": ["not a guid", " 6F9619FF-8B86-D011-B42D-00C04FC964FF "],
            }
        )
        store.append(ws, "T", batch)
        assert store.query([ws], "T | order by B desc").rows == [
            ["2026-01-01T00:00:00Z", '{"a":1,"b":[1,2]}', "01:00:00", "[1,2]", True, None],
            [None, None, None, "", False, "6f9619ff-8b86-d011-b42d-00c04fc964ff"],
        ]

    def test_drop_table_and_empty_workspace(self, store, workspace):
        store.ensure_table(workspace, "Other", {"x": K.LONG})
        store.append(workspace, "Other", pa.table({"x": [1, 2]}))
        store.drop_table(workspace, "Other")
        assert list(store.tables(workspace)) == ["Events"]
        with pytest.raises(LogStoreError):
            store.append(workspace, "Other", pa.table({"x": [1]}))
        with pytest.raises(LogStoreError):
            store.drop_table(workspace, "Other")
        with pytest.raises(KqlError):
            store.query([workspace], "Other | count")
        empty = str(uuid.uuid4())
        store.create_workspace(empty, {})
        assert store.exists(empty) and store.tables(empty) == {}
        assert store.query([empty], "print x = 1").rows == [[1]]

    def test_union_of_workspaces_with_different_columns(self, store, workspace):
        other = str(uuid.uuid4())
        store.create_workspace(other, {"Events": EVENTS})
        store.ensure_table(workspace, "Events", {"Extra": K.REAL})
        store.append(workspace, "Events", pa.table({"Level": [1], "Extra": [2.5]}))
        store.append(other, "Events", pa.table({"Level": [2], "Computer": ["b"]}))
        rows = store.query([workspace, other], "Events | project Level, Extra, Computer | order by Level asc").rows
        assert rows == [[1, 2.5, ""], [2, None, "b"]]

    def test_limits_apply_to_every_workspace_and_qualified_table(self, store, workspace):
        other = str(uuid.uuid4())
        store.create_workspace(other, {"Events": EVENTS})
        store.append(workspace, "Events", _batch(24))
        store.append(other, "Events", _batch(24, start=0))
        span = (T0 + dt.timedelta(hours=2), T0 + dt.timedelta(hours=5))
        assert store.query([workspace, other], "Events | count", timespan=span).rows == [[6]]
        rows = store.query(
            [workspace],
            'Events | union (workspace("B").Events) | summarize count(), min(Level), max(Level)',
            timespan=span,
            qualified={"B": other},
        ).rows
        assert rows == [[6, 2, 4]]

    def test_concurrent_queries_keep_their_own_limits(self, store, workspace):
        store.append(workspace, "Events", _batch(48))
        spans = [(T0, T0 + dt.timedelta(hours=h)) for h in range(1, 13)]

        def count(span):
            return store.query([workspace], "Events | count", timespan=span).rows[0][0]

        with ThreadPoolExecutor(max_workers=6) as pool:
            counts = list(pool.map(count, spans * 3))
        assert counts == [h for h in range(1, 13)] * 3

    def test_queries_see_whole_appends_only(self, store, workspace):
        def write():
            for i in range(15):
                store.append(workspace, "Events", _batch(100, start=i * 100))

        with ThreadPoolExecutor(max_workers=1) as pool:
            writing = pool.submit(write)
            counts = []
            while not writing.done():
                counts.append(store.query([workspace], "Events | count").rows[0][0])
            writing.result()
        assert all(count % 100 == 0 for count in counts), counts
        assert store.count(workspace, "Events") == 1500

    def test_purge_operators(self, store, workspace):
        store.append(workspace, "Events", _batch(24))
        assert store.purge(workspace, "Events", [PurgeFilter("Computer", "=~", "HOST0")]) == 8
        assert store.purge(workspace, "Events", [PurgeFilter("Level", "between", [1, 4])]) == 3  # 1, 2, 4
        assert store.purge(workspace, "Events", [PurgeFilter("Computer", "contains", "ST2")]) == 7
        assert store.purge(workspace, "Events", [PurgeFilter("Id", "==", str(uuid.UUID(int=7)))]) == 1
        when = (T0 + dt.timedelta(hours=22)).isoformat()
        assert store.purge(workspace, "Events", [PurgeFilter("TimeGenerated", ">=", when)]) == 1  # 22
        both = [PurgeFilter("Computer", "in~", ["Host1"]), PurgeFilter("Level", "<", 13)]
        assert store.purge(workspace, "Events", both) == 1  # 10
        assert store.query([workspace], "Events | project Level | order by Level asc").rows == [[13], [16], [19]]
        with pytest.raises(LogStoreError):
            store.purge(workspace, "Events", [PurgeFilter("Level", "==", "not a number")])
        assert store.count(workspace, "Events") == 3

    def test_queries_cannot_name_other_databases(self, store, workspace):
        for text in ('database("system").tables | count', 'cluster("x").database("y").Events | count'):
            with pytest.raises(KqlError):
                store.query([workspace], text)

    @pytest.mark.parametrize(
        "text",
        [
            "Events | where Computer == 'host1' | project Level | order by Level asc",
            "Events | summarize c = count(), s = sum(Level) by Computer | order by Computer asc",
            "Events | where TimeGenerated > datetime(2026-01-01 05:00) | summarize min(TimeGenerated), max(Level)",
            "Events | join kind=inner (Events | where Level < 3 | project Computer, L2 = Level) on Computer | count",
            "Events | top 3 by Level desc | project Level, Id",
            "Events | summarize count() by b = bin(TimeGenerated, 6h) | order by b asc",
            "Events | where Computer in~ ('HOST2') and Level between (5 .. 15) | count",
            "Events | where Level == 4 | project Props, Id",
            "let X = Events | where Level > 20; X | union (Events | where Level < 2) | count",
            "Events | distinct Computer | order by Computer asc",
            "Events | where Level > 100",
        ],
    )
    def test_answers_match_the_kql_engine_over_the_same_rows(self, store, workspace, text):
        batch = _batch(24)
        store.append(workspace, "Events", batch)
        expected = run(text, {"Events": batch}, schemas={"Events": EVENTS})
        got = store.query([workspace], text)
        assert (got.columns, got.types, got.rows) == (expected.columns, expected.types, expected.rows)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT file('/etc/passwd')",
        "SELECT * FROM url('http://127.0.0.1/', CSV)",
        'SELECT * FROM "Events" JOIN s3(\'http://x/y\') USING ("Level")',
        "SELECT * FROM system.tables",
        'SELECT * FROM "ws_b"."Events"',
        "SELECT * FROM merge('ws_b', '.*')",
        "SELECT dictGet('d', 'a', 1)",
        'SELECT * FROM "Other"',
        'SELECT 1; DROP DATABASE "ws_a"',
        'INSERT INTO "Events" SELECT * FROM "Events"',
    ],
)
def test_clickhouse_statements_reach_only_the_query_tables(sql):
    """The ClickHouse store's second lock: SQL naming anything but its CTEs and schema tables is refused."""
    from warden.monitor.logstore.clickhouse_sql import Limits, TableSource, rewrite_query

    with pytest.raises(KqlError):
        rewrite_query(sql, {"Events": TableSource().add("ws_a", "Events", EVENTS)}, Limits(None, None))


def test_clickhouse_rewrite_limits_each_reference_and_keeps_aliases():
    from warden.monitor.logstore.clickhouse_sql import Limits, TableSource, rewrite_query

    sources = {"Events": TableSource().add("ws_a", "Events", EVENTS).add("ws_b", "Events", {"Level": K.INT})}
    sql = 'WITH "__kql_1" AS (SELECT "L"."Level" FROM "Events" AS "L") SELECT * FROM "__kql_1"'
    span = (T0, T0 + dt.timedelta(hours=1))
    rewritten = rewrite_query(sql, sources, Limits(span, None))
    assert '"ws_a"."Events"' in rewritten and '"ws_b"."Events"' in rewritten and "UNION ALL" in rewritten
    assert rewritten.count("toDateTime64('2026-01-01 00:00:00.000000', 6, 'UTC')") == 1  # ws_b has no TimeGenerated
    assert 'AS "L"' in rewritten


def test_geo_functions_run_on_live_duckdb_tables(tmp_path) -> None:
    """geo_* run as Python UDFs: a store's own connection must install them too."""
    store = DuckDBLogStore(tmp_path / "geo", threads=1)
    try:
        ws = str(uuid.uuid4())
        store.create_workspace(ws, {"Places": {"lon": K.REAL, "lat": K.REAL}})
        store.append(ws, "Places", pa.table({"lon": [-122.349304], "lat": [47.620498]}))
        rows = store.query([ws], "Places | project d = geo_distance_2points(lon, lat, -122.349304, 47.620498)").rows
        assert rows == [[0.0]]
    finally:
        store.close()
