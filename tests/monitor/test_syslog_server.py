"""The syslog receiver on real loopback sockets: UDP and TCP on one port, both framings, batching, limits."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from warden.monitor.ingestion.syslog_server import SyslogReceiver


class Collector:
    """Thread-safe on_rows sink that remembers batches."""

    def __init__(self) -> None:
        self.batches: list[list[dict]] = []
        self.lock = threading.Lock()

    def __call__(self, rows: list[dict]) -> None:
        with self.lock:
            self.batches.append(list(rows))

    @property
    def rows(self) -> list[dict]:
        with self.lock:
            return [row for batch in self.batches for row in batch]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.rows) >= count:
                return self.rows
            time.sleep(0.01)
        return self.rows


@pytest.fixture
def collector():
    return Collector()


@pytest.fixture
def receiver(collector):
    rec = SyslogReceiver("127.0.0.1", 0, collector, batch_max_seconds=0.05)
    rec.start()
    yield rec
    rec.stop()


def tcp(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def octet(message: bytes) -> bytes:
    return b"%d %s" % (len(message), message)


def test_udp_and_tcp_share_the_bound_port(receiver):
    port = receiver.port
    assert port > 0
    # Both protocols are bound: another socket can bind neither.
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        probe = socket.socket(socket.AF_INET, kind)
        with pytest.raises(OSError):
            probe.bind(("127.0.0.1", port))
        probe.close()


def test_udp_datagram_becomes_a_row(receiver, collector):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"<38>Mar 10 11:00:00 gw01 sshd[4711]: Accepted publickey for ops", ("127.0.0.1", receiver.port))
    (row,) = collector.wait_for(1)
    assert (row["Facility"], row["SeverityLevel"]) == ("auth", "info")
    assert (row["HostName"], row["ProcessName"], row["ProcessID"]) == ("gw01", "sshd", 4711)
    assert row["HostIP"] == "127.0.0.1" and row["SyslogMessage"] == "Accepted publickey for ops"


def test_tcp_octet_counting_frame_split_across_sends(receiver, collector):
    messages = [b"<165>1 2026-03-10T11:00:00Z web01 app 12 - - split message",
                b"<13>Mar 10 11:00:01 web01 cron[1]: second"]
    stream = b"".join(octet(m) for m in messages)
    with tcp(receiver.port) as sock:
        for i in range(0, len(stream), 5):  # 5-byte sends cut the header and the message
            sock.sendall(stream[i:i + 5])
            time.sleep(0.002)
    rows = collector.wait_for(2)
    assert [r["SyslogMessage"] for r in rows] == ["split message", "second"]
    assert rows[0]["ProcessID"] == 12 and rows[0]["Facility"] == "local4"


def test_tcp_newline_framing_with_a_line_split_across_sends(receiver, collector):
    with tcp(receiver.port) as sock:
        sock.sendall(b"<14>Mar 10 11:00:00 h1 a: one\n<14>Mar 10 11:00:00 h1 a: tw")
        time.sleep(0.05)
        sock.sendall(b"o\r\n<14>Mar 10 11:00:00 h1 a: three\n")
    rows = collector.wait_for(3)
    assert [r["SyslogMessage"] for r in rows] == ["one", "two", "three"]


def test_udp_and_tcp_together_on_one_port(receiver, collector):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"<13>via udp", ("127.0.0.1", receiver.port))
    with tcp(receiver.port) as sock:
        sock.sendall(octet(b"<13>via tcp"))
    rows = collector.wait_for(2)
    assert sorted(r["SyslogMessage"] for r in rows) == ["via tcp", "via udp"]


def test_stop_flushes_pending_rows_and_unterminated_lines(collector):
    rec = SyslogReceiver("127.0.0.1", 0, collector, batch_max_rows=10_000, batch_max_seconds=60)
    port = rec.start()
    sock = tcp(port)
    sock.sendall(b"<13>complete\n<13>unterminated")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"<13>datagram", ("127.0.0.1", port))
    time.sleep(0.2)
    assert collector.rows == []  # nothing delivered yet: the batch is neither full nor due
    rec.stop()
    sock.close()
    assert sorted(r["SyslogMessage"] for r in collector.rows) == ["complete", "datagram", "unterminated"]


def test_batches_are_capped_at_batch_max_rows(collector):
    rec = SyslogReceiver("127.0.0.1", 0, collector, batch_max_rows=7, batch_max_seconds=0.05)
    port = rec.start()
    try:
        with tcp(port) as sock:
            sock.sendall(b"".join(b"<13>m%d\n" % i for i in range(50)))
        rows = collector.wait_for(50)
    finally:
        rec.stop()
    assert [r["SyslogMessage"] for r in rows] == [f"m{i}" for i in range(50)]
    assert max(len(b) for b in collector.batches) <= 7


def test_max_connections_refuses_extra_clients_and_keeps_serving(collector):
    rec = SyslogReceiver("127.0.0.1", 0, collector, max_connections=2, batch_max_seconds=0.05)
    port = rec.start()
    try:
        held = [tcp(port), tcp(port)]
        for sock in held:
            sock.sendall(b"<13>held\n")
        collector.wait_for(2)
        extra = tcp(port)
        extra.settimeout(2)
        with contextlib.suppress(ConnectionResetError):
            assert extra.recv(1) == b""  # closed by the receiver
        extra.close()
        assert rec.stats["refused_connections"] == 1
        for sock in held:
            sock.close()
        time.sleep(0.1)
        with tcp(port) as sock:  # a slot is free again
            sock.sendall(b"<13>after\n")
        rows = collector.wait_for(3)
    finally:
        rec.stop()
    assert [r["SyslogMessage"] for r in rows].count("after") == 1


def test_oversized_frame_is_cut_and_bad_clients_do_not_stop_the_receiver(collector):
    rec = SyslogReceiver("127.0.0.1", 0, collector, max_frame=64, batch_max_seconds=0.05)
    port = rec.start()
    try:
        with tcp(port) as sock:
            sock.sendall(octet(b"<13>" + b"x" * 10_000) + octet(b"<13>small"))
        with tcp(port) as sock:  # garbage, then an abrupt reset
            sock.sendall(b"\xff\x00\x01 not syslog at all \x80\x81")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"\x00" * 3000, ("127.0.0.1", port))
            udp.sendto(b"<13>still alive", ("127.0.0.1", port))
        rows = collector.wait_for(4)
    finally:
        rec.stop()
    messages = [r["SyslogMessage"] for r in rows]
    assert ("x" * 60) in messages and "small" in messages and "still alive" in messages
    assert rec.stats["truncated"] >= 1


def test_on_rows_exception_is_survived(collector):
    calls = []

    def flaky(rows):
        calls.append(rows)
        if len(calls) == 1:
            raise RuntimeError("database down")
        collector(rows)

    rec = SyslogReceiver("127.0.0.1", 0, flaky, batch_max_seconds=0.05)
    port = rec.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"<13>first", ("127.0.0.1", port))
            time.sleep(0.3)
            udp.sendto(b"<13>second", ("127.0.0.1", port))
        rows = collector.wait_for(1)
    finally:
        rec.stop()
    assert [r["SyslogMessage"] for r in rows] == ["second"]
    assert rec.stats["delivery_errors"] == 1


def test_start_reports_a_port_in_use():
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 0))
    port = blocker.getsockname()[1]
    try:
        rec = SyslogReceiver("127.0.0.1", port, lambda rows: None)
        with pytest.raises(OSError):
            rec.start()
    finally:
        blocker.close()


def test_context_manager_and_invalid_arguments(collector):
    with SyslogReceiver("127.0.0.1", 0, collector, batch_max_seconds=0.05) as rec:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"<13>ctx", ("127.0.0.1", rec.port))
        collector.wait_for(1)
    assert [r["SyslogMessage"] for r in collector.rows] == ["ctx"]
    with pytest.raises(ValueError):
        SyslogReceiver("127.0.0.1", 0, collector, batch_max_rows=0)


def test_receiver_can_be_restarted(collector):
    rec = SyslogReceiver("127.0.0.1", 0, collector, batch_max_seconds=0.05)
    for round_ in range(2):
        port = rec.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"<13>round %d" % round_, ("127.0.0.1", port))
        collector.wait_for(round_ + 1)
        rec.stop()
    assert [r["SyslogMessage"] for r in collector.rows] == ["round 0", "round 1"]
