"""``BlobWriter``: dedups blobs against the index and writes them into packs, then index files.

Order of durability, which is what makes concurrent writers and crashes safe: a pack is put
(atomic, fsynced) before its index file, and both before any snapshot that references them.
A crash leaves at worst a pack without an index file (an orphan, removed by prune) or temp files.
Pack names are content hashes and index files are named after their pack, so writers never
collide and need no lock.

Compression and encryption run on ``SEAL_THREADS`` threads (zstd releases the GIL), so sealing one
batch of chunks overlaps with reading, chunking and hashing the next ones. A blob waiting in a batch
or being sealed counts as added, exactly as a pending one does, so it is never stored twice.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from .backends import Backend
from .crypto import Cipher
from .errors import BackupError, IntegrityError, ObjectNotFound
from .index import IndexCache, index_name, seal_index
from .packs import BlobEntry, BlobType, PackWriter, open_blob, pack_name, read_pack_header, seal_blob

MAX_INFLIGHT = 1  # finished packs waiting for the upload thread (each ~16 MiB in memory)
SEAL_THREADS = 2
# Blobs go to the sealing threads in batches of about this many plaintext bytes: one hand-over per
# small blob made the threads fight over the GIL and cost more CPU than sealing saved.
SEAL_BATCH_BYTES = 1024 * 1024
MAX_SEALING_BATCHES = 4  # batches handed over and not yet in a pack: bounds the plaintext held in memory

_Blob = tuple[bytes, BlobType, bytes]  # (id, type, plaintext)


def _seal_all(cipher: Cipher, batch: list[_Blob]) -> tuple[bytes, list[int]]:
    """Return the batch's sealed blobs end to end, and each one's length.

    One buffer per batch, not one object per blob: memory a sealing thread allocates and the writer
    frees goes back to that thread's malloc arena, and thousands of such objects kept ~40 MiB of
    fragmented arena resident during a large backup.
    """
    sealed = [seal_blob(cipher, blob_id, btype, data) for blob_id, btype, data in batch]
    return b"".join(sealed), [len(blob) for blob in sealed]


class BlobWriter:
    """Adds blobs for one writer session; ``own_packs`` and ``reused_packs`` feed prune-safety checks."""

    def __init__(self, backend: Backend, cipher: Cipher, index: IndexCache, pack_size: int) -> None:
        self.backend = backend
        self.cipher = cipher
        self.index = index
        self.packs = {t: PackWriter(cipher, pack_size) for t in BlobType}  # trees apart: check reads them first
        self.pending: dict[bytes, BlobEntry] = {}
        self.own_packs: set[str] = set()
        self.reused_packs: set[str] = set()
        self.new_blobs = 0
        self.new_bytes = 0  # plaintext bytes of blobs written
        self.stored_bytes = 0  # pack bytes written
        self._uploader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pack-upload")
        self._inflight: deque[Future[None]] = deque()
        self._sealer = ThreadPoolExecutor(max_workers=SEAL_THREADS, thread_name_prefix="blob-seal")
        self._sealing: deque[tuple[Future[tuple[bytes, list[int]]], list[_Blob]]] = deque()  # in submission order
        self._sealing_ids: set[bytes] = set()  # blobs batched or being sealed, not yet in `pending`
        self._batch: list[_Blob] = []
        self._batch_bytes = 0
        # Never more than a quarter pack per batch, so small packs still fill and upload as data arrives.
        self._batch_limit = min(SEAL_BATCH_BYTES, pack_size // 4)

    def usable(self, blob_ids: list[bytes]) -> dict[bytes, str]:
        """Return, for each of ``blob_ids`` stored in an unmarked pack, one such pack (one batched lookup)."""
        return self.index.usable_packs(blob_ids) if blob_ids else {}

    def reuse_all(self, blob_ids: list[bytes], usable: dict[bytes, str] | None = None) -> bool:
        """Return whether every blob is pending or in an unmarked pack; if so note those packs as reused.

        ``usable`` is a result of :meth:`usable` covering ``blob_ids`` (looked up here when None). A blob
        that left ``pending`` after ``usable`` was computed counts as missing: that only costs a re-read.
        """
        if usable is None:
            usable = self.usable(blob_ids)
        packs = set()
        for blob_id in blob_ids:
            if self._added(blob_id):
                continue
            pack = usable.get(blob_id)
            if pack is None:
                return False
            packs.add(pack)
        self.reused_packs |= packs
        return True

    def add(self, btype: BlobType, data: bytes | memoryview, blob_id: bytes | None = None) -> bytes:
        """Store ``data`` unless it is already stored (in an unmarked pack) or added; return its id.

        Blobs wait in a batch; the index is asked about a whole batch at once when it goes to sealing
        (one query instead of one per chunk, which was a fifth of a first backup's time).
        """
        blob_id = blob_id or self.cipher.blob_id(data)
        if self._added(blob_id):
            return blob_id
        self._sealing_ids.add(blob_id)
        self._batch.append((blob_id, btype, bytes(data)))  # a copy: the chunker reuses its buffer
        self._batch_bytes += len(data)
        if self._batch_bytes >= self._batch_limit:
            self._submit_batch()
        return blob_id

    def _added(self, blob_id: bytes) -> bool:
        """Whether this session already has the blob: batched, being sealed, or in a pack not yet indexed."""
        return blob_id in self._sealing_ids or blob_id in self.pending

    def _submit_batch(self) -> None:
        if self._batch:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            # Blobs stored in an unmarked pack are not written again; the packs they are in are noted
            # as reused, which is what the prune-safety protocol checks (marked packs do not count).
            stored = self.usable([blob_id for blob_id, _, _ in batch])
            if stored:
                self.reused_packs.update(stored.values())
                self._sealing_ids.difference_update(stored)
                batch = [blob for blob in batch if blob[0] not in stored]
            if batch:
                self._sealing.append((self._sealer.submit(_seal_all, self.cipher, batch), batch))
        self._collect(keep=MAX_SEALING_BATCHES)

    def _collect(self, keep: int) -> None:
        """Move sealed blobs into their packs in submission order: every finished batch, and wait for
        the oldest until at most ``keep`` batches are still being sealed. Raises whatever sealing raised."""
        while self._sealing and (len(self._sealing) > keep or self._sealing[0][0].done()):
            future, batch = self._sealing[0]
            sealed, lengths = future.result()
            self._sealing.popleft()
            view = memoryview(sealed)
            offset = 0
            for (blob_id, btype, data), length in zip(batch, lengths, strict=True):
                blob = view[offset : offset + length]
                offset += length
                # Into `pending` before leaving `_sealing_ids`, so add() sees the blob throughout.
                self._record(self.packs[btype].add_sealed(blob_id, btype, blob, len(data)), btype)
                self._sealing_ids.discard(blob_id)

    def add_sealed(self, blob_id: bytes, btype: BlobType, sealed: bytes | memoryview, raw_length: int) -> None:
        """Append an already sealed (and verified) blob copied from another pack, even if it is known."""
        self._record(self.packs[btype].add_sealed(blob_id, btype, sealed, raw_length), btype)

    def _record(self, entry: BlobEntry, btype: BlobType) -> None:
        pack = self.packs[btype]
        self.pending[entry.id] = entry
        self.new_blobs += 1
        self.new_bytes += entry.raw_length
        if pack.full():
            self._flush_pack(pack)

    def _flush_pack(self, pack: PackWriter) -> None:
        if not len(pack):
            return
        pack_id, data, entries = pack.finish()
        # Uploading (write + fsync) overlaps with reading and chunking the next files; at most
        # MAX_INFLIGHT finished packs wait in memory, and errors surface at the next flush.
        self._inflight.append(self._uploader.submit(self._upload, pack_id, data, entries))
        while len(self._inflight) > MAX_INFLIGHT:
            self._inflight.popleft().result()

    def _upload(self, pack_id: str, data: bytearray, entries: list[BlobEntry]) -> None:
        self.backend.put(pack_name(pack_id), data)
        self.backend.put(index_name(pack_id), seal_index(self.cipher, pack_id, entries))
        self.index.add_pack(pack_id, entries)  # before leaving `pending`, so add() always sees the blob
        self.own_packs.add(pack_id)
        self.stored_bytes += len(data)
        for e in entries:
            self.pending.pop(e.id, None)

    def flush(self) -> None:
        """Write every partly filled pack and its index file; when it returns, all added blobs are durable.

        Raises whatever sealing or a pack upload raised.
        """
        self._submit_batch()
        self._collect(keep=0)
        for pack in self.packs.values():
            self._flush_pack(pack)
        while self._inflight:
            self._inflight.popleft().result()

    def close(self) -> None:
        """Stop the sealing and upload threads (after :meth:`flush`, or to abandon unflushed blobs)."""
        self._sealer.shutdown(wait=True, cancel_futures=True)
        self._uploader.shutdown(wait=True)

    def copy_pack(self, pack_id: str, skip: set[bytes] | None = None) -> int:
        """Copy every intact blob of ``pack_id`` (except ``skip``) into new packs; return the count.

        Used when prune marked a pack this session depends on. Raises BackupError if the pack is gone.
        """
        try:
            raw = self.backend.get(pack_name(pack_id))
        except ObjectNotFound:
            raise BackupError(f"pack {pack_id} was pruned while in use; the backup outlived the prune delay") from None
        entries = self.index.pack_entries(pack_id) or read_pack_header(self.cipher, raw)
        copied = 0
        for e in entries:
            if skip and e.id in skip:
                continue
            sealed = raw[e.offset : e.offset + e.length]
            try:
                open_blob(self.cipher, e, sealed)
            except IntegrityError:
                continue  # a damaged blob is not worth keeping alive; check reports it
            self.add_sealed(e.id, e.type, sealed, e.raw_length)
            copied += 1
        return copied
