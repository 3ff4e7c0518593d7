"""Token signing keys: RS256 keys sealed in the database, rotated by ``warden keys rotate``.

A retired key no longer signs but stays in the JWKS until every token it signed has expired, so
rotation never invalidates a token early.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import timedelta

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, insert, select, update

from warden.kernel.clock import aware, utcnow
from warden.kernel.db import Database
from warden.kernel.schema import signing_keys
from warden.kernel.secrets import MasterKey

_PURPOSE = "token-signing-key"
# Servers re-read keys this often, so a rotation done by another process is picked up.
CACHE_SECONDS = 30.0
MIN_FORCED_RELOAD_SECONDS = 2.0
CLOCK_SKEW = timedelta(minutes=5)


class SigningKeys:
    def __init__(self, db: Database, master_key: MasterKey, token_lifetime: timedelta) -> None:
        self._db = db
        self._master_key = master_key
        self._lifetime = token_lifetime
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._active: RSAKey | None = None
        self._keyset = KeySet([])

    def ensure_key(self) -> str:
        """Create the first signing key if there is none; return the active key id."""
        with self._db.write() as conn:
            row = conn.execute(select(signing_keys.c.kid).where(signing_keys.c.retired_at.is_(None))).first()
            if row:
                return row.kid
            return self._insert_new_key(conn)

    def rotate(self) -> str:
        """Retire the active key, create a new one, drop keys whose tokens have all expired."""
        now = utcnow()
        with self._db.write() as conn:
            conn.execute(update(signing_keys).where(signing_keys.c.retired_at.is_(None)).values(retired_at=now))
            kid = self._insert_new_key(conn)
            conn.execute(delete(signing_keys).where(signing_keys.c.retired_at < now - self._retention))
        self._loaded_at = 0.0
        return kid

    @property
    def _retention(self) -> timedelta:
        return self._lifetime + CLOCK_SKEW + timedelta(seconds=CACHE_SECONDS)

    def signing_key(self) -> RSAKey:
        self._refresh()
        if self._active is None:
            raise RuntimeError("no active signing key: run `warden init`")
        return self._active

    def keyset(self, *, force: bool = False) -> KeySet:
        """Public keys that verify tokens (active plus retired-but-unexpired)."""
        self._refresh(force=force)
        return self._keyset

    def jwks(self) -> dict:
        return {"keys": [key.as_dict(private=False) for key in self.keyset().keys]}

    def _refresh(self, *, force: bool = False) -> None:
        age = time.monotonic() - self._loaded_at
        # A forced reload still waits a moment, so a flood of bad tokens cannot hammer the database.
        if age < (MIN_FORCED_RELOAD_SECONDS if force else CACHE_SECONDS):
            return
        with self._lock:
            cutoff = utcnow() - self._retention
            with self._db.read() as conn:
                rows = conn.execute(select(signing_keys).order_by(signing_keys.c.created_at)).all()
            active = None
            public: list[RSAKey] = []
            for row in rows:
                if row.retired_at is not None and aware(row.retired_at) < cutoff:
                    continue
                public.append(RSAKey.import_key(row.public_jwk))
                if row.retired_at is None:
                    pem = self._master_key.open(row.sealed_private_key, purpose=_PURPOSE)
                    active = RSAKey.import_key(pem, parameters={"kid": row.kid, "alg": "RS256", "use": "sig"})
            self._active = active
            self._keyset = KeySet(public)
            self._loaded_at = time.monotonic()

    def _insert_new_key(self, conn) -> str:  # type: ignore[no-untyped-def]
        kid = secrets.token_urlsafe(16)
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})
        conn.execute(
            insert(signing_keys).values(
                kid=kid,
                sealed_private_key=self._master_key.seal(key.as_pem(private=True), purpose=_PURPOSE),
                public_jwk=key.as_dict(private=False),
                created_at=utcnow(),
                retired_at=None,
            )
        )
        return kid
