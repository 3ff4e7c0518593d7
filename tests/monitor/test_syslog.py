"""Syslog parsing (RFC 5424, RFC 3164 and its deviations), RFC 6587 framing and DCR syslog filters."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from warden.monitor.ingestion.syslog import (
    DCR_LOG_LEVELS,
    MAX_MESSAGE_BYTES,
    Facility,
    SeverityLevel,
    SyslogFramer,
    dcr_accepts,
    parse_syslog,
)
from warden.monitor.tables import STANDARD_TABLES

RECEIVED = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)


def parse(data: bytes, received: datetime = RECEIVED, peer: str = "192.0.2.7") -> dict:
    return parse_syslog(data, received_at=received, peer=peer)


# --- RFC 5424 -------------------------------------------------------------------------------------------------------


def test_rfc5424_example_with_structured_data_and_bom():
    # RFC 5424 section 6.5, example 3 (PRI 165 = local4.notice).
    row = parse(b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
                b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] '
                b"\xef\xbb\xbfAn application event log entry...")
    assert row["Facility"] == "local4" and row["SeverityLevel"] == "notice"
    assert row["EventTime"] == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert row["HostName"] == row["Computer"] == "mymachine.example.com"
    assert row["ProcessName"] == "evntslog" and row["ProcessID"] is None
    assert row["SyslogMessage"] == "An application event log entry..."
    assert row["HostIP"] == "192.0.2.7" and row["TimeGenerated"] == RECEIVED and row["SourceSystem"] == "Linux"


def test_rfc5424_offset_timestamp_pid_and_escaped_structured_data():
    row = parse(b'<11>1 2026-03-10T13:30:00.123456+01:30 web01 nginx 4242 - '
                b'[a@1 k="x\\"]y"][b@2 z="1"] upstream timed out')
    assert row["EventTime"] == datetime(2026, 3, 10, 12, 0, 0, 123456, tzinfo=UTC)
    assert (row["Facility"], row["SeverityLevel"]) == ("user", "err")
    assert row["ProcessID"] == 4242 and row["ProcessName"] == "nginx"
    assert row["SyslogMessage"] == "upstream timed out"


def test_rfc5424_nil_values_fall_back():
    row = parse(b"<30>1 - - - - - -", peer="10.1.2.3:40000")
    assert row["EventTime"] == RECEIVED
    assert row["HostName"] == row["HostIP"] == "10.1.2.3"
    assert row["ProcessName"] is None and row["ProcessID"] is None and row["SyslogMessage"] == ""
    assert (row["Facility"], row["SeverityLevel"]) == ("daemon", "info")


# --- RFC 3164 -------------------------------------------------------------------------------------------------------


def test_rfc3164_example_with_hostname():
    # RFC 3164 section 5.4, example 1 (PRI 34 = auth.crit), received the same year.
    row = parse(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
                received=datetime(2026, 10, 12, tzinfo=UTC))
    assert (row["Facility"], row["SeverityLevel"]) == ("auth", "crit")
    assert row["EventTime"] == datetime(2026, 10, 11, 22, 14, 15, tzinfo=UTC)
    assert row["HostName"] == "mymachine" and row["ProcessName"] == "su" and row["ProcessID"] is None
    assert row["SyslogMessage"] == "'su root' failed for lonvick on /dev/pts/8"


def test_rfc3164_tag_with_pid_and_space_padded_day():
    row = parse(b"<86>Mar  1 08:05:09 bastion sshd[20514]: Failed password for root from 203.0.113.9 port 22")
    assert (row["Facility"], row["SeverityLevel"]) == ("authpriv", "info")
    assert row["EventTime"] == datetime(2026, 3, 1, 8, 5, 9, tzinfo=UTC)
    assert (row["HostName"], row["ProcessName"], row["ProcessID"]) == ("bastion", "sshd", 20514)
    assert row["SyslogMessage"].startswith("Failed password for root")


def test_rfc3164_without_hostname():
    row = parse(b"<78>Mar 10 11:59:00 CRON[777]: (root) CMD (run-parts /etc/cron.hourly)", peer="198.51.100.4")
    assert (row["Facility"], row["SeverityLevel"]) == ("cron", "info")
    assert row["HostName"] == "198.51.100.4" and row["ProcessName"] == "CRON" and row["ProcessID"] == 777
    assert row["SyslogMessage"] == "(root) CMD (run-parts /etc/cron.hourly)"


def test_rfc3164_without_timestamp_or_pri():
    row = parse(b"postfix/smtpd[12]: connect from unknown[192.0.2.1]")
    assert (row["Facility"], row["SeverityLevel"]) == ("user", "notice")  # RFC 3164 4.3.3
    assert (row["ProcessName"], row["ProcessID"]) == ("postfix/smtpd", 12)
    assert row["EventTime"] == RECEIVED and row["SyslogMessage"] == "connect from unknown[192.0.2.1]"


@pytest.mark.parametrize(("received", "stamp", "expected_year"), [
    (datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC), b"Dec 31 23:59:58", 2025),  # logged just before new year
    (datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), b"Jan  1 00:00:03", 2026),  # sender clock slightly ahead
    (datetime(2026, 7, 1, tzinfo=UTC), b"Jun 30 10:00:00", 2026),
])
def test_year_less_timestamps_take_the_year_nearest_receipt(received, stamp, expected_year):
    row = parse(b"<13>" + stamp + b" host app: x", received=received)
    assert row["EventTime"].year == expected_year
    assert abs(row["EventTime"] - received) < timedelta(days=2)


def test_feb_29_in_a_year_less_stamp_resolves_to_a_leap_year():
    row = parse(b"<13>Feb 29 10:00:00 host app: leap", received=datetime(2025, 1, 10, tzinfo=UTC))
    assert row["EventTime"] == datetime(2024, 2, 29, 10, 0, tzinfo=UTC)


def test_iso_timestamp_in_bsd_message_and_naive_received_at_is_utc():
    row = parse(b"<14>2026-03-10T13:00:01+01:00 web01 nginx: hi", received=datetime(2026, 3, 10, 12, 0, 2))
    assert row["EventTime"] == datetime(2026, 3, 10, 12, 0, 1, tzinfo=UTC)
    assert row["TimeGenerated"] == datetime(2026, 3, 10, 12, 0, 2, tzinfo=UTC)
    assert row["HostName"] == "web01" and row["ProcessName"] == "nginx"


def test_received_at_in_another_zone_is_converted_to_utc():
    received = datetime(2026, 3, 10, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse(b"<13>x", received=received)["TimeGenerated"] == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("code", range(192))
def test_every_pri_maps_to_azure_names(code):
    row = parse(b"<%d>Mar 10 11:00:00 h t: m" % code)
    assert row["Facility"] == list(Facility)[code // 8].value
    assert row["SeverityLevel"] == ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")[code % 8]


def test_enums_use_azure_spellings():
    assert [f.value for f in Facility][:12] == [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"]
    assert [f.value for f in Facility][16:] == [f"local{i}" for i in range(8)]
    assert DCR_LOG_LEVELS[SeverityLevel.ERR] == "Error" and DCR_LOG_LEVELS[SeverityLevel.EMERG] == "Emergency"


def test_rows_use_only_syslog_table_columns_with_matching_types():
    columns = {c.name: c.type for c in STANDARD_TABLES["Syslog"]}
    row = parse(b"<13>Mar 10 11:00:00 h t[5]: m")
    assert set(row) <= set(columns)
    python_type = {"datetime": datetime, "string": str, "int": int}
    for name, value in row.items():
        assert isinstance(value, python_type[columns[name]]), name


# --- garbage ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"", b"<", b"<>", b"<999>hello", b"<013>zero padded", b"<13", b"\xff\xfe\x00garbage\x80",
    b"<13>1 not-a-time host app - - - msg", b"<13>Foo 99 99:99:99 host x", b"<13>1", b"<13>1 2026-13-45T99:00:00Z h",
])
def test_garbage_never_raises_and_keeps_the_text(data):
    row = parse(data)
    assert row["TimeGenerated"] == RECEIVED and row["HostIP"] == "192.0.2.7"
    assert row["Facility"] in {f.value for f in Facility}
    assert row["SeverityLevel"] in {s.value for s in SeverityLevel}
    text = data.decode("utf-8", errors="replace")
    assert row["SyslogMessage"] in text


def test_invalid_pri_is_user_notice_with_whole_text():
    row = parse(b"<999>hello")
    assert (row["Facility"], row["SeverityLevel"], row["SyslogMessage"]) == ("user", "notice", "<999>hello")


def test_random_bytes_never_raise():
    rng = random.Random(5424)
    for _ in range(2000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120)))
        if rng.random() < 0.5:
            data = b"<%d>" % rng.randrange(0, 200) + data
        row = parse(data)
        assert isinstance(row["SyslogMessage"], str)


def test_input_is_bounded():
    row = parse(b"<13>host app: " + b"A" * (MAX_MESSAGE_BYTES * 3))
    assert len(row["SyslogMessage"].encode()) <= MAX_MESSAGE_BYTES


def test_ipv6_peer_with_port():
    assert parse(b"<13>x", peer="[2001:db8::1]:514")["HostIP"] == "2001:db8::1"
    assert parse(b"<13>x", peer="2001:db8::1")["HostIP"] == "2001:db8::1"


# --- framing --------------------------------------------------------------------------------------------------------


def feed_all(framer: SyslogFramer, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    return out + framer.flush()


def test_octet_counting_split_across_feeds():
    messages = [b"<13>1 - h a - - - first", b"<14>second message", b"<15>x"]
    stream = b"".join(b"%d %s" % (len(m), m) for m in messages)
    framer = SyslogFramer()
    # Every possible split point, including inside the length header.
    for cut in range(len(stream) + 1):
        framer = SyslogFramer()
        assert feed_all(framer, [stream[:cut], stream[cut:]]) == messages
    assert framer.framing == SyslogFramer.OCTET_COUNTING


def test_octet_counting_byte_by_byte_and_messages_with_newlines():
    messages = [b"<13>line one\nline two", b"<13>\x00binary\x00"]
    stream = b"".join(b"%d %s" % (len(m), m) for m in messages)
    assert feed_all(SyslogFramer(), [bytes([b]) for b in stream]) == messages


def test_non_transparent_lf_crlf_nul_and_trailing_partial():
    framer = SyslogFramer()
    frames = feed_all(framer, [b"<13>a\n<13>b", b"\r\n<13>c\x00\n\n<13>d"])
    assert frames == [b"<13>a", b"<13>b", b"<13>c", b"<13>d"]
    assert framer.framing == SyslogFramer.NON_TRANSPARENT


def test_oversized_octet_counted_frame_is_cut_and_the_rest_skipped():
    framer = SyslogFramer(max_frame=8)
    big = b"<13>" + b"x" * 100
    stream = b"%d %s" % (len(big), big) + b"3 abc"
    assert feed_all(framer, [stream[i:i + 7] for i in range(0, len(stream), 7)]) == [big[:8], b"abc"]
    assert framer.truncated == 1
    assert len(framer._buf) == 0


def test_oversized_line_is_cut_without_unbounded_buffering():
    framer = SyslogFramer(max_frame=16)
    frames = framer.feed(b"<13>" + b"y" * 40)
    for _ in range(1000):  # a sender that never sends LF must not grow the buffer
        frames += framer.feed(b"z" * 1000)
        assert len(framer._buf) <= 16
    frames += framer.feed(b"\n<13>next\n")
    assert frames == [b"<13>" + b"y" * 12, b"<13>next"]
    assert framer.truncated == 1


def test_garbled_octet_header_resyncs_at_next_newline():
    framer = SyslogFramer()
    frames = feed_all(framer, [b"5 <13>a", b"9999999999999 junk\n", b"4 <1>b"])
    assert frames == [b"<13>a", b"<1>b"]


def test_framer_rejects_nonpositive_limit():
    with pytest.raises(ValueError):
        SyslogFramer(max_frame=0)


# --- DCR syslog data sources ----------------------------------------------------------------------------------------


def row_of(facility: str, level: str) -> dict:
    return {"Facility": facility, "SeverityLevel": level}


def test_dcr_levels_are_exact_not_minimums():
    # Azure's own example data source (New-AzSyslogDataSourceObject): non-adjacent levels.
    source = {"streams": ["Microsoft-Syslog"], "facilityNames": ["cron"],
              "logLevels": ["Debug", "Critical", "Emergency"]}
    assert dcr_accepts(source, row_of("cron", "debug"))
    assert dcr_accepts(source, row_of("cron", "crit"))
    assert dcr_accepts(source, row_of("cron", "emerg"))
    assert not dcr_accepts(source, row_of("cron", "err"))  # between Debug and Critical, but not listed
    assert not dcr_accepts(source, row_of("cron", "alert"))
    assert not dcr_accepts(source, row_of("auth", "crit"))


def test_dcr_wildcards_and_case():
    every = {"facilityNames": ["*"], "logLevels": ["*"]}
    for code in range(192):
        assert dcr_accepts(every, parse(b"<%d>x" % code))
    assert dcr_accepts({"facilityNames": ["AUTHPRIV"], "logLevels": ["warning"]}, row_of("authpriv", "warning"))
    assert dcr_accepts({"facilityNames": ["local7"], "logLevels": ["*"]}, row_of("local7", "debug"))
    assert not dcr_accepts({"facilityNames": ["local7"], "logLevels": ["*"]}, row_of("local6", "debug"))


def test_dcr_absent_property_does_not_restrict_but_empty_list_collects_nothing():
    assert dcr_accepts({"logLevels": ["Info"]}, row_of("mail", "info"))
    assert dcr_accepts({"facilityNames": ["mail"]}, row_of("mail", "debug"))
    assert not dcr_accepts({"facilityNames": [], "logLevels": ["*"]}, row_of("mail", "info"))
    assert not dcr_accepts({"facilityNames": ["*"], "logLevels": []}, row_of("mail", "info"))


def test_dcr_rejects_rows_that_are_not_syslog():
    assert not dcr_accepts({"facilityNames": ["*"], "logLevels": ["*"]}, row_of("nonsense", "info"))
    assert not dcr_accepts({"facilityNames": ["*"], "logLevels": ["*"]}, row_of("user", "Informational"))
    assert not dcr_accepts({"facilityNames": ["*"], "logLevels": ["*"]}, {})


def test_pri_zero_and_space_after_pri():
    row = parse(b"<0> Mar 10 11:00:00 host kernel: panic")
    assert (row["Facility"], row["SeverityLevel"]) == ("kern", "emerg")
    assert row["EventTime"] == datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
    assert (row["HostName"], row["ProcessName"], row["SyslogMessage"]) == ("host", "kernel", "panic")


def test_framing_a_large_chunk_is_linear():
    # 200,000 short lines in one 3 MB chunk: a framer that rescans or copies the rest per line would take minutes.
    stream = b"".join(b"<13>line %d\n" % i for i in range(200_000))
    started = time.perf_counter()
    frames = SyslogFramer().feed(stream)
    assert len(frames) == 200_000 and frames[-1] == b"<13>line 199999"
    assert time.perf_counter() - started < 5
    counted = b"".join(b"%d %s" % (len(f), f) for f in frames)
    assert SyslogFramer().feed(counted) == frames
