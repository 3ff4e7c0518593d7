"""A real S3-protocol server for backend tests: moto's ``ThreadedMotoServer`` on a free loopback port.

The tests talk to it over real HTTP with boto3 (not moto's in-process mock decorator), so request
signing, ranged GETs, pagination, multipart uploads and conditional PUTs all cross the wire.
"""

from __future__ import annotations

import http.client
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from moto.server import ThreadedMotoServer

from support.server import free_port

ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"


@contextmanager
def moto_s3() -> Iterator[str]:
    """Run a moto S3 server on 127.0.0.1; yield its endpoint URL and stop it afterwards."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_backend_kwargs(endpoint: str) -> dict[str, str]:
    """Return the S3Backend connection parameters for a moto endpoint."""
    return {
        "endpoint_url": endpoint,
        "region": REGION,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
    }


def new_bucket_name() -> str:
    """Return a fresh, valid bucket name."""
    return f"warden-test-{uuid.uuid4().hex[:16]}"


class FaultyProxy:
    """An HTTP proxy in front of the S3 server that answers chosen requests with an error status.

    ``fault(method, path_and_query, attempt)`` returns a status (e.g. 503) to send instead of
    forwarding, or None to forward; ``attempt`` counts identical (method, path) requests from 1.
    ``seen`` lists every (method, path_and_query, status) the proxy answered.
    """

    def __init__(self, upstream: str, fault: Callable[[str, str, int], int | None]) -> None:
        self.upstream = urlsplit(upstream)
        self.fault = fault
        self.seen: list[tuple[str, str, int]] = []
        self._attempts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    attempt = proxy._attempts.get((self.command, self.path), 0) + 1
                    proxy._attempts[(self.command, self.path)] = attempt
                status = proxy.fault(self.command, self.path, attempt)
                if status is not None:
                    payload = f"<Error><Code>{'SlowDown' if status == 503 else 'InternalError'}</Code></Error>"
                    self._answer(status, {"Content-Type": "application/xml"}, payload.encode())
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                hop = ("connection", "transfer-encoding", "content-length")
                self._answer(answer.status, {k: v for k, v in answer.getheaders() if k.lower() not in hop}, data)

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                with proxy._lock:
                    proxy.seen.append((self.command, self.path, status))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        return Handler
