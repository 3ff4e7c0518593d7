"""``warden policy import`` and ``warden policy aliases import`` against a real server."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from warden.cli.main import app

pytestmark = pytest.mark.e2e
runner = CliRunner()
API = {"api-version": "2023-04-01"}
RG_API = {"api-version": "2021-04-01"}
ROOT = "/providers/Microsoft.Authorization"


def cli(server: Any, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--data-dir", str(server.data_dir)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"raised {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert server.bootstrap["clientSecret"] not in result.output
    return result


def write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_import_definitions_and_initiatives(warden_server: Any, arm: httpx.Client, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    source = tmp_path / "builtin"
    definition_name = f"require-env-{tag}"
    write(
        source / "policyDefinitions" / "Tags" / "require_env.json",
        {
            "name": definition_name,
            "type": "Microsoft.Authorization/policyDefinitions",
            "properties": {
                "displayName": "Require an env tag",
                "policyType": "BuiltIn",
                "mode": "Indexed",
                "parameters": {"effect": {"type": "String", "defaultValue": "Audit"}},
                "policyRule": {"if": {"field": "tags['env']", "exists": "false"}, "then": {"effect": "audit"}},
            },
        },
    )
    write(
        source / "policySetDefinitions" / "Tags" / "set.json",
        {
            "name": f"tag-set-{tag}",
            "properties": {
                "displayName": "Tag set",
                "policyDefinitions": [
                    {
                        "policyDefinitionId": f"{ROOT}/policyDefinitions/{definition_name}",
                        "policyDefinitionReferenceId": "env",
                    }
                ],
            },
        },
    )
    write(source / "policyDefinitions" / "broken.json", {"properties": {"mode": "All", "policyRule": {"if": {}}}})
    result = cli(warden_server, "policy", "import", str(source), "--output", "json", code=1)
    report = json.loads(result.stdout)
    assert report["policyDefinitions"] == 1 and report["policySetDefinitions"] == 1
    assert [f["file"] for f in report["failures"]] == ["policyDefinitions/broken.json"]
    try:
        stored = arm.get(f"{ROOT}/policyDefinitions/{definition_name}", params=API)
        assert stored.status_code == 200, stored.text
        assert stored.json()["id"] == f"{ROOT}/policyDefinitions/{definition_name}"
        assert stored.json()["properties"]["policyRule"]["then"]["effect"] == "audit"
        initiative = arm.get(f"{ROOT}/policySetDefinitions/tag-set-{tag}", params=API)
        assert initiative.status_code == 200, initiative.text
        # importing again updates in place
        again = json.loads(cli(warden_server, "policy", "import", str(source), "--output", "json", code=1).stdout)
        assert again["policyDefinitions"] == 1 and again["policySetDefinitions"] == 1
    finally:
        arm.delete(f"{ROOT}/policySetDefinitions/tag-set-{tag}", params=API)
        arm.delete(f"{ROOT}/policyDefinitions/{definition_name}", params=API)


def test_import_corpus_network_definitions(
    warden_server: Any, arm: httpx.Client, tmp_path: Path, corpus_dir: Path
) -> None:
    network = corpus_dir / "policy/builtin/policyDefinitions/Network"
    files = sorted(network.glob("NetworkSecurityGroup_*.json"))[:4]
    if not files:
        pytest.skip("no NSG built-ins in the corpus")
    source = tmp_path / "subset"
    source.mkdir()
    for path in files:
        shutil.copy(path, source / path.name)  # a scratch copy for the test, outside the project
    names = [json.loads(p.read_text(encoding="utf-8-sig"))["name"] for p in files]
    report = json.loads(cli(warden_server, "policy", "import", str(source), "--output", "json").stdout)
    try:
        assert report["policyDefinitions"] == len(files) and not report["failures"]
        for name in names:
            response = arm.get(f"{ROOT}/policyDefinitions/{name}", params=API)
            assert response.status_code == 200, response.text
    finally:
        for name in names:
            arm.delete(f"{ROOT}/policyDefinitions/{name}", params=API)


def test_aliases_import_changes_what_evaluation_sees(warden_server: Any, arm: httpx.Client, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    prefix = f"rg-alias-{tag}"
    alias = f"Microsoft.Resources/subscriptions/resourceGroups/ownerMirror{tag}"
    sub = warden_server.sub_scope()
    definition_id = f"{sub}/providers/Microsoft.Authorization/policyDefinitions/alias-{tag}"
    assignment_id = f"{sub}/providers/Microsoft.Authorization/policyAssignments/alias-{tag}"
    rule = {
        "if": {
            "allOf": [
                {"field": "type", "equals": "Microsoft.Resources/subscriptions/resourceGroups"},
                {"field": "name", "like": f"{prefix}*"},
                {"field": alias, "equals": "mallory"},
            ]
        },
        "then": {"effect": "deny"},
    }
    assert (
        arm.put(definition_id, params=API, json={"properties": {"mode": "All", "policyRule": rule}}).status_code == 201
    )
    assert (
        arm.put(assignment_id, params=API, json={"properties": {"policyDefinitionId": definition_id}}).status_code
        == 201
    )
    group = f"{sub}/resourceGroups/{prefix}"
    body = {"location": "westeurope", "tags": {"owner": "mallory"}}
    try:
        # Not in any table: the alias falls back to properties.ownerMirror..., which is missing.
        assert arm.put(f"{group}-1", params=RG_API, json=body).status_code == 201
        table = tmp_path / "aliases.json"
        write(table, {alias: {"defaultPath": "tags.owner"}})
        result = cli(warden_server, "policy", "aliases", "import", str(table))
        assert "Imported 1 aliases" in result.output
        assert (warden_server.data_dir / "policy" / "aliases.json").exists()
        assert cli(warden_server, "policy", "aliases", "show", alias).stdout.strip() == "tags.owner"
        time.sleep(1.2)  # the server looks at the file at most once a second
        denied = arm.put(f"{group}-2", params=RG_API, json=body)
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["code"] == "RequestDisallowedByPolicy"
        assert arm.get(f"{group}-2", params=RG_API).status_code == 404
        bad = tmp_path / "bad.json"
        bad.write_text("[1, 2]")
        cli(warden_server, "policy", "aliases", "import", str(bad), code=1)
    finally:
        arm.delete(assignment_id, params=API)
        arm.delete(definition_id, params=API)
        for suffix in ("-1", "-2"):
            arm.delete(f"{group}{suffix}", params=RG_API)


def test_import_the_baseline_and_assign_it(warden_server: Any, arm: httpx.Client) -> None:
    report = json.loads(cli(warden_server, "policy", "import", "--baseline", "--output", "json").stdout)
    initiative = f"{ROOT}/policySetDefinitions/warden-security-baseline"
    names = [
        "warden-nsg-management-ports-internet",
        "warden-subnets-without-nsg",
        "e372f825-a257-4fb8-9175-797a8a8627d6",
        "2c89a2e5-7285-40fe-afe0-ae8654b92fab",
        "c251913d-7d24-4958-af87-478ed3b9ba41",
        "7f89b1eb-583c-429a-8828-af049802c1d9",
    ]
    group = f"{warden_server.sub_scope()}/resourceGroups/rg-base-{uuid.uuid4().hex[:6]}"
    assignment = f"{group}/providers/Microsoft.Authorization/policyAssignments/baseline"
    try:
        assert report == {"policyDefinitions": 6, "policySetDefinitions": 1, "failures": []}
        shown = arm.get(initiative, params=API)
        assert shown.status_code == 200 and len(shown.json()["properties"]["policyDefinitions"]) == 6
        assert arm.put(group, params=RG_API, json={"location": "westeurope"}).status_code == 201
        response = arm.put(assignment, params=API, json={"properties": {"policyDefinitionId": initiative}})
        assert response.status_code == 201, response.text
        cli(warden_server, "policy", "import", code=1)  # neither a directory nor --baseline
    finally:
        arm.delete(assignment, params=API)
        deleted = arm.delete(group, params=RG_API)
        deadline = time.monotonic() + 30
        while deleted.status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.2)
            deleted = arm.get(deleted.headers["Location"])
        arm.delete(initiative, params=API)
        for name in names:
            arm.delete(f"{ROOT}/policyDefinitions/{name}", params=API)
