"""The heap thresholds a backup sets (chunkstore/heap.py)."""

from __future__ import annotations

import platform

import pytest

from warden.backup.chunkstore.heap import bound_heap_retention


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_thresholds_are_set_once_on_glibc() -> None:
    assert bound_heap_retention() is True
    assert bound_heap_retention() is True  # idempotent: the second call changes nothing and reports the same
