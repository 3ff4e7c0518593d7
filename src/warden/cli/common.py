"""Options shared by every command: where the data dir is."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from platformdirs import user_data_dir


def default_data_dir() -> Path:
    """``$WARDEN_DATA_DIR``, else the user's data directory for Warden."""
    return Path(os.environ.get("WARDEN_DATA_DIR") or user_data_dir("warden"))


DataDir = typer.Option(
    None,
    "--data-dir",
    help="Data directory (default: $WARDEN_DATA_DIR, else the user's data dir).",
    show_default=False,
)


def resolve_data_dir(value: Path | None) -> Path:
    return (value or default_data_dir()).expanduser().resolve()
