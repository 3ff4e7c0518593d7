"""``HttpBackend``: a repository reached through a Warden server's vault data endpoint over HTTPS.

For machines that cannot reach the vault's storage themselves: every object operation is one HTTPS
request to ``{endpoint}{vault resource id}/backupData/{name}`` (GET, ranged GET, HEAD, PUT,
DELETE; ``GET .../backupData?prefix=`` lists), authenticated with a bearer token from
``token_provider`` and authorized by the server with the vault's ``backupData`` data actions.
The server keeps the bytes in the vault's own storage and decides what may be deleted or replaced
(an immutable vault refuses both; see ``warden.backup.data_endpoint``).

One ``httpx.Client`` (a connection pool, so TLS is negotiated once per connection, not per object)
serves every thread. Uploads stream from the caller's buffer in 1 MiB slices; downloads stream into
one buffer with a size cap. Connection failures, 408, 429 and 5xx answers are retried with capped
exponential backoff and jitter, honouring ``Retry-After``; every operation is idempotent
(PUT of a name replaces it whole, DELETE of a missing name succeeds), so a retry is always safe.

Pure: imports only httpx, the standard library and the chunk store itself.
"""

from __future__ import annotations

import json
import random
import ssl
import time
from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx

from ..errors import ChunkStoreError, InvalidObjectName, ObjectNotFound
from . import check_name

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_OBJECT_BYTES = 64 * 1024 * 1024  # the server's cap too: the largest object a repository writes is a pack
UPLOAD_SLICE = 1024 * 1024


class BackendRequestFailed(ChunkStoreError):
    """The server refused a request or kept failing; ``status`` and ``code`` are its answer."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class HttpBackend:
    """Objects of one vault's repository behind a Warden server. Close it (or use ``with``) when done."""

    def __init__(
        self,
        endpoint: str,
        vault_resource_id: str,
        token_provider: Callable[[], str],
        *,
        verify: bool | str | ssl.SSLContext = True,
        max_attempts: int = 6,
        backoff: float = 0.2,
        timeout: float = 120.0,
        max_connections: int = 16,
    ) -> None:
        parts = vault_resource_id.strip("/").split("/")
        if len(parts) != 8 or parts[0].lower() != "subscriptions" or parts[6].lower() != "vaults":
            raise ValueError(f"not a Recovery Services vault resource id: {vault_resource_id!r}")
        # ARM's own spelling of the fixed segments, which the server's route matches exactly.
        parts[0], parts[2], parts[4], parts[5], parts[6] = (
            "subscriptions",
            "resourceGroups",
            "providers",
            "Microsoft.RecoveryServices",
            "vaults",
        )
        self.vault_resource_id = "/" + "/".join(parts)
        self._base = f"{self.vault_resource_id}/backupData"
        self._token = token_provider
        self.max_attempts = max_attempts
        self.backoff = backoff
        if isinstance(verify, str):
            verify = ssl.create_default_context(cafile=verify)  # a CA bundle path: trust exactly that CA
        self.client = httpx.Client(
            base_url=endpoint.rstrip("/"),
            verify=verify,
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def __repr__(self) -> str:
        return f"HttpBackend({str(self.client.base_url)!r}, {self.vault_resource_id!r})"

    def __enter__(self) -> HttpBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    # --- requests ---------------------------------------------------------------------------------

    def _url(self, name: str) -> str:
        return f"{self._base}/{quote(check_name(name), safe='/')}"

    def _send(
        self,
        method: str,
        url: str,
        *,
        name: str = "",
        body: memoryview | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        missing_ok: bool = False,
    ) -> tuple[int, bytes]:
        """Send one request with retries; return (status, body). Raise ObjectNotFound on 404 (unless
        ``missing_ok``), InvalidObjectName on the server's name check, BackendRequestFailed otherwise."""
        attempt = 0
        while True:
            attempt += 1
            request_headers = {**(headers or {}), "Authorization": f"Bearer {self._token()}"}
            content = None
            if body is not None:
                request_headers["Content-Length"] = str(len(body))
                content = _slices(body)
            try:
                with self.client.stream(method, url, headers=request_headers, params=params, content=content) as answer:
                    data = _read_capped(answer)
                    status = answer.status_code
                    retry_after = answer.headers.get("retry-after", "")
                    error_code = answer.headers.get("x-ms-error-code", "")
            except (httpx.TransportError, _TooLarge) as error:
                if attempt >= self.max_attempts or isinstance(error, _TooLarge):
                    raise BackendRequestFailed(f"{method} {name or url}: {error}", 0, type(error).__name__) from None
                self._sleep(attempt, "")
                continue
            if status in expect:
                return status, data
            if status in RETRY_STATUSES and attempt < self.max_attempts:
                self._sleep(attempt, retry_after)
                continue
            code, message = _error_of(data)
            code = error_code or code  # HEAD answers carry the code only in the header
            if status == 404 and code == "ObjectNotFound":
                if missing_ok:
                    return status, data
                raise ObjectNotFound(name)
            if status == 400 and code == "InvalidObjectName":
                raise InvalidObjectName(message)
            raise BackendRequestFailed(f"{method} {name or url}: {status} {code}: {message}", status, code)

    def _sleep(self, attempt: int, retry_after: str) -> None:
        delay = min(10.0, self.backoff * 2 ** (attempt - 1)) * (0.5 + random.random())
        if retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 30.0))
        time.sleep(delay)

    # --- the Backend protocol ---------------------------------------------------------------------

    def put(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Upload ``data`` under ``name`` (atomic on the server); see Backend.put."""
        view = memoryview(data).cast("B")
        if len(view) > MAX_OBJECT_BYTES:
            raise ValueError(f"objects are at most {MAX_OBJECT_BYTES} bytes, got {len(view)}")
        self._send("PUT", self._url(name), name=name, body=view, expect=(200, 201))

    def get(self, name: str) -> bytes:
        """Return the object's bytes; raise ObjectNotFound."""
        return self._send("GET", self._url(name), name=name)[1]

    def get_range(self, name: str, offset: int, length: int) -> bytes:
        """Return up to ``length`` bytes from ``offset`` (a ranged GET); raise ObjectNotFound."""
        if offset < 0 or length < 0:
            raise ValueError("offset and length must be >= 0")
        if length == 0:
            if not self.exists(name):
                raise ObjectNotFound(name)
            return b""
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        status, data = self._send("GET", self._url(name), name=name, headers=headers, expect=(200, 206))
        return data if status == 206 else data[offset : offset + length]

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the names starting with ``prefix``, following the server's ``nextLink`` pages."""
        url, params = self._base, {"prefix": prefix}
        while url:
            page = json.loads(self._send("GET", url, params=params)[1])
            yield from page["value"]
            url, params = page.get("nextLink") or "", None
            if url:  # the link is absolute; keep only its path and query for this client's base URL
                parsed = httpx.URL(url)
                url = parsed.raw_path.decode()

    def delete(self, name: str) -> None:
        """Remove ``name`` (idempotent); raise BackendRequestFailed if the vault refuses (immutability)."""
        self._send("DELETE", self._url(name), name=name, expect=(200, 204), missing_ok=True)

    def exists(self, name: str) -> bool:
        """Return whether ``name`` is stored (HEAD)."""
        return self._send("HEAD", self._url(name), name=name, missing_ok=True)[0] == 200


class _TooLarge(Exception):
    pass


def _slices(view: memoryview) -> Iterator[bytes]:
    # A fresh generator per attempt, so a retried upload sends the whole body again.
    for start in range(0, len(view), UPLOAD_SLICE):
        yield bytes(view[start : start + UPLOAD_SLICE])


def _read_capped(answer: httpx.Response) -> bytes:
    """Read a streamed answer into one buffer; raise _TooLarge past MAX_OBJECT_BYTES."""
    buffer = bytearray()
    for chunk in answer.iter_bytes():
        buffer += chunk
        if len(buffer) > MAX_OBJECT_BYTES + 65536:
            raise _TooLarge(f"answer larger than {MAX_OBJECT_BYTES} bytes")
    return bytes(buffer)


def _error_of(data: bytes) -> tuple[str, str]:
    """Return (code, message) from an ARM error body, or ("", text) if it is not one."""
    try:
        error = json.loads(data)["error"]
        return str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, KeyError, TypeError, AttributeError):
        return "", data[:200].decode(errors="replace")
