"""Self-service password reset end to end: a real server on loopback HTTPS, a local SMTP server
(aiosmtpd) receiving the email codes, users and roles created through the Graph API.

Until user sign-in lands, an administrator's recovery codes are written with
``warden.identity.mfa.methods`` into the server's own database (the server is a separate process
and sees them as it would after ``POST /v1.0/me/authentication/recoveryCodes``); checking the new
password also reads that database.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from support.server import WardenServer, free_port, start_server, stop_server
from warden.identity.mfa import methods
from warden.identity.users import check_password, find_user
from warden.kernel.db import Database

pytestmark = pytest.mark.e2e
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
NEW_PASSWORD = "tangerine orbit lantern 42"


class Inbox:
    """aiosmtpd handler keeping every delivered message, by recipient."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        with self.arrived:
            self.messages.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def code_for(self, address: str, timeout: float = 10) -> str:
        """Wait for the next message to ``address`` and return the 8-digit code in it."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for index, (recipients, body) in enumerate(self.messages):
                    if address in recipients:
                        del self.messages[index]
                        return re.search(r"\b(\d{8})\b", body).group(1)  # type: ignore[union-attr]
                if not self.arrived.wait(max(deadline - time.monotonic(), 0)):
                    raise AssertionError(f"no email reached {address}")


@pytest.fixture(scope="module")
def inbox():  # type: ignore[no-untyped-def]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def sspr_server(inbox, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A server of its own whose SMTP settings point at the test inbox (SQLite control plane)."""
    _, port = inbox
    overrides = {"WARDEN_SMTP_HOST": "127.0.0.1", "WARDEN_SMTP_PORT": str(port), "WARDEN_SMTP_SECURITY": "none"}
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        server = start_server(tmp_path_factory.mktemp("warden-sspr"))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield server
    stop_server(server)


def _db(server: WardenServer) -> Database:
    return Database(f"sqlite:///{Path(server.data_dir) / 'warden.db'}")


def _new_user(server: WardenServer, *, mail: str | None = None, role: str | None = None) -> dict:
    name = f"u{uuid.uuid4().hex[:8]}"
    body = {
        "accountEnabled": True,
        "displayName": name,
        "mailNickname": name,
        "userPrincipalName": f"{name}@contoso.test",
        "passwordProfile": {"password": "an initial password 12345", "forceChangePasswordNextSignIn": False},
    }
    if mail:
        body["mail"] = mail
    with server.client() as graph:
        created = graph.post("/v1.0/users", json=body)
        assert created.status_code == 201, created.text
        user = created.json()
        if role:
            assigned = graph.post(
                "/v1.0/roleManagement/directory/roleAssignments",
                json={"principalId": user["id"], "roleDefinitionId": role, "directoryScopeId": "/"},
            )
            assert assigned.status_code == 201, assigned.text
    return user


def _anonymous(server: WardenServer) -> httpx.Client:
    return httpx.Client(base_url=f"{server.endpoint}/{server.tenant}/sspr/", verify=server.ssl_context(), timeout=30)


def _password_is(server: WardenServer, upn: str, password: str) -> bool:
    db = _db(server)
    try:
        with db.write() as conn:
            return check_password(conn, find_user(conn, server.tenant, upn), password)  # type: ignore[arg-type]
    finally:
        db.dispose()


def test_user_resets_the_password_with_a_code_sent_by_email(sspr_server, inbox) -> None:  # type: ignore[no-untyped-def]
    handler, _ = inbox
    user = _new_user(sspr_server, mail="reset.me@mail.test")
    with _anonymous(sspr_server) as sspr:
        started = sspr.post("start", json={"userPrincipalName": user["userPrincipalName"]})
        assert started.status_code == 200, started.text
        challenge = started.json()["challengeId"]
        assert started.json()["methods"][0] == {"methodType": "email", "hint": "r*****@m*****.test"}
        assert sspr.post(f"{challenge}/password", json={"newPassword": NEW_PASSWORD}).status_code == 403
        sent = sspr.post(f"{challenge}/email")
        assert sent.status_code == 202 and sent.json() == {"hint": "r*****@m*****.test"}
        code = handler.code_for("reset.me@mail.test")
        wrong = sspr.post(
            f"{challenge}/verify", json={"methodType": "email", "code": str((int(code) + 1) % 10**8).zfill(8)}
        )
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "InvalidVerificationCode"
        verified = sspr.post(f"{challenge}/verify", json={"methodType": "email", "code": code})
        assert verified.status_code == 200, verified.text
        assert verified.json() == {"verifiedMethods": ["email"], "remainingMethods": 0}
        weak = sspr.post(f"{challenge}/password", json={"newPassword": "password123"})
        assert weak.status_code == 400 and weak.json()["error"]["code"] == "PasswordPolicyViolation"
        done = sspr.post(f"{challenge}/password", json={"newPassword": NEW_PASSWORD})
        assert done.status_code == 204, done.text
        again = sspr.post(f"{challenge}/password", json={"newPassword": NEW_PASSWORD + "!"})
        assert again.status_code == 404
    assert _password_is(sspr_server, user["userPrincipalName"], NEW_PASSWORD)


def test_an_administrator_needs_two_methods(sspr_server, inbox) -> None:  # type: ignore[no-untyped-def]
    handler, _ = inbox
    admin = _new_user(sspr_server, mail="admin.reset@mail.test", role=USER_ADMINISTRATOR)
    db = _db(sspr_server)
    try:
        with db.write() as conn:
            codes = methods.regenerate_recovery_codes(conn, sspr_server.tenant, admin["id"])
    finally:
        db.dispose()
    with _anonymous(sspr_server) as sspr:
        challenge = sspr.post("start", json={"userPrincipalName": admin["userPrincipalName"]}).json()["challengeId"]
        assert sspr.post(f"{challenge}/email").status_code == 202
        first = sspr.post(
            f"{challenge}/verify", json={"methodType": "email", "code": handler.code_for("admin.reset@mail.test")}
        )
        assert first.json() == {"verifiedMethods": ["email"], "remainingMethods": 1}
        refused = sspr.post(f"{challenge}/password", json={"newPassword": NEW_PASSWORD})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "VerificationRequired"
        second = sspr.post(f"{challenge}/verify", json={"methodType": "recoveryCode", "code": codes[3]})
        assert second.json() == {"verifiedMethods": ["email", "recoveryCode"], "remainingMethods": 0}
        assert sspr.post(f"{challenge}/password", json={"newPassword": NEW_PASSWORD}).status_code == 204
        # The recovery code was used up by the reset.
        later = sspr.post("start", json={"userPrincipalName": admin["userPrincipalName"]}).json()["challengeId"]
        reuse = sspr.post(f"{later}/verify", json={"methodType": "recoveryCode", "code": codes[3]})
        assert reuse.status_code == 400
    assert _password_is(sspr_server, admin["userPrincipalName"], NEW_PASSWORD)


def test_an_unknown_user_gets_the_same_answers(sspr_server, inbox) -> None:  # type: ignore[no-untyped-def]
    handler, _ = inbox
    known = _new_user(sspr_server)  # no mail: the hint masks the UPN, as for an unknown name
    names = {"known": known["userPrincipalName"], "unknown": f"nobody{uuid.uuid4().hex[:6]}@contoso.test"}
    answers: dict[str, list] = {}
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    with _anonymous(sspr_server) as sspr:
        for _ in range(2):
            for label, upn in names.items():
                began = time.perf_counter()
                started = sspr.post("start", json={"userPrincipalName": upn})
                timings[label].append(time.perf_counter() - began)
                body = started.json()
                challenge = body.pop("challengeId")
                sent = sspr.post(f"{challenge}/email")
                verify = sspr.post(f"{challenge}/verify", json={"methodType": "softwareOath", "code": "123456"})
                answers[label] = [
                    started.status_code,
                    sorted(body),
                    [(m["methodType"], m.get("hint", "")[1:]) for m in body["methods"]],
                    sent.status_code,
                    sorted(sent.json()),
                    verify.status_code,
                    verify.json()["error"]["code"],
                ]
    assert answers["known"] == answers["unknown"]
    # Only the user with an address gets mail; nothing was sent for the unknown name.
    time.sleep(0.5)
    assert not [m for m in handler.messages if names["unknown"] in m[0]]
    # Same work on both paths: the medians stay within 250 ms of each other on a busy machine.
    assert abs(statistics.median(timings["known"]) - statistics.median(timings["unknown"])) < 0.25


def test_resets_are_rate_limited_per_name_and_bad_input_is_refused(sspr_server) -> None:  # type: ignore[no-untyped-def]
    with _anonymous(sspr_server) as sspr:
        upn = f"ghost{uuid.uuid4().hex[:6]}@contoso.test"
        for _ in range(5):
            assert sspr.post("start", json={"userPrincipalName": upn}).status_code == 200
        limited = sspr.post("start", json={"userPrincipalName": upn})
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "3600"
        assert limited.json()["error"]["code"] == "TooManyRequests"
        not_json = sspr.post("start", content=b"{", headers={"Content-Type": "application/json"})
        assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "InvalidRequestContent"
        no_name = sspr.post("start", json={"userPrincipalName": 42})
        assert no_name.status_code == 400 and no_name.json()["error"]["code"] == "InvalidUserName"
        assert sspr.post(f"{uuid.uuid4()}/verify", json={"methodType": "email", "code": "1"}).status_code == 404
        page = sspr.get(f"{sspr_server.endpoint}/{sspr_server.tenant}/sspr")
    assert page.status_code == 200 and "Reset your password" in page.text
    assert "script-src 'nonce-" in page.headers["Content-Security-Policy"]
    with httpx.Client(verify=sspr_server.ssl_context()) as http:
        other = http.post(f"{sspr_server.endpoint}/{uuid.uuid4()}/sspr/start", json={"userPrincipalName": upn})
    assert other.status_code == 404 and other.json()["error"]["code"] == "TenantNotFound"
