"""Golden tests of the RBAC engine against Azure's documented behaviour."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from warden.authz import engine as engine_module
from warden.authz.engine import (
    EVERYONE,
    AuthorizationEngine,
    DenyAssignment,
    Permission,
    RoleAssignment,
    RoleDefinition,
    action_matches,
    normalize_scope,
    permission_allows,
    scope_ancestors,
)
from warden.authz.roles import load_builtin_roles

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"

SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
RG = f"{SUB}/resourceGroups/rg1"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
VM_EXT = f"{VM}/extensions/ext1"
ASSIGN = "Microsoft.Authorization/roleAssignments/write"
VM_WRITE = "Microsoft.Compute/virtualMachines/write"
VM_READ = "Microsoft.Compute/virtualMachines/read"
BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"

ALICE = "a0000000-0000-0000-0000-00000000000a"
BOB = "b0000000-0000-0000-0000-00000000000b"
GROUP = "90000000-0000-0000-0000-000000000009"


def role(guid: str, *blocks: Permission, name: str = "") -> RoleDefinition:
    return RoleDefinition(id=guid, role_name=name or guid, permissions=blocks)


def assign(principal: str, role_id: str, scope: str, rid: str = "") -> RoleAssignment:
    return RoleAssignment(
        id=rid or f"ra-{principal[:2]}-{role_id[:4]}",
        scope=scope,
        principal_id=principal,
        role_definition_id=role_id,
    )


def builtin_engine(*assignments: RoleAssignment, denies: tuple[DenyAssignment, ...] = ()):
    return AuthorizationEngine(load_builtin_roles(), assignments, denies)


# ----------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("/Subscriptions/ABC/", "/subscriptions/abc"),
        ("//", "/"),
        ("/subscriptions/a//b", "/subscriptions/a//b"),
    ],
)
def test_normalize_scope(raw, expected):
    assert normalize_scope(raw) == expected


@pytest.mark.parametrize("bad", ["subscriptions/x", "x", None, 3])
def test_normalize_scope_rejects_relative(bad):
    with pytest.raises(ValueError):
        normalize_scope(bad)


def test_ancestors_of_child_resource():
    assert scope_ancestors(VM_EXT) == [
        VM_EXT.lower(),
        VM.lower(),
        RG.lower(),
        SUB.lower(),
        "/",
    ]


def test_ancestors_of_extension_resources():
    ra = f"{SUB}/providers/Microsoft.Authorization/roleAssignments/x1"
    assert scope_ancestors(ra) == [ra.lower(), SUB.lower(), "/"]
    tenant_ra = "/providers/Microsoft.Authorization/roleAssignments/x2"
    assert scope_ancestors(tenant_ra) == [tenant_ra.lower(), "/"]
    on_vm = f"{VM}/providers/Microsoft.Authorization/locks/l1"
    assert scope_ancestors(on_vm) == [on_vm.lower(), VM.lower(), RG.lower(), SUB.lower(), "/"]


def test_ancestors_of_management_group_and_root():
    mg = "/providers/Microsoft.Management/managementGroups/mg1"
    assert scope_ancestors(mg) == [mg.lower(), "/"]
    assert scope_ancestors("/") == ["/"]
    assert scope_ancestors("") == ["/"]


def test_resource_group_named_providers_is_not_a_keyword():
    rg = f"{SUB}/resourceGroups/providers"
    assert scope_ancestors(rg) == [rg.lower(), SUB.lower(), "/"]


# ----------------------------------------------------------------- wildcards


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("*/read", VM_READ, True),
        ("*/read", VM_WRITE, False),
        ("Microsoft.Compute/*", VM_WRITE, True),
        ("Microsoft.Compute/*", "Microsoft.Network/virtualNetworks/read", False),
        ("*", "anything/at/all", True),
        ("Microsoft.Authorization/*/Write", ASSIGN, True),
        ("Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/read", False),
        ("Microsoft.*/*/read", VM_READ, True),
        ("Microsoft.*/*/read", "Contoso.Widgets/things/read", False),
        ("*/virtualMachines/*/action", "Microsoft.Compute/virtualMachines/start/action", True),
        ("*/virtualMachines/*/action", "Microsoft.Compute/virtualMachines/write", False),
        ("MICROSOFT.COMPUTE/VIRTUALMACHINES/READ", VM_READ, True),
        ("Microsoft.Compute/virtualMachines/read", "microsoft.compute/VIRTUALMACHINES/Read", True),
        ("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/readx", False),
        ("Microsoft.Compute/virtualMachines/read", "xMicrosoft.Compute/virtualMachines/read", False),
        ("Microsoft.Compute/*", "Microsoft.Compute/", True),  # * matches zero characters
        ("a.b(c)+/[x]?/read", "a.b(c)+/[x]?/read", True),  # regex metacharacters are literal
        ("a.b/read", "aXb/read", False),
    ],
)
def test_action_matches(pattern, action, expected):
    assert action_matches(pattern, action) is expected


def test_permission_allows_subtracts_not_actions_and_separates_data():
    p = Permission(
        actions=("*",),
        not_actions=("Microsoft.Authorization/*/Write",),
        data_actions=("Microsoft.Storage/*",),
        not_data_actions=("*/delete",),
    )
    assert permission_allows(p, VM_WRITE)
    assert not permission_allows(p, ASSIGN)
    assert permission_allows(p, BLOB_READ)  # as a control-plane action name, "*" matches it
    assert not permission_allows(Permission(actions=("*",)), BLOB_READ, data_action=True)
    assert permission_allows(p, BLOB_READ, data_action=True)
    assert not permission_allows(p, "Microsoft.Storage/x/delete", data_action=True)
    assert not permission_allows(p, VM_WRITE, data_action=True)


# ----------------------------------------------------------------- built-in roles


def test_reader_cannot_write():
    eng = builtin_engine(assign(ALICE, READER, SUB))
    assert eng.check([ALICE], VM_READ, VM).allowed
    d = eng.check([ALICE], VM_WRITE, VM)
    assert not d.allowed and d.role_assignment_id is None and "No role assignment" in d.reason


def test_contributor_writes_vm_but_cannot_assign_roles():
    eng = builtin_engine(assign(ALICE, CONTRIBUTOR, RG, "ra-c"))
    d = eng.check([ALICE], VM_WRITE, VM)
    assert d.allowed and d.role_assignment_id == "ra-c"
    assert "Contributor" in d.reason and RG in d.reason
    assert not eng.check([ALICE], ASSIGN, VM).allowed
    assert not eng.check([ALICE], "Microsoft.Authorization/roleAssignments/delete", RG).allowed
    assert eng.check([ALICE], "Microsoft.Authorization/roleAssignments/read", RG).allowed


def test_owner_can_assign_roles_and_write():
    eng = builtin_engine(assign(ALICE, OWNER, SUB))
    assert eng.check([ALICE], ASSIGN, VM).allowed
    assert eng.check([ALICE], VM_WRITE, VM).allowed
    assert not eng.check([ALICE], BLOB_READ, VM, data_action=True).allowed  # Owner has no data


def test_user_access_administrator_assigns_but_cannot_write_vm():
    eng = builtin_engine(assign(ALICE, UAA, SUB))
    assert eng.check([ALICE], ASSIGN, RG).allowed
    assert eng.check([ALICE], VM_READ, VM).allowed
    assert not eng.check([ALICE], VM_WRITE, VM).allowed


def test_rbac_administrator_assigns_but_cannot_write_policy():
    eng = builtin_engine(assign(ALICE, RBAC_ADMIN, SUB))
    assert eng.check([ALICE], ASSIGN, RG).allowed
    assert not eng.check([ALICE], "Microsoft.Authorization/policyAssignments/write", RG).allowed


def test_unknown_role_definition_grants_nothing():
    eng = builtin_engine(assign(ALICE, "deadbeef-0000-0000-0000-000000000000", "/"))
    assert not eng.check([ALICE], VM_READ, VM).allowed
    assert not eng.has_any_role_at([ALICE], VM)
    assert eng.permissions_at([ALICE], VM) == []


def test_no_principals_and_unknown_principals_get_nothing():
    eng = builtin_engine(assign(ALICE, OWNER, "/"))
    assert not eng.check([], VM_READ, VM).allowed
    assert not eng.check([BOB], VM_READ, VM).allowed


# ----------------------------------------------------------------- scopes and inheritance


def test_assignment_at_sibling_scope_does_not_apply():
    eng = builtin_engine(assign(ALICE, OWNER, f"{SUB}/resourceGroups/rg2"))
    assert not eng.check([ALICE], VM_READ, VM).allowed
    assert not eng.check([ALICE], VM_READ, f"{SUB}/resourceGroups/rg10").allowed  # not a prefix match
    assert not eng.check([ALICE], VM_READ, SUB).allowed  # nor upwards
    assert eng.check([ALICE], VM_READ, f"{SUB}/resourceGroups/rg2/providers/X.Y/z/w").allowed


def test_assignment_on_resource_applies_to_child_not_parent():
    eng = builtin_engine(assign(ALICE, CONTRIBUTOR, VM))
    assert eng.check([ALICE], VM_WRITE, VM_EXT).allowed
    assert eng.check([ALICE], VM_WRITE, f"{VM}/providers/Microsoft.Authorization/locks/l").allowed
    assert not eng.check([ALICE], VM_WRITE, RG).allowed


def test_tenant_root_assignment_applies_everywhere():
    eng = builtin_engine(assign(ALICE, READER, "/"))
    for scope in ("/", SUB, RG, VM, VM_EXT, "/providers/Microsoft.Management/managementGroups/m"):
        assert eng.check([ALICE], VM_READ, scope).allowed


def test_case_insensitive_scopes_actions_and_ids():
    eng = AuthorizationEngine(
        load_builtin_roles(),
        [RoleAssignment("ra", RG.upper(), ALICE.upper(), CONTRIBUTOR.upper())],
    )
    assert eng.check([ALICE.lower()], VM_WRITE.upper(), VM.lower()).allowed
    assert eng.check([ALICE], "microsoft.compute/virtualmachines/write", VM.swapcase() + "/").allowed
    assert not eng.check([ALICE], ASSIGN.upper(), VM).allowed


def test_group_membership_counts():
    eng = builtin_engine(assign(GROUP, READER, SUB))
    assert eng.check([ALICE, GROUP], VM_READ, VM).allowed
    assert not eng.check([ALICE], VM_READ, VM).allowed
    assert eng.check(ALICE, VM_READ, VM).allowed is False  # a lone string is one principal id


# ----------------------------------------------------------------- NotActions and DataActions


def test_not_actions_is_not_a_deny_across_two_roles():
    eng = builtin_engine(assign(ALICE, CONTRIBUTOR, SUB), assign(ALICE, UAA, RG))
    d = eng.check([ALICE], ASSIGN, VM)
    assert d.allowed and "User Access Administrator" in d.reason
    assert not eng.check([ALICE], ASSIGN, SUB).allowed  # UAA is only at the resource group


def test_not_actions_is_not_a_deny_across_two_blocks():
    two_blocks = role(
        "c0000000-0000-0000-0000-00000000000c",
        Permission(actions=("Microsoft.Compute/*",), not_actions=(VM_WRITE,)),
        Permission(actions=(VM_WRITE,)),
    )
    eng = AuthorizationEngine([two_blocks], [assign(ALICE, two_blocks.id, SUB)])
    assert eng.check([ALICE], VM_WRITE, VM).allowed
    one_block = role(
        "d0000000-0000-0000-0000-00000000000d",
        Permission(actions=("Microsoft.Compute/*",), not_actions=(VM_WRITE,)),
    )
    eng = AuthorizationEngine([one_block], [assign(ALICE, one_block.id, SUB)])
    assert not eng.check([ALICE], VM_WRITE, VM).allowed
    assert eng.check([ALICE], VM_READ, VM).allowed


def test_multiple_wildcards_in_role():
    r = role("e0000000-0000-0000-0000-00000000000e", Permission(actions=("Microsoft.*/virtualMachines/*/action",)))
    eng = AuthorizationEngine([r], [assign(ALICE, r.id, RG)])
    assert eng.check([ALICE], "Microsoft.Compute/virtualMachines/restart/action", VM).allowed
    assert eng.check([ALICE], "Microsoft.ClassicCompute/virtualMachines/a/b/action", VM).allowed
    assert not eng.check([ALICE], VM_WRITE, VM).allowed
    assert not eng.check([ALICE], "Contoso.Compute/virtualMachines/restart/action", VM).allowed


def test_data_actions_are_separate():
    r = role(
        "f0000000-0000-0000-0000-00000000000f",
        Permission(actions=("*",), data_actions=("Microsoft.Storage/*/blobs/read",)),
    )
    eng = AuthorizationEngine([r], [assign(ALICE, r.id, SUB)])
    assert eng.check([ALICE], BLOB_READ, VM, data_action=True).allowed
    assert not eng.check([ALICE], BLOB_READ.replace("read", "write"), VM, data_action=True).allowed
    assert eng.check([ALICE], BLOB_READ, VM).allowed  # as a control-plane action "*" matches it
    data_only = role("f1000000-0000-0000-0000-00000000000f", Permission(data_actions=("*",)))
    eng = AuthorizationEngine([data_only], [assign(ALICE, data_only.id, SUB)])
    assert not eng.check([ALICE], VM_READ, VM).allowed  # "*" in dataActions grants no action
    assert eng.check([ALICE], BLOB_READ, VM, data_action=True).allowed


# ----------------------------------------------------------------- deny assignments


def deny(scope: str, principals: tuple[str, ...], actions: tuple[str, ...] = ("*",), **kw):
    return DenyAssignment(
        id=kw.pop("id", "da-1"),
        scope=scope,
        permissions=(Permission(actions=actions, **kw.pop("perm", {})),),
        principal_ids=principals,
        **kw,
    )


def test_deny_assignment_beats_owner():
    da = deny(RG, (EVERYONE,), ("Microsoft.Compute/*/write",), name="protect")
    eng = builtin_engine(assign(ALICE, OWNER, "/"), denies=(da,))
    d = eng.check([ALICE], VM_WRITE, VM)
    assert not d.allowed and d.deny_assignment_id == "da-1" and "protect" in d.reason
    assert eng.check([ALICE], VM_READ, VM).allowed
    assert eng.check([ALICE], VM_WRITE, f"{SUB}/resourceGroups/other/providers/x/y/z").allowed


def test_deny_targets_named_principals_and_groups():
    da = deny(SUB, (GROUP,))
    eng = builtin_engine(assign(ALICE, OWNER, "/"), assign(BOB, OWNER, "/"), denies=(da,))
    assert not eng.check([ALICE, GROUP], VM_READ, VM).allowed
    assert eng.check([BOB], VM_READ, VM).allowed


def test_exclude_principals_exempts():
    da = deny(SUB, (EVERYONE,), exclude_principal_ids=(BOB.upper(),))
    eng = builtin_engine(assign(ALICE, OWNER, "/"), assign(BOB, OWNER, "/"), denies=(da,))
    assert not eng.check([ALICE], VM_WRITE, VM).allowed
    assert eng.check([BOB], VM_WRITE, VM).allowed
    da_group = deny(SUB, (EVERYONE,), exclude_principal_ids=(GROUP,))
    eng = builtin_engine(assign(ALICE, OWNER, "/"), denies=(da_group,))
    assert eng.check([ALICE, GROUP], VM_WRITE, VM).allowed  # excluded through a group


def test_do_not_apply_to_child_scopes_limits_to_exact_scope():
    da = deny(RG, (EVERYONE,), do_not_apply_to_child_scopes=True)
    eng = builtin_engine(assign(ALICE, OWNER, "/"), denies=(da,))
    assert not eng.check([ALICE], "Microsoft.Resources/subscriptions/resourceGroups/write", RG).allowed
    assert not eng.check([ALICE], VM_WRITE, RG.upper() + "/").allowed
    assert eng.check([ALICE], VM_WRITE, VM).allowed
    assert eng.check([ALICE], VM_WRITE, SUB).allowed


def test_deny_not_actions_and_data_actions():
    da = deny(
        SUB,
        (EVERYONE,),
        ("*",),
        perm={"not_actions": ("*/read",), "data_actions": ("*/blobs/*",), "not_data_actions": ("*/read",)},
    )
    r = role("a1000000-0000-0000-0000-00000000000a", Permission(actions=("*",), data_actions=("*",)))
    eng = AuthorizationEngine([r], [assign(ALICE, r.id, "/")], [da])
    assert eng.check([ALICE], VM_READ, VM).allowed
    assert not eng.check([ALICE], VM_WRITE, VM).allowed
    assert eng.check([ALICE], BLOB_READ, VM, data_action=True).allowed
    assert not eng.check([ALICE], BLOB_READ.replace("/read", "/write"), VM, data_action=True).allowed
    assert eng.check([ALICE], "Microsoft.Storage/queues/write", VM, data_action=True).allowed


def test_deny_does_not_apply_at_ancestor_or_sibling():
    da = deny(VM, (EVERYONE,))
    eng = builtin_engine(assign(ALICE, OWNER, "/"), denies=(da,))
    assert not eng.check([ALICE], VM_WRITE, VM_EXT).allowed
    assert eng.check([ALICE], VM_WRITE, RG).allowed
    assert eng.check([ALICE], VM_WRITE, f"{RG}/providers/Microsoft.Compute/virtualMachines/vm2").allowed


# ----------------------------------------------------------------- permissions_at / has_any_role_at


def test_permissions_at_unions_roles_at_scope_and_ancestors():
    roles = {r.id: r for r in load_builtin_roles()}
    reader, contributor = roles[READER], roles[CONTRIBUTOR]
    eng = builtin_engine(
        assign(ALICE, READER, SUB),
        assign(GROUP, CONTRIBUTOR, VM),
        assign(ALICE, READER, RG, "dup"),
        assign(ALICE, OWNER, f"{SUB}/resourceGroups/x"),
    )
    assert eng.permissions_at([ALICE, GROUP], VM) == [*contributor.permissions, *reader.permissions]
    assert eng.permissions_at([ALICE, GROUP], RG) == list(reader.permissions)
    assert eng.permissions_at([BOB], VM) == []


def test_has_any_role_at():
    eng = builtin_engine(assign(ALICE, READER, RG))
    assert eng.has_any_role_at([ALICE], VM_EXT)
    assert eng.has_any_role_at([ALICE], RG)
    assert not eng.has_any_role_at([ALICE], SUB)
    assert not eng.has_any_role_at([BOB], VM)


def test_memoized_answers_stay_per_role_and_kind():
    eng = builtin_engine(assign(ALICE, READER, SUB), assign(BOB, OWNER, SUB))
    for _ in range(3):
        assert not eng.check([ALICE], VM_WRITE, VM).allowed
        assert eng.check([BOB], VM_WRITE, VM).allowed
        assert not eng.check([BOB], VM_WRITE, VM, data_action=True).allowed


def test_bad_scope_raises():
    eng = builtin_engine()
    with pytest.raises(ValueError):
        eng.check([ALICE], VM_READ, "subscriptions/x")


def test_engine_imports_only_stdlib():
    import sys

    tree = ast.parse(Path(engine_module.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, names


def test_full_role_definition_id_is_reduced_to_its_guid():
    full = f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{READER.upper()}"
    eng = builtin_engine(assign(ALICE, full, SUB))
    assert eng.check([ALICE], VM_READ, VM).allowed
