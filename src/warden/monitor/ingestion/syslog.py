"""Syslog messages (RFC 5424 and RFC 3164) as rows of Azure's Syslog table, TCP framing, and DCR syslog filters.

Pure functions and one small incremental framer; the network side is ``syslog_server``. Nothing here raises on
bad input: a sender's garbage still becomes a row (its text in ``SyslogMessage``), because losing a line an
operator may need is worse than storing it unparsed.

Azure's spellings: the Syslog table's ``Facility`` holds the lower-case facility keywords (``auth``,
``authpriv``, ``local0``, …) and ``SeverityLevel`` the syslog keywords ``emerg alert crit err warning notice info
debug`` (queries in the wild filter ``SeverityLevel == "err"``). A data collection rule names levels differently
(``Emergency Alert Critical Error Warning Notice Info Debug``); ``dcr_accepts`` maps between the two.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum

__all__ = [
    "DCR_LOG_LEVELS",
    "MAX_MESSAGE_BYTES",
    "Facility",
    "SeverityLevel",
    "SyslogFramer",
    "dcr_accepts",
    "parse_syslog",
]

# Longest message we parse; longer input is cut to this (RFC 5424 receivers SHOULD accept 2 KiB, MAY accept more).
MAX_MESSAGE_BYTES = 64 * 1024


class Facility(StrEnum):
    """Syslog facilities by code (RFC 5424 table 1), with the names Azure uses for them."""

    KERN = "kern"
    USER = "user"
    MAIL = "mail"
    DAEMON = "daemon"
    AUTH = "auth"
    SYSLOG = "syslog"
    LPR = "lpr"
    NEWS = "news"
    UUCP = "uucp"
    CRON = "cron"
    AUTHPRIV = "authpriv"
    FTP = "ftp"
    NTP = "ntp"
    AUDIT = "audit"
    ALERT = "alert"
    CLOCK = "clock"
    LOCAL0 = "local0"
    LOCAL1 = "local1"
    LOCAL2 = "local2"
    LOCAL3 = "local3"
    LOCAL4 = "local4"
    LOCAL5 = "local5"
    LOCAL6 = "local6"
    LOCAL7 = "local7"


class SeverityLevel(StrEnum):
    """Syslog severities by code 0..7, spelled as Azure's Syslog table stores them."""

    EMERG = "emerg"
    ALERT = "alert"
    CRIT = "crit"
    ERR = "err"
    WARNING = "warning"
    NOTICE = "notice"
    INFO = "info"
    DEBUG = "debug"


_FACILITIES = tuple(Facility)
_SEVERITIES = tuple(SeverityLevel)
_FACILITY_NAMES = frozenset(f.value for f in Facility)

# A DCR's logLevels spell the same severities like this (the DCR API's SyslogDataSource.logLevels enum).
DCR_LOG_LEVELS: dict[SeverityLevel, str] = dict(zip(
    _SEVERITIES, ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Info", "Debug"), strict=True))

_PRI = re.compile(rb"<(\d{1,3})>")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
# RFC 3164 "Mmm dd hh:mm:ss" (day space- or zero-padded), with the common optional year and fraction.
_BSD_TIME = re.compile(
    r"(?P<mon>[A-Za-z]{3}) +(?P<day>\d{1,2})(?: (?P<year>\d{4}))? (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d{1,9}))?(?: |$)")
# RFC 3339 timestamps, as RFC 5424 uses and as rsyslog's high-precision 3164 variant sends.
_ISO_TIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?")
# A 3164 TAG: up to 48 printable characters (RFC says 32; real senders write "postfix/smtpd"), then
# an optional "[PID]" and a colon.
_TAG = re.compile(r"(?P<tag>[^\s\[\]:]{1,48})(?:\[(?P<pid>[^\]\s]{0,32})\])?:(?: |$)")


def parse_syslog(data: bytes, *, received_at: datetime, peer: str) -> dict:
    """Parse one syslog message into a row of Azure's Syslog table.

    Returns a dict with ``TimeGenerated`` (``received_at`` in UTC), ``EventTime`` (the message's own
    timestamp in UTC, else ``received_at``), ``Facility``, ``SeverityLevel``, ``HostName`` (the message's, else the
    peer address), ``HostIP`` (the peer address), ``ProcessName``, ``ProcessID`` (int or None), ``SyslogMessage``,
    ``Computer`` (= HostName) and ``SourceSystem`` ("Linux"). Never raises: input it cannot parse becomes a
    user.notice row whose ``SyslogMessage`` is the whole text. Input past ``MAX_MESSAGE_BYTES`` is cut.
    """
    received = _utc(received_at)
    host_ip = _peer_ip(peer)
    data = data[:MAX_MESSAGE_BYTES]
    try:
        return _parse(data, received, host_ip)
    except Exception:  # a parser bug must cost a parsed row, never the message
        return _row(received, None, 13, host_ip, None, None, None, _text(data).strip("\r\n\x00"))


def _parse(data: bytes, received: datetime, host_ip: str) -> dict:
    pri = 13  # RFC 3164 4.3.3: a message without a valid PRI is user.notice
    body = data
    match = _PRI.match(data)
    # PRI is 0..191 without leading zeros (RFC 5424 6.2.1); anything else is content.
    digits = match.group(1) if match else b""
    has_pri = bool(digits) and int(digits) <= 191 and (digits == b"0" or not digits.startswith(b"0"))
    if has_pri and match:
        pri = int(match.group(1))
        body = data[match.end():]
    text = _text(body).rstrip("\r\n\x00")
    if has_pri and re.match(r"[1-9]\d{0,2} ", text):  # a VERSION after the PRI: RFC 5424
        parsed = _parse_5424(text, received, host_ip, pri)
        if parsed is not None:
            return parsed
    return _parse_3164(text, received, host_ip, pri)


def _parse_5424(text: str, received: datetime, host_ip: str, pri: int) -> dict | None:
    """VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]; None if not."""
    parts = text.split(" ", 6)
    if len(parts) < 6:
        return None
    _version, stamp, host, app, procid, _msgid = parts[:6]
    rest = parts[6] if len(parts) == 7 else "-"
    if stamp == "-":
        event_time = None
    else:
        event_time = _iso_time(stamp)
        if event_time is None:
            return None
    message = _after_structured_data(rest)
    if message.startswith("\ufeff"):  # RFC 5424 6.4: a UTF-8 MSG may start with a BOM
        message = message[1:]
    return _row(received, event_time, pri, host_ip, _nil(host), _nil(app), _pid(_nil(procid)), message)


def _after_structured_data(rest: str) -> str:
    """Skip RFC 5424 STRUCTURED-DATA ("-" or [id param="v\\]"]...) and return MSG (may be empty)."""
    if rest.startswith("-"):
        return rest[2:] if rest.startswith("- ") else rest[1:]
    i = 0
    while i < len(rest) and rest[i] == "[":
        in_quotes = False
        i += 1
        while i < len(rest):
            ch = rest[i]
            if ch == "\\" and in_quotes:
                i += 2
                continue
            if ch == '"':
                in_quotes = not in_quotes
            elif ch == "]" and not in_quotes:
                break
            i += 1
        i += 1
    rest = rest[i:]
    return rest[1:] if rest.startswith(" ") else rest


def _parse_3164(text: str, received: datetime, host_ip: str, pri: int) -> dict:
    """BSD syslog: [TIMESTAMP SP] [HOSTNAME SP] [TAG[PID]: ] MSG, all parts optional as senders deviate."""
    event_time = None
    rest = text
    bsd = _BSD_TIME.match(rest.lstrip(" "))  # some senders put a space after the PRI
    if bsd:
        event_time = _bsd_time(bsd, received)
        rest = rest.lstrip(" ")[bsd.end():]
    else:
        iso = _ISO_TIME.match(rest)
        if iso and (iso.end() == len(rest) or rest[iso.end()] == " "):
            event_time = _iso_time(iso.group(0))
            rest = rest[iso.end() + 1:]
    host = None
    tag = _TAG.match(rest)
    # A HOSTNAME is only looked for after a TIMESTAMP: without one, "<13>web01 started" cannot be told from a
    # message whose first word is not a host, and RFC 3164 relays treat it as content.
    if event_time is not None and not tag:
        # After a timestamp, the next word is the HOSTNAME unless it is already the TAG.
        word, _, after = rest.partition(" ")
        if word and after and _looks_like_host(word):
            host, rest = word, after
            tag = _TAG.match(rest)
    process = pid = None
    if tag:
        process, pid = tag.group("tag"), _pid(tag.group("pid"))
        rest = rest[tag.end():]
    return _row(received, event_time, pri, host_ip, host, process, pid, rest)


def _looks_like_host(word: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:%-]{0,254}", word))


def _row(received: datetime, event_time: datetime | None, pri: int, host_ip: str, host: str | None,
         process: str | None, pid: int | None, message: str) -> dict:
    host_name = host or host_ip
    return {
        "TimeGenerated": received,
        "EventTime": event_time or received,
        "Facility": str(_FACILITIES[pri >> 3]),
        "SeverityLevel": str(_SEVERITIES[pri & 7]),
        "HostName": host_name,
        "HostIP": host_ip,
        "ProcessName": process,
        "ProcessID": pid,
        "SyslogMessage": message,
        "Computer": host_name,
        "SourceSystem": "Linux",
    }


def _bsd_time(m: re.Match[str], received: datetime) -> datetime | None:
    """A 3164 timestamp in UTC (it carries no zone; we read it as UTC). Year-less: the year nearest received."""
    month = _MONTHS.get(m.group("mon").lower())
    if month is None:
        return None
    micro = int((m.group("frac") or "0")[:6].ljust(6, "0"))
    fields = (month, int(m.group("day")), int(m.group("h")), int(m.group("m")), int(m.group("s")), micro)
    if m.group("year"):
        return _make(int(m.group("year")), *fields)
    # Dec 31 logged just before a Jan 1 receipt belongs to last year, and the reverse with clock skew.
    candidates = [t for y in (received.year - 1, received.year, received.year + 1) if (t := _make(y, *fields))]
    return min(candidates, key=lambda t: abs(t - received)) if candidates else None


def _make(year: int, month: int, day: int, hour: int, minute: int, second: int, micro: int) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:  # Feb 29 in a common year, 31 Apr, hour 25...
        return None


def _iso_time(stamp: str) -> datetime | None:
    """An RFC 3339 timestamp in UTC; a zone-less one is read as UTC. None if it is not one."""
    m = _ISO_TIME.fullmatch(stamp)
    if not m:
        return None
    frac = (m.group("frac") or "")[:6]
    tz = m.group("tz") or "+00:00"
    tz = "+00:00" if tz in ("Z", "z") else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    try:
        value = datetime.fromisoformat(f"{m.group('date')}T{m.group('time')}{'.' + frac if frac else ''}{tz}")
    except ValueError:
        return None
    return value.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _nil(value: str) -> str | None:
    return None if value in ("-", "") else value


def _pid(value: str | None) -> int | None:
    # ProcessID is an int column: a PROCID like "worker-3" keeps no number rather than failing the row.
    if value and value.isdigit() and len(value) <= 10 and int(value) <= 2**31 - 1:
        return int(value)
    return None


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _peer_ip(peer: str) -> str:
    """The IP part of a peer given as "ip", "ip:port" or "[v6]:port"."""
    peer = peer.strip()
    if peer.startswith("["):
        return peer[1:peer.find("]")] if "]" in peer else peer
    if peer.count(":") == 1:
        return peer.split(":")[0]
    return peer


# --- TCP framing (RFC 6587) ---------------------------------------------------------------------------------------


class SyslogFramer:
    """Cuts a TCP byte stream into syslog messages, incrementally, with bounded memory.

    RFC 6587 allows two framings. A connection's framing is detected from its first non-space byte: a digit
    means octet-counting (``MSG-LEN SP SYSLOG-MSG``, MSG-LEN starts with 1..9), anything else (normally ``<``)
    non-transparent framing, where each message ends at LF (NUL is accepted too, as some senders use it; a CR
    before the LF is dropped). A frame longer than ``max_frame`` is cut to ``max_frame`` bytes and the rest of it
    is skipped as it arrives, never buffered; ``truncated`` counts such frames. An octet-counting header that is
    not digits followed by a space makes the framer skip to the next LF and try again there.
    """

    OCTET_COUNTING = "octet-counting"
    NON_TRANSPARENT = "non-transparent"
    _MAX_LEN_DIGITS = 10

    def __init__(self, max_frame: int = MAX_MESSAGE_BYTES) -> None:
        if max_frame < 1:
            raise ValueError("max_frame must be positive")
        self.max_frame = max_frame
        self.framing: str | None = None
        self.truncated = 0
        self._buf = bytearray()  # a partial frame (at most max_frame bytes) or a partial MSG-LEN header
        self._want = -1  # octet-counting: bytes of the current frame still to come; -1 while reading MSG-LEN
        self._skip = 0  # bytes of an oversized octet-counted frame still to discard
        self._discard_to_lf = False  # discarding the tail of an oversized or garbled line
        self._ends: dict[bytes, int] = {}

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes from the stream; return the complete messages they finish (possibly none)."""
        frames: list[bytes] = []
        data = bytes(data)
        self._ends = {}  # cached positions of the next LF / NUL in this chunk, so scanning stays linear
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
            elif self._discard_to_lf:
                stop = self._find_end(data, pos)
                if stop < 0:
                    break
                self._discard_to_lf = False
                pos = stop + 1
            elif self.framing is None:
                while pos < end and data[pos] in b" \t\r\n\x00":
                    pos += 1
                if pos < end:
                    self.framing = self.OCTET_COUNTING if data[pos:pos + 1].isdigit() else self.NON_TRANSPARENT
            elif self.framing == self.OCTET_COUNTING:
                pos = self._feed_counted(data, pos, frames)
            else:
                pos = self._feed_lines(data, pos, frames)
        return frames

    def flush(self) -> list[bytes]:
        """At end of stream: return a final unterminated message (non-transparent framing), if any."""
        frames = []
        if self.framing == self.NON_TRANSPARENT and self._buf and not self._discard_to_lf:
            frame = bytes(self._buf).rstrip(b"\r")
            if frame.strip():
                frames.append(frame)
        self._buf.clear()
        self._want = -1
        return frames

    def _feed_counted(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        if self._want < 0:
            # Reading MSG-LEN: at most a few digits, then one space.
            while pos < len(data):
                byte = data[pos]
                if byte == 0x20 and self._buf:
                    length = int(self._buf)
                    self._buf.clear()
                    self._want = length
                    return pos + 1
                if 0x30 <= byte <= 0x39 and (self._buf or byte != 0x30) and len(self._buf) < self._MAX_LEN_DIGITS:
                    self._buf.append(byte)
                    pos += 1
                elif not self._buf and byte in b"\r\n\x00 ":  # stray separators between frames
                    pos += 1
                else:
                    self._buf.clear()
                    self._discard_to_lf = True
                    return pos
            return pos
        room = self.max_frame - len(self._buf)
        take = min(self._want, len(data) - pos)
        self._buf += data[pos:pos + min(take, max(room, 0))]
        self._want -= take
        pos += take
        if self._want == 0:
            frames.append(bytes(self._buf))
            self._buf.clear()
            self._want = -1
        elif len(self._buf) >= self.max_frame:
            # Full: emit the cut frame now and skip the rest as it arrives.
            frames.append(bytes(self._buf))
            self._buf.clear()
            self.truncated += 1
            self._skip, self._want = self._want, -1
        return pos

    def _feed_lines(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        stop = self._find_end(data, pos)
        room = self.max_frame - len(self._buf)
        if stop < 0:
            if len(data) - pos <= room:
                self._buf += data[pos:]
                return len(data)
            # Over the limit without a terminator: cut here and drop the rest of the line.
            self._buf += data[pos:pos + room]
            frames.append(bytes(self._buf))
            self._buf.clear()
            self.truncated += 1
            self._discard_to_lf = True
            return pos + room
        if stop - pos > room:
            self.truncated += 1
        self._buf += data[pos:pos + min(stop - pos, room)]
        frame = bytes(self._buf).rstrip(b"\r")
        self._buf.clear()
        if frame.strip():
            frames.append(frame)
        return stop + 1

    def _find_end(self, data: bytes, pos: int) -> int:
        """Index of the first LF or NUL at or after ``pos`` in this chunk, or -1 (cached: linear per chunk)."""
        best = -1
        for terminator in (b"\n", b"\x00"):
            at = self._ends.get(terminator, -2)
            if at != -1 and at < pos:
                at = data.find(terminator, pos)
                self._ends[terminator] = at
            if at >= 0 and (best < 0 or at < best):
                best = at
        return best


# --- data collection rules ------------------------------------------------------------------------------------------


def dcr_accepts(data_source: dict, row: dict) -> bool:
    """Whether a DCR ``syslog`` data source collects ``row`` (a Syslog row from ``parse_syslog``).

    ``facilityNames`` lists facility names (Azure's spellings, matched case-insensitively) or ``"*"`` for all.
    ``logLevels`` lists the exact levels collected, not a minimum: Azure's own examples pair non-adjacent levels
    (``Debug, Critical, Emergency``), and the portal's "minimum log level" is written out as every level from
    that one up. ``"*"`` means every level. A property that is absent (or null) does not restrict; an empty list
    collects nothing. Returns False for a row whose facility or severity is not a syslog one.
    """
    facilities = data_source.get("facilityNames")
    levels = data_source.get("logLevels")
    facility = str(row.get("Facility", "")).lower()
    try:
        level = DCR_LOG_LEVELS[SeverityLevel(str(row.get("SeverityLevel", "")).lower())]
    except ValueError:
        return False
    if facility not in _FACILITY_NAMES:
        return False
    if facilities is not None and not any(f == "*" or str(f).lower() == facility for f in facilities):
        return False
    return levels is None or any(lv == "*" or str(lv).lower() == level.lower() for lv in levels)
