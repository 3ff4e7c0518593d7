"""Pack files: many encrypted blobs in one object of ~16 MiB, with an encrypted trailer.

Layout of ``data/<pp>/<pack id>``::

    blob_0 | blob_1 | ... | sealed header | header length (u32 LE) | b"WPK1"

Each blob is ``Cipher.seal(flag || payload, aad = type || blob id)`` where ``flag`` is 0 (stored)
or 1 (zstd level 3; kept only when it saves space). The sealed header lists every blob as a
fixed 45-byte entry ``id(32) type(1) offset(u32) length(u32) raw_length(u32)``, so the index of
a pack can be rebuilt from the pack alone. The pack id is the unkeyed BLAKE3 of the whole pack,
so ``check --read-data`` detects a damaged pack before opening its blobs.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from enum import IntEnum

import blake3
import zstandard

from .crypto import OVERHEAD, Cipher
from .errors import IntegrityError

MAGIC = b"WPK1"
ENTRY = struct.Struct("<32sBIII")
FOOTER = struct.Struct("<I4s")
DEFAULT_PACK_SIZE = 16 * 1024 * 1024
_local = threading.local()  # zstd contexts are not thread-safe; restore decodes in worker threads


def _zc() -> zstandard.ZstdCompressor:
    if not hasattr(_local, "zc"):
        # Level 3, not 1: on Debian's kernel tree (64 KiB chunks) it stores 4% less for ~8% more zstd
        # time, which keeps the repository within 1.05x of restic's (bench/backup_vs_restic.py).
        _local.zc = zstandard.ZstdCompressor(level=3)
    return _local.zc


def _zd() -> zstandard.ZstdDecompressor:
    if not hasattr(_local, "zd"):
        _local.zd = zstandard.ZstdDecompressor()
    return _local.zd


class BlobType(IntEnum):
    """What a blob holds: file content or a directory tree."""

    DATA = 0
    TREE = 1


@dataclass(frozen=True)
class BlobEntry:
    """Where a blob lives inside its pack."""

    id: bytes
    type: BlobType
    offset: int
    length: int
    raw_length: int

    def pack_entry(self) -> bytes:
        """Return the fixed-size binary form used in pack headers and index files."""
        return ENTRY.pack(self.id, self.type, self.offset, self.length, self.raw_length)


def parse_entries(raw: bytes) -> list[BlobEntry]:
    """Return the entries of a binary entry table; raise IntegrityError if its size is not whole."""
    if len(raw) % ENTRY.size:
        raise IntegrityError("entry table has a partial entry")
    return [BlobEntry(i, BlobType(t), o, n, r) for i, t, o, n, r in ENTRY.iter_unpack(raw)]


def pack_name(pack_id: str) -> str:
    """Return the backend object name of a pack."""
    return f"data/{pack_id[:2]}/{pack_id}"


def seal_blob(cipher: Cipher, blob_id: bytes, btype: BlobType, data: bytes | memoryview) -> bytes:
    """Return the stored form of a blob: compressed when that helps, then sealed to its id and type."""
    compressed = _zc().compress(data)
    plain = b"\x01" + compressed if len(compressed) < len(data) else b"\x00" + bytes(data)
    return cipher.seal(plain, bytes([btype]) + blob_id)


def open_blob(cipher: Cipher, entry: BlobEntry, sealed: bytes | memoryview) -> bytes:
    """Return a blob's plaintext after checking it decrypts and its keyed id matches ``entry.id``.

    Raises IntegrityError on any damage, including a blob moved to another id.
    """
    plain = cipher.open(sealed, bytes([entry.type]) + entry.id)
    try:
        data = _zd().decompress(plain[1:], max_output_size=entry.raw_length) if plain[0] == 1 else plain[1:]
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"blob {entry.id.hex()}: bad compressed data: {exc}") from None
    if len(data) != entry.raw_length or cipher.blob_id(data) != entry.id:
        raise IntegrityError(f"blob {entry.id.hex()}: content does not match its id")
    return data


class PackWriter:
    """Accumulates sealed blobs in memory until :meth:`full`; :meth:`finish` returns (pack id, bytes, entries)."""

    def __init__(self, cipher: Cipher, target_size: int = DEFAULT_PACK_SIZE) -> None:
        self.cipher = cipher
        self.target_size = target_size
        self.buf = bytearray()
        self.entries: list[BlobEntry] = []

    def __len__(self) -> int:
        return len(self.entries)

    def full(self) -> bool:
        """Return whether the pack reached its target size."""
        return len(self.buf) >= self.target_size

    def add_sealed(self, blob_id: bytes, btype: BlobType, sealed: bytes | memoryview, raw_length: int) -> BlobEntry:
        """Append an already sealed blob; return its entry."""
        entry = BlobEntry(blob_id, btype, len(self.buf), len(sealed), raw_length)
        self.buf += sealed
        self.entries.append(entry)
        return entry

    def add(self, blob_id: bytes, btype: BlobType, data: bytes | memoryview) -> BlobEntry:
        """Compress, seal and append a blob; return its entry."""
        return self.add_sealed(blob_id, btype, seal_blob(self.cipher, blob_id, btype, data), len(data))

    def finish(self) -> tuple[str, bytearray, list[BlobEntry]]:
        """Append the sealed header and footer; return (pack id, pack bytes, entries) and reset.

        The buffer itself is handed over, not a copy: a 16 MiB copy per pack raised a backup's peak memory.
        """
        header = self.cipher.seal(b"".join(e.pack_entry() for e in self.entries), b"warden pack header")
        self.buf += header
        self.buf += FOOTER.pack(len(header), MAGIC)
        data, entries = self.buf, self.entries
        self.buf = bytearray()
        self.entries = []
        return blake3.blake3(data).hexdigest(), data, entries


def read_pack_header(cipher: Cipher, pack: bytes) -> list[BlobEntry]:
    """Return the entries stored in a whole pack's trailer; raise IntegrityError if it is damaged."""
    if len(pack) < FOOTER.size or pack[-4:] != MAGIC:
        raise IntegrityError("pack footer missing")
    (hlen, _) = FOOTER.unpack(pack[-FOOTER.size :])
    start = len(pack) - FOOTER.size - hlen
    if hlen < OVERHEAD or start < 0:
        raise IntegrityError("pack header length out of range")
    return parse_entries(cipher.open(pack[start : len(pack) - FOOTER.size], b"warden pack header"))
