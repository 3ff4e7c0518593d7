"""Azure role-definition JSON <-> engine objects, and the built-in roles Warden ships.

Two JSON shapes are read:

* ARM: ``{"id", "name": <guid>, "type", "properties": {"roleName", "description", "type",
  "assignableScopes", "permissions"}}`` (what the REST API returns and accepts);
* flat: ``{"name": <guid>, "roleName", "roleType", "description", "assignableScopes",
  "permissions"}`` (what ``az role definition list`` prints).

Each permission entry holds ``actions``, ``notActions``, ``dataActions`` and ``notDataActions``;
a missing or null list means empty.

ABAC conditions: the engine does not evaluate them, and a permission block that carries a
``condition`` only grants its actions when the condition holds (Azure uses this to let e.g. "Key
Vault Data Access Administrator" assign only certain roles). Granting such a block unconditionally
would widen the role, so the parser fails closed and drops conditioned blocks: the role grants
less, never more. No shipped built-in role has one.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from importlib import resources
from typing import Any

from warden.authz.engine import Permission, RoleDefinition

__all__ = ["load_builtin_roles", "role_definition_from_json", "role_definition_to_json"]

ROLE_DEFINITION_TYPE = "Microsoft.Authorization/roleDefinitions"
ROLE_TYPES = ("BuiltInRole", "CustomRole")
_PERMISSION_FIELDS = (
    ("actions", "actions"),
    ("notActions", "not_actions"),
    ("dataActions", "data_actions"),
    ("notDataActions", "not_data_actions"),
)


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of strings")
    return tuple(value)


def _optional_str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string")
    return value


def _permission_from_json(entry: Any, where: str) -> Permission | None:
    """Return the block as a Permission, or None when it carries an ABAC condition."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    lists = {attr: _string_list(entry.get(key), f"{where}.{key}") for key, attr in _PERMISSION_FIELDS}
    condition = _optional_str(entry.get("condition"), f"{where}.condition")
    return None if condition.strip() else Permission(**lists)


def _role_guid(doc: dict[str, Any]) -> str:
    name = doc.get("name")
    if name is None and isinstance(doc.get("id"), str):
        name = doc["id"].rstrip("/").rsplit("/", 1)[-1]
    if not isinstance(name, str) or not name:
        raise ValueError("role definition needs 'name' (its GUID) or an 'id' ending in it")
    try:
        uuid.UUID(name)
    except ValueError:
        raise ValueError(f"role definition name {name!r} is not a GUID") from None
    return name


def role_definition_from_json(doc: dict) -> RoleDefinition:
    """Return the RoleDefinition described by an ARM-shaped or flat role-definition document.

    A missing ``assignableScopes`` means ``["/"]``; a missing role type means "CustomRole".
    Permission blocks with an ABAC ``condition`` are dropped (see the module docstring).
    Raises ValueError when the document is malformed: not an object, no GUID, no roleName, a
    permission list that is not a list of strings, an unknown role type, and so on.
    """
    if not isinstance(doc, dict):
        raise ValueError("role definition must be a JSON object")
    props = doc.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise ValueError("role definition 'properties' must be an object")
        role_type = props.get("type", props.get("roleType"))
    else:
        props = doc
        role_type = doc.get("roleType")
        if role_type is None and doc.get("type") in ROLE_TYPES:
            role_type = doc["type"]
    role_type = role_type if role_type is not None else "CustomRole"
    if role_type not in ROLE_TYPES:
        raise ValueError(f"role type {role_type!r} is not one of {', '.join(ROLE_TYPES)}")

    role_name = props.get("roleName")
    if not isinstance(role_name, str) or not role_name.strip():
        raise ValueError("role definition needs a non-empty string 'roleName'")

    raw_permissions = props.get("permissions")
    if raw_permissions is None:
        raw_permissions = []
    if not isinstance(raw_permissions, list):
        raise ValueError("role definition 'permissions' must be a list")
    parsed = (_permission_from_json(entry, f"permissions[{i}]") for i, entry in enumerate(raw_permissions))
    permissions = tuple(p for p in parsed if p is not None)

    scopes = props.get("assignableScopes")
    assignable = _string_list(scopes, "assignableScopes") if scopes is not None else ("/",)

    return RoleDefinition(
        id=_role_guid(doc),
        role_name=role_name,
        permissions=permissions,
        assignable_scopes=assignable,
        role_type=role_type,
        description=_optional_str(props.get("description"), "description"),
    )


def role_definition_to_json(role: RoleDefinition) -> dict:
    """Return ``role`` in Azure's ARM shape (id at the tenant root, fields under "properties")."""
    return {
        "id": f"/providers/Microsoft.Authorization/roleDefinitions/{role.id}",
        "name": role.id,
        "type": ROLE_DEFINITION_TYPE,
        "properties": {
            "roleName": role.role_name,
            "description": role.description,
            "type": role.role_type,
            "assignableScopes": list(role.assignable_scopes),
            "permissions": [
                {key: list(getattr(p, attr)) for key, attr in _PERMISSION_FIELDS} for p in role.permissions
            ],
        },
    }


@cache
def _builtin_roles() -> tuple[RoleDefinition, ...]:
    text = resources.files("warden.authz").joinpath("builtin_roles.json").read_text(encoding="utf-8")
    docs = json.loads(text)
    if not isinstance(docs, list):
        raise ValueError("builtin_roles.json must hold a JSON list")
    return tuple(role_definition_from_json(d) for d in docs)


def load_builtin_roles() -> list[RoleDefinition]:
    """Return the built-in role definitions shipped in builtin_roles.json (parsed once, cached).

    Raises ValueError if the packaged file is malformed.
    """
    return list(_builtin_roles())
