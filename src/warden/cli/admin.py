"""Local administration of a data dir: ``init``, ``serve``, ``up`` and ``keys rotate``.

These act on the data dir directly (they create or hold the server's secrets); every other
command talks to the REST API.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from warden.bootstrap import bootstrap_path, initialize
from warden.cli.common import DataDir, resolve_data_dir
from warden.kernel.settings import load_settings, save_config

console = Console(stderr=True)
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)

DatabaseUrl = typer.Option(None, "--database-url", help="SQLAlchemy URL (default: SQLite in the data dir).")
Host = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1).")
Port = typer.Option(None, "--port", help="Port to bind (default 8443).")
BackupRoot = typer.Option(
    None,
    "--backup-root",
    help="A directory whose files vaults may protect and restore into (repeatable; saved in warden.json).",
)
SyslogPort = typer.Option(
    None, "--syslog-port", help="Receive syslog (RFC 5424/3164) on this UDP and TCP port; off by default."
)


def init(
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
    host: str | None = Host,
    port: int | None = Port,
    backup_root: list[Path] | None = BackupRoot,
) -> None:
    """Create the database, TLS material, keys, a tenant, a subscription and a bootstrap admin."""
    roots = [str(p.expanduser().resolve()) for p in backup_root] if backup_root else None
    settings = load_settings(
        resolve_data_dir(data_dir), database_url=database_url, host=host, port=port, backup_roots=roots
    )
    result = initialize(settings)
    if roots:
        save_config(settings, ("backup_roots",))
    path = bootstrap_path(settings.data_dir)
    if result.created:
        console.print(f"[green]Initialized[/green] {settings.data_dir}")
        console.print(f"Bootstrap credentials (mode 0600): {path}")
    else:
        console.print(f"{settings.data_dir} was already initialized; secrets left untouched ({path}).")


def serve(
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
    host: str | None = Host,
    port: int | None = Port,
    syslog_port: int | None = SyslogPort,
) -> None:
    """Serve the HTTPS API (and the syslog receiver when --syslog-port is given)."""
    from warden.server import serve as run_server

    settings = load_settings(
        resolve_data_dir(data_dir), database_url=database_url, host=host, port=port, syslog_port=syslog_port
    )
    run_server(settings)


def up(
    data_dir: Path | None = DataDir,
    database_url: str | None = DatabaseUrl,
    host: str | None = Host,
    port: int | None = Port,
    syslog_port: int | None = SyslogPort,
    backup_root: list[Path] | None = BackupRoot,
) -> None:
    """Initialize the data dir if needed, then serve."""
    directory = resolve_data_dir(data_dir)
    init(directory, database_url, host, port, backup_root)
    bootstrap = bootstrap_path(directory)
    console.print(f"Credentials: {bootstrap}")
    serve(directory, database_url, host, port, syslog_port)


@keys_app.command("rotate")
def rotate_keys(data_dir: Path | None = DataDir) -> None:
    """Start signing tokens with a new key; the old key verifies until its tokens expire."""
    from warden.platform import Platform

    platform = Platform(load_settings(resolve_data_dir(data_dir)))
    try:
        kid = platform.keys.rotate()
    finally:
        platform.stop()
    console.print(f"New signing key: {kid}")
