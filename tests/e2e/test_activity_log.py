"""The activity log over REST: Azure's event shape, filters, $select, paging, tenant isolation."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from warden.bootstrap import add_tenant
from warden.kernel.settings import load_settings
from warden.platform import Platform

VALUES = "/providers/Microsoft.Insights/eventtypes/management/values"
API = "2015-04-01"


def query(arm, server, filter_: str, **extra):  # type: ignore[no-untyped-def]
    return arm.get(f"{server.sub_scope()}{VALUES}", params={"api-version": API, "$filter": filter_, **extra})


def window() -> str:
    now = datetime.now(UTC)
    return (
        f"eventTimestamp ge '{(now - timedelta(hours=1)).isoformat()}' and "
        f"eventTimestamp le '{(now + timedelta(hours=1)).isoformat()}'"
    )


def test_a_write_records_started_and_succeeded_events(arm, warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    correlation = str(uuid.uuid4())
    response = arm.patch(
        resource_group,
        params={"api-version": "2021-04-01"},
        json={"tags": {"k": "v"}},
        headers={"x-ms-correlation-request-id": correlation, "x-ms-client-request-id": "cli-1"},
    )
    assert response.headers["x-ms-correlation-request-id"] == correlation
    events = query(arm, warden_server, f"{window()} and correlationId eq '{correlation}'").json()["value"]
    assert [e["status"]["value"] for e in events] == ["Succeeded", "Started"]
    done = events[0]
    assert done["operationName"]["value"] == "Microsoft.Resources/subscriptions/resourceGroups/write"
    assert done["resourceId"] == resource_group
    assert done["resourceGroupName"] == resource_group.rsplit("/", 1)[-1]
    assert done["resourceProviderName"]["value"] == "Microsoft.Resources"
    assert done["subscriptionId"] == warden_server.subscription
    assert done["caller"] == warden_server.bootstrap["clientId"]
    assert done["claims"]["appid"] == warden_server.bootstrap["clientId"] and "access_token" not in done["claims"]
    assert done["httpRequest"] == {"clientRequestId": "cli-1", "clientIpAddress": "127.0.0.1", "method": "PATCH"}
    assert done["authorization"] == {"action": done["operationName"]["value"], "scope": resource_group}
    assert done["category"]["value"] == "Administrative" and done["level"] == "Informational"
    assert done["subStatus"]["value"] == "OK" and done["operationId"] == events[1]["operationId"]
    assert done["eventDataId"] != events[1]["eventDataId"]
    for field in ("eventTimestamp", "submissionTimestamp"):
        datetime.fromisoformat(done[field].replace("Z", "+00:00"))


def test_denied_writes_are_recorded_and_reads_are_not(arm, warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    nobody = warden_server.new_principal()
    with warden_server.client(nobody) as http:
        assert http.patch(resource_group, params={"api-version": "2021-04-01"}, json={"tags": {}}).status_code == 403
        assert http.get(resource_group, params={"api-version": "2021-04-01"}).status_code == 403
    events = query(arm, warden_server, f"{window()} and caller eq '{nobody.client_id}'").json()["value"]
    assert [(e["status"]["value"], e["subStatus"]["value"], e["httpRequest"]["method"]) for e in events] == [
        ("Failed", "Forbidden", "PATCH")
    ]


def test_filters_select_and_paging(arm, warden_server, resource_group) -> None:  # type: ignore[no-untyped-def]
    group = resource_group.rsplit("/", 1)[-1]
    for index in range(3):
        arm.patch(resource_group, params={"api-version": "2021-04-01"}, json={"tags": {"n": str(index)}})
    by_group = query(arm, warden_server, f"{window()} and resourceGroupName eq '{group.upper()}'").json()["value"]
    assert len(by_group) >= 8 and all(e["resourceGroupName"] == group for e in by_group)
    by_uri = query(arm, warden_server, f"{window()} and resourceUri eq '{resource_group.lower()}'").json()["value"]
    assert {e["eventDataId"] for e in by_uri} == {e["eventDataId"] for e in by_group}
    selected = query(
        arm, warden_server, f"{window()} and resourceGroupName eq '{group}'", **{"$select": "eventDataId,status"}
    ).json()["value"]
    assert all(set(e) == {"eventDataId", "status"} for e in selected)
    pages, link = [], f"{warden_server.sub_scope()}{VALUES}"
    params = {"api-version": API, "$filter": f"{window()} and resourceGroupName eq '{group}'", "$top": "3"}
    while link:
        page = arm.get(link, params=params).json()
        params = None
        pages.append(page["value"])
        link = page.get("nextLink")
    assert all(len(p) <= 3 for p in pages) and len(pages) >= 3
    assert [e["eventDataId"] for p in pages for e in p] == [e["eventDataId"] for e in by_group]
    future = datetime.now(UTC) + timedelta(days=1)
    empty = query(arm, warden_server, f"eventTimestamp ge '{future.isoformat()}'").json()["value"]
    assert empty == []
    bad = query(arm, warden_server, "eventTimestamp ge 'yesterday'")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidFilterInQueryString"


def test_group_deletion_is_logged_when_the_job_finishes(arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    group = f"{warden_server.sub_scope()}/resourceGroups/rg-logged-{uuid.uuid4().hex[:6]}"
    arm.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"})
    correlation = str(uuid.uuid4())
    accepted = arm.delete(
        group, params={"api-version": "2021-04-01"}, headers={"x-ms-correlation-request-id": correlation}
    )
    assert accepted.status_code == 202
    deadline = time.monotonic() + 20
    while arm.get(accepted.headers["Location"]).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
    events = query(arm, warden_server, f"{window()} and correlationId eq '{correlation}'").json()["value"]
    assert [e["status"]["value"] for e in events] == ["Succeeded", "Accepted", "Started"]


def test_tenants_are_isolated(arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    platform = Platform(load_settings(warden_server.data_dir))
    try:
        tenant, subscription, principal, secret = add_tenant(platform, "Other tenant")
    finally:
        platform.stop()
    import httpx

    token = httpx.post(
        f"{warden_server.endpoint}/{tenant}/oauth2/v2.0/token",
        verify=warden_server.ssl_context(),
        data={
            "grant_type": "client_credentials",
            "client_id": principal.app_id,
            "client_secret": secret.secret_text,
            "scope": "https://management.azure.com/.default",
        },
    ).json()["access_token"]
    other = httpx.Client(
        base_url=warden_server.endpoint,
        verify=warden_server.ssl_context(),
        headers={"Authorization": f"Bearer {token}"},
    )
    with other:
        # The other tenant's Owner-at-root sees its own subscription only.
        subs = other.get("/subscriptions", params={"api-version": "2022-12-01"}).json()["value"]
        assert [s["subscriptionId"] for s in subs] == [subscription]
        ours = warden_server.sub_scope()
        for method, path in [
            ("GET", ours),
            ("GET", f"{ours}/resourcegroups"),
            ("GET", f"{ours}{VALUES}"),
            ("PUT", f"{ours}/resourceGroups/intruder"),
        ]:
            response = other.request(method, path, params={"api-version": "2021-04-01"}, json={"location": "x"})
            assert response.status_code == 404 and response.json()["error"]["code"] == "SubscriptionNotFound"
        root = other.get("/providers/Microsoft.Authorization/roleAssignments", params={"api-version": "2022-04-01"})
        assert {a["properties"]["principalId"] for a in root.json()["value"]} == {principal.object_id}
        assert other.get("/v1.0/servicePrincipals").json()["value"][0]["id"] == principal.object_id
        assert len(other.get("/v1.0/servicePrincipals").json()["value"]) == 1
    # Our own view did not gain anything from the other tenant.
    assert warden_server.subscription in [
        s["subscriptionId"] for s in arm.get("/subscriptions", params={"api-version": "2022-12-01"}).json()["value"]
    ]
    assert subscription not in [
        s["subscriptionId"] for s in arm.get("/subscriptions", params={"api-version": "2022-12-01"}).json()["value"]
    ]


def test_tenant_level_operations_are_in_the_tenant_activity_log(arm, warden_server) -> None:  # type: ignore[no-untyped-def]
    principal = warden_server.new_principal()
    events = arm.get(
        "/providers/Microsoft.Insights/eventtypes/management/values", params={"api-version": API, "$filter": window()}
    ).json()["value"]
    created = [
        e
        for e in events
        if e["operationName"]["value"] == "Microsoft.Authorization/servicePrincipals/write"
        and e["status"]["value"] == "Succeeded"
    ]
    assert created and all(e["subscriptionId"] is None for e in events)
    secrets = [e for e in events if e["resourceId"].endswith(principal.object_id)]
    assert {e["operationName"]["value"] for e in secrets} == {
        "Microsoft.Authorization/servicePrincipals/addPassword/action"
    }
    assert principal.secret not in str(events)  # the secret itself is never logged
