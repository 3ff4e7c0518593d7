"""A durable spool in front of a log store: acknowledge after fsync, insert in large batches later.

Why: a DuckDB commit per request costs about as much as everything else in the request, and small
inserts each write the WAL; one insert of many requests' rows goes straight to the table's blocks
at a fraction of the cost per row. The issue's rule still holds: a successful ``append`` has made
the rows durable, because they are fsynced to the spool before it returns.

How:

- Per workspace, ``append`` writes the batch as an Arrow IPC stream in a framed record (length,
  CRC-32) to the current *segment* file ``{root}/{workspace}/{n:016d}.seg`` and fdatasyncs it.
  Concurrent appends share one fdatasync (group commit).
- An applier thread (and any reader, see below) *rotates* the segment, takes the closed segments'
  batches, concatenates the rows per table and hands them to the store's ``append_spooled``, which
  inserts them and records the last segment number in the same transaction. Only then are the
  files deleted. After a crash, segments up to the recorded number are deleted unread, later ones
  are applied: every acknowledged row lands exactly once. A torn last record was never
  acknowledged (its fdatasync had not returned) and is dropped.
- The batches a process wrote are also *held in memory* (the same Arrow tables, keyed by segment),
  so its applier inserts them without reading and decoding the files back (that cost a fifth of
  the applier's time). The files stay the record of truth: a segment is read from disk when its
  memory copy is missing, i.e. segments left by a previous process (``recover``), a segment whose
  write failed part-way, or one past ``max_held_bytes`` (held batches are bounded by it and, like
  the files, by ``max_pending_rows``).
- Reads see every acknowledged row: ``query``, ``count``, ``delete_before``, ``purge`` and
  ``drop_table`` first apply the workspace's pending segments.
- Backpressure: past ``max_pending_rows`` not yet applied, ``append`` raises ``StoreBusy`` (the
  ingestion APIs answer 429 with Retry-After) instead of letting the spool grow without bound.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from warden.monitor.kql.types import INGESTION_TIME_COLUMN

from . import LogStoreError, StoreBusy, TableSchema

__all__ = ["SpooledLogStore"]

log = logging.getLogger(__name__)

_MAGIC = b"WSP1"
_HEADER = struct.Struct("<4sII")  # magic, payload length, CRC-32 of the payload
_SUFFIX = ".seg"


def encode_record(table: str, batch: pa.Table) -> list[Any]:
    """One framed spool record, as the buffers to write in order (header, table name, the batch as an
    Arrow IPC stream): kept apart so the IPC bytes are neither copied nor concatenated."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, batch.schema) as writer:
        writer.write_table(batch)
    stream = memoryview(sink.getvalue())
    name = table.encode()
    prefix = struct.pack("<H", len(name)) + name
    crc = zlib.crc32(stream, zlib.crc32(prefix))
    return [_HEADER.pack(_MAGIC, len(prefix) + len(stream), crc), prefix, stream]


def read_segment(path: Path) -> Iterator[tuple[str, pa.Table]]:
    """The records of a segment in order; stops at a torn or corrupt record (never acknowledged)."""
    data = memoryview(path.read_bytes())
    offset = 0
    while offset + _HEADER.size <= len(data):
        magic, length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if magic != _MAGIC or end > len(data) or zlib.crc32(data[start:end]) != crc:
            log.warning("spool %s: dropping a torn record at byte %d", path, offset)
            return
        (name_length,) = struct.unpack_from("<H", data, start)
        table = bytes(data[start + 2 : start + 2 + name_length]).decode()
        with ipc.open_stream(pa.py_buffer(data[start + 2 + name_length : end])) as reader:
            yield table, reader.read_all()
        offset = end


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _WorkspaceSpool:
    """One workspace's segments: the open one and the closed ones waiting to be applied."""

    def __init__(self, directory: Path, next_segment: int, max_held_bytes: int) -> None:
        self.directory = directory
        # Segment -> the (table, batch) records written to it by this process, in order; None when
        # the memory copy is incomplete (then the file is read). Guarded by ``lock``.
        self.held: dict[int, list[tuple[str, pa.Table]] | None] = {}
        self.held_bytes = 0
        self.max_held_bytes = max_held_bytes
        self.lock = threading.Lock()  # the open file, its size and the counters
        self.sync_lock = threading.Lock()  # one fdatasync at a time; rotation waits for it
        self.apply_lock = threading.Lock()  # one applier at a time
        self.segment = next_segment
        self.file = self._open(next_segment)
        self.written = 0
        self.synced = 0
        self.pending_rows = 0
        self.oldest: float | None = None  # monotonic time of the oldest unapplied append

    def _open(self, segment: int) -> Any:
        handle = open(self.directory / f"{segment:016d}{_SUFFIX}", "ab", buffering=0)  # noqa: SIM115
        _fsync_dir(self.directory)  # the new file's name must survive a crash as well as its bytes
        return handle

    def write(self, record: list[Any], table: str, batch: pa.Table) -> None:
        """Append ``record`` (``encode_record(table, batch)``) and return once it is on disk (sharing an
        fdatasync with concurrent writers); keep ``batch`` in memory for the applier if there is room."""
        rows = batch.num_rows
        size = sum(len(part) for part in record)
        with self.lock:
            mine = self.segment
            try:
                written = os.writev(self.file.fileno(), record)
                if written != size:
                    raise OSError(f"short write to the spool segment ({written} of {size} bytes)")
            except BaseException:
                # Cut the partial record off so later records stay readable; should that fail too,
                # only a read of the file can tell what it holds, so drop the memory copy either way.
                self._forget(mine)
                with contextlib.suppress(OSError):
                    os.ftruncate(self.file.fileno(), self.written)
                raise
            self.written += written
            self._hold(mine, table, batch)
            end = self.written
            self.pending_rows += rows
            if self.oldest is None:
                self.oldest = time.monotonic()
        with self.sync_lock:
            with self.lock:
                if self.segment != mine or self.synced >= end:
                    return  # synced by a writer that came after us, or by a rotation
                handle, target = self.file, self.written
            os.fdatasync(handle.fileno())
            with self.lock:
                if self.segment == mine:
                    self.synced = max(self.synced, target)

    def rotate(self) -> tuple[list[Path], int]:
        """Close the open segment if it holds records; return every closed segment (oldest first) and
        the rows they hold that the counters had (``restore`` them if applying fails)."""
        with self.sync_lock, self.lock:
            if self.written:
                os.fdatasync(self.file.fileno())
                self.file.close()
                self.segment += 1
                self.file = self._open(self.segment)
                self.written = self.synced = 0
            rows, self.pending_rows, self.oldest = self.pending_rows, 0, None
        return self.closed(), rows

    def _hold(self, segment: int, table: str, batch: pa.Table) -> None:
        records = self.held.setdefault(segment, [])
        if records is None:
            return
        if self.held_bytes + batch.nbytes > self.max_held_bytes:
            self._forget(segment)  # the file will be read instead
            return
        records.append((table, batch))
        self.held_bytes += batch.nbytes

    def _forget(self, segment: int) -> None:
        records = self.held.get(segment)
        self.held_bytes -= sum(batch.nbytes for _, batch in records or ())
        self.held[segment] = None

    def take(self, segment: int) -> list[tuple[str, pa.Table]] | None:
        """The records this process wrote to ``segment`` if they are all in memory, else None."""
        with self.lock:
            return self.held.get(segment)

    def release(self, segments: list[int]) -> None:
        """Drop the memory copies of segments that have been applied (or were applied before)."""
        with self.lock:
            for segment in segments:
                records = self.held.pop(segment, None)
                self.held_bytes -= sum(batch.nbytes for _, batch in records or ())

    def restore(self, rows: int) -> None:
        with self.lock:
            self.pending_rows += rows
            self.oldest = self.oldest or time.monotonic()

    def closed(self) -> list[Path]:
        current = f"{self.segment:016d}{_SUFFIX}"
        return sorted(p for p in self.directory.glob(f"*{_SUFFIX}") if p.name != current)

    def close(self) -> None:
        with self.sync_lock, self.lock:
            self.file.close()


class SpooledLogStore:
    """A ``LogStore`` whose appends go through a durable spool (see the module docstring).

    ``inner`` must offer ``append_spooled(workspace, batches, through)`` and ``spooled_through(workspace)``
    (the DuckDB store does). ``apply_rows``: pending rows that wake the applier at once (DuckDB skips
    its WAL for inserts of 122,880 rows or more); ``max_delay``: seconds an acknowledged row may wait
    before the applier inserts it anyway.
    """

    def __init__(
        self,
        inner: Any,
        root: Path,
        *,
        apply_rows: int = 131_072,
        max_delay: float = 1.0,
        max_pending_rows: int = 2_000_000,
        max_held_bytes: int = 512 * 1024 * 1024,
        background: bool = True,
    ) -> None:
        self.inner = inner
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.apply_rows = apply_rows
        self.max_delay = max_delay
        self.max_pending_rows = max_pending_rows
        self.max_held_bytes = max_held_bytes
        self._spools: dict[str, _WorkspaceSpool] = {}
        self._spools_lock = threading.Lock()
        self._wake = threading.Condition()
        self._stopping = False
        self._background = background
        self._thread: threading.Thread | None = None

    def _start_applier(self) -> None:
        # Started with the first spool, not at construction: a process that only builds the platform
        # (a CLI command beside a running server) must not touch workspace files another process holds.
        if self._background and self._thread is None:
            self._thread = threading.Thread(target=self._applier, name="warden-log-spool", daemon=True)
            self._thread.start()

    # --------------------------------------------------------------------------- the spool

    def recover(self) -> None:
        """Apply what a previous process acknowledged but had not inserted; drop what it had.

        A workspace's leftovers are also applied on its first read or append, so this only makes
        restart-time work eager (the serving process calls it when it starts).
        """
        for directory in sorted(p for p in self.root.iterdir() if p.is_dir()):
            workspace = directory.name
            try:
                known = self.inner.exists(workspace)
            except LogStoreError:
                continue  # not a workspace's directory
            if not known:
                shutil.rmtree(directory, ignore_errors=True)  # the workspace was dropped
                continue
            self.flush(workspace)

    def _spool(self, workspace: str) -> _WorkspaceSpool:
        with self._spools_lock:
            spool = self._spools.get(workspace)
            if spool is None:
                directory = self.root / workspace
                directory.mkdir(exist_ok=True, mode=0o700)
                numbers = [int(p.stem) for p in directory.glob(f"*{_SUFFIX}") if p.stem.isdigit()]
                through = self.inner.spooled_through(workspace)
                spool = _WorkspaceSpool(directory, max([through, *numbers]) + 1, self.max_held_bytes)
                self._spools[workspace] = spool
                self._start_applier()
            return spool

    def flush(self, workspace: str) -> int:
        """Insert every acknowledged row of the workspace that is still in the spool; return how many."""
        if not (self.root / workspace).is_dir():
            return 0
        spool = self._spool(workspace)
        applied = 0
        with spool.apply_lock:
            segments, rows = spool.rotate()
            try:
                through = self.inner.spooled_through(workspace)
                fresh = []
                for path in segments:
                    if int(path.stem) <= through:
                        path.unlink(missing_ok=True)  # applied before a crash, not yet deleted
                        spool.release([int(path.stem)])
                    else:
                        fresh.append(path)
                if fresh:
                    batches = _by_table(record for path in fresh for record in _records(spool, path))
                    applied = self.inner.append_spooled(workspace, batches, int(fresh[-1].stem))
            except BaseException:
                spool.restore(rows)  # the segments (and their memory copies) stay; the applier retries them
                raise
            for path in fresh:
                path.unlink(missing_ok=True)
            spool.release([int(path.stem) for path in fresh])
        return applied

    def flush_all(self) -> None:
        with self._spools_lock:
            workspaces = list(self._spools)
        for workspace in workspaces:
            self.flush(workspace)

    def _applier(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                self._wake.wait(timeout=self.max_delay / 4)
            now = time.monotonic()
            with self._spools_lock:
                spools = list(self._spools.items())
            for workspace, spool in spools:
                with spool.lock:
                    due = spool.pending_rows >= self.apply_rows or (
                        spool.oldest is not None and now - spool.oldest >= self.max_delay
                    )
                if due:
                    try:
                        self.flush(workspace)
                    except Exception:
                        log.exception("applying the log spool of workspace %s failed; will retry", workspace)

    # ----------------------------------------------------------------------- the LogStore API

    def append(self, workspace: str, table: str, batch: pa.Table) -> int:
        schema = self.inner.tables(workspace).get(table)
        if schema is None:
            raise LogStoreError(f"table '{table}' does not exist")
        unknown = [name for name in batch.column_names if name not in schema]
        if unknown:
            raise LogStoreError(f"table '{table}' has no column(s) {unknown}")
        if batch.num_rows == 0:
            return 0
        spool = self._spool(workspace)
        # Stamped now, when the rows are acknowledged, not when the applier inserts them.
        received = pa.scalar(dt.datetime.now(dt.UTC).replace(tzinfo=None), type=pa.timestamp("us"))
        batch = batch.append_column(INGESTION_TIME_COLUMN, pa.repeat(received, batch.num_rows))
        if spool.pending_rows >= self.max_pending_rows:
            with self._wake:
                self._wake.notify()
            raise StoreBusy("The workspace is applying earlier data; retry shortly.")
        spool.write(encode_record(table, batch), table, batch)
        if spool.pending_rows >= self.apply_rows:
            with self._wake:
                self._wake.notify()
        return batch.num_rows

    def query(self, workspaces: list[str], text: str, **options: Any) -> Any:
        for workspace in dict.fromkeys(workspaces):
            self.flush(workspace)
        return self.inner.query(workspaces, text, **options)

    def count(self, workspace: str, table: str) -> int:
        self.flush(workspace)
        return self.inner.count(workspace, table)

    def delete_before(self, workspace: str, table: str, cutoff: Any) -> int:
        self.flush(workspace)
        return self.inner.delete_before(workspace, table, cutoff)

    def purge(self, workspace: str, table: str, filters: list[Any]) -> int:
        self.flush(workspace)
        return self.inner.purge(workspace, table, filters)

    def drop_table(self, workspace: str, table: str) -> None:
        self.flush(workspace)
        self.inner.drop_table(workspace, table)

    def drop_workspace(self, workspace: str) -> None:
        with self._spools_lock:
            spool = self._spools.pop(workspace, None)
        if spool is not None:
            with spool.apply_lock:
                spool.close()
        shutil.rmtree(self.root / workspace, ignore_errors=True)
        self.inner.drop_workspace(workspace)

    def create_workspace(self, workspace: str, tables: Mapping[str, TableSchema]) -> None:
        self.inner.create_workspace(workspace, tables)

    def exists(self, workspace: str) -> bool:
        return self.inner.exists(workspace)

    def tables(self, workspace: str) -> dict[str, TableSchema]:
        return self.inner.tables(workspace)

    def ensure_table(self, workspace: str, table: str, columns: Mapping[str, Any]) -> TableSchema:
        return self.inner.ensure_table(workspace, table, columns)

    def close(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)
        with contextlib.suppress(Exception):
            self.flush_all()
        with self._spools_lock:
            spools, self._spools = list(self._spools.values()), {}
        for spool in spools:
            spool.close()
        self.inner.close()


def _records(spool: _WorkspaceSpool, path: Path) -> Iterator[tuple[str, pa.Table]]:
    """A closed segment's records: the memory copy when this process holds all of it, else the file's."""
    held = spool.take(int(path.stem))
    return iter(held) if held is not None else read_segment(path)


def _by_table(records: Iterator[tuple[str, pa.Table]]) -> list[tuple[str, pa.Table]]:
    """The records' rows concatenated per table, tables in first-seen order (batches may differ in
    columns: missing ones become null, as a separate append would have made them)."""
    grouped: dict[str, list[pa.Table]] = {}
    for table, batch in records:
        grouped.setdefault(table, []).append(batch)
    return [(table, _concat(parts)) for table, parts in grouped.items()]


def _concat(parts: list[pa.Table]) -> pa.Table:
    # One schema (the usual case: one stream's batches) needs no unification, only chunk lists.
    if all(part.schema.equals(parts[0].schema) for part in parts[1:]):
        return pa.concat_tables(parts)
    return pa.concat_tables(parts, promote_options="permissive")
