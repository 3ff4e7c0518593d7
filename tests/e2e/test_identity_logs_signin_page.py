"""Risk from real sign-ins: wrong passwords for many accounts through the sign-in page become a
password spray (the sign-in page writes the signIn records; the server's runner detects)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlencode

import httpx

from support.server import WardenServer
from support.signin import Directory, submit

REDIRECT = "https://app.contoso.test/callback"


def test_wrong_passwords_for_many_accounts_are_a_password_spray(warden_server: WardenServer) -> None:
    directory = Directory(warden_server.data_dir, warden_server.tenant)
    try:
        app = directory.app(web=REDIRECT)
        users = [directory.user() for _ in range(3)]  # each costs an argon2 hash
    finally:
        directory.close()
    ghosts = [f"ghost-{uuid.uuid4().hex[:6]}@contoso.test" for _ in range(7)]  # accounts that do not exist
    url = f"/{warden_server.tenant}/oauth2/v2.0/authorize?" + urlencode(
        {"client_id": app.client_id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid"}
    )
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context(), timeout=30) as browser:
        for login in [u.upn for u in users] + ghosts:
            answer = submit(browser, browser.get(url), login=login, passwd="Spring2026!")
            assert "AADSTS50126" in answer.text
    with warden_server.client() as http:
        # The sign-in page logged every attempt with its error code.
        logged = http.get(
            "/v1.0/auditLogs/signIns",
            params={"$filter": f"userId eq '{users[0].object_id}' and status/errorCode eq 50126"},
        ).json()["value"]
        assert len(logged) == 1 and logged[0]["appId"] == app.client_id
        deadline = time.monotonic() + 20
        while True:
            found = http.get(
                "/v1.0/identityProtection/riskDetections", params={"$filter": "riskEventType eq 'passwordSpray'"}
            ).json()["value"]
            flagged = {d["userId"] for d in found} | {d["userPrincipalName"] for d in found if not d["userId"]}
            if {u.object_id for u in users} | set(ghosts) <= flagged or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert {u.object_id for u in users} <= flagged
        assert set(ghosts) <= flagged  # unknown accounts count too (userId null)
        risky = http.get(f"/v1.0/identityProtection/riskyUsers/{users[0].object_id}").json()
        assert (risky["riskLevel"], risky["riskState"]) == ("medium", "atRisk")
