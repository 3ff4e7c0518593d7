"""``warden pim`` end to end: eligible, policy set/show, activate (pending approval), self-approval
refused, approve by the approver, list --mine, alerts — each command run as the principal it is for."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from support.server import Principal, WardenServer
from warden.cli.main import app

pytestmark = pytest.mark.e2e
runner = CliRunner()


def data_dir_for(server: WardenServer, principal: Principal, tmp_path: Path) -> Path:
    """A data dir whose bootstrap.json signs the CLI in as ``principal`` instead of the Owner."""
    folder = tmp_path / principal.object_id
    folder.mkdir(mode=0o700)
    bootstrap = {**server.bootstrap, "clientId": principal.client_id, "clientSecret": principal.secret}
    path = folder / "bootstrap.json"
    path.write_text(json.dumps(bootstrap))
    path.chmod(0o600)
    return folder


def warden(server: WardenServer, *args: str, data_dir: Path | None = None, ok: bool = True) -> Any:
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        result = runner.invoke(app, [*args, "--data-dir", str(data_dir or server.data_dir)])
    finally:
        os.umask(umask)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"warden {' '.join(args)} raised {result.exception!r}\n{result.output}")
    assert (result.exit_code == 0) == ok, result.output
    assert "Traceback" not in result.output and "eyJ" not in result.output
    return result


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_pim_commands(warden_server: WardenServer, resource_group: str, tmp_path: Path) -> None:
    requester, approver = warden_server.new_principal(), warden_server.new_principal()
    mine, theirs = data_dir_for(warden_server, requester, tmp_path), data_dir_for(warden_server, approver, tmp_path)
    scope = ("--scope", resource_group)

    made = as_json(
        warden(
            warden_server,
            "pim",
            "eligible",
            "Contributor",
            "--assignee",
            requester.object_id,
            *scope,
            "--duration",
            "P30D",
            "--output",
            "json",
        )
    )
    assert made["properties"]["status"] == "Provisioned"
    policy = as_json(
        warden(
            warden_server,
            "pim",
            "policy",
            "set",
            "Contributor",
            *scope,
            "--max-duration",
            "PT4H",
            "--require-approval",
            "--approver",
            approver.object_id,
            "--require-justification",
            "--output",
            "json",
        )
    )
    rules = {r["id"]: r for r in policy["properties"]["rules"]}
    assert rules["Expiration_EndUser_Assignment"]["maximumDuration"] == "PT4H"
    assert rules["Approval_EndUser_Assignment"]["setting"]["isApprovalRequired"] is True
    shown = warden(warden_server, "pim", "policy", "show", "Contributor", *scope).stdout
    assert "PT4H" in shown and approver.object_id in shown

    # Too long for the new policy, then a good request that waits for approval.
    refused = warden(
        warden_server,
        "pim",
        "activate",
        "Contributor",
        *scope,
        "--duration",
        "PT5H",
        "--justification",
        "fix prod",
        data_dir=mine,
        ok=False,
    )
    assert "ExpirationRule" in refused.output
    pending = as_json(
        warden(
            warden_server,
            "pim",
            "activate",
            "Contributor",
            *scope,
            "--duration",
            "PT2H",
            "--justification",
            "fix prod",
            "--output",
            "json",
            data_dir=mine,
        )
    )
    assert pending["properties"]["status"] == "PendingApproval"
    listed = as_json(warden(warden_server, "pim", "list", *scope, "--mine", "--output", "json", data_dir=mine))
    assert [item["kind"] for item in listed] == ["Eligible"]
    assert listed[0]["role"] == "Contributor"

    own = warden(warden_server, "pim", "approve", pending["id"], "--justification", "me", data_dir=mine, ok=False)
    assert "SelfApprovalNotAllowed" in own.output
    approved = as_json(
        warden(
            warden_server,
            "pim",
            "approve",
            pending["properties"]["approvalId"],
            "--justification",
            "ticket ok",
            "--output",
            "json",
            data_dir=theirs,
        )
    )
    assert approved["properties"]["reviewResult"] == "Approve"
    listed = as_json(warden(warden_server, "pim", "list", *scope, "--mine", "--output", "json", data_dir=mine))
    assert sorted(item["kind"] for item in listed) == ["Active", "Eligible"]

    alerts = warden(warden_server, "pim", "alerts", *scope).stdout
    assert "AzureRolesAssignedOutsidePim" in alerts and "TooManyOwnersAssignedToResource" in alerts
    not_eligible = warden(
        warden_server, "pim", "activate", "Reader", *scope, "--justification", "x", data_dir=theirs, ok=False
    )
    assert "not eligible" in not_eligible.output
