"""One conformance class every repository backend passes (DESIGN.md §6).

A new backend (S3, the Warden HTTPS vault endpoint) adds a subclass of ``BackendConformance`` with a
``backend`` fixture returning a fresh, empty backend; every test below then runs against it.
Subclasses here: local directory, S3 (a moto S3 server over real HTTP); the HTTPS vault data
endpoint's subclass is in tests/e2e/test_backup_data_endpoint.py (it needs a running Warden server).
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from support.s3 import FaultyProxy, moto_s3, new_bucket_name, s3_backend_kwargs
from warden.backup.chunkstore import (
    Backend,
    InvalidObjectName,
    Kek,
    LocalBackend,
    ObjectNotFound,
    Repository,
    Retention,
)
from warden.backup.chunkstore.backends.s3 import S3Backend


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


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server for this module's tests; yields its URL."""
    with moto_s3() as endpoint:
        yield endpoint


class TestS3Backend(BackendConformance):
    @pytest.fixture
    def backend(self, s3_endpoint: str) -> Iterator[Backend]:
        # 5 MiB parts (S3's minimum) so the 5 MiB + 3 object above goes up as a two-part multipart upload.
        backend = S3Backend(
            new_bucket_name(),
            "repos/r1",
            multipart_threshold=5 * 1024 * 1024,
            part_size=5 * 1024 * 1024,
            **s3_backend_kwargs(s3_endpoint),
        )
        backend.create_bucket()
        yield backend
        backend.close()

    def test_objects_live_under_the_prefix_and_other_prefixes_are_invisible(self, s3_endpoint: str) -> None:
        bucket = new_bucket_name()
        one = S3Backend(bucket, "one", **s3_backend_kwargs(s3_endpoint))
        two = S3Backend(bucket, "two/nested", **s3_backend_kwargs(s3_endpoint))
        one.create_bucket()
        one.put("config", b"1")
        two.put("config", b"2")
        keys = sorted(o["Key"] for o in one.client.list_objects_v2(Bucket=bucket)["Contents"])
        assert keys == ["one/config", "two/nested/config"]
        assert list(one.list("")) == ["config"] and one.get("config") == b"1"
        assert list(two.list("")) == ["config"] and two.get("config") == b"2"

    def test_list_follows_continuation_pages(self, s3_endpoint: str) -> None:
        backend = S3Backend(new_bucket_name(), "p", list_page_size=7, **s3_backend_kwargs(s3_endpoint))
        backend.create_bucket()
        names = {f"index/{i:04x}" for i in range(30)}  # five pages of 7 (the last one short)
        for n in names:
            backend.put(n, b"")
        backend.put("keys/k", b"")
        assert set(backend.list("index/")) == names
        assert len(list(backend.list(""))) == 31

    def test_create_only_if_absent(self, s3_endpoint: str) -> None:
        backend = S3Backend(new_bucket_name(), **s3_backend_kwargs(s3_endpoint))
        backend.create_bucket()
        assert backend.create("config", b"first") is True
        assert backend.create("config", b"second") is False
        assert backend.get("config") == b"first"

    def test_a_failed_multipart_upload_is_aborted_and_leaves_nothing(self, s3_endpoint: str) -> None:
        # Part 2 always fails with a 500: botocore retries it, then the backend aborts the upload.
        def fault(method: str, path: str, attempt: int) -> int | None:
            return 500 if method == "PUT" and "partNumber=2" in path else None

        with FaultyProxy(s3_endpoint, fault) as proxy:
            backend = S3Backend(
                new_bucket_name(),
                multipart_threshold=5 * 1024 * 1024,
                part_size=5 * 1024 * 1024,
                max_attempts=3,
                **s3_backend_kwargs(proxy.endpoint),
            )
            backend.create_bucket()
            with pytest.raises(ClientError):
                backend.put("data/aa/aabb", os.urandom(11 * 1024 * 1024))
            part2 = [s for m, p, s in proxy.seen if m == "PUT" and "partNumber=2" in p]
            assert part2 == [500, 500, 500]  # three attempts, then give up
            assert any(m == "DELETE" and "uploadId=" in p for m, p, _ in proxy.seen)  # aborted
            assert not backend.exists("data/aa/aabb")
            assert backend.client.list_multipart_uploads(Bucket=backend.bucket).get("Uploads", []) == []

    def test_throttling_and_server_errors_are_retried(self, s3_endpoint: str) -> None:
        # The first two attempts of every request get 503 SlowDown / 500; the third goes through.
        def fault(method: str, path: str, attempt: int) -> int | None:
            return {1: 503, 2: 500}.get(attempt) if "/objects/" in path else None

        with FaultyProxy(s3_endpoint, fault) as proxy:
            backend = S3Backend(new_bucket_name(), "objects", **s3_backend_kwargs(proxy.endpoint))
            backend.create_bucket()
            backend.put("config", b"survives throttling")
            assert backend.get("config") == b"survives throttling"
            assert backend.get_range("config", 0, 8) == b"survives"
            puts = [s for m, p, s in proxy.seen if m == "PUT" and p.endswith("/objects/config")]
            gets = [s for m, p, s in proxy.seen if m == "GET" and p.endswith("/objects/config")]
            assert puts == [503, 500, 200]
            assert gets == [503, 500, 200, 206]

    def test_backup_restore_check_prune_round_trip_on_s3(
        self,
        s3_endpoint: str,
        tmp_path: Path,
        describe: Callable[[Path], dict[str, tuple]],
        password: Callable[..., Kek],
    ) -> None:
        backend = S3Backend(new_bucket_name(), "vault", **s3_backend_kwargs(s3_endpoint))
        backend.create_bucket()
        rnd = random.Random(5)
        old_src, keep_src = tmp_path / "old", tmp_path / "keep"
        for root, files in ((old_src, 12), (keep_src, 6)):
            (root / "sub").mkdir(parents=True)
            for i in range(files):
                (root / "sub" / f"f{i:02d}.bin").write_bytes(rnd.randbytes(60_000 + i))
            (root / "empty").write_bytes(b"")
            (root / "link").symlink_to("sub/f00.bin")
        repo = Repository.init(backend, password(), pack_size=256 * 1024, cache_dir=tmp_path / "c")
        with repo:
            old = repo.backup([old_src])
            keep = repo.backup([keep_src])
            repo.restore(old.id, tmp_path / "out-old")
            assert describe(tmp_path / "out-old" / "old") == describe(old_src)
            assert repo.check(read_data=True).ok
            packs_before = set(backend.list("data/"))

            assert [s.id for s in repo.forget(Retention(last=1))] == [old.id]
            marked = repo.prune(safety_delay=3600)
            assert marked.marked and not marked.deleted
            done = repo.prune(safety_delay=3600, now=datetime.now(UTC) + timedelta(seconds=3601))
            assert sorted(done.deleted) == sorted(marked.marked)
            packs_after = set(backend.list("data/"))
            assert packs_after < packs_before and not packs_after & {f"data/{p[:2]}/{p}" for p in done.deleted}
            assert repo.check(read_data=True).ok

        # A fresh open (new cache) of the same bucket sees the pruned repository and restores from it.
        with Repository.open(backend, password(), cache_dir=tmp_path / "c2") as again:
            assert [s.id for s in again.snapshots()] == [keep.id]
            again.restore("latest", tmp_path / "out-keep")
        assert describe(tmp_path / "out-keep" / "keep") == describe(keep_src)
