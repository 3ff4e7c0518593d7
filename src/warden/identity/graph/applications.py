"""``/v1.0/applications``: app registrations with redirect URIs per platform and client secrets
(``addPassword``/``removePassword``). Each application has a service principal with the same
``appId``; secrets are stored (hashed) for that principal, which is what client-credential
sign-in looks up.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from warden.identity import applications as store
from warden.identity import directory_roles, groups
from warden.identity.graph.common import (
    audit,
    body_object,
    bool_field,
    collection,
    guard_privileged,
    object_id,
    require,
    single,
    target,
    text_field,
)
from warden.identity.graph.errors import GraphError, bad_request, not_found
from warden.identity.principals import add_client_secret
from warden.identity.schema import key_credentials
from warden.kernel.clock import isoformat
from warden.kernel.context import RequestContext
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.schema import client_secrets, role_assignments

READ = "microsoft.directory/applications/standard/read"
FILTERABLE = {"id", "appId", "displayName", "signInAudience", "isFallbackPublicClient"}
WRITABLE = {"displayName", "signInAudience", "web", "spa", "publicClient", "isFallbackPublicClient"}
MAX_REDIRECT_URIS = 256  # Entra's limit per application
MAX_URI_LENGTH = 256
# Entra spells this activity with an en dash and a trailing space.
SECRETS_ACTIVITY = "Update application \u2013 Certificates and secrets management "


def resolve(method: str, parts: list[str]) -> Endpoint:
    """The endpoint for ``/applications...`` (``parts`` starts after ``applications``)."""
    if not parts:
        if method == "GET":
            return Endpoint(READ, "/", _list, authorize=require(READ, members_may=True))
        if method == "POST":
            action = "microsoft.directory/applications/create"
            return Endpoint(
                action, "/providers/microsoft.directory/applications", _create, write=True, authorize=require(action)
            )
        raise not_found("applications")
    oid = object_id(parts[0])
    scope = f"/providers/microsoft.directory/applications/{oid}"
    if len(parts) == 1:
        if method == "GET":
            return Endpoint(READ, "/", lambda ctx: _show(ctx, oid), authorize=require(READ, members_may=True))
        if method == "PATCH":
            action = "microsoft.directory/applications/basic/update"
            return Endpoint(action, scope, lambda ctx: _update(ctx, oid), write=True, authorize=require(action))
        if method == "DELETE":
            action = "microsoft.directory/applications/delete"
            return Endpoint(action, scope, lambda ctx: _delete(ctx, oid), write=True, authorize=require(action))
    if len(parts) == 2 and method == "POST" and parts[1].lower() in ("addpassword", "removepassword"):
        action = "microsoft.directory/applications/credentials/update"
        run = _add_password if parts[1].lower() == "addpassword" else _remove_password
        return Endpoint(action, scope, lambda ctx: run(ctx, oid), write=True, authorize=require(action))
    raise not_found("applications/" + "/".join(parts))


def _secrets(ctx: RequestContext, app: store.Application) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(passwordCredentials, keyCredentials)`` of the application, without secret values."""
    assert ctx.conn is not None
    principal_id = store.service_principal_id(ctx.conn, app.app_id)
    passwords = []
    if principal_id:
        for row in ctx.conn.execute(
            select(client_secrets)
            .where(client_secrets.c.object_id == principal_id)
            .order_by(client_secrets.c.created_at)
        ):
            passwords.append(
                {
                    "customKeyIdentifier": None,
                    "displayName": row.display_name,
                    "endDateTime": isoformat(row.expires_at),
                    "hint": row.hint,
                    "keyId": row.key_id,
                    "secretText": None,
                    "startDateTime": isoformat(row.created_at),
                }
            )
    owners = [app.object_id, *([principal_id] if principal_id else [])]
    keys = [
        {
            "customKeyIdentifier": row.thumbprint_sha1.upper(),
            "displayName": row.display_name,
            "endDateTime": isoformat(row.expires_at),
            "keyId": row.key_id,
            "startDateTime": isoformat(row.created_at),
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
        }
        for row in ctx.conn.execute(select(key_credentials).where(key_credentials.c.owner_id.in_(owners)))
    ]
    return passwords, keys


def application_json(ctx: RequestContext, app: store.Application) -> dict[str, Any]:
    passwords, keys = _secrets(ctx, app)
    return {
        "id": app.object_id,
        "appId": app.app_id,
        "displayName": app.display_name,
        "createdDateTime": app.created_at.replace("+00:00", "Z") if app.created_at else None,
        "signInAudience": app.sign_in_audience,
        "isFallbackPublicClient": app.is_fallback_public_client,
        "web": {
            "redirectUris": list(app.web_redirect_uris),
            "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
        },
        "spa": {"redirectUris": list(app.spa_redirect_uris)},
        "publicClient": {"redirectUris": list(app.public_client_redirect_uris)},
        "passwordCredentials": passwords,
        "keyCredentials": keys,
        "requiredResourceAccess": app.properties.get("requiredResourceAccess", []),
        "publisherDomain": None,
    }


def find(ctx: RequestContext, oid: str) -> store.Application:
    assert ctx.conn is not None
    app = store.get_application(ctx.conn, object_id=oid)
    if app is None or app.tenant_id != ctx.tenant_id:
        raise not_found(oid)
    return app


def _list(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    items = [application_json(ctx, app) for app in store.list_applications(ctx.conn, ctx.tenant_id)]
    return collection(ctx, items, "applications", "Application", FILTERABLE)


def _show(ctx: RequestContext, oid: str) -> Reply:
    return single(ctx, application_json(ctx, find(ctx, oid)), "applications/$entity", "application")


def _redirect_uris(body: dict[str, Any], platform: str) -> list[str] | None:
    """The validated ``{platform}.redirectUris`` (``None`` when the body does not set them).

    web and spa URIs must be https (http only for localhost), as Entra requires; public clients
    may use custom schemes (``myapp://auth``) but never a fragment.
    """
    section = body.get(platform)
    if section is None:
        return None
    if not isinstance(section, dict) or not isinstance(section.get("redirectUris", []), list):
        raise bad_request(f"'{platform}.redirectUris' must be a list of URIs.", target=platform)
    uris = section.get("redirectUris", [])
    if len(uris) > MAX_REDIRECT_URIS:
        raise bad_request(f"An application may have at most {MAX_REDIRECT_URIS} redirect URIs.", target=platform)
    for uri in uris:
        if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
            raise bad_request(f"Each redirect URI must be a string of at most {MAX_URI_LENGTH} characters.")
        parts = urlsplit(uri)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        if not parts.scheme or parts.fragment or "*" in uri:
            raise bad_request(f"Invalid redirect URI '{uri}': it must be absolute, without wildcards or fragment.")
        if platform != "publicClient" and not (parts.scheme == "https" or (parts.scheme == "http" and local)):
            raise bad_request(
                f"Invalid redirect URI '{uri}': {platform} redirect URIs must use https (or http://localhost)."
            )
        if parts.scheme in ("https", "http") and not parts.hostname:
            raise bad_request(f"Invalid redirect URI '{uri}': a host is required.")
    return list(dict.fromkeys(uris))


def _values(body: dict[str, Any]) -> dict[str, Any]:
    for name in body:
        if name not in WRITABLE and not name.startswith("@odata"):
            raise bad_request(f"Property '{name}' does not exist as a declared property or extension property.")
    values: dict[str, Any] = {}
    if "displayName" in body:
        values["display_name"] = text_field(body, "displayName", required=True)
    if "signInAudience" in body:
        if body["signInAudience"] not in store.SIGN_IN_AUDIENCES:
            raise bad_request(f"signInAudience must be one of {', '.join(store.SIGN_IN_AUDIENCES)}.")
        values["sign_in_audience"] = body["signInAudience"]
    if "isFallbackPublicClient" in body:
        values["is_fallback_public_client"] = bool_field(body, "isFallbackPublicClient", False) or False
    for platform, column in (
        ("web", "web_redirect_uris"),
        ("spa", "spa_redirect_uris"),
        ("publicClient", "public_client_redirect_uris"),
    ):
        uris = _redirect_uris(body, platform)
        if uris is not None:
            values[column] = uris
    return values


def _create(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    body = body_object(ctx)
    if "displayName" not in body:
        raise bad_request("Property displayName is required.", target="displayName")
    values = _values(body)
    app = store.create_application(
        ctx.conn,
        ctx.tenant_id,
        values["display_name"],
        web_redirect_uris=values.get("web_redirect_uris", ()),
        spa_redirect_uris=values.get("spa_redirect_uris", ()),
        public_client_redirect_uris=values.get("public_client_redirect_uris", ()),
        is_fallback_public_client=values.get("is_fallback_public_client", False),
        sign_in_audience=values.get("sign_in_audience", "AzureADMyOrg"),
    )
    principal_id = store.service_principal_id(ctx.conn, app.app_id) or ""
    audit(
        ctx, "ApplicationManagement", "Add application", "Add", [target("Application", app.object_id, app.display_name)]
    )
    audit(
        ctx,
        "ApplicationManagement",
        "Add service principal",
        "Add",
        [target("ServicePrincipal", principal_id, app.display_name)],
    )
    return single(ctx, application_json(ctx, app), "applications/$entity", "application", status=201)


def _update(ctx: RequestContext, oid: str) -> Reply:
    assert ctx.conn is not None
    app = find(ctx, oid)
    values = _values(body_object(ctx))
    store.update_application(ctx.conn, app, **values)
    changed = [{"displayName": k, "oldValue": None, "newValue": str(v)} for k, v in values.items()]
    audit(
        ctx,
        "ApplicationManagement",
        "Update application",
        "Update",
        [target("Application", app.object_id, app.display_name, modifiedProperties=changed)],
    )
    return Reply(204)


def _delete(ctx: RequestContext, oid: str) -> Reply:
    assert ctx.conn is not None
    app = find(ctx, oid)
    _guard_principal(ctx, app)
    principal_id = store.service_principal_id(ctx.conn, app.app_id)
    if principal_id:
        if principal_id == ctx.caller.object_id:
            raise bad_request("An application cannot delete itself.")
        ctx.conn.execute(
            delete(role_assignments).where(
                role_assignments.c.tenant_id == ctx.tenant_id, role_assignments.c.principal_id == principal_id
            )
        )
        groups.remove_from_all_groups(ctx.conn, ctx.tenant_id, principal_id)
        directory_roles.remove_principal(ctx.conn, ctx.tenant_id, principal_id)
    store.delete_application(ctx.conn, app)
    audit(
        ctx,
        "ApplicationManagement",
        "Delete application",
        "Delete",
        [target("Application", app.object_id, app.display_name)],
    )
    return Reply(204)


def _guard_principal(ctx: RequestContext, app: store.Application) -> None:
    """An application whose service principal holds a directory role is managed by Global Administrators."""
    assert ctx.conn is not None
    principal_id = store.service_principal_id(ctx.conn, app.app_id)
    if principal_id:
        guard_privileged(ctx, principal_id)


def _add_password(ctx: RequestContext, oid: str) -> Reply:
    assert ctx.conn is not None
    app = find(ctx, oid)
    _guard_principal(ctx, app)
    body = body_object(ctx) if ctx.raw_body.strip() else {}
    credential = body.get("passwordCredential") or {}
    if not isinstance(credential, dict):
        raise bad_request("'passwordCredential' must be an object.")
    display_name = credential.get("displayName") or ""
    if not isinstance(display_name, str) or len(display_name) > 256:
        raise bad_request("'displayName' must be a string of at most 256 characters.")
    principal_id = store.service_principal_id(ctx.conn, app.app_id)
    if principal_id is None:
        raise GraphError("The application has no service principal.", code="Request_BadRequest", status=400)
    secret = add_client_secret(ctx.conn, principal_id, display_name)
    audit(
        ctx,
        "ApplicationManagement",
        SECRETS_ACTIVITY,
        "Update",
        [
            target(
                "Application",
                app.object_id,
                app.display_name,
                modifiedProperties=[
                    {
                        "displayName": "KeyDescription",
                        "oldValue": None,
                        "newValue": f"[KeyIdentifier={secret.key_id},KeyType=Password]",
                    }
                ],
            )
        ],
    )
    return Reply(
        200,
        {
            "@odata.context": ctx.link("/v1.0/$metadata#microsoft.graph.passwordCredential"),
            "customKeyIdentifier": None,
            "displayName": display_name,
            "endDateTime": secret.expires_at,
            "hint": secret.hint,
            "keyId": secret.key_id,
            "secretText": secret.secret_text,
            "startDateTime": None,
        },
    )


def _remove_password(ctx: RequestContext, oid: str) -> Reply:
    assert ctx.conn is not None
    app = find(ctx, oid)
    _guard_principal(ctx, app)
    key_id = body_object(ctx).get("keyId")
    if not isinstance(key_id, str):
        raise bad_request("'keyId' is required.", target="keyId")
    key_id = object_id(key_id)
    principal_id = store.service_principal_id(ctx.conn, app.app_id)
    removed = ctx.conn.execute(
        delete(client_secrets).where(client_secrets.c.key_id == key_id, client_secrets.c.object_id == principal_id)
    ).rowcount
    if not removed:
        raise GraphError(
            f"No password credential found with keyId '{key_id}'.", code="Request_ResourceNotFound", status=404
        )
    audit(
        ctx,
        "ApplicationManagement",
        SECRETS_ACTIVITY,
        "Update",
        [
            target(
                "Application",
                app.object_id,
                app.display_name,
                modifiedProperties=[
                    {"displayName": "KeyDescription", "oldValue": f"[KeyIdentifier={key_id}]", "newValue": None}
                ],
            )
        ],
    )
    return Reply(204)
