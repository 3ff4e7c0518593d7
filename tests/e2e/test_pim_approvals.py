"""PIM policies and approvals with azure-mgmt-authorization: a role needing approval stays pending
until another approver approves, self-approval and outsiders are refused, denial grants nothing,
MFA/ticket switches, policy validation, and tenant isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2020_10_01.models import (
    ApprovalSettings,
    ApprovalStage,
    RoleAssignmentScheduleRequest,
    RoleEligibilityScheduleRequest,
    RoleManagementPolicy,
    RoleManagementPolicyApprovalRule,
    RoleManagementPolicyEnablementRule,
    RoleManagementPolicyExpirationRule,
    UserSet,
)

from support.graph import server_platform
from support.server import ARM_SCOPE, CONTRIBUTOR, READER
from warden.authz.pim.approvals import time_out_approvals
from warden.bootstrap import add_tenant
from warden.kernel.settings import load_settings
from warden.platform import Platform

API = {"api-version": "2020-10-01"}
RG_API = {"api-version": "2021-04-01"}
AUTH = "/providers/Microsoft.Authorization"


def client_for(server, principal=None):  # type: ignore[no-untyped-def]
    return AuthorizationManagementClient(
        server.credential(principal),
        server.subscription,
        base_url=server.endpoint,
        connection_verify=server.ca,
        credential_scopes=[ARM_SCOPE],
    )


def eligible(server, principal, role: str, scope: str) -> None:  # type: ignore[no-untyped-def]
    client_for(server).role_eligibility_schedule_requests.create(
        scope,
        str(uuid.uuid4()),
        RoleEligibilityScheduleRequest(
            role_definition_id=f"{AUTH}/roleDefinitions/{role}",
            principal_id=principal.object_id,
            request_type="AdminAssign",
            schedule_info={"expiration": {"type": "AfterDuration", "duration": "P30D"}},
        ),
    )


def activate(server, principal, role: str, scope: str, **extra):  # type: ignore[no-untyped-def]
    return client_for(server, principal).role_assignment_schedule_requests.create(
        scope,
        str(uuid.uuid4()),
        RoleAssignmentScheduleRequest(
            role_definition_id=f"{AUTH}/roleDefinitions/{role}",
            principal_id=principal.object_id,
            request_type="SelfActivate",
            schedule_info={"expiration": {"type": "AfterDuration", "duration": "PT1H"}},
            justification="deploy the fix",
            **extra,
        ),
    )


def policy_name(server, role: str, scope: str) -> str:  # type: ignore[no-untyped-def]
    """The role's policy at the scope, found through its policy assignment as the portal does."""
    assignments = client_for(server).role_management_policy_assignments.list_for_scope(scope)
    found = [a for a in assignments if a.role_definition_id.lower().endswith(role)]
    assert len(found) == 1
    return found[0].policy_id.rsplit("/", 1)[-1]


def update_policy(server, role: str, scope: str, *rules):  # type: ignore[no-untyped-def]
    return client_for(server).role_management_policies.update(
        scope, policy_name(server, role, scope), RoleManagementPolicy(rules=list(rules))
    )


def approval_rule(*approvers: str) -> RoleManagementPolicyApprovalRule:
    return RoleManagementPolicyApprovalRule(
        id="Approval_EndUser_Assignment",
        setting=ApprovalSettings(
            is_approval_required=True,
            approval_stages=[ApprovalStage(primary_approvers=[UserSet(id=a, user_type="User") for a in approvers])],
        ),
    )


def status_of_group(server, principal, group: str) -> int:  # type: ignore[no-untyped-def]
    with server.client(principal) as http:
        return http.get(group, params=RG_API).status_code


def decide(server, principal, approval_id: str, result: str):  # type: ignore[no-untyped-def]
    guid = approval_id.rsplit("/", 1)[-1]
    return client_for(server, principal).role_assignment_approval_step.put(
        guid, guid, {"review_result": result, "justification": f"{result} after checking the ticket"}
    )


def test_activation_waits_for_another_approver(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    requester, approver, outsider = (warden_server.new_principal() for _ in range(3))
    eligible(warden_server, requester, CONTRIBUTOR, resource_group)
    policy = update_policy(
        warden_server, CONTRIBUTOR, resource_group, approval_rule(approver.object_id, requester.object_id)
    )
    assert {r.id: r for r in policy.rules}["Approval_EndUser_Assignment"].setting.is_approval_required

    pending = activate(warden_server, requester, CONTRIBUTOR, resource_group)
    assert pending.status == "PendingApproval" and pending.approval_id
    assert status_of_group(warden_server, requester, resource_group) == 403  # nothing granted yet

    # The requester is a listed approver, yet may not approve its own request.
    with pytest.raises(HttpResponseError) as own:
        decide(warden_server, requester, pending.approval_id, "Approve")
    assert own.value.status_code == 403 and own.value.error.code == "SelfApprovalNotAllowed"
    # Someone who is not an approver cannot even see the approval.
    with pytest.raises(HttpResponseError) as stranger:
        decide(warden_server, outsider, pending.approval_id, "Approve")
    assert stranger.value.status_code == 403 and stranger.value.error.code == "AuthorizationFailed"
    assert status_of_group(warden_server, requester, resource_group) == 403

    waiting = list(client_for(warden_server, approver).role_assignment_approval.list())
    assert pending.approval_id.rsplit("/", 1)[-1] in {a.name for a in waiting}
    assert list(client_for(warden_server, outsider).role_assignment_approval.list()) == []

    stage = decide(warden_server, approver, pending.approval_id, "Approve")
    assert stage.review_result == "Approve" and stage.status == "Completed" and stage.principal_id == approver.object_id
    assert status_of_group(warden_server, requester, resource_group) == 200
    request = client_for(warden_server, requester).role_assignment_schedule_requests.get(resource_group, pending.name)
    assert request.status == "Provisioned" and request.target_role_assignment_schedule_id
    with pytest.raises(HttpResponseError) as twice:
        decide(warden_server, approver, pending.approval_id, "Deny")
    assert twice.value.status_code == 409
    # Each step is in the directory audit log (AuditLogs), as Entra's PIM writes it.
    with warden_server.client() as http:
        audits = http.get("/v1.0/auditLogs/directoryAudits", params={"$filter": "loggedByService eq 'PIM'"})
    assert audits.status_code == 200, audits.text
    steps = [
        a["activityDisplayName"]
        for a in audits.json()["value"]
        if {"key": "RequestId", "value": request.id} in a.get("additionalDetails", [])
    ]
    assert sorted(steps) == sorted(
        [
            "Add member to role requested (PIM activation)",
            "Add member to role request approved (PIM activation)",
            "Add member to role completed (PIM activation)",
        ]
    )


def test_denied_and_canceled_requests_grant_nothing(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    requester, approver = warden_server.new_principal(), warden_server.new_principal()
    eligible(warden_server, requester, READER, resource_group)
    update_policy(warden_server, READER, resource_group, approval_rule(approver.object_id))
    pending = activate(warden_server, requester, READER, resource_group)
    # A second request while one is pending is refused.
    with pytest.raises(HttpResponseError) as second:
        activate(warden_server, requester, READER, resource_group)
    assert second.value.status_code == 409
    assert decide(warden_server, approver, pending.approval_id, "Deny").review_result == "Deny"
    mine = client_for(warden_server, requester)
    assert mine.role_assignment_schedule_requests.get(resource_group, pending.name).status == "Denied"
    assert status_of_group(warden_server, requester, resource_group) == 403
    assert list(mine.role_assignment_schedule_instances.list_for_scope(resource_group, filter="asTarget()")) == []

    again = activate(warden_server, requester, READER, resource_group)
    mine.role_assignment_schedule_requests.cancel(resource_group, again.name)
    assert mine.role_assignment_schedule_requests.get(resource_group, again.name).status == "Canceled"
    with pytest.raises(HttpResponseError) as late:
        decide(warden_server, approver, again.approval_id, "Approve")
    assert late.value.status_code == 409
    assert status_of_group(warden_server, requester, resource_group) == 403


def test_mfa_and_ticket_switches(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    eligible(warden_server, principal, READER, resource_group)
    update_policy(
        warden_server,
        READER,
        resource_group,
        RoleManagementPolicyEnablementRule(
            id="Enablement_EndUser_Assignment",
            enabled_rules=["Justification", "Ticketing", "MultiFactorAuthentication"],
        ),
    )
    # A service principal's token has no amr "mfa": refused, with the missing ticket named too.
    with pytest.raises(HttpResponseError) as refused:
        activate(warden_server, principal, READER, resource_group)
    assert refused.value.error.code == "RoleAssignmentRequestPolicyValidationFailed"
    assert refused.value.error.message == 'The following policy rules failed: ["TicketingRule","MfaRule"]'
    with pytest.raises(HttpResponseError) as still:
        activate(warden_server, principal, READER, resource_group, ticket_info={"ticket_number": "CHG-1"})
    assert still.value.error.message == 'The following policy rules failed: ["MfaRule"]'
    update_policy(
        warden_server,
        READER,
        resource_group,
        RoleManagementPolicyEnablementRule(id="Enablement_EndUser_Assignment", enabled_rules=["Ticketing"]),
    )
    ok = activate(warden_server, principal, READER, resource_group, ticket_info={"ticket_number": "CHG-1"})
    assert ok.status == "Provisioned" and ok.ticket_info.ticket_number == "CHG-1"


def test_policy_changes_are_validated(warden_server, arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    name = policy_name(warden_server, READER, resource_group)
    url = f"{resource_group}{AUTH}/roleManagementPolicies/{name}"
    before = arm.get(url, params=API).json()
    for rule, code in (
        (
            RoleManagementPolicyExpirationRule(id="Expiration_EndUser_Assignment", maximum_duration="PT25H"),
            "InvalidRoleManagementPolicyRule",
        ),
        (
            RoleManagementPolicyExpirationRule(id="Expiration_EndUser_Assignment", maximum_duration="PT30M"),
            "InvalidRoleManagementPolicyRule",
        ),
        (
            RoleManagementPolicyEnablementRule(id="Enablement_EndUser_Assignment", enabled_rules=["Prayer"]),
            "InvalidRoleManagementPolicyRule",
        ),
        (
            RoleManagementPolicyExpirationRule(id="No_Such_Rule", maximum_duration="PT2H"),
            "InvalidRoleManagementPolicyRule",
        ),
        (approval_rule(), "InvalidRoleManagementPolicyRule"),  # approval without approvers
    ):
        with pytest.raises(HttpResponseError) as refused:
            update_policy(warden_server, READER, resource_group, rule)
        assert refused.value.status_code == 400 and refused.value.error.code == code
    assert arm.get(url, params=API).json()["properties"]["rules"] == before["properties"]["rules"]
    changed = update_policy(
        warden_server,
        READER,
        resource_group,
        RoleManagementPolicyExpirationRule(id="Expiration_EndUser_Assignment", maximum_duration="PT4H"),
    )
    assert {r.id: r for r in changed.rules}["Expiration_EndUser_Assignment"].maximum_duration == "PT4H"
    # Policies belong to a scope: the subscription's Reader policy is still the default.
    sub_policy = client_for(warden_server).role_management_policies.get(
        warden_server.sub_scope(), policy_name(warden_server, READER, warden_server.sub_scope())
    )
    assert {r.id: r for r in sub_policy.rules}["Expiration_EndUser_Assignment"].maximum_duration == "PT8H"
    # Changing a policy is an administrator's write.
    reader = warden_server.new_principal()
    warden_server.assign(reader, READER, resource_group)
    with warden_server.client(reader) as http:
        assert http.get(url, params=API).status_code == 200
        assert http.patch(url, params=API, json={"properties": {"rules": []}}).status_code == 403


def test_tenants_are_isolated(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    eligible(warden_server, principal, READER, resource_group)
    request = activate(warden_server, principal, READER, resource_group)
    platform = Platform(load_settings(warden_server.data_dir))
    try:
        tenant, _subscription, other, secret = add_tenant(platform, "Fabrikam PIM")
    finally:
        platform.stop()
    token = httpx.post(
        f"{warden_server.endpoint}/{tenant}/oauth2/v2.0/token",
        verify=warden_server.ssl_context(),
        data={
            "grant_type": "client_credentials",
            "client_id": other.app_id,
            "client_secret": secret.secret_text,
            "scope": ARM_SCOPE,
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context(), headers=headers) as http:
        # The other tenant's root Owner does not see our subscription's requests or schedules.
        got = http.get(f"{resource_group}{AUTH}/roleAssignmentScheduleRequests/{request.name}", params=API)
        assert got.status_code == 404 and got.json()["error"]["code"] == "SubscriptionNotFound"
        mine = http.get(f"{AUTH}/roleEligibilityScheduleInstances", params={**API, "$filter": "asTarget()"})
        assert mine.status_code == 200 and mine.json()["value"] == []
        # Nor can it make our principal eligible in its own tenant.
        body = {
            "properties": {
                "principalId": principal.object_id,
                "roleDefinitionId": f"{AUTH}/roleDefinitions/{READER}",
                "requestType": "AdminAssign",
                "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "P1D"}},
            }
        }
        refused = http.put(f"{AUTH}/roleEligibilityScheduleRequests/{uuid.uuid4()}", params=API, json=body)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "PrincipalNotFound"
        assert (
            http.get(f"{AUTH}/roleAssignmentApprovals", params={"api-version": "2021-01-01-preview"}).json()["value"]
            == []
        )


def test_undecided_approvals_time_out(warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    requester, approver = warden_server.new_principal(), warden_server.new_principal()
    eligible(warden_server, requester, READER, resource_group)
    update_policy(warden_server, READER, resource_group, approval_rule(approver.object_id))
    pending = activate(warden_server, requester, READER, resource_group)
    # The server's sweep runs the same function; here it is run as of two days later, on the
    # server's own database.
    with server_platform(warden_server) as platform:
        assert time_out_approvals(platform, datetime.now(UTC)) == 0  # not a day old yet
        assert time_out_approvals(platform, datetime.now(UTC) + timedelta(days=2)) >= 1
    request = client_for(warden_server, requester).role_assignment_schedule_requests.get(resource_group, pending.name)
    assert request.status == "TimedOut"
    with pytest.raises(HttpResponseError) as late:
        decide(warden_server, approver, pending.approval_id, "Approve")
    assert late.value.status_code == 409
    assert status_of_group(warden_server, requester, resource_group) == 403
