"""The durable spool in front of the DuckDB log store: acknowledged means durable, applied exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from warden.monitor.kql.types import KustoType
from warden.monitor.logstore import LogStoreError, StoreBusy
from warden.monitor.logstore.duckdb_store import DuckDBLogStore
from warden.monitor.logstore.spool import SpooledLogStore, read_segment

EVENTS = {"TimeGenerated": KustoType.DATETIME, "Computer": KustoType.STRING, "Seq": KustoType.LONG}


def _batch(start: int, n: int) -> pa.Table:
    return pa.table(
        {
            "TimeGenerated": pa.array(["2026-11-28T10:00:00Z"] * n),
            "Computer": pa.array([f"host{i % 3}" for i in range(start, start + n)]),
            "Seq": pa.array(range(start, start + n), type=pa.int64()),
        }
    )


def _open(root: Path, **options) -> SpooledLogStore:
    return SpooledLogStore(DuckDBLogStore(root, threads=1), root / "spool", **options)


def _seqs(store: SpooledLogStore, workspace: str) -> list[int]:
    result = store.query([workspace], "Events | project Seq | order by Seq asc")
    return [row[0] for row in result.rows]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def workspace() -> str:
    return str(uuid.uuid4())


def test_acknowledged_rows_are_read_before_the_applier_runs(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.append(workspace, "Events", _batch(0, 5))
    assert store.inner.count(workspace, "Events") == 0  # still only in the spool
    assert _seqs(store, workspace) == [0, 1, 2, 3, 4]  # a read applies it first
    assert store.inner.count(workspace, "Events") == 5
    store.close()


def test_bad_appends_are_refused_before_anything_is_spooled(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS})
    with pytest.raises(LogStoreError):
        store.append(workspace, "Nope", _batch(0, 1))
    with pytest.raises(LogStoreError):
        store.append(workspace, "Events", _batch(0, 1).append_column("Extra", pa.array(["x"])))
    assert not list((root / "spool").rglob("*.seg")) or all(
        p.stat().st_size == 0 for p in (root / "spool").rglob("*.seg")
    )
    assert store.count(workspace, "Events") == 0
    store.close()


_KILLED_WRITER = """
import sys, pyarrow as pa
sys.path.insert(0, {tests!r})
from monitor.test_spool import _batch, _open
from pathlib import Path
store = _open(Path({root!r}), background=False)
for i in range(20):
    store.append({workspace!r}, "Events", _batch(i * 10, 10))
    print(i, flush=True)  # acknowledged
import os, signal
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_rows_acknowledged_before_sigkill_are_applied_once_after_restart(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.close()
    tests = str(Path(__file__).resolve().parents[1])
    script = _KILLED_WRITER.format(tests=tests, root=str(root), workspace=workspace)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    acknowledged = len(done.stdout.split())
    assert acknowledged == 20
    again = _open(root, background=False)
    assert _seqs(again, workspace) == list(range(200))
    again.close()
    third = _open(root, background=False)  # a second restart applies nothing twice
    assert third.count(workspace, "Events") == 200
    third.close()


def test_a_segment_applied_but_not_yet_deleted_is_not_applied_again(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.append(workspace, "Events", _batch(0, 7))
    saved = root.parent / "saved"
    shutil.copytree(root / "spool", saved)
    assert store.count(workspace, "Events") == 7  # applied and the segment deleted
    store.close()
    shutil.rmtree(root / "spool")
    shutil.copytree(saved, root / "spool")  # as if the process died between commit and unlink
    again = _open(root, background=False)
    assert again.count(workspace, "Events") == 7
    assert not [p for p in (root / "spool" / workspace).glob("*.seg") if p.stat().st_size]
    again.close()


def test_a_torn_last_record_is_dropped_and_the_rest_applied(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.append(workspace, "Events", _batch(0, 3))
    store.append(workspace, "Events", _batch(3, 3))
    (segment,) = [p for p in (root / "spool" / workspace).glob("*.seg") if p.stat().st_size]
    store.inner.close()  # leave the spool unapplied, like a crash
    size = segment.stat().st_size
    with open(segment, "r+b") as handle:
        handle.truncate(size - 10)  # the second record was being written when the power went
    assert [len(batch) for _, batch in read_segment(segment)] == [3]
    again = _open(root, background=False)
    assert _seqs(again, workspace) == [0, 1, 2]
    again.close()


def test_backpressure_refuses_new_rows_and_keeps_the_ones_it_has(root: Path, workspace: str) -> None:
    store = _open(root, background=False, max_pending_rows=10)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.append(workspace, "Events", _batch(0, 10))
    with pytest.raises(StoreBusy):
        store.append(workspace, "Events", _batch(10, 5))
    assert _seqs(store, workspace) == list(range(10))
    store.append(workspace, "Events", _batch(10, 5))  # applied, so there is room again
    assert store.count(workspace, "Events") == 15
    store.close()


def test_concurrent_appends_share_fsyncs_and_lose_nothing(root: Path, workspace: str) -> None:
    store = _open(root, apply_rows=200, max_delay=0.05)
    store.create_workspace(workspace, {"Events": EVENTS})

    def writer(thread: int) -> None:
        for i in range(25):
            store.append(workspace, "Events", _batch(thread * 1000 + i * 4, 4))

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = sorted(t * 1000 + i for t in range(8) for i in range(100))
    assert _seqs(store, workspace) == expected
    store.close()


def test_the_background_applier_inserts_without_a_read(root: Path, workspace: str) -> None:
    store = _open(root, apply_rows=1_000_000, max_delay=0.1)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.append(workspace, "Events", _batch(0, 3))
    deadline = time.monotonic() + 10
    while store.inner.count(workspace, "Events") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.inner.count(workspace, "Events") == 3  # max_delay passed: applied by the thread
    store.close()


def test_rows_of_a_table_dropped_after_the_acknowledgement_are_skipped(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS, "Other": EVENTS})
    store.append(workspace, "Other", _batch(0, 2))
    store.inner.drop_table(workspace, "Other")  # bypassing the spool's own flush-before-drop
    store.append(workspace, "Events", _batch(5, 2))
    assert _seqs(store, workspace) == [5, 6]
    store.close()


def test_dropping_a_workspace_discards_its_spool(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.append(workspace, "Events", _batch(0, 2))
    store.drop_workspace(workspace)
    assert not (root / "spool" / workspace).exists()
    assert not store.exists(workspace)
    store.close()
    assert not os.path.exists(root / f"{workspace}.duckdb")


def _segments(root: Path, workspace: str) -> list[Path]:
    return sorted(p for p in (root / "spool" / workspace).glob("*.seg") if p.stat().st_size)


def test_the_applier_inserts_the_batches_it_holds_without_reading_the_files_back(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.append(workspace, "Events", _batch(0, 4))
    store.append(workspace, "Events", _batch(4, 4))
    (segment,) = _segments(root, workspace)
    assert [len(batch) for _, batch in read_segment(segment)] == [4, 4]
    segment.write_bytes(b"\0" * segment.stat().st_size)  # a read of the file would now find nothing
    assert _seqs(store, workspace) == list(range(8))  # applied from memory
    assert store._spools[workspace].held == {} and store._spools[workspace].held_bytes == 0  # released
    store.close()


def test_the_memory_copy_equals_what_a_replay_reads_from_the_segment(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS, "Other": EVENTS})
    store.append(workspace, "Events", _batch(0, 3))
    store.append(workspace, "Other", _batch(10, 2).select(["Computer", "Seq"]))
    store.append(workspace, "Events", _batch(3, 1))
    (segment,) = _segments(root, workspace)
    held = store._spools[workspace].held[int(segment.stem)]
    replayed = list(read_segment(segment))
    assert [name for name, _ in held] == [name for name, _ in replayed] == ["Events", "Other", "Events"]
    for (_, kept), (_, read) in zip(held, replayed, strict=True):
        assert kept.equals(read, check_metadata=True)
    store.close()


def test_past_max_held_bytes_the_segment_is_read_from_disk(root: Path, workspace: str) -> None:
    store = _open(root, background=False, max_held_bytes=_batch(0, 5).nbytes * 2)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.append(workspace, "Events", _batch(0, 5))
    store.append(workspace, "Events", _batch(5, 5))  # the INGESTION_TIME column pushes this one over
    (segment,) = _segments(root, workspace)
    assert store._spools[workspace].held[int(segment.stem)] is None
    assert store._spools[workspace].held_bytes == 0
    assert _seqs(store, workspace) == list(range(10))  # from the file
    store.append(workspace, "Events", _batch(10, 1))  # a fresh segment is held again
    assert store._spools[workspace].held_bytes > 0
    assert store.count(workspace, "Events") == 11
    store.close()


_KILLED_AFTER_APPLYING = """
import sys
sys.path.insert(0, {tests!r})
from monitor.test_spool import _batch, _open
from pathlib import Path
store = _open(Path({root!r}), background=False)
for i in range(10):
    store.append({workspace!r}, "Events", _batch(i * 10, 10))
store.flush({workspace!r})  # applied from memory
print(store.inner.count({workspace!r}, "Events"), flush=True)
for i in range(10, 20):
    store.append({workspace!r}, "Events", _batch(i * 10, 10))  # acknowledged, held, not applied
print(store.inner.count({workspace!r}, "Events"), flush=True)
import os, signal
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kill_between_acknowledging_and_applying_held_batches_replays_them_once(root: Path, workspace: str) -> None:
    store = _open(root, background=False)
    store.create_workspace(workspace, {"Events": EVENTS})
    store.close()
    tests = str(Path(__file__).resolve().parents[1])
    script = _KILLED_AFTER_APPLYING.format(tests=tests, root=str(root), workspace=workspace)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.split() == ["100", "100"]
    again = _open(root, background=False)
    again.recover()  # the new process holds nothing: the segments are read from disk
    assert again.inner.count(workspace, "Events") == 200
    assert _seqs(again, workspace) == list(range(200))
    again.close()
    third = _open(root, background=False)
    assert third.count(workspace, "Events") == 200
    third.close()
