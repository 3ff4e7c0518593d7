"""``WardenClient``: the REST client every service command uses.

Built from a data dir's ``bootstrap.json`` (endpoint, CA, tenant, default subscription and the
bootstrap service principal's credentials). It gets a bearer token once and keeps it in memory
only, sends it to the server's own origin and nowhere else, follows ``nextLink`` pages and polls
long-running operations. Every failure becomes a ``CliError`` that ``handle_errors`` prints as
one line on stderr with exit code 1: never a traceback, never the secret or the token.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import httpx
import typer

from warden.cli.common import resolve_data_dir

BOOTSTRAP_FILE = "bootstrap.json"
ARM_SCOPE = "https://management.azure.com/.default"
DEFAULT_TIMEOUT = 30.0
LRO_TIMEOUT = 600.0
MAX_PAGES = 10_000
USER_AGENT = "warden-cli"

Subscription = typer.Option(
    None,
    "--subscription",
    help="Subscription ID (default: the data dir's bootstrap subscription).",
    show_default=False,
)

P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """A failure to report to the user as one line, exit code 1."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return f"({self.code}) {self.message}" if self.code else self.message


class ApiError(CliError):
    """The server answered with an error (ARM ``{"error": {"code", "message"}}`` or OAuth shape)."""


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a Typer command so ``CliError`` and transport errors exit 1 with a clean message."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(1) from None
        except httpx.TimeoutException:
            typer.echo("Error: the server did not answer in time.", err=True)
            raise typer.Exit(1) from None
        except httpx.HTTPError as error:
            # httpx messages name the URL at most, never headers: safe to show.
            typer.echo(f"Error: could not reach the server{_origin_of(error)}: {error}", err=True)
            raise typer.Exit(1) from None

    return wrapper


def _origin_of(error: httpx.HTTPError) -> str:
    try:
        url = error.request.url
    except RuntimeError:  # raised by httpx when the error carries no request
        return ""
    return f" at {url.scheme}://{url.netloc.decode()}"


def read_bootstrap(data_dir: Path) -> dict[str, Any]:
    """The data dir's ``bootstrap.json``; raise ``CliError`` if it is missing or unusable."""
    path = data_dir / BOOTSTRAP_FILE
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise CliError(f"{path} does not exist: run 'warden init --data-dir {data_dir}' first.") from None
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read {path}: {error.__class__.__name__}.") from None
    if not isinstance(document, dict):
        raise CliError(f"{path} is not a JSON object.")
    missing = [k for k in ("tenantId", "clientId", "clientSecret", "endpoint") if not document.get(k)]
    if missing:
        raise CliError(f"{path} is incomplete: missing {', '.join(missing)}.")
    return document


def error_from_response(response: httpx.Response) -> ApiError:
    """An ``ApiError`` naming the ARM (or OAuth) error code and message of ``response``."""
    code: str | None = None
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            code, message = error.get("code"), str(error.get("message") or "")
        elif isinstance(error, str):  # OAuth: {"error": "invalid_client", "error_description": ...}
            code, message = error, str(body.get("error_description") or "")
    if not message:
        message = f"The server answered HTTP {response.status_code} {response.reason_phrase}."
    return ApiError(message, code=code or f"HTTP{response.status_code}", status=response.status_code)


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after")
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return default
    return min(max(seconds, 0.1), 60.0)


class WardenClient:
    """An authenticated client of one Warden server, as the data dir's bootstrap principal."""

    def __init__(
        self,
        bootstrap: dict[str, Any],
        subscription: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.tenant_id: str = bootstrap["tenantId"]
        self.endpoint: str = str(bootstrap["endpoint"]).rstrip("/")
        self.subscription: str | None = subscription or bootstrap.get("subscriptionId")
        self._client_id: str = bootstrap.get("clientId", "")
        self._secret: str = bootstrap.get("clientSecret", "")
        self.user_session: Any = None  # set when a user signed in with `warden login`
        self._token: str | None = None
        self._token_expires = 0.0
        verify: Any = True
        if ca := bootstrap.get("caCertPath"):
            try:
                verify = ssl.create_default_context(cafile=ca)
            except (OSError, ssl.SSLError) as error:
                raise CliError(f"cannot load the CA certificate {ca} named in bootstrap.json: {error}.") from None
        self._http = httpx.Client(
            base_url=self.endpoint,
            verify=verify,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    @classmethod
    def from_data_dir(cls, data_dir: Path | None, subscription: str | None = None) -> WardenClient:
        from warden.cli.login import logged_in_client  # the user of `warden login`, when signed in

        if (client := logged_in_client(cls, resolve_data_dir(data_dir), subscription)) is not None:
            return client
        return cls(read_bootstrap(resolve_data_dir(data_dir)), subscription)

    def __enter__(self) -> WardenClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never show the secret or the token
        return f"WardenClient(endpoint={self.endpoint!r}, tenant={self.tenant_id!r})"

    def close(self) -> None:
        self._http.close()

    # --- scopes ---------------------------------------------------------------------------

    @property
    def subscription_id(self) -> str:
        if not self.subscription:
            raise CliError("no subscription: pass --subscription.")
        return self.subscription

    @property
    def subscription_scope(self) -> str:
        return f"/subscriptions/{self.subscription_id}"

    def group_scope(self, name: str) -> str:
        return f"{self.subscription_scope}/resourceGroups/{name}"

    # --- authentication -------------------------------------------------------------------

    def _bearer(self, *, refresh: bool = False) -> str:
        if self.user_session is not None:
            return self.user_session.bearer(self._http, refresh=refresh)
        if self._token and not refresh and time.monotonic() < self._token_expires:
            return self._token
        response = self._http.post(
            f"/{self.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._secret,
                "scope": ARM_SCOPE,
            },
        )
        if response.status_code != 200:
            error = error_from_response(response)
            raise ApiError(f"could not get a token: {error.message}", code=error.code, status=error.status)
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in", 300))
        except (ValueError, KeyError, TypeError):
            raise CliError("the token endpoint answered without an access token.") from None
        self._token = token
        # Renew a minute early so a long command never sends a token that expires in flight.
        self._token_expires = time.monotonic() + max(lifetime - 60, 10)
        return token

    # --- requests -------------------------------------------------------------------------

    def _check_origin(self, url: str) -> None:
        """Refuse to send the bearer token to any origin but the server's own."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            own = urlsplit(self.endpoint)
            if (parts.scheme.lower(), parts.netloc.lower()) != (own.scheme.lower(), own.netloc.lower()):
                raise CliError(f"the server sent a link to another origin ({parts.scheme}://{parts.netloc}).")

    def request(
        self,
        method: str,
        path: str,
        *,
        api_version: str | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """Send one request; return the response, or raise ``ApiError`` for an error status.

        ``path`` is a path on the server or an absolute URL of the same origin (a nextLink or
        Location). Statuses in ``ok`` are returned even when they are errors (e.g. 404 on show).
        """
        self._check_origin(path)
        if not urlsplit(path).scheme:
            # A path built from names is literal: '?', '#' or '%' in a name must not start a query.
            path = quote(path, safe="/:@!$&'()*+,;=-._~")
        query = dict(params or {})
        if api_version:
            query["api-version"] = api_version
        kwargs: dict[str, Any] = {"params": query or None}
        if json_body is not None:
            kwargs["json"] = json_body
        response = self._send(method, path, kwargs)
        if response.status_code == 401:  # token expired or keys rotated: one fresh try
            response = self._send(method, path, kwargs, refresh=True)
        if response.status_code >= 400 and response.status_code not in ok:
            raise error_from_response(response)
        return response

    def _send(self, method: str, path: str, kwargs: dict[str, Any], *, refresh: bool = False) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._bearer(refresh=refresh)}"}
        return self._http.request(method, path, headers=headers, **kwargs)

    @staticmethod
    def body(response: httpx.Response) -> Any:
        """The JSON body of ``response``, or ``None`` when it has none."""
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"the server answered HTTP {response.status_code} with a body that is not JSON.") from None

    def get(self, path: str, api_version: str | None = None, params: dict[str, Any] | None = None) -> Any:
        return self.body(self.request("GET", path, api_version=api_version, params=params))

    def put(
        self, path: str, api_version: str | None = None, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        return self.body(self.request("PUT", path, api_version=api_version, params=params, json_body=body))

    def patch(
        self, path: str, api_version: str | None = None, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        return self.body(self.request("PATCH", path, api_version=api_version, params=params, json_body=body))

    def post(
        self, path: str, api_version: str | None = None, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        return self.body(self.request("POST", path, api_version=api_version, params=params, json_body=body))

    def delete(
        self, path: str, api_version: str | None = None, *, wait: bool = True, timeout: float = LRO_TIMEOUT
    ) -> Any:
        """DELETE ``path``; on ``202`` poll the operation to its end unless ``wait`` is false."""
        response = self.request("DELETE", path, api_version=api_version)
        if response.status_code == 202 and wait:
            response = self.wait(response, timeout=timeout)
        return self.body(response)

    # --- lists and long-running operations -------------------------------------------------

    def pages(
        self, path: str, api_version: str | None = None, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the items of a list, following ``nextLink`` (ARM) or ``@odata.nextLink`` (Graph)."""
        response = self.request("GET", path, api_version=api_version, params=params)
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.body(response)
            if not isinstance(page, dict) or not isinstance(page.get("value", []), list):
                raise CliError("the server answered a list request with something that is not a list.")
            yield from page.get("value", [])
            link = page.get("nextLink") or page.get("@odata.nextLink")
            if not link:
                return
            link = urljoin(self.endpoint + "/", link)
            if link in seen:
                raise CliError("the server's nextLink points back to a page already read.")
            seen.add(link)
            # nextLink already carries api-version and the original query options.
            response = self.request("GET", link)
        raise CliError(f"the list has more than {MAX_PAGES} pages.")

    def list(
        self,
        path: str,
        api_version: str | None = None,
        params: dict[str, Any] | None = None,
        *,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a list (or the first ``limit``), across pages."""
        items: list[dict[str, Any]] = []
        if limit is not None and limit <= 0:
            return items
        for item in self.pages(path, api_version, params):
            items.append(item)
            if limit is not None and len(items) >= limit:
                break  # before the generator asks for a page nobody will read
        return items

    def wait(
        self,
        response: httpx.Response,
        *,
        timeout: float = LRO_TIMEOUT,
        default_interval: float = 1.0,
        on_poll: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """Poll a ``201/202`` response's ``Location`` (else ``Azure-AsyncOperation``) until the
        operation ends, honouring ``Retry-After``; return the final response.

        Raises ``ApiError`` if the operation fails and ``CliError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        location = response.headers.get("location")
        status_url = response.headers.get("azure-asyncoperation")
        if not location and not status_url:
            return response
        current = response
        while True:
            delay = _retry_after(current, default_interval)
            if time.monotonic() + delay > deadline:
                raise CliError(f"the operation did not finish within {timeout:g} seconds; it continues on the server.")
            time.sleep(delay)
            if location:
                current = self.request("GET", location)
                if on_poll:
                    on_poll(current)
                if current.status_code != 202:
                    return current
                location = current.headers.get("location") or location
            else:
                assert status_url is not None
                current = self.request("GET", status_url)
                if on_poll:
                    on_poll(current)
                document = self.body(current) or {}
                status = str(document.get("status", "")).lower()
                if status in ("succeeded", "failed", "canceled"):
                    if status != "succeeded":
                        error = document.get("error") or {}
                        raise ApiError(
                            str(error.get("message") or f"The operation ended {document.get('status')}."),
                            code=error.get("code") or "OperationFailed",
                        )
                    return current
