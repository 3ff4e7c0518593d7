"""Keys, blob ids and authenticated encryption.

* The repository **master key** is 32 random bytes made at ``init``. Three subkeys are derived
  from it with BLAKE3's key-derivation mode: the data key (AES-256-GCM), the id key (keyed BLAKE3
  chunk ids, so ids reveal nothing about content to someone without the key) and the MAC key.
* Every encrypted item is ``nonce(12) || AES-256-GCM(ciphertext || tag(16))`` with a fresh random
  96-bit nonce and associated data binding it to its place: a blob's id and type, an object's name.
  Swapping two blobs or renaming two objects therefore fails authentication.
* The master key is stored only **wrapped** in key slots (``keys/<slot>``), each under one
  key-encryption key (KEK): a password through argon2id, a platform-managed key or a
  customer-managed key (given as bytes or as wrap/unwrap callables, e.g. an HSM or KMS).
  Adding, removing or rotating a KEK rewrites one small slot object and never touches data.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import blake3
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import IntegrityError, WrongKey

NONCE = 12
TAG = 16
OVERHEAD = NONCE + TAG
ID_SIZE = 32


@dataclass(frozen=True)
class MasterKey:
    """The repository key and its derived subkeys."""

    raw: bytes
    data_key: bytes = field(init=False, repr=False)
    id_key: bytes = field(init=False, repr=False)
    mac_key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise ValueError("master key must be 32 bytes")
        derive = lambda ctx: blake3.blake3(self.raw, derive_key_context=f"warden-backup v1 {ctx}").digest()  # noqa: E731
        object.__setattr__(self, "data_key", derive("data encryption"))
        object.__setattr__(self, "id_key", derive("chunk id"))
        object.__setattr__(self, "mac_key", derive("config mac"))

    @classmethod
    def generate(cls) -> MasterKey:
        """Return a fresh random master key."""
        return cls(secrets.token_bytes(32))


class Cipher:
    """AES-256-GCM sealing with the data key, and keyed BLAKE3 ids."""

    def __init__(self, key: MasterKey) -> None:
        self._aead = AESGCM(key.data_key)
        self._id_key = key.id_key
        self._mac_key = key.mac_key

    def blob_id(self, data: bytes | memoryview) -> bytes:
        """Return the 32-byte keyed BLAKE3 id of plaintext ``data``."""
        return blake3.blake3(data, key=self._id_key).digest()

    def mac(self, data: bytes) -> bytes:
        """Return a 32-byte keyed MAC of ``data`` (for the plaintext repository config)."""
        return blake3.blake3(data, key=self._mac_key).digest()

    def seal(self, plaintext: bytes | memoryview, aad: bytes) -> bytes:
        """Return ``nonce || ciphertext || tag`` for ``plaintext`` bound to ``aad``."""
        nonce = os.urandom(NONCE)
        return nonce + self._aead.encrypt(nonce, bytes(plaintext), aad)

    def open(self, sealed: bytes | memoryview, aad: bytes) -> bytes:
        """Return the plaintext of :meth:`seal` output; raise IntegrityError if it was altered or moved."""
        sealed = memoryview(sealed)
        if len(sealed) < OVERHEAD:
            raise IntegrityError("sealed item too short")
        try:
            return self._aead.decrypt(sealed[:NONCE], sealed[NONCE:], aad)
        except InvalidTag:
            raise IntegrityError("authentication failed") from None


# --- key-encryption keys -------------------------------------------------------------------------

Wrap = Callable[[bytes, bytes], bytes]  # (plaintext master key, aad) -> wrapped bytes
Unwrap = Callable[[bytes, bytes], bytes]  # (wrapped bytes, aad) -> master key; raises on a wrong key


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost; the defaults follow RFC 9106's second recommended option (64 MiB, t=3, p=4)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4


@dataclass(frozen=True)
class Kek:
    """A key-encryption key: ``kind`` is ``password``, ``platform`` or ``customer``; ``key_id`` names it."""

    kind: str
    key_id: str
    secret: bytes | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    argon2: Argon2Params = Argon2Params()
    wrap: Wrap | None = field(default=None, repr=False)
    unwrap: Unwrap | None = field(default=None, repr=False)

    @classmethod
    def from_password(cls, password: str, argon2: Argon2Params | None = None) -> Kek:
        """Return a KEK derived from ``password`` with argon2id (a fresh salt per slot)."""
        return cls("password", "password", password=password, argon2=argon2 or Argon2Params())

    @classmethod
    def from_bytes(cls, kind: str, key_id: str, secret: bytes) -> Kek:
        """Return a platform- or customer-managed KEK held as 32 raw bytes."""
        if kind not in ("platform", "customer") or len(secret) != 32:
            raise ValueError("kind must be 'platform' or 'customer' and the key 32 bytes")
        return cls(kind, key_id, secret=secret)

    @classmethod
    def from_callables(cls, kind: str, key_id: str, wrap: Wrap, unwrap: Unwrap) -> Kek:
        """Return a KEK whose key never leaves its holder (HSM, KMS): it wraps and unwraps for us."""
        return cls(kind, key_id, wrap=wrap, unwrap=unwrap)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _unb64(s: str) -> bytes:
    return base64.b64decode(s)


def wrap_master_key(master: MasterKey, kek: Kek, repo_id: str, slot_id: str) -> bytes:
    """Return the JSON key-slot object holding ``master`` wrapped under ``kek``."""
    aad = f"warden-backup key slot {repo_id} {slot_id} {kek.kind}".encode()
    doc: dict[str, object] = {"version": 1, "slot": slot_id, "kind": kek.kind, "keyId": kek.key_id}
    if kek.kind == "password":
        salt = secrets.token_bytes(16)
        p = kek.argon2
        secret = (kek.password or "").encode()
        key = hash_secret_raw(secret, salt, p.time_cost, p.memory_kib, p.parallelism, 32, Type.ID)
        doc["kdf"] = {"alg": "argon2id", "salt": _b64(salt), "t": p.time_cost, "m": p.memory_kib, "p": p.parallelism}
        nonce = os.urandom(NONCE)
        doc["wrapped"] = _b64(nonce + AESGCM(key).encrypt(nonce, master.raw, aad))
    elif kek.wrap is not None:
        doc["wrapped"] = _b64(kek.wrap(master.raw, aad))
    else:
        assert kek.secret is not None
        nonce = os.urandom(NONCE)
        doc["wrapped"] = _b64(nonce + AESGCM(kek.secret).encrypt(nonce, master.raw, aad))
    return json.dumps(doc, sort_keys=True).encode()


def unwrap_master_key(slot: bytes, kek: Kek, repo_id: str) -> MasterKey:
    """Return the master key from a key-slot object; raise WrongKey if ``kek`` does not open it."""
    doc = json.loads(slot)
    if doc["kind"] != kek.kind or (kek.kind != "password" and doc["keyId"] != kek.key_id):
        raise WrongKey("key slot is for another key")
    aad = f"warden-backup key slot {repo_id} {doc['slot']} {doc['kind']}".encode()
    wrapped = _unb64(doc["wrapped"])
    try:
        if kek.kind == "password":
            k = doc["kdf"]
            key = hash_secret_raw((kek.password or "").encode(), _unb64(k["salt"]), k["t"], k["m"], k["p"], 32, Type.ID)
            raw = AESGCM(key).decrypt(wrapped[:NONCE], wrapped[NONCE:], aad)
        elif kek.unwrap is not None:
            raw = kek.unwrap(wrapped, aad)
        else:
            assert kek.secret is not None
            raw = AESGCM(kek.secret).decrypt(wrapped[:NONCE], wrapped[NONCE:], aad)
    except InvalidTag:
        raise WrongKey("wrong password or key") from None
    return MasterKey(raw)
