"""``warden kql``: run a KQL query over local log files (CSV, JSON lines, Parquet).

    warden kql 'Syslog | where SyslogMessage has "failed" | summarize count() by HostName' \\
        --table Syslog=syslog.jsonl

``--format json`` prints the Log Analytics query API's response body, ``csv`` a header and rows,
``table`` (the default) an aligned table. A query error prints the message with its caret
snippet on stderr and exits 1.
"""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from warden.monitor.kql import KqlError, run

__all__ = ["kql"]


class KqlFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _tables(specs: list[str]) -> dict[str, Path]:
    tables: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise typer.BadParameter(f"expected NAME=FILE, got {spec!r}", param_hint="--table")
        if name.strip() in tables:
            raise typer.BadParameter(f"table {name.strip()!r} is given twice", param_hint="--table")
        tables[name.strip()] = Path(path.strip()).expanduser()
    return tables


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def kql(
    query: str = typer.Argument(..., help="The KQL query (use '-' to read it from stdin)."),
    table: list[str] = typer.Option(
        [], "--table", "-t", help="A table for the query: NAME=FILE (.csv, .tsv, .json, .jsonl, .parquet). Repeatable."
    ),
    output_format: KqlFormat = typer.Option(
        KqlFormat.table, "--format", "-f", help="Output format.", case_sensitive=False, show_default=True
    ),
) -> None:
    """Run a KQL (Kusto Query Language) query over local log files."""
    text = sys.stdin.read() if query == "-" else query
    tables = _tables(table)
    try:
        result = run(text, tables)
    except KqlError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if output_format is KqlFormat.json:
        typer.echo(json.dumps(result.to_query_api(), ensure_ascii=False, indent=2))
    elif output_format is KqlFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_cell(v) for v in row] for row in result.rows)
    else:
        grid = Table(show_edge=False, pad_edge=False, header_style="bold")
        for name, kusto_type in zip(result.columns, result.types, strict=True):
            grid.add_column(f"{name}", justify="right" if kusto_type in ("int", "long", "real", "decimal") else "left")
        for row in result.rows:
            grid.add_row(*(_cell(v) for v in row))
        console = Console(soft_wrap=True, highlight=False)
        console.print(grid)
        Console(stderr=True, highlight=False).print(f"{len(result.rows)} row(s)", style="dim")
