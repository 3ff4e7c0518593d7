"""The vault data endpoint: a vault's repository objects over HTTPS, for machines that cannot reach its storage.

Routes (under the vault's ARM resource ID; the client is ``chunkstore.backends.http.HttpBackend``)::

    GET    {vault id}/backupData?prefix=P[&$skiptoken=T]   list object names: {"value": [...], "nextLink"}
    GET    {vault id}/backupData/{name}                    the object (``Range: bytes=a-b`` -> 206)
    HEAD   {vault id}/backupData/{name}                    200 if stored, 404 if not
    PUT    {vault id}/backupData/{name}                    store the body atomically (at most 64 MiB)
    DELETE {vault id}/backupData/{name}                    remove (204 even if absent)

Every request carries a bearer token like any ARM call and needs, on the vault, a data action
(``Microsoft.RecoveryServices/vaults/backupData/read`` for GET, HEAD and list, ``.../write`` for PUT,
``.../delete`` for DELETE) or the vault operation that already implies that access in Azure's
built-in roles: restoring a recovery point reads backup data, backing up an item writes it, deleting a
protected item deletes it (``MANAGEMENT_EQUIVALENT``). So Backup Operator may read and write, Backup
Contributor (and Owner, Contributor) may also delete, and Backup Reader may do none of it, without
changing Azure's role definitions, which Warden ships verbatim. Authorization comes first, so a
caller without it learns nothing, not even whether the vault exists; a vault of another tenant is
"not found". Names are the chunk store's own
(``chunkstore.backends.check_name``: no ``..``, no absolute paths, no empty segments).

Immutability (``properties.securitySettings.immutabilitySettings.state`` of the vault):

* ``Unlocked``: DELETE is refused for objects younger than the vault's soft-delete retention period
  (``softDeleteRetentionPeriodInDays``), and a PUT may not replace a stored object with other bytes.
* ``Locked``: no DELETE at all through this endpoint (only the vault's own retention/prune job, which
  opens the storage directly, removes data), and no replacing either.

Re-sending the same bytes is always accepted, so a client's retried upload never fails on immutability.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from warden.authz.store import load_engine
from warden.backup.chunkstore import Backend, InvalidObjectName, LocalBackend, ObjectNotFound
from warden.backup.chunkstore.backends import check_name
from warden.backup.storage import vault_row, vault_storage
from warden.backup.vaults import security
from warden.kernel.caller import Caller
from warden.kernel.context import authorization_failed
from warden.kernel.errors import BadRequest, Conflict, NotFound, WardenError

if TYPE_CHECKING:
    from warden.platform import Platform

READ = "Microsoft.RecoveryServices/vaults/backupData/read"
WRITE = "Microsoft.RecoveryServices/vaults/backupData/write"
DELETE = "Microsoft.RecoveryServices/vaults/backupData/delete"
DATA_ACTIONS = (READ, WRITE, DELETE)
_ITEMS = "Microsoft.RecoveryServices/Vaults/backupFabrics/protectionContainers/protectedItems"
MANAGEMENT_EQUIVALENT = {
    READ: f"{_ITEMS}/recoveryPoints/restore/action",
    WRITE: f"{_ITEMS}/backup/action",
    DELETE: f"{_ITEMS}/delete",
}
MAX_OBJECT_BYTES = 64 * 1024 * 1024  # the largest object a repository writes is a pack (16 MiB by default)
LIST_PAGE = 5000
MAX_CONCURRENT_UPLOADS = 8  # bodies are buffered whole: at most 8 x 64 MiB in memory per server process
VAULT_PATH = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.RecoveryServices/vaults/{vault}"
LIST_ROUTE = VAULT_PATH + "/backupData"
OBJECT_ROUTE = VAULT_PATH + "/backupData/{name:path}"

Authenticate = Callable[["Platform", Request], Caller]


class _Vault:
    """An authorized caller's view of one vault: its stored row and its storage backend."""

    def __init__(self, row: Any, backend: Backend) -> None:
        self.row = row
        self.backend = backend
        _, self.retention_days, self.immutability = security(row.body.get("properties") or {})

    def close(self) -> None:
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()  # LocalBackend keeps pack descriptors open; a request must not leak them


def install(app: FastAPI, platform: Platform, authenticate: Authenticate) -> None:
    """Add the data endpoint's routes to ``app`` (before the ARM catch-all route)."""
    uploads = [0]  # bodies being received now; the event loop is single-threaded, so no lock is needed

    async def list_route(request: Request, subscription: str, group: str, vault: str) -> Response:
        async def run(target: _Vault) -> Response:
            prefix = request.query_params.get("prefix", "")
            after = request.query_params.get("$skiptoken", "")
            page = await run_in_threadpool(_list_page, target.backend, _prefix(prefix), after)
            body: dict[str, Any] = {"value": page}
            if len(page) == LIST_PAGE:
                query = urlencode({"prefix": prefix, "$skiptoken": page[-1]})
                body["nextLink"] = f"{str(request.base_url).rstrip('/')}{request.url.path}?{query}"
            return JSONResponse(body)

        return await _serve(platform, authenticate, request, (subscription, group, vault), READ, run)

    async def object_route(request: Request, subscription: str, group: str, vault: str, name: str) -> Response:
        action = {"GET": READ, "HEAD": READ, "PUT": WRITE, "DELETE": DELETE}[request.method]

        async def run(target: _Vault) -> Response:
            checked = _name(name)
            if request.method == "PUT":
                if uploads[0] >= MAX_CONCURRENT_UPLOADS:
                    raise WardenError(
                        "Too many uploads in progress; retry shortly.",
                        code="ServerBusy",
                        status=503,
                        headers={"Retry-After": "1"},
                    )
                uploads[0] += 1
                try:
                    data = await _read_body(request)
                finally:
                    uploads[0] -= 1
                created = await run_in_threadpool(_put, target, checked, data)
                return Response(status_code=201 if created else 200)
            if request.method == "DELETE":
                await run_in_threadpool(_delete, target, checked)
                return Response(status_code=204)
            if request.method == "HEAD":
                if not await run_in_threadpool(target.backend.exists, checked):
                    raise _not_found(checked)
                return Response(status_code=200)
            return await run_in_threadpool(_get, target.backend, checked, request.headers.get("range", ""))

        return await _serve(platform, authenticate, request, (subscription, group, vault), action, run)

    app.add_api_route(LIST_ROUTE, list_route, methods=["GET"])
    app.add_api_route(OBJECT_ROUTE, object_route, methods=["GET", "HEAD", "PUT", "DELETE"])


async def _serve(platform, authenticate, request, where, action, run) -> Response:  # type: ignore[no-untyped-def]
    """Authenticate, authorize ``action`` on the vault, open its storage, ``run``; render any WardenError."""
    vault_id = VAULT_PATH.format(subscription=where[0], group=where[1], vault=where[2])
    target = None
    try:
        caller = await run_in_threadpool(authenticate, platform, request)
        target = await run_in_threadpool(_open_vault, platform, caller, action, vault_id)
        return await run(target)
    except WardenError as error:
        headers = {**error.headers, "x-ms-error-code": error.code}
        if request.method == "HEAD":
            return Response(status_code=error.status, headers=headers)
        return JSONResponse(error.body(), status_code=error.status, headers=headers)
    finally:
        if target is not None:
            target.close()


def _open_vault(platform: Platform, caller: Caller, action: str, vault_id: str) -> _Vault:
    """Return the vault's row and storage; raise AuthorizationFailed (403) or ResourceNotFound (404)."""
    with platform.db.read() as conn:
        engine = load_engine(conn, caller.tenant_id, caller.principal_ids)
        decision = engine.check(caller.principal_ids, action, vault_id, data_action=True)
        if not decision.allowed:
            implied = engine.check(caller.principal_ids, MANAGEMENT_EQUIVALENT[action], vault_id)
            decision = implied if implied.allowed else decision
    if not decision.allowed:
        raise authorization_failed(caller, action, vault_id, decision)
    row = vault_row(platform, caller.tenant_id, vault_id)
    return _Vault(row, vault_storage(platform, caller.tenant_id, vault_id))


def _name(name: str) -> str:
    try:
        checked = check_name(name)
    except InvalidObjectName as error:
        raise BadRequest(str(error), code="InvalidObjectName", target="name") from None
    if checked.split("/")[0] == "tmp":
        raise BadRequest("'tmp/' is not part of a repository's object names.", code="InvalidObjectName", target="name")
    return checked


def _prefix(prefix: str) -> str:
    # A prefix is a name, or the start of one ("data/0", "snap"), or empty for everything.
    if prefix and not prefix.endswith("/"):
        _name(prefix)
    elif prefix:
        _name(prefix.rstrip("/"))
    return prefix


def _not_found(name: str) -> NotFound:
    return NotFound(f"The object '{name}' does not exist in the vault's repository.", code="ObjectNotFound")


async def _read_body(request: Request) -> bytes:
    """The PUT body, streamed, refused with 413 once past MAX_OBJECT_BYTES and with 400 if truncated."""
    too_large = WardenError(
        f"Objects are at most {MAX_OBJECT_BYTES // (1024 * 1024)} MiB.", code="RequestEntityTooLarge", status=413
    )
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise WardenError("A Content-Length header is required.", code="MissingContentLength", status=411)
    if int(declared) > MAX_OBJECT_BYTES:
        raise too_large
    buffer = bytearray()
    async for chunk in request.stream():
        buffer += chunk
        if len(buffer) > MAX_OBJECT_BYTES:
            raise too_large
    if len(buffer) != int(declared):
        raise BadRequest("The request body is shorter than its Content-Length.", code="IncompleteBody")
    return bytes(buffer)


def _get(backend: Backend, name: str, range_header: str) -> Response:
    """Return the whole object (200) or the requested byte range (206); raise ObjectNotFound as 404."""
    try:
        if not range_header:
            return Response(backend.get(name), media_type="application/octet-stream")
        offset, length = _parse_range(range_header)
        data = backend.get_range(name, offset, length)
    except ObjectNotFound:
        raise _not_found(name) from None
    end = offset + len(data) - 1
    headers = {"Content-Range": f"bytes {offset}-{end}/*"} if data else {}
    return Response(data, status_code=206, media_type="application/octet-stream", headers=headers)


def _parse_range(header: str) -> tuple[int, int]:
    """Return (offset, length) of a single ``bytes=a-b`` range; raise BadRequest for anything else."""
    unit, _, spec = header.partition("=")
    first, _, last = spec.partition("-")
    if unit.strip() != "bytes" or not first.isdigit() or not last.isdigit() or int(last) < int(first):
        raise BadRequest(f"The Range header '{header[:80]}' is not one 'bytes=first-last' range.", code="InvalidRange")
    return int(first), int(last) - int(first) + 1


def _list_page(backend: Backend, prefix: str, after: str) -> list[str]:
    """Return up to LIST_PAGE names starting with ``prefix``, sorted, after the name ``after``."""
    names = sorted(n for n in backend.list(prefix) if n > after)
    return names[:LIST_PAGE]


def _put(target: _Vault, name: str, data: bytes) -> bool:
    """Store ``data``; return whether the name was new. Raise Conflict when immutability forbids replacing."""
    existed = target.backend.exists(name)
    if existed and target.immutability != "Disabled":
        if _same_bytes(target.backend, name, data):
            return False  # a retried upload of what is already there
        raise Conflict(
            f"The vault is immutable ({target.immutability}): the object '{name}' cannot be replaced.",
            code="UserErrorImmutableVaultObjectCannotBeReplaced",
        )
    target.backend.put(name, data)
    return not existed


def _same_bytes(backend: Backend, name: str, data: bytes) -> bool:
    try:
        return backend.get(name) == data
    except ObjectNotFound:
        return False


def _delete(target: _Vault, name: str) -> None:
    """Delete ``name`` unless the vault's immutability keeps it; raise Conflict then."""
    if target.immutability == "Locked":
        raise Conflict(
            "The vault's immutability is Locked: its backup data is removed only by the vault's own retention.",
            code="UserErrorImmutableVaultDataCannotBeDeleted",
        )
    if target.immutability != "Disabled" and target.backend.exists(name):
        age = _age_seconds(target.backend, name)
        if age is None or age < target.retention_days * 86400:
            raise Conflict(
                f"The vault is immutable: '{name}' is within its {target.retention_days}-day retention period.",
                code="UserErrorImmutableVaultDataCannotBeDeleted",
            )
    target.backend.delete(name)


def _age_seconds(backend: Backend, name: str) -> float | None:
    """Return how long ago ``name`` was written, or None when the backend cannot tell (then it is kept)."""
    if isinstance(backend, LocalBackend):
        try:
            return time.time() - os.stat(backend.root / name).st_mtime
        except FileNotFoundError:
            return None
    return None
