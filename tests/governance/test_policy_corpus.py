"""Azure's built-in policies (``../shared/corpus/policy``): every file loads, validates and evaluates.

Skips cleanly when the corpus is absent. Prints a summary (counts, effects seen) with ``-s``.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from warden.governance.policy import (
    ComplianceState,
    Effect,
    ImportReport,
    default_aliases,
    evaluate,
    import_directory,
    load_aliases,
    load_definition,
    sample_parameters,
    sample_resource,
)

SUB = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg"


@pytest.fixture(scope="module")
def builtin_dir(corpus_dir: Path) -> Path:
    path = corpus_dir / "policy" / "builtin"
    if not path.is_dir():
        pytest.skip(f"no built-in policies under {path}")
    return path


@pytest.fixture(scope="module")
def report(builtin_dir: Path) -> ImportReport:
    return import_directory(builtin_dir)


def test_every_builtin_definition_and_initiative_loads_and_validates(builtin_dir, report):
    definition_files = len(list((builtin_dir / "policyDefinitions").rglob("*.json")))
    initiative_files = len(list((builtin_dir / "policySetDefinitions").rglob("*.json")))
    failures = "\n".join(f"{path}: {reason}" for path, reason in report.failures)
    assert not report.failures, f"{len(report.failures)} file(s) failed static validation:\n{failures}"
    assert len(report.definitions) == definition_files == 3594
    assert len(report.set_definitions) == initiative_files
    print(f"\nloaded {len(report.definitions)} definitions and {len(report.set_definitions)} initiatives")


def test_every_initiative_member_resolves(report):
    problems = "\n".join(f"{path}: {problem}" for path, problem in report.reference_problems)
    assert not report.reference_problems, problems


def test_every_definition_evaluates_on_synthetic_resources(report):
    """Each definition against a bare and a populated resource of its target type.

    ``evaluate`` must not raise: a failing function or comparison is Azure's implicit deny
    (compliance state Error), which synthetic values legitimately trigger (e.g. ``addDays`` on an
    absent date), so those are counted, not failed.
    """
    outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
    errors: list[str] = []
    exceptions: list[str] = []
    for key, definition in report.definitions.items():
        parameters = sample_parameters(definition)
        for populate in (False, True):
            resource = sample_resource(definition, populate=populate)
            try:
                result = evaluate(definition, resource, parameters)
            except Exception as exc:  # any exception is a finding to list
                exceptions.append(f"{report.files[key]} (populate={populate}): {exc!r}")
                continue
            outcomes[(result.effect.value, result.compliance_state.value)] += 1
            json.dumps(result.to_dict())  # results are JSON-serialisable
            if result.compliance_state is ComplianceState.ERROR:
                errors.append(f"{report.files[key]}: {result.error}")
    assert not exceptions, "\n".join(exceptions)
    assert sum(outcomes.values()) == 2 * len(report.definitions)
    print(f"\nevaluated {sum(outcomes.values())} times; errors (implicit deny): {len(errors)}")
    for (effect, state), count in outcomes.most_common():
        print(f"  {effect:>20} {state:<14} {count}")
    assert len(errors) < 0.05 * sum(outcomes.values())


def test_shipped_aliases_are_taken_from_the_corpus_table(corpus_dir):
    corpus = json.loads((corpus_dir / "policy" / "aliases.json").read_text())
    shipped = default_aliases().to_json()
    assert 500 < len(shipped) < 5000
    for name, entry in shipped.items():
        source = corpus[name]
        if "byResourceType" in entry:
            for resource_type, path in entry["byResourceType"].items():
                assert source["byResourceType"][resource_type] == path
        else:
            assert source["defaultPath"] == entry["defaultPath"], name


def test_the_full_alias_table_imports(corpus_dir):
    table = load_aliases(corpus_dir / "policy" / "aliases.json")
    assert len(table) == 76154
    vm, disk = "Microsoft.Compute/virtualMachines", "Microsoft.Compute/disks"
    assert table.path("Microsoft.Compute/imageSku", vm) == ("properties", "storageProfile", "imageReference", "sku")
    assert table.path("Microsoft.Compute/imageId", disk) == ("properties", "creationData", "imageReference", "id")
    storage = "Microsoft.Storage/storageAccounts"
    assert table.path(f"{storage}/networkAcls.ipRules[*].value", storage) == (
        "properties", "networkAcls", "ipRules", "[*]", "value")  # fmt: skip


def _builtin(report: ImportReport, name: str):
    return report.definitions[name]


def test_real_builtins_on_crafted_resources(report):
    # Gateway subnets should not be configured with a network security group (deny)
    gateway = _builtin(report, "35f9c03a-cc27-418e-9c0c-539ff999d010")
    subnet = {
        "id": f"{SUB}/providers/Microsoft.Network/virtualNetworks/v/subnets/GatewaySubnet",
        "name": "GatewaySubnet",
        "type": "Microsoft.Network/virtualNetworks/subnets",
        "properties": {"addressPrefix": "10.0.0.0/27", "networkSecurityGroup": {"id": f"{SUB}/providers/x/y/nsg"}},
    }
    assert evaluate(gateway, subnet).effect is Effect.DENY
    bare = dict(subnet, properties={"addressPrefix": "10.0.0.0/27"})
    assert evaluate(gateway, bare).compliance_state is ComplianceState.COMPLIANT

    # RDP access from the Internet should be blocked (audit), including port ranges
    rdp = _builtin(report, "e372f825-a257-4fb8-9175-797a8a8627d6")

    def rule(port, source="*"):
        return {
            "id": f"{SUB}/providers/Microsoft.Network/networkSecurityGroups/n/securityRules/r",
            "name": "r",
            "type": "Microsoft.Network/networkSecurityGroups/securityRules",
            "properties": {
                "access": "Allow",
                "direction": "Inbound",
                "destinationPortRange": port,
                "sourceAddressPrefix": source,
                "protocol": "Tcp",
            },
        }

    assert evaluate(rdp, rule("3389")).effect is Effect.AUDIT
    assert evaluate(rdp, rule("3000-4000")).effect is Effect.AUDIT
    assert evaluate(rdp, rule("22")).compliance_state is ComplianceState.COMPLIANT
    assert evaluate(rdp, rule("3389"), {"effect": "Disabled"}).effect is Effect.DISABLED

    # Allowed locations (deny), with the assignment's parameter
    locations = _builtin(report, "e56962a6-4747-49cd-b67b-bf8b01975c4c")
    vnet = {"id": f"{SUB}/providers/Microsoft.Network/virtualNetworks/v", "name": "v",
            "type": "Microsoft.Network/virtualNetworks", "location": "East US", "tags": {}}  # fmt: skip
    allowed = {"listOfAllowedLocations": ["westeurope", "northeurope"]}
    assert evaluate(locations, vnet, allowed).effect is Effect.DENY
    assert evaluate(locations, dict(vnet, location="West Europe"), allowed).effect is Effect.NONE

    # Require a tag on resources (deny)
    require = _builtin(report, "871b6d14-10aa-478d-b590-94f262ecfa99")
    assert evaluate(require, vnet, {"tagName": "costCenter"}).effect is Effect.DENY
    tagged = dict(vnet, tags={"CostCenter": "42"})
    assert evaluate(require, tagged, {"tagName": "costCenter"}).effect is Effect.NONE


def test_builtin_files_load_one_by_one(builtin_dir):
    # the single-file entry point accepts a built-in's file path as is
    path = next((builtin_dir / "policyDefinitions" / "Network").glob("*.json"))
    definition = load_definition(path)
    assert definition.name == json.loads(path.read_text(encoding="utf-8-sig"))["name"]
