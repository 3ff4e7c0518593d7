"""PIM alerts with azure-mgmt-authorization: too many owners, too many permanent owners and roles
assigned outside PIM, each with its incidents; owners made through PIM are not counted as permanent;
stale eligibility until it is used."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2020_10_01.models import RoleAssignmentScheduleRequest, RoleEligibilityScheduleRequest

from support.server import ARM_SCOPE, OWNER, READER

AUTH = "/providers/Microsoft.Authorization"
ALERT_API = {"api-version": "2022-08-01-preview"}


def client_for(server, principal=None, **options):  # type: ignore[no-untyped-def]
    return AuthorizationManagementClient(
        server.credential(principal),
        server.subscription,
        base_url=server.endpoint,
        connection_verify=server.ca,
        credential_scopes=[ARM_SCOPE],
        **options,
    )


def test_alerts_find_too_many_owners_and_assignments_outside_pim(warden_server, arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    client = client_for(warden_server)
    alert_client = client_for(warden_server, api_version="2022-08-01-preview")  # the alerts' API version
    quiet = {a.name: a for a in alert_client.alerts.list_for_scope(resource_group)}
    assert set(quiet) >= {
        "TooManyOwnersAssignedToResource",
        "TooManyPermanentOwnersAssignedToResource",
        "AzureRolesAssignedOutsidePim",
    }
    assert not any(a.is_active for a in quiet.values())

    permanent = [warden_server.new_principal() for _ in range(3)]
    for principal in permanent:
        warden_server.assign(principal, OWNER, resource_group)
    reader = warden_server.new_principal()
    warden_server.assign(reader, READER, resource_group)
    # A fourth Owner through PIM: an owner, but neither permanent nor outside PIM.
    via_pim = warden_server.new_principal()
    now = datetime.now(UTC)
    client.role_assignment_schedule_requests.create(
        resource_group,
        str(uuid.uuid4()),
        RoleAssignmentScheduleRequest(
            role_definition_id=f"{AUTH}/roleDefinitions/{OWNER}",
            principal_id=via_pim.object_id,
            request_type="AdminAssign",
            justification="break-glass drill",
            schedule_info={"start_date_time": now, "expiration": {"type": "AfterDuration", "duration": "P1D"}},
        ),
    )

    alerts = {a.name: a for a in alert_client.alerts.list_for_scope(resource_group)}
    owners = alerts["TooManyOwnersAssignedToResource"]
    assert owners.is_active and owners.incident_count == 4
    assert owners.alert_definition.severity_level == "Medium"
    # The SDK's AlertIncident model keeps only the incident type; the details are read over REST.
    incidents = f"{resource_group}{AUTH}/roleManagementAlerts/{{}}/alertIncidents"
    owner_incidents = arm.get(incidents.format(owners.name), params=ALERT_API).json()["value"]
    assert {i["properties"]["assigneeName"] for i in owner_incidents} == {p.object_id for p in [*permanent, via_pim]}
    permanent_alert = alerts["TooManyPermanentOwnersAssignedToResource"]
    assert permanent_alert.is_active and permanent_alert.incident_count == 3
    outside = list(alert_client.alert_incidents.list_for_scope(resource_group, "AzureRolesAssignedOutsidePim"))
    assert len(outside) == 4
    outside_rest = arm.get(incidents.format("AzureRolesAssignedOutsidePim"), params=ALERT_API).json()["value"]
    assert {i["properties"]["assigneeId"] for i in outside_rest} == {p.object_id for p in [*permanent, reader]}
    assert {i["properties"]["alertIncidentType"] for i in outside_rest} == {"AzureRolesAssignedOutsidePimAlertIncident"}

    # Refresh answers the alert as of now; definitions and configurations are listed too.
    refreshed = arm.post(
        f"{resource_group}{AUTH}/roleManagementAlerts/TooManyOwnersAssignedToResource/refresh", params=ALERT_API
    )
    assert refreshed.status_code == 200 and refreshed.json()["properties"]["incidentCount"] == 4
    definitions = {d.name for d in alert_client.alert_definitions.list_for_scope(resource_group)}
    assert "TooManyPermanentOwnersAssignedToResource" in definitions
    configuration = alert_client.alert_configurations.get(resource_group, "TooManyOwnersAssignedToResource")
    assert configuration.is_enabled
    config_url = f"{resource_group}{AUTH}/roleManagementAlertConfigurations/TooManyOwnersAssignedToResource"
    assert arm.get(config_url, params=ALERT_API).json()["properties"]["thresholdNumberOfOwners"] == 3

    # Alerts are about the scope: the subscription's other groups are unaffected, and readers of
    # this group alone cannot read another group's alerts.
    with warden_server.client(reader) as http:
        assert http.get(f"{resource_group}{AUTH}/roleManagementAlerts", params=ALERT_API).status_code == 200
        other = f"{warden_server.sub_scope()}/resourceGroups/elsewhere{AUTH}/roleManagementAlerts"
        assert http.get(other, params=ALERT_API).status_code == 403


def test_stale_eligibility_until_activated(warden_server, arm, resource_group) -> None:  # type: ignore[no-untyped-def]
    client = client_for(warden_server)
    stale, fresh = warden_server.new_principal(), warden_server.new_principal()
    now = datetime.now(UTC)
    for principal, since in ((stale, now - timedelta(days=40)), (fresh, now - timedelta(days=2))):
        client.role_eligibility_schedule_requests.create(
            resource_group,
            str(uuid.uuid4()),
            RoleEligibilityScheduleRequest(
                role_definition_id=f"{AUTH}/roleDefinitions/{READER}",
                principal_id=principal.object_id,
                request_type="AdminAssign",
                schedule_info={"start_date_time": since, "expiration": {"type": "AfterDuration", "duration": "P300D"}},
            ),
        )
    url = f"{resource_group}{AUTH}/roleManagementAlerts/StaleEligibleAssignments"
    alert = arm.get(url, params=ALERT_API).json()["properties"]
    assert alert["isActive"] and [i["properties"]["assigneeId"] for i in alert["alertIncidents"]] == [stale.object_id]
    client_for(warden_server, stale).role_assignment_schedule_requests.create(
        resource_group,
        str(uuid.uuid4()),
        RoleAssignmentScheduleRequest(
            role_definition_id=f"{AUTH}/roleDefinitions/{READER}",
            principal_id=stale.object_id,
            request_type="SelfActivate",
            schedule_info={"expiration": {"type": "AfterDuration", "duration": "PT1H"}},
            justification="quarterly check",
        ),
    )
    alert = arm.get(url, params=ALERT_API).json()["properties"]
    assert not alert["isActive"] and alert["incidentCount"] == 0
