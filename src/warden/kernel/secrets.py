"""Secrets at rest: sealed with AES-256-GCM under a master key kept in the data dir.

The master key never enters the database, so a stolen database alone yields no signing key and
no means to forge the activity-log chain.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_FILE = "secrets/master.key"


class MasterKey:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("master key must be 32 bytes")
        self._key = key

    @classmethod
    def load_or_create(cls, data_dir: Path) -> MasterKey:
        """Read ``DATA_DIR/secrets/master.key``, creating it (mode 0600) on first use."""
        path = data_dir / MASTER_KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_private_file(path, secrets.token_bytes(32))
        return cls(path.read_bytes())

    def derive(self, purpose: str) -> bytes:
        """A sub-key for one purpose, so no two uses share key material."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()

    def seal(self, plaintext: bytes, *, purpose: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self.derive(purpose)).encrypt(nonce, plaintext, purpose.encode())

    def open(self, sealed: bytes, *, purpose: str) -> bytes:
        return AESGCM(self.derive(purpose)).decrypt(sealed[:12], sealed[12:], purpose.encode())


def write_private_file(path: Path, data: bytes | str) -> None:
    """Create or replace ``path`` with mode 0600 from the first byte (never world-readable)."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    os.chmod(path, 0o600)


def hash_client_secret(secret: str) -> str:
    """SHA-256 of a client secret. Secrets are 256-bit random strings Warden generates, so a
    fast hash is enough (no dictionary to attack); passwords use argon2id instead."""
    return hashlib.sha256(secret.encode()).hexdigest()
