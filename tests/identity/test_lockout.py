"""Smart lockout state machine."""

from __future__ import annotations

import pytest

from warden.identity.lockout import (
    DEFAULT_POLICY,
    Familiarity,
    LockoutPolicy,
    LockoutState,
    is_locked,
    password_fingerprint,
    record_failure,
    record_success,
)

KEY = b"k" * 32


def _fail(state, count, now, policy=DEFAULT_POLICY, prefix="wrong"):
    locked = None
    for i in range(count):
        state, locked = record_failure(state, password_fingerprint(f"{prefix}-{i}", KEY), now, policy)
    return state, locked


def test_threshold_locks_on_tenth_distinct_failure():
    state = LockoutState("alice", Familiarity.UNFAMILIAR)
    state, locked = _fail(state, 9, 1000.0)
    assert locked is None and state.failures == 9 and not is_locked(state, 1000.0)
    state, locked = record_failure(state, password_fingerprint("tenth", KEY), 1000.0)
    assert locked == 1060.0
    assert is_locked(state, 1000.0) and is_locked(state, 1059.9) and not is_locked(state, 1060.0)


def test_attempts_while_locked_are_not_counted():
    state, locked = _fail(LockoutState("alice", Familiarity.FAMILIAR), 10, 0.0)
    again, still = record_failure(state, password_fingerprint("more", KEY), 30.0)
    assert again == state and still == locked == 60.0


def test_lockout_grows_with_each_repeat_and_is_capped():
    policy = LockoutPolicy(threshold=3, first_lockout_seconds=60, growth=2.0, max_lockout_seconds=300)
    state, now, durations = LockoutState("bob", Familiarity.FAMILIAR), 0.0, []
    for _ in range(5):
        state, locked = _fail(state, 3, now, policy, prefix=f"round{now}")
        durations.append(locked - now)
        now = locked  # wait out the lock, then fail again
    assert durations == [60, 120, 240, 300, 300]
    assert policy.lockout_seconds(10_000) == 300


def test_same_wrong_password_repeated_is_not_counted():
    state = LockoutState("carol", Familiarity.FAMILIAR)
    stale = password_fingerprint("Autumn2025!", KEY)
    for _ in range(50):
        state, locked = record_failure(state, stale, 100.0)
        assert locked is None
    assert state.failures == 1 and not is_locked(state, 100.0)


def test_only_recent_wrong_passwords_are_remembered():
    policy = LockoutPolicy(threshold=10, remembered_passwords=2)
    state = LockoutState("carol", Familiarity.FAMILIAR)
    fp = [password_fingerprint(p, KEY) for p in ("a", "b", "c")]
    for f in (fp[0], fp[1], fp[1], fp[2], fp[0]):  # "a" fell out of the two remembered, so counts again
        state, _ = record_failure(state, f, 1.0, policy)
    assert state.failures == 4


def test_separate_counters_per_familiarity():
    familiar = LockoutState("dave", Familiarity.FAMILIAR)
    unfamiliar = LockoutState("dave", Familiarity.UNFAMILIAR)
    unfamiliar, locked = _fail(unfamiliar, 10, 0.0)
    assert locked is not None and is_locked(unfamiliar, 1.0)
    assert not is_locked(familiar, 1.0)
    familiar, locked = _fail(familiar, 9, 1.0)
    assert locked is None and not is_locked(familiar, 1.0)


def test_success_resets_counters_and_growth():
    policy = LockoutPolicy(threshold=2)
    state, locked = _fail(LockoutState("erin", Familiarity.FAMILIAR), 2, 0.0, policy)
    assert state.lockouts == 1
    state = record_success(state)
    assert state == LockoutState("erin", Familiarity.FAMILIAR)
    state, locked = _fail(state, 2, 100.0, policy, prefix="later")
    assert locked == 160.0  # back to the first duration


def test_success_resets_partial_count():
    state, _ = _fail(LockoutState("erin", Familiarity.FAMILIAR), 9, 0.0)
    state = record_success(state)
    state, locked = _fail(state, 9, 1.0, prefix="again")
    assert locked is None and state.failures == 9


def test_old_history_is_forgotten():
    policy = LockoutPolicy(threshold=2, forget_after_seconds=3600)
    state, _ = _fail(LockoutState("frank", Familiarity.FAMILIAR), 2, 0.0, policy)
    state, _ = _fail(state, 1, 100.0, policy, prefix="b")
    state, locked = _fail(state, 2, 100.0 + 3600, policy, prefix="c")
    assert state.lockouts == 1 and locked == 100.0 + 3600 + 60


def test_fingerprint_is_keyed():
    assert password_fingerprint("x", KEY) == password_fingerprint("x", KEY)
    assert password_fingerprint("x", KEY) != password_fingerprint("x", b"other-key")
    assert password_fingerprint("x", KEY) != password_fingerprint("y", KEY)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0},
        {"first_lockout_seconds": 0},
        {"growth": 0.5},
        {"first_lockout_seconds": 100, "max_lockout_seconds": 50},
        {"remembered_passwords": -1},
    ],
)
def test_bad_policy_rejected(kwargs):
    with pytest.raises(ValueError):
        LockoutPolicy(**kwargs)
