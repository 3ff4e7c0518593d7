"""The index: which pack holds each blob.

In the repository there is one small **index file per pack** (``index/<pack id>``, sealed, the
pack's entry table), written right after its pack is durable. Writers never rewrite a shared
index, so several of them can run at once without a lock.

Locally, the index files are merged into an **SQLite cache** (``IndexCache``): a ``WITHOUT ROWID``
B-tree keyed by blob id, with a bounded page cache. Memory therefore stays flat however many blobs
the repository holds (the test looks up 1 M synthetic ids); the cache is only a copy: ``sync``
adds index files it has not seen and drops those that prune removed, so it can be deleted at will.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .backends import Backend
from .crypto import Cipher
from .errors import IntegrityError, ObjectNotFound
from .packs import BlobEntry, BlobType, parse_entries

INDEX_PREFIX = "index/"
READER_CACHE_KIB = 8 * 1024  # per pooled reader (in practice 1-2 open); 4 MiB missed pages on a 9 MB index
_BATCH = 500  # ids per IN (...) query, well under SQLite's parameter limit
_LOCATIONS = (
    "SELECT b.pid, p.pack, b.type, b.off, b.len, b.raw FROM blobs b JOIN packs p ON p.pid = b.pid WHERE b.id = ?"
)
_LOCATIONS_MANY = (
    "SELECT b.id, b.pid, p.pack, b.type, b.off, b.len, b.raw FROM blobs b JOIN packs p ON p.pid = b.pid WHERE b.id IN "
)
_TYPES = tuple(BlobType)  # indexing a tuple is ~10x cheaper than calling the enum


def index_name(pack_id: str) -> str:
    """Return the backend object name of a pack's index file."""
    return f"{INDEX_PREFIX}{pack_id}"


def seal_index(cipher: Cipher, pack_id: str, entries: Iterable[BlobEntry]) -> bytes:
    """Return the sealed index file for a pack."""
    return cipher.seal(b"".join(e.pack_entry() for e in entries), index_name(pack_id).encode())


def open_index(cipher: Cipher, pack_id: str, sealed: bytes) -> list[BlobEntry]:
    """Return the entries of a sealed index file; raise IntegrityError."""
    return parse_entries(cipher.open(sealed, index_name(pack_id).encode()))


@dataclass(frozen=True)
class Location:
    """A blob's place: pack id and its entry."""

    pack: str
    entry: BlobEntry


class IndexCache:
    """SQLite-backed merged index. Safe for several processes sharing one file (WAL, busy timeout).

    Packs get small integer ids so a blob row is ~50 bytes; the only state kept in Python is the
    set of marked packs' ids, which is as small as the number of packs prune has marked.

    Writes go through one connection under a lock. The hot lookups (``locations``, ``usable_packs``)
    use a pool of reader connections instead: in WAL mode readers never wait for the writer or each
    other, so restore workers and the backup thread do not queue behind a pack upload's insert. Each
    lookup is one autocommit statement, so it sees every pack committed before it started.
    """

    def __init__(self, path: str | Path, cache_kib: int = 16 * 1024) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # bounded memory, whatever the size
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS packs (pid INTEGER PRIMARY KEY, pack TEXT NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS blobs (
                id BLOB NOT NULL, pid INTEGER NOT NULL, type INTEGER NOT NULL, off INTEGER NOT NULL,
                len INTEGER NOT NULL, raw INTEGER NOT NULL, PRIMARY KEY (id, pid)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS blobs_pid ON blobs (pid);
            """
        )
        self._marked: set[int] = set()
        # The writer connection, shared by sync/add/remove and the cold reads below.
        self._lock = threading.RLock()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all_readers: list[sqlite3.Connection] = []

    def close(self) -> None:
        """Close the database and every reader connection."""
        with self._lock:
            for conn in self._all_readers:
                conn.close()
            self._all_readers.clear()
        self.db.close()

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """Yield a reader connection from the pool (opened on demand: as many as concurrent lookups)."""
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=1")
            conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
            with self._lock:
                self._all_readers.append(conn)
        try:
            yield conn
        finally:
            self._readers.put(conn)

    def _pid(self, pack_id: str) -> int | None:
        with self._lock:
            row = self.db.execute("SELECT pid FROM packs WHERE pack = ?", (pack_id,)).fetchone()
            return None if row is None else row[0]

    def add_pack(self, pack_id: str, entries: Iterable[BlobEntry]) -> None:
        """Record a pack and its blobs (idempotent)."""
        self.add_packs([(pack_id, entries)])

    def add_packs(self, packs: Iterable[tuple[str, Iterable[BlobEntry]]]) -> None:
        """Record several packs in one transaction (idempotent); fastest when blob ids come sorted."""
        with self._lock, self._tx():
            for pack_id, entries in packs:
                self.db.execute("INSERT OR IGNORE INTO packs (pack) VALUES (?)", (pack_id,))
                pid = self._pid(pack_id)
                self.db.executemany(
                    "INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?, ?)",
                    ((e.id, pid, int(e.type), e.offset, e.length, e.raw_length) for e in entries),
                )

    def remove_pack(self, pack_id: str) -> None:
        """Forget a pack and its blobs."""
        with self._lock, self._tx():
            pid = self._pid(pack_id)
            if pid is not None:
                self.db.execute("DELETE FROM blobs WHERE pid = ?", (pid,))
                self.db.execute("DELETE FROM packs WHERE pid = ?", (pid,))

    def sync(self, backend: Backend, cipher: Cipher) -> list[str]:
        """Merge index files added since the last sync and drop removed ones; return unreadable ones' names."""
        stored = {name[len(INDEX_PREFIX) :] for name in backend.list(INDEX_PREFIX)}
        known = self.packs()
        for gone in known - stored:
            self.remove_pack(gone)
        bad = []
        for pack_id in sorted(stored - known):
            try:
                self.add_pack(pack_id, open_index(cipher, pack_id, backend.get(index_name(pack_id))))
            except (IntegrityError, ObjectNotFound):
                bad.append(index_name(pack_id))
        return bad

    def set_marked(self, packs: set[str]) -> None:
        """Flag exactly ``packs`` as marked for deletion (their blobs are not offered for dedup)."""
        with self._lock:
            self._marked = {pid for p in packs if (pid := self._pid(p)) is not None}

    def lookup(self, blob_id: bytes, include_marked: bool = True) -> Location | None:
        """Return one location of ``blob_id`` (preferring unmarked packs), or None."""
        found = self.locations(blob_id, include_marked)
        return found[0] if found else None

    def locations(self, blob_id: bytes, include_marked: bool = True) -> list[Location]:
        """Return every location of ``blob_id``, unmarked packs first."""
        with self._reader() as conn:
            # Joined, so the pack name comes from the same read snapshot as the row (no per-pack query).
            rows = conn.execute(_LOCATIONS, (blob_id,)).fetchall()
        marked = self._marked
        rows.sort(key=lambda r: r[0] in marked)
        return [
            Location(pack, BlobEntry(blob_id, _TYPES[t], o, n, r))
            for pid, pack, t, o, n, r in rows
            if include_marked or pid not in marked
        ]

    def locations_many(self, blob_ids: Iterable[bytes]) -> dict[bytes, list[Location]]:
        """Return every location of each of ``blob_ids`` (unmarked packs first); unknown ids are left out.

        One query per 500 ids: what a restore uses to look up a batch of files' chunks at once.
        """
        ids = list(dict.fromkeys(blob_ids))
        rows = []
        with self._reader() as conn:
            for i in range(0, len(ids), _BATCH):
                part = ids[i : i + _BATCH]
                rows += conn.execute(_LOCATIONS_MANY + f"({','.join('?' * len(part))})", part).fetchall()
        marked = self._marked
        rows.sort(key=lambda r: r[1] in marked)  # stable: per id, unmarked packs first
        found: dict[bytes, list[Location]] = {}
        for blob_id, _, pack, t, o, n, r in rows:
            found.setdefault(blob_id, []).append(Location(pack, BlobEntry(blob_id, _TYPES[t], o, n, r)))
        return found

    def usable_packs(self, blob_ids: Iterable[bytes]) -> dict[bytes, str]:
        """Return, for each of ``blob_ids`` held by an unmarked pack, one such pack; absent ids are left out.

        One query per 500 ids: what a backup uses to take over a directory's unchanged files at once.
        """
        ids = list(dict.fromkeys(blob_ids))
        marked = self._marked
        found: dict[bytes, str] = {}
        with self._reader() as conn:
            for i in range(0, len(ids), _BATCH):
                part = ids[i : i + _BATCH]
                q = (
                    "SELECT b.id, b.pid, p.pack FROM blobs b JOIN packs p ON p.pid = b.pid "
                    f"WHERE b.id IN ({','.join('?' * len(part))})"
                )
                for blob_id, pid, pack in conn.execute(q, part).fetchall():
                    if pid not in marked:
                        found.setdefault(blob_id, pack)
        return found

    def contains_many(self, blob_ids: list[bytes]) -> set[bytes]:
        """Return which of ``blob_ids`` are indexed (any pack), 500 per query."""
        with self._lock:
            found: set[bytes] = set()
            for i in range(0, len(blob_ids), 500):
                part = blob_ids[i : i + 500]
                q = f"SELECT DISTINCT id FROM blobs WHERE id IN ({','.join('?' * len(part))})"
                found.update(r[0] for r in self.db.execute(q, part))
            return found

    def packs(self) -> set[str]:
        """Return the ids of all indexed packs."""
        with self._lock:
            return {r[0] for r in self.db.execute("SELECT pack FROM packs")}

    def pack_entries(self, pack_id: str) -> list[BlobEntry]:
        """Return the blobs of one pack, in offset order."""
        with self._lock:
            pid = self._pid(pack_id)
            rows = self.db.execute("SELECT id, type, off, len, raw FROM blobs WHERE pid = ? ORDER BY off", (pid,))
            return [BlobEntry(i, BlobType(t), o, n, r) for i, t, o, n, r in rows]

    def blob_count(self) -> int:
        """Return the number of (blob, pack) entries."""
        with self._lock:
            return self.db.execute("SELECT count(*) FROM blobs").fetchone()[0]

    def _tx(self) -> _Tx:
        return _Tx(self.db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
