"""The server's alias table: the shipped one, extended by ``warden policy aliases import``.

The imported table lives in the data dir at ``policy/aliases.json`` (Warden's table shape,
``{alias: {"defaultPath", "byResourceType"}}``, written whole and replaced atomically). Every API
process reads it on first use and again when the file's size or modification time changes (checked
at most once a second), so an import takes effect without a restart; without the file, evaluation
uses the shipped table. The file is configuration of the installation, not tenant data: one table
serves every tenant, as Azure's aliases are the same for everyone.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from warden.governance.policy import AliasTable, AliasTableError, default_aliases, load_aliases

ALIAS_FILE = Path("policy") / "aliases.json"
_CHECK_SECONDS = 1.0
_lock = threading.Lock()
_state: dict[Path, tuple[float, tuple[int, int] | None, AliasTable]] = {}


def alias_path(data_dir: Path) -> Path:
    """Where the imported alias table of ``data_dir`` lives."""
    return data_dir / ALIAS_FILE


def save_aliases(data_dir: Path, table: AliasTable) -> Path:
    """Write ``table`` as the data dir's imported alias table (atomically, owner-only); return its path."""
    path = alias_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".json.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(table.to_json(), handle, separators=(",", ":"))
    os.replace(temporary, path)
    return path


def active_aliases(data_dir: Path | None) -> AliasTable:
    """The shipped table merged with ``data_dir``'s imported one (if any). A file that can't be read
    is ignored (the shipped table serves) rather than failing every write."""
    if data_dir is None:
        return default_aliases()
    path = alias_path(data_dir)
    now = time.monotonic()
    cached = _state.get(path)
    if cached is not None and now - cached[0] < _CHECK_SECONDS:
        return cached[2]
    try:
        stat = path.stat()
        signature: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        signature = None
    if cached is not None and cached[1] == signature:
        table = cached[2]
    elif signature is None:
        table = default_aliases()
    else:
        try:
            table = default_aliases().merged(load_aliases(path))
        except AliasTableError:
            table = default_aliases()
    with _lock:
        _state[path] = (now, signature, table)
    return table
