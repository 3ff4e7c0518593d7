"""A resource type registered the way later services register theirs, with POST actions.

Checks what the kernel promises every type: actions are authorized as
``{type}/{action}/action``, a ReadOnly lock blocks actions that change state but not those that
only read, and the action's outcome lands in the activity log. Runs the real app in-process
(Starlette's test client) on a real data dir.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from starlette.testclient import TestClient

from warden.api.app import create_app
from warden.bootstrap import add_tenant, initialize
from warden.identity.principals import create_service_principal
from warden.kernel.context import RequestContext
from warden.kernel.ids import ResourceId
from warden.kernel.providers import Action, ResourceType
from warden.kernel.reply import Reply
from warden.kernel.resources import GenericResourceHandler, get_row, resource_json, save_resource
from warden.kernel.settings import Settings
from warden.platform import Platform

WIDGET = "Warden.Test/widgets"


class WidgetProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = 1
    restarts: int = 0


def _restart(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    assert ctx.conn is not None
    row = get_row(ctx.conn, ctx.tenant_id, str(rid))
    properties = {**row.body["properties"], "restarts": row.body["properties"]["restarts"] + 1}
    row = save_resource(
        ctx,
        resource_id=row.id,
        name=row.name,
        type_=row.type,
        parent=row.parent_key,
        location=row.location,
        tags=row.tags,
        body={"properties": properties},
        existing=row,
    )
    return Reply(200, resource_json(row))


def _inspect(ctx: RequestContext, rid: ResourceId, body: Any) -> Reply:
    assert ctx.conn is not None
    return Reply(200, {"restarts": get_row(ctx.conn, ctx.tenant_id, str(rid)).body["properties"]["restarts"]})


@pytest.fixture
def env(tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    initialize(settings)
    platform = Platform(settings)
    widgets = ResourceType(
        "Warden.Test", ("widgets",), GenericResourceHandler(WIDGET, WidgetProperties), display_name="widget"
    )
    widgets.add_action(Action("restart", _restart, changes_state=True))
    widgets.add_action(Action("inspect", _inspect, changes_state=False))
    platform.registry.register(widgets)
    tenant, subscription, owner, _secret = add_tenant(platform, "actions")
    with platform.db.write() as conn:
        operator = create_service_principal(conn, tenant, "operator")
    client = TestClient(create_app(platform), base_url="https://testserver")

    def as_(principal):  # type: ignore[no-untyped-def]
        token = platform.tokens.issue(principal, "https://management.azure.com/")["access_token"]
        return {"Authorization": f"Bearer {token}"}

    yield client, as_, owner, operator, subscription
    platform.stop()


def test_actions_are_authorized_locked_and_logged(env) -> None:  # type: ignore[no-untyped-def]
    client, as_, owner, operator, subscription = env
    api = {"api-version": "2024-01-01"}
    group = f"/subscriptions/{subscription}/resourceGroups/rg"
    widget = f"{group}/providers/{WIDGET}/w1"
    assert client.put(group, params=api, json={"location": "x"}, headers=as_(owner)).status_code == 201
    created = client.put(widget, params=api, json={"location": "x", "properties": {"size": 3}}, headers=as_(owner))
    assert created.status_code == 201 and created.json()["properties"]["restarts"] == 0
    wrong = client.put(widget, params=api, json={"location": "x", "properties": {"size": "big"}}, headers=as_(owner))
    assert wrong.status_code == 400 and wrong.json()["error"]["target"] == "properties.size"

    # A custom role that may only inspect widgets.
    role = str(uuid.uuid4())
    assert (
        client.put(
            f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            params=api,
            headers=as_(owner),
            json={
                "properties": {
                    "roleName": "Widget inspector",
                    "assignableScopes": [f"/subscriptions/{subscription}"],
                    "permissions": [{"actions": ["Warden.Test/widgets/inspect/action"]}],
                }
            },
        ).status_code
        == 201
    )
    assert (
        client.put(
            f"{group}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            params=api,
            headers=as_(owner),
            json={
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{role}",
                    "principalId": operator.object_id,
                }
            },
        ).status_code
        == 201
    )
    assert client.post(f"{widget}/inspect", params=api, headers=as_(operator)).json() == {"restarts": 0}
    refused = client.post(f"{widget}/restart", params=api, headers=as_(operator))
    assert refused.status_code == 403 and "Warden.Test/widgets/restart/action" in refused.json()["error"]["message"]

    assert client.post(f"{widget}/restart", params=api, headers=as_(owner)).json()["properties"]["restarts"] == 1
    assert (
        client.put(
            f"{group}/providers/Microsoft.Authorization/locks/ro",
            params=api,
            headers=as_(owner),
            json={"properties": {"level": "ReadOnly"}},
        ).status_code
        == 201
    )
    locked = client.post(f"{widget}/restart", params=api, headers=as_(owner))
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "ScopeLocked"
    # Actions that only read are not blocked by a ReadOnly lock.
    assert client.post(f"{widget}/inspect", params=api, headers=as_(owner)).json() == {"restarts": 1}
    unknown = client.post(f"{widget}/explode", params=api, headers=as_(owner))
    assert unknown.status_code == 400

    events = client.get(
        f"/subscriptions/{subscription}/providers/Microsoft.Insights/eventtypes/management/values",
        params={"api-version": "2015-04-01", "$filter": f"resourceUri eq '{widget}'"},
        headers=as_(owner),
    ).json()["value"]
    outcomes = [(e["operationName"]["value"], e["status"]["value"]) for e in events]
    assert ("Warden.Test/widgets/restart/action", "Succeeded") in outcomes
    assert outcomes.count(("Warden.Test/widgets/restart/action", "Failed")) == 2  # 403, then ScopeLocked
    operations = client.get("/providers/Warden.Test/operations", params=api, headers=as_(owner)).json()["value"]
    assert {"Warden.Test/widgets/restart/action", "Warden.Test/widgets/inspect/action"} <= {
        o["name"] for o in operations
    }
