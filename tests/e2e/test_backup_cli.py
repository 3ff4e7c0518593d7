"""``warden backup`` against a real server: vault, policy, protect, two backups, restores, check, soft delete.

The files are real (a few MiB in a temp dir of this machine, which the server backs up as its own);
restores are compared byte for byte with modes, mtimes and symlinks.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from support.server import WardenServer
from warden.cli.main import app

pytestmark = pytest.mark.e2e
runner = CliRunner()
API = {"api-version": "2025-02-01"}


def warden(server: WardenServer, *args: str, code: int = 0) -> Result:
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        result = runner.invoke(app, ["backup", *args, "--data-dir", str(server.data_dir)])
    finally:
        os.umask(umask)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"warden backup {' '.join(args)} raised {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert server.bootstrap["clientSecret"] not in result.output and "eyJ" not in result.output
    return result


def warden_json(server: WardenServer, *args: str, code: int = 0) -> Any:
    return json.loads(warden(server, *args, "--output", "json", code=code).stdout)


def make_tree(root: Path) -> None:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (root / "empty").write_bytes(b"")
    (root / "sub" / "notes.txt").write_text("first version\n" * 100)
    (root / "sub" / "deeper" / "ünïcode名.txt").write_text("unicode name")
    script = root / "sub" / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o750)
    (root / "secret").write_text("private")
    (root / "secret").chmod(0o600)
    (root / "link").symlink_to("sub/notes.txt")
    for index, path in enumerate(sorted(root.rglob("*"))):
        os.utime(path, ns=(1_600_000_000_000_000_000 + index * 10**9,) * 2, follow_symlinks=False)


def state(root: Path) -> dict[str, tuple]:
    """Every entry below root: (kind, content or link target, mode, mtime_ns)."""
    out: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path), None, st.st_mtime_ns)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", None, stat.S_IMODE(st.st_mode), None)  # dir mtimes change as entries are added
        else:
            out[rel] = ("file", path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_mtime_ns)
    return out


@pytest.fixture
def vault(warden_server: WardenServer):  # type: ignore[no-untyped-def]
    name = f"v{uuid.uuid4().hex[:8]}"
    group = f"rg-backup-{uuid.uuid4().hex[:6]}"
    created = warden_json(warden_server, "vault", "create", name, "--resource-group", group)
    return created


def test_round_trip_backup_modify_backup_restore(warden_server, vault, tmp_path, arm) -> None:  # type: ignore[no-untyped-def]
    name = vault["name"]
    assert vault["properties"]["securitySettings"]["softDeleteSettings"]["softDeleteState"] == "Enabled"
    policy = warden_json(
        warden_server,
        "policy",
        "create",
        "daily",
        "--vault",
        name,
        "--time",
        "03:30",
        "--retain-daily",
        "7",
        "--retain-weekly",
        "4",
    )
    assert policy["properties"]["retentionPolicy"]["weeklySchedule"]["retentionDuration"]["count"] == 4
    source = tmp_path / "data"
    source.mkdir()
    make_tree(source)
    first_state = state(source)
    item = warden_json(warden_server, "protect", str(source), "--vault", name, "--policy", "daily")
    assert item["properties"]["protectionState"] == "Protected"

    first = warden_json(warden_server, "now", str(source), "--vault", name)
    assert set(first) == {"jobId", "status", "recoveryPointId"}
    assert first["status"] == "Completed" and first["recoveryPointId"]

    (source / "sub" / "notes.txt").write_text("second version\n")
    (source / "added.txt").write_text("new file")
    (source / "empty").unlink()
    second_state = state(source)
    second = warden_json(warden_server, "now", str(source), "--vault", name)
    assert second["status"] == "Completed" and second["recoveryPointId"] != first["recoveryPointId"]

    points = warden_json(warden_server, "list", "--vault", name)
    assert [p["name"] for p in points] == [second["recoveryPointId"], first["recoveryPointId"]]
    assert {p["properties"]["recoveryPointState"] for p in points} == {"Active"}

    whole = tmp_path / "restore-first"
    restored = warden_json(warden_server, "restore", first["recoveryPointId"], "--vault", name, "--target", str(whole))
    assert restored["status"] == "Completed"
    assert state(whole / "data") == first_state

    latest = tmp_path / "restore-second"
    warden_json(warden_server, "restore", second["recoveryPointId"][:10], "--vault", name, "--target", str(latest))
    assert state(latest / "data") == second_state

    single = tmp_path / "restore-item"
    warden_json(
        warden_server,
        "restore",
        first["recoveryPointId"],
        "--vault",
        name,
        "--target",
        str(single),
        "--item",
        str(source / "sub" / "notes.txt"),
    )
    assert [str(p.relative_to(single)) for p in sorted(single.rglob("*")) if p.is_file()] == ["data/sub/notes.txt"]
    assert (single / "data" / "sub" / "notes.txt").read_bytes() == first_state["sub/notes.txt"][1]

    jobs = warden_json(warden_server, "jobs", "--vault", name)
    assert [j["properties"]["operation"] for j in jobs].count("Backup") == 2
    assert {j["properties"]["status"] for j in jobs} == {"Completed"}
    checked = warden_json(warden_server, "check", "--vault", name, "--read-data")
    assert checked["status"] == "Completed" and checked["Problems"] == "0"
    table = warden(warden_server, "jobs", "--vault", name).stdout
    assert "Backup" in table and "Restore" in table


def test_stop_protection_with_delete_soft_deletes_and_undelete_brings_it_back(
    warden_server, vault, tmp_path, arm
) -> None:  # type: ignore[no-untyped-def]
    name = vault["name"]
    warden_json(warden_server, "policy", "create", "p", "--vault", name)
    source = tmp_path / "docs"
    source.mkdir()
    (source / "a.txt").write_text("keep me")
    item_id = warden_json(warden_server, "protect", str(source), "--vault", name, "--policy", "p")["id"]
    point = warden_json(warden_server, "now", str(source), "--vault", name)["recoveryPointId"]

    assert arm.delete(item_id, params=API).status_code == 200
    item = arm.get(item_id, params=API).json()["properties"]
    assert item["isScheduledForDeferredDelete"] is True and item["protectionState"] == "ProtectionStopped"
    points = arm.get(f"{item_id}/recoveryPoints", params=API).json()["value"]
    assert [(p["name"], p["properties"]["recoveryPointState"]) for p in points] == [(point, "SoftDeleted")]
    refused = arm.delete(vault["id"], params=API)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "ServiceResourceNotEmpty"
    blocked = warden(warden_server, "now", str(source), "--vault", name, code=1)
    assert "not protected" in blocked.output

    undeleted = arm.put(
        item_id,
        params=API,
        json={"properties": {"protectedItemType": "MabFileFolderProtectedItem", "isRehydrate": True}},
    )
    assert undeleted.status_code == 200, undeleted.text
    assert undeleted.json()["properties"]["protectionState"] == "ProtectionStopped"
    assert (
        arm.get(f"{item_id}/recoveryPoints/{point}", params=API).json()["properties"]["recoveryPointState"] == "Active"
    )
    out = tmp_path / "back"
    warden_json(warden_server, "restore", point, "--vault", name, "--target", str(out))
    assert (out / "docs" / "a.txt").read_text() == "keep me"


def test_backup_of_a_path_that_vanished_fails_with_an_error_code(warden_server, vault, tmp_path) -> None:  # type: ignore[no-untyped-def]
    name = vault["name"]
    warden_json(warden_server, "policy", "create", "p", "--vault", name)
    source = tmp_path / "gone"
    source.mkdir()
    warden_json(warden_server, "protect", str(source), "--vault", name, "--policy", "p")
    source.rmdir()
    failed = warden_json(warden_server, "now", str(source), "--vault", name, code=1)
    assert failed["status"] == "Failed" and failed["recoveryPointId"] is None
    jobs = warden_json(warden_server, "jobs", "--vault", name)
    assert jobs[0]["properties"]["errorDetails"][0]["errorCode"] == "UserErrorBackupPathNotFound"
    table = warden(warden_server, "now", str(source), "--vault", name, code=1)
    assert "Failed" in table.stdout and "UserErrorBackupPathNotFound" in table.output
