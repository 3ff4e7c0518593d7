"""Smart lockout in the store: parallel attempts on SQLite and PostgreSQL, repeats, familiarity."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from warden.identity import lockout_store
from warden.identity.tenant_settings import update_settings

from .mfa_support import add_user, any_db_fixture, mfa_db_fixture  # noqa: F401

KEY = b"k" * 32


def _attempt(db, user, password: str, now: float, familiarity: str = "unfamiliar") -> tuple[str, float | None]:  # type: ignore[no-untyped-def]
    """One sign-in attempt's lockout handling as the sign-in flow does it, in one write transaction."""
    with db.write() as conn:
        remaining = lockout_store.check_locked(conn, user.tenant_id, user.object_id, familiarity, now)
        if remaining is not None:
            return "refused", remaining
        locked = lockout_store.record_password_result(
            conn, user.tenant_id, user.object_id, familiarity, password, False, now, fingerprint_key=KEY
        )
        return "counted", locked


def test_fifty_parallel_wrong_passwords_count_at_most_the_threshold(any_db) -> None:  # type: ignore[no-untyped-def]
    user = add_user(any_db)
    now = time.time()
    start = threading.Barrier(50)

    def attempt(i: int) -> tuple[str, float | None]:
        start.wait()  # release all fifty at once
        return _attempt(any_db, user, f"wrong-password-{i}", now)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))
    counted = [locked for outcome, locked in results if outcome == "counted"]
    refused = [r for outcome, r in results if outcome == "refused"]
    assert len(counted) == 10, "exactly the threshold (10) of attempts may be counted"
    assert sum(1 for locked in counted if locked is not None) == 1, "one attempt, the tenth, starts the lockout"
    assert len(refused) == 40 and all(0 < r <= 60 for r in refused)
    with any_db.read() as conn:
        assert lockout_store.check_locked(conn, user.tenant_id, user.object_id, "unfamiliar", now) == pytest.approx(60)
        # One lockout, not several: nobody counted past the threshold into a second one.
        status = lockout_store.lock_status(conn, user.object_id, now)
    assert status["familiar"] is None and status["unfamiliar"] == pytest.approx(60)


def test_repeated_wrong_password_is_not_counted_twice(mfa_db) -> None:  # type: ignore[no-untyped-def]
    user = add_user(mfa_db)
    now = time.time()
    for _ in range(20):
        assert _attempt(mfa_db, user, "same-stale-password", now) == ("counted", None)
    for i in range(8):
        assert _attempt(mfa_db, user, f"other-{i}", now) == ("counted", None)
    # 1 distinct + 8 distinct = 9 counted; the tenth distinct one locks.
    outcome, locked = _attempt(mfa_db, user, "tenth", now)
    assert outcome == "counted" and locked == pytest.approx(60)


def test_familiar_and_unfamiliar_counters_are_independent(mfa_db) -> None:  # type: ignore[no-untyped-def]
    user = add_user(mfa_db)
    now = time.time()
    for i in range(10):
        _attempt(mfa_db, user, f"attack-{i}", now, "unfamiliar")
    with mfa_db.write() as conn:
        assert lockout_store.check_locked(conn, user.tenant_id, user.object_id, "unfamiliar", now) is not None
        assert lockout_store.check_locked(conn, user.tenant_id, user.object_id, "familiar", now) is None
        # The user at home still signs in; that success does not unlock the attacker's side.
        assert (
            lockout_store.record_password_result(conn, user.tenant_id, user.object_id, "familiar", "right", True, now)
            is None
        )
        assert lockout_store.check_locked(conn, user.tenant_id, user.object_id, "unfamiliar", now) is not None


def test_lockouts_grow_a_success_resets_and_the_tenant_threshold_applies(mfa_db) -> None:  # type: ignore[no-untyped-def]
    user = add_user(mfa_db)
    with mfa_db.write() as conn:
        update_settings(conn, user.tenant_id, {"lockoutThreshold": 3, "lockoutDurationSeconds": 30})
    now = time.time()
    results = [_attempt(mfa_db, user, f"a{i}", now) for i in range(3)]
    assert results[-1] == ("counted", pytest.approx(30)) and results[0] == ("counted", None)
    now += 31  # first lock over; the next three lock for twice as long
    results = [_attempt(mfa_db, user, f"b{i}", now) for i in range(3)]
    assert results[-1] == ("counted", pytest.approx(60))
    now += 61
    with mfa_db.write() as conn:
        lockout_store.record_password_result(conn, user.tenant_id, user.object_id, "unfamiliar", "right", True, now)
    assert [_attempt(mfa_db, user, f"c{i}", now)[1] for i in range(3)][-1] == pytest.approx(30)
    with mfa_db.write() as conn:
        assert lockout_store.reset_lockout(conn, user.object_id)
        assert lockout_store.check_locked(conn, user.tenant_id, user.object_id, "unfamiliar", now) is None


def test_unknown_familiarity_is_refused(mfa_db) -> None:  # type: ignore[no-untyped-def]
    user = add_user(mfa_db)
    with mfa_db.read() as conn, pytest.raises(ValueError, match="familiarity"):
        lockout_store.check_locked(conn, user.tenant_id, user.object_id, "sometimes", 0.0)
