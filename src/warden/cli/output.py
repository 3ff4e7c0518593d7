"""``--output json|table``: JSON prints the API's JSON as it came; table renders chosen columns
with Rich. Status messages go to stderr so stdout stays parseable."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text


class OutputFormat(StrEnum):
    json = "json"
    table = "table"


Output = typer.Option(
    OutputFormat.table, "--output", "-o", help="Output format.", case_sensitive=False, show_default=True
)

Getter = Callable[[dict[str, Any]], Any]
Column = tuple[str, "str | Getter"]

stderr = Console(stderr=True, highlight=False)
ATOMIC_WIDTH = 40
PIPE_WIDTH = 400
MIN_FOLDED = 12


def field(path: str) -> Getter:
    """A getter for a dotted path such as ``properties.level``."""

    def get(item: dict[str, Any]) -> Any:
        value: Any = item
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    return get


def tags_text(tags: Any) -> str:
    if not isinstance(tags, dict) or not tags:
        return ""
    return ", ".join(f"{k}={v}" for k, v in tags.items())


def resource_group_of(resource_id: Any) -> str:
    parts = str(resource_id or "").split("/")
    lowered = [p.lower() for p in parts]
    if "resourcegroups" in lowered:
        index = lowered.index("resourcegroups")
        if index + 1 < len(parts):
            return parts[index + 1]
    return ""


def _cell(value: Any) -> Text:
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("true" if value else "false")
    if isinstance(value, dict | list):
        return Text(json.dumps(value, separators=(",", ":")))
    # Text(), not a str, so that values are never read as Rich markup.
    return Text(str(value))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_table(items: Iterable[dict[str, Any]], columns: Sequence[Column], title: str | None = None) -> None:
    getters = [field(how) if isinstance(how, str) else how for _, how in columns]
    rows = [[_cell(get(item)) for get in getters] for item in items]
    # Piped output is not cut to a terminal's width, so nothing wraps mid-value.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
    widths = []
    for index, (header, _) in enumerate(columns):
        cells = [row[index].plain for row in rows]
        longest = max((len(c) for c in cells), default=0)
        atomic = longest <= ATOMIC_WIDTH and not any(" " in c for c in cells)
        widths.append(max(longest, len(header)) if atomic else None)
    # Keep short unbroken values (GUIDs, names) on one line when they all fit; fold the rest.
    fits = sum(w or MIN_FOLDED for w in widths) + 3 * len(columns) + 1 <= console.width
    table = Table(title=title, header_style="bold")
    for (header, _), width in zip(columns, widths, strict=True):
        keep = fits and width is not None
        table.add_column(header, overflow="fold", no_wrap=keep, min_width=width if keep else None)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def render(data: Any, output: OutputFormat, columns: Sequence[Column], *, title: str | None = None) -> None:
    """Print ``data`` (one object or a list of objects) as JSON or as a table of ``columns``."""
    if output == OutputFormat.json:
        print_json(data)
        return
    if data is None:
        return
    if isinstance(data, dict):
        # One object (show, create): a vertical table reads better than one very wide row.
        rows = [
            {"field": header, "value": (field(how) if isinstance(how, str) else how)(data)} for header, how in columns
        ]
        print_table(rows, [("Field", "field"), ("Value", "value")], title)
        return
    print_table(data, columns, title)


def progress(message: str):  # type: ignore[no-untyped-def]
    """A spinner on stderr while waiting for long work (quiet when stderr is not a terminal)."""
    return stderr.status(Text(message))


def note(message: str) -> None:
    """A status line for people (stderr), e.g. "Deleted resource group rg1"."""
    stderr.print(Text(message), soft_wrap=True)
