"""Running the risk engine over stored sign-ins, and storing detections and user risk.

- ``run_detections(db, settings)``: the periodic runner. Per tenant it reads sign-ins newer than
  its cursor (``identity_log_exports`` row ``stream="riskDetections"``), loads the context the
  detectors need (earlier sign-ins of the same users and IPs within ``HISTORY``), stores the
  detections and moves the cursor in one write transaction: a crash before the commit repeats the
  batch, after it never. Detection IDs are derived from their evidence, so even a repeated batch
  (or the synchronous hook having seen the event first) cannot store a duplicate.
- ``assess_signin(conn, settings, tenant_id, record)``: the synchronous hook the sign-in code may
  call inside its own write transaction right after ``record_signin``, for real-time detections.
- User risk (``users.risk_level/risk_state``) is the highest level of the user's open detections;
  a confirmed-compromised user stays high until dismissed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from warden.kernel.clock import isoformat, utcnow
from warden.kernel.db import Database
from warden.kernel.settings import Settings

from .risk.engine import Reference, detect, user_risk
from .risk.model import Detection
from .risk.reference import ReferenceDataError, load_anonymous_ips, load_ip_locations
from .schema import identity_log_exports, risk_detections, signin_events, users

log = logging.getLogger(__name__)
STREAM = "riskDetections"
BATCH = 1000
HISTORY = dt.timedelta(days=30)
CONTEXT_LIMIT = 20_000
OPEN = "atRisk"


def load_reference(settings: Settings) -> Reference:
    """The admin's reference files as the engine wants them; an unusable file turns its detector off
    (logged) instead of stopping every detection."""
    try:
        locations = load_ip_locations(settings.identity_ip_locations_file)
    except ReferenceDataError as error:
        log.error("IP location file unusable, impossibleTravel is off: %s", error)
        locations = None
    try:
        anonymous = load_anonymous_ips(settings.identity_anonymous_ips_file)
    except ReferenceDataError as error:
        log.error("anonymous IP file unusable, anonymizedIPAddress is off: %s", error)
        anonymous = None
    return Reference(locations=locations, anonymous_ips=anonymous)


def _context(conn: Connection, tenant_id: str, new: list[Any]) -> list[dict[str, Any]]:
    """The new sign-ins plus earlier ones of the same users or IPs within HISTORY."""
    user_ids = sorted({r.user_id for r in new if r.user_id})
    ips = sorted({r.ip_address for r in new if r.ip_address})
    since = min(r.created_at for r in new) - HISTORY
    last_seq = max(r.seq for r in new)
    conditions = []
    if user_ids:
        conditions.append(signin_events.c.user_id.in_(user_ids))
    if ips:
        conditions.append(signin_events.c.ip_address.in_(ips))
    if not conditions:
        return [r.record for r in new]
    rows = conn.execute(
        select(signin_events.c.record)
        .where(
            signin_events.c.tenant_id == tenant_id,
            signin_events.c.seq <= last_seq,
            signin_events.c.created_at >= since,
            or_(*conditions),
        )
        .order_by(signin_events.c.seq.desc())
        .limit(CONTEXT_LIMIT)
    ).scalars()
    return list(rows)


def store_detections(conn: Connection, tenant_id: str, found: Iterable[Detection]) -> list[dict[str, Any]]:
    """Insert the detections not stored yet and refresh the affected users' risk; return the new ones."""
    now = utcnow()
    records = {}
    for detection in found:
        record = detection.graph(tenant_id, now)
        records.setdefault(record["id"], (detection, record))
    if not records:
        return []
    existing = set(conn.execute(select(risk_detections.c.id).where(risk_detections.c.id.in_(list(records)))).scalars())
    added = []
    for detection_id, (detection, record) in records.items():
        if detection_id in existing:
            continue
        conn.execute(
            insert(risk_detections).values(
                id=detection_id,
                tenant_id=tenant_id,
                user_id=detection.signin.object_id,
                risk_event_type=str(detection.risk_event_type),
                risk_level=str(detection.risk_level),
                risk_state=OPEN,
                record=record,
                detected_at=now,
            )
        )
        added.append(record)
    for user_id in sorted({r["userId"] for r in added if r["userId"]}):
        refresh_user_risk(conn, tenant_id, user_id)
    return added


def refresh_user_risk(conn: Connection, tenant_id: str, user_id: str) -> None:
    """Set the user's risk level from their open detections (a confirmed compromise stays high)."""
    row = conn.execute(
        select(users.c.risk_state).where(users.c.tenant_id == tenant_id, users.c.object_id == user_id)
    ).first()
    if row is None:  # a sign-in for an unknown user (e.g. a mistyped UPN): detections only
        return
    levels = conn.execute(
        select(risk_detections.c.risk_level).where(
            risk_detections.c.tenant_id == tenant_id,
            risk_detections.c.user_id == user_id,
            risk_detections.c.risk_state == OPEN,
        )
    ).scalars()
    level = user_risk(list(levels))
    if row.risk_state == "confirmedCompromised":
        return
    if level == "none":
        return  # nothing open: keep dismissed/remediated as they are
    conn.execute(
        update(users)
        .where(users.c.tenant_id == tenant_id, users.c.object_id == user_id)
        .values(risk_level=str(level), risk_state=OPEN)
    )


def remediate_user_risk(conn: Connection, tenant_id: str, user_id: str) -> bool:
    """Mark the user's risk remediated after a secure password change (self-service reset or an
    admin reset): level none, state ``remediated``, open detections closed with Azure's riskDetail
    ``userPerformedSecuredPasswordChange``. Returns whether the user had risk to remediate."""
    row = conn.execute(
        select(users.c.risk_state).where(users.c.tenant_id == tenant_id, users.c.object_id == user_id)
    ).first()
    if row is None or row.risk_state not in (OPEN, "confirmedCompromised"):
        return False
    now = isoformat(utcnow())
    conn.execute(
        update(users)
        .where(users.c.tenant_id == tenant_id, users.c.object_id == user_id)
        .values(risk_level="none", risk_state="remediated")
    )
    for detection in conn.execute(
        select(risk_detections.c.id, risk_detections.c.record).where(
            risk_detections.c.tenant_id == tenant_id,
            risk_detections.c.user_id == user_id,
            risk_detections.c.risk_state.in_([OPEN, "confirmedCompromised"]),
        )
    ).all():
        record = {
            **detection.record,
            "riskState": "remediated",
            "riskDetail": "userPerformedSecuredPasswordChange",
            "lastUpdatedDateTime": now,
        }
        conn.execute(
            update(risk_detections)
            .where(risk_detections.c.id == detection.id)
            .values(risk_state="remediated", record=record)
        )
    return True


def assess_signin(conn: Connection, settings: Settings, tenant_id: str, record: dict[str, Any]) -> list[dict]:
    """Run the detectors for one just-recorded sign-in (same transaction); return new detections."""
    new = conn.execute(
        select(signin_events).where(signin_events.c.tenant_id == tenant_id, signin_events.c.id == record["id"])
    ).all()
    if not new:
        return []
    context = _context(conn, tenant_id, list(new))
    return store_detections(conn, tenant_id, detect(context, {record["id"]}, load_reference(settings)))


def _cursor(conn: Connection, tenant_id: str) -> int:
    value = conn.execute(
        select(identity_log_exports.c.last_seq).where(
            identity_log_exports.c.tenant_id == tenant_id, identity_log_exports.c.stream == STREAM
        )
    ).scalar()
    return int(value or 0)


def set_cursor(conn: Connection, tenant_id: str, stream: str, seq: int) -> None:
    """Record that ``stream`` has handled the tenant's events up to ``seq``."""
    values = {"last_seq": seq, "updated_at": utcnow()}
    done = conn.execute(
        update(identity_log_exports)
        .where(identity_log_exports.c.tenant_id == tenant_id, identity_log_exports.c.stream == stream)
        .values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(identity_log_exports).values(tenant_id=tenant_id, stream=stream, **values))


def run_detections(db: Database, settings: Settings) -> int:
    """One pass of the periodic runner over every tenant; return how many detections were added."""
    reference = load_reference(settings)
    added = 0
    with db.read() as conn:
        tenants = conn.execute(
            select(signin_events.c.tenant_id, func.max(signin_events.c.seq)).group_by(signin_events.c.tenant_id)
        ).all()
    for tenant_id, newest in tenants:
        while True:
            with db.write() as conn:
                cursor = _cursor(conn, tenant_id)
                if cursor >= newest:
                    break
                new = conn.execute(
                    select(signin_events)
                    .where(signin_events.c.tenant_id == tenant_id, signin_events.c.seq > cursor)
                    .order_by(signin_events.c.seq)
                    .limit(BATCH)
                ).all()
                if not new:
                    break
                context = _context(conn, tenant_id, new)
                found = detect(context, {r.id for r in new}, reference)
                added += len(store_detections(conn, tenant_id, found))
                set_cursor(conn, tenant_id, STREAM, new[-1].seq)
    return added


def detection_time(record: dict[str, Any]) -> str:
    return str(record.get("lastUpdatedDateTime") or record.get("detectedDateTime") or isoformat(utcnow()))
