"""``warden policy test``: the offline policy tester, driven through Typer's CliRunner on real files
(and once as a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from warden.cli.main import app

runner = CliRunner()

ALLOWED_LOCATIONS = {
    "properties": {
        "displayName": "Allowed locations",
        "mode": "Indexed",
        "parameters": {
            "listOfAllowedLocations": {"type": "Array", "defaultValue": ["westeurope"]},
            "effect": {"type": "String", "defaultValue": "Deny", "allowedValues": ["Audit", "Deny", "Disabled"]},
        },
        "policyRule": {
            "if": {
                "allOf": [
                    {"field": "location", "notIn": "[parameters('listOfAllowedLocations')]"},
                    {"field": "location", "notEquals": "global"},
                ]
            },
            "then": {"effect": "[parameters('effect')]"},
        },
    },
    "name": "allowed-locations",
}

NSG = {
    "id": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg1",
    "name": "nsg1",
    "type": "Microsoft.Network/networkSecurityGroups",
    "location": "eastus",
    "tags": {},
    "properties": {"securityRules": []},
}


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"raised {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def test_json_output_reports_deny_with_reasons(tmp_path: Path) -> None:
    definition = write(tmp_path, "d.json", ALLOWED_LOCATIONS)
    resource = write(tmp_path, "r.json", NSG)
    out = json.loads(
        run("policy", "test", "--definition", str(definition), "--resource", str(resource), "--output", "json").stdout
    )
    assert out["effect"] == "deny"
    assert out["complianceState"] == "NonCompliant"
    first = out["reasons"][0]
    assert first["field"] == "location" and first["operator"] == "notIn" and first["actual"] == "eastus"
    assert first["expected"] == ["westeurope"]


def test_parameters_file_changes_the_outcome(tmp_path: Path) -> None:
    definition = write(tmp_path, "d.json", ALLOWED_LOCATIONS)
    resource = write(tmp_path, "r.json", NSG)
    # An ARM parameters file, as Azure's assignment tooling writes them.
    params = write(
        tmp_path,
        "p.json",
        {
            "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
            "parameters": {"listOfAllowedLocations": {"value": ["eastus"]}, "effect": {"value": "Audit"}},
        },
    )
    out = json.loads(
        run(
            "policy",
            "test",
            "--definition",
            str(definition),
            "--resource",
            str(resource),
            "--parameters",
            str(params),
            "--output",
            "json",
        ).stdout
    )
    assert out == {**out, "effect": "none", "complianceState": "Compliant"}
    plain = write(tmp_path, "p2.json", {"listOfAllowedLocations": ["northeurope"], "effect": "Audit"})
    out = json.loads(
        run(
            "policy",
            "test",
            "--definition",
            str(definition),
            "--resource",
            str(resource),
            "--parameters",
            str(plain),
            "--output",
            "json",
        ).stdout
    )
    assert (out["effect"], out["complianceState"]) == ("audit", "NonCompliant")


def test_bare_definition_and_table_output(tmp_path: Path) -> None:
    bare = ALLOWED_LOCATIONS["properties"]
    definition = write(tmp_path, "d.json", bare)
    resource = write(tmp_path, "r.json", {**NSG, "location": "westeurope"})
    result = run("policy", "test", "--definition", str(definition), "--resource", str(resource))
    assert "effect: none" in result.stdout
    assert "complianceState: Compliant" in result.stdout
    assert "location" in result.stdout


def test_request_context_file(tmp_path: Path) -> None:
    definition = write(
        tmp_path,
        "d.json",
        {
            "mode": "All",
            "policyRule": {
                "if": {"value": "[requestContext().apiVersion]", "less": "2021-01-01"},
                "then": {"effect": "deny"},
            },
        },
    )
    resource = write(tmp_path, "r.json", NSG)
    old = write(tmp_path, "old.json", {"apiVersion": "2019-09-01"})
    new = write(tmp_path, "new.json", {"apiVersion": "2023-09-01"})
    base = ("policy", "test", "--definition", str(definition), "--resource", str(resource), "--output", "json")
    assert json.loads(run(*base, "--request", str(old)).stdout)["effect"] == "deny"
    assert json.loads(run(*base, "--request", str(new)).stdout)["effect"] == "none"


def test_invalid_definition_names_the_json_path(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(ALLOWED_LOCATIONS))
    broken["properties"]["policyRule"]["if"]["allOf"][1] = {"field": "location", "equalz": "global"}
    definition = write(tmp_path, "d.json", broken)
    resource = write(tmp_path, "r.json", NSG)
    result = run("policy", "test", "--definition", str(definition), "--resource", str(resource), code=1)
    assert "properties.policyRule.if.allOf[1].equalz" in result.output
    assert "InvalidPolicyRule" in result.output


def test_bad_parameters_and_missing_files_fail_cleanly(tmp_path: Path) -> None:
    definition = write(tmp_path, "d.json", ALLOWED_LOCATIONS)
    resource = write(tmp_path, "r.json", NSG)
    params = write(tmp_path, "p.json", {"effect": "Explode"})
    result = run(
        "policy",
        "test",
        "--definition",
        str(definition),
        "--resource",
        str(resource),
        "--parameters",
        str(params),
        code=1,
    )
    assert "effect" in result.output and "InvalidPolicyParameters" in result.output
    result = run("policy", "test", "--definition", str(tmp_path / "nope.json"), "--resource", str(resource), code=1)
    assert "does not exist" in result.output
    (tmp_path / "bad.json").write_text("{not json")
    result = run("policy", "test", "--definition", str(tmp_path / "bad.json"), "--resource", str(resource), code=1)
    assert "not valid JSON" in result.output


def test_builtin_file_through_a_real_subprocess(tmp_path: Path, corpus_dir: Path) -> None:
    builtin = corpus_dir / "policy/builtin/policyDefinitions/Network/NetworkSecurityGroup_RDPAccess_Audit.json"
    if not builtin.exists():
        pytest.skip("built-in RDP definition not in the corpus")
    # The built-in targets the security rule child resource.
    rule = {
        "id": NSG["id"] + "/securityRules/rdp",
        "name": "rdp",
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": {
            "access": "Allow",
            "direction": "Inbound",
            "protocol": "TCP",
            "destinationPortRange": "3389",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "priority": 100,
        },
    }
    open_rdp = rule
    closed = {**rule, "properties": {**rule["properties"], "sourceAddressPrefix": "10.0.0.0/8"}}
    outcomes = {}
    for name, resource in (("open", open_rdp), ("closed", closed)):
        path = write(tmp_path, f"{name}.json", resource)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "warden.cli.main",
                "policy",
                "test",
                "--definition",
                str(builtin),
                "--resource",
                str(path),
                "--output",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outcomes[name] = json.loads(done.stdout)
    assert outcomes["open"]["complianceState"] == "NonCompliant"
    assert outcomes["open"]["effect"] in ("audit", "auditIfNotExists", "deny")
    assert outcomes["closed"]["effect"] == "none"
