"""Bad input gets a 400 in ARM's error shape and changes nothing."""

from __future__ import annotations

import uuid

import pytest

RG = {"api-version": "2021-04-01"}
MI = {"api-version": "2023-01-31"}
IDENTITY = "providers/Microsoft.ManagedIdentity/userAssignedIdentities"


def snapshot(arm, warden_server) -> tuple:  # type: ignore[no-untyped-def]
    """Everything a bad request could have changed: groups, resources, assignments, locks."""
    sub = warden_server.sub_scope()
    groups = arm.get(f"{sub}/resourcegroups", params=RG).json()["value"]
    resources = arm.get(f"{sub}/resources", params=RG).json()["value"]
    assignments = arm.get(
        f"{sub}/providers/Microsoft.Authorization/roleAssignments", params={"api-version": "2022-04-01"}
    ).json()["value"]
    locks = arm.get(f"{sub}/providers/Microsoft.Authorization/locks", params={"api-version": "2016-09-01"}).json()
    return (
        sorted((g["id"], str(g["tags"])) for g in groups),
        sorted(r["id"] for r in resources),
        sorted(a["id"] for a in assignments),
        sorted(lock["id"] for lock in locks["value"]),
    )


def assert_arm_error(response, status: int = 400, code: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str)
    if code:
        assert error["code"] == code, error


def test_malformed_json_and_wrong_types_change_nothing(arm, warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(arm, warden_server)
    identity = f"{resource_group}/{IDENTITY}/good-name"
    cases = [
        ("PUT", resource_group, b'{"location": "westeurope",', "InvalidRequestContent"),
        ("PUT", resource_group, b'["not", "an", "object"]', "InvalidRequestContent"),
        ("PUT", resource_group, b'{"location": 42}', None),
        ("PUT", resource_group, b'{"location": "westeurope", "tags": {"a": 1}}', None),
        ("PATCH", resource_group, b'{"tags": "oops"}', "InvalidRequestContent"),
        ("PUT", identity, b'{"location": "westeurope", "properties": []}', "InvalidRequestContent"),
        ("PUT", identity, b'{"properties": {}}', "LocationRequired"),
        ("PUT", identity, b"\xff\xfe", "InvalidRequestContent"),
        (
            "PUT",
            f"{resource_group}/providers/Microsoft.Authorization/locks/l1",
            b'{"properties": {"level": ["ReadOnly"]}}',
            "InvalidLockLevel",
        ),
        (
            "PUT",
            f"{resource_group}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            b'{"properties": {"roleDefinitionId": 5, "principalId": "x"}}',
            None,
        ),
        (
            "PUT",
            f"{resource_group}/providers/Microsoft.Authorization/roleAssignments/not-a-guid",
            b'{"properties": {}}',
            "InvalidRoleAssignmentId",
        ),
    ]
    for method, path, body, code in cases:
        params = MI if IDENTITY in path else RG
        response = arm.request(method, path, params=params, content=body, headers={"Content-Type": "application/json"})
        assert_arm_error(response, 400, code)
    assert snapshot(arm, warden_server) == before


def test_missing_or_malformed_api_version(arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    group = f"{warden_server.sub_scope()}/resourceGroups/rg-apiversion"
    assert_arm_error(arm.put(group, json={"location": "westeurope"}), 400, "MissingApiVersionParameter")
    assert_arm_error(
        arm.put(group, params={"api-version": "latest"}, json={"location": "westeurope"}),
        400,
        "InvalidApiVersionParameter",
    )
    # Any well-formed version is accepted, preview ones included.
    assert arm.get(warden_server.sub_scope(), params={"api-version": "2099-01-01-preview"}).status_code == 200
    assert arm.get(group, params={"api-version": "2021-04-01"}).status_code == 404


@pytest.mark.parametrize("name", ["a" * 91, "bad/name", "bad..name", "trailing.", "spaces here", "pct%20"])
def test_invalid_resource_group_names(arm, warden_server, name) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(arm, warden_server)
    response = arm.put(f"{warden_server.sub_scope()}/resourceGroups/{name}", params=RG, json={"location": "westeurope"})
    assert response.status_code in (400, 404), response.text  # "bad/name" is another path: not a group
    assert "error" in response.json()
    assert snapshot(arm, warden_server) == before


@pytest.mark.parametrize("name", ["x" * 261, "semi:colon", "star*", "a..b", "end."])
def test_invalid_resource_names(arm, warden_server, resource_group, name) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(arm, warden_server)
    assert_arm_error(arm.put(f"{resource_group}/{IDENTITY}/{name}", params=MI, json={"location": "westeurope"}), 400)
    assert snapshot(arm, warden_server) == before


@pytest.mark.parametrize(
    "path,code",
    [
        ("/subscriptions/not-a-guid/resourceGroups/rg", "InvalidSubscriptionId"),
        ("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Nope/things/x", "InvalidResourceNamespace"),
        (
            "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/unknownThings/x",
            "InvalidResourceType",
        ),
        ("/subscriptions/{sub}/resourceGroups/rg/providers/Not A Namespace/x/y", "InvalidResourceId"),
        (
            "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/user-assigned!/x",
            "InvalidResourceId",
        ),
        ("/subscriptions/{sub}/resourceGroups/rg/bogus/providers/Microsoft.Authorization/locks/x", "InvalidResourceId"),
    ],
)
def test_invalid_ids_and_unknown_types(arm, warden_server, path, code) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(arm, warden_server)
    target = path.replace("{sub}", warden_server.subscription)
    assert_arm_error(
        arm.put(target, params=RG, json={"location": "westeurope", "properties": {"level": "ReadOnly"}}), 400, code
    )
    assert snapshot(arm, warden_server) == before


def test_failed_writes_are_still_in_the_activity_log(arm, warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    correlation = str(uuid.uuid4())
    arm.put(
        f"{resource_group}/{IDENTITY}/{'x' * 300}",
        params=MI,
        json={"location": "westeurope"},
        headers={"x-ms-correlation-request-id": correlation},
    )
    events = arm.get(
        f"{warden_server.sub_scope()}/providers/Microsoft.Insights/eventtypes/management/values",
        params={"api-version": "2015-04-01", "$filter": f"correlationId eq '{correlation}'"},
    ).json()["value"]
    assert [e["status"]["value"] for e in events] == ["Failed", "Started"]  # newest first
    assert events[0]["subStatus"]["value"] == "BadRequest"
    assert events[0]["operationName"]["value"] == "Microsoft.ManagedIdentity/userAssignedIdentities/write"
    malformed = str(uuid.uuid4())
    arm.put(resource_group, params=RG, content=b"{not json", headers={"x-ms-correlation-request-id": malformed})
    events = arm.get(
        f"{warden_server.sub_scope()}/providers/Microsoft.Insights/eventtypes/management/values",
        params={"api-version": "2015-04-01", "$filter": f"correlationId eq '{malformed}'"},
    ).json()["value"]
    assert [(e["status"]["value"], e["subStatus"]["value"]) for e in events] == [
        ("Failed", "BadRequest"),
        ("Started", ""),
    ]


def test_oversized_bodies_are_refused(arm, warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(arm, warden_server)
    huge = b'{"location": "westeurope", "tags": {"a": "' + b"x" * (5 * 1024 * 1024) + b'"}}'
    response = arm.put(resource_group, params=RG, content=huge, headers={"Content-Type": "application/json"})
    assert_arm_error(response, 413, "RequestEntityTooLarge")
    assert snapshot(arm, warden_server) == before
