"""How files and folders of a machine are named in the vault (MAB-like IDs).

``{vault}/backupFabrics/Azure/protectionContainers/{machine}/protectedItems/FileFolder;{encoded path}``

* the fabric is ``Azure`` (Azure's single fabric name for everything it backs up);
* the container is the machine: its host name (Warden's server backs up its own machine; agents
  will register their machines as containers later);
* the item is ``FileFolder;`` plus the absolute path in unpadded base64url, because a path's
  ``/`` cannot appear in an ARM name segment. ``friendlyName`` holds the readable path.
"""

from __future__ import annotations

import base64
import binascii
import socket

FABRIC = "Azure"
ITEM_PREFIX = "FileFolder;"


def machine_name() -> str:
    """Return this machine's container name (its host name)."""
    return socket.gethostname()


def item_name(path: str) -> str:
    """Return the protected item name of an absolute path."""
    return ITEM_PREFIX + base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def path_of(name: str) -> str | None:
    """Return the path an item name encodes, or None if it is not a FileFolder name."""
    if not name.startswith(ITEM_PREFIX):
        return None
    text = name[len(ITEM_PREFIX) :]
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def item_id(vault_id: str, path: str, machine: str | None = None) -> str:
    """Return the full protected item ID of ``path`` on ``machine`` (default: this one) in a vault."""
    container = machine or machine_name()
    container_id = f"{vault_id.rstrip('/')}/backupFabrics/{FABRIC}/protectionContainers/{container}"
    return f"{container_id}/protectedItems/{item_name(path)}"


def vault_of_item(item_resource_id: str) -> str:
    """Return the vault ID above a protected item (or recovery point) ID."""
    lowered = item_resource_id.lower()
    return item_resource_id[: lowered.index("/backupfabrics/")]


def vault_of_policy(policy_resource_id: str) -> str:
    """Return the vault ID above a backup policy ID."""
    lowered = policy_resource_id.lower()
    return policy_resource_id[: lowered.index("/backuppolicies/")]


def _inside(path: str, top: str) -> bool:
    """Whether ``path`` is ``top`` or lies inside it, after resolving symlinks in both."""
    import os

    real, base = os.path.realpath(path), os.path.realpath(top)
    return real == base or real.startswith(base.rstrip("/") + "/")


def within(path: str, roots: list[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or lies inside one (after resolving symlinks)."""
    return any(_inside(path, root) for root in roots)


def overlaps(path: str, other: str) -> bool:
    """Whether two absolute paths are the same, or one lies inside the other (after resolving symlinks)."""
    return _inside(path, other) or _inside(other, path)
