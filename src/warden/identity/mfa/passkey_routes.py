"""Graph-shaped passkey (FIDO2) routes of the signed-in user, below ``/v1.0/me/authentication``.

* ``GET fido2Methods``, ``GET``/``DELETE fido2Methods/{id}``: Graph v1.0's fido2AuthenticationMethod.
* ``POST fido2Methods/creationOptions`` -> ``{challengeId, challengeTimeoutDateTime, publicKey}``
  (Graph beta serves this as a GET; it stores a challenge here, so Warden takes a POST).
* ``POST fido2Methods`` ``{displayName, challengeId, publicKeyCredential}`` -> 201, the new method
  (Graph beta's registration body plus the challenge it answers).

The relying party is the server itself: its ID is the host of the public endpoint, the expected
origin the endpoint (``https://host[:port]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from warden.identity.graph.errors import GraphError
from warden.identity.mfa import methods, passkeys
from warden.identity.users import User
from warden.kernel.clock import utcnow
from warden.kernel.context import RequestContext
from warden.kernel.ids import is_guid
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply
from warden.kernel.resources import require_object

FIDO2_TYPE = "#microsoft.graph.fido2AuthenticationMethod"
UserEndpoint = Callable[..., Endpoint]


def relying_party(ctx: RequestContext) -> tuple[str, str]:
    """Return (rp_id, origin) for this server."""
    endpoint = ctx.platform.settings.endpoint
    return urlsplit(endpoint).hostname or "localhost", endpoint.rstrip("/")


def resolve_me(method: str, rest: list[str], user_endpoint: UserEndpoint) -> Endpoint | None:
    """Return the endpoint for ``me/authentication/fido2Methods/...`` (``rest`` starts after
    ``fido2Methods``), or None when no route matches."""
    if not rest and method == "GET":
        return user_endpoint("standard/read", lambda ctx, me: Reply(200, _passkeys(ctx, me)))
    if not rest and method == "POST":
        return user_endpoint("basic/update", _register, write=True)
    if rest == ["creationOptions"] and method == "POST":
        return user_endpoint("basic/update", _creation_options, write=True)
    if len(rest) == 1 and is_guid(rest[0]):
        method_id = rest[0].lower()
        if method == "GET":
            return user_endpoint("standard/read", lambda ctx, me: Reply(200, _one(ctx, me, method_id)))
        if method == "DELETE":
            return user_endpoint("delete", lambda ctx, me: _delete(ctx, me, method_id), write=True)
    return None


def _passkeys(ctx: RequestContext, user: User) -> list[dict[str, Any]]:
    assert ctx.conn is not None
    return [m for m in methods.method_resources(ctx.conn, user.object_id) if m["@odata.type"] == FIDO2_TYPE]


def _one(ctx: RequestContext, user: User, method_id: str) -> dict[str, Any]:
    for found in _passkeys(ctx, user):
        if found["id"] == method_id:
            return found
    raise GraphError(f"Resource '{method_id}' does not exist.", code="Request_ResourceNotFound", status=404)


def _creation_options(ctx: RequestContext, user: User) -> Reply:
    assert ctx.conn is not None
    rp_id, _origin = relying_party(ctx)
    try:
        options = passkeys.registration_options(
            ctx.conn,
            user.tenant_id,
            user.object_id,
            user.user_principal_name,
            user.display_name,
            rp_id=rp_id,
            rp_name="Warden",
            now=utcnow(),
        )
    except passkeys.PasskeyError as error:
        raise GraphError(str(error), code="Request_BadRequest", status=409) from None
    return Reply(200, options, headers={"Cache-Control": "no-store"})


def _register(ctx: RequestContext, user: User) -> Reply:
    assert ctx.conn is not None
    body = require_object(ctx.body)
    display_name = body.get("displayName", "Passkey")
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name) > 256:
        raise GraphError("'displayName' must be text of 1 to 256 characters.", code="Request_BadRequest", status=400)
    rp_id, origin = relying_party(ctx)
    try:
        method_id = passkeys.register(
            ctx.conn,
            user.tenant_id,
            user.object_id,
            body.get("challengeId"),
            body.get("publicKeyCredential"),
            rp_id=rp_id,
            origin=origin,
            display_name=display_name.strip(),
            now=utcnow(),
        )
    except passkeys.PasskeyError as error:
        # Raising rolls the challenge's consumption back: the user may retry it until it expires.
        raise GraphError(str(error), code="Request_BadRequest", status=400) from None
    return Reply(201, _one(ctx, user, method_id))


def _delete(ctx: RequestContext, user: User, method_id: str) -> Reply:
    assert ctx.conn is not None
    _one(ctx, user, method_id)
    methods.delete_method(ctx.conn, user.object_id, method_id)
    return Reply(204)
