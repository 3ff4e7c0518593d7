"""``/v1.0/users``, ``/v1.0/users/{id | userPrincipalName}`` (+ memberOf, transitiveMemberOf) and ``/v1.0/me``.

Passwords are checked against NIST 800-63B (``warden.identity.passwords``) with the tenant's MFA
requirement and banned terms. User Administrators manage users who hold no directory role; only
Global Administrators (or RBAC Owners at "/") manage users who do, as in Entra.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete

from warden.identity import directory_roles, groups, membership
from warden.identity import users as store
from warden.identity.graph.common import (
    allowed,
    audit,
    body_object,
    bool_field,
    collection,
    guard_privileged,
    require,
    single,
    target,
    text_field,
)
from warden.identity.graph.errors import GraphError, bad_request, forbidden, not_found
from warden.identity.mfa import methods as mfa_methods
from warden.identity.passwords import check_password
from warden.identity.tenant_settings import get_settings
from warden.kernel.context import RequestContext
from warden.kernel.ids import is_guid
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.schema import role_assignments

READ = "microsoft.directory/users/standard/read"
REVOKE = "microsoft.directory/users/invalidateAllRefreshTokens"
FILTERABLE = {
    "id",
    "displayName",
    "userPrincipalName",
    "mail",
    "mailNickname",
    "accountEnabled",
    "userType",
    "givenName",
    "surname",
    "jobTitle",
    "department",
}
# Graph properties kept in the ``properties`` JSON column.
EXTRA = (
    "givenName",
    "surname",
    "jobTitle",
    "department",
    "officeLocation",
    "mobilePhone",
    "preferredLanguage",
    "usageLocation",
    "mailNickname",
)
WRITABLE = {"accountEnabled", "displayName", "userPrincipalName", "passwordProfile", "mail", *EXTRA}
UPN = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$"
)
PASSWORD_POLICY = (
    "The specified password does not comply with password complexity requirements. Please provide a different password."
)


def user_json(user: store.User) -> dict[str, Any]:
    extra = user.properties
    return {
        "id": user.object_id,
        "businessPhones": [],
        "displayName": user.display_name,
        "givenName": extra.get("givenName"),
        "jobTitle": extra.get("jobTitle"),
        "mail": user.mail,
        "mobilePhone": extra.get("mobilePhone"),
        "officeLocation": extra.get("officeLocation"),
        "preferredLanguage": extra.get("preferredLanguage"),
        "surname": extra.get("surname"),
        "userPrincipalName": user.user_principal_name,
        "accountEnabled": user.account_enabled,
        "userType": user.user_type,
        "mailNickname": extra.get("mailNickname"),
        "department": extra.get("department"),
        "usageLocation": extra.get("usageLocation"),
        "createdDateTime": user.created_at or None,
    }


def resolve(method: str, parts: list[str]) -> Endpoint:
    """The endpoint for ``/users...`` (``parts`` starts after ``users``)."""
    if not parts:
        if method == "GET":
            return Endpoint(READ, "/", _list, authorize=require(READ, members_may=True))
        if method == "POST":
            return Endpoint(
                "microsoft.directory/users/create",
                "/providers/microsoft.directory/users",
                _create,
                write=True,
                authorize=require("microsoft.directory/users/create"),
            )
        raise GraphError(f"The method '{method}' is not allowed on users.", code="Request_BadRequest", status=405)
    key = parts[0]
    scope = f"/providers/microsoft.directory/users/{key.lower()}"
    if len(parts) == 1:
        if method == "GET":
            return Endpoint(READ, "/", lambda ctx: _show(ctx, key), authorize=require(READ, members_may=True))
        if method == "PATCH":
            action = "microsoft.directory/users/basic/update"
            return Endpoint(action, scope, lambda ctx: _update(ctx, key), write=True, authorize=require(action))
        if method == "DELETE":
            action = "microsoft.directory/users/delete"
            return Endpoint(action, scope, lambda ctx: _delete(ctx, key), write=True, authorize=require(action))
    if len(parts) == 2 and method == "GET" and parts[1].lower() in ("memberof", "transitivememberof"):
        transitive = parts[1].lower() == "transitivememberof"
        return Endpoint(
            READ, "/", lambda ctx: _member_of(ctx, key, transitive), authorize=require(READ, members_may=True)
        )
    if len(parts) == 2 and method == "POST" and parts[1].lower() == "revokesigninsessions":
        return Endpoint(REVOKE, scope, lambda ctx: _revoke(ctx, key), write=True, authorize=require(REVOKE))
    raise GraphError(f"Resource '{'/'.join(parts)}' does not exist.", code="Request_ResourceNotFound", status=404)


def resolve_me(method: str, parts: list[str]) -> Endpoint:
    """``/me`` and ``/me/memberOf``: the signed-in user; app-only tokens are refused as Graph does."""

    def authorize(ctx: RequestContext) -> None:
        if ctx.caller.principal_type != "User":
            raise GraphError(
                "/me request is only valid with delegated authentication flow.", code="BadRequest", status=400
            )

    if method == "GET" and not parts:
        return Endpoint(READ, "/", lambda ctx: _show(ctx, ctx.caller.object_id), authorize=authorize)
    if method == "GET" and len(parts) == 1 and parts[0].lower() in ("memberof", "transitivememberof"):
        transitive = parts[0].lower() == "transitivememberof"
        return Endpoint(READ, "/", lambda ctx: _member_of(ctx, ctx.caller.object_id, transitive), authorize=authorize)
    if method == "POST" and len(parts) == 1 and parts[0].lower() == "revokesigninsessions":
        # Anyone may sign themselves out everywhere (a lost laptop), as in Entra.
        scope = "/providers/microsoft.directory/users/me"
        return Endpoint(
            REVOKE, scope, lambda ctx: _revoke(ctx, ctx.caller.object_id), write=True, authorize=authorize
        )
    raise GraphError("Resource 'me' does not support this request.", code="Request_ResourceNotFound", status=404)


def _revoke(ctx: RequestContext, key: str) -> Reply:
    """Graph's ``revokeSignInSessions``: every refresh token and SSO session of the user ends."""
    assert ctx.conn is not None
    user = find(ctx, key)
    if user.object_id != ctx.caller.object_id:
        guard_privileged(ctx, user.object_id)
    store.revoke_sign_in_sessions(ctx.conn, user.object_id)
    audit(
        ctx,
        "UserManagement",
        "Invalidate all refresh tokens for user",
        "Update",
        [target("User", user.object_id, user.display_name, userPrincipalName=user.user_principal_name)],
    )
    return Reply(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean", "value": True})


def find(ctx: RequestContext, key: str) -> store.User:
    """The tenant's user with this object ID or UPN; ``Request_ResourceNotFound`` otherwise."""
    assert ctx.conn is not None
    user = (
        store.get_user(ctx.conn, ctx.tenant_id, key) if is_guid(key) else store.find_user(ctx.conn, ctx.tenant_id, key)
    )
    if user is None:
        raise not_found(key)
    return user


def _list(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    items = [user_json(user) for user in store.list_users(ctx.conn, ctx.tenant_id)]
    return collection(ctx, items, "users", "User", FILTERABLE)


def _show(ctx: RequestContext, key: str) -> Reply:
    assert ctx.conn is not None
    return single(ctx, user_json(find(ctx, key)), "users/$entity", "user")


def _check_unknown(body: dict[str, Any]) -> None:
    for name in body:
        if name not in WRITABLE and not name.startswith("@odata"):
            raise bad_request(f"Property '{name}' does not exist as a declared property or extension property.")


def _upn(body: dict[str, Any], required: bool) -> str | None:
    upn = text_field(body, "userPrincipalName", required=required, max_length=113)
    if upn is not None and not UPN.match(upn):
        raise bad_request("Property userPrincipalName is invalid.", target="userPrincipalName")
    return upn


def _password(ctx: RequestContext, profile: Any, context: list[str]) -> tuple[str, bool]:
    """``(password, forceChangePasswordNextSignIn)`` from a passwordProfile that passed the policy."""
    assert ctx.conn is not None
    if not isinstance(profile, dict) or not isinstance(profile.get("password"), str):
        raise bad_request("passwordProfile.password is required.", target="passwordProfile")
    force = profile.get("forceChangePasswordNextSignIn", False)
    if not isinstance(force, bool):
        raise bad_request("forceChangePasswordNextSignIn must be true or false.", target="passwordProfile")
    settings = get_settings(ctx.conn, ctx.tenant_id)
    problems = check_password(
        profile["password"],
        mfa_enabled=settings.mfa_requirement == "everyone",
        banned=settings.banned_passwords,
        context=context,
    )
    if problems:
        raise bad_request(f"{PASSWORD_POLICY} {' '.join(problems)}", target="passwordProfile")
    return profile["password"], force


def _extra(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for name in EXTRA:
        if name in body:
            value = body[name]
            if value is not None and (not isinstance(value, str) or len(value) > 256):
                raise bad_request(f"Invalid value specified for property '{name}'.", target=name)
            merged[name] = value
    return merged


def _create(ctx: RequestContext) -> Reply:
    assert ctx.conn is not None
    body = body_object(ctx)
    _check_unknown(body)
    display_name = text_field(body, "displayName", required=True)
    upn = _upn(body, required=True)
    text_field(body, "mailNickname", required=True, max_length=64)
    enabled = bool_field(body, "accountEnabled")
    if enabled is None:
        raise bad_request("Property accountEnabled is required.", target="accountEnabled")
    mail = text_field(body, "mail", required=False)
    assert upn is not None and display_name is not None
    password, force = _password(ctx, body.get("passwordProfile"), [upn.split("@")[0], display_name])
    properties = _extra(body, {})
    properties["forceChangePasswordNextSignIn"] = force
    if store.find_user(ctx.conn, ctx.tenant_id, upn) is not None:
        raise bad_request("Another object with the same value for property userPrincipalName already exists.")
    # Writers are serialized (Database.write), so the check above cannot race another create.
    user = store.create_user(
        ctx.conn,
        ctx.tenant_id,
        upn,
        display_name,
        password=password,
        mail=mail,
        account_enabled=enabled,
        properties=properties,
    )
    audit(
        ctx, "UserManagement", "Add user", "Add", [target("User", user.object_id, display_name, userPrincipalName=upn)]
    )
    return single(ctx, user_json(user), "users/$entity", "user", status=201)


def _update(ctx: RequestContext, key: str) -> Reply:
    assert ctx.conn is not None
    user = find(ctx, key)
    body = body_object(ctx)
    _check_unknown(body)
    guard_privileged(ctx, user.object_id)
    values: dict[str, Any] = {}
    changed: list[dict[str, Any]] = []
    if "displayName" in body:
        values["display_name"] = text_field(body, "displayName", required=True)
    if "userPrincipalName" in body:
        upn = _upn(body, required=True)
        other = store.find_user(ctx.conn, ctx.tenant_id, upn or "")
        if other is not None and other.object_id != user.object_id:
            raise bad_request("Another object with the same value for property userPrincipalName already exists.")
        values["user_principal_name"] = upn
    if "accountEnabled" in body:
        if not isinstance(body["accountEnabled"], bool):
            raise bad_request("Invalid value specified for property 'accountEnabled': expected true or false.")
        values["account_enabled"] = body["accountEnabled"]
    if "mail" in body:
        values["mail"] = text_field(body, "mail", required=False)
    properties = _extra(body, user.properties)
    if properties != user.properties:
        values["properties"] = properties
    if "passwordProfile" in body:
        if not allowed(ctx, "microsoft.directory/users/password/update"):
            raise forbidden()
        password, force = _password(
            ctx, body["passwordProfile"], [user.user_principal_name.split("@")[0], user.display_name]
        )
        store.set_password(ctx.conn, ctx.tenant_id, user.object_id, password)
        store.revoke_sign_in_sessions(ctx.conn, user.object_id)  # the old password's sessions end with it
        values["properties"] = {**values.get("properties", properties), "forceChangePasswordNextSignIn": force}
        audit(
            ctx,
            "UserManagement",
            "Reset user password",
            "Update",
            [target("User", user.object_id, user.display_name, userPrincipalName=user.user_principal_name)],
        )
    for column, value in values.items():
        if column != "properties":
            changed.append({"displayName": column, "oldValue": None, "newValue": str(value)})
    store.update_user(ctx.conn, user, **values)
    if changed or "properties" in values:
        audit(
            ctx,
            "UserManagement",
            "Update user",
            "Update",
            [
                target(
                    "User",
                    user.object_id,
                    user.display_name,
                    userPrincipalName=user.user_principal_name,
                    modifiedProperties=changed,
                )
            ],
        )
    return Reply(204)


def _delete(ctx: RequestContext, key: str) -> Reply:
    assert ctx.conn is not None
    user = find(ctx, key)
    if user.object_id == ctx.caller.object_id:
        raise bad_request("A user cannot delete itself.")
    guard_privileged(ctx, user.object_id)
    groups.remove_from_all_groups(ctx.conn, ctx.tenant_id, user.object_id)
    directory_roles.remove_principal(ctx.conn, ctx.tenant_id, user.object_id)
    ctx.conn.execute(
        delete(role_assignments).where(
            role_assignments.c.tenant_id == ctx.tenant_id, role_assignments.c.principal_id == user.object_id
        )
    )
    mfa_methods.forget_user(ctx.conn, user.object_id)  # its authentication methods reference the row
    store.delete_user(ctx.conn, user)
    audit(
        ctx,
        "UserManagement",
        "Delete user",
        "Delete",
        [target("User", user.object_id, user.display_name, userPrincipalName=user.user_principal_name)],
    )
    return Reply(204)


def group_reference(group: groups.Group) -> dict[str, Any]:
    """A group as a directoryObject in memberOf / member lists."""
    return {
        "@odata.type": "#microsoft.graph.group",
        "id": group.object_id,
        "displayName": group.display_name,
        "mailNickname": group.mail_nickname,
        "description": group.description,
        "securityEnabled": group.security_enabled,
        "mailEnabled": False,
        "groupTypes": [],
    }


def _member_of(ctx: RequestContext, key: str, transitive: bool) -> Reply:
    assert ctx.conn is not None
    user = find(ctx, key)
    ids = (membership.transitive_group_ids if transitive else membership.direct_group_ids)(
        ctx.conn, ctx.tenant_id, user.object_id
    )
    items = [group_reference(g) for gid in ids if (g := groups.get_group(ctx.conn, ctx.tenant_id, gid)) is not None]
    return collection(ctx, items, "directoryObjects", "DirectoryObject", {"id", "displayName"})
