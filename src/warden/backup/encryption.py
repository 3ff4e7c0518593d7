"""Customer-managed keys for a vault's repository: ``POST vaults/{vault}/customerManagedKey`` (Warden's).

By default a vault's repository key is wrapped by a platform-managed key derived from the data dir's
master key. A customer may supply its own 256-bit key instead::

    {"keyId": "contoso-backup-2026", "key": "<32 bytes, base64>"}

The repository key is wrapped under the customer key in a new key slot and the previous slot
(platform or older customer key) is removed, so rotating re-wraps one small object and never
re-encrypts data. From then on the repository opens only with the customer's key: the customer can
read its backups with the chunk store alone, without Warden's master key. The server keeps the key
sealed with its master key (it must open the repository for scheduled backups) and never returns
it; ``properties.encryption.keyVaultProperties.keyUri`` names it as ``warden:customer-key/{keyId}``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

from warden.backup.chunkstore import Kek, Repository
from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId
from warden.kernel.reply import Reply
from warden.kernel.resources import resource_json, update_resource

if TYPE_CHECKING:
    from warden.platform import Platform

KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$")
SEALED_FIELD, KEY_ID_FIELD = "_customerKey", "_customerKeyId"


def _purpose(vault_guid: str) -> str:
    return f"backup-customer-key:{vault_guid}"


def vault_kek(platform: Platform, body: dict[str, Any], vault_guid: str) -> Kek:
    """Return the key-encryption key that opens the vault's repository now (customer's if set)."""
    from .storage import platform_kek

    sealed = body.get(SEALED_FIELD)
    if not sealed:
        return platform_kek(platform, vault_guid)
    secret = platform.master_key.open(base64.b64decode(sealed), purpose=_purpose(vault_guid))
    return Kek.from_bytes("customer", body[KEY_ID_FIELD], secret)


def set_customer_key(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    """Wrap the vault's repository key under a customer-supplied key and drop the previous slot; 200 with the vault."""
    from .storage import VAULT_GUID_FIELD, open_repository
    from .vaults import vault_of

    assert ctx.conn is not None
    request = body if isinstance(body, dict) else {}
    key_id, encoded = request.get("keyId"), request.get("key")
    if not isinstance(key_id, str) or not KEY_ID.match(key_id):
        raise BadRequest("'keyId' must be 1-127 letters, digits, '.', '_' or '-'.", code="InvalidInput", target="keyId")
    try:
        secret = base64.b64decode(str(encoded), validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != 32:
        raise BadRequest("'key' must be a 256-bit key in base64.", code="InvalidInput", target="key")
    vault = vault_of(ctx.conn, ctx.tenant_id, str(rid))
    if vault.body.get(KEY_ID_FIELD) == key_id:
        raise BadRequest("The vault already uses this key id; rotate to a new id.", code="InvalidInput", target="keyId")
    guid = vault.body[VAULT_GUID_FIELD]
    repo: Repository = open_repository(ctx.platform, ctx.tenant_id, vault.id)
    try:
        old_slots = [s["slot"] for s in repo.key_slots()]
        repo.add_key(Kek.from_bytes("customer", key_id, secret))  # durable before any old slot goes
        for slot in old_slots:
            repo.remove_key(slot)
    finally:
        repo.close()
    stored = dict(vault.body)
    stored[SEALED_FIELD] = base64.b64encode(ctx.platform.master_key.seal(secret, purpose=_purpose(guid))).decode()
    stored[KEY_ID_FIELD] = key_id
    properties = dict(stored.get("properties", {}))
    properties["encryption"] = {
        "keyVaultProperties": {"keyUri": f"warden:customer-key/{key_id}"},
        "kekIdentity": {"useSystemAssignedIdentity": True},
        "infrastructureEncryption": "Disabled",
    }
    stored["properties"] = properties
    row = update_resource(ctx, vault, body=stored)
    return Reply(200, resource_json(row), {"ETag": row.etag})
