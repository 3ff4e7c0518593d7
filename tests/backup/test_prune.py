"""Forget and the two-phase, lock-free prune, step by step in one process."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from warden.backup.chunkstore import BackupProgress, ChunkStoreError, Kek, LocalBackend, Repository, Retention

LATER = timedelta(seconds=3601)


def tree(root: Path, files: int, seed: int, size: int = 40_000) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rnd = __import__("random").Random(seed)
    for i in range(files):
        (root / f"f{i:02d}").write_bytes(rnd.randbytes(size))
    return root


def repo_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path / "data").rglob("*") if p.is_file())


def test_forget_then_prune_deletes_only_after_the_safety_delay(
    tmp_path: Path, make_repo: Callable[..., Repository], describe: Callable[[Path], dict[str, tuple]]
) -> None:
    repo = make_repo()
    old = repo.backup([tree(tmp_path / "old", 20, seed=1)])
    keep_src = tree(tmp_path / "keep", 10, seed=2)
    keep = repo.backup([keep_src])
    removed = repo.forget(Retention(last=1))
    assert [s.id for s in removed] == [old.id]
    size_before = repo_bytes(tmp_path / "repo")

    marked = repo.prune(safety_delay=3600)
    assert marked.marked and not marked.deleted
    assert repo_bytes(tmp_path / "repo") == size_before  # phase one deletes nothing
    assert not repo.prune(safety_delay=3600).deleted  # still inside the delay
    done = repo.prune(safety_delay=3600, now=datetime.now(UTC) + LATER)
    assert sorted(done.deleted) == sorted(marked.marked)
    assert repo.marks() == []
    assert repo_bytes(tmp_path / "repo") < size_before - 20 * 40_000 * 0.9
    assert repo.check(read_data=True).ok
    repo.restore(keep.id, tmp_path / "out")
    assert describe(tmp_path / "out" / "keep") == describe(keep_src)


def test_backup_running_when_a_mark_is_written_keeps_what_it_reuses(
    tmp_path: Path,
    make_repo: Callable[..., Repository],
    describe: Callable[[Path], dict[str, tuple]],
    password: Callable[..., Kek],
) -> None:
    repo = make_repo()
    shared = tree(tmp_path / "v1", 10, seed=3)
    first = repo.backup([shared])
    other = Repository.open(LocalBackend(tmp_path / "repo"), password())  # a second client
    pruned = {}

    def meanwhile(p: BackupProgress) -> None:
        if p.files == 1 and not pruned:  # the backup has loaded the index and is re-using blobs
            other.delete_snapshot(first.id)
            pruned["result"] = other.prune(safety_delay=3600)

    second = repo.backup([shared], progress=meanwhile)  # same content: every data blob is re-used
    assert pruned["result"].marked
    done = other.prune(safety_delay=3600, now=datetime.now(UTC) + LATER)
    assert set(pruned["result"].marked) <= set(done.deleted)  # the backup copied what it needed first
    repo.restore(second.id, tmp_path / "out")
    assert describe(tmp_path / "out" / "v1") == describe(shared)
    assert repo.check(read_data=True).ok
    other.close()


def test_backup_started_after_a_mark_does_not_depend_on_marked_packs(
    tmp_path: Path, make_repo: Callable[..., Repository]
) -> None:
    repo = make_repo()
    src = tree(tmp_path / "src", 8, seed=4)
    first = repo.backup([src])
    repo.delete_snapshot(first.id)
    assert repo.prune(safety_delay=3600).marked
    again = repo.backup([src])
    assert again.summary["bytesNew"] >= 8 * 40_000  # uploaded afresh, not re-used from marked packs
    repo.prune(safety_delay=3600, now=datetime.now(UTC) + LATER)
    repo.restore(again.id, tmp_path / "out")
    assert (tmp_path / "out" / "src" / "f05").read_bytes() == (src / "f05").read_bytes()


def test_a_snapshot_that_reappears_before_deletion_keeps_its_packs(
    tmp_path: Path, make_repo: Callable[..., Repository]
) -> None:
    repo = make_repo()
    src = tree(tmp_path / "src", 6, seed=5)
    snap = repo.backup([src])
    body = repo.get_object(f"snapshots/{snap.id}")
    repo.delete_snapshot(snap.id)
    marked = repo.prune(safety_delay=60).marked
    assert marked
    repo.put_object(f"snapshots/{snap.id}", body)  # e.g. a soft-deleted recovery point is undeleted
    done = repo.prune(safety_delay=60, now=datetime.now(UTC) + LATER)
    assert not done.deleted and sorted(done.kept) == sorted(p for p in marked if p in repo.index.packs())
    repo.restore(snap.id, tmp_path / "out")
    assert repo.check(read_data=True).ok


def test_repack_copies_live_blobs_out_of_mostly_dead_packs(
    tmp_path: Path, make_repo: Callable[..., Repository]
) -> None:
    repo = make_repo(pack_size=4 * 1024 * 1024)  # both trees land in the same pack
    src = tmp_path / "src"
    tree(src / "dead", 20, seed=6)
    tree(src / "live", 2, seed=7)
    full = repo.backup([src])
    for p in (src / "dead").iterdir():
        os.unlink(p)
    small = repo.backup([src])
    repo.delete_snapshot(full.id)
    result = repo.prune(safety_delay=60, repack_threshold=0.5)
    assert result.repacked
    repo.prune(safety_delay=60, now=datetime.now(UTC) + LATER)
    assert repo_bytes(tmp_path / "repo") < 10 * 40_000
    repo.restore(small.id, tmp_path / "out")
    assert (tmp_path / "out" / "src" / "live" / "f01").read_bytes() == (src / "live" / "f01").read_bytes()
    assert repo.check(read_data=True).ok


def test_forget_refuses_a_policy_that_keeps_nothing(make_repo: Callable[..., Repository]) -> None:
    with pytest.raises(ChunkStoreError):
        make_repo().forget(Retention())


def test_a_cancelled_backup_writes_no_snapshot_and_prune_reclaims_its_packs(
    tmp_path: Path, make_repo: Callable[..., Repository]
) -> None:
    class Cancelled(Exception):
        pass

    repo = make_repo()
    src = tree(tmp_path / "src", 30, seed=9)

    def cancel_after_20(p: BackupProgress) -> None:
        if p.files == 20:
            raise Cancelled

    with pytest.raises(Cancelled):
        repo.backup([src], progress=cancel_after_20)
    assert repo.snapshot_ids() == [] and repo.stats()["packs"] > 0
    assert repo.check().ok
    repo.prune(safety_delay=60)
    repo.prune(safety_delay=60, now=datetime.now(UTC) + LATER)
    assert repo.stats() == {"snapshots": 0, "packs": 0, "blobs": 0, "storedBytes": 0}
