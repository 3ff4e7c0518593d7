"""Warden's security baseline initiative (package data): it loads, and each definition decides as
its description says on resources shaped like Warden's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from warden.cli.main import app
from warden.governance.baseline import BASELINE_INITIATIVE, baseline_directory, load_baseline
from warden.governance.policy import ComplianceState, Effect, evaluate, member_parameters

GROUP = "/subscriptions/s1/resourceGroups/rg"
NSG_ID = f"{GROUP}/providers/Microsoft.Network/networkSecurityGroups/nsg1"
report = load_baseline()


def rule(**properties: Any) -> dict[str, Any]:
    base = {
        "access": "Allow",
        "direction": "Inbound",
        "protocol": "Tcp",
        "sourceAddressPrefix": "Internet",
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "destinationPortRange": "3389",
        "priority": 100,
    }
    return {"name": "r1", "properties": {**base, **properties}}


def rule_resource(**properties: Any) -> dict[str, Any]:
    return {
        **rule(**properties),
        "id": f"{NSG_ID}/securityRules/r1",
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
    }


def nsg(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": NSG_ID,
        "name": "nsg1",
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "westeurope",
        "tags": {},
        "properties": {"securityRules": list(rules)},
    }


def outcome(name: str, resource: dict[str, Any], **options: Any) -> tuple[Effect, ComplianceState]:
    initiative = report.set_definitions[BASELINE_INITIATIVE]
    reference = next(r for r in initiative.definitions if r.definition_name == name)
    values = member_parameters(initiative, reference, None)
    result = evaluate(report.definitions[name], resource, values, **options)
    return result.effect, result.compliance_state


def test_baseline_loads_with_every_member() -> None:
    assert report.ok, (report.failures, report.reference_problems)
    initiative = report.set_definitions[BASELINE_INITIATIVE]
    assert {r.definition_name for r in initiative.definitions} == set(report.definitions)
    assert len(report.definitions) == 6
    # the ones standing for an Azure built-in keep its ID
    assert report.definitions["e372f825-a257-4fb8-9175-797a8a8627d6"].id == (
        "/providers/Microsoft.Authorization/policyDefinitions/e372f825-a257-4fb8-9175-797a8a8627d6"
    )


def test_rdp_and_ssh_from_the_internet() -> None:
    rdp, ssh = "e372f825-a257-4fb8-9175-797a8a8627d6", "2c89a2e5-7285-40fe-afe0-ae8654b92fab"
    assert outcome(rdp, rule_resource()) == (Effect.AUDIT, ComplianceState.NON_COMPLIANT)
    assert outcome(rdp, rule_resource(destinationPortRange="3000-4000"))[0] is Effect.AUDIT
    assert outcome(rdp, rule_resource(destinationPortRange="*", sourceAddressPrefix="*"))[0] is Effect.AUDIT
    assert outcome(rdp, rule_resource(destinationPortRange=None, destinationPortRanges=["443", "3389"]))[0] is (
        Effect.AUDIT
    )
    assert outcome(rdp, rule_resource(sourceAddressPrefix="10.0.0.0/8")) == (Effect.NONE, ComplianceState.COMPLIANT)
    assert outcome(rdp, rule_resource(access="Deny"))[0] is Effect.NONE
    assert outcome(rdp, rule_resource(destinationPortRange="22"))[0] is Effect.NONE
    assert outcome(ssh, rule_resource(destinationPortRange="22"))[0] is Effect.AUDIT
    assert outcome(ssh, rule_resource(destinationPortRange="1-21"))[0] is Effect.NONE


def test_inline_management_ports() -> None:
    name = "warden-nsg-management-ports-internet"
    assert outcome(name, nsg(rule(destinationPortRange="443"), rule(destinationPortRange="22"))) == (
        Effect.AUDIT,
        ComplianceState.NON_COMPLIANT,
    )
    assert outcome(name, nsg(rule(destinationPortRange="443"), rule(access="Deny"))) == (
        Effect.NONE,
        ComplianceState.COMPLIANT,
    )
    assert outcome(name, nsg())[1] is ComplianceState.COMPLIANT


def test_subnets_without_nsg() -> None:
    name = "warden-subnets-without-nsg"
    vnet_id = f"{GROUP}/providers/Microsoft.Network/virtualNetworks/v1"
    subnet = {
        "id": f"{vnet_id}/subnets/app",
        "name": "app",
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {"addressPrefix": "10.0.0.0/24"},
    }
    assert outcome(name, subnet)[0] is Effect.AUDIT
    protected = {**subnet, "properties": {"networkSecurityGroup": {"id": NSG_ID}}}
    assert outcome(name, protected)[0] is Effect.NONE
    assert outcome(name, {**subnet, "name": "GatewaySubnet"})[0] is Effect.NONE
    vnet = {
        "id": vnet_id,
        "name": "v1",
        "type": "Microsoft.Network/virtualNetworks",
        "location": "westeurope",
        "properties": {
            "subnets": [
                {"name": "GatewaySubnet", "properties": {}},
                {"name": "app", "properties": {"networkSecurityGroup": {"id": NSG_ID}}},
            ]
        },
    }
    assert outcome(name, vnet)[0] is Effect.NONE
    vnet["properties"]["subnets"].append({"name": "data", "properties": {}})
    assert outcome(name, vnet)[0] is Effect.AUDIT


def test_diagnostic_settings_and_flow_logs() -> None:
    diagnostics = "7f89b1eb-583c-429a-8828-af049802c1d9"
    setting = {
        "id": f"{NSG_ID}/providers/Microsoft.Insights/diagnosticSettings/to-workspace",
        "name": "to-workspace",
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "logs": [{"category": "NetworkSecurityGroupEvent", "enabled": True}],
            "metrics": [{"category": "AllMetrics", "enabled": True}],
        },
    }
    assert outcome(diagnostics, nsg()) == (Effect.AUDIT_IF_NOT_EXISTS, ComplianceState.NON_COMPLIANT)
    assert outcome(diagnostics, nsg(), related=[setting]) == (Effect.NONE, ComplianceState.COMPLIANT)
    no_logs = {**setting, "properties": {**setting["properties"], "logs": [{"category": "x", "enabled": False}]}}
    assert outcome(diagnostics, nsg(), related=[no_logs])[1] is ComplianceState.NON_COMPLIANT
    flow = "c251913d-7d24-4958-af87-478ed3b9ba41"
    assert outcome(flow, nsg())[0] is Effect.AUDIT
    logged = nsg()
    logged["properties"]["flowLogs"] = [{"id": f"{GROUP}/providers/Microsoft.Network/networkWatchers/w/flowLogs/f"}]
    assert outcome(flow, logged)[0] is Effect.NONE


def test_policy_check_uses_the_baseline_by_default(tmp_path: Path) -> None:
    template = {
        "resources": [
            {
                "type": "Microsoft.Network/networkSecurityGroups",
                "apiVersion": "2023-04-01",
                "name": "open",
                "location": "[resourceGroup().location]",
                "properties": {"securityRules": [rule()]},
            },
        ]
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    result = CliRunner().invoke(app, ["policy", "check", str(path), "--output", "json"])
    assert result.exit_code == 0, result.output
    found = {f["policyDefinition"] for f in json.loads(result.stdout)["findings"]}
    assert "warden-nsg-management-ports-internet" in found
    assert baseline_directory().is_dir()
