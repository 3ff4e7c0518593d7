"""The periodic risk runner and the synchronous hook over a real migrated database: detections are
stored once (re-runs, a rewound cursor and the hook seeing an event first add nothing), user risk
follows them, and tenants stay apart."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from warden.identity.events import record_signin
from warden.identity.risk_store import STREAM, assess_signin, run_detections
from warden.identity.schema import identity_log_exports, risk_detections, users
from warden.identity.users import create_user, get_user
from warden.kernel.clock import utcnow
from warden.kernel.db import Database
from warden.kernel.schema import tenants
from warden.kernel.settings import Settings

TENANT = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-8888-7777-6666-555555555555"


@pytest.fixture(name="db")
def db_fixture(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'control.db'}")
    db.migrate()
    with db.write() as conn:
        for tenant_id in (TENANT, OTHER):
            conn.execute(insert(tenants).values(id=tenant_id, display_name="t", created_at=utcnow()))
    yield db
    db.dispose()


def _count(db: Database, tenant_id: str = TENANT, **where: str) -> int:
    with db.read() as conn:
        query = select(func.count()).select_from(risk_detections).where(risk_detections.c.tenant_id == tenant_id)
        for column, value in where.items():
            query = query.where(risk_detections.c[column] == value)
        return int(conn.execute(query).scalar() or 0)


def _spray(db: Database, tenant_id: str, ip: str, accounts: int) -> list[str]:
    with db.write() as conn:
        ids = [
            create_user(conn, tenant_id, f"user{i}-{ip}@contoso.test", f"User {i}").object_id for i in range(accounts)
        ]
        for user_id in ids:
            record_signin(
                conn,
                tenant_id,
                {"userId": user_id, "ipAddress": ip, "status": {"errorCode": 50126, "failureReason": "Invalid"}},
            )
    return ids


def test_runner_stores_each_detection_once(db: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    ids = _spray(db, TENANT, "192.0.2.10", 10)
    _spray(db, OTHER, "192.0.2.10", 9)  # the same IP in another tenant does not add up
    assert run_detections(db, settings) == 10
    assert _count(db, risk_event_type="passwordSpray") == 10
    assert _count(db, OTHER) == 0
    assert run_detections(db, settings) == 0  # nothing new since the cursor
    with db.write() as conn:  # rewind: the same evidence yields the same IDs
        conn.execute(
            update(identity_log_exports)
            .where(identity_log_exports.c.tenant_id == TENANT, identity_log_exports.c.stream == STREAM)
            .values(last_seq=0)
        )
    assert run_detections(db, settings) == 0
    assert _count(db) == 10
    with db.read() as conn:
        user = get_user(conn, TENANT, ids[0])
    assert (user.risk_level, user.risk_state) == ("medium", "atRisk")


def test_synchronous_hook_then_runner_adds_nothing(db: Database, tmp_path: Path) -> None:
    listed = tmp_path / "anonymous.txt"
    listed.write_text("203.0.113.66\n")
    settings = Settings(data_dir=tmp_path, identity_anonymous_ips_file=listed)
    with db.write() as conn:
        user = create_user(conn, TENANT, "carol@contoso.test", "Carol")
        record = record_signin(conn, TENANT, {"userId": user.object_id, "ipAddress": "203.0.113.66"})
        added = assess_signin(conn, settings, TENANT, record)
    assert [d["riskEventType"] for d in added] == ["anonymizedIPAddress"]
    assert added[0]["detectionTimingType"] == "realtime" and added[0]["requestId"] == record["id"]
    assert run_detections(db, settings) == 0
    assert _count(db) == 1


def test_leaked_credentials_flag_makes_the_user_high_risk(db: Database, tmp_path: Path) -> None:
    leaked = tmp_path / "leaked.txt"
    leaked.write_text(hashlib.sha1(b"Winter2026!").hexdigest() + ":9\n")
    settings = Settings(data_dir=tmp_path, identity_leaked_password_hashes_file=leaked)
    from warden.identity.risk.hooks import LEAKED_CREDENTIALS, check_leaked_password

    with db.write() as conn:
        user = create_user(conn, TENANT, "dave@contoso.test", "Dave")
        flags = [LEAKED_CREDENTIALS] if check_leaked_password(settings, "Winter2026!") else []
        record_signin(conn, TENANT, {"userId": user.object_id, "ipAddress": "198.51.100.1", "riskEventTypes_v2": flags})
    assert run_detections(db, settings) == 1
    with db.read() as conn:
        stored = get_user(conn, TENANT, user.object_id)
        level = conn.execute(select(users.c.risk_level).where(users.c.object_id == user.object_id)).scalar()
    assert (stored.risk_state, level) == ("atRisk", "high")


def test_password_change_remediates_user_risk(db: Database, tmp_path: Path) -> None:
    from warden.identity.risk_store import remediate_user_risk

    ids = _spray(db, TENANT, "192.0.2.99", 10)
    run_detections(db, Settings(data_dir=tmp_path))
    with db.write() as conn:
        assert remediate_user_risk(conn, TENANT, ids[0])
        assert not remediate_user_risk(conn, TENANT, ids[0])  # nothing left to remediate
        assert not remediate_user_risk(conn, OTHER, ids[1])  # another tenant's user is not found
    with db.read() as conn:
        user = get_user(conn, TENANT, ids[0])
        states = set(
            conn.execute(select(risk_detections.c.risk_state).where(risk_detections.c.user_id == ids[0])).scalars()
        )
    assert (user.risk_level, user.risk_state) == ("none", "remediated") and states == {"remediated"}
    assert _count(db, risk_state="atRisk") == 9  # the other users' detections stay open
