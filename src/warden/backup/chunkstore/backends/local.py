"""``LocalBackend``: a repository in a local directory (the embedded default).

Writes go to ``<root>/tmp/<random>``, are fsynced, renamed into place and the directory fsynced,
so an object is either absent or complete and durable, even across ``kill -9`` or power loss.
Leftover temp files from a crash are never listed; :meth:`LocalBackend.clean_temp` removes old ones.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import ObjectNotFound
from . import check_name

TEMP_DIR = "tmp"


class LocalBackend:
    """Objects as files under ``root``; ``root`` is created if missing."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        (self.root / TEMP_DIR).mkdir(parents=True, exist_ok=True)
        self._fds: dict[str, int] = {}  # small LRU of read descriptors for packs
        self._fd_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.root)!r})"

    def _path(self, name: str) -> Path:
        check_name(name)
        if name.split("/")[0] == TEMP_DIR:
            raise ObjectNotFound(name)  # the temp area is not part of the object namespace
        return self.root / name

    def put(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Write to a temp file, fsync, rename over ``name``, fsync the directory; see Backend.put."""
        path = self._path(name)
        tmp = self.root / TEMP_DIR / f"{secrets.token_hex(12)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, path)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the rename itself must survive a crash
        finally:
            os.close(dfd)

    def get(self, name: str) -> bytes:
        """Return the object's bytes; raise ObjectNotFound."""
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(name) from None

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset``; raise ObjectNotFound."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        if name.startswith("data/"):
            # Packs are content-addressed and never rewritten, so an open descriptor stays valid; restores
            # read many blobs per pack and one open() per blob was a third of restore time.
            with self._fd_lock:
                fd = self._fds.pop(name, None)
                if fd is None:
                    fd = self._open(name)
                self._fds[name] = fd  # most recently used last
                while len(self._fds) > 32:
                    os.close(self._fds.pop(next(iter(self._fds))))
                return os.pread(fd, length, offset)
        fd = self._open(name)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)

    def _open(self, name: str) -> int:
        try:
            fd = os.open(self._path(name), os.O_RDONLY)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(name) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ObjectNotFound(name)
        return fd

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield object names starting with ``prefix`` (temp files excluded)."""
        top = prefix.split("/")[0] if "/" in prefix else ""
        start = self.root / top if top else self.root
        if top == TEMP_DIR or not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            rel = os.path.relpath(dirpath, self.root)
            if rel == ".":
                dirnames[:] = [d for d in dirnames if d != TEMP_DIR]
            for f in filenames:
                name = f if rel == "." else f"{rel}/{f}".replace(os.sep, "/")
                if name.startswith(prefix):
                    yield name

    def delete(self, name: str) -> None:
        """Remove ``name`` if present (idempotent)."""
        with self._fd_lock:
            fd = self._fds.pop(name, None)
            if fd is not None:
                os.close(fd)
        self._path(name).unlink(missing_ok=True)

    def close(self) -> None:
        """Close cached pack descriptors (they are reopened on demand)."""
        with self._fd_lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def exists(self, name: str) -> bool:
        """Return whether ``name`` is a stored object."""
        return self._path(name).is_file()

    def clean_temp(self, older_than: float = 24 * 3600) -> int:
        """Remove temp files left by crashed writers older than ``older_than`` seconds; return the count."""
        removed = 0
        cutoff = time.time() - older_than
        for entry in os.scandir(self.root / TEMP_DIR):
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                pass
        return removed
