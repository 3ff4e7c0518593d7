"""What the PIM handlers share: IDs, request-body checks for principal/role/scope, and ARM's error codes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, select

from warden.authz.engine import RoleDefinition
from warden.authz.role_definitions import assignable_at
from warden.authz.store import builtin_roles, find_role, role_from_row
from warden.identity.membership import directory_object_kind
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, Forbidden
from warden.kernel.ids import is_guid, key
from warden.kernel.schema import role_definitions

NAMESPACE = "Microsoft.Authorization"
PROVIDER = f"/providers/{NAMESPACE}"
ROLE_ASSIGNMENT_WRITE = f"{NAMESPACE}/roleAssignments/write"
_IDS = uuid.UUID("5f1c6d3e-8a51-4b47-9a57-1d6c8f0b2a71")  # namespace for derived policy GUIDs


def scoped_id(scope: str, type_name: str, name: str) -> str:
    return f"{'' if scope in ('', '/') else scope.rstrip('/')}{PROVIDER}/{type_name}/{name}"


def role_definition_id(scope: str, role_guid: str) -> str:
    """ARM's spelling of a role definition ID as PIM answers it: under the subscription when there is one."""
    parts = [p for p in scope.split("/") if p]
    prefix = f"/subscriptions/{parts[1]}" if len(parts) >= 2 and parts[0].lower() == "subscriptions" else ""
    return f"{prefix}{PROVIDER}/roleDefinitions/{role_guid}"


def derived_guid(*parts: str) -> str:
    """A stable GUID for a tuple of values (default policies exist without being stored)."""
    return str(uuid.uuid5(_IDS, "|".join(p.lower() for p in parts)))


def policy_validation_failed(*rules: str) -> BadRequest:
    """Azure's refusal of a request that breaks the role's management policy."""
    names = ",".join(f'"{rule}"' for rule in rules)
    return BadRequest(
        f"The following policy rules failed: [{names}]", code="RoleAssignmentRequestPolicyValidationFailed"
    )


def require_properties(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise BadRequest("The request content must be an object with 'properties'.", code="InvalidRequestContent")
    return body["properties"]


def optional_text(properties: dict[str, Any], field: str, max_length: int = 1024) -> str | None:
    value = properties.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise BadRequest(
            f"'{field}' must be a string of at most {max_length} characters.",
            code="InvalidRequestContent",
            target=f"properties.{field}",
        )
    return value


def require_role(ctx: RequestContext, properties: dict[str, Any], scope: str) -> RoleDefinition:
    """The role named by ``properties.roleDefinitionId``, assignable at ``scope``; raise ARM's errors otherwise."""
    assert ctx.conn is not None
    value = properties.get("roleDefinitionId")
    if not isinstance(value, str) or not value:
        raise BadRequest(
            "'roleDefinitionId' is required.", code="InvalidRequestContent", target="properties.roleDefinitionId"
        )
    guid = value.rstrip("/").rsplit("/", 1)[-1]
    role = find_role(ctx.conn, ctx.tenant_id, guid) if is_guid(guid) else None
    if role is None:
        raise BadRequest(
            f"The specified role definition with ID '{guid}' does not exist.",
            code="RoleDefinitionDoesNotExist",
            target="properties.roleDefinitionId",
        )
    if not assignable_at(role, scope or "/"):
        raise Forbidden(
            f"The role '{role.role_name}' is not available for assignment at scope '{scope or '/'}'.",
            code="RoleAssignmentScopeNotAllowed",
        )
    return role


PRINCIPAL_TYPES = {"user": "User", "group": "Group", "servicePrincipal": "ServicePrincipal"}


def principal_type(conn: Connection, tenant_id: str, object_id: str) -> str:
    """ARM's ``principalType`` of a directory object (``ServicePrincipal`` for one since deleted)."""
    return PRINCIPAL_TYPES.get(directory_object_kind(conn, tenant_id, object_id) or "", "ServicePrincipal")


def require_principal(ctx: RequestContext, properties: dict[str, Any]) -> str:
    """The lower-cased ``principalId``: a user, group or service principal of the caller's tenant."""
    assert ctx.conn is not None
    value = properties.get("principalId")
    if not isinstance(value, str) or not is_guid(value):
        raise BadRequest("'principalId' must be a GUID.", code="InvalidPrincipalId", target="properties.principalId")
    if directory_object_kind(ctx.conn, ctx.tenant_id, value.lower()) is None:
        raise BadRequest(
            f"Principal {value} does not exist in the directory {ctx.tenant_id}.",
            code="PrincipalNotFound",
            target="properties.principalId",
        )
    return value.lower()


def request_name(name: str) -> str:
    if not is_guid(name):
        raise BadRequest(f"The request name '{name}' must be a GUID.", code="InvalidResourceName")
    return name.lower()


def roles_in_tenant(conn: Connection, tenant_id: str) -> list[RoleDefinition]:
    """Every role a policy can exist for: the built-in ones and the tenant's custom roles."""
    custom = [
        role_from_row(r)
        for r in conn.execute(select(role_definitions).where(role_definitions.c.tenant_id == tenant_id))
    ]
    return [*builtin_roles().values(), *custom]


def scope_key(scope: str) -> str:
    return key(scope or "/")
