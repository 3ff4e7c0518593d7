"""A Microsoft Graph-shaped subset for service principals (``/v1.0/servicePrincipals``).

Until directory roles arrive with the identity issue, these operations are authorized through
RBAC at the tenant root as ``Microsoft.Authorization/servicePrincipals/{read,write,delete}`` and
``.../addPassword/action``: creating identities is access management, so Owner and User Access
Administrator may, Contributor (whose notActions exclude ``Microsoft.Authorization/*/Write``) may
not. Graph requires an application before its service principal; here ``displayName`` alone
creates both, since applications with redirect URIs do not exist yet.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from warden.identity.principals import add_client_secret, create_service_principal, get_principal
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest, MethodNotAllowed, NotFound
from warden.kernel.ids import is_guid
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.resources import require_object
from warden.kernel.schema import client_secrets, role_assignments, service_principals

OP = "Microsoft.Authorization/servicePrincipals"


def _resource_id(object_id: str) -> str:
    return f"/providers/{OP}/{object_id}"


def principal_json(principal: Any) -> dict[str, Any]:
    return {
        "id": principal.object_id,
        "appId": principal.app_id,
        "displayName": principal.display_name,
        "appOwnerOrganizationId": principal.tenant_id,
        "servicePrincipalType": principal.kind,
        "accountEnabled": True,
    }


def resolve(method: str, path: str) -> Endpoint:
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or parts[0].lower() != "serviceprincipals":
        raise NotFound(f"Resource '{path}' does not exist.", code="Request_ResourceNotFound")
    if len(parts) == 1:
        if method == "GET":
            return Endpoint(f"{OP}/read", "/", _list)
        if method == "POST":
            return Endpoint(f"{OP}/write", "/providers/" + OP, _create, write=True)
        raise MethodNotAllowed(f"The method '{method}' is not allowed here.")
    object_id = parts[1].lower()
    if not is_guid(object_id):
        raise BadRequest(f"Invalid object identifier '{parts[1]}'.", code="Request_BadRequest")
    if len(parts) == 2 and method == "GET":
        return Endpoint(f"{OP}/read", "/", lambda ctx: Reply(200, principal_json(_get(ctx, object_id))))
    if len(parts) == 2 and method == "DELETE":
        return Endpoint(f"{OP}/delete", _resource_id(object_id), lambda ctx: _delete(ctx, object_id), write=True)
    if len(parts) == 3 and parts[2].lower() == "addpassword" and method == "POST":
        return Endpoint(
            f"{OP}/addPassword/action", _resource_id(object_id), lambda ctx: _add_password(ctx, object_id), write=True
        )
    raise NotFound(f"Resource '{path}' does not exist.", code="Request_ResourceNotFound")


def _get(ctx: RequestContext, object_id: str) -> Any:
    assert ctx.conn is not None
    principal = get_principal(ctx.conn, object_id=object_id)
    if principal is None or principal.tenant_id != ctx.tenant_id:
        raise NotFound(
            f"Resource '{object_id}' does not exist or one of its queried reference-property objects are not present.",
            code="Request_ResourceNotFound",
        )
    return principal


def _list(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    rows = ctx.conn.execute(
        select(service_principals)
        .where(service_principals.c.tenant_id == ctx.tenant_id)
        .order_by(service_principals.c.display_name)
    ).all()
    return Reply(200, [principal_json(get_principal(ctx.conn, object_id=r.object_id)) for r in rows])


def _create(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    body = require_object(ctx.body)
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise BadRequest(
            "'displayName' must be a non-empty string of at most 256 characters.",
            code="Request_BadRequest",
            target="displayName",
        )
    principal = create_service_principal(ctx.conn, ctx.tenant_id, name.strip())
    return Reply(201, principal_json(principal))


def _add_password(ctx: RequestContext, object_id: str) -> Reply:
    assert ctx.conn is not None
    principal = _get(ctx, object_id)
    body = require_object(ctx.body if ctx.body is not None else {})
    credential = body.get("passwordCredential") or {}
    if not isinstance(credential, dict):
        raise BadRequest("'passwordCredential' must be an object.", code="Request_BadRequest")
    display_name = credential.get("displayName") or ""
    if not isinstance(display_name, str) or len(display_name) > 256:
        raise BadRequest("'displayName' must be a string.", code="Request_BadRequest")
    secret = add_client_secret(ctx.conn, principal.object_id, display_name)
    return Reply(
        200,
        {
            "keyId": secret.key_id,
            "secretText": secret.secret_text,
            "hint": secret.hint,
            "displayName": display_name,
            "endDateTime": secret.expires_at,
        },
    )


def _delete(ctx: RequestContext, object_id: str) -> Reply:
    assert ctx.conn is not None
    principal = _get(ctx, object_id)
    if principal.object_id == ctx.caller.object_id:
        raise BadRequest("A service principal cannot delete itself.", code="Request_BadRequest")
    ctx.conn.execute(
        delete(role_assignments).where(
            role_assignments.c.tenant_id == ctx.tenant_id, role_assignments.c.principal_id == object_id
        )
    )
    ctx.conn.execute(delete(client_secrets).where(client_secrets.c.object_id == object_id))
    ctx.conn.execute(delete(service_principals).where(service_principals.c.object_id == object_id))
    return Reply(204)
