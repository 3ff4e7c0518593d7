"""Leader leases: several API processes share one database, and periodic work (retention,
schedules, compliance scans) must run in one of them at a time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, update

from warden.kernel.clock import aware, utcnow
from warden.kernel.db import Database
from warden.kernel.schema import leases


def try_acquire(db: Database, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew lease ``name`` for ``holder``; return whether ``holder`` now holds it."""
    now = utcnow()
    with db.write() as conn:
        row = conn.execute(select(leases).where(leases.c.name == name).with_for_update()).first()
        if row is None:
            conn.execute(insert(leases).values(name=name, holder=holder, expires_at=now + ttl))
            return True
        if row.holder == holder or aware(row.expires_at) < now:
            conn.execute(update(leases).where(leases.c.name == name).values(holder=holder, expires_at=now + ttl))
            return True
        return False
