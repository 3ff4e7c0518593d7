"""Content-defined chunking with FastCDC (``pyfastcdc``, Cython, the 2020 algorithm).

Sizes chosen by measurement (2026-11-28, this machine: x86_64, 2 cores, Python 3.11, pyfastcdc 0.3.1)
on a 414 MiB corpus of 11,726 real files drawn at random from /usr/lib and /usr/share; "edit" is the
share of bytes that must be stored anew after inserting 16 random bytes at a random offset into 300
of those files (lower is better dedup); throughput includes a SHA-1 of every chunk:

    avg (min=avg/4, max=avg*4)  NC  chunks  MB/s  unique bytes  edit: new bytes
    16 KiB                      1   30,475  288   0.934         0.110
    16 KiB                      2   31,896  296   0.934         0.102
    64 KiB                      1   15,958  321   0.939         0.188
    64 KiB                      2   16,221  289   0.939         0.177
    256 KiB                     1   12,604  277   0.940         0.255
    1 MiB                       1   11,848  326   0.940         0.379

FastCDC alone cuts at ~1,200 MB/s (64 KiB avg), so chunking is never the bottleneck (zstd level 1
is: ~194 MB/s per core; keyed BLAKE3 ~2,400 MB/s; AES-256-GCM ~900 MB/s). Chunk size therefore
trades dedup of edits against index entries and per-chunk Python overhead: 64 KiB average with
normalized chunking 2 keeps edit dedup within ~8 points of 16 KiB while needing ~4x fewer index
entries for large files (16 K entries/GiB instead of 64 K), and 1 MiB (restic's average) loses
twice as much to an edit. Hence ``ChunkerParams(min=16 KiB, avg=64 KiB, max=256 KiB, nc=2)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from pyfastcdc import FastCDC


@dataclass(frozen=True)
class ChunkerParams:
    """FastCDC parameters; stored in the repository config so every writer cuts the same way."""

    min_size: int = 16 * 1024
    avg_size: int = 64 * 1024
    max_size: int = 256 * 1024
    normalized_chunking: int = 2

    def to_json(self) -> dict[str, int]:
        """Return the parameters as a JSON object."""
        return {"min": self.min_size, "avg": self.avg_size, "max": self.max_size, "nc": self.normalized_chunking}

    @classmethod
    def from_json(cls, doc: dict[str, int]) -> ChunkerParams:
        """Return the parameters read from :meth:`to_json` output."""
        return cls(doc["min"], doc["avg"], doc["max"], doc["nc"])


class Chunker:
    """Cuts files or buffers into content-defined chunks (memoryviews; valid until the file is closed)."""

    def __init__(self, params: ChunkerParams) -> None:
        self.params = params
        self._cdc = FastCDC(
            params.avg_size,
            min_size=params.min_size,
            max_size=params.max_size,
            normalized_chunking=params.normalized_chunking,  # type: ignore[arg-type]
        )

    def chunks_of_file(self, path: str | os.PathLike[str], size: int) -> Iterator[memoryview]:
        """Yield the chunks of the file at ``path`` (memory-mapped; an empty file yields nothing)."""
        if size == 0:
            return
        for chunk in self._cdc.cut_file(os.fspath(path)):
            yield chunk.data

    def chunks_of_stream(self, stream: BinaryIO) -> Iterator[memoryview]:
        """Yield the chunks of a binary stream read to its end (each valid until the next is yielded)."""
        for chunk in self._cdc.cut_stream(stream):
            yield chunk.data

    def chunks_of(self, data: bytes | memoryview) -> Iterator[memoryview]:
        """Yield the chunks of an in-memory buffer."""
        if not len(data):
            return
        for chunk in self._cdc.cut_buf(data):
            yield chunk.data
