"""A durable job queue in the control-plane database, run by worker threads.

Jobs survive restarts: a worker leases a job, and if its process dies the lease runs out and
another worker takes it over. On PostgreSQL, claims use ``FOR UPDATE SKIP LOCKED`` so several
processes share one queue; on SQLite the write lock serializes claims.
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from warden.kernel.clock import utcnow
from warden.kernel.db import Database
from warden.kernel.schema import jobs

log = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 5

JobHandler = Callable[[dict[str, Any]], None]


def enqueue(conn: Connection, kind: str, payload: dict[str, Any]) -> str:
    """Queue a job inside the caller's transaction: it exists exactly when that commits."""
    job_id = str(uuid.uuid4())
    now = utcnow()
    conn.execute(
        insert(jobs).values(
            id=job_id, kind=kind, payload=payload, status=QUEUED, attempts=0, run_after=now, created_at=now
        )
    )
    return job_id


class JobRunner:
    def __init__(self, db: Database, poll_seconds: float = 0.5) -> None:
        self._db = db
        self._poll = poll_seconds
        self._handlers: dict[str, JobHandler] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, kind: str, handler: JobHandler) -> None:
        self._handlers[kind] = handler

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="warden-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def run_pending(self) -> int:
        """Run every job that is ready now; return how many ran (used by tests and the loop)."""
        count = 0
        while (job := self._claim()) is not None:
            self._run(job)
            count += 1
        return count

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # keep the worker alive; the failure is logged with its job
                log.exception("job loop failed")
            self._wake.wait(self._poll)
            self._wake.clear()

    def _claim(self) -> Any:
        while True:
            now = utcnow()
            with self._db.write() as conn:
                ready = or_(
                    (jobs.c.status == QUEUED) & (jobs.c.run_after <= now),
                    (jobs.c.status == RUNNING) & (jobs.c.lease_until < now),
                )
                query = (
                    select(jobs)
                    .where(ready, jobs.c.kind.in_(list(self._handlers)))
                    .order_by(jobs.c.created_at)
                    .limit(1)
                )
                if self._db.is_postgres:
                    query = query.with_for_update(skip_locked=True)
                row = conn.execute(query).first()
                if row is None:
                    return None
                if row.status == RUNNING and row.attempts >= MAX_ATTEMPTS:
                    # Its worker vanished on its last allowed attempt. Without this, a job that kills
                    # its process would be re-claimed (and kill a worker) forever.
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == row.id)
                        .values(
                            status=FAILED,
                            lease_until=None,
                            last_error=f"lease expired on attempt {row.attempts} of {MAX_ATTEMPTS}: "
                            "the worker stopped while running the job",
                        )
                    )
                    continue
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == row.id)
                    .values(status=RUNNING, lease_until=now + LEASE, attempts=row.attempts + 1)
                )
                return row

    def _run(self, job: Any) -> None:
        try:
            self._handlers[job.kind](dict(job.payload))
        except Exception:
            error = traceback.format_exc(limit=5)
            log.error("job %s (%s) failed: %s", job.id, job.kind, error)
            final = job.attempts + 1 >= MAX_ATTEMPTS
            with self._db.write() as conn:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job.id)
                    .values(
                        status=FAILED if final else QUEUED,
                        last_error=error,
                        run_after=utcnow() + timedelta(seconds=2 ** (job.attempts + 1)),
                    )
                )
            return
        with self._db.write() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job.id).values(status=SUCCEEDED, lease_until=None))
