"""Azure's real built-in roles (the shared corpus) through the parser and the engine.

Skips when ../shared/corpus is absent. Expected outcomes are computed with an independent oracle
(fnmatch on lower-cased strings), not with the engine.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import pytest

from warden.authz.engine import AuthorizationEngine, RoleAssignment
from warden.authz.roles import load_builtin_roles, role_definition_from_json

FILLERS = ("zz", "zz/read", "Zz.Widgets/gadgets/zz", "q")
SCOPE = "/subscriptions/0000aaaa-0000-0000-0000-000000000001/resourceGroups/rg/providers/A.B/c/d"


@pytest.fixture(scope="module")
def corpus_roles(corpus_dir):
    return json.loads((corpus_dir / "rbac" / "builtin-roles.json").read_text(encoding="utf-8"))


def _matches(patterns, action: str) -> bool:
    return any(fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _grants(block: dict, action: str, data: bool) -> bool:
    """Oracle: does one corpus permission block (without a condition) grant ``action``?"""
    if block.get("condition"):
        return False
    grant, minus = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    return _matches(block.get(grant) or [], action) and not _matches(block.get(minus) or [], action)


def _principal(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


def test_corpus_size(corpus_roles):
    assert len(corpus_roles) == 928
    assert len({d["name"].lower() for d in corpus_roles}) == 928


def test_every_builtin_parses_as_a_custom_role(corpus_roles):
    for doc in corpus_roles:
        builtin = role_definition_from_json(doc)
        custom = role_definition_from_json({**doc, "roleType": "CustomRole"})
        assert custom.role_type == "CustomRole" and builtin.role_type == "BuiltInRole"
        assert custom.id == doc["name"] and custom.role_name == doc["roleName"]
        assert custom.permissions == builtin.permissions
        assert len(custom.permissions) == sum(1 for p in doc["permissions"] if not p.get("condition"))


def test_every_builtin_evaluates(corpus_roles):
    roles = [role_definition_from_json({**doc, "roleType": "CustomRole"}) for doc in corpus_roles]
    assignments = [
        RoleAssignment(id=f"ra-{i}", scope="/", principal_id=_principal(i), role_definition_id=r.id)
        for i, r in enumerate(roles)
    ]
    engine = AuthorizationEngine(roles, assignments)
    granted = exclusions = empty = 0

    for i, doc in enumerate(corpus_roles):
        who = [_principal(i)]
        blocks = doc["permissions"]
        for data in (False, True):
            grant_key, minus_key = ("dataActions", "notDataActions") if data else ("actions", "notActions")
            # One of the role's own patterns, made concrete, is allowed (or, when every block
            # that could grant it carries a condition, denied: conditions fail closed).
            ordered = sorted(blocks, key=lambda b: bool(b.get("condition")))  # unconditioned first
            candidates = [(b, p.replace("*", f)) for b in ordered for p in (b.get(grant_key) or []) for f in FILLERS]
            usable = [a for b, a in candidates if not _matches(b.get(minus_key) or [], a)]
            if candidates:
                assert usable, f"{doc['roleName']}: no concrete instance survives its notActions"
                action = usable[0]
                expected = any(_grants(b, action, data) for b in blocks)
                if any(b.get(grant_key) and not b.get("condition") for b in blocks):
                    assert expected, (doc["roleName"], action)
                decision = engine.check(who, action, SCOPE, data_action=data)
                assert decision.allowed is expected, (doc["roleName"], action, data, decision.reason)
                if expected:
                    assert decision.role_assignment_id == f"ra-{i}"
                    granted += 1
                else:
                    empty += 1
            # Each notAction, made concrete, is denied unless another block grants it.
            for b in blocks:
                for pattern in b.get(minus_key) or []:
                    action = pattern.replace("*", "zz")
                    expected = any(_grants(other, action, data) for other in blocks)
                    assert engine.check(who, action, SCOPE, data_action=data).allowed is expected, (
                        doc["roleName"],
                        pattern,
                        data,
                    )
                    if not expected and _matches(b.get(grant_key) or [], action):
                        exclusions += 1  # a real subtraction: the block's own actions matched it
        # An action foreign to Azure is granted only by roles whose patterns cover it ("*").
        foreign = "Warden.Never/granted/verb"
        assert engine.check(who, foreign, SCOPE).allowed is any(_grants(b, foreign, False) for b in blocks)

    print(f"\n{granted=} {exclusions=} {empty=}")
    assert granted > 900 and exclusions > 50, (granted, exclusions, empty)


def test_shipped_builtins_equal_the_corpus(corpus_roles):
    by_id = {d["name"].lower(): d for d in corpus_roles}
    for role in load_builtin_roles():
        doc = by_id[role.id.lower()]
        expected = role_definition_from_json(doc)
        assert role.id == doc["name"]
        assert role.role_name == doc["roleName"]
        assert role.role_type == doc["roleType"] == "BuiltInRole"
        assert role.assignable_scopes == tuple(doc["assignableScopes"])
        assert role.permissions == expected.permissions
        assert role.description == doc["description"]
        assert not any(p.get("condition") for p in doc["permissions"])
