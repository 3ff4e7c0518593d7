"""``warden policy check`` and the template expansion under it (``warden.governance.templates``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from warden.cli.main import app
from warden.governance.templates import DeploymentScope, TemplateError, expand_template

runner = CliRunner()
NSG_TYPE = "Microsoft.Network/networkSecurityGroups"

TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {
        "prefix": {"type": "string", "defaultValue": "app"},
        "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        "count": {"type": "int", "defaultValue": 2},
        "openPort": {"type": "string", "defaultValue": "3389"},
    },
    "variables": {
        "nsgName": "[concat(parameters('prefix'), '-nsg')]",
        "ports": ["22", "[parameters('openPort')]"],
    },
    "resources": [
        {
            "type": NSG_TYPE,
            "apiVersion": "2023-04-01",
            "name": "[variables('nsgName')]",
            "location": "[parameters('location')]",
            "tags": {"env": "dev"},
            "properties": {
                "copy": [
                    {
                        "name": "securityRules",
                        "count": "[length(variables('ports'))]",
                        "input": {
                            "name": "[concat('allow-', variables('ports')[copyIndex('securityRules')])]",
                            "properties": {
                                "access": "Allow",
                                "direction": "Inbound",
                                "protocol": "Tcp",
                                "sourceAddressPrefix": "*",
                                "destinationPortRange": "[variables('ports')[copyIndex('securityRules')]]",
                                "priority": "[add(100, copyIndex('securityRules'))]",
                            },
                        },
                    }
                ]
            },
        },
        {
            "type": "Microsoft.Network/virtualNetworks",
            "apiVersion": "2023-04-01",
            "name": "[concat(parameters('prefix'), '-vnet', copyIndex(1))]",
            "location": "[parameters('location')]",
            "copy": {"name": "vnets", "count": "[parameters('count')]"},
            "properties": {"addressSpace": {"addressPrefixes": ["[concat('10.', copyIndex(), '.0.0/16')]"]}},
            "resources": [
                {
                    "type": "subnets",
                    "apiVersion": "2023-04-01",
                    "name": "default",
                    "properties": {"addressPrefix": "[concat('10.', copyIndex(), '.0.0/24')]"},
                }
            ],
        },
        {
            "type": "Microsoft.Storage/storageAccounts",
            "apiVersion": "2023-01-01",
            "name": "[concat(parameters('prefix'), uniqueString(resourceGroup().id))]",
            "condition": "[equals(parameters('prefix'), 'never')]",
            "location": "[parameters('location')]",
        },
        {
            "type": "Microsoft.Web/sites",
            "apiVersion": "2023-01-01",
            "name": "[concat(parameters('prefix'), '-web')]",
            "location": "[parameters('location')]",
            "properties": {"serverFarmId": "[reference('plan').id]"},
        },
    ],
}

MANAGEMENT_PORTS = {
    "name": "deny-open-management-ports",
    "properties": {
        "displayName": "Management ports should not be open to the Internet",
        "mode": "All",
        "parameters": {"effect": {"type": "String", "defaultValue": "Deny"}},
        "policyRule": {
            "if": {
                "allOf": [
                    {"field": "type", "equals": NSG_TYPE},
                    {
                        "count": {
                            "field": "Microsoft.Network/networkSecurityGroups/securityRules[*]",
                            "where": {
                                "allOf": [
                                    {
                                        "field": "Microsoft.Network/networkSecurityGroups/securityRules[*].access",
                                        "equals": "Allow",
                                    },
                                    {
                                        "field": "Microsoft.Network/networkSecurityGroups/securityRules[*].direction",
                                        "equals": "Inbound",
                                    },
                                    {
                                        "field": (
                                            "Microsoft.Network/networkSecurityGroups/securityRules[*]"
                                            ".destinationPortRange"
                                        ),
                                        "in": ["22", "3389", "*"],
                                    },
                                ]
                            },
                        },
                        "greater": 0,
                    },
                ]
            },
            "then": {"effect": "[parameters('effect')]"},
        },
    },
}

REQUIRE_TAG = {
    "name": "audit-owner-tag",
    "properties": {
        "displayName": "Resources should have an owner tag",
        "mode": "Indexed",
        "policyRule": {"if": {"field": "tags['owner']", "exists": "false"}, "then": {"effect": "audit"}},
    },
}


def write(directory: Path, name: str, data: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(data))
    return path


def check(*args: str, code: int) -> Any:
    result = runner.invoke(app, ["policy", "check", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"raised {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


# --- expansion --------------------------------------------------------------------------------


def test_expansion_evaluates_parameters_variables_and_copy_loops() -> None:
    where = DeploymentScope("11111111-1111-1111-1111-111111111111", "rg1", "northeurope")
    expanded = {e.document["name"]: e for e in expand_template(TEMPLATE, where=where)}
    assert sorted(expanded) == [
        "app-nsg",
        "app-vnet1",
        "app-vnet1/default",
        "app-vnet2",
        "app-vnet2/default",
        "app-web",
    ]  # the storage account's condition is false
    nsg = expanded["app-nsg"].document
    assert nsg["id"] == (
        "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg1/providers/"
        "Microsoft.Network/networkSecurityGroups/app-nsg"
    )
    assert nsg["location"] == "northeurope"  # a default that is itself an expression
    rules = nsg["properties"]["securityRules"]
    assert [(r["name"], r["properties"]["destinationPortRange"], r["properties"]["priority"]) for r in rules] == [
        ("allow-22", "22", 100),
        ("allow-3389", "3389", 101),
    ]
    assert expanded["app-vnet2"].document["properties"]["addressSpace"]["addressPrefixes"] == ["10.1.0.0/16"]
    subnet = expanded["app-vnet2/default"]
    assert subnet.document["type"] == "Microsoft.Network/virtualNetworks/subnets"
    assert subnet.document["id"].endswith("/virtualNetworks/app-vnet2/subnets/default")
    assert subnet.document["properties"]["addressPrefix"] == "10.1.0.0/24"
    assert subnet.path == "resources[1][copy 1].resources[0]"
    web = expanded["app-web"]
    assert web.document["properties"]["serverFarmId"] == "[reference('plan').id]"
    assert web.unresolved and "reference" in web.unresolved[0]


def test_expansion_takes_given_parameters_and_reports_missing_ones() -> None:
    template = {
        "parameters": {"name": {"type": "string"}},
        "resources": [{"type": NSG_TYPE, "name": "[parameters('name')]", "location": "eastus"}],
    }
    [missing] = expand_template(template)
    assert missing.unresolved and "no value" in missing.unresolved[0]
    [given] = expand_template(template, {"name": {"value": "nsg-x"}})
    assert given.document["name"] == "nsg-x" and not given.unresolved
    with pytest.raises(TemplateError):
        expand_template({"parameters": {}})


def test_symbolic_resources_and_subscription_templates() -> None:
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
        "languageVersion": "2.0",
        "resources": {
            "rg": {"type": "Microsoft.Resources/resourceGroups", "name": "rg-new", "location": "westeurope"},
        },
    }
    [group] = expand_template(template, where=DeploymentScope("s1"))
    assert group.document["id"] == "/subscriptions/s1/resourceGroups/rg-new"
    assert group.document["type"] == "Microsoft.Resources/subscriptions/resourceGroups"
    assert group.path == "resources.rg"


# --- the CLI ----------------------------------------------------------------------------------


def test_check_denies_open_management_ports_and_exits_1(tmp_path: Path) -> None:
    template = write(tmp_path, "t.json", TEMPLATE)
    policies = tmp_path / "policies"
    write(policies, "ports.json", MANAGEMENT_PORTS)
    write(policies, "tag.json", REQUIRE_TAG)
    result = check(str(template), "--assignments", str(policies), "--output", "json", code=1)
    report = json.loads(result.stdout)
    assert report["resources"] == 6 and report["policies"] == 2 and report["denied"] == 1
    denied = [f for f in report["findings"] if f["effect"] == "deny"]
    assert [(f["name"], f["policyDefinition"]) for f in denied] == [("app-nsg", "deny-open-management-ports")]
    count_reason = next(r for r in denied[0]["reasons"] if "count" in r)
    assert count_reason["actual"] == 2
    audited = sorted(f["name"] for f in report["findings"] if f["effect"] == "audit")
    # Indexed mode: subnets (no tags/location) are not evaluated
    assert audited == ["app-nsg", "app-vnet1", "app-vnet2", "app-web"]
    assert any(u["templatePath"] == "resources[3]" for u in report["unresolved"])


def test_check_passes_when_parameters_close_the_port(tmp_path: Path) -> None:
    template = dict(TEMPLATE)
    template["variables"] = {**TEMPLATE["variables"], "ports": ["443"]}
    path = write(tmp_path, "t.json", template)
    policies = tmp_path / "policies"
    write(policies, "ports.json", MANAGEMENT_PORTS)
    result = check(str(path), "--assignments", str(policies), code=0)
    assert "0 denied" in result.stdout


def test_assignment_files_parameters_and_do_not_enforce(tmp_path: Path) -> None:
    template = write(tmp_path, "t.json", TEMPLATE)
    policies = tmp_path / "policies"
    write(policies, "ports.json", MANAGEMENT_PORTS)
    write(
        policies,
        "assign-audit.json",
        {
            "name": "ports-audit-only",
            "properties": {
                "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/deny-open-management-ports",
                "parameters": {"effect": {"value": "Audit"}},
            },
        },
    )
    report = json.loads(check(str(template), "--assignments", str(policies), "--output", "json", code=0).stdout)
    assert [(f["assignment"], f["effect"]) for f in report["findings"]] == [("ports-audit-only", "audit")]
    write(
        policies,
        "assign-audit.json",
        {
            "name": "ports-not-enforced",
            "properties": {
                "policyDefinitionId": "deny-open-management-ports",
                "enforcementMode": "DoNotEnforce",
            },
        },
    )
    report = json.loads(check(str(template), "--assignments", str(policies), "--output", "json", code=0).stdout)
    assert [(f["assignment"], f["effect"]) for f in report["findings"]] == [("ports-not-enforced", "audit")]


def test_initiative_members_and_bad_inputs(tmp_path: Path) -> None:
    template = write(tmp_path, "t.json", TEMPLATE)
    policies = tmp_path / "policies"
    write(policies, "ports.json", MANAGEMENT_PORTS)
    write(
        policies,
        "set.json",
        {
            "name": "baseline",
            "properties": {
                "displayName": "baseline",
                "parameters": {"portsEffect": {"type": "String", "defaultValue": "Deny"}},
                "policyDefinitions": [
                    {
                        "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/"
                        "deny-open-management-ports",
                        "policyDefinitionReferenceId": "ports",
                        "parameters": {"effect": {"value": "[parameters('portsEffect')]"}},
                    }
                ],
            },
        },
    )
    report = json.loads(check(str(template), "--assignments", str(policies), "--output", "json", code=1).stdout)
    assert report["policies"] == 1  # the member is evaluated once, through its initiative
    [finding] = report["findings"]
    assert (finding["policySetDefinition"], finding["policyDefinitionReferenceId"]) == ("baseline", "ports")
    write(policies, "broken.json", {"properties": {"policyRule": {"if": {"field": "type", "equalz": "x"}}}})
    result = check(str(template), "--assignments", str(policies), code=1)
    assert "broken.json" in result.output and "policyRule" in result.output
    result = check(str(tmp_path / "missing.json"), "--assignments", str(policies), code=1)
    assert "does not exist" in result.output


# --- corpus templates -------------------------------------------------------------------------


def test_corpus_templates_expand_and_open_nsg_is_denied(tmp_path: Path, corpus_dir: Path) -> None:
    templates = sorted((corpus_dir / "templates").rglob("*.json"))
    if not templates:
        pytest.skip("no templates in the corpus")
    expanded = 0
    for path in templates:
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError:
            continue
        if not isinstance(document, dict) or "resources" not in document:
            continue
        for item in expand_template(document):  # must never raise on a real template
            # a copy loop whose count can't be evaluated yields a stub that says why
            assert item.document["id"].startswith("/") if "id" in item.document else item.unresolved
            expanded += 1
    assert expanded > 500
    open_nsg = corpus_dir / "templates/AzureStack-QuickStart-Templates/101-create-nsg/azuredeploy.json"
    if not open_nsg.exists():
        pytest.skip("101-create-nsg not in the corpus")
    policies = tmp_path / "policies"
    rule = json.loads(json.dumps(MANAGEMENT_PORTS))
    where = rule["properties"]["policyRule"]["if"]["allOf"][1]["count"]["where"]["allOf"][2]
    where["in"] = ["22", "3389", "*"]
    write(policies, "ports.json", rule)
    report = json.loads(check(str(open_nsg), "--assignments", str(policies), "--output", "json", code=1).stdout)
    assert [f["name"] for f in report["findings"]] == ["myNSG"]


def test_template_parameters_file(tmp_path: Path) -> None:
    template = {
        "parameters": {"port": {"type": "string"}},
        "resources": [
            {
                "type": NSG_TYPE,
                "name": "nsg",
                "location": "westeurope",
                "properties": {
                    "securityRules": [
                        {
                            "name": "in",
                            "properties": {
                                "access": "Allow",
                                "direction": "Inbound",
                                "destinationPortRange": "[parameters('port')]",
                            },
                        }
                    ]
                },
            }
        ],
    }
    path = write(tmp_path, "t.json", template)
    policies = tmp_path / "policies"
    write(policies, "ports.json", MANAGEMENT_PORTS)
    for port, code in (("22", 1), ("443", 0)):
        parameters = write(tmp_path, "p.json", {"parameters": {"port": {"value": port}}})
        report = json.loads(
            check(
                str(path),
                "--assignments",
                str(policies),
                "--parameters",
                str(parameters),
                "--output",
                "json",
                code=code,
            ).stdout
        )
        assert report["denied"] == code and not report["unresolved"]


def test_modify_applies_before_deny_as_at_write_time(tmp_path: Path) -> None:
    template = write(tmp_path, "t.json", TEMPLATE)
    policies = tmp_path / "policies"
    write(
        policies,
        "require-owner.json",
        {
            "name": "require-owner",
            "properties": {
                "mode": "Indexed",
                "policyRule": {"if": {"field": "tags['owner']", "exists": "false"}, "then": {"effect": "deny"}},
            },
        },
    )
    report = json.loads(check(str(template), "--assignments", str(policies), "--output", "json", code=1).stdout)
    assert report["denied"] == 4  # nsg, two vnets, web site (subnets: Indexed skips them)
    write(
        policies,
        "add-owner.json",
        {
            "name": "add-owner",
            "properties": {
                "mode": "Indexed",
                "policyRule": {
                    "if": {"field": "tags['owner']", "exists": "false"},
                    "then": {
                        "effect": "modify",
                        "details": {
                            "roleDefinitionIds": [
                                "/providers/Microsoft.Authorization/roleDefinitions/"
                                "b24988ac-6180-42a0-ab88-20f7382dd24c"
                            ],
                            "operations": [{"operation": "add", "field": "tags['owner']", "value": "platform"}],
                        },
                    },
                },
            },
        },
    )
    report = json.loads(check(str(template), "--assignments", str(policies), "--output", "json", code=0).stdout)
    assert report["denied"] == 0
    assert sorted(f["name"] for f in report["findings"] if f["effect"] == "modify") == [
        "app-nsg",
        "app-vnet1",
        "app-vnet2",
        "app-web",
    ]
