"""``run_restore``: write a snapshot's files back, verifying every chunk, with modes, times and symlinks.

Every chunk is decrypted and its keyed id recomputed (``Repository.load_blob``) before it is
written. All-zero chunks are skipped with a seek, so sparse files stay sparse. A file whose data
cannot be read is removed and listed; every other file is still restored, and then RestoreError
is raised naming the failures. Directory modes and times are set after their children, so a
read-only directory is still filled. Ownership is restored only when running as root.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BlobNotFound, IntegrityError, RestoreError
from .snapshots import Node, Snapshot, decode_tree

if TYPE_CHECKING:
    from .index import Location
    from .repository import Repository

# Files restored at once: overlaps file-system waits with decoding. One per core, not more: on ext4
# with 2 cores, 8 workers spent 2-3x the kernel time of 2 (contending for the directory's lock and the
# inode allocator), and restoring the kernel tree took 20-25 s instead of 12-14 s.
WORKERS = min(8, max(2, os.cpu_count() or 2))
LOOKUP_BATCH = 4096  # chunks (of whole files) located by one index query; bounds the memory of a batch
JOB_FILES, JOB_BYTES = 32, 1 << 20  # small files go to a worker in groups: one hand-off per file cost ~20% CPU


@dataclass
class RestoreProgress:
    """Running totals passed to the progress callback after each file."""

    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    bytes_written: int = 0
    path: str = ""


@dataclass
class RestoreResult:
    """What was restored, and the paths that failed (empty on success)."""

    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    bytes_written: int = 0
    errors: list[str] = field(default_factory=list)


class _Restore:
    def __init__(self, repo: Repository, include: list[str] | None, progress: Callable[[RestoreProgress], None] | None):
        self.repo = repo
        self.include = include
        self.callback = progress
        self.p = RestoreProgress()
        self.errors: list[str] = []
        self.as_root = os.geteuid() == 0
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="restore")
        self.slots = threading.BoundedSemaphore(WORKERS * 16)
        self.dirs: list[tuple[Node, Path]] = []  # pre-order: parents before children
        self.lock = threading.Lock()

    def wanted(self, rel: str) -> tuple[bool, bool]:
        """Return (restore this entry entirely, descend into it because something below is included)."""
        if self.include is None:
            return True, True
        whole = any(rel == i or rel.startswith(i + "/") for i in self.include)
        below = any(i.startswith(rel + "/") for i in self.include)
        return whole, whole or below

    def tree(self, tree_id: str, target: Path, rel: str) -> None:
        try:
            nodes = decode_tree(self.repo.load_blob(bytes.fromhex(tree_id)))
        except (BlobNotFound, IntegrityError) as exc:
            self.errors.append(f"{rel or '/'}: directory listing unreadable: {exc}")
            return
        # Files are written by worker threads (file creation is slow on many file systems, and it,
        # decryption and decompression release the GIL); the walk goes on meanwhile, so small
        # directories overlap too. Directory modes and times are applied after every file is done.
        # The chunks of a batch of files are located in one index query here, rather than one query
        # per chunk in the workers (a per-chunk query was ~30% of restore time).
        files: list[tuple[Node, Path, str]] = []
        chunks = 0
        for node in nodes:
            node_rel = f"{rel}/{node.name}" if rel else node.name
            whole, descend = self.wanted(node_rel)
            if node.type == "dir" and descend:
                self.directory(node, target / node.name, node_rel, whole)
            elif whole and node.type == "file":
                files.append((node, target / node.name, node_rel))
                chunks += len(node.content)
                if chunks >= LOOKUP_BATCH:
                    self.submit_files(files)
                    files, chunks = [], 0
            elif whole and node.type == "symlink":
                self.symlink(node, target / node.name)
        self.submit_files(files)

    def submit_files(self, files: list[tuple[Node, Path, str]]) -> None:
        if not files:
            return
        where = self.repo.index.locations_many(bytes.fromhex(b) for node, _, _ in files for b in node.content)
        job: list[tuple[Node, Path, str]] = []
        size = 0
        for item in files:
            job.append(item)
            size += item[0].size
            if len(job) >= JOB_FILES or size >= JOB_BYTES:
                self.submit_job(job, where)
                job, size = [], 0
        if job:
            self.submit_job(job, where)

    def submit_job(self, job: list[tuple[Node, Path, str]], where: dict[bytes, list[Location]]) -> None:
        self.slots.acquire()  # bounds queued work (memory) however many files there are
        self.pool.submit(self.files_job, job, where)

    def files_job(self, job: list[tuple[Node, Path, str]], where: dict[bytes, list[Location]]) -> None:
        try:
            for node, path, rel in job:
                try:
                    self.file(node, path, rel, where)
                except OSError as exc:
                    self.errors.append(f"{rel}: {exc}")
        finally:
            self.slots.release()

    def directory(self, node: Node, path: Path, rel: str, whole: bool) -> None:
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o700)  # writable while we fill it; the real mode is set afterwards
        if node.subtree:
            self.tree(node.subtree, path, rel)
        self.p.dirs += 1
        self.dirs.append((node, path))  # metadata once all files are written (see run_restore)

    def file(self, node: Node, path: Path, rel: str, where: dict[bytes, list[Location]]) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            fd = os.open(path, flags, 0o600)  # the common case, a fresh target: no stat calls
        except FileExistsError:
            path.unlink()  # replace whatever is there (never write through a symlink)
            fd = os.open(path, flags, 0o600)
        try:
            pos = 0
            hole_at_end = False
            for hex_id in node.content:
                blob_id = bytes.fromhex(hex_id)
                data = self.repo.load_blob(blob_id, where.get(blob_id))
                hole_at_end = data[:1] == b"\0" and data[-1:] == b"\0" and data == bytes(len(data))
                if not hole_at_end:  # all-zero chunks are left as holes
                    os.pwrite(fd, data, pos)
                pos += len(data)
            if hole_at_end:
                os.ftruncate(fd, pos)  # the file is fresh: only a trailing hole leaves it short
            # Through the descriptor, not the path: three path lookups per file were ~10% of a restore.
            self.file_metadata(node, fd)
        except (BlobNotFound, IntegrityError) as exc:
            os.close(fd)
            path.unlink(missing_ok=True)  # never leave a silently wrong file behind
            self.errors.append(f"{rel}: {exc}")
            return
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        with self.lock:
            self.p.files += 1
            self.p.bytes_written += pos
            self.p.path = rel
            if self.callback:
                self.callback(self.p)

    def symlink(self, node: Node, path: Path) -> None:
        if path.is_symlink() or path.is_file():
            path.unlink()
        os.symlink(os.fsencode(node.target or ""), path)
        self.p.symlinks += 1
        if self.as_root:
            os.lchown(path, node.uid, node.gid)
        os.utime(path, ns=(node.mtime_ns, node.mtime_ns), follow_symlinks=False)

    def file_metadata(self, node: Node, fd: int) -> None:
        """Owner (as root), mode and times of a restored file, set through its open descriptor after
        its last write (a write would move the mtime again)."""
        if self.as_root:
            os.fchown(fd, node.uid, node.gid)
        os.fchmod(fd, node.mode)  # after chown, which clears set-id bits
        os.utime(fd, ns=(node.mtime_ns, node.mtime_ns))

    def metadata(self, node: Node, path: Path) -> None:
        if self.as_root:
            os.chown(path, node.uid, node.gid)
        os.chmod(path, node.mode)
        os.utime(path, ns=(node.mtime_ns, node.mtime_ns))


def run_restore(
    repo: Repository,
    snapshot: Snapshot,
    target: Path,
    include: Iterable[str] | None,
    progress: Callable[[RestoreProgress], None] | None,
) -> RestoreResult:
    """Restore ``snapshot`` under ``target`` (created if missing); return the counts.

    ``include`` limits the restore to snapshot-relative paths (``"<base name>/sub/file"``) and what is
    below them. Raises RestoreError after restoring everything else if any file could not be restored.
    """
    repo.refresh()  # another client may have pruned or repacked since this one synced
    target.mkdir(parents=True, exist_ok=True)
    inc = None if include is None else [i.strip("/") for i in include]
    run = _Restore(repo, inc, progress)
    try:
        run.tree(snapshot.tree, target, "")
    finally:
        run.pool.shutdown(wait=True)
    for node, path in reversed(run.dirs):  # children before parents, so parent mtimes stick
        run.metadata(node, path)
    if run.errors:
        raise RestoreError(run.errors)
    p = run.p
    return RestoreResult(p.files, p.dirs, p.symlinks, p.bytes_written, [])
