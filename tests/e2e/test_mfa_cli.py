"""``warden mfa``, ``warden directory settings`` and ``warden password reset`` against a real server.

The user signs in with ``warden login`` (device code, the real CLI process and a scripted browser
at /devicelogin); the other commands run in-process through Typer's CliRunner.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from support.signin import sign_in, submit
from warden.cli.main import app
from warden.identity.mfa.totp import totp

pytestmark = pytest.mark.e2e
runner = CliRunner()
NEW_PASSWORD = "plum kettle harbour 1987"


def warden(server, config: Path, *args: str, code: int = 0, input: str | None = None):  # type: ignore[no-untyped-def]
    """Run ``warden ARGS`` in-process with ``config`` as the CLI config dir; check the exit code and
    that no traceback escaped and no bootstrap secret was printed."""
    result = runner.invoke(
        app, [*args, "--data-dir", str(server.data_dir)], env={"WARDEN_CONFIG_DIR": str(config)}, input=input
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"warden {' '.join(args)} raised {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and server.bootstrap["clientSecret"] not in result.output
    return result


def _login(server, user, config: Path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "WARDEN_CONFIG_DIR": str(config)}
    process = subprocess.Popen(
        [sys.executable, "-m", "warden.cli.main", "login", "--data-dir", str(server.data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    message = process.stderr.readline()
    user_code = message.split("enter the code ")[1].split()[0]
    errors: list = []

    def browse() -> None:
        try:
            with httpx.Client(base_url=server.endpoint, verify=server.ssl_context(), timeout=30) as browser:
                page = browser.get("/devicelogin")
                sign_in(browser, submit(browser, page, otc=user_code), user)
        except Exception as error:  # reported below
            errors.append(error)

    worker = threading.Thread(target=browse)
    worker.start()
    _out, err = process.communicate(timeout=120)
    worker.join()
    assert not errors and process.returncode == 0, (errors, err)


def test_user_manages_methods_then_resets_the_password_with_a_recovery_code(warden_server, directory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = directory.user()
    config = tmp_path / "config"
    _login(warden_server, user, config)
    codes = json.loads(warden(warden_server, config, "mfa", "recovery-codes", "-o", "json").stdout)
    assert len(codes) == 10
    started = warden(warden_server, config, "mfa", "enroll-totp", "--name", "Phone", "--no-verify")
    lines = dict(line.split(":", 1) for line in started.output.splitlines() if line[:4] in ("ID: ", "Key:", "URI:"))
    method_id, key = lines["ID"].strip(), lines["Key"].strip()
    assert lines["URI"].strip().startswith("otpauth://totp/Warden:")
    seed = base64.b32decode(key + "=" * (-len(key) % 8))
    wrong = str((int(totp(seed, time.time())) + 1) % 10**6).zfill(6)
    assert (
        "InvalidVerificationCode"
        in warden(warden_server, config, "mfa", "verify-totp", method_id, wrong, code=1).output
    )
    warden(warden_server, config, "mfa", "verify-totp", method_id, totp(seed, time.time()))
    listed = json.loads(warden(warden_server, config, "mfa", "list", "-o", "json").stdout)
    assert {m["@odata.type"].rsplit(".", 1)[-1] for m in listed} == {
        "passwordAuthenticationMethod",
        "softwareOathAuthenticationMethod",
        "recoveryCodeAuthenticationMethod",
    }
    table = warden(warden_server, config, "mfa", "list").output
    assert "softwareOath" in table and "10 unused" in table and key not in table
    # The login was password-only: with an app registered, removing it needs a multi-factor sign-in.
    refused = warden(warden_server, config, "mfa", "remove", method_id, code=1)
    assert "multi-factor" in refused.output
    assert method_id in warden(warden_server, config, "mfa", "list").output

    # This server has no SMTP server: email is offered to nobody, and asking for a code says why.
    with httpx.Client(
        base_url=f"{warden_server.endpoint}/{warden_server.tenant}/sspr/", verify=warden_server.ca
    ) as sspr:
        started = sspr.post("start", json={"userPrincipalName": user.upn}).json()
        assert [m["methodType"] for m in started["methods"]] == ["softwareOath", "recoveryCode"]
        no_mail = sspr.post(f"{started['challengeId']}/email")
        assert no_mail.status_code == 400 and no_mail.json()["error"]["code"] == "EmailNotConfigured"
    # Self-service reset needs no sign-in: recovery code, then the new password (typed twice).
    empty = tmp_path / "nobody"
    reset = warden(
        warden_server,
        empty,
        "password",
        "reset",
        user.upn,
        input=f"recoveryCode\n{codes[0]}\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert "Your password has been reset" in reset.output and NEW_PASSWORD not in reset.output
    with directory.db.write() as conn:
        from warden.identity.users import check_password, get_user

        assert check_password(conn, get_user(conn, warden_server.tenant, user.object_id), NEW_PASSWORD)  # type: ignore[arg-type]


def test_administrator_settings_and_unlock(warden_server, directory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config"  # nobody signed in: the bootstrap Global Administrator acts
    user = directory.user()
    shown = json.loads(warden(warden_server, config, "directory", "settings", "show", "-o", "json").stdout)
    assert shown["lockoutThreshold"] == 10 and shown["mfaRequirement"] == "none"
    refused = warden(warden_server, config, "directory", "settings", "set", "mfaRequirement=sometimes", code=1)
    assert "mfaRequirement must be one of" in refused.output
    try:
        changed = warden(
            warden_server,
            config,
            "directory",
            "settings",
            "set",
            "lockoutThreshold=4",
            'bannedPasswords=["contoso"]',
            "-o",
            "json",
        )
        assert json.loads(changed.stdout)["lockoutThreshold"] == 4
        assert json.loads(changed.stdout)["bannedPasswords"] == ["contoso"]
    finally:
        warden(warden_server, config, "directory", "settings", "set", "lockoutThreshold=10", "bannedPasswords=[]")
    assert "password" in warden(warden_server, config, "mfa", "list", "--user", user.upn).output
    assert "is unlocked" in warden(warden_server, config, "mfa", "unlock", user.upn).output
