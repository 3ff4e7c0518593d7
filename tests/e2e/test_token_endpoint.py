"""The Entra-shaped token endpoint with MSAL and raw HTTP."""

from __future__ import annotations

import base64

import httpx
import msal
import requests


def test_msal_confidential_client_gets_a_token(warden_server) -> None:  # type: ignore[no-untyped-def]
    session = requests.Session()
    session.verify = warden_server.ca
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment overrides verify
    app = msal.ConfidentialClientApplication(
        warden_server.bootstrap["clientId"],
        client_credential=warden_server.bootstrap["clientSecret"],
        authority=f"{warden_server.endpoint}/{warden_server.tenant}",
        instance_discovery=False,
        http_client=session,
    )
    result = app.acquire_token_for_client(scopes=["https://monitor.azure.com/.default"])
    assert result.get("token_type") == "Bearer", result
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as http:
        response = http.get(
            warden_server.sub_scope(),
            params={"api-version": "2022-12-01"},
            headers={"Authorization": f"Bearer {result['access_token']}"},
        )
        assert response.status_code == 200


def test_http_basic_client_authentication(warden_server) -> None:  # type: ignore[no-untyped-def]
    pair = f"{warden_server.bootstrap['clientId']}:{warden_server.bootstrap['clientSecret']}".encode()
    response = httpx.post(
        f"{warden_server.endpoint}/{warden_server.tenant}/oauth2/v2.0/token",
        verify=warden_server.ssl_context(),
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
        data={"grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
    )
    assert response.status_code == 200 and response.json()["expires_in"] == 3600


def test_token_errors_are_entra_shaped(warden_server) -> None:  # type: ignore[no-untyped-def]
    url = f"{warden_server.endpoint}/{warden_server.tenant}/oauth2/v2.0/token"
    good = {
        "grant_type": "client_credentials",
        "client_id": warden_server.bootstrap["clientId"],
        "client_secret": warden_server.bootstrap["clientSecret"],
        "scope": "https://management.azure.com/.default",
    }
    cases = [
        ({**good, "client_secret": "wrong"}, 401, "invalid_client"),
        ({**good, "client_id": "00000000-0000-0000-0000-000000000001"}, 401, "invalid_client"),
        ({**good, "scope": "https://vault.azure.net/.default"}, 400, "invalid_scope"),
        ({**good, "grant_type": "password"}, 400, "unsupported_grant_type"),
        ({k: v for k, v in good.items() if k != "client_secret"}, 400, "invalid_request"),
    ]
    for data, status, error in cases:
        response = httpx.post(url, data=data, verify=warden_server.ssl_context())
        assert response.status_code == status, (data, response.text)
        body = response.json()
        assert body["error"] == error and body["error_description"].startswith("AADSTS")
        assert "access_token" not in body and warden_server.bootstrap["clientSecret"] not in response.text
    other_tenant = httpx.post(
        f"{warden_server.endpoint}/00000000-0000-0000-0000-00000000abcd/oauth2/v2.0/token",
        data=good,
        verify=warden_server.ssl_context(),
    )
    assert other_tenant.status_code == 400
