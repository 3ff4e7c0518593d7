"""Real Azure network resources (``corpus/network/batfish-azure``: GET answers of a real subscription) PUT back
unchanged, read-only fields and all, as a client that round-trips Azure's JSON would; then Network Watcher
answers about them. Skips when the shared corpus is absent. Runs on the session's server."""

from __future__ import annotations

import json
import re
import uuid

import pytest

API = "2024-05-01"
ORDER = (  # dependencies first; natGateways are not modelled
    "subnet-nsg.json",
    "VM1-nsg.json",
    "VM2-nsg.json",
    "VM1-public-ip.json",
    "VM-vnet.json",
    "vm1346.json",
    "vm235.json",
    "VM1.json",
    "VM2.json",
)


@pytest.fixture(scope="module")
def corpus_group(corpus_dir, warden_server):  # type: ignore[no-untyped-def]
    folder = corpus_dir / "network" / "batfish-azure"
    if not folder.is_dir():
        pytest.skip("corpus/network/batfish-azure is absent")
    group = f"rg-corpus-{uuid.uuid4().hex[:6]}"
    scope = f"{warden_server.sub_scope()}/resourceGroups/{group}"
    with warden_server.client() as http:
        assert http.put(scope, params={"api-version": "2021-04-01"}, json={"location": "westus"}).status_code == 201
        created = {}
        for name in ORDER:
            text = (folder / name).read_text()
            # Re-home the documents: the corpus names another subscription and group.
            text = re.sub(r"/subscriptions/[0-9a-f-]+/resourceGroups/[^/\"]+", scope, text, flags=re.IGNORECASE)
            document = json.loads(text)
            api = "2024-07-01" if document["type"].startswith("Microsoft.Compute") else API
            response = http.put(document["id"], params={"api-version": api}, json=document)
            assert response.status_code in (200, 201), (name, response.text)
            created[document["name"]] = response.json()
        watcher = http.put(
            f"{scope}/providers/Microsoft.Network/networkWatchers/corpus-watcher",
            params={"api-version": API},
            json={"location": "westus"},
        )
        assert watcher.status_code == 201, watcher.text
    return {"scope": scope, "created": created, "watcher": watcher.json()["id"]}


def test_round_tripped_documents_keep_their_meaning(corpus_group, corpus_dir) -> None:  # type: ignore[no-untyped-def]
    created = corpus_group["created"]
    # Azure gave these NICs 10.0.0.4 and 10.0.1.4 (first address after the four it reserves); so does Warden.
    assert created["vm1346"]["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "10.0.0.4"
    assert created["vm235"]["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] == "10.0.1.4"
    original = json.loads((corpus_dir / "network" / "batfish-azure" / "subnet-nsg.json").read_text())
    rules = {r["name"]: r["properties"] for r in created["subnet-nsg"]["properties"]["securityRules"]}
    assert set(rules) == {r["name"] for r in original["properties"]["securityRules"]}
    assert rules["AllowCidrBlockSSHInbound"]["destinationPortRanges"] == ["22-23", "80", "8080"]
    assert rules["AllowCidrBlockSSHInbound"]["protocol"] == "Tcp"  # Azure's enum spelling of "TCP"
    vnet = created["VM-vnet"]["properties"]
    assert sorted(s["name"] for s in vnet["subnets"]) == ["default", "private"]


@pytest.mark.parametrize(
    ("vm_ip", "direction", "protocol", "port", "remote", "access", "rule"),
    [
        # VM2: subnet "private" has subnet-nsg, its NIC VM2-nsg (no user rules).
        ("10.0.1.4", "Inbound", "TCP", "22", "10.0.0.4", "Allow", "defaultSecurityRules/AllowVnetInBound"),
        ("10.0.1.4", "Inbound", "TCP", "8081", "10.0.0.4", "Deny", "securityRules/DenyCidrBlockCustomAnyInbound"),
        ("10.0.1.4", "Outbound", "UDP", "53", "8.8.8.8", "Allow", "securityRules/AllowAnyCustomAnyOutbound"),
        ("10.0.1.4", "Outbound", "TCP", "443", "8.8.8.8", "Deny", "securityRules/DenyAnyCustomAnyOutbound"),
        # VM1: subnet "default" has no NSG; its NIC has VM1-nsg.
        ("10.0.0.4", "Inbound", "TCP", "8080", "8.8.8.8", "Allow", "securityRules/SSH"),
        ("10.0.0.4", "Inbound", "TCP", "443", "8.8.8.8", "Deny", "securityRules/DenyAnyCustomAnyInbound"),
    ],
)
def test_ip_flow_verify_on_real_rules(
    warden_server, corpus_group, vm_ip, direction, protocol, port, remote, access, rule
):  # type: ignore[no-untyped-def]
    vm = "VM2" if vm_ip == "10.0.1.4" else "VM1"
    body = {
        "targetResourceId": f"{corpus_group['scope']}/providers/Microsoft.Compute/virtualMachines/{vm}",
        "direction": direction,
        "protocol": protocol,
        "localPort": port,
        "remotePort": "50000",
        "localIPAddress": vm_ip,
        "remoteIPAddress": remote,
    }
    with warden_server.client() as http:
        response = http.post(f"{corpus_group['watcher']}/ipFlowVerify", params={"api-version": API}, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    blockers = answer.pop("wardenBlockedBy", None)  # Warden's blocked-path field, present on Deny only
    assert answer == {"access": access, "ruleName": rule}
    assert (blockers is not None) == (access == "Deny")
