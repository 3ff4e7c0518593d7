"""Golden cases for the policy engine: definition + resource (+ request) -> effect, compliance state, reasons.

The array cases replay the examples of Azure's "Author policies for array properties" page on
its sample resource (``Microsoft.Test/resourceType``), so the ``[*]`` and ``count`` semantics are
checked against the documented tables, not against our own reading of them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warden.governance.policy import (
    EFFECT_ORDER,
    ComplianceState,
    Effect,
    PolicyDefinitionError,
    PolicyError,
    PolicyParameterError,
    default_aliases,
    evaluate,
    evaluate_set_definition,
    load_aliases,
    load_definition,
    load_set_definition,
    member_parameters,
    rollup_compliance,
)

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
SUB = "/subscriptions/11111111-1111-1111-1111-111111111111"
RG = f"{SUB}/resourceGroups/rg-net"

NSG = {
    "id": f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg1",
    "name": "nsg1",
    "type": "Microsoft.Network/networkSecurityGroups",
    "location": "West Europe",
    "tags": {"env": "prod", "Cost.Center": "42", "it's": "quoted"},
    "identity": {"type": "SystemAssigned"},
    "properties": {
        "securityRules": [
            {
                "name": "ssh",
                "properties": {
                    "access": "Allow",
                    "direction": "Inbound",
                    "destinationPortRange": "22",
                    "sourceAddressPrefix": "*",
                    "priority": 100,
                    "destinationAddressPrefixes": ["10.0.0.4", "10.0.0.5"],
                },
            },
            {
                "name": "web",
                "properties": {
                    "access": "Allow",
                    "direction": "Inbound",
                    "destinationPortRange": "443",
                    "sourceAddressPrefix": "10.0.0.0/8",
                    "priority": 200,
                    "destinationAddressPrefixes": ["10.0.1.4"],
                },
            },
        ]
    },
}
VNET = {
    "id": f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet1",
    "name": "vnet1",
    "type": "Microsoft.Network/virtualNetworks",
    "location": "westeurope",
    "tags": {},
    "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16", "192.168.0.0/24"]}},
}
SUBNET = {
    "id": f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/app",
    "name": "app",
    "type": "Microsoft.Network/virtualNetworks/subnets",
    "properties": {"addressPrefix": "10.0.1.0/24"},
}
RESOURCE_GROUP = {
    "id": RG,
    "name": "rg-net",
    "type": "Microsoft.Resources/subscriptions/resourceGroups",
    "location": "westeurope",
    "tags": {"owner": "ops"},
}

# The sample resource and aliases of Azure's array documentation.
TEST_ALIASES = load_aliases(
    {
        f"Microsoft.Test/resourceType/{name}": {"defaultPath": f"properties.{name}"}
        for name in (
            "missingArray",
            "missingArray[*]",
            "missingArray[*].property",
            "stringArray",
            "stringArray[*]",
            "objectArray",
            "objectArray[*]",
            "objectArray[*].property",
            "objectArray[*].nestedArray",
            "objectArray[*].nestedArray[*]",
        )
    }
)
DOC = {
    "id": f"{RG}/providers/Microsoft.Test/resourceType/doc",
    "name": "doc",
    "type": "Microsoft.Test/resourceType",
    "location": "westeurope",
    "tags": {"env": "prod"},
    "properties": {
        "stringArray": ["a", "b", "c"],
        "objectArray": [
            {"property": "value1", "nestedArray": [1, 2]},
            {"property": "value2", "nestedArray": [3, 4]},
        ],
    },
}
T = "Microsoft.Test/resourceType/"


def rule(condition, effect="audit", mode="All", parameters=None, details=None):
    then = {"effect": effect}
    if details is not None:
        then["details"] = details
    body = {"mode": mode, "policyRule": {"if": condition, "then": then}}
    if parameters is not None:
        body["parameters"] = parameters
    return body


def run(definition, resource, parameters=None, **kwargs):
    kwargs.setdefault("now", NOW)
    return evaluate(load_definition(definition), resource, parameters, **kwargs)


def matches(condition, resource, **kwargs) -> bool:
    """True when the ``if`` matches (effect audit), False when it doesn't (Compliant)."""
    result = run(rule(condition), resource, **kwargs)
    assert result.error is None, result.error
    assert result.compliance_state in (ComplianceState.NON_COMPLIANT, ComplianceState.COMPLIANT), result
    return result.effect is Effect.AUDIT


# ----------------------------------------------------------------------------- every operator

SR = "Microsoft.Network/networkSecurityGroups/securityRules[*]"
OPERATOR_CASES = [
    ({"field": "type", "equals": "microsoft.network/NETWORKSECURITYGROUPS"}, True),
    ({"field": "location", "equals": "eastus"}, False),
    ({"field": "location", "equals": "westeurope"}, True),  # "West Europe" is normalized
    ({"field": "name", "notEquals": "nsg2"}, True),
    ({"field": "name", "notEquals": "NSG1"}, False),
    ({"field": "name", "like": "NSG*"}, True),
    ({"field": "name", "like": "vnet*"}, False),
    ({"field": "name", "notLike": "vnet*"}, True),
    ({"field": "name", "notLike": "*1"}, False),
    ({"field": "name", "match": "nsg#"}, True),
    ({"field": "name", "match": "NSG#"}, False),  # match is case-sensitive
    ({"field": "name", "match": "?sg."}, True),
    ({"field": "name", "match": "nsg##"}, False),  # lengths must agree
    ({"field": "name", "matchInsensitively": "NSG#"}, True),
    ({"field": "name", "notMatch": "NSG#"}, True),
    ({"field": "name", "notMatch": "nsg#"}, False),
    ({"field": "name", "notMatchInsensitively": "NSG#"}, False),
    ({"field": "name", "contains": "SG"}, True),
    ({"field": "name", "contains": "vnet"}, False),
    ({"field": "name", "notContains": "vnet"}, True),
    ({"field": "location", "in": ["northeurope", "westeurope"]}, True),
    ({"field": "location", "in": ["eastus"]}, False),
    ({"field": "location", "notIn": ["eastus", "West US"]}, True),
    ({"field": "location", "notIn": ["WESTEUROPE"]}, False),
    ({"field": "tags", "containsKey": "ENV"}, True),
    ({"field": "tags", "containsKey": "owner"}, False),
    ({"field": "tags", "notContainsKey": "owner"}, True),
    ({"field": f"{SR}.priority", "less": 300}, True),
    ({"field": f"{SR}.priority", "less": 200}, False),
    ({"field": f"{SR}.priority", "lessOrEquals": 200}, True),
    ({"field": f"{SR}.priority", "greater": 150}, False),
    ({"field": f"{SR}.priority", "greaterOrEquals": 100}, True),
    ({"value": "2024-01-02", "greater": "2024-01-01T23:00:00Z"}, True),  # dates compare as dates
    ({"value": "b", "greater": "A"}, True),  # strings compare case-insensitively
    ({"value": "10", "less": 9}, False),  # numeric text against a number compares numbers
    ({"field": "tags['env']", "exists": "true"}, True),
    ({"field": "tags['missing']", "exists": False}, True),
    ({"field": "tags['missing']", "exists": "TRUE"}, False),
    ({"field": "identity.type", "equals": "SystemAssigned"}, True),
    ({"field": "id", "like": "*/resourceGroups/rg-net/*"}, True),
    ({"field": "kind", "exists": False}, True),
]


@pytest.mark.parametrize(("condition", "expected"), OPERATOR_CASES, ids=lambda v: json.dumps(v)[:60])
def test_operators(condition, expected):
    assert matches(condition, NSG) is expected


def test_operator_keys_are_case_insensitive():
    assert matches({"FIELD": "name", "EQUALS": "nsg1"}, NSG)
    assert matches({"AllOf": [{"field": "name", "Like": "nsg*"}, {"NOT": {"field": "name", "notlike": "*1"}}]}, NSG)


def test_missing_values():
    missing = "tags['absent']"
    assert not matches({"field": missing, "equals": ""}, NSG)
    assert matches({"field": missing, "notEquals": "x"}, NSG)
    assert not matches({"field": missing, "like": "*"}, NSG)
    assert matches({"field": missing, "notLike": "*"}, NSG)
    assert not matches({"field": missing, "in": ["a"]}, NSG)
    assert matches({"field": missing, "notIn": ["a"]}, NSG)
    assert not matches({"field": missing, "less": 3}, NSG)
    # field() of a missing property is "" (Azure documents this), so functions don't fail on it
    assert matches({"value": "[field('tags.absent')]", "equals": ""}, NSG)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("tags['Cost.Center']", "42"),
        ("tags[Cost.Center]", "42"),
        ("tags.env", "prod"),
        ("tags['ENV']", "prod"),
        ("tags['it''s']", "quoted"),
        ("[concat('tags[', 'env', ']')]", "prod"),
    ],
)
def test_tag_field_forms(field, expected):
    assert matches({"field": field, "equals": expected}, NSG)


def test_full_name_of_a_child_resource():
    assert matches({"field": "fullName", "equals": "vnet1/app"}, SUBNET)
    assert matches({"field": "name", "equals": "app"}, SUBNET)


def test_logical_operators():
    yes, no = {"field": "name", "equals": "nsg1"}, {"field": "name", "equals": "x"}
    assert matches({"allOf": [yes, yes]}, NSG)
    assert not matches({"allOf": [yes, no]}, NSG)
    assert matches({"anyOf": [no, yes]}, NSG)
    assert not matches({"anyOf": [no, no]}, NSG)
    assert matches({"not": no}, NSG)
    assert matches({"not": {"anyOf": [no, {"not": yes}]}}, NSG)


# ----------------------------------------------------------------------------- value conditions and functions


def test_value_conditions_and_host_functions():
    assert matches({"value": "[resourceGroup().name]", "like": "rg-*"}, NSG)
    assert matches({"value": "[subscription().subscriptionId]", "equals": SUB.rsplit("/", 1)[1]}, NSG)
    assert matches({"value": "[resourceGroup().tags.owner]", "equals": "ops"}, NSG, resource_group=RESOURCE_GROUP)
    assert matches({"value": "[requestContext().apiVersion]", "equals": "2023-09-01"}, NSG,
                   request={"apiVersion": "2023-09-01"})  # fmt: skip
    assert matches({"value": "[policy().assignmentId]", "equals": "/a/1"}, NSG, policy_info={"assignmentId": "/a/1"})
    assert matches({"value": "[utcNow()]", "equals": "2024-06-01T12:00:00.0000000Z"}, NSG)
    assert matches({"value": "[less(length(field('tags')), 5)]", "equals": "true"}, NSG)
    assert matches({"field": "name", "like": "[concat(substring(resourceGroup().name, 0, 2), '*')]"}, SUBNET) is False


def test_a_failing_function_makes_the_policy_deny():
    definition = rule({"value": "[substring(field('name'), 0, 10)]", "equals": "abc"})
    result = run(definition, NSG)
    assert result.effect is Effect.DENY
    assert result.compliance_state is ComplianceState.ERROR
    assert "substring" in result.error and result.reasons == [{"error": result.error}]
    # the docs' fix: guard with if(), evaluated lazily
    guarded = rule(
        {
            "value": "[if(greaterOrEquals(length(field('name')), 10), substring(field('name'), 0, 10), 'short')]",
            "equals": "abc",
        }
    )
    assert run(guarded, NSG).compliance_state is ComplianceState.COMPLIANT


def test_an_uncomparable_value_makes_the_policy_deny():
    result = run(rule({"value": "[createObject('a', 1)]", "less": 3}), NSG)
    assert (result.effect, result.compliance_state) == (Effect.DENY, ComplianceState.ERROR)


# ----------------------------------------------------------------------------- [*] aliases


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # the None / Any / All table of "Author policies for array properties"
        ({"field": f"{SR}.access", "equals": "Allow"}, True),  # all elements match
        ({"field": f"{SR}.destinationPortRange", "equals": "22"}, False),  # only one does
        ({"not": {"field": f"{SR}.destinationPortRange", "equals": "22"}}, True),  # "any is not 22"... negated all
        ({"field": f"{SR}.destinationPortRange", "notEquals": "3389"}, True),  # none is 3389
        ({"not": {"field": f"{SR}.destinationPortRange", "notEquals": "22"}}, True),  # some element is 22
        ({"not": {"field": f"{SR}.destinationPortRange", "notEquals": "3389"}}, False),
        # nested arrays flatten
        ({"field": f"{SR}.destinationAddressPrefixes[*]", "like": "10.0.*"}, True),
        ({"field": f"{SR}.destinationAddressPrefixes[*]", "in": ["10.0.0.4", "10.0.0.5"]}, False),
    ],
)
def test_array_alias_field_conditions(condition, expected):
    assert matches(condition, NSG) is expected


def test_array_alias_on_missing_and_empty_arrays_is_vacuously_true():
    empty = dict(NSG, properties={"securityRules": []})
    missing = dict(NSG, properties={})
    for resource in (empty, missing):
        assert matches({"field": f"{SR}.access", "equals": "Deny"}, resource)
        assert matches({"field": f"{SR}.access", "notEquals": "Deny"}, resource)
        assert matches({"count": {"field": SR}, "equals": 0}, resource)
        assert matches({"value": f"[field('{SR}')]", "equals": []}, resource)
    # the whole-array alias of a missing array is missing, not empty
    assert matches({"field": "Microsoft.Network/networkSecurityGroups/securityRules", "exists": False}, missing)
    assert matches({"field": "Microsoft.Network/networkSecurityGroups/securityRules", "exists": True}, empty)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # the field() table of "Author policies for array properties"
        (f"[field('{T}missingArray')]", ""),
        (f"[field('{T}missingArray[*]')]", []),
        (f"[field('{T}missingArray[*].property')]", []),
        (f"[field('{T}stringArray')]", ["a", "b", "c"]),
        (f"[field('{T}stringArray[*]')]", ["a", "b", "c"]),
        (f"[field('{T}objectArray[*].property')]", ["value1", "value2"]),
        (f"[field('{T}objectArray[*].nestedArray')]", [[1, 2], [3, 4]]),
        (f"[field('{T}objectArray[*].nestedArray[*]')]", [1, 2, 3, 4]),
    ],
)
def test_field_function_on_array_aliases(expression, expected):
    assert matches({"value": expression, "equals": expected}, DOC, aliases=TEST_ALIASES)


# ----------------------------------------------------------------------------- count


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"count": {"field": f"{T}stringArray[*]"}, "equals": 3}, True),
        ({"count": {"field": f"{T}objectArray[*].nestedArray[*]"}, "greaterOrEquals": 4}, True),
        ({"count": {"field": f"{T}missingArray[*]"}, "equals": 0}, True),
        (
            {
                "count": {"field": f"{T}stringArray[*]", "where": {"field": f"{T}stringArray[*]", "equals": "a"}},
                "equals": 1,
            },
            True,
        ),
        (
            {
                "count": {
                    "field": f"{T}objectArray[*]",
                    "where": {
                        "allOf": [
                            {"field": f"{T}objectArray[*].property", "equals": "value2"},
                            {"field": f"{T}objectArray[*].nestedArray[*]", "greater": 2},
                        ]
                    },
                },
                "equals": 1,
            },
            True,
        ),
        # where may refer to fields outside the array
        (
            {"count": {"field": f"{T}objectArray[*]", "where": {"field": "tags.env", "equals": "prod"}}, "equals": 2},
            True,
        ),
        # nested count
        (
            {
                "count": {
                    "field": f"{T}objectArray[*]",
                    "where": {
                        "allOf": [
                            {"field": f"{T}objectArray[*].property", "equals": "value2"},
                            {
                                "count": {
                                    "field": f"{T}objectArray[*].nestedArray[*]",
                                    "where": {"field": f"{T}objectArray[*].nestedArray[*]", "equals": 3},
                                },
                                "greater": 0,
                            },
                        ]
                    },
                },
                "equals": 1,
            },
            True,
        ),
        # field() of the counted alias inside where is a one-element array ...
        (
            {
                "count": {
                    "field": f"{T}stringArray[*]",
                    "where": {"field": f"{T}stringArray[*]", "equals": f"[field('{T}stringArray[*]')]"},
                },
                "equals": 0,
            },
            True,
        ),
        # ... so take first() of it
        (
            {
                "count": {
                    "field": f"{T}stringArray[*]",
                    "where": {"field": f"{T}stringArray[*]", "equals": f"[first(field('{T}stringArray[*]'))]"},
                },
                "equals": 3,
            },
            True,
        ),
        # current() with the alias, a property below it, and without argument
        (
            {
                "count": {
                    "field": f"{T}objectArray[*]",
                    "where": {"value": f"[current('{T}objectArray[*].property')]", "like": "value*"},
                },
                "equals": 2,
            },
            True,
        ),
        (
            {
                "count": {"field": f"{T}stringArray[*]", "where": {"value": "[current()]", "in": ["a", "c"]}},
                "equals": 2,
            },
            True,
        ),
    ],
)
def test_field_count(condition, expected):
    assert matches(condition, DOC, aliases=TEST_ALIASES) is expected


def test_value_count_with_name_and_current():
    patterns = {
        "count": {
            "value": ["doc*", "x*"],
            "name": "pattern",
            "where": {"field": "name", "like": "[current('pattern')]"},
        }
    }
    assert matches(dict(patterns, greater=0), DOC, aliases=TEST_ALIASES)
    no_name = {"count": {"value": ["doc*", "x*"], "where": {"field": "name", "like": "[current()]"}}, "equals": 1}
    assert matches(no_name, DOC, aliases=TEST_ALIASES)
    assert matches({"count": {"value": [1, 2, 3]}, "equals": 3}, DOC)


def test_value_count_from_parameter_nested_in_field_count():
    # "Check if any of the virtual network address prefixes isn't under the list of approved prefixes"
    prefixes = "Microsoft.Network/virtualNetworks/addressSpace.addressPrefixes[*]"
    condition = {
        "count": {
            "field": prefixes,
            "where": {
                "count": {
                    "value": "[parameters('approvedPrefixes')]",
                    "name": "approvedPrefix",
                    "where": {
                        "value": f"[ipRangeContains(current('approvedPrefix'), current('{prefixes}'))]",
                        "equals": True,
                    },
                },
                "equals": 0,
            },
        },
        "greater": 0,
    }
    definition = rule(condition, parameters={"approvedPrefixes": {"type": "Array"}})
    assert run(definition, VNET, {"approvedPrefixes": ["10.0.0.0/8"]}).effect is Effect.AUDIT
    allowed = run(definition, VNET, {"approvedPrefixes": ["10.0.0.0/8", "192.168.0.0/16"]})
    assert (allowed.effect, allowed.compliance_state) == (Effect.NONE, ComplianceState.COMPLIANT)


def test_count_with_where_on_network_security_rules():
    risky = {
        "count": {
            "field": SR,
            "where": {
                "allOf": [
                    {"field": f"{SR}.direction", "equals": "Inbound"},
                    {"field": f"{SR}.access", "equals": "Allow"},
                    {"field": f"{SR}.sourceAddressPrefix", "in": ["*", "Internet"]},
                    {"field": f"{SR}.destinationPortRange", "in": ["22", "3389"]},
                ]
            },
        },
        "greater": 0,
    }
    result = run(rule(risky, effect="deny"), NSG)
    assert (result.effect, result.compliance_state) == (Effect.DENY, ComplianceState.NON_COMPLIANT)
    assert result.reasons[0]["operator"] == "greater" and result.reasons[0]["actual"] == 1


def test_reserved_rules_example_from_the_docs():
    # "Check that all the reserved NSG rules are defined in an NSG": value count over an array
    # parameter of objects, each matched by a nested field count using current('name').property.
    condition = {
        "count": {
            "value": "[parameters('reserved')]",
            "name": "reservedNsgRule",
            "where": {
                "count": {
                    "field": SR,
                    "where": {
                        "allOf": [
                            {"field": f"{SR}.priority", "equals": "[current('reservedNsgRule').priority]"},
                            {"field": f"{SR}.access", "equals": "[current('reservedNsgRule').access]"},
                            {"field": f"{SR}.destinationPortRange",
                             "equals": "[current('reservedNsgRule').destinationPortRange]"},
                        ]
                    },
                },
                "equals": 1,
            },
        },
        "equals": "[length(parameters('reserved'))]",
    }  # fmt: skip
    definition = rule(condition, parameters={"reserved": {"type": "Array"}})
    reserved = [{"priority": 100, "access": "allow", "destinationPortRange": 22}]
    assert run(definition, NSG, {"reserved": reserved}).effect is Effect.AUDIT
    reserved.append({"priority": 101, "access": "deny", "destinationPortRange": 3389})
    assert run(definition, NSG, {"reserved": reserved}).compliance_state is ComplianceState.COMPLIANT
    every = {"count": {"field": SR, "where": {"field": f"{SR}.access", "equals": "Allow"}},
             "equals": f"[length(field('{SR}'))]"}  # fmt: skip
    assert matches(every, NSG)


def test_count_value_must_be_an_array_at_runtime():
    definition = rule({"count": {"value": "[parameters('p')]"}, "equals": 1}, parameters={"p": {"type": "String"}})
    result = run(definition, NSG, {"p": "x"})
    assert result.compliance_state is ComplianceState.ERROR


# ----------------------------------------------------------------------------- parameters


LOCATIONS = {
    "allowed": {
        "type": "Array",
        "defaultValue": ["westeurope"],
        "allowedValues": ["westeurope", "northeurope", "eastus"],
    }
}


def test_parameters_defaults_and_values():
    definition = rule({"not": {"field": "location", "in": "[parameters('allowed')]"}}, "deny", parameters=LOCATIONS)
    assert run(definition, NSG).compliance_state is ComplianceState.COMPLIANT  # default
    assert run(definition, NSG, {"allowed": ["eastus"]}).effect is Effect.DENY
    assert run(definition, NSG, {"ALLOWED": {"value": ["eastus"]}}).effect is Effect.DENY  # Azure's shape


@pytest.mark.parametrize(
    ("supplied", "message"),
    [
        ({"allowed": ["mars"]}, "allowed values"),
        ({"allowed": "westeurope"}, "type Array"),
        ({"nope": ["x"]}, "not defined"),
    ],
)
def test_parameter_errors(supplied, message):
    definition = rule({"field": "location", "in": "[parameters('allowed')]"}, parameters=LOCATIONS)
    with pytest.raises(PolicyParameterError, match=message):
        run(definition, NSG, supplied)


def test_required_parameter_without_default():
    definition = rule({"field": "name", "equals": "[parameters('n')]"}, parameters={"n": {"type": "String"}})
    with pytest.raises(PolicyParameterError, match="no default"):
        run(definition, NSG)
    assert run(definition, NSG, {"n": "nsg1"}).effect is Effect.AUDIT


def test_effect_as_a_parameter():
    parameters = {"effect": {"type": "String", "defaultValue": "Audit", "allowedValues": ["Audit", "Deny", "Disabled"]}}
    definition = load_definition(
        rule({"field": "name", "equals": "nsg1"}, "[parameters('effect')]", parameters=parameters)
    )
    assert evaluate(definition, NSG).effect is Effect.AUDIT
    assert evaluate(definition, NSG, {"effect": "Deny"}).effect is Effect.DENY
    disabled = evaluate(definition, NSG, {"effect": "Disabled"})
    assert (disabled.effect, disabled.compliance_state) == (Effect.DISABLED, ComplianceState.NOT_APPLICABLE)
    with pytest.raises(PolicyParameterError):
        evaluate(definition, NSG, {"effect": "Explode"})


# ----------------------------------------------------------------------------- modes and applicability


def test_indexed_skips_types_without_tags_and_location():
    condition = {"field": "name", "like": "*"}
    indexed = run(rule(condition, mode="Indexed"), SUBNET)
    assert (indexed.effect, indexed.compliance_state) == (Effect.NONE, ComplianceState.NOT_APPLICABLE)
    assert run(rule(condition, mode="All"), SUBNET).effect is Effect.AUDIT
    assert run(rule(condition, mode="Indexed"), RESOURCE_GROUP).compliance_state is ComplianceState.NOT_APPLICABLE
    assert run(rule(condition, mode="All"), RESOURCE_GROUP).effect is Effect.AUDIT
    assert run(rule(condition, mode="Indexed"), SUBNET, indexed=True).effect is Effect.AUDIT
    no_mode = {"policyRule": {"if": condition, "then": {"effect": "audit"}}}  # no mode behaves as Indexed
    assert run(no_mode, SUBNET).compliance_state is ComplianceState.NOT_APPLICABLE


def test_microsoft_resources_types_are_not_evaluated():
    deployment = {"id": f"{RG}/providers/Microsoft.Resources/deployments/d", "type": "Microsoft.Resources/deployments"}
    result = run(rule({"field": "name", "like": "*"}), deployment)
    assert result.compliance_state is ComplianceState.NOT_APPLICABLE


def test_applicability_ignores_other_conditions_even_when_negated():
    allowed = {"allOf": [{"field": "type", "equals": "Microsoft.Network/virtualNetworks"},
                         {"not": {"field": "location", "in": ["westeurope"]}}]}  # fmt: skip
    assert run(rule(allowed, "deny"), VNET).compliance_state is ComplianceState.COMPLIANT
    assert run(rule(allowed, "deny"), NSG).compliance_state is ComplianceState.NOT_APPLICABLE
    negated_type = {"not": {"field": "type", "equals": "Microsoft.Network/virtualNetworks"}}
    assert run(rule(negated_type), VNET).compliance_state is ComplianceState.NOT_APPLICABLE


def test_aliases_missing_from_the_table_step_into_sub_resource_properties():
    empty = load_aliases({})
    assert matches({"field": f"{SR}.direction", "equals": "Inbound"}, NSG, aliases=empty)
    assert matches({"count": {"field": SR, "where": {"field": f"{SR}.destinationPortRange", "equals": "22"}},
                    "equals": 1}, NSG, aliases=empty)  # fmt: skip


def test_applicability_uses_type_conditions():
    both = {
        "allOf": [
            {"field": "type", "equals": "Microsoft.Network/virtualNetworks"},
            {"field": "location", "equals": "eastus"},
        ]
    }
    other_type = run(rule(both), NSG)
    assert (other_type.effect, other_type.compliance_state) == (Effect.NONE, ComplianceState.NOT_APPLICABLE)
    same_type = run(rule(both), VNET)
    assert (same_type.effect, same_type.compliance_state) == (Effect.NONE, ComplianceState.COMPLIANT)


# ----------------------------------------------------------------------------- every effect

IS_NSG = {"field": "type", "equals": "Microsoft.Network/networkSecurityGroups"}
NOT_NSG = {"field": "type", "equals": "Microsoft.Compute/virtualMachines"}
DIAG_TYPE = "Microsoft.Insights/diagnosticSettings"
DIAG = {
    "id": f"{NSG['id']}/providers/{DIAG_TYPE}/toWorkspace",
    "name": "toWorkspace",
    "type": DIAG_TYPE,
    "properties": {"workspaceId": "/w/1", "logs": [{"category": "NetworkSecurityGroupEvent", "enabled": True}]},
}
EXISTS_DETAILS = {
    "type": DIAG_TYPE,
    "existenceCondition": {
        "allOf": [
            {"field": "Microsoft.Insights/diagnosticSettings/logs[*].enabled", "equals": "true"},
            {"field": "Microsoft.Insights/diagnosticSettings/workspaceId", "equals": "[parameters('workspace')]"},
        ]
    },
}
WORKSPACE = {"workspace": {"type": "String", "defaultValue": "/w/1"}}


@pytest.mark.parametrize(
    ("effect", "details", "expected_state"),
    [
        ("audit", None, ComplianceState.NON_COMPLIANT),
        ("Deny", None, ComplianceState.NON_COMPLIANT),
        ("append", [{"field": "tags['x']", "value": "y"}], ComplianceState.NON_COMPLIANT),
        ("denyAction", {"actionNames": ["delete"]}, ComplianceState.PROTECTED),
        ("manual", {"defaultState": "NonCompliant"}, ComplianceState.NON_COMPLIANT),
        ("manual", {"defaultState": "Compliant"}, ComplianceState.COMPLIANT),
        ("manual", None, ComplianceState.UNKNOWN),
    ],
)
def test_request_time_effects(effect, details, expected_state):
    result = run(rule(IS_NSG, effect, details=details), NSG)
    assert result.effect.value.lower() == effect.lower()
    assert result.compliance_state is expected_state
    assert result.reasons == [
        {"path": "policyRule.if", "field": "type", "operator": "equals", "expected": IS_NSG["equals"],
         "actual": NSG["type"], "result": True}
    ]  # fmt: skip


def test_disabled_is_not_evaluated():
    result = run(rule({"value": "[substring('a', 5)]", "equals": 1}, "disabled"), NSG)
    assert (result.effect, result.compliance_state, result.error) == (
        Effect.DISABLED,
        ComplianceState.NOT_APPLICABLE,
        None,
    )


def test_modify_details_are_evaluated_against_the_request():
    details = {
        "roleDefinitionIds": [
            "/providers/microsoft.authorization/roleDefinitions/4a9ae827-6dc8-4573-8ac7-8239d42aa03f"
        ],
        "operations": [
            {"operation": "addOrReplace", "field": "tags['owner']", "value": "[resourceGroup().tags['owner']]"}
        ],
    }
    condition = {"field": "tags['owner']", "exists": "false"}
    result = run(rule(condition, "modify", details=details), NSG, resource_group=RESOURCE_GROUP)
    assert (result.effect, result.compliance_state) == (Effect.MODIFY, ComplianceState.NON_COMPLIANT)
    assert result.details["operations"][0]["value"] == "ops"


@pytest.mark.parametrize("effect", ["auditIfNotExists", "deployIfNotExists"])
def test_if_not_exists_effects(effect):
    details = dict(EXISTS_DETAILS)
    if effect == "deployIfNotExists":
        details.update(
            roleDefinitionIds=["/providers/Microsoft.Authorization/roleDefinitions/x"],
            deployment={"properties": {"mode": "incremental", "template": {"resources": [], "variables": {
                "v": "[variables('other')]"}}, "parameters": {"name": {"value": "[field('name')]"}}}},
        )  # fmt: skip
    definition = load_definition(rule(IS_NSG, effect, parameters=WORKSPACE, details=details))
    found = evaluate(definition, NSG, related=[DIAG])
    assert (found.effect, found.compliance_state) == (Effect.NONE, ComplianceState.COMPLIANT)
    assert {"existence": "found", "related": DIAG["id"]} in found.reasons
    missing = evaluate(definition, NSG, related=[])
    assert (missing.effect.value, missing.compliance_state) == (effect, ComplianceState.NON_COMPLIANT)
    wrong = evaluate(definition, NSG, {"workspace": "/w/2"}, related=[DIAG])
    assert wrong.compliance_state is ComplianceState.NON_COMPLIANT
    other_resource = dict(DIAG, id=f"{VNET['id']}/providers/{DIAG_TYPE}/toWorkspace")
    assert evaluate(definition, NSG, related=[other_resource]).compliance_state is ComplianceState.NON_COMPLIANT
    assert evaluate(definition, NSG, related=lambda query: [DIAG]).compliance_state is ComplianceState.COMPLIANT
    not_applicable = evaluate(definition, VNET, related=[DIAG])
    assert (not_applicable.effect, not_applicable.compliance_state) == (Effect.NONE, ComplianceState.NOT_APPLICABLE)
    if effect == "deployIfNotExists":
        assert missing.details["deployment"]["properties"]["parameters"]["name"]["value"] == "nsg1"
        assert missing.details["deployment"]["properties"]["template"]["variables"]["v"] == "[variables('other')]"


def test_existence_condition_field_function_reads_the_evaluated_resource():
    details = {
        "type": DIAG_TYPE,
        "existenceCondition": {"field": "name", "equals": "[concat('to', field('tags.env'))]"},
    }
    definition = rule(IS_NSG, "auditIfNotExists", details=details)
    prod = dict(DIAG, name="toprod", id=f"{NSG['id']}/providers/{DIAG_TYPE}/toprod")
    assert run(definition, NSG, related=[prod]).compliance_state is ComplianceState.COMPLIANT
    assert run(definition, NSG, related=[DIAG]).compliance_state is ComplianceState.NON_COMPLIANT


def test_effect_order_is_azures():
    order = sorted(Effect, key=EFFECT_ORDER.__getitem__)
    for earlier, later in [
        (Effect.DISABLED, Effect.APPEND),
        (Effect.MODIFY, Effect.DENY),
        (Effect.DENY, Effect.AUDIT),
        (Effect.AUDIT, Effect.MANUAL),
        (Effect.MANUAL, Effect.AUDIT_IF_NOT_EXISTS),
        (Effect.DEPLOY_IF_NOT_EXISTS, Effect.DENY_ACTION),
    ]:
        assert order.index(earlier) < order.index(later)


def test_result_json_shape():
    result = run(rule({"field": "location", "notIn": ["eastus"]}, "deny"), NSG)
    data = result.to_dict()
    assert data == {
        "effect": "deny",
        "complianceState": "NonCompliant",
        "reasons": [
            {"path": "policyRule.if", "field": "location", "operator": "notIn", "expected": ["eastus"],
             "actual": "West Europe", "result": True}
        ],
    }  # fmt: skip
    json.dumps(data)
    none = run(rule({"field": "location", "in": ["eastus"]}, "deny"), NSG).to_dict()
    assert (none["effect"], none["complianceState"]) == ("none", "Compliant")


def test_reasons_name_the_deciding_conditions():
    condition = {
        "allOf": [
            IS_NSG,
            {"anyOf": [{"field": "name", "equals": "x"}, {"field": "tags.env", "equals": "prod"}]},
        ]
    }
    reasons = run(rule(condition), NSG).reasons
    assert [r["path"] for r in reasons] == ["policyRule.if.allOf[0]", "policyRule.if.allOf[1].anyOf[1]"]
    failed = run(rule({"allOf": [IS_NSG, {"field": "name", "equals": "x"}]}), NSG).reasons
    assert failed == [{"path": "policyRule.if.allOf[1]", "field": "name", "operator": "equals", "expected": "x",
                       "actual": "nsg1", "result": False}]  # fmt: skip


# ----------------------------------------------------------------------------- static validation


def _error(document) -> PolicyDefinitionError:
    with pytest.raises(PolicyDefinitionError) as info:
        load_definition(document)
    return info.value


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        (rule({"field": "name", "equalz": "x"}), "policyRule.if.equalz", "unknown operator 'equalz'"),
        (
            rule({"allOf": [{"field": "name", "like": "a", "equals": "b"}]}),
            "policyRule.if.allOf[0]",
            "only one operator",
        ),
        (rule({"field": "name"}), "policyRule.if", "no operator"),
        (rule({"equals": "x"}), "policyRule.if", "'field', 'value' or 'count'"),
        (rule({"allOf": {"field": "name", "equals": "x"}}), "policyRule.if.allOf", "array"),
        (rule({"not": {"field": "name", "equals": "x"}, "field": "x"}), "policyRule.if", "logical operator"),
        (rule(IS_NSG, "explode"), "policyRule.then.effect", "unknown effect"),
        (
            rule(IS_NSG, "[parameters('e')]", parameters={"e": {"type": "String", "allowedValues": ["audit", "boom"]}}),
            "policyRule.then.effect (parameter 'e')",
            "'boom' is not a policy effect",
        ),
        (rule({"count": {"field": SR, "value": [1]}, "equals": 1}), "policyRule.if.count", "exactly one"),
        (
            rule({"count": {"field": "Microsoft.Network/networkSecurityGroups/securityRules"}, "equals": 1}),
            "policyRule.if.count.field",
            "[*]",
        ),
        (rule({"count": {"value": [1], "name": "bad name"}, "equals": 1}), "policyRule.if.count.name", "letters"),
        (rule({"count": {"field": SR, "wher": {}}, "equals": 1}), "policyRule.if.count.wher", "unknown property"),
        (
            rule({"count": {"field": SR, "where": {"field": "name", "equalz": 1}}, "equals": 1}),
            "policyRule.if.count.where.equalz",
            "unknown operator",
        ),
        (rule({"field": "name", "equals": "[parameters('nope')]"}), "policyRule.if.equals", "unknown parameter 'nope'"),
        (rule({"field": "name", "equals": "[concat('a']"}), "policyRule.if.equals", "invalid expression"),
        (rule({"value": "[reference('x').id]", "equals": "a"}), "policyRule.if.value", "'reference' is not allowed"),
        (
            rule({"value": "[listKeys('x', '1').keys]", "equals": "a"}),
            "policyRule.if.value",
            "'listKeys' is not allowed",
        ),
        (rule({"value": "[current()]", "equals": "a"}), "policyRule.if.value", "inside a count"),
        (
            rule(
                {"count": {"value": [1], "name": "n", "where": {"value": "[current('m')]", "equals": 1}}, "equals": 1}
            ),
            "policyRule.if.count.where.value",
            "names no enclosing count",
        ),
        (rule({"field": "location", "in": "westeurope"}), "policyRule.if.in", "expects an array"),
        (rule({"field": "location", "exists": "maybe"}), "policyRule.if.exists", "true or false"),
        (
            rule({"field": "location", "in": "[parameters('p')]"}, parameters={"p": {"type": "String"}}),
            "policyRule.if.in",
            "parameter 'p' is of type String",
        ),
        (rule({"field": "not a field!", "equals": "x"}), "policyRule.if.field", "not a field"),
        (rule(IS_NSG, parameters={"p": {"type": "Strung"}}), "parameters.p.type", "unknown parameter type"),
        (
            rule(IS_NSG, parameters={"p": {"type": "String", "defaultValue": "c", "allowedValues": ["a", "b"]}}),
            "parameters.p.defaultValue",
            "not one of the allowed values",
        ),
        (
            rule(IS_NSG, parameters={"p": {"type": "Integer", "defaultValue": "1"}}),
            "parameters.p.defaultValue",
            "type Integer",
        ),
        (rule(IS_NSG, mode="Sometimes"), "mode", "unknown mode"),
        (rule(IS_NSG, "deployIfNotExists"), "policyRule.then.details", "requires 'details'"),
        (
            rule(IS_NSG, "deployIfNotExists", details={"type": "x/y"}),
            "policyRule.then.details",
            "requires details.roleDefinitionIds",
        ),
        (
            rule(
                IS_NSG,
                "modify",
                details={"roleDefinitionIds": [], "operations": [{"operation": "merge", "field": "tags"}]},
            ),
            "policyRule.then.details.operations[0].operation",
            "add, addOrReplace or remove",
        ),
        (
            rule(IS_NSG, "auditIfNotExists", details={"type": "x/y", "existenceCondition": {"field": "a", "bad": 1}}),
            "policyRule.then.details.existenceCondition.bad",
            "unknown operator",
        ),
        ({"mode": "All"}, "", "no policyRule"),
        ({"policyRule": {"if": IS_NSG}}, "policyRule", "no 'then'"),
    ],
)
def test_static_validation_names_the_json_path(document, path, message):
    error = _error(document)
    assert error.path == path, str(error)
    assert message in error.reason, str(error)


def test_wrapped_definitions_report_paths_under_properties(tmp_path):
    wrapped = {"properties": rule({"field": "name", "equalz": "x"}), "id": "/x", "name": "x"}
    assert _error(wrapped).path == "properties.policyRule.if.equalz"
    good = {"properties": rule(IS_NSG, "deny"), "id": "/providers/Microsoft.Authorization/policyDefinitions/p1",
            "name": "p1"}  # fmt: skip
    file = tmp_path / "p1.json"
    file.write_text(json.dumps(good))
    for source in (good, file, str(file), json.dumps(good)):
        definition = load_definition(source)
        assert (definition.name, definition.mode) == ("p1", "All")
        assert evaluate(definition, NSG).effect is Effect.DENY
    bad_file = tmp_path / "bad.json"
    bad_file.write_text(json.dumps(wrapped))
    assert "bad.json" in str(_error(bad_file))


def test_one_root_exception():
    assert issubclass(PolicyDefinitionError, PolicyError) and issubclass(PolicyParameterError, PolicyError)


# ----------------------------------------------------------------------------- aliases


def test_shipped_aliases_cover_warden_types():
    table = default_aliases()
    nsg = "Microsoft.Network/networkSecurityGroups"
    assert table.path(f"{nsg}/securityRules[*].access", nsg) == (
        "properties",
        "securityRules",
        "[*]",
        "properties",
        "access",
    )
    assert table.path("Microsoft.Compute/imagePublisher", "Microsoft.Compute/virtualMachines") == (
        "properties", "storageProfile", "imageReference", "publisher")  # fmt: skip
    assert table.path(f"{nsg}/securityRules[*].access", "Microsoft.Network/virtualNetworks") is None  # other type
    for alias in (
        "Microsoft.Network/virtualNetworks/subnets[*].networkSecurityGroup.id",
        "Microsoft.Network/virtualNetworks/subnets/networkSecurityGroup.id",
        "Microsoft.Network/networkInterfaces/ipconfigurations[*].publicIpAddress.id",
        "Microsoft.Network/publicIPAddresses/sku.name",
        "Microsoft.OperationalInsights/workspaces/retentionInDays",
        "Microsoft.RecoveryServices/vaults/sku.name",
        "Microsoft.Insights/diagnosticSettings/workspaceId",
        "Microsoft.ManagedIdentity/userAssignedIdentities/principalId",
    ):
        assert alias in table, alias


def test_unknown_alias_of_the_resource_type_falls_back_to_properties():
    table = load_aliases({})
    vnet = "Microsoft.Network/virtualNetworks"
    assert table.path(f"{vnet}/enableDdosProtection", vnet) == ("properties", "enableDdosProtection")
    assert table.path("Microsoft.Storage/storageAccounts/x", "Microsoft.Network/virtualNetworks") is None


def test_load_aliases_reads_azure_provider_listing(tmp_path):
    listing = {
        "value": [
            {
                "namespace": "Microsoft.Contoso",
                "resourceTypes": [
                    {"resourceType": "widgets", "aliases": [{"name": "Microsoft.Contoso/widgets/size",
                                                             "paths": [{"path": "properties.dimensions.size"}]}]}
                ],
            }
        ]
    }  # fmt: skip
    file = tmp_path / "providers.json"
    file.write_text(json.dumps(listing))
    table = load_aliases(file)
    assert table.path("microsoft.contoso/WIDGETS/size", "Microsoft.Contoso/widgets") == (
        "properties",
        "dimensions",
        "size",
    )
    merged = default_aliases().merged(table)
    assert len(merged) == len(default_aliases()) + 1
    widget = {"type": "Microsoft.Contoso/widgets", "properties": {"dimensions": {"size": 3}}}
    assert matches({"field": "Microsoft.Contoso/widgets/size", "equals": 3}, widget, aliases=merged)


# ----------------------------------------------------------------------------- initiatives


INITIATIVE = {
    "properties": {
        "displayName": "baseline",
        "parameters": {"effect": {"type": "String", "defaultValue": "Audit"}},
        "policyDefinitionGroups": [{"name": "network"}],
        "policyDefinitions": [
            {
                "policyDefinitionReferenceId": "nsg",
                "policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/p1",
                "parameters": {"effect": {"value": "[parameters('effect')]"}, "n": {"value": 3}},
                "groupNames": ["network"],
            }
        ],
    },
    "name": "baseline",
}


def test_initiative_members_receive_parameters():
    initiative = load_set_definition(INITIATIVE)
    reference = initiative.definitions[0]
    assert member_parameters(initiative, reference) == {"effect": "Audit", "n": 3}
    assert member_parameters(initiative, reference, {"effect": "Deny"})["effect"] == "Deny"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            {"policyDefinitionId": "p1"},
            "properties.policyDefinitions[0].policyDefinitionId",
            "not a policy definition id",
        ),
        (
            {"parameters": {"effect": {"value": "[parameters('nope')]"}}},
            "properties.policyDefinitions[0].parameters.effect.value",
            "unknown parameter",
        ),
        ({"parameters": {"effect": "Audit"}}, "properties.policyDefinitions[0].parameters.effect", "'value'"),
        ({"groupNames": ["compute"]}, "properties.policyDefinitions[0].groupNames", "not in policyDefinitionGroups"),
    ],
)
def test_initiative_validation(change, path, message):
    document = json.loads(json.dumps(INITIATIVE))
    document["properties"]["policyDefinitions"][0].update(change)
    with pytest.raises(PolicyDefinitionError) as info:
        load_set_definition(document)
    assert info.value.path == path and message in info.value.reason


def test_initiative_evaluation_and_rollup():
    initiative = load_set_definition(INITIATIVE)
    parameters = {"effect": {"type": "String"}, "n": {"type": "Integer"}}
    member = load_definition(
        {"name": "p1", "properties": rule(IS_NSG, "[parameters('effect')]", parameters=parameters)}
    )
    [(reference, result)] = evaluate_set_definition(initiative, {"p1": member}, NSG, {"effect": "Deny"})
    assert reference.reference_id == "nsg" and result.effect is Effect.DENY
    states = [ComplianceState.COMPLIANT, ComplianceState.EXEMPT, ComplianceState.NOT_APPLICABLE]
    assert rollup_compliance(states) is ComplianceState.COMPLIANT
    assert rollup_compliance([*states, ComplianceState.NON_COMPLIANT]) is ComplianceState.NON_COMPLIANT
    assert rollup_compliance([ComplianceState.EXEMPT, ComplianceState.UNKNOWN]) is ComplianceState.EXEMPT
    assert rollup_compliance([ComplianceState.NOT_APPLICABLE]) is ComplianceState.NOT_APPLICABLE


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["", "Allow", "22", "*", "10.0.0.0/8", "2024-01-01"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["properties", "access",
        "securityRules", "destinationPortRange", "priority", "env"]), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
_FUZZ_RULES = [
    load_definition(rule(c))
    for c in [
        {"field": f"{SR}.access", "equals": "Allow"},
        {"field": f"{SR}.priority", "less": 300},
        {"field": "tags", "containsKey": "env"},
        {"field": "tags['env']", "like": "p*"},
        {"field": "location", "in": ["westeurope"]},
        {"count": {"field": SR, "where": {"field": f"{SR}.destinationPortRange", "in": ["22", "*"]}}, "greater": 0},
        {"value": f"[length(field('{SR}'))]", "greaterOrEquals": 1},
        {"value": f"[first(field('{SR}.priority'))]", "greater": 1},
        {"field": f"{SR}.destinationAddressPrefixes[*]", "match": "##.#.#.#"},
    ]
]


@settings(max_examples=150, deadline=None)
@given(_JSON, _JSON, _JSON)
def test_evaluation_never_raises_on_arbitrary_payloads(properties, tags, location):
    resource = {"type": NSG["type"], "id": NSG["id"], "name": "n", "location": location, "tags": tags,
                "properties": properties}  # fmt: skip
    for definition in _FUZZ_RULES:
        result = evaluate(definition, resource)
        assert not (result.error or "").startswith("internal"), result.error


def test_required_types_index_and_the_fast_path_agree_with_full_evaluation():
    vnet_type = {"field": "type", "equals": "microsoft.network/VIRTUALNETWORKS"}
    both = {
        "allOf": [{"field": "type", "in": ["Microsoft.Network/virtualNetworks", "X/y"]}, {"anyOf": [vnet_type, IS_NSG]}]
    }
    definition = load_definition(rule(both))
    assert definition.required_types == frozenset({"microsoft.network/virtualnetworks"})
    assert load_definition(rule({"not": IS_NSG})).required_types is None
    for resource in (NSG, VNET, SUBNET, DOC):
        full, fast = evaluate(definition, resource), evaluate(definition, resource, explain=False)
        assert (full.effect, full.compliance_state) == (fast.effect, fast.compliance_state)
        assert fast.reasons == []
