"""Parsing and rendering Azure role-definition JSON, and the shipped built-in roles."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from warden.authz.engine import Permission, RoleDefinition
from warden.authz.roles import load_builtin_roles, role_definition_from_json, role_definition_to_json

GUID = "9f1d1b6a-0000-4000-8000-000000000001"

ARM_DOC = {
    "id": f"/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/{GUID}",
    "name": GUID,
    "type": "Microsoft.Authorization/roleDefinitions",
    "properties": {
        "roleName": "VM Operator",
        "description": "Starts and stops VMs.",
        "type": "CustomRole",
        "assignableScopes": ["/subscriptions/s1"],
        "permissions": [
            {
                "actions": ["Microsoft.Compute/virtualMachines/*"],
                "notActions": ["Microsoft.Compute/virtualMachines/delete"],
                "dataActions": ["Microsoft.Compute/virtualMachines/login/action"],
                "notDataActions": [],
            }
        ],
    },
}

FLAT_DOC = {
    "assignableScopes": ["/"],
    "description": "Read blobs.",
    "id": f"/providers/Microsoft.Authorization/roleDefinitions/{GUID}",
    "name": GUID,
    "permissions": [
        {
            "actions": ["*/read"],
            "notActions": [],
            "dataActions": ["Microsoft.Storage/*/read"],
            "notDataActions": [],
            "condition": None,
            "conditionVersion": None,
        }
    ],
    "roleName": "Blob Peeker",
    "roleType": "BuiltInRole",
    "type": "Microsoft.Authorization/roleDefinitions",
    "createdOn": "2024-01-01T00:00:00Z",
}


def test_parses_arm_shape():
    r = role_definition_from_json(ARM_DOC)
    assert r == RoleDefinition(
        id=GUID,
        role_name="VM Operator",
        permissions=(
            Permission(
                actions=("Microsoft.Compute/virtualMachines/*",),
                not_actions=("Microsoft.Compute/virtualMachines/delete",),
                data_actions=("Microsoft.Compute/virtualMachines/login/action",),
            ),
        ),
        assignable_scopes=("/subscriptions/s1",),
        role_type="CustomRole",
        description="Starts and stops VMs.",
    )


def test_parses_flat_shape():
    r = role_definition_from_json(FLAT_DOC)
    assert r.id == GUID and r.role_name == "Blob Peeker" and r.role_type == "BuiltInRole"
    assert r.permissions == (Permission(actions=("*/read",), data_actions=("Microsoft.Storage/*/read",)),)
    assert r.assignable_scopes == ("/",) and r.description == "Read blobs."


def test_flat_shape_takes_role_type_from_type_when_it_is_one():
    doc = {"name": GUID, "roleName": "x", "type": "BuiltInRole"}
    assert role_definition_from_json(doc).role_type == "BuiltInRole"
    doc = {"name": GUID, "roleName": "x", "type": "Microsoft.Authorization/roleDefinitions"}
    assert role_definition_from_json(doc).role_type == "CustomRole"


def test_missing_lists_mean_empty_and_defaults():
    r = role_definition_from_json(
        {"name": GUID, "roleName": "Nothing", "permissions": [{}, {"actions": None, "notActions": ["a"]}]}
    )
    assert r.permissions == (Permission(), Permission(not_actions=("a",)))
    assert r.assignable_scopes == ("/",) and r.role_type == "CustomRole" and r.description == ""
    assert role_definition_from_json({"name": GUID, "roleName": "N"}).permissions == ()


def test_guid_taken_from_id_when_name_missing():
    doc = {
        "id": f"/providers/Microsoft.Authorization/roleDefinitions/{GUID}",
        "properties": {"roleName": "x"},
    }
    assert role_definition_from_json(doc).id == GUID


def _with(path: tuple, value):
    doc = copy.deepcopy(ARM_DOC)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "JSON object"),
        ({"properties": "x", "name": GUID}, "'properties' must be an object"),
        (
            _with(("properties", "permissions", 0, "actions"), "Microsoft.Compute/*"),
            "permissions[0].actions must be a list of strings",
        ),
        (
            _with(("properties", "permissions", 0, "notDataActions"), [1]),
            "permissions[0].notDataActions must be a list of strings",
        ),
        (_with(("properties", "permissions", 0), ["*"]), "permissions[0] must be an object"),
        (_with(("properties", "permissions"), {"actions": ["*"]}), "'permissions' must be a list"),
        (_with(("properties", "roleName"), ""), "roleName"),
        (_with(("properties", "roleName"), 5), "roleName"),
        (_with(("properties", "type"), "SuperRole"), "role type 'SuperRole'"),
        (_with(("properties", "assignableScopes"), "/"), "assignableScopes must be a list of strings"),
        (_with(("properties", "description"), 3), "description must be a string"),
        (_with(("name",), "not-a-guid"), "is not a GUID"),
        ({"roleName": "x"}, "needs 'name'"),
    ],
)
def test_malformed_input_raises_value_error(doc, message):
    with pytest.raises(ValueError) as exc:
        role_definition_from_json(doc)
    assert message in str(exc.value)


def test_to_json_round_trips_in_arm_shape():
    r = role_definition_from_json(ARM_DOC)
    out = role_definition_to_json(r)
    assert out["id"] == f"/providers/Microsoft.Authorization/roleDefinitions/{GUID}"
    assert out["name"] == GUID and out["type"] == "Microsoft.Authorization/roleDefinitions"
    assert out["properties"] == ARM_DOC["properties"]
    assert role_definition_from_json(out) == r
    json.dumps(out)  # plain JSON values only


EXPECTED_BUILTINS = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "4d97b98b-1d4f-4787-a291-c67834d212e7": "Network Contributor",
    "73c42c96-874c-492b-b04d-ab87d138a893": "Log Analytics Reader",
    "92aaf0da-9dab-42b6-94a3-d43ce8d16293": "Log Analytics Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "5e467623-bb1f-42f4-a55d-6e525e11384b": "Backup Contributor",
    "00c29273-979b-4161-815c-10b084fb9324": "Backup Operator",
    "a795c7a0-d4a2-40c1-ae25-d81f01202912": "Backup Reader",
    "f54b6d04-23c6-443e-b462-9c16ab7b4a52": "Backup MUA Operator",
}


def test_load_builtin_roles_ships_exactly_the_five():
    roles = load_builtin_roles()
    assert {r.id: r.role_name for r in roles} == EXPECTED_BUILTINS
    assert all(r.role_type == "BuiltInRole" and r.assignable_scopes == ("/",) for r in roles)
    assert all(r.description for r in roles)
    roles.clear()  # callers get their own list
    assert len(load_builtin_roles()) == len(EXPECTED_BUILTINS)


def test_builtin_file_is_in_arm_shape_and_round_trips():
    text = resources.files("warden.authz").joinpath("builtin_roles.json").read_text(encoding="utf-8")
    docs = json.loads(text)
    for doc in docs:
        assert set(doc) == {"id", "name", "type", "properties"}
        assert set(doc["properties"]) == {
            "roleName",
            "description",
            "type",
            "assignableScopes",
            "permissions",
        }
        assert role_definition_to_json(role_definition_from_json(doc)) == doc


def test_builtin_permission_strings():
    roles = {r.role_name: r for r in load_builtin_roles()}
    assert roles["Owner"].permissions == (Permission(actions=("*",)),)
    assert roles["Reader"].permissions == (Permission(actions=("*/read",)),)
    assert roles["User Access Administrator"].permissions == (
        Permission(actions=("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*")),
    )
    contributor = roles["Contributor"].permissions[0]
    assert contributor.actions == ("*",)
    assert "Microsoft.Authorization/*/Write" in contributor.not_actions
    assert "Microsoft.Authorization/*/Delete" in contributor.not_actions
    assert "Microsoft.Authorization/elevateAccess/Action" in contributor.not_actions


def test_conditioned_permission_blocks_are_dropped_fail_closed():
    doc = {
        "name": GUID,
        "roleName": "Scoped Assigner",
        "permissions": [
            {
                "actions": ["Microsoft.Authorization/roleAssignments/write"],
                "condition": "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
                "ForAnyOfAnyValues:GuidEquals {acdd72a7-3385-48ef-bd42-f606fba81ae7}",
                "conditionVersion": "2.0",
            },
            {"actions": ["*/read"], "condition": None, "conditionVersion": None},
            {"actions": ["Microsoft.Support/*"], "condition": ""},
        ],
    }
    r = role_definition_from_json(doc)
    assert r.permissions == (Permission(actions=("*/read",)), Permission(actions=("Microsoft.Support/*",)))
    bad = copy.deepcopy(doc)
    bad["permissions"][1]["condition"] = ["x"]
    with pytest.raises(ValueError, match=r"permissions\[1\]\.condition must be a string"):
        role_definition_from_json(bad)
