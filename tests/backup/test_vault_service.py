"""The vault service in-process (real data dir, real SQLite database, the real app through Starlette's
test client): policy validation in Azure's error shape with nothing written, GFS retention after
backups, the scheduler (time zones, missed runs, no overlap) and the soft-delete purge, with the
clock moved instead of waited for."""

from __future__ import annotations

import base64
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from warden.api.app import create_app
from warden.bootstrap import add_tenant, initialize
from warden.kernel.settings import Settings
from warden.platform import Platform

API = {"api-version": "2025-02-01"}
RUN_TIME = "2026-01-01T02:00:00Z"


@dataclass
class VaultEnv:
    platform: Platform
    client: TestClient
    headers: dict[str, str]
    tenant: str
    group: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.request(method, path, params=API, json=body, headers=self.headers)

    def vault(self, name: str = "vault") -> str:
        vault_id = f"{self.group}/providers/Microsoft.RecoveryServices/vaults/{name}"
        assert self.call("PUT", vault_id, {"location": "westeurope"}).status_code in (200, 201)
        return vault_id


def make_env(tmp_path) -> VaultEnv:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "data", backup_roots=[tmp_path])
    initialize(settings)
    platform = Platform(settings)
    tenant, subscription, owner, _secret = add_tenant(platform, "backup")
    client = TestClient(create_app(platform), base_url="https://testserver")
    token = platform.tokens.issue(owner, "https://management.azure.com/")["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    group = f"/subscriptions/{subscription}/resourceGroups/rg"
    assert (
        client.put(
            group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}, headers=headers
        ).status_code
        == 201
    )
    return VaultEnv(platform, client, headers, tenant, group)


def policy(daily: int | None = 30, *, times: list[str] | None = None, frequency: str = "Daily", **tiers: Any) -> dict:
    times = times or [RUN_TIME]
    retention: dict[str, Any] = {"retentionPolicyType": "LongTermRetentionPolicy"}
    if daily is not None:
        retention["dailySchedule"] = {
            "retentionTimes": times,
            "retentionDuration": {"count": daily, "durationType": "Days"},
        }
    retention.update(tiers)
    schedule: dict[str, Any] = {
        "schedulePolicyType": "SimpleSchedulePolicy",
        "scheduleRunFrequency": frequency,
        "scheduleRunTimes": times,
    }
    return {"properties": {"backupManagementType": "MAB", "schedulePolicy": schedule, "retentionPolicy": retention}}


def item_id(vault_id: str, path: str) -> str:
    name = "FileFolder;" + base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")
    return f"{vault_id}/backupFabrics/Azure/protectionContainers/{socket.gethostname()}/protectedItems/{name}"


@pytest.fixture
def env(tmp_path):  # type: ignore[no-untyped-def]
    environment = make_env(tmp_path)
    yield environment
    environment.platform.stop()


@pytest.fixture(scope="module")
def shared_env(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One server for the validation tests (each uses its own vault): setting up costs seconds."""
    environment = make_env(tmp_path_factory.mktemp("vault-validation"))
    yield environment
    environment.platform.stop()


def job_of(env: VaultEnv, accepted) -> dict:  # type: ignore[no-untyped-def]
    assert accepted.status_code == 202, accepted.text
    env.platform.jobs.run_pending()
    return env.call("GET", accepted.json()["id"]).json()


BAD_POLICIES = [
    ("no daily retention", policy(None), "properties.retentionPolicy.dailySchedule"),
    ("daily count 0", policy(0), "properties.retentionPolicy.dailySchedule.retentionDuration.count"),
    ("daily count 10000", policy(10000), "properties.retentionPolicy.dailySchedule.retentionDuration.count"),
    (
        "run time off the half hour",
        policy(30, times=["2026-01-01T02:15:00Z"]),
        "properties.schedulePolicy.scheduleRunTimes",
    ),
    (
        "four run times",
        policy(30, times=[f"2026-01-01T0{h}:00:00Z" for h in range(4)]),
        "properties.schedulePolicy.scheduleRunTimes",
    ),
    ("not a time", policy(30, times=["02:00"]), "properties.schedulePolicy.scheduleRunTimes"),
    ("hourly", policy(30, frequency="Hourly"), "properties.schedulePolicy.scheduleRunFrequency"),
    (
        "weekly without days",
        policy(None, frequency="Weekly", weeklySchedule={"retentionDuration": {"count": 4, "durationType": "Weeks"}}),
        "properties.schedulePolicy.scheduleRunDays",
    ),
    (
        "weeks as days",
        policy(30, weeklySchedule={"retentionDuration": {"count": 4, "durationType": "Days"}}),
        "properties.retentionPolicy.weeklySchedule.retentionDuration.durationType",
    ),
    (
        "100 years",
        policy(30, yearlySchedule={"retentionDuration": {"count": 100, "durationType": "Years"}}),
        "properties.retentionPolicy.yearlySchedule.retentionDuration.count",
    ),
]


@pytest.mark.parametrize(("case", "body", "target"), BAD_POLICIES, ids=[c[0] for c in BAD_POLICIES])
def test_bad_policies_are_refused_in_azures_shape_and_nothing_is_written(shared_env, case, body, target) -> None:  # type: ignore[no-untyped-def]
    env = shared_env
    vault = env.vault(f"v{uuid.uuid4().hex[:8]}")
    refused = env.call("PUT", f"{vault}/backupPolicies/p", body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "BMSUserErrorInvalidPolicyInput" and error["target"] == target and error["message"]
    assert env.call("GET", f"{vault}/backupPolicies/p").status_code == 404
    assert env.call("GET", f"{vault}/backupPolicies").json()["value"] == []


def test_more_than_9999_recovery_points_per_item_is_refused(shared_env) -> None:  # type: ignore[no-untyped-def]
    env = shared_env
    vault = env.vault(f"v{uuid.uuid4().hex[:8]}")
    times = ["2026-01-01T01:00:00Z", "2026-01-01T09:00:00Z", "2026-01-01T17:00:00Z"]
    too_many = policy(3334, times=times)  # 3 a day for 3,334 days = 10,002 points
    refused = env.call("PUT", f"{vault}/backupPolicies/p", too_many)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "BMSUserErrorMaxRecoveryPointsExceeded"
    assert env.call("GET", f"{vault}/backupPolicies/p").status_code == 404
    fits = env.call("PUT", f"{vault}/backupPolicies/p", policy(3333, times=times))
    assert fits.status_code == 200 and fits.json()["properties"]["protectedItemsCount"] == 0


def test_unknown_time_zone_and_bad_restore_requests_change_nothing(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    vault = env.vault()
    bad_zone = policy(30)
    bad_zone["properties"]["timeZone"] = "Mars/Olympus"
    assert env.call("PUT", f"{vault}/backupPolicies/p", bad_zone).json()["error"]["target"] == "properties.timeZone"
    assert env.call("PUT", f"{vault}/backupPolicies/p", policy(30)).status_code == 200
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("x")
    item = item_id(vault, str(source))
    assert env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}}).status_code == 200
    assert job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))["properties"]["status"] == "Completed"
    point = env.call("GET", f"{item}/recoveryPoints").json()["value"][0]["id"]
    for body, target in (
        (
            {"properties": {"recoveryType": "AlternateLocation", "targetDirectory": "relative/dir"}},
            "properties.targetDirectory",
        ),
        ({"properties": {"recoveryType": "Sideways"}}, "properties.recoveryType"),
        (
            {
                "properties": {
                    "targetDirectory": "/tmp/x",
                    "restoreRequestType": "ItemLevelRestore",
                    "restoreFileSpecs": [{"path": "../etc/passwd"}],
                }
            },
            "properties.restoreFileSpecs",
        ),
        (
            {"properties": {"targetDirectory": "/tmp/x", "restoreRequestType": "ItemLevelRestore"}},
            "properties.restoreFileSpecs",
        ),
    ):
        refused = env.call("POST", f"{point}/restore", body)
        assert refused.status_code == 400 and refused.json()["error"]["target"] == target
    data_dir = str(env.platform.settings.data_dir)
    into_data = env.call("POST", f"{point}/restore", {"properties": {"targetDirectory": data_dir}})
    assert into_data.status_code == 400 and into_data.json()["error"]["code"] == "BMSUserErrorPathNotAllowed"
    for protected in (data_dir, str(tmp_path)):  # the data dir itself, or a directory holding it
        refused = env.call("PUT", item_id(vault, protected), {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "BMSUserErrorPathNotAllowed"
    # Outside the operator's backup roots: neither protected nor restored into (the server's own files).
    outside = env.call("PUT", item_id(vault, "/etc"), {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    assert outside.status_code == 400 and outside.json()["error"]["code"] == "BMSUserErrorPathNotAllowed"
    assert "--backup-root" not in outside.json()["error"]["message"]  # roots are configured: it names them
    escape = env.call("POST", f"{point}/restore", {"properties": {"targetDirectory": "/var/tmp"}})
    assert escape.status_code == 400 and escape.json()["error"]["code"] == "BMSUserErrorPathNotAllowed"
    jobs = env.call("GET", f"{vault}/backupJobs").json()["value"]
    assert [j["properties"]["operation"] for j in jobs] == ["Backup"]
    missing = env.call(
        "PUT", item_id(vault, str(tmp_path / "nope")), {"properties": {"policyId": f"{vault}/backupPolicies/p"}}
    )
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "BMSUserErrorPathNotFound"
    past = env.call("POST", f"{item}/backup", {"properties": {"recoveryPointExpiryTimeInUTC": "2001-01-01T00:00:00Z"}})
    assert past.status_code == 400 and len(env.call("GET", f"{vault}/backupJobs").json()["value"]) == 1


def test_retention_expires_old_points_after_a_backup_and_keeps_retain_until(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from warden.backup.lifecycle import apply_retention

    vault = env.vault()
    assert env.call("PUT", f"{vault}/backupPolicies/p", policy(7)).status_code == 200
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("x")
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    kept_long = datetime.now(UTC) + timedelta(days=365)
    job_of(
        env, env.call("POST", f"{item}/backup", {"properties": {"recoveryPointExpiryTimeInUTC": kept_long.isoformat()}})
    )
    job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))
    job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))
    points = env.call("GET", f"{item}/recoveryPoints").json()["value"]
    assert len(points) == 3
    # Ten days on, the daily tier keeps nothing: the newest point and the on-demand one with a
    # retain-until date stay, the other expires (its snapshot is deleted from the repository).
    expired = apply_retention(env.platform, env.tenant, item, datetime.now(UTC) + timedelta(days=10))
    left = {p["name"] for p in env.call("GET", f"{item}/recoveryPoints").json()["value"]}
    assert len(expired) == 1 and left == {points[0]["name"], points[2]["name"]}
    from warden.backup.storage import open_repository

    repo = open_repository(env.platform, env.tenant, vault)
    try:
        assert set(repo.snapshot_ids()) == left
    finally:
        repo.close()
    assert env.call("GET", item).json()["properties"]["extendedInfo"]["recoveryPointCount"] == 3
    in_use = env.call("DELETE", f"{vault}/backupPolicies/p")
    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "BMSUserErrorPolicyInUse"

    # Stop protection, keep data: points stay, no backups, retention no longer applies; then resume.
    stopped = env.call("PUT", item, {"properties": {"protectionState": "ProtectionStopped"}})
    assert stopped.status_code == 200 and stopped.json()["properties"]["protectionState"] == "ProtectionStopped"
    refused = env.call("POST", f"{item}/backup", {"properties": {}})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "BMSUserErrorProtectionStopped"
    assert apply_retention(env.platform, env.tenant, item, datetime.now(UTC) + timedelta(days=400)) == []
    assert env.call("DELETE", f"{vault}/backupPolicies/p").status_code == 200  # no protected item uses it now
    assert env.call("PUT", f"{vault}/backupPolicies/p", policy(7)).status_code == 200
    resumed = env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    assert resumed.json()["properties"]["protectionState"] == "Protected"
    assert job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))["properties"]["status"] == "Completed"


def test_scheduler_honours_time_zone_runs_missed_slots_once_and_never_overlaps(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from warden.backup.scheduler import tick
    from warden.kernel.schema import resources

    vault = env.vault()
    body = policy(30, times=["2026-01-01T02:00:00Z"])
    body["properties"]["timeZone"] = "Asia/Tokyo"  # 02:00 in Tokyo is 17:00 UTC the day before
    assert env.call("PUT", f"{vault}/backupPolicies/p", body).status_code == 200
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("x")
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    with env.platform.db.write() as conn:  # protected three days ago (the server was down since)
        conn.execute(
            update(resources)
            .where(resources.c.key == item.lower())
            .values(created_at=datetime(2026, 11, 25, 0, 0, tzinfo=UTC))
        )
    assert tick(env.platform, datetime(2026, 11, 28, 16, 59, tzinfo=UTC)) != []  # three missed slots: one job
    assert tick(env.platform, datetime(2026, 11, 28, 16, 59, 30, tzinfo=UTC)) == []
    jobs = env.call("GET", f"{vault}/backupJobs").json()["value"]
    assert len(jobs) == 1 and jobs[0]["properties"]["status"] == "InProgress"
    # The next Tokyo 02:00 comes while the first job still runs: that slot is skipped, not stacked.
    assert tick(env.platform, datetime(2026, 11, 28, 17, 0, 30, tzinfo=UTC)) == []
    assert len(env.call("GET", f"{vault}/backupJobs").json()["value"]) == 1
    env.platform.jobs.run_pending()
    assert env.call("GET", f"{vault}/backupJobs").json()["value"][0]["properties"]["status"] == "Completed"
    assert tick(env.platform, datetime(2026, 11, 29, 16, 59, tzinfo=UTC)) == []  # not yet 02:00 in Tokyo
    assert len(tick(env.platform, datetime(2026, 11, 29, 17, 0, tzinfo=UTC))) == 1


def test_due_slot_is_pure_and_collapses_missed_runs() -> None:
    from datetime import time as clock

    from warden.backup.policies import Schedule
    from warden.backup.scheduler import due_slot

    schedule = Schedule((clock(2, 0), clock(14, 30)), frozenset({0, 2}), "Europe/Paris")  # Mon, Wed
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    assert due_slot(schedule, monday, monday + timedelta(hours=1)) == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    week_later = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # Friday: newest slot is Wednesday 14:30 Paris
    assert due_slot(schedule, monday, week_later) == datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
    assert due_slot(schedule, datetime(2026, 11, 25, 13, 30, tzinfo=UTC), week_later) is None


def test_soft_deleted_points_restore_until_the_period_ends_and_are_purged_after(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from warden.backup.lifecycle import purge_expired
    from warden.backup.storage import open_repository

    vault = env.vault()
    env.call("PUT", f"{vault}/backupPolicies/p", policy(30))
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_bytes(b"payload" * 1000)
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))
    job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))
    older, _newer = sorted(
        env.call("GET", f"{item}/recoveryPoints").json()["value"], key=lambda p: p["properties"]["recoveryPointTime"]
    )
    assert env.call("DELETE", older["id"]).status_code == 200
    assert env.call("GET", older["id"]).json()["properties"]["recoveryPointState"] == "SoftDeleted"
    refused = env.call("POST", f"{older['id']}/restore", {"properties": {"targetDirectory": str(tmp_path / "o")}})
    assert refused.status_code == 409
    assert env.call("POST", f"{older['id']}/undelete").status_code == 200
    restored = job_of(
        env, env.call("POST", f"{older['id']}/restore", {"properties": {"targetDirectory": str(tmp_path / "o")}})
    )
    assert (
        restored["properties"]["status"] == "Completed"
        and (tmp_path / "o" / "src" / "f").read_bytes() == b"payload" * 1000
    )

    assert env.call("DELETE", item).status_code == 200  # stop protection, delete data: soft delete, 14 days
    assert purge_expired(env.platform, datetime.now(UTC) + timedelta(days=13)) == 0
    assert len(env.call("GET", f"{item}/recoveryPoints").json()["value"]) == 2
    assert purge_expired(env.platform, datetime.now(UTC) + timedelta(days=15)) == 2
    assert env.call("GET", item).status_code == 404
    repo = open_repository(env.platform, env.tenant, vault)
    try:
        assert repo.snapshot_ids() == []
    finally:
        repo.close()
    assert env.call("DELETE", vault).status_code == 204  # nothing left: the vault may go
    assert not any((env.platform.settings.data_dir / "backup" / "vaults").iterdir())


def test_a_job_cancelled_before_it_runs_ends_cancelled_and_a_finished_one_cannot_be_cancelled(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    vault = env.vault()
    env.call("PUT", f"{vault}/backupPolicies/p", policy(30))
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("x")
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    job_id = env.call("POST", f"{item}/backup", {"properties": {}}).json()["id"]
    second = env.call("POST", f"{item}/backup", {"properties": {}})
    assert second.status_code == 409 and second.json()["error"]["code"] == "UserErrorOperationInProgress"
    assert env.call("POST", f"{job_id}/cancel").status_code == 202
    assert env.call("GET", job_id).json()["properties"]["status"] == "Cancelling"
    env.platform.jobs.run_pending()
    job = env.call("GET", job_id).json()["properties"]
    assert job["status"] == "Cancelled" and job["endTime"]
    assert env.call("GET", f"{item}/recoveryPoints").json()["value"] == []
    refused = env.call("POST", f"{job_id}/cancel")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "BMSUserErrorJobNotCancellable"
    check = env.call("POST", f"{vault}/checkIntegrity", {})
    assert env.call("POST", f"{check.json()['id']}/cancel").json()["error"]["code"] == "BMSUserErrorJobNotCancellable"
    env.platform.jobs.run_pending()
    only_cancelled = env.client.get(
        f"{vault}/backupJobs", params={**API, "$filter": "status eq 'Cancelled'"}, headers=env.headers
    )
    assert [j["name"] for j in only_cancelled.json()["value"]] == [job_id.rsplit("/", 1)[1]]


def test_deleting_the_resource_group_frees_the_vaults_records_and_storage(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from warden.backup.schema import backup_records

    vault = env.vault()
    env.call("PUT", f"{vault}/backupPolicies/p", policy(30))
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("x")
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))
    vaults_dir = env.platform.settings.data_dir / "backup" / "vaults"
    assert len(list(vaults_dir.iterdir())) == 1
    assert env.call("DELETE", env.group).status_code == 202
    env.platform.jobs.run_pending()
    assert list(vaults_dir.iterdir()) == []
    with env.platform.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(backup_records)).scalar_one() == 0


def test_customer_managed_key_rewraps_the_repository_key_and_rotation_drops_the_old_one(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import base64
    import os as _os

    from warden.backup.chunkstore import Kek, LocalBackend, Repository, WrongKey
    from warden.backup.storage import platform_kek, vault_row

    vault = env.vault()
    env.call("PUT", f"{vault}/backupPolicies/p", policy(30))
    source = tmp_path / "src"
    source.mkdir()
    (source / "f").write_text("secret data")
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))
    guid = vault_row(env.platform, env.tenant, vault).body["_vaultGuid"]
    directory = env.platform.settings.data_dir / "backup" / "vaults" / guid
    assert oct(directory.stat().st_mode & 0o777) == "0o700"

    for bad, target in (({"keyId": "k1", "key": "c2hvcnQ="}, "key"), ({"keyId": "../k", "key": ""}, "keyId")):
        refused = env.call("POST", f"{vault}/customerManagedKey", bad)
        assert refused.status_code == 400 and refused.json()["error"]["target"] == target
    first, second = _os.urandom(32), _os.urandom(32)
    answer = env.call("POST", f"{vault}/customerManagedKey", {"keyId": "k1", "key": base64.b64encode(first).decode()})
    assert answer.status_code == 200, answer.text
    assert answer.json()["properties"]["encryption"]["keyVaultProperties"]["keyUri"] == "warden:customer-key/k1"
    assert base64.b64encode(first).decode() not in answer.text

    def opens(kek: Kek) -> bool:
        try:
            Repository.open(LocalBackend(directory), kek).close()
        except WrongKey:
            return False
        return True

    assert opens(Kek.from_bytes("customer", "k1", first))  # the customer reads its data with its key alone
    assert not opens(platform_kek(env.platform, guid))
    env.call("PUT", vault, {"location": "westeurope"})  # an update of the vault keeps the key
    job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))
    assert (
        env.call(
            "POST", f"{vault}/customerManagedKey", {"keyId": "k2", "key": base64.b64encode(second).decode()}
        ).status_code
        == 200
    )
    assert opens(Kek.from_bytes("customer", "k2", second)) and not opens(Kek.from_bytes("customer", "k1", first))
    point = env.call("GET", f"{item}/recoveryPoints").json()["value"][-1]["id"]
    out = tmp_path / "out"
    restored = job_of(env, env.call("POST", f"{point}/restore", {"properties": {"targetDirectory": str(out)}}))
    assert restored["properties"]["status"] == "Completed" and (out / "src" / "f").read_text() == "secret data"


def test_check_read_data_names_the_damaged_file_and_the_other_files_still_restore(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os as _os

    from warden.backup.chunkstore.packs import pack_name
    from warden.backup.chunkstore.snapshots import decode_tree
    from warden.backup.storage import open_repository, vault_row

    vault = env.vault()
    env.call("PUT", f"{vault}/backupPolicies/p", policy(30))
    source = tmp_path / "src"
    source.mkdir()
    (source / "victim.bin").write_bytes(_os.urandom(200_000))
    (source / "intact.txt").write_text("still here")
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    job_of(env, env.call("POST", f"{item}/backup", {"properties": {}}))
    assert (
        job_of(env, env.call("POST", f"{vault}/checkIntegrity", {"readData": True}))["properties"]["status"]
        == "Completed"
    )

    guid = vault_row(env.platform, env.tenant, vault).body["_vaultGuid"]
    repo = open_repository(env.platform, env.tenant, vault)
    try:
        snapshot = repo.load_snapshot(repo.snapshot_ids()[0])
        (top,) = decode_tree(repo.load_blob(bytes.fromhex(snapshot.tree)))
        victim = next(n for n in decode_tree(repo.load_blob(bytes.fromhex(top.subtree))) if n.name == "victim.bin")
        location = repo.index.locations(bytes.fromhex(victim.content[0]))[0]
    finally:
        repo.close()
    pack = env.platform.settings.data_dir / "backup" / "vaults" / guid / pack_name(location.pack)
    data = bytearray(pack.read_bytes())
    data[location.entry.offset + 40] ^= 0xFF
    pack.write_bytes(bytes(data))

    structure = job_of(env, env.call("POST", f"{vault}/checkIntegrity", {}))
    assert structure["properties"]["status"] == "Completed"  # structure alone does not read blob contents
    checked = job_of(env, env.call("POST", f"{vault}/checkIntegrity", {"readData": True}))["properties"]
    assert checked["status"] == "Failed"
    message = " ".join(checked["errorDetails"][0]["errorString"])
    assert checked["errorDetails"][0]["errorCode"] == "UserErrorRepositoryCheckFailed"
    assert victim.content[0] in message and "victim.bin" in message and "intact.txt" not in message
    point = env.call("GET", f"{item}/recoveryPoints").json()["value"][0]["id"]
    out = tmp_path / "out"
    restored = job_of(env, env.call("POST", f"{point}/restore", {"properties": {"targetDirectory": str(out)}}))
    assert (
        restored["properties"]["status"] == "Failed"
        and "victim.bin" in restored["properties"]["errorDetails"][0]["errorString"][0]
    )
    assert (out / "src" / "intact.txt").read_text() == "still here" and not (out / "src" / "victim.bin").exists()


def test_a_running_backup_stops_when_cancelled_and_writes_no_recovery_point(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time

    vault = env.vault()
    env.call("PUT", f"{vault}/backupPolicies/p", policy(30))
    source = tmp_path / "src"
    source.mkdir()
    for index in range(1000):  # 8 GiB of sparse zeros: seconds of reading, no disk space
        with open(source / f"f{index:04d}", "wb") as handle:
            handle.truncate(8 * 1024 * 1024)
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    job_id = env.call("POST", f"{item}/backup", {"properties": {}}).json()["id"]
    worker = threading.Thread(target=env.platform.jobs.run_pending)
    worker.start()
    deadline = time.monotonic() + 60
    while "Files" not in env.call("GET", job_id).json()["properties"]["extendedInfo"]["propertyBag"]:
        assert time.monotonic() < deadline, "the backup reported no progress"
        time.sleep(0.05)
    running = env.call("GET", job_id).json()["properties"]
    assert running["status"] == "InProgress" and 0 <= running["extendedInfo"]["progressPercentage"] < 100
    assert env.call("POST", f"{job_id}/cancel").status_code == 202
    worker.join(timeout=120)
    job = env.call("GET", job_id).json()["properties"]
    assert job["status"] == "Cancelled" and job["extendedInfo"]["progressPercentage"] < 100
    assert int(job["extendedInfo"]["propertyBag"]["Files"]) < 1000
    assert env.call("GET", f"{item}/recoveryPoints").json()["value"] == []
    assert env.call("GET", item).json()["properties"]["lastBackupStatus"] == "Cancelled"


def test_a_long_backup_keeps_its_kernel_job_leased(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select, update

    from warden.backup.runner import _renew_kernel_lease
    from warden.kernel.clock import aware
    from warden.kernel.schema import jobs

    vault = env.vault()
    env.call("PUT", f"{vault}/backupPolicies/p", policy(30))
    source = tmp_path / "src"
    source.mkdir()
    item = item_id(vault, str(source))
    env.call("PUT", item, {"properties": {"policyId": f"{vault}/backupPolicies/p"}})
    job_id = env.call("POST", f"{item}/backup", {"properties": {}}).json()["id"]
    soon = datetime.now(UTC) + timedelta(seconds=5)
    with env.platform.db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.kind == "backup.run").values(status="running", lease_until=soon))
        _renew_kernel_lease(conn, job_id)
        lease = conn.execute(select(jobs.c.lease_until).where(jobs.c.kind == "backup.run")).scalar_one()
    assert aware(lease) > soon + timedelta(seconds=60)
