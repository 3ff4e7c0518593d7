"""Azure's 928 built-in role definitions, imported as custom roles over REST, then enforced.

Each role is PUT at the subscription with a fresh GUID and a suffixed name (built-in names are
reserved), read back unchanged, and a sample of them is assigned and checked on real requests.
"""

from __future__ import annotations

import json
import random
import uuid

import pytest

API = {"api-version": "2022-04-01"}
RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"


@pytest.fixture(scope="module")
def corpus_roles(corpus_dir):  # type: ignore[no-untyped-def]
    return json.loads((corpus_dir / "rbac" / "builtin-roles.json").read_text())


def _as_custom(role: dict, scope: str) -> dict:
    permissions = [
        {k: p.get(k) or [] for k in ("actions", "notActions", "dataActions", "notDataActions")}
        for p in role["permissions"]
        if not p.get("condition")
    ]
    return {
        "properties": {
            "roleName": f"{role['roleName']} (imported)",
            "description": role.get("description") or "",
            "type": "CustomRole",
            "permissions": permissions,
            "assignableScopes": [scope],
        }
    }


def test_every_builtin_role_imports_as_a_custom_role(arm, warden_server, corpus_roles) -> None:  # type: ignore[no-untyped-def]
    scope = warden_server.sub_scope()
    imported: dict[str, dict] = {}
    for role in corpus_roles:
        guid = str(uuid.uuid4())
        body = _as_custom(role, scope)
        response = arm.put(f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}", params=API, json=body)
        assert response.status_code == 201, (role["roleName"], response.text)
        stored = response.json()["properties"]
        assert stored["permissions"] == body["properties"]["permissions"]
        imported[guid] = role
    assert len(imported) == len(corpus_roles) == 928
    listed = arm.get(
        f"{scope}/providers/Microsoft.Authorization/roleDefinitions",
        params={**API, "$filter": "type eq 'CustomRole'", "$top": "1000"},
    ).json()["value"]
    assert set(imported) <= {d["name"] for d in listed}

    # Enforcement on real requests: roles that grant reading resource groups let their holder
    # read one; roles that don't, don't. Decided from the role JSON with Azure's wildcard rule.
    from fnmatch import fnmatchcase

    def grants(role: dict, action: str) -> bool:
        return any(
            any(fnmatchcase(action.lower(), a.lower()) for a in p.get("actions") or [])
            and not any(fnmatchcase(action.lower(), n.lower()) for n in p.get("notActions") or [])
            for p in role["permissions"]
            if not p.get("condition")
        )

    group = f"{scope}/resourceGroups/rg-corpus-{uuid.uuid4().hex[:6]}"
    assert arm.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).status_code == 201
    sample = random.Random(7).sample(sorted(imported), 12)
    outcomes = set()
    for guid in sample:
        principal = warden_server.new_principal()
        warden_server.assign(principal, guid, group)
        expected = grants(imported[guid], RG_READ)
        outcomes.add(expected)
        with warden_server.client(principal) as http:
            status = http.get(group, params={"api-version": "2021-04-01"}).status_code
        assert status == (200 if expected else 403), imported[guid]["roleName"]
    assert outcomes == {True, False}  # the sample exercised both answers
