"""Security groups: create, update, delete, members, owners and self-service join requests.

Callers (the Graph handlers) validate input and authorize; these functions only keep the rows
consistent: a deleted group leaves no memberships, ownerships, join requests or role assignments
behind, and nothing here ever touches another tenant's rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from warden.identity.schema import group_join_requests, group_members, group_owners, groups
from warden.kernel.clock import isoformat, utcnow


@dataclass(frozen=True)
class Group:
    object_id: str
    tenant_id: str
    display_name: str
    mail_nickname: str
    description: str | None
    security_enabled: bool
    visibility: str
    created_at: str
    properties: dict[str, Any] = field(default_factory=dict, compare=False)


def _group(row: Any) -> Group:
    return Group(
        object_id=row.object_id,
        tenant_id=row.tenant_id,
        display_name=row.display_name,
        mail_nickname=row.mail_nickname,
        description=row.description,
        security_enabled=bool(row.security_enabled),
        visibility=row.visibility,
        created_at=isoformat(row.created_at),
        properties=dict(row.properties or {}),
    )


def create_group(
    conn: Connection,
    tenant_id: str,
    display_name: str,
    mail_nickname: str,
    *,
    description: str | None = None,
    visibility: str = "Private",
    owner_ids: tuple[str, ...] = (),
) -> Group:
    """Insert a security group (owners optional) and return it."""
    values = {
        "object_id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "display_name": display_name,
        "mail_nickname": mail_nickname,
        "description": description,
        "security_enabled": True,
        "visibility": visibility,
        "properties": {},
        "created_at": utcnow(),
    }
    conn.execute(insert(groups).values(**values))
    for owner_id in owner_ids:
        add_owner(conn, tenant_id, values["object_id"], owner_id)
    return _group(type("Row", (), values))


def get_group(conn: Connection, tenant_id: str, object_id: str) -> Group | None:
    row = conn.execute(
        select(groups).where(groups.c.tenant_id == tenant_id, groups.c.object_id == object_id.lower())
    ).first()
    return _group(row) if row else None


def list_groups(conn: Connection, tenant_id: str) -> list[Group]:
    rows = conn.execute(
        select(groups).where(groups.c.tenant_id == tenant_id).order_by(groups.c.display_name, groups.c.object_id)
    ).all()
    return [_group(row) for row in rows]


def update_group(conn: Connection, group: Group, **values: Any) -> Group:
    """Write the given columns (display_name, description, mail_nickname, visibility) and return the group."""
    if values:
        conn.execute(update(groups).where(groups.c.object_id == group.object_id).values(**values))
    return get_group(conn, group.tenant_id, group.object_id)  # type: ignore[return-value]


def delete_group(conn: Connection, group: Group) -> None:
    """Delete the group and every membership, ownership and join request that names it."""
    tenant = group.tenant_id
    conn.execute(delete(group_members).where(group_members.c.group_id == group.object_id))
    conn.execute(
        delete(group_members).where(group_members.c.tenant_id == tenant, group_members.c.member_id == group.object_id)
    )
    conn.execute(delete(group_owners).where(group_owners.c.group_id == group.object_id))
    conn.execute(delete(group_join_requests).where(group_join_requests.c.group_id == group.object_id))
    conn.execute(delete(groups).where(groups.c.object_id == group.object_id))


def remove_from_all_groups(conn: Connection, tenant_id: str, object_id: str) -> None:
    """Drop a deleted user's or principal's memberships, ownerships and join requests."""
    conn.execute(
        delete(group_members).where(group_members.c.tenant_id == tenant_id, group_members.c.member_id == object_id)
    )
    conn.execute(
        delete(group_owners).where(group_owners.c.tenant_id == tenant_id, group_owners.c.owner_id == object_id)
    )
    conn.execute(
        delete(group_join_requests).where(
            group_join_requests.c.tenant_id == tenant_id, group_join_requests.c.user_id == object_id
        )
    )


def is_member(conn: Connection, tenant_id: str, group_id: str, member_id: str) -> bool:
    row = conn.execute(
        select(group_members.c.member_id).where(
            group_members.c.tenant_id == tenant_id,
            group_members.c.group_id == group_id,
            group_members.c.member_id == member_id,
        )
    ).first()
    return row is not None


def add_member(conn: Connection, tenant_id: str, group_id: str, member_id: str, member_type: str) -> bool:
    """Add a direct member; False (and no change) when it already is one."""
    if is_member(conn, tenant_id, group_id, member_id):
        return False
    conn.execute(
        insert(group_members).values(
            group_id=group_id, member_id=member_id, tenant_id=tenant_id, member_type=member_type, added_at=utcnow()
        )
    )
    return True


def remove_member(conn: Connection, tenant_id: str, group_id: str, member_id: str) -> bool:
    """Remove a direct member; False when it was not one."""
    result = conn.execute(
        delete(group_members).where(
            group_members.c.tenant_id == tenant_id,
            group_members.c.group_id == group_id,
            group_members.c.member_id == member_id,
        )
    )
    return result.rowcount > 0


def add_owner(conn: Connection, tenant_id: str, group_id: str, owner_id: str) -> bool:
    """Add an owner; False when it already is one."""
    exists = conn.execute(
        select(group_owners.c.owner_id).where(
            group_owners.c.tenant_id == tenant_id,
            group_owners.c.group_id == group_id,
            group_owners.c.owner_id == owner_id,
        )
    ).first()
    if exists is not None:
        return False
    conn.execute(
        insert(group_owners).values(group_id=group_id, owner_id=owner_id, tenant_id=tenant_id, added_at=utcnow())
    )
    return True


def remove_owner(conn: Connection, tenant_id: str, group_id: str, owner_id: str) -> bool:
    result = conn.execute(
        delete(group_owners).where(
            group_owners.c.tenant_id == tenant_id,
            group_owners.c.group_id == group_id,
            group_owners.c.owner_id == owner_id,
        )
    )
    return result.rowcount > 0


def join_request_json(row: Any) -> dict[str, Any]:
    """A join request as the ``/groups/{id}/joinRequests`` extension shows it."""
    return {
        "id": row.id,
        "groupId": row.group_id,
        "userId": row.user_id,
        "status": row.status,
        "justification": row.justification,
        "createdDateTime": isoformat(row.created_at),
        "decidedBy": row.decided_by,
        "decidedDateTime": isoformat(row.decided_at) if row.decided_at else None,
    }


def create_join_request(
    conn: Connection, tenant_id: str, group_id: str, user_id: str, justification: str | None
) -> dict[str, Any]:
    """A pending request; an existing pending request of the same user is returned instead of a new one."""
    pending = conn.execute(
        select(group_join_requests).where(
            group_join_requests.c.tenant_id == tenant_id,
            group_join_requests.c.group_id == group_id,
            group_join_requests.c.user_id == user_id,
            group_join_requests.c.status == "Pending",
        )
    ).first()
    if pending is not None:
        return join_request_json(pending)
    values = {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "group_id": group_id,
        "user_id": user_id,
        "status": "Pending",
        "justification": justification,
        "created_at": utcnow(),
        "decided_by": None,
        "decided_at": None,
    }
    conn.execute(insert(group_join_requests).values(**values))
    return join_request_json(type("Row", (), values))


def list_join_requests(conn: Connection, tenant_id: str, group_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(group_join_requests)
        .where(group_join_requests.c.tenant_id == tenant_id, group_join_requests.c.group_id == group_id)
        .order_by(group_join_requests.c.created_at, group_join_requests.c.id)
    ).all()
    return [join_request_json(row) for row in rows]


def get_join_request(conn: Connection, tenant_id: str, group_id: str, request_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(group_join_requests).where(
            group_join_requests.c.tenant_id == tenant_id,
            group_join_requests.c.group_id == group_id,
            group_join_requests.c.id == request_id,
        )
    ).first()
    return join_request_json(row) if row else None


def decide_join_request(conn: Connection, tenant_id: str, request_id: str, status: str, decided_by: str) -> None:
    """Mark a pending request Approved or Denied (the caller adds the member on approval)."""
    conn.execute(
        update(group_join_requests)
        .where(group_join_requests.c.tenant_id == tenant_id, group_join_requests.c.id == request_id)
        .values(status=status, decided_by=decided_by, decided_at=utcnow())
    )
