"""Graph-shaped routes for authentication methods, admin unlock and the tenant's directory settings.

``/v1.0/me/authentication/...`` acts on the signed-in user (the caller must be a user of the
token's tenant; service principals have no methods). Graph v1.0 cannot register TOTP apps or
recovery codes, so enrolment is a Warden extension in the same namespace:

* ``POST me/authentication/softwareOathMethods`` -> ``{id, secretKey, otpauthUri}`` (unverified)
* ``POST me/authentication/softwareOathMethods/{id}/verify`` ``{"code"}`` -> the verified method
* ``POST me/authentication/recoveryCodes`` -> ``{"codes": [10 codes]}``, replacing earlier ones

Administrators (Global Administrator; User Administrator for users holding no directory role, as
in Entra) list and delete a user's methods under ``users/{id}/authentication/...``, read its
lockout under ``users/{id}/authentication/signInLockout`` and clear it with ``POST
users/{id}/unlock`` (extensions). ``policies/warden/directorySettings`` (GET/PATCH, Global
Administrator) holds the tenant settings of :mod:`warden.identity.tenant_settings`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, select

from warden.identity import lockout_store, tenant_settings
from warden.identity.events import record_directory_audit
from warden.identity.graph.errors import GraphError, forbidden
from warden.identity.mfa import methods, passkey_routes
from warden.identity.schema import directory_role_assignments
from warden.identity.users import User, get_user
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import is_guid
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.resources import require_object

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
OP = "microsoft.directory/users/authenticationMethods"
SETTINGS_OP = "microsoft.directory/directorySettings"
NOT_FOUND_CODE = "Request_ResourceNotFound"


def resolve(method: str, path: str | list[str]) -> Endpoint | None:
    """Return the endpoint for a Graph path below ``/v1.0`` (a string or its segments), or None when
    the path is not one of ours (``warden.identity.graph`` then serves it)."""
    parts = [p for p in path.strip("/").split("/") if p] if isinstance(path, str) else list(path)
    lowered = [p.lower() for p in parts]
    if lowered[:2] == ["me", "authentication"]:
        return _me(method, parts[2:])
    if lowered[:2] == ["policies", "warden"] and lowered[2:] == ["directorysettings"]:
        if method == "GET":
            return Endpoint(f"{SETTINGS_OP}/read", "/", _get_settings, authorize=_require_global_admin)
        if method == "PATCH":
            return Endpoint(f"{SETTINGS_OP}/update", "/", _patch_settings, write=True, authorize=_require_global_admin)
        raise GraphError(f"The method '{method}' is not allowed here.", code="Request_BadRequest", status=405)
    if lowered[:1] == ["users"] and len(parts) >= 3 and lowered[2] in ("authentication", "unlock"):
        return _admin(method, parts[1], parts[2:])
    return None


def _not_found(what: str) -> GraphError:
    return GraphError(f"Resource '{what}' does not exist.", code=NOT_FOUND_CODE, status=404)


# --- the signed-in user -------------------------------------------------------------------------


def _me(method: str, rest: list[str]) -> Endpoint:
    kind = rest[0].lower() if rest else ""
    if kind == "methods" and len(rest) == 1 and method == "GET":
        return _user_endpoint(
            "standard/read", lambda ctx, me: Reply(200, methods.method_resources(ctx.conn, me.object_id))
        )
    if kind == "softwareoathmethods":
        if len(rest) == 1 and method == "GET":
            return _user_endpoint("standard/read", lambda ctx, me: Reply(200, _software_oath(ctx.conn, me.object_id)))
        if len(rest) == 1 and method == "POST":
            return _user_endpoint("basic/update", _enrol_totp, write=True)
        if len(rest) >= 2:
            method_id = _guid(rest[1])
            if len(rest) == 2 and method == "GET":
                return _user_endpoint("standard/read", lambda ctx, me: Reply(200, _one_oath(ctx.conn, me, method_id)))
            if len(rest) == 2 and method == "DELETE":
                return _user_endpoint("delete", lambda ctx, me: _delete(ctx, me, method_id), write=True)
            if len(rest) == 3 and rest[2].lower() == "verify" and method == "POST":
                return _user_endpoint("basic/update", lambda ctx, me: _verify_totp(ctx, me, method_id), write=True)
    if kind == "fido2methods" and (found := passkey_routes.resolve_me(method, rest[1:], _user_endpoint)):
        return found
    if kind == "recoverycodes" and len(rest) == 1 and method == "POST":
        return _user_endpoint("basic/update", _new_recovery_codes, write=True)
    if kind == "methods" and len(rest) == 2 and method == "DELETE":
        method_id = _guid(rest[1])
        return _user_endpoint("delete", lambda ctx, me: _delete(ctx, me, method_id), write=True)
    raise _not_found("me/authentication/" + "/".join(rest))


def _user_endpoint(action: str, run: Callable[[RequestContext, User], Reply], *, write: bool = False) -> Endpoint:
    """An endpoint that runs ``run(ctx, signed_in_user)``; the caller must be a user of its tenant.

    Changes (``write``) by a user who already has an authenticator app or passkey need a token from a
    multi-factor sign-in (``mfa`` in ``amr``), as Entra asks for MFA before security info changes:
    a stolen password alone must not let anyone swap the second factor.
    """
    signed_in: dict[str, User] = {}

    def authorize(ctx: RequestContext) -> None:
        assert ctx.conn is not None
        user = get_user(ctx.conn, ctx.tenant_id, ctx.caller.object_id)
        if user is None:
            raise GraphError(
                "Only a signed-in user has authentication methods; this token belongs to an application.",
                code="Authorization_RequestDenied",
                status=403,
            )
        if write and "mfa" not in (ctx.caller.claims.get("amr") or []):
            strong = {methods.SOFTWARE_OATH, methods.FIDO2} & set(methods.user_methods(ctx.conn, user.object_id))
            if strong:
                raise GraphError(
                    "Changing security info needs a multi-factor sign-in; sign in again with your "
                    "authenticator app, passkey or a recovery code.",
                    code="Authorization_RequestDenied",
                    status=403,
                )
        signed_in["user"] = user

    return Endpoint(f"{OP}/{action}", "/", lambda ctx: run(ctx, signed_in["user"]), write=write, authorize=authorize)


def _guid(text: str) -> str:
    if not is_guid(text):
        raise GraphError(f"Invalid object identifier '{text}'.", code="Request_BadRequest", status=400)
    return text.lower()


def _software_oath(conn: Connection, user_id: str) -> list[dict[str, Any]]:
    wanted = "#microsoft.graph.softwareOathAuthenticationMethod"
    return [m for m in methods.method_resources(conn, user_id) if m["@odata.type"] == wanted]


def _one_oath(conn: Connection | None, user: User, method_id: str) -> dict[str, Any]:
    assert conn is not None
    for found in _software_oath(conn, user.object_id):
        if found["id"] == method_id:
            return found
    raise _not_found(method_id)


def _enrol_totp(ctx: RequestContext, user: User) -> Reply:
    assert ctx.conn is not None
    body = require_object(ctx.body if ctx.body is not None else {})
    display_name = body.get("displayName", "Authenticator app")
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name) > 256:
        raise GraphError("'displayName' must be text of 1 to 256 characters.", code="Request_BadRequest", status=400)
    try:
        enrolment = methods.start_totp_enrolment(
            ctx.conn,
            ctx.platform.master_key,
            user.tenant_id,
            user.object_id,
            user.user_principal_name,
            display_name=display_name.strip(),
        )
    except ValueError as error:
        raise GraphError(str(error), code="Request_BadRequest", status=409) from None
    _audit(ctx, user, "Started security info registration (authenticator app)")
    return Reply(
        201,
        {
            "@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod",
            "id": enrolment.id,
            "secretKey": enrolment.secret_key,
            "otpauthUri": enrolment.otpauth_uri,
            "displayName": display_name.strip(),
            "verified": False,
        },
        headers={"Cache-Control": "no-store"},
    )


def _verify_totp(ctx: RequestContext, user: User, method_id: str) -> Reply:
    assert ctx.conn is not None
    body = require_object(ctx.body)
    code = body.get("code")
    if not isinstance(code, str):
        raise GraphError(
            "'code' must be the 6-digit code the app shows.", code="Request_BadRequest", status=400, target="code"
        )
    try:
        ok = methods.confirm_totp_enrolment(
            ctx.conn, ctx.platform.master_key, user.object_id, method_id, code, time.time()
        )
    except LookupError:
        raise _not_found(method_id) from None
    if not ok:
        raise GraphError(
            "The code is wrong, expired or already used.", code="InvalidVerificationCode", status=400, target="code"
        )
    _audit(ctx, user, "User registered security info (authenticator app)")
    return Reply(200, _one_oath(ctx.conn, user, method_id))


def _new_recovery_codes(ctx: RequestContext, user: User) -> Reply:
    assert ctx.conn is not None
    codes = methods.regenerate_recovery_codes(ctx.conn, user.tenant_id, user.object_id)
    _audit(ctx, user, "User registered security info (recovery codes)")
    return Reply(201, {"codes": codes}, headers={"Cache-Control": "no-store"})


def _delete(ctx: RequestContext, user: User, method_id: str) -> Reply:
    assert ctx.conn is not None
    if not methods.delete_method(ctx.conn, user.object_id, method_id):
        raise _not_found(method_id)
    _audit(ctx, user, "User deleted security info")
    return Reply(204)


def _initiator(ctx: RequestContext) -> dict[str, Any]:
    """Graph's ``initiatedBy``: the signed-in user, or the application when the caller is one."""
    assert ctx.conn is not None
    if get_user(ctx.conn, ctx.tenant_id, ctx.caller.object_id) is not None:
        return {"user": {"id": ctx.caller.object_id}}
    return {"app": {"servicePrincipalId": ctx.caller.object_id, "appId": ctx.caller.app_id}}


def _audit(ctx: RequestContext, target: User, activity: str) -> None:
    assert ctx.conn is not None
    record_directory_audit(
        ctx.conn,
        ctx.tenant_id,
        {
            "category": "UserManagement",
            "activityDisplayName": activity,
            "loggedByService": "Authentication Methods",
            "initiatedBy": _initiator(ctx),
            "targetResources": [
                {"id": target.object_id, "type": "User", "userPrincipalName": target.user_principal_name}
            ],
        },
    )


# --- administrators ------------------------------------------------------------------------------


def _roles_held(conn: Connection, tenant_id: str, principal_ids: tuple[str, ...]) -> set[str]:
    return set(
        conn.execute(
            select(directory_role_assignments.c.role_template_id).where(
                directory_role_assignments.c.tenant_id == tenant_id,
                directory_role_assignments.c.principal_id.in_([p.lower() for p in principal_ids]),
            )
        ).scalars()
    )


def _require_global_admin(ctx: RequestContext) -> None:
    assert ctx.conn is not None
    if GLOBAL_ADMINISTRATOR not in _roles_held(ctx.conn, ctx.tenant_id, ctx.caller.principal_ids):
        raise forbidden()


def _admin(method: str, user_ref: str, rest: list[str]) -> Endpoint:
    user_id = _guid(user_ref)
    kind = [p.lower() for p in rest]
    target: dict[str, User] = {}

    def authorize(ctx: RequestContext) -> None:
        """Global Administrator for anyone; User Administrator only for users without a directory role."""
        assert ctx.conn is not None
        held = _roles_held(ctx.conn, ctx.tenant_id, ctx.caller.principal_ids)
        user = get_user(ctx.conn, ctx.tenant_id, user_id)
        allowed = GLOBAL_ADMINISTRATOR in held or (
            USER_ADMINISTRATOR in held and (user is None or not _roles_held(ctx.conn, ctx.tenant_id, (user_id,)))
        )
        if not allowed:
            raise forbidden()
        if user is None:  # only after authorizing, so a non-admin learns nothing about who exists
            raise _not_found(user_id)
        target["user"] = user

    def endpoint(action: str, run: Callable[[RequestContext, User], Reply], write: bool = False) -> Endpoint:
        return Endpoint(
            f"{OP}/{action}", f"/users/{user_id}", lambda ctx: run(ctx, target["user"]), write, authorize=authorize
        )

    if kind == ["unlock"] and method == "POST":
        return endpoint("basic/update", _unlock, write=True)
    if kind == ["authentication", "methods"] and method == "GET":
        return endpoint("standard/read", lambda ctx, u: Reply(200, methods.method_resources(ctx.conn, u.object_id)))
    if kind == ["authentication", "signinlockout"] and method == "GET":
        return endpoint("standard/read", _lock_view)
    if len(kind) == 3 and kind[1] in ("methods", "softwareoathmethods") and method == "DELETE":
        method_id = _guid(rest[2])
        return endpoint("delete", lambda ctx, u: _delete(ctx, u, method_id), write=True)
    raise _not_found(f"users/{user_ref}/" + "/".join(rest))


def _lock_view(ctx: RequestContext, user: User) -> Reply:
    assert ctx.conn is not None
    status = lockout_store.lock_status(ctx.conn, user.object_id, time.time())
    return Reply(
        200,
        {
            "id": user.object_id,
            "isLockedOut": any(v is not None for v in status.values()),
            "familiarLocationLockoutSeconds": status["familiar"],
            "unfamiliarLocationLockoutSeconds": status["unfamiliar"],
        },
    )


def _unlock(ctx: RequestContext, user: User) -> Reply:
    assert ctx.conn is not None
    lockout_store.reset_lockout(ctx.conn, user.object_id)
    _audit(ctx, user, "Unlock user account")
    return Reply(204)


# --- tenant settings ----------------------------------------------------------------------------


def _get_settings(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    return Reply(200, _settings_json(tenant_settings.get_settings(ctx.conn, ctx.tenant_id)))


def _patch_settings(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    changes = require_object(ctx.body)
    changes = {k: v for k, v in changes.items() if not k.startswith("@odata.")}
    try:
        new = tenant_settings.update_settings(ctx.conn, ctx.tenant_id, changes)
    except BadRequest as error:  # the same message and target, in Graph's error shape
        raise GraphError(error.message, code="Request_BadRequest", status=400, target=error.target) from None
    record_directory_audit(
        ctx.conn,
        ctx.tenant_id,
        {
            "category": "Policy",
            "activityDisplayName": "Update directory settings",
            "initiatedBy": _initiator(ctx),
            "targetResources": [{"id": ctx.tenant_id, "type": "Directory", "modifiedProperties": sorted(changes)}],
        },
    )
    return Reply(200, _settings_json(new))


def _settings_json(settings: tenant_settings.TenantSettings) -> dict[str, Any]:
    return {"@odata.type": "#warden.directorySettings", "id": "directorySettings", **settings.to_json()}
