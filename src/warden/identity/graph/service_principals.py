"""``/v1.0/servicePrincipals``: list, create, show, delete and ``addPassword``.

Authorized by directory role (Application Administrator, Global Administrator; directory readers
read) or, as before directory roles existed, through RBAC at the tenant root as
``Microsoft.Authorization/servicePrincipals/{read,write,delete}`` and ``.../addPassword/action``:
creating identities is access management, so Owner and User Access Administrator may, Contributor
(whose notActions exclude ``Microsoft.Authorization/*/Write``) may not. A principal created from
``displayName`` alone gets no application; one created from ``appId`` links to that application.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from warden.identity import directory_roles, groups
from warden.identity.applications import get_application
from warden.identity.graph.common import (
    audit,
    body_object,
    collection,
    guard_privileged,
    object_id,
    require,
    single,
    target,
    text_field,
)
from warden.identity.graph.errors import GraphError, bad_request, not_found
from warden.identity.principals import add_client_secret, create_service_principal, get_principal
from warden.kernel.context import RequestContext
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.schema import client_secrets, role_assignments, service_principals

OP = "Microsoft.Authorization/servicePrincipals"
DIRECTORY = "microsoft.directory/servicePrincipals"
FILTERABLE = {"id", "appId", "displayName", "servicePrincipalType", "accountEnabled"}


def _resource_id(object_id: str) -> str:
    return f"/providers/{OP}/{object_id}"


def principal_json(principal: Any) -> dict[str, Any]:
    return {
        "id": principal.object_id,
        "appId": principal.app_id,
        "displayName": principal.display_name,
        "appDisplayName": principal.display_name,
        "appOwnerOrganizationId": principal.tenant_id,
        "servicePrincipalType": principal.kind,
        "accountEnabled": True,
    }


def resolve(method: str, parts: list[str]) -> Endpoint:
    """The endpoint for ``/servicePrincipals...`` (``parts`` starts after ``servicePrincipals``)."""
    read = require(f"{DIRECTORY}/standard/read", rbac=f"{OP}/read")
    if not parts:
        if method == "GET":
            return Endpoint(f"{OP}/read", "/", _list, authorize=read)
        if method == "POST":
            return Endpoint(
                f"{OP}/write",
                "/providers/" + OP,
                _create,
                write=True,
                authorize=require(f"{DIRECTORY}/create", rbac=f"{OP}/write"),
            )
        raise GraphError(f"The method '{method}' is not allowed here.", code="Request_BadRequest", status=405)
    oid = object_id(parts[0])
    if len(parts) == 1 and method == "GET":
        return Endpoint(
            f"{OP}/read",
            "/",
            lambda ctx: single(ctx, principal_json(_get(ctx, oid)), "servicePrincipals/$entity", "servicePrincipal"),
            authorize=read,
        )
    if len(parts) == 1 and method == "DELETE":
        return Endpoint(
            f"{OP}/delete",
            _resource_id(oid),
            lambda ctx: _delete(ctx, oid),
            write=True,
            authorize=require(f"{DIRECTORY}/delete", rbac=f"{OP}/delete"),
        )
    if len(parts) == 2 and parts[1].lower() == "addpassword" and method == "POST":
        return Endpoint(
            f"{OP}/addPassword/action",
            _resource_id(oid),
            lambda ctx: _add_password(ctx, oid),
            write=True,
            authorize=require(f"{DIRECTORY}/credentials/update", rbac=f"{OP}/addPassword/action"),
        )
    raise not_found("servicePrincipals/" + "/".join(parts))


def _get(ctx: RequestContext, object_id: str) -> Any:
    assert ctx.conn is not None
    principal = get_principal(ctx.conn, object_id=object_id)
    if principal is None or principal.tenant_id != ctx.tenant_id:
        raise not_found(object_id)
    return principal


def _list(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    rows = ctx.conn.execute(
        select(service_principals)
        .where(service_principals.c.tenant_id == ctx.tenant_id)
        .order_by(service_principals.c.display_name, service_principals.c.object_id)
    ).all()
    items = [principal_json(get_principal(ctx.conn, object_id=r.object_id)) for r in rows]
    return collection(ctx, items, "servicePrincipals", "ServicePrincipal", FILTERABLE)


def _create(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    body = body_object(ctx)
    if body.get("appId") is not None:
        app_id = object_id(str(body["appId"]))
        application = get_application(ctx.conn, app_id=app_id)
        if application is None or application.tenant_id != ctx.tenant_id:
            raise bad_request(f"The appId '{app_id}' of the service principal does not reference a valid application.")
        raise GraphError(
            f"The service principal of application '{app_id}' already exists.",
            code="Request_MultipleObjectsWithSameKeyValue",
            status=409,
        )
    name = text_field(body, "displayName", required=True)
    principal = create_service_principal(ctx.conn, ctx.tenant_id, name or "")
    audit(
        ctx,
        "ApplicationManagement",
        "Add service principal",
        "Add",
        [target("ServicePrincipal", principal.object_id, principal.display_name)],
    )
    return single(ctx, principal_json(principal), "servicePrincipals/$entity", "servicePrincipal", status=201)


def _add_password(ctx: RequestContext, object_id: str) -> Reply:
    assert ctx.conn is not None
    principal = _get(ctx, object_id)
    guard_privileged(ctx, principal.object_id)
    body = body_object(ctx) if ctx.raw_body.strip() else {}
    credential = body.get("passwordCredential") or {}
    if not isinstance(credential, dict):
        raise bad_request("'passwordCredential' must be an object.")
    display_name = credential.get("displayName") or ""
    if not isinstance(display_name, str) or len(display_name) > 256:
        raise bad_request("'displayName' must be a string of at most 256 characters.")
    secret = add_client_secret(ctx.conn, principal.object_id, display_name)
    audit(
        ctx,
        "ApplicationManagement",
        "Update service principal",
        "Update",
        [
            target(
                "ServicePrincipal",
                principal.object_id,
                principal.display_name,
                modifiedProperties=[
                    {"displayName": "PasswordCredentials", "oldValue": None, "newValue": f"[keyId={secret.key_id}]"}
                ],
            )
        ],
    )
    return Reply(
        200,
        {
            "@odata.type": "#microsoft.graph.passwordCredential",
            "customKeyIdentifier": None,
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
    guard_privileged(ctx, principal.object_id)
    if principal.object_id == ctx.caller.object_id:
        raise bad_request("A service principal cannot delete itself.")
    ctx.conn.execute(
        delete(role_assignments).where(
            role_assignments.c.tenant_id == ctx.tenant_id, role_assignments.c.principal_id == object_id
        )
    )
    groups.remove_from_all_groups(ctx.conn, ctx.tenant_id, object_id)
    directory_roles.remove_principal(ctx.conn, ctx.tenant_id, object_id)
    ctx.conn.execute(delete(client_secrets).where(client_secrets.c.object_id == object_id))
    ctx.conn.execute(delete(service_principals).where(service_principals.c.object_id == object_id))
    audit(
        ctx,
        "ApplicationManagement",
        "Remove service principal",
        "Delete",
        [target("ServicePrincipal", principal.object_id, principal.display_name)],
    )
    return Reply(204)
