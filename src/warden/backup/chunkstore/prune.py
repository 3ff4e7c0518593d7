"""``run_forget`` and ``run_prune``: retention and lock-free, two-phase garbage collection.

Prune never takes a lock and never blocks a backup. Each run does two things:

* **Delete phase.** For every mark older than ``safety_delay``: re-read all snapshots *now* and
  delete a marked pack only if none of its blobs is referenced, or each referenced blob is also in
  a pack that is not marked. Packs that became referenced again (a backup that started before the
  mark committed a snapshot re-using them) are kept. The pack's index file goes first, then the
  pack, then the mark, so a crash leaves at worst an orphan pack, never an index entry without data.
* **Mark phase.** Packs holding no referenced blob, and packs with no index file (left by a crashed
  backup, or being written right now), are listed in a new mark object ``marks/<id>`` with the
  current time. With ``repack_threshold``, packs whose unreferenced share of bytes is at least that
  fraction have their live blobs copied into new packs first and are then marked too.

Why this is safe with backups running (see archiver.py for the backup's side): a backup that
starts after a mark ignores marked packs for dedup; a backup that was running when the mark was
written notices the new mark before committing and copies the packs it depends on out of it.
So a marked pack is only needed by snapshots that exist by the time it is deleted, and the delete
phase re-checks exactly those. The safety delay (default 24 h, longer than any backup) is what
keeps a marked pack readable for that copy; a backup that outlives it fails without a snapshot.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .errors import ChunkStoreError
from .index import index_name
from .packs import open_blob, pack_name
from .snapshots import Retention, Snapshot, decode_tree
from .writer import BlobWriter

if TYPE_CHECKING:
    from .repository import Repository


@dataclass
class PruneProgress:
    """Which phase prune is in and how far."""

    phase: str = ""
    done: int = 0
    total: int = 0


@dataclass
class PruneResult:
    """Packs newly marked, deleted (with their bytes), kept from a due mark, and repacked."""

    marked: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    repacked: list[str] = field(default_factory=list)
    bytes_deleted: int = 0


def run_forget(repo: Repository, retention: Retention, dry_run: bool) -> list[Snapshot]:
    """Delete the snapshots ``retention`` does not keep; return them (newest first).

    Raises ChunkStoreError for a retention that keeps nothing (use explicit deletes for that).
    """
    if not any((retention.last, retention.daily, retention.weekly, retention.monthly, retention.yearly)):
        raise ChunkStoreError("a retention policy must keep at least one snapshot")
    _, remove = retention.select(repo.snapshots())
    if not dry_run:
        for snap in remove:
            repo.backend.delete(f"snapshots/{snap.id}")
    return remove


class _Refs:
    """Referenced blob ids in an on-disk temporary SQLite table (bounded memory)."""

    def __init__(self, repo: Repository) -> None:
        self.db = sqlite3.connect("")  # anonymous database: spills to a temp file when large
        self.db.execute("CREATE TABLE ref (id BLOB PRIMARY KEY) WITHOUT ROWID")
        for snap in repo.snapshots():
            self._walk(repo, snap.tree)

    def _walk(self, repo: Repository, tree_id: str) -> None:
        if self.db.execute("INSERT OR IGNORE INTO ref VALUES (?)", (bytes.fromhex(tree_id),)).rowcount == 0:
            return  # this tree (and all below it) is already counted
        for node in decode_tree(repo.load_blob(bytes.fromhex(tree_id))):
            if node.content:
                self.db.executemany("INSERT OR IGNORE INTO ref VALUES (?)", ((bytes.fromhex(b),) for b in node.content))
            if node.subtree:
                self._walk(repo, node.subtree)

    def __contains__(self, blob_id: bytes) -> bool:
        return self.db.execute("SELECT 1 FROM ref WHERE id = ?", (blob_id,)).fetchone() is not None


def run_prune(
    repo: Repository,
    safety_delay: float,
    repack_threshold: float | None,
    now: datetime | None,
    progress: Callable[[PruneProgress], None] | None,
) -> PruneResult:
    """Delete packs marked at least ``safety_delay`` seconds ago that are still unneeded, then mark
    newly unreferenced packs; return a PruneResult. Snapshot reading errors propagate (nothing is
    deleted on a guess).
    """
    now = now or datetime.now(UTC)
    report = progress or (lambda _p: None)
    result = PruneResult()
    repo.refresh()
    refs = _Refs(repo)  # after refresh: snapshots listed now, index as of now
    marks = repo.marks()
    due = [m for m in marks if m.created + timedelta(seconds=safety_delay) <= now]
    waiting = set().union(*(m.packs for m in marks if m not in due))
    all_marked = set().union(*(m.packs for m in marks))
    indexed = repo.index.packs()

    prog = PruneProgress("delete", 0, sum(len(m.packs) for m in due))
    for mark in due:
        for pack in sorted(mark.packs):
            prog.done += 1
            report(prog)
            if pack in waiting:
                continue  # also in a younger mark: its delay decides
            needed = False
            for entry in repo.index.pack_entries(pack):
                if entry.id in refs:
                    loc = repo.index.lookup(entry.id, include_marked=False)
                    if loc is None or loc.pack in all_marked:
                        needed = True
                        break
            if needed:
                result.kept.append(pack)
                continue
            size = sum(e.length for e in repo.index.pack_entries(pack))  # blob bytes; orphans count 0
            repo.backend.delete(index_name(pack))
            repo.backend.delete(pack_name(pack))
            repo.index.remove_pack(pack)
            result.deleted.append(pack)
            result.bytes_deleted += size
        repo.backend.delete(mark.name)
    indexed = repo.index.packs()

    stored = {n.rsplit("/", 1)[1] for n in repo.backend.list("data/")}
    # Packs kept from a due mark are candidates again: they are re-marked if they become unreferenced.
    candidates = sorted((indexed | stored) - waiting - set(result.deleted))
    prog = PruneProgress("mark", 0, len(candidates))
    to_mark: list[str] = []
    writer = BlobWriter(repo.backend, repo.cipher, repo.index, repo.pack_size)
    for pack in candidates:
        prog.done += 1
        report(prog)
        if pack not in indexed:
            to_mark.append(pack)  # orphan: no index file (crashed or in-flight backup)
            continue
        entries = repo.index.pack_entries(pack)
        live = [e for e in entries if e.id in refs]
        if not live:
            to_mark.append(pack)
            continue
        dead_bytes = sum(e.length for e in entries) - sum(e.length for e in live)
        total = sum(e.length for e in entries) or 1
        if repack_threshold is not None and dead_bytes / total >= repack_threshold:
            raw = repo.backend.get(pack_name(pack))
            for e in live:
                sealed = raw[e.offset : e.offset + e.length]
                open_blob(repo.cipher, e, sealed)  # never copy damage forward; IntegrityError stops prune
                writer.add_sealed(e.id, e.type, sealed, e.raw_length)
            result.repacked.append(pack)
            to_mark.append(pack)
    writer.flush()
    writer.close()
    if to_mark:
        name = f"marks/{secrets.token_hex(16)}"
        repo.put_object(name, json.dumps({"created": now.isoformat(), "packs": to_mark}).encode())
        result.marked = to_mark
    repo.refresh()
    return result
