"""One conformance class every repository backend passes (DESIGN.md §6).

A new backend (S3, the Warden HTTPS vault endpoint) adds a subclass of ``BackendConformance`` with a
``backend`` fixture returning a fresh, empty backend; every test below then runs against it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from warden.backup.chunkstore import Backend, InvalidObjectName, LocalBackend, ObjectNotFound


class BackendConformance:
    """The behaviour the chunk store relies on. Subclasses provide the ``backend`` fixture."""

    def test_is_a_backend(self, backend: Backend) -> None:
        assert isinstance(backend, Backend)

    def test_put_then_get_returns_the_bytes(self, backend: Backend) -> None:
        backend.put("data/ab/abcdef", b"hello")
        assert backend.get("data/ab/abcdef") == b"hello"
        assert backend.exists("data/ab/abcdef")

    def test_empty_and_large_objects(self, backend: Backend) -> None:
        big = os.urandom(5 * 1024 * 1024 + 3)
        backend.put("empty", b"")
        backend.put("big", memoryview(big))
        assert backend.get("empty") == b""
        assert backend.get("big") == big

    def test_put_replaces_whole_object(self, backend: Backend) -> None:
        backend.put("config", b"a" * 1000)
        backend.put("config", b"short")
        assert backend.get("config") == b"short"

    def test_missing_object_raises_object_not_found(self, backend: Backend) -> None:
        with pytest.raises(ObjectNotFound):
            backend.get("snapshots/none")
        with pytest.raises(ObjectNotFound):
            backend.get_range("snapshots/none", 0, 1)
        assert not backend.exists("snapshots/none")

    def test_get_range(self, backend: Backend) -> None:
        backend.put("index/x", bytes(range(256)))
        assert backend.get_range("index/x", 10, 5) == bytes(range(10, 15))
        assert backend.get_range("index/x", 250, 100) == bytes(range(250, 256))  # short only at the end
        assert backend.get_range("index/x", 300, 10) == b""
        assert backend.get_range("index/x", 0, 0) == b""

    def test_list_by_prefix(self, backend: Backend) -> None:
        names = ["data/00/00aa", "data/01/01bb", "index/00aa", "snapshots/s1", "config"]
        for n in names:
            backend.put(n, n.encode())
        assert sorted(backend.list("data/")) == ["data/00/00aa", "data/01/01bb"]
        assert sorted(backend.list("data/01")) == ["data/01/01bb"]
        assert sorted(backend.list("snap")) == ["snapshots/s1"]
        assert sorted(backend.list("")) == sorted(names)
        assert list(backend.list("marks/")) == []

    def test_delete_is_idempotent(self, backend: Backend) -> None:
        backend.put("marks/m1", b"x")
        backend.delete("marks/m1")
        backend.delete("marks/m1")
        assert not backend.exists("marks/m1")
        assert list(backend.list("marks/")) == []

    def test_range_reads_of_a_deleted_pack_fail(self, backend: Backend) -> None:
        backend.put("data/ab/abff", b"0123456789")
        assert backend.get_range("data/ab/abff", 2, 3) == b"234"  # may leave a cached descriptor behind
        backend.delete("data/ab/abff")
        with pytest.raises(ObjectNotFound):
            backend.get_range("data/ab/abff", 2, 3)

    @pytest.mark.parametrize("name", ["", "/abs", "a/../b", "..", "a//b", "a/", "sp ace", "tmp/../config", "é"])
    def test_unsafe_names_are_rejected(self, backend: Backend, name: str) -> None:
        with pytest.raises(InvalidObjectName):
            backend.put(name, b"x")

    def test_concurrent_puts_of_distinct_objects(self, backend: Backend) -> None:
        payloads = {f"data/{i:02x}/{i:02x}pack": os.urandom(100_000) for i in range(16)}
        threads = [threading.Thread(target=backend.put, args=item) for item in payloads.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(backend.list("data/")) == sorted(payloads)
        assert all(backend.get(n) == p for n, p in payloads.items())

    def test_readers_never_see_a_partial_object(self, backend: Backend) -> None:
        old, new = b"o" * 3_000_000, b"n" * 3_000_000
        backend.put("obj", old)
        seen: set[bytes] = set()
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                seen.add(backend.get("obj")[::100_000])

        reader = threading.Thread(target=read)
        reader.start()
        for _ in range(10):
            backend.put("obj", new)
            backend.put("obj", old)
        stop.set()
        reader.join()
        assert seen <= {old[::100_000], new[::100_000]}


class TestLocalBackend(BackendConformance):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        return LocalBackend(tmp_path / "repo")

    def test_leftover_temp_files_are_invisible_and_cleanable(self, tmp_path: Path) -> None:
        backend = LocalBackend(tmp_path / "repo")
        (tmp_path / "repo" / "tmp" / "crashed.tmp").write_bytes(b"half a pack")
        backend.put("config", b"c")
        assert list(backend.list("")) == ["config"]
        with pytest.raises(ObjectNotFound):
            backend.get("tmp/crashed.tmp")
        assert backend.clean_temp(older_than=-1) == 1
        assert os.listdir(tmp_path / "repo" / "tmp") == []

    def test_objects_are_files_under_the_root(self, tmp_path: Path) -> None:
        backend = LocalBackend(tmp_path / "repo")
        backend.put("data/ab/abcd", b"pack")
        assert (tmp_path / "repo" / "data" / "ab" / "abcd").read_bytes() == b"pack"
