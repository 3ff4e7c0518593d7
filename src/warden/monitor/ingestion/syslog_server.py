"""A syslog receiver: UDP and TCP on one port, parsing into Syslog rows and handing them over in batches.

The sockets are served by an asyncio loop in a background thread; rows are delivered by a second thread so a
slow ``on_rows`` (a database write) never stalls reading the sockets. Whatever a client sends, the receiver
keeps running: bad bytes become rows (see ``parse_syslog``), over-long frames are cut, connections past the limit
are closed at once, idle ones are closed after ``idle_timeout``, and an exception from ``on_rows`` is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from warden.monitor.ingestion.syslog import MAX_MESSAGE_BYTES, SyslogFramer, parse_syslog

__all__ = ["SyslogReceiver"]

log = logging.getLogger(__name__)

class SyslogReceiver:
    """Receives syslog over UDP and TCP (RFC 6587, both framings) on ``host:port`` and batches parsed rows.

    ``on_rows`` is called from the receiver's delivery thread with lists of at most ``batch_max_rows`` rows,
    at least every ``batch_max_seconds`` while rows are pending. ``start()`` binds and returns the port;
    ``stop()`` closes the sockets and returns once every row received so far has been passed to ``on_rows``.
    """

    def __init__(self, host: str, port: int, on_rows: Callable[[list[dict]], None], *, batch_max_rows: int = 1000,
                 batch_max_seconds: float = 0.5, max_connections: int = 256, max_frame: int = MAX_MESSAGE_BYTES,
                 idle_timeout: float = 300.0, max_pending_batches: int = 1000) -> None:
        if batch_max_rows < 1 or batch_max_seconds <= 0 or max_connections < 1:
            raise ValueError("batch_max_rows, batch_max_seconds and max_connections must be positive")
        self.host = host
        self.port = port
        self.on_rows = on_rows
        self.batch_max_rows = batch_max_rows
        self.batch_max_seconds = batch_max_seconds
        self.max_connections = max_connections
        self.max_frame = max_frame
        self.idle_timeout = idle_timeout
        # Counters for operators (read them from any thread; they only grow).
        self.stats = {"messages": 0, "batches": 0, "truncated": 0, "refused_connections": 0,
                      "dropped_batches": 0, "delivery_errors": 0}
        self._pending: list[dict] = []
        # None is the delivery thread's stop signal.
        self._deliveries: queue.Queue[list[dict] | None] = queue.Queue(maxsize=max_pending_batches)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._delivery_thread: threading.Thread | None = None
        self._tcp_server: asyncio.base_events.Server | None = None
        self._udp_transport: asyncio.DatagramTransport | None = None
        self._connections: dict[asyncio.StreamWriter, asyncio.StreamReader] = {}
        self._handlers: set[asyncio.Task] = set()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> int:
        """Bind TCP and UDP on the same port and start serving; returns the port. Raises OSError if it can't bind."""
        if self._thread is not None:
            raise RuntimeError("receiver already started")
        self._ready.clear()
        self._start_error = None
        self._delivery_thread = threading.Thread(target=self._deliver, name="syslog-delivery", daemon=True)
        self._delivery_thread.start()
        self._thread = threading.Thread(target=self._run, name="syslog-receiver", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self._thread.join()
            self._deliveries.put(None)
            self._delivery_thread.join()
            self._thread = None
            raise self._start_error
        return self.port

    def stop(self) -> None:
        """Stop serving; flush partial TCP frames and pending rows to ``on_rows``; returns when all are delivered."""
        if self._thread is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        future.result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None
        self._deliveries.put(None)
        if self._delivery_thread is not None:
            self._delivery_thread.join()

    def __enter__(self) -> SyslogReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the loop thread ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._bind())
        except BaseException as error:  # reported to start()'s caller
            self._start_error = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        flusher = loop.create_task(self._flush_periodically())
        try:
            loop.run_forever()
        finally:
            flusher.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(asyncio.gather(flusher, return_exceptions=True))
            loop.close()

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        # TCP first: with port 0 the kernel picks a free TCP port, and UDP then binds the same number. If that
        # UDP port happens to be taken, try again with another pair.
        attempts = 20 if self.port == 0 else 1
        for attempt in range(attempts):
            server = await asyncio.start_server(self._serve_connection, self.host, self.port,
                                                limit=self.max_frame + 64, reuse_address=True)
            port = server.sockets[0].getsockname()[1]
            family = server.sockets[0].family
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self), local_addr=(self.host, port), family=family)
            except OSError:
                server.close()
                await server.wait_closed()
                if attempt == attempts - 1:
                    raise
                continue
            self._tcp_server, self._udp_transport, self.port = server, transport, port
            with contextlib.suppress(OSError):  # a large receive buffer rides out bursts of datagrams
                transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            return

    async def _shutdown(self) -> None:
        if self._udp_transport is not None:
            self._udp_transport.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
        # Let each connection finish what it has already received: stop reading from the socket, mark the
        # stream's end, and wait for its handler to parse the rest and flush its framer.
        for writer, reader in list(self._connections.items()):
            with contextlib.suppress(Exception):
                writer.transport.pause_reading()
            reader.feed_eof()
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=5.0)
        for task in self._handlers:
            task.cancel()
        self._flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.batch_max_seconds)
            self._flush()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self.max_connections:
            self.stats["refused_connections"] += 1
            writer.close()
            return
        framer = SyslogFramer(self.max_frame)
        self._connections[writer] = reader
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        peer = _peer(writer)
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(65536), timeout=self.idle_timeout)
                except TimeoutError:
                    break
                if not chunk:
                    break
                self._accept_frames(framer.feed(chunk), peer)
            self._accept_frames(framer.flush(), peer)
        except (ConnectionError, OSError):
            pass  # the client went away; what it sent before is kept
        finally:
            self.stats["truncated"] += framer.truncated
            self._connections.pop(writer, None)
            self._handlers.discard(task)  # type: ignore[arg-type]
            writer.close()

    def _accept_frames(self, frames: list[bytes], peer: str) -> None:
        now = datetime.now(UTC)
        for frame in frames:
            self._add(parse_syslog(frame, received_at=now, peer=peer))

    def _add(self, row: dict) -> None:
        self.stats["messages"] += 1
        self._pending.append(row)
        if len(self._pending) >= self.batch_max_rows:
            self._flush()

    def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.batch_max_rows], self._pending[self.batch_max_rows:]
            try:
                self._deliveries.put_nowait(batch)
            except queue.Full:
                # on_rows is far behind: shed load here rather than grow without bound (UDP senders expect loss).
                self.stats["dropped_batches"] += 1
                log.warning("syslog receiver: delivery queue full, dropped %d rows", len(batch))

    # --- the delivery thread --------------------------------------------------------------------------------------

    def _deliver(self) -> None:
        while True:
            batch = self._deliveries.get()
            if batch is None:
                return
            try:
                self.on_rows(batch)
                self.stats["batches"] += 1
            except Exception:
                self.stats["delivery_errors"] += 1
                log.exception("syslog receiver: on_rows failed for a batch of %d rows", len(batch))


class _UdpProtocol(asyncio.DatagramProtocol):
    """One datagram is one message (RFC 5426)."""

    def __init__(self, receiver: SyslogReceiver) -> None:
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if len(data) > self.receiver.max_frame:
            self.receiver.stats["truncated"] += 1
            data = data[: self.receiver.max_frame]
        self.receiver._accept_frames([data.rstrip(b"\r\n\x00")], str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        log.debug("syslog receiver: UDP error %s", exc)


def _peer(writer: asyncio.StreamWriter) -> str:
    name = writer.get_extra_info("peername")
    return str(name[0]) if isinstance(name, tuple) and name else "unknown"
