"""``Microsoft.Compute/virtualMachines`` as a model: what Network Watcher needs of a VM.

Stored: ``hardwareProfile``, ``storageProfile``, ``osProfile`` (without ``adminPassword``, which is never
kept), ``networkProfile.networkInterfaces``. Nothing runs: the VM is the anchor of flow verification. A
NIC belongs to at most one VM; exactly one NIC is primary.
"""

from __future__ import annotations

import uuid
from typing import Any

from warden.kernel.context import RequestContext
from warden.kernel.errors import BadRequest
from warden.kernel.ids import ResourceId, key
from warden.network.common import NETWORK_INTERFACES, VIRTUAL_MACHINES, Composite, obj, resolve_ref, rows_of_type


def _validate(ctx: RequestContext, rid: ResourceId, props: dict[str, Any], children: dict, existing: Any) -> None:
    assert ctx.conn is not None
    vm_id = existing.id if existing is not None else str(rid)
    profile = props.get("networkProfile") or {}
    nics = profile.get("networkInterfaces") if isinstance(profile, dict) else None
    if not isinstance(nics, list) or not nics:
        raise BadRequest(
            "The virtual machine must have at least one network interface in networkProfile.networkInterfaces.",
            code="InvalidParameter",
            target="networkProfile",
        )
    out = []
    for index, item in enumerate(nics):
        row = resolve_ref(ctx, item, NETWORK_INTERFACES, f"networkProfile.networkInterfaces[{index}]")
        assert row is not None
        for vm in rows_of_type(ctx.conn, ctx.tenant_id, VIRTUAL_MACHINES):
            attached = (vm.body["properties"].get("networkProfile") or {}).get("networkInterfaces") or []
            if key(vm.id) != key(vm_id) and any(key(n["id"]) == key(row.id) for n in attached):
                raise BadRequest(
                    f"Network Interface {row.id} is used by existing resource {vm.id}.",
                    code="NicInUse",
                    target=f"networkProfile.networkInterfaces[{index}]",
                )
        primary = obj(item.get("properties"), f"networkProfile.networkInterfaces[{index}].properties").get("primary")
        out.append({"id": row.id, "properties": {"primary": bool(primary)}})
    primaries = sum(1 for n in out if n["properties"]["primary"])
    if primaries > 1 or (primaries == 0 and len(out) > 1):
        raise BadRequest(
            "Virtual machine must have exactly one network interface marked primary.",
            code="VirtualMachineMustHaveOnePrimaryNetworkInterface",
            target="networkProfile",
        )
    if primaries == 0:
        out[0]["properties"]["primary"] = True
    props["networkProfile"] = {**profile, "networkInterfaces": out}
    os_profile = props.get("osProfile")
    if isinstance(os_profile, dict):
        os_profile.pop("adminPassword", None)  # a model keeps no credentials
        os_profile.pop("customData", None)
    props["vmId"] = existing.body["properties"].get("vmId") if existing is not None else str(uuid.uuid4())


SPEC = Composite(VIRTUAL_MACHINES, validate=_validate, read_only=("vmId", "instanceView"))
