"""Azure's legacy HTTP Data Collector API (``POST /api/logs?api-version=2016-04-01``): the pure parts.

Source: learn.microsoft.com, "Send log data to Azure Monitor by using the HTTP Data Collector API". This module
signs and verifies the ``SharedKey`` authorization, validates ``Log-Type`` and turns the JSON body into typed
rows of the ``{Log-Type}_CL`` table the way Azure does. No HTTP here: the caller maps ``DataCollectorError`` to
a response (``status`` is a hint, ``code`` is Azure's error code).

Azure's rules, and how ambiguous ones are read here:

- Signature: ``Base64(HMAC-SHA256(key, UTF8(VERB\\nContent-Length\\nContent-Type\\nx-ms-date:DATE\\n/api/logs)))``
  with the base64-decoded workspace key; header ``SharedKey {customerId}:{signature}``. Either workspace key
  (primary or secondary) may sign. The doc names no clock-skew window; we refuse an ``x-ms-date`` more than 15
  minutes from now either way, the window Azure's other SharedKey services use.
- Columns: each property becomes ``{name}_{suffix}`` — string ``_s``, boolean ``_b``, number ``_d`` (always
  double), ISO 8601 date/time string ``_t``, GUID string ``_g`` (with or without dashes; stored dashed, lower
  case). Objects and arrays become ``_s`` holding their JSON. A null property is left out of that record.
- Existing columns: a value first goes to the column of its own type; failing that, a *string* that converts to
  the type of an existing column of that name goes there (``"42"`` into ``n_d``, ``"true"`` into ``n_b``); anything
  else makes a new column with its own suffix — the doc's example: a number sent for ``string_s`` creates
  ``string_d``. Strings are never guessed to be numbers or booleans when no such column exists.
- Property names "can contain only letters, numbers, and the underscore"; the doc's own example uses
  ``"property 1"``, so other characters are replaced by ``_`` rather than refused. Column names (suffix included)
  are limited to 45 characters and a table to 500 columns: past either, the body is refused. ``tenant``,
  ``TimeGenerated`` and ``RawData`` are reserved property names (refused, compared case-insensitively).
- Limits: 30 MB per post (refused with status 413 — Azure answers 404 for it, which no client can tell from a
  wrong URL); string values over 32 KB are truncated, as Azure does.
- ``time-generated-field`` names a property whose ISO 8601 value becomes ``TimeGenerated``; the property is also
  kept as its own ``_t`` column. Absent, unparseable, older than 2 days before receipt or more than 1 day ahead
  ("Standard columns in Azure Monitor Logs"), ``TimeGenerated`` is the ingestion time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_COLUMNS",
    "MAX_COLUMN_NAME",
    "MAX_FIELD_BYTES",
    "SUFFIX_TYPES",
    "DataCollectorError",
    "ShapedBatch",
    "build_signature",
    "check_request_date",
    "parse_authorization",
    "parse_body",
    "shape_records",
    "string_to_sign",
    "validate_log_type",
    "verify_signature",
]

MAX_BODY_BYTES = 30 * 1024 * 1024
MAX_FIELD_BYTES = 32 * 1024
MAX_COLUMNS = 500
MAX_COLUMN_NAME = 45
MAX_LOG_TYPE = 100
MAX_CLOCK_SKEW = timedelta(minutes=15)
TIME_GENERATED_PAST = timedelta(days=2)
TIME_GENERATED_FUTURE = timedelta(days=1)
RESERVED_PROPERTIES = frozenset({"tenant", "timegenerated", "rawdata"})

# Type suffix -> Kusto column type. GUIDs: the doc says "stored as a string"; Log Analytics types such columns
# guid (AzureDiagnostics' *_g columns in the table reference), and so do we, holding the canonical text.
SUFFIX_TYPES = {"s": "string", "b": "bool", "d": "real", "t": "datetime", "g": "guid"}

_LOG_TYPE = re.compile(r"[A-Za-z0-9_]+")
_GUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")


class DataCollectorError(Exception):
    """A refused request. ``code`` is Azure's error code (InvalidDataFormat, InvalidLogType, InvalidAuthorization,
    ...), ``status`` the HTTP status it implies, ``record`` and ``field`` locate the fault in the body."""

    def __init__(self, code: str, message: str, *, status: int = 400, record: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.record = record
        self.field = field


# --- authorization --------------------------------------------------------------------------------------------------


def string_to_sign(date_rfc1123: str, content_length: int, method: str = "POST",
                   content_type: str = "application/json", resource: str = "/api/logs") -> str:
    """Return Azure's string to sign: ``VERB\\nContent-Length\\nContent-Type\\nx-ms-date:DATE\\nRESOURCE``."""
    return f"{method}\n{content_length}\n{content_type}\nx-ms-date:{date_rfc1123}\n{resource}"


def build_signature(customer_id: str, shared_key_b64: str, date_rfc1123: str, content_length: int,
                    method: str = "POST", content_type: str = "application/json", resource: str = "/api/logs") -> str:
    """Return the Authorization header value ``SharedKey {customer_id}:{signature}`` as Azure computes it.

    Raises ValueError if ``shared_key_b64`` is not base64.
    """
    key = _decode_key(shared_key_b64)
    if key is None:
        raise ValueError("the shared key is not valid base64")
    message = string_to_sign(date_rfc1123, content_length, method, content_type, resource)
    return f"SharedKey {customer_id}:{_sign(key, message)}"


def parse_authorization(header: str | None) -> tuple[str, str]:
    """Split ``SharedKey {customerId}:{signature}`` into (customer_id, signature).

    Raises DataCollectorError (InvalidAuthorization, 403) if the header is missing or not of that form.
    """
    if not header:
        raise DataCollectorError("InvalidAuthorization", "The Authorization header is missing.", status=403)
    scheme, _, credential = header.strip().partition(" ")
    customer_id, colon, signature = credential.strip().partition(":")
    if scheme.lower() != "sharedkey" or not colon or not customer_id or not signature:
        raise DataCollectorError(
            "InvalidAuthorization", "The Authorization header must be 'SharedKey {workspaceId}:{signature}'.",
            status=403)
    return customer_id, signature


def verify_signature(authorization: str | None, *, keys: Iterable[str], date_rfc1123: str | None,
                     content_length: int, method: str = "POST", content_type: str = "application/json",
                     resource: str = "/api/logs", customer_id: str | None = None, now: datetime | None = None,
                     max_skew: timedelta = MAX_CLOCK_SKEW) -> str:
    """Check a request's SharedKey signature against each workspace key; return the signed customer ID.

    ``keys`` are the workspace's base64 keys (primary, secondary); the comparison is constant-time and tries them
    all. ``date_rfc1123`` is the ``x-ms-date`` header, which must be within ``max_skew`` of ``now``. If
    ``customer_id`` is given, the header must name that workspace (case-insensitively, as GUIDs compare).
    Raises DataCollectorError (InvalidAuthorization, 403) on any mismatch; its message never says which part
    of a signature was wrong.
    """
    signed_id, signature = parse_authorization(authorization)
    if customer_id is not None and signed_id.lower() != customer_id.lower():
        raise DataCollectorError("InvalidAuthorization", "The signature is not for this workspace.", status=403)
    check_request_date(date_rfc1123, now=now, max_skew=max_skew)
    message = string_to_sign(date_rfc1123 or "", content_length, method, content_type, resource)
    presented = signature.encode()
    matched = False
    for key_b64 in keys:
        key = _decode_key(key_b64)
        if key is not None:
            # No early exit: every key is compared, so timing does not reveal which one matched.
            matched |= hmac.compare_digest(_sign(key, message).encode(), presented)
    if not matched:
        raise DataCollectorError(
            "InvalidAuthorization",
            "The service failed to authenticate the request. Verify that the workspace ID and connection key "
            "are valid.", status=403)
    return signed_id


def check_request_date(date_rfc1123: str | None, *, now: datetime | None = None,
                       max_skew: timedelta = MAX_CLOCK_SKEW) -> datetime:
    """Parse ``x-ms-date`` (RFC 1123, GMT) and return it; raise DataCollectorError (403) if absent, malformed
    or more than ``max_skew`` from ``now``."""
    if not date_rfc1123:
        raise DataCollectorError("InvalidAuthorization", "The x-ms-date header is missing.", status=403)
    try:
        when = parsedate_to_datetime(date_rfc1123)
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None or when.tzinfo is None:
        raise DataCollectorError(
            "InvalidAuthorization", "The x-ms-date header is not an RFC 1123 date in GMT.", status=403)
    current = now or datetime.now(UTC)
    if abs(current - when) > max_skew:
        raise DataCollectorError(
            "InvalidAuthorization",
            f"The x-ms-date header is more than {int(max_skew.total_seconds() // 60)} minutes from the service's "
            "time.", status=403)
    return when.astimezone(UTC)


def _decode_key(key_b64: str) -> bytes | None:
    try:
        return base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        return None


def _sign(key: bytes, message: str) -> str:
    return base64.b64encode(hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()).decode()


# --- Log-Type and body ----------------------------------------------------------------------------------------------


def validate_log_type(name: str | None) -> str:
    """Check a ``Log-Type`` header and return its table name, ``{name}_CL``.

    Raises DataCollectorError: MissingLogType if absent or empty, InvalidLogType if it has characters other than
    letters, digits and underscore or is longer than 100 characters.
    """
    if not name:
        raise DataCollectorError("MissingLogType", "The Log-Type header is required.")
    if len(name) > MAX_LOG_TYPE or not _LOG_TYPE.fullmatch(name):
        raise DataCollectorError(
            "InvalidLogType",
            f"Log-Type {name[:120]!r} may contain only letters, numbers and underscore, at most {MAX_LOG_TYPE} "
            "characters.")
    return f"{name}_CL"


def parse_body(body: bytes) -> list[dict]:
    """Parse a request body: a JSON object or an array of objects. Returns the records.

    Raises DataCollectorError: 413 if over 30 MB; InvalidDataFormat if it is not UTF-8 JSON, or not an object or an
    array of objects (the message names the first offending record index).
    """
    if len(body) > MAX_BODY_BYTES:
        raise DataCollectorError(
            "RequestTooLarge", f"The body is {len(body)} bytes; the limit is {MAX_BODY_BYTES} bytes (30 MB).",
            status=413)
    try:
        data = json.loads(body.decode("utf-8-sig"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise DataCollectorError("InvalidDataFormat", f"The body is not valid JSON: {error}") from None
    return _as_records(data)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _as_records(data: object) -> list[dict]:
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise DataCollectorError("InvalidDataFormat", "The body must be a JSON object or an array of objects.")
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            raise DataCollectorError(
                "InvalidDataFormat", f"Record {index} is a JSON {type(record).__name__}, not an object.",
                record=index)
    return data


# --- typing records into columns ------------------------------------------------------------------------------------


@dataclass
class ShapedBatch:
    """Records typed for a ``_CL`` table.

    ``columns``: every custom column of the table after this batch (the existing ones plus ``new_columns``),
    name -> Kusto type. ``rows``: one dict per record, column -> value (str, bool, float, datetime in UTC, GUID as
    canonical text), always with ``TimeGenerated`` (datetime, UTC), a standard column of every table.
    """

    columns: dict[str, str]
    rows: list[dict]
    new_columns: dict[str, str] = field(default_factory=dict)


def shape_records(records: list, existing_columns: dict[str, str], *, time_generated_field: str | None,
                  received_at: datetime | None = None) -> ShapedBatch:
    """Type each record's properties into suffixed columns, as Azure does (see the module docstring).

    ``existing_columns`` is the table's current schema (name -> Kusto type; it may include standard columns,
    which suffixed names never collide with). ``received_at`` (default now) is the ingestion time used for
    ``TimeGenerated`` when ``time_generated_field`` does not supply one. ``existing_columns`` is not modified.
    Raises DataCollectorError (InvalidDataFormat) naming the record index and property: a record that is not an
    object, a reserved property name, a column name over 45 characters, or more than 500 columns.
    """
    received = _utc(received_at or datetime.now(UTC))
    records = _as_records(records)
    columns = dict(existing_columns)
    by_base = _columns_by_base(columns)
    new_columns: dict[str, str] = {}
    rows: list[dict] = []
    for index, record in enumerate(records):
        row: dict = {}
        for prop, value in record.items():
            if value is None:
                continue  # "If a property contains a null value, the property isn't included in that record."
            if prop.lower() in RESERVED_PROPERTIES:
                raise DataCollectorError(
                    "InvalidDataFormat", f"Record {index}: property {prop!r} is reserved.", record=index, field=prop)
            base = _INVALID_NAME_CHARS.sub("_", prop) or "_"
            column, typed = _place(base, value, by_base.get(base.lower(), {}))
            if column not in columns:
                _check_new_column(column, columns, index, prop)
                columns[column] = new_columns[column] = SUFFIX_TYPES[column[-1]]
                by_base.setdefault(base.lower(), {})[column[-1]] = column
            row[column] = typed
        row["TimeGenerated"] = _time_generated(record, time_generated_field, received)
        rows.append(row)
    return ShapedBatch(columns=columns, rows=rows, new_columns=new_columns)


def _columns_by_base(columns: dict[str, str]) -> dict[str, dict[str, str]]:
    """Index suffixed columns: base name (lower case) -> {suffix: column name}."""
    index: dict[str, dict[str, str]] = {}
    for name in columns:
        base, sep, suffix = name.rpartition("_")
        if sep and suffix in SUFFIX_TYPES and base:
            index.setdefault(base.lower(), {})[suffix] = name
    return index


def _place(base: str, value: object, existing: dict[str, str]) -> tuple[str, object]:
    """Choose the column for one value and convert the value; returns (column name, typed value)."""
    suffix, typed = _natural(value)
    if suffix in existing:
        return existing[suffix], typed
    if isinstance(value, str):
        # A string may fill an existing column of another type when it converts (the doc's second example).
        for other in ("d", "b", "t", "g", "s"):
            if other in existing:
                converted = _convert_string(value, other)
                if converted is not None:
                    return existing[other], converted
    return f"{base}_{suffix}", typed


def _natural(value: object) -> tuple[str, object]:
    """The suffix JSON type inference gives a value, and the value converted for it."""
    if isinstance(value, bool):
        return "b", value
    if isinstance(value, int | float):
        return "d", float(value)
    if isinstance(value, str):
        guid = _as_guid(value)
        if guid is not None:
            return "g", guid
        when = _as_datetime(value)
        if when is not None:
            return "t", when
        return "s", _truncate(value)
    # Objects and arrays are stored as their JSON text.
    return "s", _truncate(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _convert_string(value: str, suffix: str) -> object | None:
    text = value.strip()
    if suffix == "d":
        return float(text) if _NUMBER.fullmatch(text) else None
    if suffix == "b":
        return {"true": True, "false": False}.get(text.lower())
    if suffix == "t":
        return _as_datetime(text)
    if suffix == "g":
        return _as_guid(text)
    return _truncate(value)


def _as_guid(text: str) -> str | None:
    if not _GUID.fullmatch(text) or text.count("-") not in (0, 4):
        return None
    h = text.replace("-", "").lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _as_datetime(text: str) -> datetime | None:
    """An ISO 8601 date and time in UTC (a zone-less one is read as UTC), or None."""
    m = _ISO.fullmatch(text.strip())
    if not m:
        return None
    time_part = m.group("time") if m.group("time").count(":") == 2 else m.group("time") + ":00"
    frac = (m.group("frac") or "")[:6]
    tz = m.group("tz") or "+00:00"
    tz = "+00:00" if tz in ("Z", "z") else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    try:
        value = datetime.fromisoformat(f"{m.group('date')}T{time_part}{'.' + frac if frac else ''}{tz}")
    except ValueError:
        return None
    return value.astimezone(UTC)


def _truncate(text: str) -> str:
    """Cut a string to 32 KB of UTF-8 (Azure truncates longer field values) without splitting a character."""
    data = text.encode("utf-8")
    if len(data) <= MAX_FIELD_BYTES:
        return text
    return data[:MAX_FIELD_BYTES].decode("utf-8", errors="ignore")


def _check_new_column(column: str, columns: dict[str, str], index: int, prop: str) -> None:
    if len(column) > MAX_COLUMN_NAME:
        raise DataCollectorError(
            "InvalidDataFormat",
            f"Record {index}: property {prop!r} makes column {column!r}, longer than {MAX_COLUMN_NAME} characters.",
            record=index, field=prop)
    if len(columns) >= MAX_COLUMNS:
        raise DataCollectorError(
            "InvalidDataFormat",
            f"Record {index}: property {prop!r} would be column {len(columns) + 1}; a table has at most "
            f"{MAX_COLUMNS} columns.", record=index, field=prop)


def _time_generated(record: dict, time_field: str | None, received: datetime) -> datetime:
    if not time_field:
        return received
    value = record.get(time_field)
    when = _as_datetime(value) if isinstance(value, str) else None
    if when is None or when < received - TIME_GENERATED_PAST or when > received + TIME_GENERATED_FUTURE:
        return received
    return when


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
