"""Applications with their service principal, and transitive membership (nesting, cycles), on a real DB."""

from __future__ import annotations

import uuid

from sqlalchemy import insert

from warden.identity.applications import create_application, delete_application, get_application
from warden.identity.membership import transitive_group_ids, transitive_members
from warden.identity.principals import get_principal
from warden.identity.schema import group_members, groups
from warden.kernel.clock import utcnow
from warden.kernel.db import Database

from .directory_support import OTHER_TENANT, TENANT, directory_db_fixture  # noqa: F401  (the directory_db fixture)


def _group(conn, tenant_id: str = TENANT) -> str:  # type: ignore[no-untyped-def]
    gid = str(uuid.uuid4())
    conn.execute(
        insert(groups).values(
            object_id=gid,
            tenant_id=tenant_id,
            display_name="g",
            mail_nickname="g",
            security_enabled=True,
            visibility="Private",
            properties={},
            created_at=utcnow(),
        )
    )
    return gid


def _add(conn, group_id: str, member_id: str, member_type: str = "group", tenant_id: str = TENANT) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        insert(group_members).values(
            group_id=group_id, member_id=member_id, tenant_id=tenant_id, member_type=member_type, added_at=utcnow()
        )
    )


def test_application_gets_a_service_principal_sharing_its_app_id(directory_db: Database) -> None:
    with directory_db.write() as conn:
        app = create_application(
            conn, TENANT, "web app", web_redirect_uris=["https://app.example/cb"], is_fallback_public_client=True
        )
    with directory_db.read() as conn:
        by_app_id = get_application(conn, app_id=app.app_id)
        by_object_id = get_application(conn, object_id=app.object_id)
        principal = get_principal(conn, app_id=app.app_id)
    assert by_app_id == by_object_id == app
    assert app.web_redirect_uris == ("https://app.example/cb",) and app.spa_redirect_uris == ()
    assert app.is_fallback_public_client and app.sign_in_audience == "AzureADMyOrg"
    assert principal is not None and principal.tenant_id == TENANT and principal.display_name == "web app"
    assert principal.object_id != app.object_id
    with directory_db.write() as conn:
        delete_application(conn, app)
    with directory_db.read() as conn:
        assert get_application(conn, app_id=app.app_id) is None
        assert get_principal(conn, app_id=app.app_id) is None


def test_transitive_groups_follow_nesting_and_stop_at_cycles(directory_db: Database) -> None:
    user = str(uuid.uuid4())
    with directory_db.write() as conn:
        inner, middle, outer, unrelated = (_group(conn) for _ in range(4))
        _add(conn, inner, user, "user")
        _add(conn, middle, inner)
        _add(conn, outer, middle)
        _add(conn, inner, outer)  # cycle: outer is also inside inner
    with directory_db.read() as conn:
        assert transitive_group_ids(conn, TENANT, user) == tuple(sorted([inner, middle, outer]))
        assert unrelated not in transitive_group_ids(conn, TENANT, user)
        # a group in a cycle is not its own member
        assert inner not in transitive_group_ids(conn, TENANT, inner)
        members = dict(transitive_members(conn, TENANT, outer))
    assert members[user] == "user" and members[inner] == "group" and outer not in members


def test_membership_never_crosses_tenants(directory_db: Database) -> None:
    user = str(uuid.uuid4())
    with directory_db.write() as conn:
        foreign = _group(conn, OTHER_TENANT)
        _add(conn, foreign, user, "user", tenant_id=OTHER_TENANT)
    with directory_db.read() as conn:
        assert transitive_group_ids(conn, TENANT, user) == ()
        assert transitive_group_ids(conn, OTHER_TENANT, user) == (foreign,)
