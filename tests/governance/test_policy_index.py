"""The type index of policies, the server's alias store, and which resources a write affects."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from warden.governance.alias_store import active_aliases, alias_path, save_aliases
from warden.governance.enforcement import affected_resources
from warden.governance.policy import ComplianceState, TypeIndex, evaluate, load_aliases, load_definition

NSG = "Microsoft.Network/networkSecurityGroups"
VNET = "Microsoft.Network/virtualNetworks"


def _definition(condition: dict) -> object:
    return load_definition({"mode": "All", "policyRule": {"if": condition, "then": {"effect": "audit"}}})


def test_index_returns_exactly_the_policies_that_can_apply() -> None:
    by_type = _definition({"field": "type", "equals": NSG})
    either = _definition({"anyOf": [{"field": "type", "equals": VNET}, {"field": "type", "in": [NSG.upper()]}]})
    anything = _definition({"field": "location", "equals": "eastus"})
    negated = _definition({"not": {"field": "type", "equals": NSG}})
    index = TypeIndex([("nsg", by_type), ("either", either), ("any", anything), ("negated", negated)])
    assert index.candidates(NSG.lower()) == ["nsg", "either", "any", "negated"]
    assert index.candidates(VNET) == ["either", "any", "negated"]
    assert index.candidates("Microsoft.Compute/virtualMachines") == ["any", "negated"]
    # the index is exact: whatever it leaves out is NotApplicable when evaluated
    vm = {"type": "Microsoft.Compute/virtualMachines", "location": "eastus", "name": "vm"}
    for definition in (by_type, either):
        assert evaluate(definition, vm).compliance_state is ComplianceState.NOT_APPLICABLE


def test_affected_resources_walk_up_to_the_group() -> None:
    group = "/subscriptions/s/resourceGroups/rg"
    nsg = f"{group}/providers/{NSG}/n"
    assert affected_resources(f"{nsg}/securityRules/r") == [f"{nsg}/securityRules/r", nsg, group]
    setting = f"{nsg}/providers/Microsoft.Insights/diagnosticSettings/d"
    assert affected_resources(setting) == [setting, nsg, group]
    assert affected_resources(group) == [group]


def test_alias_store_is_picked_up_when_the_file_changes(tmp_path: Path) -> None:
    alias = f"{NSG}/ownerMirror"
    assert active_aliases(tmp_path).path(alias, NSG) == ("properties", "ownerMirror")  # convention only
    save_aliases(tmp_path, load_aliases({alias: {"defaultPath": "tags.owner"}}))
    assert oct(alias_path(tmp_path).stat().st_mode & 0o777) == "0o600"
    time.sleep(1.1)
    assert active_aliases(tmp_path).path(alias, NSG) == ("tags", "owner")
    assert active_aliases(tmp_path).path(f"{NSG}/securityRules[*].access", NSG)  # shipped aliases still there
    alias_path(tmp_path).write_text(json.dumps({alias: {"defaultPath": "tags.team"}}))
    os.utime(alias_path(tmp_path), ns=(time.time_ns(), time.time_ns() + 10**9))
    time.sleep(1.1)
    assert active_aliases(tmp_path).path(alias, NSG) == ("tags", "team")
