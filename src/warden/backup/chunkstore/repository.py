"""``Repository``: init/open with a key-encryption key, key slots, sealed objects, blobs, snapshots, marks.

Objects in the backend::

    config              plaintext JSON (format version, repo id, chunker, pack size) + keyed MAC
    keys/<slot>         the master key wrapped by one KEK (password/argon2id, platform, customer)
    data/<pp>/<pack>    pack files (see packs.py)
    index/<pack>        one sealed index file per pack (see index.py)
    snapshots/<id>      sealed snapshot objects, written last (see snapshots.py)
    marks/<id>          sealed prune marks: packs to delete after the safety delay (see prune.py)

The operations (``backup``, ``restore``, ``check``, ``forget``, ``prune``) live in their own
modules and are exposed here as methods; they take progress callbacks so a CLI progress bar or a
job runner can report on them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import zstandard

from .backends import Backend
from .chunker import Chunker, ChunkerParams
from .crypto import Cipher, Kek, MasterKey, unwrap_master_key, wrap_master_key
from .errors import (
    BlobNotFound,
    ChunkStoreError,
    IntegrityError,
    ObjectNotFound,
    RepositoryExists,
    RepositoryNotFound,
    SnapshotNotFound,
    WrongKey,
)
from .index import IndexCache, Location
from .packs import DEFAULT_PACK_SIZE, open_blob, pack_name
from .snapshots import Retention, Snapshot

if TYPE_CHECKING:
    from .archiver import BackupProgress
    from .checker import CheckProgress, CheckResult
    from .prune import PruneProgress, PruneResult
    from .restorer import RestoreProgress, RestoreResult

FORMAT_VERSION = 1
_zc = zstandard.ZstdCompressor(level=3)
_zd = zstandard.ZstdDecompressor()


@dataclass(frozen=True)
class Mark:
    """A prune mark: packs found unreferenced at ``created``; deletable once the safety delay has passed."""

    name: str
    created: datetime
    packs: frozenset[str]


def _as_kek(key: Kek | str) -> Kek:
    return Kek.from_password(key) if isinstance(key, str) else key


class Repository:
    """An open repository. Use :meth:`init` or :meth:`open`; close it (or use ``with``) when done."""

    def __init__(
        self, backend: Backend, master: MasterKey, config: dict, cache_dir: str | os.PathLike[str] | None
    ) -> None:
        self.backend = backend
        self.cipher = Cipher(master)
        self._master = master
        self.config = config
        self.id: str = config["id"]
        self.chunker_params = ChunkerParams.from_json(config["chunker"])
        self.pack_size: int = config["packSize"]
        self._tmp_cache = cache_dir is None
        base = Path(cache_dir) if cache_dir is not None else Path(tempfile.mkdtemp(prefix="warden-backup-cache-"))
        self._cache_root = base
        self.index = IndexCache(base / self.id / "index.sqlite")
        self.marks_seen: dict[str, Mark] = {}

    # --- lifecycle --------------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        backend: Backend,
        key: Kek | str,
        *,
        chunker: ChunkerParams | None = None,
        pack_size: int = DEFAULT_PACK_SIZE,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> Repository:
        """Create a repository in an empty backend; ``key`` is a password or a KEK. Return it open.

        Raises RepositoryExists if the backend already holds a config.
        """
        if backend.exists("config"):
            raise RepositoryExists(f"{backend!r} already holds a repository")
        master = MasterKey.generate()
        config = {
            "version": FORMAT_VERSION,
            "id": secrets.token_hex(16),
            "chunker": (chunker or ChunkerParams()).to_json(),
            "packSize": pack_size,
            "compression": "zstd-3",
            "cipher": "aes-256-gcm",
            "ids": "blake3-keyed",
        }
        repo = cls(backend, master, config, cache_dir)
        repo.add_key(_as_kek(key))
        body = json.dumps(config, sort_keys=True)
        doc = {"config": config, "mac": repo.cipher.mac(body.encode()).hex()}
        backend.put("config", json.dumps(doc, sort_keys=True).encode())  # last: a repo exists once it has a key
        return repo

    @classmethod
    def open(cls, backend: Backend, key: Kek | str, *, cache_dir: str | os.PathLike[str] | None = None) -> Repository:
        """Open a repository with a password or KEK; return it with its index synced.

        Raises RepositoryNotFound, WrongKey (no slot opens with this key), IntegrityError (config altered).
        """
        try:
            doc = json.loads(backend.get("config"))
        except ObjectNotFound:
            raise RepositoryNotFound(f"no repository in {backend!r}") from None
        config = doc["config"]
        if config.get("version") != FORMAT_VERSION:
            raise ChunkStoreError(f"unsupported repository format {config.get('version')}")
        kek = _as_kek(key)
        master = None
        for name in sorted(backend.list("keys/")):
            try:
                master = unwrap_master_key(backend.get(name), kek, config["id"])
                break
            except (WrongKey, ObjectNotFound):
                continue
        if master is None:
            raise WrongKey("no key slot opens with the given password or key")
        repo = cls(backend, master, config, cache_dir)
        if repo.cipher.mac(json.dumps(config, sort_keys=True).encode()).hex() != doc["mac"]:
            repo.close()
            raise IntegrityError("repository config was altered")
        repo.refresh()
        return repo

    def close(self) -> None:
        """Close the local index cache (and delete it if it was a temporary one)."""
        self.index.close()
        close_backend = getattr(self.backend, "close", None)
        if close_backend is not None:
            close_backend()
        if self._tmp_cache:
            shutil.rmtree(self._cache_root, ignore_errors=True)

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def refresh(self) -> None:
        """Sync the local index with the repository's index files and re-read prune marks."""
        self.index.sync(self.backend, self.cipher)
        self.marks_seen = {m.name: m for m in self.marks()}
        self.index.set_marked(set().union(*(m.packs for m in self.marks_seen.values())))

    # --- keys -------------------------------------------------------------------------------------

    def add_key(self, key: Kek | str) -> str:
        """Wrap the master key under another KEK; return the new slot id. Data is untouched."""
        slot = secrets.token_hex(8)
        self.backend.put(f"keys/{slot}", wrap_master_key(self._master, _as_kek(key), self.id, slot))
        return slot

    def key_slots(self) -> list[dict[str, str]]:
        """Return the key slots as ``{"slot", "kind", "keyId"}`` (no secrets)."""
        out = []
        for name in sorted(self.backend.list("keys/")):
            doc = json.loads(self.backend.get(name))
            out.append({"slot": doc["slot"], "kind": doc["kind"], "keyId": doc["keyId"]})
        return out

    def remove_key(self, slot: str) -> None:
        """Delete a key slot; raise ChunkStoreError rather than remove the last one."""
        slots = {s["slot"] for s in self.key_slots()}
        if slot not in slots:
            raise ChunkStoreError(f"no key slot {slot}")
        if len(slots) == 1:
            raise ChunkStoreError("refusing to remove the last key slot")
        self.backend.delete(f"keys/{slot}")

    def rotate_key(self, old_slot: str, new_key: Kek | str) -> str:
        """Replace a KEK: add a slot for ``new_key`` (durable first), then delete ``old_slot``; return the new slot.

        Only the small key-slot objects change; no pack, index or snapshot is rewritten.
        """
        new_slot = self.add_key(new_key)
        self.remove_key(old_slot)
        return new_slot

    # --- sealed objects ---------------------------------------------------------------------------

    def put_object(self, name: str, payload: bytes) -> None:
        """Compress, seal (bound to ``name``) and store a small object."""
        self.backend.put(name, self.cipher.seal(_zc.compress(payload), name.encode()))

    def get_object(self, name: str) -> bytes:
        """Return a small object's payload; raise ObjectNotFound or IntegrityError."""
        return _zd.decompress(self.cipher.open(self.backend.get(name), name.encode()))

    # --- blobs ------------------------------------------------------------------------------------

    def load_blob(self, blob_id: bytes, locations: list[Location] | None = None) -> bytes:
        """Return a blob's plaintext, verified (decrypted and its keyed id recomputed).

        ``locations`` are the blob's index entries when the caller looked them up in a batch
        (``IndexCache.locations_many``); otherwise they are looked up here.
        Raises BlobNotFound (not indexed or pack gone) or IntegrityError (damaged).
        """
        if not locations:
            locations = self.index.locations(blob_id)
        if not locations:
            raise BlobNotFound(blob_id.hex())
        error: ChunkStoreError = BlobNotFound(blob_id.hex())
        for loc in locations:  # a copy elsewhere (another writer's, or a prune repack) is just as good
            try:
                sealed = self.backend.get_range(pack_name(loc.pack), loc.entry.offset, loc.entry.length)
                return open_blob(self.cipher, loc.entry, sealed)
            except ObjectNotFound:
                error = BlobNotFound(f"{blob_id.hex()} (pack {loc.pack} is missing)")
            except IntegrityError as exc:
                error = exc
        raise error

    def chunker(self) -> Chunker:
        """Return a chunker with this repository's parameters."""
        return Chunker(self.chunker_params)

    # --- snapshots and marks ----------------------------------------------------------------------

    def snapshot_ids(self) -> list[str]:
        """Return the ids of all snapshots."""
        return [n.split("/", 1)[1] for n in self.backend.list("snapshots/")]

    def load_snapshot(self, snapshot_id: str) -> Snapshot:
        """Return one snapshot; raise SnapshotNotFound or IntegrityError."""
        try:
            return Snapshot.from_bytes(snapshot_id, self.get_object(f"snapshots/{snapshot_id}"))
        except ObjectNotFound:
            raise SnapshotNotFound(snapshot_id) from None

    def snapshots(self) -> list[Snapshot]:
        """Return every snapshot, oldest first (snapshots deleted meanwhile are skipped)."""
        out = []
        for sid in self.snapshot_ids():
            try:
                out.append(self.load_snapshot(sid))
            except SnapshotNotFound:
                continue
        return sorted(out, key=lambda s: s.datetime)

    def find_snapshot(self, ref: str) -> Snapshot:
        """Return the snapshot named by a full id, a unique prefix or ``latest``; raise SnapshotNotFound."""
        if ref == "latest":
            snaps = self.snapshots()
            if not snaps:
                raise SnapshotNotFound("no snapshots")
            return snaps[-1]
        matches = [s for s in self.snapshot_ids() if s.startswith(ref)]
        if len(matches) != 1:
            raise SnapshotNotFound(f"{ref!r} matches {len(matches)} snapshots")
        return self.load_snapshot(matches[0])

    def write_snapshot(self, snapshot: Snapshot) -> str:
        """Store a snapshot object; return its id."""
        snapshot.id = secrets.token_hex(16)
        self.put_object(f"snapshots/{snapshot.id}", snapshot.to_bytes())
        return snapshot.id

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete one snapshot object (its data goes at the next prune); raise SnapshotNotFound."""
        if not self.backend.exists(f"snapshots/{snapshot_id}"):
            raise SnapshotNotFound(snapshot_id)
        self.backend.delete(f"snapshots/{snapshot_id}")

    def marks(self) -> list[Mark]:
        """Return the prune marks currently stored."""
        out = []
        for name in self.backend.list("marks/"):
            try:
                doc = json.loads(self.get_object(name))
            except ObjectNotFound:
                continue
            out.append(Mark(name, datetime.fromisoformat(doc["created"]), frozenset(doc["packs"])))
        return out

    def stats(self) -> dict[str, int]:
        """Return counts for a vault's usage view: snapshots, packs, indexed blobs and their stored bytes."""
        self.refresh()
        with self.index._lock:
            blobs, stored = self.index.db.execute("SELECT count(*), coalesce(sum(len), 0) FROM blobs").fetchone()
        return {
            "snapshots": len(self.snapshot_ids()),
            "packs": len(self.index.packs()),
            "blobs": blobs,
            "storedBytes": stored,
        }

    # --- operations -------------------------------------------------------------------------------

    def backup(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        tags: Iterable[str] = (),
        hostname: str | None = None,
        progress: Callable[[BackupProgress], None] | None = None,
        parent: str | None = "auto",
    ) -> Snapshot:
        """Back up ``paths``; return the committed snapshot. See archiver.run_backup.

        ``progress`` is called after each file; if it raises (e.g. a job runner cancelling), the backup
        stops, the exception propagates and no snapshot is written (uploaded packs are reclaimed by prune).
        """
        from .archiver import run_backup

        host = hostname or socket.gethostname()
        return run_backup(self, [Path(p) for p in paths], list(tags), host, progress, parent)

    def restore(
        self,
        snapshot: str | Snapshot,
        target: str | os.PathLike[str],
        *,
        include: Iterable[str] | None = None,
        progress: Callable[[RestoreProgress], None] | None = None,
    ) -> RestoreResult:
        """Restore a snapshot (or the ``include``d paths of it) under ``target``. See restorer.run_restore."""
        from .restorer import run_restore

        snap = snapshot if isinstance(snapshot, Snapshot) else self.find_snapshot(snapshot)
        return run_restore(self, snap, Path(target), include, progress)

    def check(self, *, read_data: bool = False, progress: Callable[[CheckProgress], None] | None = None) -> CheckResult:
        """Check structure (and with ``read_data`` every blob); return a CheckResult. See checker.run_check."""
        from .checker import run_check

        return run_check(self, read_data, progress)

    def forget(self, retention: Retention, *, dry_run: bool = False) -> list[Snapshot]:
        """Delete the snapshots ``retention`` does not keep; return them. Data goes at the next prune."""
        from .prune import run_forget

        return run_forget(self, retention, dry_run)

    def prune(
        self,
        *,
        safety_delay: float = 24 * 3600,
        repack_threshold: float | None = 0.5,
        now: datetime | None = None,
        progress: Callable[[PruneProgress], None] | None = None,
    ) -> PruneResult:
        """Two-phase, lock-free garbage collection; return what was marked and deleted. See prune.run_prune."""
        from .prune import run_prune

        return run_prune(self, safety_delay, repack_threshold, now, progress)
