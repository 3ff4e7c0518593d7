"""Fixtures for the chunk store tests: fast argon2 parameters, repositories on real directories,
and a tree description that compares content and metadata."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from warden.backup.chunkstore import Argon2Params, Kek, LocalBackend, Repository

# argon2id at 8 MiB / t=1 keeps tests fast; the defaults (64 MiB, t=3, p=4) are for real use.
FAST = Argon2Params(time_cost=1, memory_kib=8 * 1024, parallelism=1)
SMALL_PACK = 256 * 1024  # several packs even for small test trees


def _password(pw: str = "correct horse") -> Kek:
    return Kek.from_password(pw, FAST)


@pytest.fixture
def password() -> Callable[..., Kek]:
    """Return ``password(pw="correct horse")`` → a password KEK with test-speed argon2 parameters."""
    return _password


@pytest.fixture
def make_repo(tmp_path: Path) -> Iterator[Callable[..., Repository]]:
    """Return a factory: ``make_repo(name="repo", **init_kwargs)`` → an initialized open Repository."""
    opened: list[Repository] = []

    def make(name: str = "repo", key: Kek | None = None, **kwargs: object) -> Repository:
        kwargs.setdefault("pack_size", SMALL_PACK)
        repo = Repository.init(LocalBackend(tmp_path / name), key or _password(), **kwargs)  # type: ignore[arg-type]
        opened.append(repo)
        return repo

    yield make
    for repo in opened:
        repo.close()


@pytest.fixture
def describe() -> Callable[[Path], dict[str, tuple]]:
    """Return :func:`describe_tree`."""
    return describe_tree


def describe_tree(root: Path) -> dict[str, tuple]:
    """Return {relative path: (kind, mode, mtime_ns, size, sha256 or link target)} for a tree.

    The root directory itself is included as ``"."``. Directory sizes are not compared (filesystem noise).
    """
    out: dict[str, tuple] = {}

    def entry(path: Path) -> tuple:
        st = os.lstat(path)
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            return ("link", st.st_mtime_ns, os.readlink(path))
        if stat.S_ISDIR(st.st_mode):
            return ("dir", mode, st.st_mtime_ns)
        return ("file", mode, st.st_mtime_ns, st.st_size, hashlib.sha256(path.read_bytes()).hexdigest())

    out["."] = entry(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            out[os.fsdecode(p.relative_to(root))] = entry(p)
    return out
