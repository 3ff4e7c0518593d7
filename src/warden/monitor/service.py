"""The Log Analytics service object the platform holds: the log store plus workspace lookups.

Workspaces are ARM resources in the control-plane store; their data lives in the ``LogStore``
under the workspace's ``customerId``. Data-plane APIs name a workspace by ``customerId`` (query
API, Data Collector API) or reach it through a data collection rule, so lookups by
``customerId`` are served from a small cache refreshed from the resource table on a miss.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from warden.kernel.resources import get_row
from warden.kernel.schema import resources
from warden.kernel.secrets import MasterKey
from warden.monitor.kql.types import parse_type
from warden.monitor.logstore import TableSchema
from warden.monitor.logstore.duckdb_store import DuckDBLogStore
from warden.monitor.logstore.spool import SpooledLogStore
from warden.monitor.tables import STANDARD_TABLES

WORKSPACE_TYPE = "Microsoft.OperationalInsights/workspaces"
KEY_NAMES = ("primary", "secondary")


@dataclass(frozen=True)
class WorkspaceRef:
    """Where a workspace's resource lives: its tenant, ARM ID and customerId."""

    tenant_id: str
    resource_id: str
    customer_id: str
    name: str


def standard_schemas() -> dict[str, TableSchema]:
    """Every standard table with its columns as Kusto types, ``TimeGenerated`` first."""
    result: dict[str, TableSchema] = {}
    for name, columns in STANDARD_TABLES.items():
        ordered = sorted(columns, key=lambda c: c.name != "TimeGenerated")
        result[name] = {column.name: parse_type(column.type) for column in ordered}
    return result


class LogService:
    def __init__(self, data_dir: Path, master_key: MasterKey, *, threads: int | None = None) -> None:
        # Appends are acknowledged once fsynced to the spool and inserted in large batches (spool.py).
        self.store = SpooledLogStore(DuckDBLogStore(data_dir / "logs", threads=threads), data_dir / "logs" / "spool")
        self._key_secret = master_key.derive("log-analytics-shared-keys")
        self._by_customer: dict[str, WorkspaceRef] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------- lookups

    def create_workspace(self, customer_id: str) -> None:
        """Create the workspace's store with every standard table (idempotent)."""
        self.store.create_workspace(customer_id, standard_schemas())

    def forget(self, customer_id: str) -> None:
        with self._lock:
            self._by_customer.pop(customer_id, None)

    def find(self, conn: Connection, customer_id: str) -> WorkspaceRef | None:
        """The workspace with this customerId, in any tenant (the caller authorizes), or None."""
        customer_id = customer_id.lower()
        with self._lock:
            ref = self._by_customer.get(customer_id)
        if ref is not None and get_row(conn, ref.tenant_id, ref.resource_id) is not None:
            return ref
        self._refresh(conn)
        with self._lock:
            return self._by_customer.get(customer_id)

    def _refresh(self, conn: Connection) -> None:
        rows = conn.execute(select(resources).where(resources.c.type_key == WORKSPACE_TYPE.lower())).all()
        found = {}
        for row in rows:
            customer_id = str(row.body.get("properties", {}).get("customerId", "")).lower()
            if customer_id:
                found[customer_id] = WorkspaceRef(row.tenant_id, row.id, customer_id, row.name)
        with self._lock:
            self._by_customer = found

    def in_tenant(self, conn: Connection, tenant_id: str) -> list[Any]:
        """Every workspace resource row of a tenant."""
        return list(
            conn.execute(
                select(resources).where(
                    resources.c.tenant_id == tenant_id, resources.c.type_key == WORKSPACE_TYPE.lower()
                )
            )
        )

    # --------------------------------------------------------------------------- shared keys

    def shared_keys(self, customer_id: str, generations: dict[str, int] | None = None) -> dict[str, str]:
        """The workspace's primary and secondary shared keys (base64 of 64 bytes, as Azure's).

        Keys are derived from the platform's master key, the customerId and each key's generation
        (bumped by ``regenerateSharedKey``), so no key material is stored anywhere.
        """
        generations = generations or {}
        keys = {}
        for name in KEY_NAMES:
            message = f"{customer_id.lower()}:{name}:{int(generations.get(name, 0))}".encode()
            keys[name] = base64.b64encode(hmac.new(self._key_secret, message, hashlib.sha512).digest()).decode()
        return keys

    def close(self) -> None:
        self.store.close()
