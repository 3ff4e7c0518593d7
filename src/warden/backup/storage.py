"""Where a vault's repository lives, and how it is opened.

Each vault gets its own chunk-store repository in ``{data_dir}/backup/vaults/{vault guid}``
(mode 0700). The guid is made when the vault is created and kept in the vault row's private
``_vaultGuid`` field, so a vault deleted and re-created under the same name never sees the old
data. The repository key is wrapped by a platform-managed key derived from the data dir's master
key (``MasterKey.derive``), and additionally by a customer-managed key when the vault has one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warden.backup.chunkstore import Backend, Kek, LocalBackend, Repository, RepositoryNotFound
from warden.kernel.errors import NotFound
from warden.kernel.ids import key
from warden.kernel.resources import get_row

if TYPE_CHECKING:
    from warden.platform import Platform

VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
VAULT_GUID_FIELD = "_vaultGuid"


def vault_row(platform: Platform, tenant_id: str, vault_resource_id: str) -> Any:
    """Return the stored vault row; raise NotFound (ARM's ResourceNotFound) if the tenant has no such vault."""
    with platform.db.read() as conn:
        row = get_row(conn, tenant_id, vault_resource_id)
    if row is None or row.type.lower() != VAULT_TYPE.lower():
        raise NotFound(f"The vault '{vault_resource_id}' was not found.", code="ResourceNotFound")
    return row


def vault_directory(platform: Platform, vault_guid: str) -> Path:
    """Return the repository directory of a vault guid (not created)."""
    return Path(platform.settings.data_dir) / "backup" / "vaults" / vault_guid


def vault_storage(platform: Platform, tenant_id: str, vault_resource_id: str) -> Backend:
    """Return the storage backend holding ``vault_resource_id``'s repository, creating its directory 0700.

    Raises NotFound if the vault does not exist in ``tenant_id`` (so tenants never reach each other's data).
    """
    row = vault_row(platform, tenant_id, vault_resource_id)
    guid = row.body.get(VAULT_GUID_FIELD)
    if not guid:
        raise NotFound(f"The vault '{vault_resource_id}' has no storage yet.", code="ResourceNotFound")
    return LocalBackend(_make_private_dir(vault_directory(platform, guid)))


def _make_private_dir(path: Path) -> Path:
    # Created with 0700 from the start (umask could only narrow it) and tightened if it pre-existed.
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def platform_kek(platform: Platform, vault_guid: str) -> Kek:
    """Return the platform-managed key-encryption key of one vault (derived; never stored)."""
    return Kek.from_bytes(
        "platform", f"warden-platform:{vault_guid}", platform.master_key.derive(f"backup-vault:{vault_guid}")
    )


def cache_dir(platform: Platform) -> Path:
    """Return the local index cache directory shared by the server's repositories."""
    return _make_private_dir(Path(platform.settings.data_dir) / "backup" / "cache")


def open_repository(platform: Platform, tenant_id: str, vault_resource_id: str) -> Repository:
    """Open (creating on first use) the vault's repository with its current key (platform or customer); return it."""
    from .encryption import vault_kek

    row = vault_row(platform, tenant_id, vault_resource_id)
    guid = row.body[VAULT_GUID_FIELD]
    backend = vault_storage(platform, tenant_id, vault_resource_id)
    kek = vault_kek(platform, row.body, guid)
    try:
        return Repository.open(backend, kek, cache_dir=cache_dir(platform))
    except RepositoryNotFound:
        return Repository.init(backend, kek, cache_dir=cache_dir(platform))


def remove_vault_storage(platform: Platform, vault_guid: str) -> None:
    """Delete a vault's repository directory (only called once the vault holds no recovery points)."""
    shutil.rmtree(vault_directory(platform, vault_guid), ignore_errors=True)


def vault_key(vault_resource_id: str) -> str:
    """Return the case-insensitive lookup key of a vault ID."""
    return key(vault_resource_id)
