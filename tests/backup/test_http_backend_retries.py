"""HttpBackend's retries against a loopback HTTP server that fails on purpose (the conformance class and
the real server's behaviour are in tests/e2e/test_backup_data_endpoint.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from warden.backup.chunkstore import ObjectNotFound
from warden.backup.chunkstore.backends.http import BackendRequestFailed, HttpBackend

VAULT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v"


class FlakyStore:
    """Objects in a dict behind HTTP; ``fail(method, attempt)`` returns a status to answer instead, or None."""

    def __init__(self, fail: Callable[[str, int], int | None]) -> None:
        self.objects: dict[str, bytes] = {}
        self.attempts: dict[str, int] = {}
        self.bodies: list[bytes] = []
        self.tokens: list[str] = []
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                store.attempts[self.command] = store.attempts.get(self.command, 0) + 1
                store.tokens.append(self.headers.get("Authorization", ""))
                status = fail(self.command, store.attempts[self.command])
                if status is not None:
                    self._answer(
                        status, b'{"error": {"code": "ServerBusy", "message": "try later"}}', {"Retry-After": "0"}
                    )
                    return
                name = self.path.split("/backupData/", 1)[-1]
                if self.command == "PUT":
                    store.bodies.append(body)
                    store.objects[name] = body
                    self._answer(201)
                elif name in store.objects:
                    self._answer(200, store.objects[name])
                else:
                    self._answer(404, b"", {"x-ms-error-code": "ObjectNotFound"})

            do_GET = do_PUT = do_HEAD = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky() -> Iterator[Callable[..., FlakyStore]]:
    started: list[FlakyStore] = []

    def start(fail: Callable[[str, int], int | None]) -> FlakyStore:
        started.append(FlakyStore(fail))
        return started[-1]

    yield start
    for store in started:
        store.close()


def _token_counter() -> Callable[[], str]:
    count = iter(range(1000))
    return lambda: f"token-{next(count)}"


def test_throttling_and_server_errors_are_retried_with_the_whole_body(flaky: Callable[..., FlakyStore]) -> None:
    store = flaky(lambda method, attempt: {1: 503, 2: 500}.get(attempt))
    with HttpBackend(store.endpoint, VAULT, _token_counter(), backoff=0.01) as backend:
        data = bytes(range(256)) * 10_000  # 2.5 MB: several upload slices
        backend.put("data/ab/abcd", data)
        assert store.attempts["PUT"] == 3 and store.bodies == [data]  # only the third attempt got through
        assert backend.get("data/ab/abcd") == data
        assert store.attempts["GET"] == 3
    assert len(set(store.tokens)) == len(store.tokens)  # a token is asked for on every attempt


def test_gives_up_after_max_attempts(flaky: Callable[..., FlakyStore]) -> None:
    store = flaky(lambda method, attempt: 503)
    backend = HttpBackend(store.endpoint, VAULT, _token_counter(), backoff=0.01, max_attempts=4)
    with backend, pytest.raises(BackendRequestFailed) as err:
        backend.put("config", b"c")
    assert (err.value.status, err.value.code, store.attempts["PUT"]) == (503, "ServerBusy", 4)


def test_client_errors_are_not_retried(flaky: Callable[..., FlakyStore]) -> None:
    store = flaky(lambda method, attempt: 403 if method == "PUT" else None)
    with HttpBackend(store.endpoint, VAULT, _token_counter(), backoff=0.01) as backend:
        with pytest.raises(BackendRequestFailed) as err:
            backend.put("config", b"c")
        assert err.value.status == 403 and store.attempts["PUT"] == 1
        with pytest.raises(ObjectNotFound):
            backend.get("config")
        assert backend.exists("config") is False


def test_unreachable_server_fails_after_retries() -> None:
    backend = HttpBackend("http://127.0.0.1:9", VAULT, lambda: "t", backoff=0.01, max_attempts=2)
    with backend, pytest.raises(BackendRequestFailed) as err:
        backend.exists("config")
    assert err.value.status == 0 and err.value.code == "ConnectError"


def test_only_vault_ids_are_accepted() -> None:
    with pytest.raises(ValueError):
        HttpBackend("http://127.0.0.1:9", "/subscriptions/s/resourceGroups/rg", lambda: "t")
    lower = "/SUBSCRIPTIONS/s/resourcegroups/rg/providers/microsoft.recoveryservices/VAULTS/v"
    with HttpBackend("http://127.0.0.1:9", lower, lambda: "t") as backend:
        assert backend.vault_resource_id == VAULT  # the server's route is spelled exactly so
