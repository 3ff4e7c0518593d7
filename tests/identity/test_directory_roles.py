"""Directory roles: what each built-in role allows, and holding a role through a (nested) group."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert

from warden.identity.directory_roles import (
    BUILTIN_ROLES,
    assign_role,
    find_role,
    has_directory_role,
    held_roles,
    list_assignments,
    remove_principal,
    role_definition_json,
    roles_allow,
)
from warden.identity.membership import transitive_group_ids
from warden.identity.schema import group_members, groups
from warden.kernel.clock import utcnow
from warden.kernel.db import Database

from .directory_support import OTHER_TENANT, TENANT, directory_db_fixture  # noqa: F401  (the directory_db fixture)

ACTIONS = [
    "microsoft.directory/users/create",
    "microsoft.directory/users/password/update",
    "microsoft.directory/groups/create",
    "microsoft.directory/groups/members/update",
    "microsoft.directory/applications/create",
    "microsoft.directory/servicePrincipals/credentials/update",
    "microsoft.directory/roleAssignments/create",
    "microsoft.directory/privilegedUsers/update",
    "microsoft.directory/users/standard/read",
    "microsoft.directory/roleAssignments/standard/read",
]
# role -> the ACTIONS it allows (1) or not (0), in order
MATRIX = {
    "Global Administrator": "1111111111",
    "User Administrator": "1111000011",
    "Groups Administrator": "0011000011",
    "Application Administrator": "0000110011",
    "Security Administrator": "0000000011",
    "Security Reader": "0000000011",
}


@pytest.mark.parametrize("name", list(MATRIX))
def test_each_role_allows_exactly_its_actions(name: str) -> None:
    role = find_role(name)
    assert role is not None
    allowed = "".join("1" if roles_allow([role], action) else "0" for action in ACTIONS)
    assert allowed == MATRIX[name]


def test_template_ids_are_entras() -> None:
    assert {r.display_name: r.template_id for r in BUILTIN_ROLES} == {
        "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
        "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "Groups Administrator": "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Reports Reader": "4a5d8f65-41da-4de4-8968-e035b65339cf",
    }
    body = role_definition_json(BUILTIN_ROLES[0])
    assert body["id"] == body["templateId"] and body["isBuiltIn"] is True


def test_a_role_held_by_a_nested_group_counts_for_its_members(directory_db: Database) -> None:
    user, outer, inner = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    with directory_db.write() as conn:
        for gid in (outer, inner):
            conn.execute(
                insert(groups).values(
                    object_id=gid,
                    tenant_id=TENANT,
                    display_name="g",
                    mail_nickname="g",
                    security_enabled=True,
                    visibility="Private",
                    properties={},
                    created_at=utcnow(),
                )
            )
        for group_id, member_id, kind in ((inner, user, "user"), (outer, inner, "group")):
            conn.execute(
                insert(group_members).values(
                    group_id=group_id, member_id=member_id, tenant_id=TENANT, member_type=kind, added_at=utcnow()
                )
            )
        first = assign_role(conn, TENANT, find_role("Security Reader").template_id, outer)  # type: ignore[union-attr]
        again = assign_role(conn, TENANT, find_role("security reader").template_id, outer)  # type: ignore[union-attr]
    assert first == again  # assigning twice does not duplicate
    with directory_db.read() as conn:
        caller = (user, *transitive_group_ids(conn, TENANT, user))
        assert has_directory_role(conn, TENANT, caller, ["Security Reader"])
        assert not has_directory_role(conn, TENANT, caller, ["Global Administrator", "User Administrator"])
        assert not has_directory_role(conn, TENANT, (user,), ["Security Reader"])  # only through the group
        assert not has_directory_role(conn, OTHER_TENANT, caller, ["Security Reader"])
        assert [a["principalId"] for a in list_assignments(conn, TENANT)] == [outer]
    with directory_db.write() as conn:
        remove_principal(conn, TENANT, outer)
    with directory_db.read() as conn:
        assert held_roles(conn, TENANT, caller) == []
