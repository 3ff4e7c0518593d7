"""Crash, damage, concurrency, wrong keys, key rotation and memory: the issue's reliability list."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from warden.backup.chunkstore import Kek, LocalBackend, Repository, RestoreError, WrongKey
from warden.backup.chunkstore.index import IndexCache
from warden.backup.chunkstore.packs import BlobEntry, BlobType

# A backup in a child process. argv: repo dir, source dir, cache dir, go-file ("-" = none), delay per file.
CHILD = """
import os, sys, time
from warden.backup.chunkstore import Argon2Params, Kek, LocalBackend, Repository
repo_dir, src, cache, go, delay = sys.argv[1:6]
kek = Kek.from_password("correct horse", Argon2Params(1, 8192, 1))
repo = Repository.open(LocalBackend(repo_dir), kek, cache_dir=cache)
def progress(p):
    if p.files == 1:
        print("started", flush=True)
        while go != "-" and not os.path.exists(go):
            time.sleep(0.01)
    time.sleep(float(delay))
snap = repo.backup([src], progress=progress)
print("snapshot", snap.id, flush=True)
"""


def random_tree(root: Path, files: int, size: int, seed: int, prefix: str = "f") -> Path:
    rnd = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"{prefix}{i:03d}").write_bytes(rnd.randbytes(size))
    return root


def start_child(repo_dir: Path, src: Path, cache: Path, go: str = "-", delay: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(repo_dir), str(src), str(cache), go, str(delay)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_during_backup_leaves_a_checkable_repository(
    tmp_path: Path, make_repo: Callable[..., Repository], describe: Callable[[Path], dict[str, tuple]]
) -> None:
    src = random_tree(tmp_path / "src", files=60, size=200_000, seed=1)
    repo = make_repo()
    child = start_child(tmp_path / "repo", src, tmp_path / "child-cache", delay=0.02)
    packs = tmp_path / "repo" / "data"
    deadline = time.monotonic() + 60
    while sum(len(f) for _, _, f in os.walk(packs)) < 4:
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert repo.snapshot_ids() == []  # the killed backup acknowledged nothing

    result = repo.check(read_data=True)
    assert result.ok, result.errors
    snap = repo.backup([src])  # the next backup completes (and reuses what the killed one indexed)
    assert snap.summary["bytesNew"] < 60 * 200_000
    repo.restore(snap.id, tmp_path / "out")
    assert describe(tmp_path / "out" / "src") == describe(src)
    # Prune removes leftovers of the killed backup once the safety delay has passed.
    repo.prune(safety_delay=60)
    repo.prune(safety_delay=60, now=datetime.now(UTC) + timedelta(seconds=61))
    after = repo.check(read_data=True)
    assert after.ok and not after.warnings, (after.errors, after.warnings)


def test_flipped_byte_names_the_damaged_blob_and_its_files_and_the_rest_restores(
    tmp_path: Path, make_repo: Callable[..., Repository]
) -> None:
    src = random_tree(tmp_path / "src", files=30, size=10_000, seed=2)  # one chunk per file
    (src / "copy-of-f007").write_bytes((src / "f007").read_bytes())  # two files share the damaged blob
    repo = make_repo()
    snap = repo.backup([src])
    target_id = repo.cipher.blob_id((src / "f007").read_bytes())
    loc = repo.index.lookup(target_id)
    assert loc is not None
    pack_file = tmp_path / "repo" / "data" / loc.pack[:2] / loc.pack
    raw = bytearray(pack_file.read_bytes())
    raw[loc.entry.offset + loc.entry.length // 2] ^= 0x01
    pack_file.write_bytes(bytes(raw))

    assert repo.check().ok  # structure is intact; only reading the data finds the damage
    result = repo.check(read_data=True)
    assert not result.ok
    assert list(result.damaged_blobs) == [target_id.hex()]
    assert sorted(result.damaged_blobs[target_id.hex()]) == [f"{snap.id}:src/copy-of-f007", f"{snap.id}:src/f007"]
    assert any(target_id.hex() in e and "src/f007" in e for e in result.errors)

    with pytest.raises(RestoreError) as err:
        repo.restore(snap.id, tmp_path / "out")
    assert sorted(e.split(":")[0] for e in err.value.errors) == ["src/copy-of-f007", "src/f007"]
    restored = sorted(p.name for p in (tmp_path / "out" / "src").iterdir())
    assert restored == sorted(p.name for p in src.iterdir() if p.name not in ("f007", "copy-of-f007"))
    assert all((tmp_path / "out" / "src" / n).read_bytes() == (src / n).read_bytes() for n in restored)


def test_two_concurrent_backups_and_prune_lose_nothing(
    tmp_path: Path, make_repo: Callable[..., Repository], describe: Callable[[Path], dict[str, tuple]]
) -> None:
    shared = random_tree(tmp_path / "shared", files=20, size=30_000, seed=3)
    trees = {}
    for name, seed in (("a", 4), ("b", 5)):
        tree = random_tree(tmp_path / name, files=25, size=30_000, seed=seed)
        random_tree(tree / "z_shared", files=20, size=30_000, seed=3)  # same bytes as `shared`
        trees[name] = tree
    repo = make_repo()
    old = repo.backup([shared])  # its packs hold every shared blob
    go = tmp_path / "go"
    children = {n: start_child(tmp_path / "repo", t, tmp_path / f"cache-{n}", str(go), 0.005) for n, t in trees.items()}
    for child in children.values():
        assert child.stdout is not None and child.stdout.readline().strip() == "started"
    # Both backups have loaded the index. Now the only snapshot using the shared blobs goes away and
    # prune marks its packs: the backups will re-use blobs from packs that are marked for deletion.
    repo.delete_snapshot(old.id)
    first = repo.prune(safety_delay=30)
    assert first.marked
    go.touch()
    while any(c.poll() is None for c in children.values()):
        repo.prune(safety_delay=30)  # keeps marking (e.g. packs written before their index file)
        time.sleep(0.2)
    outputs = {n: c.communicate() for n, c in children.items()}
    assert all(c.returncode == 0 for c in children.values()), outputs
    snap_ids = {n: out.split()[-1] for n, (out, _) in outputs.items()}

    # Long after: every mark is due. Deletion re-checks references, and the backups copied what they needed.
    later = datetime.now(UTC) + timedelta(seconds=31)
    final = repo.prune(safety_delay=30, now=later)
    # The backups copied the shared blobs out of the marked packs, so those packs can go. (A copy that a
    # later prune marked as an orphan in the instant before its index file existed keeps its original
    # alive instead: a snapshot uses it. That costs space, never data.)
    assert set(first.marked) & set(final.deleted)
    repo.prune(safety_delay=30, now=later + timedelta(seconds=31))
    assert repo.check(read_data=True).ok
    for name, tree in trees.items():
        repo.restore(snap_ids[name], tmp_path / f"out-{name}")
        assert describe(tmp_path / f"out-{name}" / name) == describe(tree)


def test_key_rotation_rewraps_without_touching_data(
    tmp_path: Path, make_repo: Callable[..., Repository], password: Callable[..., Kek]
) -> None:
    src = random_tree(tmp_path / "src", files=5, size=100_000, seed=6)
    repo = make_repo(key=password("old password"))
    snap = repo.backup([src])
    root = tmp_path / "repo"

    def data_files() -> dict[str, tuple[str, int]]:
        out = {}
        for prefix in ("data", "index", "snapshots"):
            for p in (root / prefix).rglob("*"):
                if p.is_file():
                    out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        return out

    before = data_files()
    [slot] = [s["slot"] for s in repo.key_slots()]
    repo.rotate_key(slot, password("new password"))
    platform_v1 = Kek.from_bytes("platform", "platform-v1", os.urandom(32))
    platform_v2 = Kek.from_bytes("platform", "platform-v2", os.urandom(32))
    pslot = repo.add_key(platform_v1)
    repo.rotate_key(pslot, platform_v2)
    repo.close()
    assert data_files() == before  # not one pack, index file or snapshot rewritten

    with pytest.raises(WrongKey):
        Repository.open(LocalBackend(root), password("old password"))
    with pytest.raises(WrongKey):
        Repository.open(LocalBackend(root), platform_v1)
    for kek in (password("new password"), platform_v2):
        with Repository.open(LocalBackend(root), kek) as reopened:
            reopened.restore(snap.id, tmp_path / f"out-{kek.kind}")
            assert (tmp_path / f"out-{kek.kind}" / "src" / "f003").read_bytes() == (src / "f003").read_bytes()


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_index_memory_stays_bounded_with_a_million_blobs(tmp_path: Path) -> None:
    """1 M blob ids in the index: RSS grows by the SQLite page cache (16 MiB), not by the blob count.

    A Python dict of 1 M 32-byte ids alone would take ~110 MiB. Ids are generated, never held in a list.
    """
    n, packs = 1_000_000, 50
    per = n // packs
    index = IndexCache(tmp_path / "index.sqlite")
    index.lookup(bytes(32))
    base = _rss_mib()

    def entries(p: int):  # generated lazily, in id order (the fast path for bulk loads)
        return (BlobEntry(i.to_bytes(32, "big"), BlobType.DATA, i, 100, 200) for i in range(p * per, (p + 1) * per))

    index.add_packs((f"{p:064x}", entries(p)) for p in range(packs))
    assert index.blob_count() == n
    rnd = random.Random(8)
    for _ in range(5_000):
        i = rnd.randrange(n)
        loc = index.lookup(i.to_bytes(32, "big"))
        assert loc is not None and loc.pack == f"{i // per:064x}" and loc.entry.offset == i
        assert index.lookup(rnd.randrange(n, 2 * n).to_bytes(32, "big")) is None
    batch = [rnd.randrange(2 * n).to_bytes(32, "big") for _ in range(10_000)]
    assert index.contains_many(batch) == {b for b in batch if int.from_bytes(b, "big") < n}
    growth = _rss_mib() - base
    index.close()
    assert growth < 48, f"RSS grew {growth:.1f} MiB for 1 M indexed blobs"
