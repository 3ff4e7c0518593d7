"""The chunk store's exception tree: everything it raises derives from :class:`ChunkStoreError`."""

from __future__ import annotations


class ChunkStoreError(Exception):
    """Root of every error raised by ``warden.backup.chunkstore``."""


class ObjectNotFound(ChunkStoreError, KeyError):
    """A backend object (pack, index file, snapshot, key...) does not exist."""


class InvalidObjectName(ChunkStoreError, ValueError):
    """A backend object name is not of the form ``segment/segment`` with safe characters."""


class RepositoryExists(ChunkStoreError):
    """``init`` was asked to create a repository where one already exists."""


class RepositoryNotFound(ChunkStoreError):
    """``open`` found no repository (no ``config`` object) in the backend."""


class WrongKey(ChunkStoreError):
    """No key slot could be unwrapped with the password or key-encryption key given."""


class IntegrityError(ChunkStoreError):
    """Stored data failed authentication or its id did not match its content (damage or tampering)."""


class BlobNotFound(ChunkStoreError, KeyError):
    """A blob id is not in the index (or its pack is gone)."""


class SnapshotNotFound(ChunkStoreError, KeyError):
    """No snapshot matches the id or prefix given (or the prefix is ambiguous)."""


class BackupError(ChunkStoreError):
    """A backup could not be committed; no snapshot was written."""


class RestoreError(ChunkStoreError):
    """Some files could not be restored; ``errors`` lists them, every other file was restored."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} restore error(s): " + "; ".join(errors[:5]))
        self.errors = errors
