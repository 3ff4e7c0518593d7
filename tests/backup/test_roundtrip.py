"""Backup → restore round trips: random trees (hypothesis) and the awkward cases named explicitly."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warden.backup.chunkstore import LocalBackend, Repository, RestoreProgress
from warden.backup.chunkstore.crypto import Argon2Params, Kek

NAMES = st.sampled_from(["a", "b.txt", "Ünïcødé", "日本語", "space name", "-dash", ".hidden", "x" * 60, "emoji-🙂"])
FILE_MODES = st.sampled_from([0o644, 0o600, 0o755, 0o400, 0o444, 0o4755, 0o640])
DIR_MODES = st.sampled_from([0o755, 0o700, 0o555, 0o1777])
MTIMES = st.integers(min_value=0, max_value=4_000_000_000 * 10**9)


@st.composite
def file_contents(draw: st.DrawFn) -> tuple[str, int, int]:
    """(kind, size, seed): empty, small, large (several chunks), repeated text, or sparse."""
    kind = draw(st.sampled_from(["empty", "small", "large", "text", "sparse"]))
    size = {
        "empty": 0,
        "small": draw(st.integers(1, 5000)),
        "large": draw(st.integers(300_000, 900_000)),
        "text": draw(st.integers(1, 200_000)),
        "sparse": draw(st.integers(1 << 20, 3 << 20)),
    }[kind]
    return kind, size, draw(st.integers(0, 2**32))


def write_file(path: Path, kind: str, size: int, seed: int) -> None:
    import random

    rnd = random.Random(seed)
    with open(path, "wb") as fh:
        if kind == "sparse":  # a hole, some data, another hole up to `size`
            fh.seek(size // 2)
            fh.write(rnd.randbytes(1000))
            fh.truncate(size)
        elif kind == "text":
            fh.write((b"line of text %d\n" % seed) * (size // 16) + b"!" * (size % 16))
        else:
            fh.write(rnd.randbytes(size))


trees = st.recursive(
    st.one_of(
        st.tuples(st.just("file"), file_contents(), FILE_MODES, MTIMES),
        st.tuples(st.just("symlink"), st.sampled_from(["a", "../up", "/abs/target", "dangling/ü"]), MTIMES),
    ),
    lambda children: st.tuples(st.just("dir"), st.dictionaries(NAMES, children, max_size=4), DIR_MODES, MTIMES),
    max_leaves=12,
)


def build(path: Path, spec: tuple) -> None:
    kind = spec[0]
    if kind == "file":
        _, (ckind, size, seed), mode, mtime = spec
        write_file(path, ckind, size, seed)
        os.chmod(path, mode)
        os.utime(path, ns=(mtime, mtime))
    elif kind == "symlink":
        _, target, mtime = spec
        os.symlink(target, path)
        os.utime(path, ns=(mtime, mtime), follow_symlinks=False)
    else:
        _, children, mode, mtime = spec
        path.mkdir()
        for name, child in children.items():
            build(path / name, child)
        os.chmod(path, mode)
        os.utime(path, ns=(mtime, mtime))


FAST = Argon2Params(1, 8 * 1024, 1)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(children=st.dictionaries(NAMES, trees, min_size=1, max_size=5))
def test_random_trees_restore_byte_identical_with_metadata(
    children: dict, describe: Callable[[Path], dict[str, tuple]]
) -> None:
    work = Path(tempfile.mkdtemp(prefix="wb-rt-"))
    try:
        src = work / "src"
        build(src, ("dir", children, 0o755, 1_700_000_000 * 10**9))
        with Repository.init(LocalBackend(work / "repo"), Kek.from_password("pw", FAST), pack_size=128 * 1024) as repo:
            snap = repo.backup([src])
            repo.restore(snap.id, work / "out")
            assert describe(work / "out" / "src") == describe(src)
            assert repo.check(read_data=True).ok
    finally:
        for dirpath, dirnames, _ in os.walk(work):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)  # let rmtree into read-only dirs
        shutil.rmtree(work)


def test_sparse_file_stays_sparse(tmp_path: Path, make_repo: Callable[..., Repository]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "disk.img", "wb") as fh:
        fh.seek(64 << 20)
        fh.write(b"end")
    repo = make_repo()
    snap = repo.backup([src])
    assert snap.summary["bytesStored"] < 1 << 20  # zero chunks dedup to almost nothing
    repo.restore(snap.id, tmp_path / "out")
    out = tmp_path / "out" / "src" / "disk.img"
    assert out.stat().st_size == (64 << 20) + 3
    assert out.stat().st_blocks * 512 < 4 << 20  # holes, not 64 MiB of written zeros
    with open(out, "rb") as fh:
        fh.seek(64 << 20)
        assert fh.read() == b"end"


def test_second_backup_stores_only_changes_and_include_restores_a_subset(
    tmp_path: Path, make_repo: Callable[..., Repository], describe: Callable[[Path], dict[str, tuple]]
) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(20):
        (src / "sub" / f"f{i}").write_bytes(os.urandom(50_000))
    (src / "top").write_text("top")
    repo = make_repo()
    first = repo.backup([src])
    (src / "sub" / "f3").write_bytes(os.urandom(50_000))
    second = repo.backup([src], tags=["nightly"])
    assert 50_000 <= second.summary["bytesNew"] < 60_000  # the changed file (+ its trees)
    assert first.summary["bytesNew"] > 1_000_000
    seen: list[RestoreProgress] = []
    result = repo.restore(second.id, tmp_path / "part", include=["src/sub/f3"], progress=seen.append)
    assert result.files == 1 and seen and seen[-1].files == 1
    assert sorted(p.name for p in (tmp_path / "part" / "src" / "sub").iterdir()) == ["f3"]
    assert (tmp_path / "part" / "src" / "sub" / "f3").read_bytes() == (src / "sub" / "f3").read_bytes()
    repo.restore("latest", tmp_path / "all")
    assert describe(tmp_path / "all" / "src") == describe(src)
    assert repo.find_snapshot(second.id[:8]).tags == ["nightly"]


def test_backup_reports_progress_and_skips_special_files(tmp_path: Path, make_repo: Callable[..., Repository]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "file").write_bytes(b"data")
    os.mkfifo(src / "fifo")
    repo = make_repo()
    calls = []
    snap = repo.backup([src], progress=lambda p: calls.append((p.files, p.bytes_read)))
    assert (1, 4) in calls
    assert any("fifo" in e for e in snap.summary["errors"])
    repo.restore(snap.id, tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out" / "src")) == ["file"]


def test_unchanged_files_are_taken_from_the_parent_and_changed_ones_reread(
    tmp_path: Path, make_repo: Callable[..., Repository], describe: Callable[[Path], dict[str, tuple]]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(10):
        (src / f"f{i}").write_bytes(os.urandom(20_000))
    repo = make_repo()
    first = repo.backup([src])
    second = repo.backup([src])
    assert second.summary["parent"] == first.id and second.summary["filesUnchanged"] == 10
    # Same size, mtime put back: only ctime tells the change apart, and it must be read again.
    st = (src / "f4").stat()
    (src / "f4").write_bytes(os.urandom(20_000))
    os.utime(src / "f4", ns=(st.st_atime_ns, st.st_mtime_ns))
    third = repo.backup([src])
    assert third.summary["filesUnchanged"] == 9 and third.summary["bytesNew"] >= 20_000
    assert repo.backup([src], parent=None).summary["filesUnchanged"] == 0
    repo.restore(third.id, tmp_path / "out")
    assert describe(tmp_path / "out" / "src") == describe(src)
