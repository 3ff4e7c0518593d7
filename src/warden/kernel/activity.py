"""The activity log: every control-plane write, in Azure's event shape, hash-chained per tenant.

Each event's ``hash`` is HMAC-SHA256 (keyed from the data dir's master key) over the previous
event's hash and the event's canonical JSON. Editing, inserting or deleting an event breaks the
chain at that point, and without the key nobody with database access alone can re-forge it.
Retention purges move the chain's *anchor* forward, so a purge is told apart from a deletion.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from warden.kernel.clock import aware, isoformat, utcnow
from warden.kernel.ids import key, parse_container
from warden.kernel.schema import activity_chains, activity_events
from warden.kernel.secrets import MasterKey

GENESIS = "0" * 64


def canonical_json(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ChainProblem:
    """One place where the chain does not hold."""

    tenant_id: str
    seq: int
    event_data_id: str
    reason: str

    def __str__(self) -> str:
        return f"event {self.event_data_id} (seq {self.seq}, tenant {self.tenant_id}): {self.reason}"


@dataclass(frozen=True)
class EventInput:
    """What the request pipeline knows about one step of one operation."""

    tenant_id: str
    operation_name: str  # e.g. Microsoft.Resources/subscriptions/resourceGroups/write
    resource_id: str
    status: str  # Started | Accepted | Succeeded | Failed
    sub_status: str  # e.g. Created, OK, Forbidden, Conflict
    http_status: int | None
    caller: str
    claims: dict[str, Any]
    correlation_id: str
    operation_id: str
    method: str
    client_ip: str
    client_request_id: str | None = None
    authorization_scope: str | None = None
    error: dict[str, Any] | None = None
    level: str = "Informational"


_LOCALIZED_SUB_STATUS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
}


class ActivityLog:
    def __init__(self, master_key: MasterKey) -> None:
        self._chain_key = master_key.derive("activity-log-chain")

    def record(self, conn: Connection, item: EventInput) -> dict[str, Any]:
        """Append one event to its tenant's chain inside the caller's transaction; return it."""
        event = self._event_body(item)
        self._append(conn, item.tenant_id, event, item.resource_id, item.caller)
        return event

    def _event_body(self, item: EventInput) -> dict[str, Any]:
        now = utcnow()
        container = parse_container(item.resource_id)
        namespace = _namespace_of(item.operation_name)
        event_id = str(uuid.uuid4())
        sub_status_text = _LOCALIZED_SUB_STATUS.get(item.http_status or 0, item.sub_status)
        begin = item.status == "Started"
        body: dict[str, Any] = {
            "authorization": {"action": item.operation_name, "scope": item.authorization_scope or item.resource_id},
            "caller": item.caller,
            "channels": "Operation",
            "claims": item.claims,
            "correlationId": item.correlation_id,
            "description": "",
            "eventDataId": event_id,
            "eventName": {
                "value": "BeginRequest" if begin else "EndRequest",
                "localizedValue": "Begin request" if begin else "End request",
            },
            "category": {"value": "Administrative", "localizedValue": "Administrative"},
            "eventTimestamp": isoformat(now),
            "id": f"{item.resource_id}/events/{event_id}/ticks/{_ticks(now)}",
            "level": "Error" if item.status == "Failed" else item.level,
            "operationId": item.operation_id,
            "operationName": {"value": item.operation_name, "localizedValue": item.operation_name},
            "resourceGroupName": container.resource_group,
            "resourceProviderName": {"value": namespace, "localizedValue": namespace},
            "resourceType": {"value": _resource_type_of(item.operation_name), "localizedValue": ""},
            "resourceId": item.resource_id,
            "status": {"value": item.status, "localizedValue": item.status},
            "subStatus": {
                "value": item.sub_status,
                "localizedValue": f"{sub_status_text} (HTTP Status Code: {item.http_status})"
                if item.http_status
                else "",
            },
            "submissionTimestamp": isoformat(now),
            "subscriptionId": container.subscription_id,
            "tenantId": item.tenant_id,
            "httpRequest": {
                "clientRequestId": item.client_request_id or "",
                "clientIpAddress": item.client_ip,
                "method": item.method,
            },
            "properties": {"statusCode": item.sub_status},
        }
        if item.error:
            body["properties"]["statusMessage"] = json.dumps({"error": item.error})
        return body

    def _append(self, conn: Connection, tenant_id: str, event: dict[str, Any], resource_id: str, caller: str) -> None:
        head = _lock_chain_head(conn, tenant_id)
        prev_hash = head.head_hash
        text = canonical_json(event)
        digest = self.digest(prev_hash, text)
        container = parse_container(resource_id)
        result = conn.execute(
            insert(activity_events).values(
                tenant_id=tenant_id,
                event_data_id=event["eventDataId"],
                subscription_id=container.subscription_id.lower() if container.subscription_id else None,
                correlation_id=event["correlationId"],
                resource_group_key=container.resource_group.lower() if container.resource_group else None,
                resource_key=key(resource_id),
                caller=caller,
                event_timestamp=datetime.fromisoformat(event["eventTimestamp"].replace("Z", "+00:00")),
                body=text,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        seq = result.inserted_primary_key[0]
        conn.execute(
            update(activity_chains)
            .where(activity_chains.c.tenant_id == tenant_id)
            .values(head_seq=seq, head_hash=digest)
        )

    def digest(self, prev_hash: str, canonical_body: str) -> str:
        return hmac.new(self._chain_key, f"{prev_hash}\n{canonical_body}".encode(), hashlib.sha256).hexdigest()

    def verify(self, conn: Connection, tenant_ids: Iterable[str] | None = None) -> list[ChainProblem]:
        """Walk each tenant's chain from its anchor; return every break found (empty: intact)."""
        chains = conn.execute(select(activity_chains)).all()
        wanted = set(tenant_ids) if tenant_ids is not None else None
        problems: list[ChainProblem] = []
        for chain in chains:
            if wanted is not None and chain.tenant_id not in wanted:
                continue
            problems.extend(self._verify_chain(conn, chain))
        return problems

    def _verify_chain(self, conn: Connection, chain: Any) -> list[ChainProblem]:
        problems: list[ChainProblem] = []
        expected_prev = chain.anchor_hash
        last_seq, last_hash = chain.anchor_seq, chain.anchor_hash
        rows = conn.execute(
            select(activity_events)
            .where(activity_events.c.tenant_id == chain.tenant_id, activity_events.c.seq > chain.anchor_seq)
            .order_by(activity_events.c.seq)
        )
        for row in rows:
            if row.prev_hash != expected_prev:
                problems.append(
                    ChainProblem(
                        chain.tenant_id,
                        row.seq,
                        row.event_data_id,
                        "does not follow the previous event: an event before it was deleted or inserted",
                    )
                )
            body_ok = self.digest(row.prev_hash, row.body) == row.hash
            if not body_ok:
                problems.append(
                    ChainProblem(chain.tenant_id, row.seq, row.event_data_id, "was altered: its hash does not match")
                )
            else:
                try:
                    stored = json.loads(row.body)
                    consistent = stored.get("eventDataId") == row.event_data_id and stored.get(
                        "correlationId"
                    ) == row.correlation_id
                except ValueError:
                    consistent = False
                if not consistent:
                    problems.append(
                        ChainProblem(
                            chain.tenant_id, row.seq, row.event_data_id, "was altered: indexed columns disagree"
                        )
                    )
            expected_prev = row.hash
            last_seq, last_hash = row.seq, row.hash
        if (last_seq, last_hash) != (chain.head_seq, chain.head_hash):
            problems.append(
                ChainProblem(
                    chain.tenant_id,
                    chain.head_seq,
                    "(head)",
                    f"the newest event (seq {chain.head_seq}) is missing or the chain head was edited",
                )
            )
        return problems

    def purge(self, conn: Connection, retention: timedelta) -> int:
        """Delete events older than ``retention``; move each chain's anchor past them."""
        cutoff = utcnow() - retention
        removed = 0
        for chain in conn.execute(select(activity_chains).with_for_update()).all():
            last = conn.execute(
                select(activity_events.c.seq, activity_events.c.hash)
                .where(
                    activity_events.c.tenant_id == chain.tenant_id,
                    activity_events.c.event_timestamp < cutoff,
                    # keep the newest event so the chain head stays checkable
                    activity_events.c.seq < chain.head_seq,
                )
                .order_by(activity_events.c.seq.desc())
                .limit(1)
            ).first()
            if last is None:
                continue
            removed += conn.execute(
                delete(activity_events).where(
                    activity_events.c.tenant_id == chain.tenant_id, activity_events.c.seq <= last.seq
                )
            ).rowcount
            conn.execute(
                update(activity_chains)
                .where(activity_chains.c.tenant_id == chain.tenant_id)
                .values(anchor_seq=last.seq, anchor_hash=last.hash)
            )
        return removed


def _lock_chain_head(conn: Connection, tenant_id: str) -> Any:
    """Lock and return the tenant's chain head row, creating an empty chain on its first event.

    The lock makes concurrent writers of one tenant append one at a time. A tenant's first event
    has no row to lock yet, so the row is created first with INSERT ... ON CONFLICT DO NOTHING:
    a concurrent first writer then waits for (and reuses) the other's row instead of failing on
    the primary key.
    """
    query = select(activity_chains).where(activity_chains.c.tenant_id == tenant_id).with_for_update()
    head = conn.execute(query).first()
    if head is None:
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            dialect_insert(activity_chains)
            .values(tenant_id=tenant_id, head_seq=0, head_hash=GENESIS, anchor_seq=0, anchor_hash=GENESIS)
            .on_conflict_do_nothing(index_elements=[activity_chains.c.tenant_id])
        )
        head = conn.execute(query).one()
    return head


def _namespace_of(operation_name: str) -> str:
    return operation_name.split("/", 1)[0]


def _resource_type_of(operation_name: str) -> str:
    parts = operation_name.split("/")
    return "/".join(parts[:-1]) if len(parts) > 1 else operation_name


def _ticks(moment: datetime) -> int:
    # .NET ticks (100 ns since 0001-01-01), as in Azure's event IDs.
    return int((aware(moment) - datetime(1, 1, 1, tzinfo=UTC)).total_seconds() * 10**7)
