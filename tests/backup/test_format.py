"""The format's building blocks: chunking, ids, sealing, packs, key slots, config integrity, retention."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from warden.backup.chunkstore import (
    IntegrityError,
    Kek,
    LocalBackend,
    Repository,
    RepositoryExists,
    RepositoryNotFound,
    Retention,
    Snapshot,
    WrongKey,
)
from warden.backup.chunkstore.chunker import Chunker, ChunkerParams
from warden.backup.chunkstore.crypto import Cipher, MasterKey
from warden.backup.chunkstore.packs import BlobEntry, BlobType, PackWriter, open_blob, read_pack_header


def test_chunk_boundaries_survive_an_insertion() -> None:
    rnd = __import__("random").Random(7)
    data = rnd.randbytes(4 * 1024 * 1024)
    edited = data[:1_000_000] + b"inserted!" + data[1_000_000:]
    c = Chunker(ChunkerParams())
    before = {bytes(ch) for ch in c.chunks_of(data)}
    after = [bytes(ch) for ch in c.chunks_of(edited)]
    assert b"".join(after) == edited
    assert all(ChunkerParams().min_size <= len(ch) <= ChunkerParams().max_size for ch in after[:-1])
    new = sum(len(ch) for ch in after if ch not in before)
    assert new < 3 * ChunkerParams().max_size  # only the chunks around the edit are new


def test_ids_are_keyed() -> None:
    a, b = Cipher(MasterKey.generate()), Cipher(MasterKey.generate())
    assert a.blob_id(b"same") != b.blob_id(b"same")
    assert a.blob_id(b"same") == a.blob_id(b"same")


def test_sealing_uses_fresh_nonces_and_binds_associated_data() -> None:
    c = Cipher(MasterKey.generate())
    s1, s2 = c.seal(b"x" * 100, b"ad"), c.seal(b"x" * 100, b"ad")
    assert s1 != s2 and s1[:12] != s2[:12]
    assert c.open(s1, b"ad") == b"x" * 100
    with pytest.raises(IntegrityError):
        c.open(s1, b"other")
    flipped = bytearray(s1)
    flipped[20] ^= 1
    with pytest.raises(IntegrityError):
        c.open(bytes(flipped), b"ad")


def test_a_blob_cannot_be_swapped_for_another() -> None:
    c = Cipher(MasterKey.generate())
    w = PackWriter(c)
    ea = w.add(c.blob_id(b"aaaa" * 100), BlobType.DATA, b"aaaa" * 100)
    eb = w.add(c.blob_id(b"bbbb"), BlobType.DATA, b"bbbb")
    _, raw, entries = w.finish()
    assert read_pack_header(c, raw) == entries == [ea, eb]
    assert open_blob(c, ea, raw[ea.offset : ea.offset + ea.length]) == b"aaaa" * 100
    swapped = BlobEntry(ea.id, ea.type, eb.offset, eb.length, eb.raw_length)
    with pytest.raises(IntegrityError):
        open_blob(c, swapped, raw[eb.offset : eb.offset + eb.length])
    as_tree = BlobEntry(ea.id, BlobType.TREE, ea.offset, ea.length, ea.raw_length)
    with pytest.raises(IntegrityError):
        open_blob(c, as_tree, raw[ea.offset : ea.offset + ea.length])


def test_compression_applies_only_when_it_helps() -> None:
    c = Cipher(MasterKey.generate())
    w = PackWriter(c)
    text, noise = b"abc" * 10_000, os.urandom(30_000)
    et, en = w.add(c.blob_id(text), BlobType.DATA, text), w.add(c.blob_id(noise), BlobType.DATA, noise)
    assert et.length < 1000
    assert en.length == len(noise) + 1 + 28  # flag byte + nonce + tag, no expansion


def test_init_refuses_an_existing_repository_and_open_needs_one(tmp_path: Path, password: Callable[..., Kek]) -> None:
    Repository.init(LocalBackend(tmp_path / "r"), password()).close()
    with pytest.raises(RepositoryExists):
        Repository.init(LocalBackend(tmp_path / "r"), password())
    with pytest.raises(RepositoryNotFound):
        Repository.open(LocalBackend(tmp_path / "empty"), password())


def test_wrong_password_fails_cleanly(tmp_path: Path, password: Callable[..., Kek]) -> None:
    Repository.init(LocalBackend(tmp_path / "r"), password("right")).close()
    before = sorted(LocalBackend(tmp_path / "r").list(""))
    with pytest.raises(WrongKey):
        Repository.open(LocalBackend(tmp_path / "r"), password("wrong"))
    with pytest.raises(WrongKey):
        Repository.open(LocalBackend(tmp_path / "r"), Kek.from_bytes("platform", "pk1", os.urandom(32)))
    assert sorted(LocalBackend(tmp_path / "r").list("")) == before  # nothing written
    Repository.open(LocalBackend(tmp_path / "r"), password("right")).close()


def test_platform_and_customer_keys_including_callables(tmp_path: Path, password: Callable[..., Kek]) -> None:
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

    platform = Kek.from_bytes("platform", "warden-platform-1", os.urandom(32))
    hsm_secret = os.urandom(32)  # stands for a key that never leaves an HSM: only wrap/unwrap are exposed
    customer = Kek.from_callables(
        "customer",
        "cmk-1",
        lambda key, _ad: aes_key_wrap(hsm_secret, key),
        lambda wrapped, _ad: aes_key_unwrap(hsm_secret, wrapped),
    )
    with Repository.init(LocalBackend(tmp_path / "r"), platform) as repo:
        repo.add_key(customer)
        repo.add_key(password())
        assert sorted(s["kind"] for s in repo.key_slots()) == ["customer", "password", "platform"]
        rid = repo.id
    for kek in (platform, customer, password()):
        with Repository.open(LocalBackend(tmp_path / "r"), kek) as repo:
            assert repo.id == rid


def test_tampered_config_is_refused(tmp_path: Path, password: Callable[..., Kek]) -> None:
    Repository.init(LocalBackend(tmp_path / "r"), password()).close()
    cfg = tmp_path / "r" / "config"
    doc = json.loads(cfg.read_bytes())
    doc["config"]["chunker"]["avg"] = 4096
    cfg.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError):
        Repository.open(LocalBackend(tmp_path / "r"), password())


def test_retention_keeps_last_and_one_per_bucket() -> None:
    base = datetime(2026, 1, 31, 12, tzinfo=UTC)
    times = [(base - timedelta(hours=12 * i)).isoformat() for i in range(80)]
    snaps = [Snapshot(time=t, tree="t", paths=[], id=f"s{i}") for i, t in enumerate(times)]
    keep, remove = Retention(last=2, daily=3, monthly=2).select(snaps)
    kept = [s.id for s in keep]
    # last: s0, s1; daily: newest of Jan 31 (s0), Jan 30 (s2), Jan 29 (s4); monthly: Jan (s0), Dec (s62, Dec 31 12:00)
    assert kept == ["s0", "s1", "s2", "s4", "s62"]
    assert len(keep) + len(remove) == 80
