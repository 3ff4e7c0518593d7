"""The index cache's pooled reader connections and batched lookups (what restore and second backups use)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from warden.backup.chunkstore import Repository
from warden.backup.chunkstore.index import IndexCache
from warden.backup.chunkstore.packs import BlobEntry, BlobType


def _entries(n: int, seed: int) -> list[BlobEntry]:
    return [BlobEntry(bytes([seed]) + i.to_bytes(31, "big"), BlobType.DATA, i * 10, 10, 20) for i in range(n)]


def test_usable_packs_skips_marked_packs_and_leaves_out_unknown_ids(tmp_path: Path) -> None:
    cache = IndexCache(tmp_path / "index.sqlite")
    only_marked, both = _entries(3, 1), _entries(3, 2)
    cache.add_pack("p-marked", only_marked + both)
    cache.add_pack("p-live", both)
    cache.set_marked({"p-marked"})
    unknown = b"\xff" * 32
    ids = [e.id for e in only_marked + both] + [unknown] * 2
    assert cache.usable_packs(ids) == {e.id: "p-live" for e in both}
    cache.set_marked(set())
    found = cache.usable_packs(ids)
    assert set(found) == {e.id for e in only_marked + both}
    assert all(found[e.id] == "p-marked" for e in only_marked)
    # More ids than one query takes: every known one is still found.
    many = _entries(1200, 3)
    cache.add_pack("p-many", many)
    assert len(cache.usable_packs([e.id for e in many] + [unknown])) == 1200
    cache.close()


def test_concurrent_lookups_see_every_committed_pack_and_return_right_locations(tmp_path: Path) -> None:
    cache = IndexCache(tmp_path / "index.sqlite")
    packs = {f"pack{k}": _entries(200, k) for k in range(8)}
    errors: list[str] = []
    added = threading.Event()

    def reader(pack_id: str) -> None:
        added.wait()
        for e in packs[pack_id]:
            locs = cache.locations(e.id)
            if [(loc.pack, loc.entry) for loc in locs] != [(pack_id, e)]:
                errors.append(f"{pack_id}: {e.id.hex()} -> {locs}")

    threads = [threading.Thread(target=reader, args=(p,)) for p in packs]
    for t in threads:
        t.start()
    for pack_id, entries in packs.items():
        cache.add_pack(pack_id, entries)
        # A lookup right after the writer commits must see the pack (what BlobWriter.known relies on).
        assert cache.lookup(entries[-1].id) is not None
    added.set()
    for t in threads:
        t.join()
    assert errors == []
    assert 1 <= len(cache._all_readers) <= len(packs) + 1  # pooled: at most one per concurrent lookup
    cache.remove_pack("pack0")
    assert cache.locations(packs["pack0"][0].id) == []
    cache.close()


def test_unchanged_files_whose_chunks_are_only_in_marked_packs_are_read_again(
    tmp_path: Path, make_repo: Callable[..., Repository], describe: Callable[[Path], dict[str, tuple]]
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        (src / f"f{i}").write_bytes(os.urandom(40_000))
    repo = make_repo()
    snap = repo.backup([src])
    body = repo.get_object(f"snapshots/{snap.id}")
    repo.delete_snapshot(snap.id)
    assert repo.prune(safety_delay=60).marked
    repo.put_object(f"snapshots/{snap.id}", body)  # the parent is back, but its packs stay marked
    again = repo.backup([src], parent=snap.id)
    assert again.summary["parent"] == snap.id
    assert again.summary["filesUnchanged"] == 0 and again.summary["bytesNew"] >= 6 * 40_000
    repo.delete_snapshot(snap.id)
    done = repo.prune(safety_delay=60, now=datetime.now(UTC) + timedelta(seconds=61))
    assert done.deleted  # the marked packs went, and the new snapshot never depended on them
    repo.restore(again.id, tmp_path / "out")
    assert describe(tmp_path / "out" / "src") == describe(src)
    assert repo.check(read_data=True).ok
