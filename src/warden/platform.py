"""The composition root: builds every service from ``Settings`` and wires providers together."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from warden.identity.keys import SigningKeys
from warden.identity.tokens import TokenService
from warden.kernel.activity import ActivityLog
from warden.kernel.db import Database
from warden.kernel.ids import parse_resource_id
from warden.kernel.jobs import JobRunner
from warden.kernel.leases import try_acquire
from warden.kernel.pipeline import WriteInterceptor
from warden.kernel.providers import ProviderRegistry
from warden.kernel.secrets import MasterKey
from warden.kernel.settings import Settings

if TYPE_CHECKING:
    from warden.monitor.provider import MonitorServices

log = logging.getLogger(__name__)
RETENTION_INTERVAL = timedelta(hours=1)


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = Database(settings.resolved_database_url)
        self.master_key = MasterKey.load_or_create(settings.data_dir)
        lifetime = settings.token_lifetime_seconds
        self.keys = SigningKeys(self.db, self.master_key, timedelta(seconds=lifetime))
        self.tokens = TokenService(self.keys, settings.endpoint, lifetime)
        self.activity = ActivityLog(self.master_key)
        self.registry = ProviderRegistry()
        self.jobs = JobRunner(self.db, settings.job_poll_seconds)
        self.write_interceptors: list[WriteInterceptor] = []
        self.instance_id = str(uuid.uuid4())
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.monitor: MonitorServices
        _register_services(self)

    def release_resource(self, conn: Connection, tenant_id: str, row: Any) -> None:
        """Run a resource type's release hook for a row about to be deleted with its group."""
        try:
            rid = parse_resource_id(row.id)
        except ValueError:
            return
        resource_type = self.registry.find(rid.namespace, rid.types)
        release = getattr(resource_type.handler, "release", None) if resource_type else None
        if release is not None:
            release(conn, tenant_id, row)

    def start_background(self) -> None:
        """Job workers and periodic maintenance (activity-log retention) for a serving process."""
        self.jobs.start()
        thread = threading.Thread(target=self._maintenance_loop, name="warden-maintenance", daemon=True)
        thread.start()
        self._threads.append(thread)
        try:
            self.monitor.logs.store.recover()  # rows acknowledged before a crash, not yet in their tables
        except Exception:
            log.exception("replaying the log spool failed; each workspace retries on its first use")
        from warden.monitor.exports import start_monitor_loop

        self._threads.append(start_monitor_loop(self, self._stop))  # activity export, log retention
        from warden.governance.scans import start_scan_loop

        self._threads.append(start_scan_loop(self, self._stop))  # compliance scans, under a leader lease
        from warden.backup.scheduler import start_backup_loop

        self._threads.append(start_backup_loop(self, self._stop))  # scheduled backups, soft-delete purge
        from warden.authz.pim.grants import start_expiry_loop

        self._threads.append(start_expiry_loop(self, self._stop))  # PIM expiry, under a leader lease
        from warden.identity.log_export import start_identity_loop

        self._threads.append(start_identity_loop(self, self._stop))  # risk detections, identity log export

    def stop(self) -> None:
        self._stop.set()
        self.jobs.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self.monitor.logs.close()
        self.db.dispose()

    def purge_activity(self) -> int:
        with self.db.write() as conn:
            return self.activity.purge(conn, timedelta(days=self.settings.activity_retention_days))

    def _maintenance_loop(self) -> None:
        while not self._stop.is_set():
            try:
                if try_acquire(self.db, "maintenance", self.instance_id, RETENTION_INTERVAL * 2):
                    removed = self.purge_activity()
                    if removed:
                        log.info("activity log retention removed %d events", removed)
                    from warden.identity.oauth.maintenance import purge_expired

                    purge_expired(self.db)  # spent codes, device codes, sessions, refresh tokens, challenges
            except Exception:
                log.exception("maintenance failed")
            self._stop.wait(RETENTION_INTERVAL.total_seconds())


FIXED_OPERATIONS = (
    ("Microsoft.Resources/subscriptions/read", "Get or list subscriptions"),
    ("Microsoft.Resources/subscriptions/resourceGroups/read", "Get or list resource groups"),
    ("Microsoft.Resources/subscriptions/resourceGroups/write", "Create or update a resource group"),
    ("Microsoft.Resources/subscriptions/resourceGroups/delete", "Delete a resource group and its resources"),
    ("Microsoft.Resources/subscriptions/resources/read", "List the resources of a subscription"),
    ("Microsoft.Resources/subscriptions/resourceGroups/resources/read", "List the resources of a resource group"),
    ("Microsoft.Resources/subscriptions/providers/read", "Get or list resource providers"),
    ("Microsoft.Resources/subscriptions/operationresults/read", "Get the result of a long-running operation"),
    ("Microsoft.Insights/eventtypes/values/read", "Read activity log events"),
    ("Microsoft.Subscription/aliases/write", "Create a subscription"),
    ("Microsoft.Subscription/aliases/read", "Read a subscription alias"),
    ("Microsoft.Authorization/permissions/read", "List the caller's permissions at a scope"),
    ("Microsoft.Authorization/servicePrincipals/read", "Read service principals"),
    ("Microsoft.Authorization/servicePrincipals/write", "Create service principals"),
    ("Microsoft.Authorization/servicePrincipals/delete", "Delete service principals"),
    ("Microsoft.Authorization/servicePrincipals/addPassword/action", "Add a client secret to a service principal"),
)


def _register_services(platform: Platform) -> None:
    from warden.authz.pim.provider import register as register_pim
    from warden.authz.provider import register as register_authorization
    from warden.backup.provider import register as register_backup
    from warden.governance.compliance import register as register_policy_insights
    from warden.governance.enforcement import EVALUATE_JOB as POLICY_EVALUATE_JOB
    from warden.governance.enforcement import intercept as enforce_policy
    from warden.governance.resources import SCAN_JOB as POLICY_SCAN_JOB
    from warden.governance.resources import register as register_policy
    from warden.governance.scans import evaluate_job as policy_evaluate_job
    from warden.governance.scans import scan_job as policy_scan_job
    from warden.identity.log_export import register as register_identity_log_export
    from warden.identity.managed_identities import register as register_managed_identities
    from warden.monitor.provider import register as register_monitor
    from warden.network.provider import register as register_network
    from warden.resources.groups import DELETE_JOB, delete_group_job
    from warden.resources.tags import register as register_tags

    for name, description in FIXED_OPERATIONS:
        platform.registry.add_operation(name, description)
    register_authorization(platform.registry)
    register_pim(platform.registry)
    register_managed_identities(platform.registry)
    register_identity_log_export(platform.registry)
    register_tags(platform.registry)
    register_policy(platform.registry)
    register_policy_insights(platform.registry)
    register_network(platform.registry)
    register_backup(platform)
    platform.monitor = register_monitor(platform)
    platform.write_interceptors.append(enforce_policy)
    platform.jobs.register(DELETE_JOB, lambda payload: delete_group_job(platform, payload))
    platform.jobs.register(POLICY_SCAN_JOB, lambda payload: policy_scan_job(platform, payload))
    platform.jobs.register(POLICY_EVALUATE_JOB, lambda payload: policy_evaluate_job(platform, payload))
