"""PIM with users and groups: a group's eligibility lets its members activate for themselves, and a
role requiring MFA activates for a user whose token says it did MFA (``amr`` has ``mfa``) only.

User tokens are signed with the server's own key, as its token service signs them after an
interactive sign-in (see ``support.graph``), so the ARM API is exercised as a user."""

from __future__ import annotations

import time
import uuid

import httpx
from joserfc import jwt

from support.graph import add_member, create_group, create_user, graph, server_platform
from support.server import ARM_SCOPE, READER, WardenServer

API = {"api-version": "2020-10-01"}
RG_API = {"api-version": "2021-04-01"}
AUTH = "/providers/Microsoft.Authorization"


def user_arm_client(server: WardenServer, platform: object, user_id: str, amr: list[str]) -> httpx.Client:
    tokens = platform.tokens  # type: ignore[attr-defined]
    key = platform.keys.signing_key()  # type: ignore[attr-defined]
    now = int(time.time())
    claims = {
        "iss": tokens.issuer(server.tenant),
        "aud": ARM_SCOPE.removesuffix("/.default"),
        "sub": user_id,
        "oid": user_id,
        "tid": server.tenant,
        "appid": server.bootstrap["clientId"],
        "idtyp": "user",
        "amr": amr,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "ver": "1.0",
    }
    token = jwt.encode({"alg": "RS256", "typ": "JWT", "kid": key.kid}, claims, key)
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server.endpoint, verify=server.ssl_context(), timeout=30, headers=headers)


def eligible(arm: httpx.Client, principal_id: str, scope: str) -> dict:
    body = {
        "properties": {
            "principalId": principal_id,
            "roleDefinitionId": f"{AUTH}/roleDefinitions/{READER}",
            "requestType": "AdminAssign",
            "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "P7D"}},
        }
    }
    response = arm.put(f"{scope}{AUTH}/roleEligibilityScheduleRequests/{uuid.uuid4()}", params=API, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def activation(principal_id: str) -> dict:
    return {
        "properties": {
            "principalId": principal_id,
            "roleDefinitionId": f"{AUTH}/roleDefinitions/{READER}",
            "requestType": "SelfActivate",
            "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "PT1H"}},
            "justification": "audit review",
        }
    }


def test_group_eligibility_lets_members_activate_for_themselves(warden_server, arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    member, outsider = warden_server.new_principal(), warden_server.new_principal()
    with graph(warden_server) as admin:
        group = create_group(admin)
        assert add_member(admin, group, member.object_id).status_code == 204
    made = eligible(arm, group, resource_group)
    assert made["properties"]["principalType"] == "Group"
    with warden_server.client(member) as http:
        mine = http.get(
            f"{resource_group}{AUTH}/roleEligibilityScheduleInstances", params={**API, "$filter": "asTarget()"}
        )
        assert [i["properties"]["principalId"] for i in mine.json()["value"]] == [group]
        url = f"{resource_group}{AUTH}/roleAssignmentScheduleRequests/{uuid.uuid4()}"
        activated = http.put(url, params=API, json=activation(member.object_id))
        assert activated.status_code == 201, activated.text
        assert activated.json()["properties"]["status"] == "Provisioned"
        assert http.get(resource_group, params=RG_API).status_code == 200
    # The activation is the member's, not the group's: other members gain nothing.
    with warden_server.client(outsider) as http:
        refused = http.put(
            f"{resource_group}{AUTH}/roleAssignmentScheduleRequests/{uuid.uuid4()}",
            params=API,
            json=activation(outsider.object_id),
        )
        assert refused.status_code == 400 and '"EligibilityRule"' in refused.json()["error"]["message"]


def test_mfa_rule_follows_the_users_token(warden_server, arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    with graph(warden_server) as admin:
        user = create_user(admin)
    made = eligible(arm, user.object_id, resource_group)
    assert made["properties"]["principalType"] == "User"
    assignments = arm.get(f"{resource_group}{AUTH}/roleManagementPolicyAssignments", params=API).json()["value"]
    policy_id = next(a for a in assignments if a["properties"]["roleDefinitionId"].endswith(READER))["properties"][
        "policyId"
    ]
    rule = {
        "id": "Enablement_EndUser_Assignment",
        "ruleType": "RoleManagementPolicyEnablementRule",
        "enabledRules": ["Justification", "MultiFactorAuthentication"],
        "target": {"caller": "EndUser", "operations": ["All"], "level": "Assignment"},
    }
    assert arm.patch(policy_id, params=API, json={"properties": {"rules": [rule]}}).status_code == 200
    with server_platform(warden_server) as platform:
        password_only = user_arm_client(warden_server, platform, user.object_id, ["pwd"])
        with_mfa = user_arm_client(warden_server, platform, user.object_id, ["pwd", "mfa"])
    with password_only as http:
        refused = http.put(
            f"{resource_group}{AUTH}/roleAssignmentScheduleRequests/{uuid.uuid4()}",
            params=API,
            json=activation(user.object_id),
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["message"] == 'The following policy rules failed: ["MfaRule"]'
        assert http.get(resource_group, params=RG_API).status_code == 403
    with with_mfa as http:
        url = f"{resource_group}{AUTH}/roleAssignmentScheduleRequests/{uuid.uuid4()}"
        activated = http.put(url, params=API, json=activation(user.object_id))
        assert activated.status_code == 201, activated.text
        assert activated.json()["properties"]["principalType"] == "User"
        assert http.get(resource_group, params=RG_API).status_code == 200
