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

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .backends import Backend
from .crypto import Cipher
from .errors import IntegrityError, ObjectNotFound
from .packs import BlobEntry, BlobType, parse_entries

INDEX_PREFIX = "index/"


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
    """SQLite-backed merged index. Safe for several processes sharing one file (WAL, busy timeout)."""

    def __init__(self, path: str | Path, cache_kib: int = 16 * 1024) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # bounded memory, whatever the size
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS packs (pack TEXT PRIMARY KEY, marked INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS blobs (
                id BLOB NOT NULL, pack TEXT NOT NULL, type INTEGER NOT NULL, off INTEGER NOT NULL,
                len INTEGER NOT NULL, raw INTEGER NOT NULL, PRIMARY KEY (id, pack)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS blobs_pack ON blobs (pack);
            """
        )

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def add_pack(self, pack_id: str, entries: Iterable[BlobEntry]) -> None:
        """Record a pack and its blobs (idempotent)."""
        with self._tx():
            self.db.execute("INSERT OR IGNORE INTO packs (pack) VALUES (?)", (pack_id,))
            self.db.executemany(
                "INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?, ?)",
                ((e.id, pack_id, int(e.type), e.offset, e.length, e.raw_length) for e in entries),
            )

    def remove_pack(self, pack_id: str) -> None:
        """Forget a pack and its blobs."""
        with self._tx():
            self.db.execute("DELETE FROM blobs WHERE pack = ?", (pack_id,))
            self.db.execute("DELETE FROM packs WHERE pack = ?", (pack_id,))

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
        with self._tx():
            self.db.execute("UPDATE packs SET marked = 0 WHERE marked = 1")
            self.db.executemany("UPDATE packs SET marked = 1 WHERE pack = ?", ((p,) for p in packs))

    def lookup(self, blob_id: bytes, include_marked: bool = True) -> Location | None:
        """Return one location of ``blob_id`` (preferring unmarked packs), or None."""
        row = self.db.execute(
            "SELECT b.pack, b.type, b.off, b.len, b.raw FROM blobs b JOIN packs p ON p.pack = b.pack "
            "WHERE b.id = ? AND (? OR p.marked = 0) ORDER BY p.marked LIMIT 1",
            (blob_id, include_marked),
        ).fetchone()
        if row is None:
            return None
        return Location(row[0], BlobEntry(blob_id, BlobType(row[1]), row[2], row[3], row[4]))

    def packs(self) -> set[str]:
        """Return the ids of all indexed packs."""
        return {r[0] for r in self.db.execute("SELECT pack FROM packs")}

    def pack_entries(self, pack_id: str) -> list[BlobEntry]:
        """Return the blobs of one pack, in offset order."""
        rows = self.db.execute("SELECT id, type, off, len, raw FROM blobs WHERE pack = ? ORDER BY off", (pack_id,))
        return [BlobEntry(i, BlobType(t), o, n, r) for i, t, o, n, r in rows]

    def blob_count(self) -> int:
        """Return the number of (blob, pack) entries."""
        return self.db.execute("SELECT count(*) FROM blobs").fetchone()[0]

    def iter_blobs(self) -> Iterator[tuple[bytes, str]]:
        """Yield (blob id, pack id) for every entry, in blob id order."""
        yield from self.db.execute("SELECT id, pack FROM blobs ORDER BY id")

    def _tx(self) -> _Tx:
        return _Tx(self.db)


class _Tx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
