"""Consent for an application from another tenant, and the tenant's "require MFA" setting."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import httpx
from sqlalchemy import insert, select

from support.signin import Directory, query_of, sign_in, submit
from warden.identity.schema import consent_grants
from warden.identity.tenant_settings import update_settings
from warden.kernel.clock import utcnow
from warden.kernel.schema import tenants

REDIRECT = "https://partner.fabrikam.test/signin"


def _tenant(directory: Directory) -> str:
    tenant_id = str(uuid.uuid4())
    directory.run(
        lambda conn: conn.execute(insert(tenants).values(id=tenant_id, display_name="t", created_at=utcnow()))
    )
    return tenant_id


def _authorize(browser: httpx.Client, tenant: str, client_id: str, **extra: str) -> httpx.Response:
    params = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid User.Read",
        **extra,
    }
    return browser.get(f"/{tenant}/oauth2/v2.0/authorize?" + urlencode(params))


def test_multi_tenant_app_from_another_tenant_needs_consent(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    publisher = _tenant(directory)
    partner = directory.app(web=REDIRECT, multi_tenant=True, tenant=publisher)
    single = directory.app(web=REDIRECT, tenant=publisher)
    user = directory.user()
    tenant = warden_server.tenant
    # A single-tenant app of another tenant does not exist here.
    assert "AADSTS700016" in _authorize(browser, tenant, single.client_id).text
    consent = sign_in(browser, _authorize(browser, tenant, partner.client_id), user)
    assert consent.status_code == 200 and "Permissions requested" in consent.text and "User.Read" in consent.text
    declined = submit(browser, consent, decision="cancel")
    assert query_of(declined)["error"] == "access_denied"
    # prompt=none cannot show the consent page: consent_required.
    assert query_of(_authorize(browser, tenant, partner.client_id, prompt="none"))["error"] == "consent_required"
    accepted = submit(browser, _authorize(browser, tenant, partner.client_id), decision="accept")
    assert "code" in query_of(accepted)
    with directory.db.read() as conn:
        grants = conn.execute(select(consent_grants).where(consent_grants.c.client_id == partner.client_id)).all()
    assert [(g.tenant_id, g.user_id) for g in grants] == [(tenant, user.object_id)] and "User.Read" in grants[0].scope
    # Remembered: the next sign-in goes straight back with a code.
    assert "code" in query_of(_authorize(browser, tenant, partner.client_id, prompt="none"))
    # A scope not yet granted asks again.
    more = _authorize(browser, tenant, partner.client_id, scope="openid User.Read Mail.Read")
    assert "Permissions requested" in more.text and "Mail.Read" in more.text


def test_tenant_requiring_mfa(warden_server, directory, browser) -> None:  # type: ignore[no-untyped-def]
    tenant = _tenant(directory)
    directory.run(lambda conn: update_settings(conn, tenant, {"mfaRequirement": "everyone"}))
    app = directory.app(web=REDIRECT, tenant=tenant)
    without = directory.user(tenant=tenant)
    # No method yet: not refused (AADSTS50072) but interrupted to register one, and not answered yet.
    interrupt = sign_in(browser, _authorize(browser, tenant, app.client_id), without)
    assert "More information required" in interrupt.text and 'name="step" value="mfaRegistration"' in interrupt.text
    assert "AADSTS50072" not in interrupt.text and "location" not in interrupt.headers
    with_totp = directory.user(tenant=tenant, mfa=True)
    page = _authorize(browser, tenant, app.client_id, prompt="login")
    second_step = submit(browser, page, login=with_totp.upn, passwd=with_totp.password)
    assert 'name="otc"' in second_step.text
    code = with_totp.code()
    assert "code" in query_of(submit(browser, second_step, otc=code))
    # The same code is not accepted twice (RFC 6238 §5.2 replay).
    again = submit(
        browser,
        _authorize(browser, tenant, app.client_id, prompt="login"),
        login=with_totp.upn,
        passwd=with_totp.password,
    )
    assert "AADSTS500121" in submit(browser, again, otc=code).text
