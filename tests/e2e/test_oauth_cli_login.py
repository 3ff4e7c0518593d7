"""``warden login`` end to end: the real CLI process runs the device flow while a scripted browser
signs the user in at /devicelogin; later commands act as the user, and ``warden logout`` stops it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import uuid

import httpx
from typer.testing import CliRunner

from support.server import READER
from support.signin import Directory, sign_in, submit
from warden.cli.main import app


def _browser_login(server, user, code: str, errors: list) -> None:  # type: ignore[no-untyped-def]
    try:
        with httpx.Client(base_url=server.endpoint, verify=server.ssl_context(), timeout=30) as browser:
            page = browser.get("/devicelogin")
            done = sign_in(browser, submit(browser, page, otc=code), user)
            assert "You have signed in to the application on your device" in done.text, done.text
    except Exception as error:  # reported by the test thread
        errors.append(error)


def test_login_device_flow_then_commands_act_as_the_user(warden_server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    directory = Directory(warden_server.data_dir, warden_server.tenant)
    try:
        user = directory.user()
    finally:
        directory.close()
    env = {**os.environ, "WARDEN_CONFIG_DIR": str(tmp_path / "config")}
    cli = [sys.executable, "-m", "warden.cli.main"]
    data_dir = ["--data-dir", str(warden_server.data_dir)]
    process = subprocess.Popen(
        [*cli, "login", *data_dir], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    message = process.stderr.readline()
    assert "/devicelogin" in message and "enter the code" in message, message
    errors: list = []
    worker = threading.Thread(
        target=_browser_login, args=(warden_server, user, message.split("enter the code ")[1].split()[0], errors)
    )
    worker.start()
    out, err = process.communicate(timeout=120)
    worker.join()
    assert not errors, errors
    assert process.returncode == 0, err
    assert f"Signed in as {user.upn}" in out
    stored = tmp_path / "config" / "login.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    state = json.loads(stored.read_text())
    assert state["refreshToken"] and state["tenantId"] == warden_server.tenant

    # Later commands run in-process (the same Typer app; a process start costs seconds here).
    monkeypatch.setenv("WARDEN_CONFIG_DIR", str(tmp_path / "config"))
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, [*args, *data_dir])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result

    # As the user (no role yet) the subscription is invisible; the bootstrap Owner would see it.
    listed = run("subscription", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == []
    with warden_server.client() as admin:
        assigned = admin.put(
            f"{warden_server.sub_scope()}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
            params={"api-version": "2022-04-01"},
            json={
                "properties": {
                    "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                    "principalId": user.object_id,
                    "principalType": "User",
                }
            },
        )
        assert assigned.status_code == 201, assigned.text
    # Force a refresh: the stored access token is marked expired, the rotated refresh token is kept.
    state["expiresAt"] = 0
    stored.write_text(json.dumps(state))
    listed = run("subscription", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    assert [s["subscriptionId"] for s in json.loads(listed.stdout)] == [warden_server.subscription]
    rotated = json.loads(stored.read_text())
    assert rotated["refreshToken"] != state["refreshToken"] and stat.S_IMODE(stored.stat().st_mode) == 0o600

    out = run("logout")
    assert out.exit_code == 0 and not stored.exists()
    as_owner = run("subscription", "list", "-o", "json")
    assert as_owner.exit_code == 0 and json.loads(as_owner.stdout)
