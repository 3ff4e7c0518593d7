"""Smart lockout as a pure state machine (issue 8, item 5).

One :class:`LockoutState` exists per (user, location familiarity), so an attacker failing from an
unfamiliar place does not lock the user out of their familiar one. Functions take a state and
return a new one; nothing here reads the clock or a store.

Atomicity is the store's job: the caller must read, apply :func:`record_failure` and write back
in one transaction (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) or
with a compare-and-swap on a version column, or parallel attempts could each see the count below
the threshold and all pass.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from enum import StrEnum


class Familiarity(StrEnum):
    """Whether the sign-in comes from a location the user has signed in from before."""

    FAMILIAR = "familiar"
    UNFAMILIAR = "unfamiliar"


@dataclass(frozen=True)
class LockoutPolicy:
    """Tunable limits. Durations are seconds; the n-th lockout lasts
    ``min(first_lockout_seconds * growth ** (n - 1), max_lockout_seconds)``."""

    threshold: int = 10
    first_lockout_seconds: float = 60.0
    growth: float = 2.0
    max_lockout_seconds: float = 24 * 3600.0
    # How many distinct wrong passwords are remembered to recognise a repeat. Entra remembers the
    # last three, which covers a user retrying the same stale password from several devices.
    remembered_passwords: int = 3
    # With no failure for this long the state starts over, so a user attacked once a month does
    # not inherit ever longer lockouts from attacks long past.
    forget_after_seconds: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("threshold must be at least 1")
        if self.first_lockout_seconds <= 0 or self.max_lockout_seconds < self.first_lockout_seconds:
            raise ValueError("need 0 < first_lockout_seconds <= max_lockout_seconds")
        if self.growth < 1:
            raise ValueError("growth must be at least 1 so lockouts never get shorter")
        if self.remembered_passwords < 0:
            raise ValueError("remembered_passwords must not be negative")

    def lockout_seconds(self, lockouts: int) -> float:
        """Return the duration of the ``lockouts``-th lockout (1-based), capped at the maximum."""
        exponent = max(lockouts - 1, 0)
        # Cap the exponent's effect before multiplying so a long history cannot overflow a float.
        duration = self.first_lockout_seconds
        for _ in range(exponent):
            duration *= self.growth
            if duration >= self.max_lockout_seconds:
                return self.max_lockout_seconds
        return min(duration, self.max_lockout_seconds)


DEFAULT_POLICY = LockoutPolicy()


@dataclass(frozen=True)
class LockoutState:
    """Counters for one user at one familiarity. Immutable; the functions below return new states.

    ``failures`` counts distinct wrong passwords since the last lockout or success, ``lockouts``
    how many lockouts have happened since the last success (it drives the growing duration).
    """

    user: str
    familiarity: Familiarity
    failures: int = 0
    lockouts: int = 0
    locked_until: float | None = None
    last_failure_at: float | None = None
    recent_fingerprints: tuple[str, ...] = ()


def password_fingerprint(password: str, key: bytes) -> str:
    """Return a keyed HMAC-SHA256 fingerprint of a wrong password, for recognising repeats.

    Keyed and truncated on purpose: wrong passwords are often near-misses of the right one, so an
    unkeyed hash in the store would be an offline guessing aid.
    """
    return hmac.new(key, password.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def is_locked(state: LockoutState, now: float) -> bool:
    """Return True while ``now`` is before the state's ``locked_until``."""
    return state.locked_until is not None and now < state.locked_until


def record_failure(
    state: LockoutState, password_hash_fingerprint: str, now: float, policy: LockoutPolicy = DEFAULT_POLICY
) -> tuple[LockoutState, float | None]:
    """Count a failed sign-in and return ``(new_state, locked_until)``.

    ``locked_until`` is the time the account is locked until when it is locked after this call,
    else None. While already locked the attempt is not counted (the caller should refuse it before
    even checking the password) and the current lock end is returned. A wrong password equal to
    one of the last ``policy.remembered_passwords`` is not counted again.
    """
    if is_locked(state, now):
        return state, state.locked_until
    if state.last_failure_at is not None and now - state.last_failure_at >= policy.forget_after_seconds:
        state = LockoutState(state.user, state.familiarity)
    if password_hash_fingerprint in state.recent_fingerprints:
        return replace(state, last_failure_at=now), None
    remembered = (*state.recent_fingerprints, password_hash_fingerprint)
    if policy.remembered_passwords:
        remembered = remembered[-policy.remembered_passwords :]
    else:
        remembered = ()
    failures = state.failures + 1
    if failures < policy.threshold:
        return replace(state, failures=failures, last_failure_at=now, recent_fingerprints=remembered), None
    # Threshold reached: lock, and start counting afresh for after the lock; the lockout count is
    # kept so the next lockout lasts longer.
    lockouts = state.lockouts + 1
    locked_until = now + policy.lockout_seconds(lockouts)
    new_state = replace(
        state, failures=0, lockouts=lockouts, locked_until=locked_until, last_failure_at=now, recent_fingerprints=()
    )
    return new_state, locked_until


def record_success(state: LockoutState) -> LockoutState:
    """Return a fresh state for the same user and familiarity: a right password clears everything.

    The caller refuses sign-ins while :func:`is_locked`, so a success never ends a lock early.
    """
    return LockoutState(state.user, state.familiarity)
