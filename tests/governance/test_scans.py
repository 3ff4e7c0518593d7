"""Compliance scans and stored policy states, in-process on a real data dir (SQLite) with the real app.

Jobs are run by calling the job runner directly, so each step is deterministic.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from warden.api.app import create_app
from warden.bootstrap import add_tenant, initialize
from warden.governance.scans import latest_states, scan
from warden.kernel.ids import key
from warden.kernel.schema import policy_scans, policy_states
from warden.kernel.settings import Settings
from warden.platform import Platform

API = {"api-version": "2023-04-01"}
RG_API = {"api-version": "2021-04-01"}
GROUP_TYPE = "Microsoft.Resources/subscriptions/resourceGroups"


class Env:
    def __init__(self, platform: Platform, client: TestClient, tenant: str, subscription: str, headers: dict) -> None:
        self.platform, self.client, self.tenant, self.headers = platform, client, tenant, headers
        self.sub = f"/subscriptions/{subscription}"

    def put(self, path: str, body: dict, params: dict = API) -> dict:
        response = self.client.put(path, params=params, json=body, headers=self.headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def delete(self, path: str, params: dict = RG_API) -> None:
        response = self.client.delete(path, params=params, headers=self.headers)
        assert response.status_code in (200, 202, 204), response.text
        self.platform.jobs.run_pending()

    def query(self, scope: str | None = None) -> dict[str, str]:
        response = self.client.post(
            f"{scope or self.sub}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults",
            params={"api-version": "2019-10-01"},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        return {s["resourceId"].rsplit("/", 1)[-1]: s["complianceState"] for s in response.json()["value"]}

    def stored(self) -> dict[str, str]:
        with self.platform.db.read() as conn:
            rows = conn.execute(select(policy_states.c.resource_key, policy_states.c.compliance_state)).all()
        return {r.resource_key.rsplit("/", 1)[-1]: r.compliance_state for r in rows}

    def tamper(self, name: str, state: str) -> None:
        with self.platform.db.write() as conn:
            conn.execute(
                update(policy_states)
                .where(policy_states.c.resource_key == key(f"{self.sub}/resourceGroups/{name}"))
                .values(record=self._record(conn, name, state))
            )

    def _record(self, conn: Any, name: str, state: str) -> dict:
        record = conn.execute(
            select(policy_states.c.record).where(
                policy_states.c.resource_key == key(f"{self.sub}/resourceGroups/{name}")
            )
        ).scalar_one()
        return {**record, "complianceState": state}


@pytest.fixture
def env(tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    initialize(settings)
    platform = Platform(settings)
    tenant, subscription, owner, _secret = add_tenant(platform, "scans")
    client = TestClient(create_app(platform), base_url="https://testserver")
    token = platform.tokens.issue(owner, "https://management.azure.com/")["access_token"]
    yield Env(platform, client, tenant, subscription, {"Authorization": f"Bearer {token}"})
    platform.stop()


def _location_policy(env: Env) -> str:
    definition = env.put(
        f"{env.sub}/providers/Microsoft.Authorization/policyDefinitions/loc",
        {
            "properties": {
                "mode": "All",
                "policyRule": {
                    "if": {
                        "allOf": [
                            {"field": "type", "equals": GROUP_TYPE},
                            {"field": "location", "notEquals": "westeurope"},
                        ]
                    },
                    "then": {"effect": "audit"},
                },
            }
        },
    )
    return env.put(
        f"{env.sub}/providers/Microsoft.Authorization/policyAssignments/loc",
        {"properties": {"policyDefinitionId": definition["id"]}},
    )["id"]


def test_scan_stores_what_on_demand_evaluation_gives(env: Env) -> None:
    _location_policy(env)
    env.put(f"{env.sub}/resourceGroups/east", {"location": "eastus"}, RG_API)
    env.put(f"{env.sub}/resourceGroups/west", {"location": "westeurope"}, RG_API)
    on_demand = env.query()
    assert on_demand == {"east": "NonCompliant", "west": "Compliant"}
    stored = scan(env.platform, env.tenant, env.sub)
    assert stored == 2
    assert env.stored() == on_demand
    assert env.query() == on_demand
    with env.platform.db.read() as conn:
        assert conn.execute(select(policy_scans.c.scope_key)).scalars().all() == [key(env.sub)]


def test_stored_states_are_read_and_changes_since_the_scan_are_re_evaluated(env: Env) -> None:
    _location_policy(env)
    env.put(f"{env.sub}/resourceGroups/east", {"location": "eastus"}, RG_API)
    env.put(f"{env.sub}/resourceGroups/west", {"location": "westeurope"}, RG_API)
    scan(env.platform, env.tenant, env.sub)
    # A stored record is what queries read (changed behind the API's back to prove it).
    env.tamper("west", "Unknown")
    assert env.query()["west"] == "Unknown"
    # A resource written after the scan is evaluated afresh, before and after its job stores it.
    env.put(f"{env.sub}/resourceGroups/west", {"location": "westeurope", "tags": {"a": "b"}}, RG_API)
    assert env.query()["west"] == "Compliant"
    env.platform.jobs.run_pending()
    assert env.stored()["west"] == "Compliant"
    # Deleted resources drop out; a group scope reads only what lies beneath it.
    env.delete(f"{env.sub}/resourceGroups/east")
    assert env.query() == {"west": "Compliant"}
    assert env.query(f"{env.sub}/resourceGroups/west") == {"west": "Compliant"}


def test_a_policy_change_after_the_scan_means_evaluating_now(env: Env) -> None:
    assignment = _location_policy(env)
    env.put(f"{env.sub}/resourceGroups/east", {"location": "eastus"}, RG_API)
    scan(env.platform, env.tenant, env.sub)
    env.tamper("east", "Compliant")
    assert env.query()["east"] == "Compliant"
    env.put(
        assignment,
        {
            "properties": {
                "policyDefinitionId": f"{env.sub}/providers/Microsoft.Authorization/policyDefinitions/loc",
                "description": "changed",
            }
        },
    )
    assert env.query()["east"] == "NonCompliant"


def test_trigger_evaluation_job_finishes_its_operation(env: Env) -> None:
    _location_policy(env)
    env.put(f"{env.sub}/resourceGroups/east", {"location": "eastus"}, RG_API)
    response = env.client.post(
        f"{env.sub}/resourceGroups/east/providers/Microsoft.PolicyInsights/policyStates/latest/triggerEvaluation",
        params={"api-version": "2019-10-01"},
        headers=env.headers,
    )
    assert response.status_code == 202
    location = response.headers["Location"]
    assert env.client.get(location, headers=env.headers).status_code == 202  # not run yet
    env.platform.jobs.run_pending()
    assert env.client.get(location, headers=env.headers).status_code in (200, 204)
    assert env.stored() == {"east": "NonCompliant"}
    with env.platform.db.read() as conn:
        assert latest_states(conn, env.tenant, f"{env.sub}/resourceGroups/east")[0]["complianceState"] == (
            "NonCompliant"
        )


def test_background_loop_scans_every_tenant(env: Env) -> None:
    _location_policy(env)
    env.put(f"{env.sub}/resourceGroups/east", {"location": "eastus"}, RG_API)
    env.platform.start_background()  # jobs and the scanner, which starts a few seconds in
    deadline = time.monotonic() + 30
    scanned: list[Any] = []
    while time.monotonic() < deadline and (env.tenant, "/") not in [tuple(r) for r in scanned]:
        time.sleep(0.5)
        with env.platform.db.read() as conn:
            scanned = conn.execute(select(policy_scans.c.tenant_id, policy_scans.c.scope_key)).all()
    assert (env.tenant, "/") in [tuple(r) for r in scanned]  # every tenant, at the root
    assert env.stored() == {"east": "NonCompliant"}


def test_an_assignment_change_queues_a_scan_of_its_scope(env: Env) -> None:
    env.put(f"{env.sub}/resourceGroups/east", {"location": "eastus"}, RG_API)
    assignment = _location_policy(env)
    assert env.query() == {"east": "NonCompliant"}  # on demand until the scan has run
    env.platform.jobs.run_pending()
    with env.platform.db.read() as conn:
        assert conn.execute(select(policy_scans.c.scope_key)).scalars().all() == [key(env.sub)]
    assert env.stored() == {"east": "NonCompliant"}
    env.tamper("east", "Unknown")
    assert env.query() == {"east": "Unknown"}  # stored states are read again
    assert env.client.delete(assignment, params=API, headers=env.headers).status_code == 200
    env.platform.jobs.run_pending()
    assert env.query() == {} and env.stored() == {}
