"""The upload half of ``warden logs ingest``: JSON lines → gzip batches → the Logs Ingestion API.

``read_batches`` turns a file into batches of at most 1 MiB of JSON (the API's request limit,
measured before compression as Azure's own client does), keeping each record's line number and
the lines that are not JSON objects. ``Uploader`` sends them one at a time with a Rich progress
bar, waits out 429/503 as ``Retry-After`` says, and when the server rejects a record (its 400
names the record's index) reports that line and sends the rest of the batch again.
"""

from __future__ import annotations

import gzip
import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from warden.cli.client import CliError, error_from_response
from warden.cli.output import stderr

if TYPE_CHECKING:
    from warden.cli.logs import DataPlaneClient

INGEST_SCOPE = "https://monitor.azure.com//.default"
INGEST_API = "2023-01-01"
MAX_BATCH_BYTES = 1024 * 1024
THROTTLE_BUDGET = 300.0  # seconds one batch may spend waiting out 429/503
GRANT_BUDGET = 60.0  # seconds to wait for a role assignment made just now to apply (Azure: minutes)
CONNECT_RETRIES = 3
_BOM = b"\xef\xbb\xbf"
_RECORD = re.compile(r"^\[(\d+)\]")
_RECORD_MESSAGE = re.compile(r"^Record (\d+):\s*")


@dataclass
class Batch:
    """Records to send in one request, their line numbers, and what reading them found."""

    lines: list[int] = field(default_factory=list)
    records: list[bytes] = field(default_factory=list)
    size: int = 2  # the array's brackets
    rejected: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    offset: int = 0  # bytes of the file read once this batch is complete
    end_line: int = 0  # the last line this batch accounts for
    eof: bool = False


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_line(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The line's object, or None and why the line is not one JSON object."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        return None, "the line is not UTF-8 text."
    except json.JSONDecodeError as error:
        return None, f"not valid JSON: {error.msg} (column {error.colno})."
    except ValueError as error:
        return None, f"not valid JSON: {error}."
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__.replace('NoneType', 'null')} is not a JSON object."
    return value, None


def read_batches(path: Path, columns: set[str], limit: int = MAX_BATCH_BYTES) -> Iterator[Batch]:
    """Batches of ``path``'s JSON-object lines, each at most ``limit`` bytes as a JSON array.

    Blank lines are skipped; other lines that are not a JSON object, and objects too large for any
    request, go into the current batch's ``rejected``. The last batch may hold no records.
    """
    batch = Batch()
    offset = number = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            offset += len(raw)
            line = raw.strip()
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :].strip()
            if not line:
                continue
            value, problem = _check_line(line)
            if value is None:
                batch.rejected.append({"line": number, "error": problem})
                continue
            if len(line) + 2 > limit:
                batch.rejected.append({"line": number, "error": f"the record is larger than {limit} bytes."})
                continue
            if batch.records and batch.size + len(line) + 1 > limit:
                batch.offset, batch.end_line = offset - len(raw), number - 1
                yield batch
                batch = Batch()
            batch.dropped.update(key for key in value if key not in columns)
            batch.lines.append(number)
            batch.records.append(line)
            batch.size += len(line) + (1 if len(batch.records) > 1 else 0)
        batch.offset, batch.end_line, batch.eof = offset, number, True
    yield batch


def _span(lines: list[int]) -> str:
    return f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"


def rejected_record(response: httpx.Response, count: int) -> tuple[int, str] | None:
    """The index (within the request) and message of the record a 400 names, or None."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict):
        return None
    message = str(error.get("message", ""))
    match = _RECORD.match(str(error.get("target") or "")) or _RECORD_MESSAGE.match(message)
    if match is None or not 0 <= int(match.group(1)) < count:
        return None
    return int(match.group(1)), _RECORD_MESSAGE.sub("", message)


class _Unconfirmed(Exception):
    """The request may have reached the server, but no answer came back."""


class _NotSent(Exception):
    """The server could not be reached: the request was not sent."""


class Uploader:
    """Sends batches to ``/dataCollectionRules/{immutable_id}/streams/{stream}``."""

    def __init__(self, client: DataPlaneClient, immutable_id: str, stream: str, *, patient: bool = False) -> None:
        self.client = client
        self.path = f"/dataCollectionRules/{immutable_id}/streams/{stream}"
        # True when the role was granted just now: Azure takes a while to apply it, so 403 is retried.
        self.patient = patient

    def _post(self, body: bytes) -> httpx.Response:
        for attempt in range(CONNECT_RETRIES + 1):
            try:
                return self.client.data_request(
                    "POST",
                    self.path,
                    INGEST_SCOPE,
                    params={"api-version": INGEST_API},
                    content=body,
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                    timeout=120,
                )
            except httpx.ConnectError as error:  # nothing was sent: safe to try again
                if attempt == CONNECT_RETRIES:
                    raise _NotSent(str(error) or error.__class__.__name__) from None
                time.sleep(2**attempt)
            except httpx.HTTPError as error:
                raise _Unconfirmed(str(error) or error.__class__.__name__) from None
        raise AssertionError("unreachable")

    def send(self, records: list[bytes]) -> httpx.Response:
        """POST the records as one gzip JSON array; return the first answer that is neither a
        throttle (429/503, waited out per Retry-After) nor, while the role is new, a 403."""
        body = gzip.compress(b"[" + b",".join(records) + b"]", compresslevel=5)
        throttled = granted = 0.0
        while True:
            response = self._post(body)
            if response.status_code in (429, 503) and throttled < THROTTLE_BUDGET:
                delay = _retry_after(response)
                throttled += delay
            elif response.status_code == 403 and self.patient and granted < GRANT_BUDGET:
                delay = min(2.0 + granted, 10.0)
                granted += delay
            else:
                if response.is_success:
                    self.patient = False
                return response
            time.sleep(delay)

    def run(self, batches: Iterable[Batch], total_bytes: int, max_errors: int) -> dict[str, Any]:
        """Upload every batch; return the summary: ``rows`` and ``requests`` sent, ``rejected``
        lines (line and error), ``droppedFields`` (field → lines), ``unconfirmed`` (the lines of
        a request that got no answer, or None) and ``stopped`` (why it stopped early, or None).

        Raises ``CliError`` when the server refuses a request for a reason other than one record
        (say 403), naming the lines not ingested.
        """
        summary: dict[str, Any] = {"rows": 0, "requests": 0, "rejected": [], "unconfirmed": None, "stopped": None}
        dropped: Counter[str] = Counter()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=stderr, transient=False) as progress:
            task = progress.add_task("Ingesting", total=total_bytes or None, rows=0)
            for batch in batches:
                summary["rejected"].extend(batch.rejected)
                dropped.update(batch.dropped)
                summary["stopped"] = self._upload(batch, summary, max_errors)
                progress.update(task, completed=batch.offset, rows=summary["rows"])
                if summary["stopped"] is None and len(summary["rejected"]) > max_errors and not batch.eof:
                    summary["stopped"] = (
                        f"more than {max_errors} line(s) were rejected; lines after {batch.end_line} were not read."
                    )
                if summary["stopped"]:
                    break
        summary["rejected"].sort(key=lambda item: item["line"])
        summary["droppedFields"] = dict(sorted(dropped.items()))
        return summary

    def _upload(self, batch: Batch, summary: dict[str, Any], max_errors: int) -> str | None:
        """Send one batch, leaving out each record the server names; return None when done, or
        why it stopped and what was not ingested."""
        lines, records = list(batch.lines), list(batch.records)
        while records:
            try:
                response = self.send(records)
            except _Unconfirmed as error:
                summary["unconfirmed"] = _span(lines)
                return f"the server did not answer ({error}); lines after {lines[-1]} were not sent."
            except _NotSent as error:
                return f"could not reach the server ({error}); {_span(lines)} and every later line were not sent."
            summary["requests"] += 1
            if response.is_success:
                summary["rows"] += len(records)
                return None
            named = rejected_record(response, len(records)) if response.status_code == 400 else None
            if named is None:
                error = error_from_response(response)
                raise CliError(
                    f"{error}: {_span(lines)} and every later line were not ingested "
                    f"({summary['rows']} row(s) from earlier lines were).",
                    code=None,
                )
            index, message = named
            summary["rejected"].append({"line": lines.pop(index), "error": message})
            del records[index]
            if records and len(summary["rejected"]) > max_errors:
                return (
                    f"more than {max_errors} line(s) were rejected; {_span(lines)} and every line after "
                    f"{batch.end_line} were not ingested."
                )
        return None


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.1), 60.0)
    except ValueError:
        return 1.0
