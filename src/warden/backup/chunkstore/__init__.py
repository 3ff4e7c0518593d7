"""The backup chunk store: a pure library for encrypted, deduplicated, concurrent-safe repositories.

It knows nothing of HTTP, settings or Warden's services (principle 3 of DESIGN.md): it takes a
``Backend`` and keys and returns values. The vault service, jobs and CLI sit on top of
``Repository``. Typical use::

    repo = Repository.init(LocalBackend("/srv/repo"), "password")      # or Kek.from_bytes(...)
    snap = repo.backup(["/etc"], progress=print)                        # -> Snapshot (snap.id)
    repo.restore(snap.id, "/tmp/out")                                   # verifies every chunk
    assert repo.check(read_data=True).ok
    repo.forget(Retention(daily=7)); repo.prune(safety_delay=24 * 3600)

Module map: chunker (FastCDC), crypto (keys, ids, AEAD), packs, index, snapshots, writer,
repository, archiver (backup), restorer, checker, prune, backends (protocol + local).
"""

from .archiver import BackupProgress
from .backends import Backend
from .backends.local import LocalBackend
from .checker import CheckProgress, CheckResult
from .chunker import ChunkerParams
from .crypto import Argon2Params, Kek
from .errors import (
    BackupError,
    BlobNotFound,
    ChunkStoreError,
    IntegrityError,
    InvalidObjectName,
    ObjectNotFound,
    RepositoryExists,
    RepositoryNotFound,
    RestoreError,
    SnapshotNotFound,
    WrongKey,
)
from .prune import PruneProgress, PruneResult
from .repository import Mark, Repository
from .restorer import RestoreProgress, RestoreResult
from .snapshots import Node, Retention, Snapshot

__all__ = [
    "Argon2Params",
    "Backend",
    "BackupError",
    "BackupProgress",
    "BlobNotFound",
    "CheckProgress",
    "CheckResult",
    "ChunkStoreError",
    "ChunkerParams",
    "IntegrityError",
    "InvalidObjectName",
    "Kek",
    "LocalBackend",
    "Mark",
    "Node",
    "ObjectNotFound",
    "PruneProgress",
    "PruneResult",
    "Repository",
    "RepositoryExists",
    "RepositoryNotFound",
    "RestoreError",
    "RestoreProgress",
    "RestoreResult",
    "Retention",
    "Snapshot",
    "SnapshotNotFound",
    "WrongKey",
]
