"""The storage backend protocol every repository backend implements (local directory now; S3, HTTPS later).

A backend stores opaque, immutable-once-written objects under slash-separated names such as
``data/3f/3f9a...`` or ``snapshots/ab12...``. It knows nothing of encryption or the format.
``tests/backup/test_backend_conformance.py`` holds the one conformance class every backend passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from ..errors import InvalidObjectName

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe object name (``seg[/seg...]``, no ``..``); raise InvalidObjectName."""
    parts = name.split("/")
    if not name or any(not _SEGMENT.match(p) or p in (".", "..") for p in parts):
        raise InvalidObjectName(f"invalid object name {name!r}")
    return name


@runtime_checkable
class Backend(Protocol):
    """Object storage for a repository. Names are checked with :func:`check_name`."""

    def put(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` under ``name`` atomically and durably: when this returns, a reader sees the
        whole object or (before) nothing, and the object survives a crash. Replaces an existing object."""
        ...

    def get(self, name: str) -> bytes:
        """Return the whole object; raise ObjectNotFound."""
        ...

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Return ``length`` bytes from ``offset`` (fewer only at the end of the object); raise ObjectNotFound."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the names of complete objects starting with ``prefix`` (no order promised)."""
        ...

    def delete(self, name: str) -> None:
        """Remove the object; deleting a missing object is not an error (deletes are idempotent)."""
        ...

    def exists(self, name: str) -> bool:
        """Return whether a complete object is stored under ``name``."""
        ...
