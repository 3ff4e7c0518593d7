"""Smart lockout state in the control-plane store (``lockout_states``), one row per user and familiarity.

The state machine is :mod:`warden.identity.lockout`; this module reads a state, applies it and
writes it back. Callers run these functions inside ``platform.db.write()``, which serializes
writers (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so fifty parallel wrong
passwords are counted one after another and cannot all see a count below the threshold.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from warden.identity.lockout import (
    Familiarity,
    LockoutPolicy,
    LockoutState,
    is_locked,
    password_fingerprint,
    record_failure,
    record_success,
)
from warden.identity.schema import lockout_states
from warden.identity.tenant_settings import get_settings
from warden.kernel.clock import utcnow

# Used only when a caller passes no fingerprint key: repeats are then recognised within this
# process only. The server passes ``master_key.derive("lockout")`` so every worker agrees.
_PROCESS_FINGERPRINT_KEY = secrets.token_bytes(32)


def policy_for(conn: Connection, tenant_id: str) -> LockoutPolicy:
    """Return the lockout policy from the tenant's settings (threshold and first lockout duration)."""
    settings = get_settings(conn, tenant_id)
    duration = float(settings.lockout_duration_seconds)
    return LockoutPolicy(
        threshold=settings.lockout_threshold,
        first_lockout_seconds=duration,
        max_lockout_seconds=max(24 * 3600.0, duration),
    )


def _familiarity(value: str | Familiarity) -> Familiarity:
    try:
        return Familiarity(value)
    except ValueError:
        raise ValueError(f"familiarity must be 'familiar' or 'unfamiliar', not {value!r}") from None


def _load(conn: Connection, user_id: str, familiarity: Familiarity) -> tuple[LockoutState, bool]:
    """Return (state, stored?) for the user at this familiarity; a fresh state when none is stored."""
    row = conn.execute(
        select(lockout_states.c.state).where(
            lockout_states.c.user_id == user_id, lockout_states.c.familiarity == familiarity.value
        )
    ).first()
    if row is None:
        return LockoutState(user_id, familiarity), False
    doc: dict[str, Any] = row.state
    return (
        LockoutState(
            user=user_id,
            familiarity=familiarity,
            failures=int(doc.get("failures", 0)),
            lockouts=int(doc.get("lockouts", 0)),
            locked_until=doc.get("lockedUntil"),
            last_failure_at=doc.get("lastFailureAt"),
            recent_fingerprints=tuple(doc.get("recentFingerprints", ())),
        ),
        True,
    )


def _save(conn: Connection, tenant_id: str, state: LockoutState, stored: bool) -> None:
    doc = {
        "failures": state.failures,
        "lockouts": state.lockouts,
        "lockedUntil": state.locked_until,
        "lastFailureAt": state.last_failure_at,
        "recentFingerprints": list(state.recent_fingerprints),
    }
    key = (lockout_states.c.user_id == state.user, lockout_states.c.familiarity == state.familiarity.value)
    if stored:
        conn.execute(update(lockout_states).where(*key).values(state=doc, updated_at=utcnow()))
    else:
        conn.execute(
            insert(lockout_states).values(
                user_id=state.user,
                familiarity=state.familiarity.value,
                tenant_id=tenant_id,
                state=doc,
                updated_at=utcnow(),
            )
        )


def check_locked(conn: Connection, tenant_id: str, user_id: str, familiarity: str, now: float) -> float | None:
    """Return the seconds left while the user is locked out at this familiarity, else None.

    Call it before checking the password: a locked account's attempts are refused unchecked.
    Raises ValueError for an unknown familiarity.
    """
    state, _ = _load(conn, user_id, _familiarity(familiarity))
    if is_locked(state, now):
        return float(state.locked_until - now)  # type: ignore[operator]
    return None


def record_password_result(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    familiarity: str,
    password: str,
    ok: bool,
    now: float,
    *,
    fingerprint_key: bytes | None = None,
    policy: LockoutPolicy | None = None,
) -> float | None:
    """Record a password check and return the seconds the account is locked for, else None.

    A right password (``ok``) clears the counters of this familiarity; a wrong one is counted
    unless it repeats one of the last few wrong passwords, and the attempt that reaches the
    threshold starts a lockout (its length grows with each repeat). While already locked nothing
    is counted and the remaining seconds are returned. ``fingerprint_key`` should be
    ``master_key.derive("lockout")``; ``policy`` defaults to the tenant's settings.
    Must run inside ``db.write()``. Raises ValueError for an unknown familiarity.
    """
    fam = _familiarity(familiarity)
    state, stored = _load(conn, user_id, fam)
    if is_locked(state, now):
        return float(state.locked_until - now)  # type: ignore[operator]
    if ok:
        if stored:
            _save(conn, tenant_id, record_success(state), stored)
        return None
    fingerprint = password_fingerprint(password, fingerprint_key or _PROCESS_FINGERPRINT_KEY)
    new_state, locked_until = record_failure(state, fingerprint, now, policy or policy_for(conn, tenant_id))
    _save(conn, tenant_id, new_state, stored)
    return float(locked_until - now) if locked_until is not None else None


def lock_status(conn: Connection, user_id: str, now: float) -> dict[str, float | None]:
    """Return ``{"familiar": seconds|None, "unfamiliar": seconds|None}``: the time left on each lock."""
    result: dict[str, float | None] = {}
    for fam in Familiarity:
        state, _ = _load(conn, user_id, fam)
        result[fam.value] = float(state.locked_until - now) if is_locked(state, now) else None  # type: ignore[operator]
    return result


def reset_lockout(conn: Connection, user_id: str) -> bool:
    """Forget every lockout counter of the user (admin unlock, password reset). Returns True if any existed."""
    return conn.execute(delete(lockout_states).where(lockout_states.c.user_id == user_id)).rowcount > 0
