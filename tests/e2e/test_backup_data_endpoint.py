"""The vault data endpoint over real HTTPS: HttpBackend passes the backend conformance class against a
running Warden server, a repository backs up, restores and checks through it, and the server enforces
data actions, names, the size cap, tenant isolation and vault immutability."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backup.test_backend_conformance import BackendConformance
from support.server import WardenServer
from warden.backup.chunkstore import Argon2Params, Backend, Kek, ObjectNotFound, Repository
from warden.backup.chunkstore.backends.http import BackendRequestFailed, HttpBackend

VAULTS = {"api-version": "2025-02-01"}
ROLES = {"api-version": "2022-04-01"}
DATA = "Microsoft.RecoveryServices/vaults/backupData"
BACKUP_CONTRIBUTOR = "5e467623-bb1f-42f4-a55d-6e525e11384b"
BACKUP_OPERATOR = "00c29273-979b-4161-815c-10b084fb9324"
BACKUP_READER = "a795c7a0-d4a2-40c1-ae25-d81f01202912"
FAST = Argon2Params(time_cost=1, memory_kib=8 * 1024, parallelism=1)


def _custom_role(arm: httpx.Client, scope: str, data_actions: list[str]) -> str:
    """Create a custom role holding only ``data_actions`` at ``scope``; return its GUID."""
    guid = str(uuid.uuid4())
    response = arm.put(
        f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        params=ROLES,
        json={
            "properties": {
                "roleName": f"backup data {guid[:8]}",
                "assignableScopes": [scope],
                "permissions": [{"actions": [], "notActions": [], "dataActions": data_actions, "notDataActions": []}],
            }
        },
    )
    assert response.status_code == 201, response.text
    return guid


def _vault(arm: httpx.Client, group: str) -> str:
    """Create a vault in ``group``; return its resource ID."""
    vault_id = f"{group}/providers/Microsoft.RecoveryServices/vaults/v-{uuid.uuid4().hex[:10]}"
    created = arm.put(
        vault_id, params=VAULTS, json={"location": "westeurope", "sku": {"name": "RS0"}, "properties": {}}
    )
    assert created.status_code in (200, 201), created.text
    return created.json()["id"]


def _vault_dir(server: WardenServer, backend: HttpBackend) -> Path:
    """Return the vault's repository directory on the server (found through a marker object put via the endpoint)."""
    marker = f"keys/marker-{uuid.uuid4().hex}"
    backend.put(marker, b"")
    (found,) = (server.data_dir / "backup" / "vaults").glob(f"*/{marker}")
    backend.delete(marker)
    return found.parents[1]


@pytest.fixture(scope="module")
def setup(warden_server: WardenServer) -> Iterator[dict]:
    """A resource group, a principal with all three data actions on it and one with read only."""
    with warden_server.client() as arm:
        group = f"{warden_server.sub_scope()}/resourceGroups/rg-backupdata-{uuid.uuid4().hex[:6]}"
        assert arm.put(group, params={"api-version": "2021-04-01"}, json={"location": "westeurope"}).status_code == 201
        writer, reader = warden_server.new_principal("backup-agent"), warden_server.new_principal("backup-reader")
        warden_server.assign(
            writer, _custom_role(arm, group, [f"{DATA}/read", f"{DATA}/write", f"{DATA}/delete"]), group
        )
        warden_server.assign(reader, _custom_role(arm, group, [f"{DATA}/read"]), group)
        yield {"group": group, "writer": writer, "reader": reader, "arm": arm}


def _backend(server: WardenServer, vault_id: str, principal) -> HttpBackend:  # type: ignore[no-untyped-def]
    return HttpBackend(server.endpoint, vault_id, lambda: server.token(principal), verify=server.ca, backoff=0.05)


class TestHttpBackend(BackendConformance):
    @pytest.fixture
    def backend(self, warden_server: WardenServer, setup: dict) -> Iterator[Backend]:
        with _backend(warden_server, _vault(setup["arm"], setup["group"]), setup["writer"]) as backend:
            yield backend


def _tree(root: Path, seed: int) -> Path:
    rnd = random.Random(seed)
    (root / "sub" / "deeper").mkdir(parents=True)
    for i in range(20):
        (root / ("sub" if i % 2 else "sub/deeper") / f"f{i:02d}.bin").write_bytes(
            rnd.randbytes(rnd.randrange(0, 300_000))
        )
    (root / "big.bin").write_bytes(rnd.randbytes(3_000_000))
    (root / "link").symlink_to("big.bin")
    os.chmod(root / "sub" / "f01.bin", 0o640)
    return root


def _describe(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            st = p.lstat()
            content = os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_mtime_ns, content)
    return out


def test_backup_restore_check_through_the_endpoint(warden_server: WardenServer, setup: dict, tmp_path: Path) -> None:
    vault_id = _vault(setup["arm"], setup["group"])
    source = _tree(tmp_path / "src", seed=1)
    key = Kek.from_password("pw", FAST)
    with Repository.init(_backend(warden_server, vault_id, setup["writer"]), key, pack_size=512 * 1024) as repo:
        first = repo.backup([source])
        (source / "sub" / "f03.bin").write_bytes(b"changed")
        second = repo.backup([source])
        assert second.summary["filesUnchanged"] >= 19
        assert repo.check(read_data=True).ok
    # A second machine (new connection, empty cache) restores through the endpoint.
    with Repository.open(_backend(warden_server, vault_id, setup["writer"]), key, cache_dir=tmp_path / "c") as again:
        again.restore(second.id, tmp_path / "out")
        assert {s.id for s in again.snapshots()} == {first.id, second.id}
    with _backend(warden_server, vault_id, setup["writer"]) as backend:
        names = sorted(backend.list(""))
        directory = _vault_dir(warden_server, backend)
    assert _describe(tmp_path / "out" / "src") == _describe(source)
    # The bytes live in the vault's own storage on the server, object for object.
    stored = sorted(
        p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file() and p.parts[-2] != "tmp"
    )
    assert stored == names and any(n.startswith("data/") for n in names)


def test_each_operation_needs_a_data_action_or_the_backup_role_implying_it(
    warden_server: WardenServer, setup: dict
) -> None:
    vault_id = _vault(setup["arm"], setup["group"])
    with _backend(warden_server, vault_id, setup["writer"]) as writer:
        writer.put("snapshots/s1", b"secret bytes")
    url = f"{vault_id}/backupData/snapshots/s1"
    nobody, reader = warden_server.new_principal("no-role"), warden_server.new_principal("backup-reader")
    warden_server.assign(reader, BACKUP_READER, setup["group"])  # views backups, may not restore: no data
    for principal in (nobody, reader):
        with warden_server.client(principal) as http:
            for method in ("GET", "HEAD", "PUT", "DELETE"):
                response = http.request(method, url, content=b"x" if method == "PUT" else None)
                assert response.status_code == 403, (method, response.text)
            listed = http.get(f"{vault_id}/backupData", params={"prefix": ""})
            assert listed.status_code == 403 and listed.json()["error"]["code"] == "AuthorizationFailed"
            assert "backupData/read" in listed.json()["error"]["message"]

    # Backup Operator backs up and restores (so writes and reads data) but cannot remove backups.
    operator = warden_server.new_principal("backup-operator")
    warden_server.assign(operator, BACKUP_OPERATOR, setup["group"])
    with warden_server.client(operator) as http:
        assert http.get(url).content == b"secret bytes"
        assert http.put(f"{vault_id}/backupData/snapshots/s2", content=b"by operator").status_code == 201
        refused = http.delete(url)
        assert refused.status_code == 403 and "backupData/delete" in refused.json()["error"]["message"]
    # Backup Contributor, and Owner (the bootstrap admin), may also delete.
    contributor = warden_server.new_principal("backup-contributor")
    warden_server.assign(contributor, BACKUP_CONTRIBUTOR, setup["group"])
    with warden_server.client(contributor) as http:
        assert http.delete(f"{vault_id}/backupData/snapshots/s2").status_code == 204
    with warden_server.client() as http:
        assert http.get(url).content == b"secret bytes"

    # A custom role with only the read data action reads and nothing else.
    with warden_server.client(setup["reader"]) as http:
        assert http.get(url).content == b"secret bytes"
        assert http.get(f"{vault_id}/backupData", params={"prefix": "snap"}).json() == {"value": ["snapshots/s1"]}
        put = http.put(url, content=b"overwritten")
        assert put.status_code == 403 and "backupData/write" in put.json()["error"]["message"]
        delete = http.delete(url)
        assert delete.status_code == 403 and "backupData/delete" in delete.json()["error"]["message"]
        assert http.get(url).content == b"secret bytes"  # nothing changed
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as anonymous:
        assert anonymous.get(url).status_code == 401


def test_names_prefixes_ranges_and_size_are_validated(warden_server: WardenServer, setup: dict) -> None:
    vault_id = _vault(setup["arm"], setup["group"])
    base = f"{vault_id}/backupData"
    with warden_server.client(setup["writer"]) as http:
        for bad in ("a/%2e%2e/config", "%2e%2e", "tmp/x.tmp", "a//b", "sp%20ace", "data/", "%C3%A9"):
            response = http.put(f"{base}/{bad}", content=b"x")
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["error"]["code"] == "InvalidObjectName"
        bad_prefix = http.get(base, params={"prefix": "../"})
        assert bad_prefix.status_code == 400 and bad_prefix.json()["error"]["code"] == "InvalidObjectName"
        assert http.get(base, params={"prefix": ""}).json() == {"value": []}  # nothing was stored

        assert http.put(f"{base}/index/i1", content=bytes(range(100))).status_code == 201
        assert http.put(f"{base}/index/i1", content=bytes(range(100))).status_code == 200  # replaced
        ranged = http.get(f"{base}/index/i1", headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == bytes(range(10, 20))
        assert ranged.headers["content-range"] == "bytes 10-19/*"
        for bad_range in ("bytes=5-1", "lines=1-2", "bytes=1-2,4-5", "bytes=-5"):
            response = http.get(f"{base}/index/i1", headers={"Range": bad_range})
            assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidRange", bad_range
        missing = http.get(f"{base}/index/none")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "ObjectNotFound"
        assert http.head(f"{base}/index/none").headers["x-ms-error-code"] == "ObjectNotFound"

        too_big = http.put(f"{base}/data/aa/big", content=b"\0" * (64 * 1024 * 1024 + 1))
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "RequestEntityTooLarge"
        chunked = http.put(f"{base}/data/aa/chunked", content=iter([b"abc"]))  # no Content-Length
        assert chunked.status_code == 411
        assert sorted(http.get(base).json()["value"]) == ["index/i1"]

    unknown = f"{setup['group']}/providers/Microsoft.RecoveryServices/vaults/not-a-vault"
    with _backend(warden_server, unknown, setup["writer"]) as backend, pytest.raises(BackendRequestFailed) as err:
        backend.exists("config")
    assert (err.value.status, err.value.code) == (404, "ResourceNotFound")


def test_list_pages_follow_next_link(warden_server: WardenServer, setup: dict) -> None:
    from warden.backup.data_endpoint import LIST_PAGE

    vault_id = _vault(setup["arm"], setup["group"])
    with _backend(warden_server, vault_id, setup["writer"]) as backend:
        # More names than one page: written straight into the vault's directory (thousands of PUTs would be slow).
        names = {f"index/{i:05x}" for i in range(LIST_PAGE + 3)}
        directory = _vault_dir(warden_server, backend)
        (directory / "index").mkdir()
        for name in names:
            (directory / name).touch()
        with warden_server.client(setup["writer"]) as http:
            first = http.get(f"{vault_id}/backupData", params={"prefix": "index/"}).json()
        assert len(first["value"]) == LIST_PAGE and first["nextLink"].startswith(warden_server.endpoint)
        assert set(backend.list("index/")) == names


def test_another_tenant_never_reaches_the_vault(warden_server: WardenServer, setup: dict) -> None:
    """An Owner of another tenant who grants itself every backupData action at its root still finds nothing."""
    from warden.bootstrap import add_tenant
    from warden.kernel.settings import load_settings
    from warden.platform import Platform

    vault_id = _vault(setup["arm"], setup["group"])
    with _backend(warden_server, vault_id, setup["writer"]) as writer:
        writer.put("config", b"tenant A's repository")
    platform = Platform(load_settings(warden_server.data_dir))
    try:
        other_tenant, _sub, principal, secret = add_tenant(platform, "other")
    finally:
        platform.stop()
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context(), timeout=30) as http:
        token = http.post(
            f"/{other_tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": principal.app_id,
                "client_secret": secret.secret_text,
                "scope": "https://management.azure.com/.default",
            },
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        role = _custom_role(http, "/", [f"{DATA}/*"])
        assignment = f"/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        granted = http.put(
            assignment,
            params=ROLES,
            json={
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{role}",
                    "principalId": principal.object_id,
                    "principalType": "ServicePrincipal",
                }
            },
        )
        assert granted.status_code == 201, granted.text
        url = f"{vault_id}/backupData/config"
        for method in ("GET", "PUT", "DELETE"):
            response = http.request(method, url, content=b"tenant B" if method == "PUT" else None)
            assert response.status_code == 404, (method, response.text)
            assert response.json()["error"]["code"] == "ResourceNotFound"
    with _backend(warden_server, vault_id, setup["writer"]) as writer:
        assert writer.get("config") == b"tenant A's repository"


def _set_immutability(arm: httpx.Client, vault_id: str, state: str) -> None:
    body = {"properties": {"securitySettings": {"immutabilitySettings": {"state": state}}}}
    response = arm.patch(vault_id, params=VAULTS, json=body)
    assert response.status_code in (200, 202), response.text
    assert (
        arm.get(vault_id, params=VAULTS).json()["properties"]["securitySettings"]["immutabilitySettings"]["state"]
        == state
    )


def test_immutable_vaults_refuse_deletes_and_replacements(warden_server: WardenServer, setup: dict) -> None:
    vault_id = _vault(setup["arm"], setup["group"])
    with _backend(warden_server, vault_id, setup["writer"]) as backend:
        backend.put("data/ab/abcd", b"pack")
        backend.put("marks/m1", b"mark")
        _set_immutability(setup["arm"], vault_id, "Unlocked")
        with pytest.raises(BackendRequestFailed) as err:
            backend.delete("data/ab/abcd")  # younger than the 14-day soft-delete retention
        assert (err.value.status, err.value.code) == (409, "UserErrorImmutableVaultDataCannotBeDeleted")
        with pytest.raises(BackendRequestFailed) as err:
            backend.put("data/ab/abcd", b"tampered")
        assert (err.value.status, err.value.code) == (409, "UserErrorImmutableVaultObjectCannotBeReplaced")
        backend.put("data/ab/abcd", b"pack")  # a retried upload of the same bytes is fine
        backend.put("data/cd/cdef", b"new pack")  # new data is always accepted
        backend.delete("data/ff/never-written")  # deleting nothing is still idempotent

        # Past retention, an Unlocked vault lets prune delete: age the pack on the server's disk.
        pack = next((warden_server.data_dir / "backup" / "vaults").glob("*/data/ab/abcd"))
        old = pack.stat().st_mtime - 15 * 86400
        os.utime(pack, (old, old))
        backend.delete("data/ab/abcd")
        with pytest.raises(ObjectNotFound):
            backend.get("data/ab/abcd")

        _set_immutability(setup["arm"], vault_id, "Locked")
        for name in ("data/cd/cdef", "marks/m1"):
            with pytest.raises(BackendRequestFailed) as err:
                backend.delete(name)
            assert (err.value.status, err.value.code) == (409, "UserErrorImmutableVaultDataCannotBeDeleted")
        assert backend.get("data/cd/cdef") == b"new pack" and backend.exists("marks/m1")


def test_uploads_beyond_the_concurrency_cap_are_told_to_retry(warden_server: WardenServer, setup: dict) -> None:
    from warden.backup.data_endpoint import MAX_CONCURRENT_UPLOADS

    vault_id = _vault(setup["arm"], setup["group"])
    release = threading.Event()
    started = threading.Semaphore(0)

    def slow_body() -> Iterator[bytes]:
        yield b"first half "
        started.release()
        release.wait(30)
        yield b"second half"

    def upload(i: int, results: list[int]) -> None:
        with warden_server.client(setup["writer"]) as http:
            headers = {"Content-Length": str(len(b"first half second half"))}
            results.append(
                http.put(f"{vault_id}/backupData/index/slow{i}", content=slow_body(), headers=headers).status_code
            )

    results: list[int] = []
    threads = [threading.Thread(target=upload, args=(i, results)) for i in range(MAX_CONCURRENT_UPLOADS)]
    for t in threads:
        t.start()
    for _ in threads:
        assert started.acquire(timeout=30)
    time.sleep(0.5)  # the server has read the first halves: every slot is taken
    with warden_server.client(setup["writer"]) as http:
        busy = http.put(f"{vault_id}/backupData/index/one-too-many", content=b"x")
    release.set()
    for t in threads:
        t.join()
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"]["code"] == "ServerBusy"
    assert sorted(results) == [201] * MAX_CONCURRENT_UPLOADS
    with _backend(warden_server, vault_id, setup["writer"]) as backend:
        assert backend.get("index/slow0") == b"first half second half"
        backend.put("index/one-too-many", b"x")  # once the slots are free the same upload succeeds
