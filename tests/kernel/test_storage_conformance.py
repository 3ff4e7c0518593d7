"""Control-plane storage conformance: the same behaviour on SQLite and on PostgreSQL.

Every test takes the ``database`` fixture, which runs it once per backend on a freshly migrated
database (see ``conftest.py``).
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections import Counter
from datetime import timedelta
from importlib import resources
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from warden.kernel import jobs as jobs_module
from warden.kernel.activity import GENESIS, ActivityLog, ChainProblem, EventInput, canonical_json
from warden.kernel.clock import utcnow
from warden.kernel.db import Database
from warden.kernel.jobs import FAILED, MAX_ATTEMPTS, QUEUED, RUNNING, SUCCEEDED, JobRunner, enqueue
from warden.kernel.schema import activity_chains, activity_events, jobs, leases, metadata, tenants
from warden.kernel.secrets import MasterKey

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0b4f9c1e-6c8a-4d55-9d0e-5d0f3b6a7c21"
SUBSCRIPTION = "6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"


def _run_threads(count: int, target: Any) -> list[BaseException]:
    """Run ``target(index)`` on ``count`` threads released together; return what they raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            target(index)
        except BaseException as error:  # reported to the test, which fails on it
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    return errors


def _event(tenant_id: str = TENANT, n: int = 0, **overrides: Any) -> EventInput:
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "operation_name": "Microsoft.Resources/subscriptions/resourceGroups/write",
        "resource_id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-{n}",
        "status": "Succeeded",
        "sub_status": "Created",
        "http_status": 201,
        "caller": "11111111-2222-3333-4444-555555555555",
        "claims": {"oid": "11111111-2222-3333-4444-555555555555", "tid": tenant_id},
        "correlation_id": str(uuid.uuid4()),
        "operation_id": str(uuid.uuid4()),
        "method": "PUT",
        "client_ip": "127.0.0.1",
    }
    fields.update(overrides)
    return EventInput(**fields)


@pytest.fixture
def activity() -> ActivityLog:
    return ActivityLog(MasterKey(os.urandom(32)))


def _append(db: Database, log: ActivityLog, count: int, tenant_id: str = TENANT) -> list[dict[str, Any]]:
    recorded = []
    for n in range(count):
        with db.write() as conn:
            recorded.append(log.record(conn, _event(tenant_id, n)))
    return recorded


def _rows(db: Database, tenant_id: str = TENANT) -> list[Any]:
    with db.read() as conn:
        query = select(activity_events).where(activity_events.c.tenant_id == tenant_id)
        return conn.execute(query.order_by(activity_events.c.seq)).all()


def _verify(db: Database, log: ActivityLog, tenant_ids: list[str] | None = None) -> list[ChainProblem]:
    with db.read() as conn:
        return log.verify(conn, tenant_ids)


def _job(db: Database, job_id: str) -> Any:
    with db.read() as conn:
        return conn.execute(select(jobs).where(jobs.c.id == job_id)).one()


def _make_ready(db: Database, job_id: str) -> None:
    """Skip a retry's backoff by moving ``run_after`` into the past."""
    with db.write() as conn:
        past = utcnow() - timedelta(seconds=1)
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(run_after=past))


class TestStorageConformance:
    # --- schema and transactions -------------------------------------------------------------

    def test_migrations_create_every_table_and_are_idempotent(self, database: Database) -> None:
        with database.write() as conn:
            conn.execute(insert(tenants).values(id=TENANT, display_name="Contoso", created_at=utcnow()))
        database.migrate()
        database.migrate()

        with database.read() as conn:
            names = set(inspect(conn).get_table_names())
            versions = [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]
            tenant_names = conn.execute(select(tenants.c.display_name)).scalars().all()
        assert set(metadata.tables) <= names
        config = Config()
        with resources.as_file(resources.files("warden.kernel") / "migrations") as path:
            config.set_main_option("script_location", str(path))
            heads = ScriptDirectory.from_config(config).get_heads()
        assert sorted(versions) == sorted(heads)  # services' migrations may branch; all heads applied
        assert tenant_names == ["Contoso"]  # re-running migrations kept the data

    def test_migrations_match_the_table_definitions(self, database: Database) -> None:
        import warden.authz.pim.schema
        import warden.backup.schema
        import warden.identity.schema  # noqa: F401  (these register their tables on the shared metadata)

        with database.engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn), metadata)
        assert drift == []

    def test_write_commits(self, database: Database) -> None:
        with database.write() as conn:
            conn.execute(insert(tenants).values(id=TENANT, display_name="Contoso", created_at=utcnow()))
        with database.read() as conn:
            assert conn.execute(select(tenants.c.display_name)).scalars().all() == ["Contoso"]

    def test_write_rolls_back_every_statement_on_exception(self, database: Database) -> None:
        with database.write() as conn:
            conn.execute(insert(tenants).values(id=OTHER_TENANT, display_name="Kept", created_at=utcnow()))

        class Boom(Exception):
            pass

        with pytest.raises(Boom), database.write() as conn:
            conn.execute(insert(tenants).values(id=TENANT, display_name="Contoso", created_at=utcnow()))
            conn.execute(update(tenants).where(tenants.c.id == OTHER_TENANT).values(display_name="Changed"))
            raise Boom
        with database.read() as conn:
            remaining = conn.execute(select(tenants.c.id, tenants.c.display_name)).all()
        assert remaining == [(OTHER_TENANT, "Kept")]

    def test_failed_statement_rolls_back_the_transaction(self, database: Database) -> None:
        now = utcnow()
        with database.write() as conn:
            conn.execute(insert(tenants).values(id=TENANT, display_name="Contoso", created_at=now))
        with pytest.raises(IntegrityError), database.write() as conn:
            conn.execute(insert(tenants).values(id=OTHER_TENANT, display_name="Fabrikam", created_at=now))
            conn.execute(insert(tenants).values(id=TENANT, display_name="Again", created_at=now))  # duplicate
        with database.read() as conn:
            assert conn.execute(select(tenants.c.id)).scalars().all() == [TENANT]

    def test_read_check_write_in_write_transactions_loses_no_update(self, database: Database) -> None:
        """``write()`` serializes writers, so a plain read-then-update (an ETag check) cannot interleave."""
        now = utcnow()
        with database.write() as conn:
            conn.execute(insert(leases).values(name="counter", holder="0", expires_at=now))
        counter = leases.c.name == "counter"

        def increment(_index: int) -> None:
            for _ in range(25):
                with database.write() as conn:
                    value = int(conn.execute(select(leases.c.holder).where(counter)).scalar_one())
                    conn.execute(update(leases).where(counter).values(holder=str(value + 1)))

        assert _run_threads(4, increment) == []
        with database.read() as conn:
            assert conn.execute(select(leases.c.holder)).scalar_one() == "100"

    # --- activity log: concurrency -----------------------------------------------------------

    def test_concurrent_appends_to_one_tenant_form_one_intact_chain(
        self, database: Database, activity: ActivityLog
    ) -> None:
        def append(index: int) -> None:
            for n in range(25):
                with database.write() as conn:
                    activity.record(conn, _event(TENANT, index * 100 + n))

        assert _run_threads(4, append) == []

        assert _verify(database, activity) == []
        rows = _rows(database)
        assert len(rows) == 100
        assert rows[0].prev_hash == GENESIS
        for before, after in itertools.pairwise(rows):
            assert after.prev_hash == before.hash
        assert len({row.hash for row in rows}) == 100
        with database.read() as conn:
            chain = conn.execute(select(activity_chains)).one()
        assert (chain.head_seq, chain.head_hash) == (rows[-1].seq, rows[-1].hash)
        assert (chain.anchor_seq, chain.anchor_hash) == (0, GENESIS)

    def test_first_events_of_new_tenants_recorded_concurrently(self, database: Database, activity: ActivityLog) -> None:
        """The first event of a tenant has no chain head to lock yet; racing first writers must not fail."""
        new_tenants = [str(uuid.uuid4()) for _ in range(8)]

        def append(index: int) -> None:
            for tenant in new_tenants:
                with database.write() as conn:
                    activity.record(conn, _event(tenant, index))

        assert _run_threads(4, append) == []
        assert _verify(database, activity) == []
        for tenant in new_tenants:
            rows = _rows(database, tenant)
            assert len(rows) == 4
            assert rows[0].prev_hash == GENESIS

    def test_recorded_event_is_stored_as_hashed_canonical_json(self, database: Database, activity: ActivityLog) -> None:
        [event] = _append(database, activity, 1)
        [row] = _rows(database)
        assert row.body == canonical_json(event)
        assert row.event_data_id == event["eventDataId"]
        assert row.subscription_id == SUBSCRIPTION
        assert row.resource_group_key == "rg-0"
        assert row.hash == activity.digest(GENESIS, row.body)
        assert event["tenantId"] == TENANT and event["status"]["value"] == "Succeeded"

    # --- activity log: tamper detection ------------------------------------------------------

    def test_edited_event_body_is_named(self, database: Database, activity: ActivityLog) -> None:
        _append(database, activity, 6)
        _append(database, activity, 3, OTHER_TENANT)
        target = _rows(database)[2]
        forged_body = target.body.replace('"caller":"11111111', '"caller":"99999999')
        assert forged_body != target.body
        with database.write() as conn:
            conn.execute(update(activity_events).where(activity_events.c.seq == target.seq).values(body=forged_body))

        problems = _verify(database, activity)
        assert [(p.tenant_id, p.seq, p.event_data_id) for p in problems] == [(TENANT, target.seq, target.event_data_id)]
        assert "altered" in problems[0].reason
        assert _verify(database, activity, [OTHER_TENANT]) == []

    def test_edited_indexed_column_is_named(self, database: Database, activity: ActivityLog) -> None:
        _append(database, activity, 4)
        target = _rows(database)[1]
        with database.write() as conn:
            conn.execute(
                update(activity_events)
                .where(activity_events.c.seq == target.seq)
                .values(correlation_id=str(uuid.uuid4()))
            )
        assert [p.event_data_id for p in _verify(database, activity)] == [target.event_data_id]

    def test_deleted_middle_event_is_named_by_the_event_after_the_gap(
        self, database: Database, activity: ActivityLog
    ) -> None:
        _append(database, activity, 6)
        rows = _rows(database)
        with database.write() as conn:
            conn.execute(delete(activity_events).where(activity_events.c.seq == rows[3].seq))

        problems = _verify(database, activity)
        assert [(p.seq, p.event_data_id) for p in problems] == [(rows[4].seq, rows[4].event_data_id)]
        assert "deleted or inserted" in problems[0].reason

    def test_deleted_newest_event_is_detected(self, database: Database, activity: ActivityLog) -> None:
        _append(database, activity, 5)
        newest = _rows(database)[-1]
        with database.write() as conn:
            conn.execute(delete(activity_events).where(activity_events.c.seq == newest.seq))

        problems = _verify(database, activity)
        assert len(problems) == 1
        assert problems[0].seq == newest.seq
        assert "newest event" in problems[0].reason

    def test_forged_event_is_detected(self, database: Database, activity: ActivityLog) -> None:
        """Someone with database access but without the master key appends an event."""
        recorded = _append(database, activity, 4)
        head = _rows(database)[-1]
        forged = dict(recorded[-1], eventDataId=str(uuid.uuid4()), caller="attacker@example.com")
        body = canonical_json(forged)
        outsider = ActivityLog(MasterKey(os.urandom(32)))
        with database.write() as conn:
            conn.execute(
                insert(activity_events).values(
                    tenant_id=TENANT,
                    event_data_id=forged["eventDataId"],
                    subscription_id=head.subscription_id,
                    correlation_id=forged["correlationId"],
                    resource_group_key=head.resource_group_key,
                    resource_key=head.resource_key,
                    caller=forged["caller"],
                    event_timestamp=utcnow(),
                    body=body,
                    prev_hash=head.hash,
                    hash=outsider.digest(head.hash, body),
                )
            )

        problems = _verify(database, activity)
        named = {p.event_data_id for p in problems}
        assert forged["eventDataId"] in named
        assert head.event_data_id not in named
        assert any("altered" in p.reason for p in problems if p.event_data_id == forged["eventDataId"])

    def test_validly_hashed_event_inserted_behind_the_log_is_detected(
        self, database: Database, activity: ActivityLog
    ) -> None:
        """Even an event hashed with the right key is caught when it bypassed ``record``: the chain
        head no longer points at the newest event."""
        _append(database, activity, 3)
        head = _rows(database)[-1]

        class Abort(Exception):
            pass

        with pytest.raises(Abort), database.write() as conn:  # a well-formed event that never committed
            genuine = activity.record(conn, _event(TENANT, 99))
            raise Abort
        body = canonical_json(genuine)
        with database.write() as conn:
            conn.execute(
                insert(activity_events).values(
                    tenant_id=TENANT,
                    event_data_id=genuine["eventDataId"],
                    subscription_id=head.subscription_id,
                    correlation_id=genuine["correlationId"],
                    resource_group_key="rg-99",
                    resource_key=head.resource_key,
                    caller=genuine["caller"],
                    event_timestamp=utcnow(),
                    body=body,
                    prev_hash=head.hash,
                    hash=activity.digest(head.hash, body),
                )
            )

        problems = _verify(database, activity)
        assert [(p.tenant_id, p.seq) for p in problems] == [(TENANT, head.seq)]
        assert "newest event" in problems[0].reason

    # --- activity log: retention -------------------------------------------------------------

    def test_purge_removes_old_events_and_the_chain_still_verifies(
        self, database: Database, activity: ActivityLog
    ) -> None:
        _append(database, activity, 10)
        _append(database, activity, 3, OTHER_TENANT)
        rows = _rows(database)
        old = rows[:6]
        with database.write() as conn:
            conn.execute(
                update(activity_events)
                .where(activity_events.c.seq.in_([row.seq for row in old]))
                .values(event_timestamp=utcnow() - timedelta(days=120))
            )

        with database.write() as conn:
            removed = activity.purge(conn, timedelta(days=90))

        assert removed == 6
        assert [row.seq for row in _rows(database)] == [row.seq for row in rows[6:]]
        assert len(_rows(database, OTHER_TENANT)) == 3
        with database.read() as conn:
            chain = conn.execute(select(activity_chains).where(activity_chains.c.tenant_id == TENANT)).one()
        assert (chain.anchor_seq, chain.anchor_hash) == (old[-1].seq, old[-1].hash)
        assert _verify(database, activity) == []

        # The chain keeps growing from its head after a purge, and a later deletion is still caught.
        _append(database, activity, 2)
        assert _verify(database, activity) == []
        with database.write() as conn:
            conn.execute(delete(activity_events).where(activity_events.c.seq == rows[6].seq))
        assert [p.event_data_id for p in _verify(database, activity)] == [rows[7].event_data_id]

    def test_purge_keeps_the_newest_event_even_when_everything_is_old(
        self, database: Database, activity: ActivityLog
    ) -> None:
        _append(database, activity, 4)
        with database.write() as conn:
            conn.execute(update(activity_events).values(event_timestamp=utcnow() - timedelta(days=400)))
            assert activity.purge(conn, timedelta(days=90)) == 3
            assert activity.purge(conn, timedelta(days=90)) == 0
        rows = _rows(database)
        assert len(rows) == 1
        assert _verify(database, activity) == []

    # --- jobs --------------------------------------------------------------------------------

    def test_enqueue_is_part_of_the_callers_transaction(self, database: Database) -> None:
        with pytest.raises(RuntimeError), database.write() as conn:
            enqueue(conn, "noop", {})
            raise RuntimeError("abort")
        runner = JobRunner(database)
        runner.register("noop", lambda payload: None)
        assert runner.run_pending() == 0
        with database.read() as conn:
            assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 0

    def test_two_runners_claim_disjoint_jobs(self, database: Database) -> None:
        with database.write() as conn:
            ids = [enqueue(conn, "count", {"n": n}) for n in range(40)]
        ran: Counter[int] = Counter()
        guard = threading.Lock()
        done = [0, 0]

        def handler(payload: dict[str, Any]) -> None:
            with guard:
                ran[payload["n"]] += 1
            threading.Event().wait(0.002)  # let the other runner claim meanwhile

        def work(index: int) -> None:
            runner = JobRunner(database)
            runner.register("count", handler)
            done[index] = runner.run_pending()

        assert _run_threads(2, work) == []
        assert ran == Counter(range(40))  # every job ran, and exactly once
        assert sum(done) == 40
        with database.read() as conn:
            rows = conn.execute(select(jobs.c.id, jobs.c.status, jobs.c.attempts)).all()
        assert sorted(row.id for row in rows) == sorted(ids)
        assert {(row.status, row.attempts) for row in rows} == {(SUCCEEDED, 1)}

    def test_runner_only_claims_kinds_it_handles(self, database: Database) -> None:
        with database.write() as conn:
            mine = enqueue(conn, "mine", {})
            theirs = enqueue(conn, "theirs", {})
        runner = JobRunner(database)
        runner.register("mine", lambda payload: None)
        assert runner.run_pending() == 1
        assert _job(database, mine).status == SUCCEEDED
        assert (_job(database, theirs).status, _job(database, theirs).attempts) == (QUEUED, 0)

    def test_failing_job_is_retried_with_backoff_then_marked_failed(self, database: Database) -> None:
        with database.write() as conn:
            job_id = enqueue(conn, "flaky", {"x": 1})
        calls: list[dict[str, Any]] = []

        def handler(payload: dict[str, Any]) -> None:
            calls.append(payload)
            raise ValueError(f"attempt {len(calls)} broke")

        runner = JobRunner(database)
        runner.register("flaky", handler)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert runner.run_pending() == 1
            row = _job(database, job_id)
            assert row.attempts == attempt
            assert f"attempt {attempt} broke" in row.last_error
            if attempt < MAX_ATTEMPTS:
                assert row.status == QUEUED
                assert runner.run_pending() == 0  # backing off: not ready yet
                _make_ready(database, job_id)
        assert _job(database, job_id).status == FAILED
        _make_ready(database, job_id)
        assert runner.run_pending() == 0
        assert calls == [{"x": 1}] * MAX_ATTEMPTS

    def test_job_that_fails_then_succeeds_ends_succeeded(self, database: Database) -> None:
        with database.write() as conn:
            job_id = enqueue(conn, "flaky", {})
        attempts: list[int] = []

        def handler(payload: dict[str, Any]) -> None:
            attempts.append(1)
            if len(attempts) < 3:
                raise ConnectionError("transient")

        runner = JobRunner(database)
        runner.register("flaky", handler)
        for _ in range(3):
            assert runner.run_pending() == 1
            _make_ready(database, job_id)
        row = _job(database, job_id)
        assert (row.status, row.attempts, row.lease_until) == (SUCCEEDED, 3, None)
        assert runner.run_pending() == 0

    def test_expired_lease_is_reclaimed_and_a_live_one_is_not(self, database: Database) -> None:
        """A worker that died mid-job leaves it ``running``; once its lease runs out, another takes it."""
        now = utcnow()
        with database.write() as conn:
            crashed = enqueue(conn, "work", {"which": "crashed"})
            busy = enqueue(conn, "work", {"which": "busy"})
            conn.execute(
                update(jobs)
                .where(jobs.c.id == crashed)
                .values(status=RUNNING, attempts=1, lease_until=now - timedelta(seconds=5))
            )
            conn.execute(
                update(jobs)
                .where(jobs.c.id == busy)
                .values(status=RUNNING, attempts=1, lease_until=now + jobs_module.LEASE)
            )
        seen: list[str] = []
        runner = JobRunner(database)
        runner.register("work", lambda payload: seen.append(payload["which"]))

        assert runner.run_pending() == 1
        assert seen == ["crashed"]
        row = _job(database, crashed)
        assert (row.status, row.attempts) == (SUCCEEDED, 2)
        assert _job(database, busy).status == RUNNING

    def test_job_whose_worker_dies_on_every_attempt_is_eventually_failed(self, database: Database) -> None:
        with database.write() as conn:
            job_id = enqueue(conn, "work", {})
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status=RUNNING, attempts=MAX_ATTEMPTS, lease_until=utcnow() - timedelta(seconds=5))
            )
        seen: list[dict[str, Any]] = []
        runner = JobRunner(database)
        runner.register("work", seen.append)
        assert runner.run_pending() == 0
        assert seen == []
        row = _job(database, job_id)
        assert (row.status, row.attempts) == (FAILED, MAX_ATTEMPTS)
        assert "lease expired" in row.last_error


@pytest.mark.postgres
def test_first_events_race_outside_write_transactions(postgres_database: str, activity: ActivityLog) -> None:
    """``ActivityLog.record`` keeps a tenant's chain whole on its own, without ``write()``'s global lock.

    PostgreSQL only: SQLite has a single writer whatever the caller does.
    """
    db = Database(postgres_database)
    try:
        db.migrate()
        new_tenants = [str(uuid.uuid4()) for _ in range(10)]

        def append(index: int) -> None:
            for tenant in new_tenants:
                with db.engine.begin() as conn:  # a plain READ COMMITTED transaction
                    activity.record(conn, _event(tenant, index))

        assert _run_threads(4, append) == []
        assert _verify(db, activity) == []
        for tenant in new_tenants:
            rows = _rows(db, tenant)
            assert len(rows) == 4
            assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    finally:
        db.dispose()
