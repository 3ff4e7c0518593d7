"""The write-time policy helpers that need no server: the resource as it will be after a write,
and append/modify applied to it."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from warden.governance.enforcement import (
    POLICY_GROUP_TYPE,
    Outcome,
    _after_write,
    _new_body,
    apply_changes,
    target_type,
)
from warden.governance.policy import evaluate

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
VNET = f"{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet1"


def _outcome(then: dict, resource: dict) -> Outcome:
    definition = {"mode": "All", "policyRule": {"if": {"field": "name", "exists": True}, "then": then}}
    result = evaluate(definition, resource)
    return Outcome(SimpleNamespace(body={"properties": {}}), None, None, None, result)


def test_target_types() -> None:
    assert target_type(f"{SUB}/resourceGroups/rg") == "Microsoft.Resources/resourceGroups"
    assert target_type(VNET) == "Microsoft.Network/virtualNetworks"
    assert target_type(SUB) is None


def test_put_document_uses_the_policy_type_of_resource_groups_and_normalizes_location() -> None:
    document = _after_write(
        "PUT", f"{SUB}/resourceGroups/rg", "Microsoft.Resources/resourceGroups", {"location": "West Europe"}, None
    )
    assert document == {
        "id": f"{SUB}/resourceGroups/rg",
        "name": "rg",
        "type": POLICY_GROUP_TYPE,
        "location": "westeurope",
        "tags": {},
    }


def test_modify_and_append_change_tags_and_properties() -> None:
    resource = {
        "id": VNET,
        "name": "vnet1",
        "type": "Microsoft.Network/virtualNetworks",
        "tags": {"a": "1"},
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}},
    }
    modify = _outcome(
        {
            "effect": "modify",
            "details": {
                "roleDefinitionIds": ["/providers/Microsoft.Authorization/roleDefinitions/x"],
                "operations": [
                    {"operation": "addOrReplace", "field": "tags['env']", "value": "prod"},
                    {"operation": "remove", "field": "tags['a']"},
                    {"operation": "add", "field": "tags['env']", "value": "ignored: already there"},
                ],
            },
        },
        resource,
    )
    append = _outcome(
        {
            "effect": "append",
            "details": [
                {"field": "Microsoft.Network/virtualNetworks/addressSpace.addressPrefixes[*]", "value": "10.1.0.0/16"}
            ],
        },
        resource,
    )
    changed = apply_changes(resource, [modify, append])
    assert changed == {"tags", "properties"}
    assert resource["tags"] == {"env": "prod"}
    assert resource["properties"]["addressSpace"]["addressPrefixes"] == ["10.0.0.0/16", "10.1.0.0/16"]
    body = _new_body("PUT", {"location": "westeurope"}, resource, changed)
    assert body["tags"] == {"env": "prod"} and body["location"] == "westeurope"


def test_patch_document_merges_the_request_with_the_stored_resource() -> None:
    stored = SimpleNamespace(
        id=VNET,
        name="vnet1",
        type="Microsoft.Network/virtualNetworks",
        type_key="microsoft.network/virtualnetworks",
        location="westeurope",
        tags={"a": "1"},
        body={"properties": {"x": 1, "y": 2}},
        etag="e",
        created_by="c",
        created_by_type="User",
        created_at=NOW,
        modified_by="c",
        modified_by_type="User",
        modified_at=NOW,
    )
    document = _after_write("PATCH", VNET, "Microsoft.Network/virtualNetworks", {"properties": {"y": 3}}, stored)
    assert document["properties"] == {"x": 1, "y": 3} and document["tags"] == {"a": "1"}
