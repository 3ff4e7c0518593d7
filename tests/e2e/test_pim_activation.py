"""PIM end to end with azure-mgmt-authorization: eligibility, self-activation with its policy checks,
access granted for the activation only, deactivation, automatic expiry, and the activity log."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2020_10_01.models import (
    RoleAssignmentScheduleRequest,
    RoleEligibilityScheduleRequest,
)
from azure.mgmt.resource.resources import ResourceManagementClient

from support.server import ARM_SCOPE, CONTRIBUTOR, READER

API = {"api-version": "2020-10-01"}
RG_API = {"api-version": "2021-04-01"}
AUTH = "/providers/Microsoft.Authorization"


def auth_client(server, principal=None):  # type: ignore[no-untyped-def]
    return AuthorizationManagementClient(
        server.credential(principal),
        server.subscription,
        base_url=server.endpoint,
        connection_verify=server.ca,
        credential_scopes=[ARM_SCOPE],
    )


def make_eligible(server, principal, role: str, scope: str, duration: str = "P30D") -> str:  # type: ignore[no-untyped-def]
    """Make ``principal`` eligible for ``role`` at ``scope`` through the SDK (as the bootstrap Owner)."""
    request = RoleEligibilityScheduleRequest(
        role_definition_id=f"{AUTH}/roleDefinitions/{role}",
        principal_id=principal.object_id,
        request_type="AdminAssign",
        schedule_info={"expiration": {"type": "AfterDuration", "duration": duration}},
        justification="on call rota",
    )
    created = auth_client(server).role_eligibility_schedule_requests.create(scope, str(uuid.uuid4()), request)
    assert created.status == "Provisioned", created
    return created.target_role_eligibility_schedule_id


def activation(principal, role: str, duration: str = "PT2H", justification: str | None = "incident 42", **extra):  # type: ignore[no-untyped-def]
    return RoleAssignmentScheduleRequest(
        role_definition_id=f"{AUTH}/roleDefinitions/{role}",
        principal_id=principal.object_id,
        request_type="SelfActivate",
        schedule_info={"expiration": {"type": "AfterDuration", "duration": duration}},
        justification=justification,
        **extra,
    )


def can_read_group(server, principal, group: str) -> int:  # type: ignore[no-untyped-def]
    with server.client(principal) as http:
        return http.get(group, params=RG_API).status_code


def test_eligible_contributor_activates_with_justification_and_gets_access(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    schedule_id = make_eligible(warden_server, principal, CONTRIBUTOR, resource_group)
    assert can_read_group(warden_server, principal, resource_group) == 403  # eligible is not active
    # A schedule is found under its own scope only, not by its GUID under another one.
    with warden_server.client() as http:
        assert http.get(schedule_id, params=API).status_code == 200
        elsewhere = schedule_id.replace(resource_group, f"{warden_server.sub_scope()}/resourceGroups/elsewhere")
        assert http.get(elsewhere, params=API).status_code == 404

    mine = auth_client(warden_server, principal)
    eligible = list(mine.role_eligibility_schedule_instances.list_for_scope(resource_group, filter="asTarget()"))
    assert [e.role_eligibility_schedule_id for e in eligible] == [schedule_id]
    assert eligible[0].status == "Provisioned" and eligible[0].principal_id == principal.object_id

    request = mine.role_assignment_schedule_requests.create(
        resource_group, str(uuid.uuid4()), activation(principal, CONTRIBUTOR)
    )
    assert request.status == "Provisioned"
    assert request.linked_role_eligibility_schedule_id == schedule_id
    assert request.requestor_id == principal.object_id
    # Read and write access to the group now, through a real role assignment.
    resources = ResourceManagementClient(
        warden_server.credential(principal),
        warden_server.subscription,
        base_url=warden_server.endpoint,
        connection_verify=warden_server.ca,
        credential_scopes=[ARM_SCOPE],
    )
    name = resource_group.rsplit("/", 1)[-1]
    assert resources.resource_groups.get(name).name == name
    updated = resources.resource_groups.create_or_update(name, {"location": "westeurope", "tags": {"pim": "yes"}})
    assert updated.tags == {"pim": "yes"}

    instances = list(mine.role_assignment_schedule_instances.list_for_scope(resource_group, filter="asTarget()"))
    assert len(instances) == 1 and instances[0].assignment_type == "Activated"
    assert instances[0].linked_role_eligibility_schedule_id == schedule_id
    end = instances[0].end_date_time
    assert timedelta(hours=1, minutes=59) < end - datetime.now(UTC) <= timedelta(hours=2)
    assignments = list(
        auth_client(warden_server).role_assignments.list_for_scope(
            resource_group, filter=f"principalId eq '{principal.object_id}'"
        )
    )
    assert [a.id for a in assignments] == [instances[0].origin_role_assignment_id]

    # A second activation while active is refused, as Azure refuses it.
    with pytest.raises(HttpResponseError) as again:
        mine.role_assignment_schedule_requests.create(
            resource_group, str(uuid.uuid4()), activation(principal, CONTRIBUTOR)
        )
    assert again.value.error.code == "RoleAssignmentExists"

    # SelfDeactivate ends it at once.
    deactivate = RoleAssignmentScheduleRequest(
        role_definition_id=f"{AUTH}/roleDefinitions/{CONTRIBUTOR}",
        principal_id=principal.object_id,
        request_type="SelfDeactivate",
    )
    assert (
        mine.role_assignment_schedule_requests.create(resource_group, str(uuid.uuid4()), deactivate).status == "Revoked"
    )
    assert can_read_group(warden_server, principal, resource_group) == 403
    assert list(mine.role_assignment_schedule_instances.list_for_scope(resource_group, filter="asTarget()")) == []


POLICY_CASES = [
    ("PT2H", None, ["JustificationRule"]),
    ("PT9H", "long job", ["ExpirationRule"]),  # the default maximum is PT8H
    ("PT1M", "too short", ["ExpirationRule"]),  # Azure's minimum is 5 minutes
    ("PT9H", "", ["ExpirationRule", "JustificationRule"]),  # every failed rule is named
]


def test_activation_must_follow_the_policy(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    make_eligible(warden_server, principal, READER, resource_group)
    client = auth_client(warden_server, principal)
    for duration, justification, rules in POLICY_CASES:
        with pytest.raises(HttpResponseError) as refused:
            client.role_assignment_schedule_requests.create(
                resource_group, str(uuid.uuid4()), activation(principal, READER, duration, justification)
            )
        assert refused.value.status_code == 400
        assert refused.value.error.code == "RoleAssignmentRequestPolicyValidationFailed"
        expected = "The following policy rules failed: [" + ",".join(f'"{r}"' for r in rules) + "]"
        assert refused.value.error.message == expected
    assert can_read_group(warden_server, principal, resource_group) == 403
    assert list(client.role_assignment_schedule_requests.list_for_scope(resource_group, filter="asRequestor()")) == []


def test_only_eligible_principals_activate_and_only_for_themselves(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    eligible, outsider = warden_server.new_principal(), warden_server.new_principal()
    make_eligible(warden_server, eligible, READER, resource_group)
    with pytest.raises(HttpResponseError) as not_eligible:
        auth_client(warden_server, outsider).role_assignment_schedule_requests.create(
            resource_group, str(uuid.uuid4()), activation(outsider, READER)
        )
    assert not_eligible.value.error.code == "RoleAssignmentRequestPolicyValidationFailed"
    assert '"EligibilityRule"' in not_eligible.value.error.message
    # Eligible for Reader is not eligible for Contributor.
    with pytest.raises(HttpResponseError) as other_role:
        auth_client(warden_server, eligible).role_assignment_schedule_requests.create(
            resource_group, str(uuid.uuid4()), activation(eligible, CONTRIBUTOR)
        )
    assert '"EligibilityRule"' in other_role.value.error.message
    # Nobody activates someone else's eligibility.
    with pytest.raises(HttpResponseError) as for_someone_else:
        auth_client(warden_server, outsider).role_assignment_schedule_requests.create(
            resource_group, str(uuid.uuid4()), activation(eligible, READER)
        )
    assert for_someone_else.value.status_code == 403
    assert for_someone_else.value.error.code == "AuthorizationFailed"
    # Making someone eligible is an administrator's write.
    with pytest.raises(HttpResponseError) as not_admin:
        auth_client(warden_server, outsider).role_eligibility_schedule_requests.create(
            resource_group,
            str(uuid.uuid4()),
            RoleEligibilityScheduleRequest(
                role_definition_id=f"{AUTH}/roleDefinitions/{CONTRIBUTOR}",
                principal_id=outsider.object_id,
                request_type="AdminAssign",
            ),
        )
    assert not_admin.value.status_code == 403
    # Another principal cannot read someone's requests unless it can read the scope.
    with warden_server.client(outsider) as http:
        listed = http.get(f"{resource_group}{AUTH}/roleEligibilityScheduleInstances", params=API)
        assert listed.status_code == 403 and listed.json()["error"]["code"] == "AuthorizationFailed"
        own = http.get(
            f"{resource_group}{AUTH}/roleEligibilityScheduleInstances", params={**API, "$filter": "asTarget()"}
        )
        assert own.status_code == 200 and own.json()["value"] == []


def test_bad_requests_change_nothing(warden_server, arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    url = f"{resource_group}{AUTH}/roleEligibilityScheduleRequests/{uuid.uuid4()}"
    role = f"{AUTH}/roleDefinitions/{READER}"
    cases = [
        (
            {"properties": {"principalId": principal.object_id, "roleDefinitionId": role, "requestType": "Maybe"}},
            "InvalidRequestType",
        ),
        (
            {"properties": {"principalId": "nope", "roleDefinitionId": role, "requestType": "AdminAssign"}},
            "InvalidPrincipalId",
        ),
        (
            {"properties": {"principalId": str(uuid.uuid4()), "roleDefinitionId": role, "requestType": "AdminAssign"}},
            "PrincipalNotFound",
        ),
        (
            {
                "properties": {
                    "principalId": principal.object_id,
                    "roleDefinitionId": f"{AUTH}/roleDefinitions/{uuid.uuid4()}",
                    "requestType": "AdminAssign",
                }
            },
            "RoleDefinitionDoesNotExist",
        ),
        (
            {
                "properties": {
                    "principalId": principal.object_id,
                    "roleDefinitionId": role,
                    "requestType": "AdminAssign",
                    "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "eight hours"}},
                }
            },
            "InvalidRequestContent",
        ),
        (
            {
                "properties": {
                    "principalId": principal.object_id,
                    "roleDefinitionId": role,
                    "requestType": "AdminAssign",
                    "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "P400D"}},
                }
            },
            "RoleAssignmentRequestPolicyValidationFailed",  # longer than the eligibility maximum P365D
        ),
        ({"properties": "x"}, "InvalidRequestContent"),
    ]
    for body, code in cases:
        response = arm.put(url, params=API, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["code"] == code, response.text
    assert arm.get(url, params=API).status_code == 404
    listed = arm.get(
        f"{resource_group}{AUTH}/roleEligibilitySchedules",
        params={**API, "$filter": f"principalId eq '{principal.object_id}'"},
    )
    assert listed.json()["value"] == []
    bad_filter = arm.get(
        f"{resource_group}{AUTH}/roleEligibilitySchedules", params={**API, "$filter": "color eq 'red'"}
    )
    assert bad_filter.status_code == 400 and bad_filter.json()["error"]["code"] == "InvalidFilterInQueryString"


def test_access_ends_at_expiry_and_the_sweep_removes_the_assignment(warden_server, arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    now = datetime.now(UTC)
    end = now + timedelta(seconds=4)
    request = auth_client(warden_server).role_assignment_schedule_requests.create(
        resource_group,
        str(uuid.uuid4()),
        RoleAssignmentScheduleRequest(
            role_definition_id=f"{AUTH}/roleDefinitions/{READER}",
            principal_id=principal.object_id,
            request_type="AdminAssign",
            justification="short maintenance window",
            schedule_info={
                "start_date_time": now - timedelta(minutes=1),
                "expiration": {"type": "AfterDateTime", "end_date_time": end},
            },
        ),
    )
    assert request.status == "Provisioned"
    assert can_read_group(warden_server, principal, resource_group) == 200
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()) + 0.2)
    # Refused from the end time on, whether or not the sweep has run yet.
    assert can_read_group(warden_server, principal, resource_group) == 403
    assignments = f"{resource_group}{AUTH}/roleAssignments"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listed = arm.get(
            assignments, params={"api-version": "2022-04-01", "$filter": f"principalId eq '{principal.object_id}'"}
        )
        if listed.json()["value"] == []:
            break
        time.sleep(0.5)
    else:
        pytest.fail("the expiry sweep did not remove the role assignment")
    schedule = arm.get(request.target_role_assignment_schedule_id, params=API).json()
    assert schedule["properties"]["status"] == "Expired"
    # The removal is in the activity log, by PIM.
    events = arm.get(
        f"{warden_server.sub_scope()}/providers/Microsoft.Insights/eventtypes/management/values",
        params={"api-version": "2015-04-01", "$filter": _window()},
    ).json()["value"]
    origin = arm.get(request.target_role_assignment_schedule_instance_id, params=API).json()["properties"]
    removed = [
        e
        for e in events
        if e["operationName"]["value"] == "Microsoft.Authorization/roleAssignments/delete"
        and e["caller"] == "Privileged Identity Management"
        and e["resourceId"].lower() == origin["originRoleAssignmentId"].lower()
    ]
    assert removed and all(e["status"]["value"] in ("Started", "Succeeded") for e in removed)


def test_requests_are_in_the_activity_log(warden_server, arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    make_eligible(warden_server, principal, READER, resource_group)
    name = str(uuid.uuid4())
    auth_client(warden_server, principal).role_assignment_schedule_requests.create(
        resource_group, name, activation(principal, READER)
    )
    with pytest.raises(HttpResponseError):
        auth_client(warden_server, principal).role_assignment_schedule_requests.create(
            resource_group, str(uuid.uuid4()), activation(principal, READER, justification=None)
        )
    events = arm.get(
        f"{warden_server.sub_scope()}/providers/Microsoft.Insights/eventtypes/management/values",
        params={"api-version": "2015-04-01", "$filter": _window()},
    ).json()["value"]
    mine = [
        e
        for e in events
        if e["operationName"]["value"] == "Microsoft.Authorization/roleAssignmentScheduleRequests/write"
        and e["caller"] == principal.client_id
    ]
    ok = [e for e in mine if e["resourceId"].lower().endswith(name)]
    assert {e["status"]["value"] for e in ok} == {"Started", "Succeeded"}
    assert any(e["status"]["value"] == "Failed" for e in mine)


def _window() -> str:
    now = datetime.now(UTC)
    start, end = (now - timedelta(minutes=10)).isoformat(), (now + timedelta(minutes=10)).isoformat()
    return f"eventTimestamp ge '{start}' and eventTimestamp le '{end}'"
